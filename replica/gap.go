package replica

// Lacks returns what target lacks of what have holds: for every origin of
// which have holds more than target, the epoch after which target lacks
// that origin's changes (0: all of them). Origins target holds in full are
// left out, so an empty result means there is nothing to send.
//
// A packet built from it sends, per origin, the epochs (target, have]:
// changes are state, not operations, so everything stamped after the
// target's epoch is enough, in any order.
func Lacks(have, target Vector) map[ID]uint64 {
	m := map[ID]uint64{}
	for o, e := range have {
		if target[o] < e {
			m[o] = target[o]
		}
	}
	return m
}

// CheckGap returns a *GapError if a packet that starts after base (per
// origin, the epoch the sender believed the receiver holds) would leave a
// gap at a receiver holding have: importing it would skip the epochs
// between. Nothing is ever silently skipped; the receiver refuses the
// packet and the sender, told what the receiver holds, sends a new one.
// The error names the first such origin in origin order.
func CheckGap(have, base Vector) error {
	if o, ok := have.Short(base); ok {
		return &GapError{Origin: o, Have: have[o], Base: base[o]}
	}
	return nil
}

// Brings returns, per origin, the epochs a packet covering (base, upto]
// brings to a receiver holding have: (max(base, have), upto] for every
// origin of which upto is ahead of have. An empty result means the packet
// brings no epoch the receiver lacks: importing it again, or an older one,
// changes nothing.
func Brings(have, base, upto Vector) map[ID][2]uint64 {
	m := map[ID][2]uint64{}
	for o, u := range upto {
		if u > have[o] {
			m[o] = [2]uint64{max(base[o], have[o]), u}
		}
	}
	return m
}
