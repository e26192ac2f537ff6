package multisite

import "github.com/multisite-go/multisite/internal/engine"

// Refusals of records and claims without the proof of the replica entitled
// to make them (see the README's threat model, "Settings and epochs").
var (
	// ErrAuthority is returned by ImportPacket for a packet with a record
	// its maker had no right to make: a row image whose origin was not the
	// row's master at that version (it also matches
	// mastership.ErrNotMaster), a transfer from a replica that did not
	// master the row, a code page change or a migration not signed by the
	// family's schema master, a hand-over of schema mastership not signed
	// by the master handing over, a sealed statement not signed by its
	// replica. The packet is refused whole and changes nothing.
	ErrAuthority = engine.ErrAuthority
	// ErrEpochClaim is returned by ImportPacket for a packet whose header
	// claims epochs no replica sealed: that this replica holds more of its
	// own epochs than it sealed, or an epoch value out of range (then with
	// ErrPacket). Claims about third replicas are believed only as far as
	// their own signed statements vouch; they are capped, not refused.
	ErrEpochClaim = engine.ErrEpochClaim
)
