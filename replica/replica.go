package replica

import (
	"crypto/ed25519"
	"fmt"
)

// ID identifies a replica within its family. It is chosen when the replica
// is created and never changes, even if the replica's name does. The zero ID
// is no replica.
type ID string

// String returns the ID as text.
func (id ID) String() string { return string(id) }

// IsZero reports whether id is the zero ID.
func (id ID) IsZero() bool { return id == "" }

// State is where a replica stands in its lifecycle.
type State string

const (
	// ReceiveOnly is the state of a new replica: it imports packets but
	// refuses local writes and exports nothing of its own. It can be removed
	// without loss because it masters nothing.
	ReceiveOnly State = "receive-only"
	// Active replicas write, export and import.
	Active State = "active"
	// Removed replicas have left the family; their packets are refused.
	Removed State = "removed"
	// Restoring replicas were restored from a backup: they refuse local
	// writes and seal no epoch until every other member has sent them what
	// they lost, then become active again.
	Restoring State = "restoring"
)

// Valid reports whether s is one of the defined states.
func (s State) Valid() bool {
	return s == ReceiveOnly || s == Active || s == Removed || s == Restoring
}

// Newer reports whether registry entry a supersedes b.
func Newer(a, b Info) bool {
	if a.Incarnation != b.Incarnation {
		return a.Incarnation > b.Incarnation
	}
	return a.Version > b.Version
}

// Info is one entry of the family registry: what every member knows of a
// replica. Version increases with every change to the entry, so members
// merge registries by keeping the higher version.
type Info struct {
	ID        ID
	Name      string
	Number    int64 // order of creation in the family; fixes the integer key range
	PublicKey ed25519.PublicKey
	State     State
	Version   uint64
	// Incarnation counts restores from backup (RestoreReplica). Members
	// order entries by (Incarnation, Version).
	Incarnation uint64
	// KeySig is the endorsement of PublicKey by the replica's previous key
	// after a key rotation (the rotation's date and the previous key's
	// signature; see syncpkt/SPEC.md); nil if the key never changed.
	KeySig []byte
}

// String returns "name (id)".
func (i Info) String() string { return fmt.Sprintf("%s (%s)", i.Name, i.ID) }

// KeyRangeBits is the width of each replica's block of integer keys: replica
// number n allocates new integer keys in [n<<KeyRangeBits+1, (n+1)<<KeyRangeBits).
// With 40 bits each replica has over a trillion keys and a family can have
// over eight million replicas before int64 runs out, so unlike fixed-size ID
// blocks handed out on demand, a range never has to be refilled and never
// runs out in practice.
const KeyRangeBits = 40

// KeyRange returns the inclusive range of integer keys that replica number n
// allocates for new rows.
func KeyRange(n int64) (lo, hi int64) {
	return n<<KeyRangeBits + 1, (n+1)<<KeyRangeBits - 1
}
