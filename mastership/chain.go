package mastership

import "github.com/multisite-go/multisite/replica"

// Transfer is one logged change of a row's master.
type Transfer struct {
	Version  uint64 // row version the transfer produced
	From, To replica.ID
}

// Chain returns the master of a row just before version v, starting from
// what a replica holds (master at version have) and following the logged
// transfers, which must be sorted by version. Transfers outside (have, v)
// are ignored. A transfer whose From is not the master at that point breaks
// the chain and is ignored too: it cannot have been made by the master.
func Chain(master replica.ID, have, v uint64, log []Transfer) replica.ID {
	for _, t := range log {
		if t.Version <= have || t.Version >= v {
			continue
		}
		if t.From == master {
			master = t.To
		}
	}
	return master
}
