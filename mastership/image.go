package mastership

import "github.com/multisite-go/multisite/replica"

// Image is the stamp of one image of a row: what a replica holds of the
// row (its shadow entry), or what a packet brings for it. The rules look
// at the stamp only, never at the row's values.
//
// The zero Image stands for nothing held: no record of the row, not even a
// tombstone. Real images have a version of at least 1.
type Image struct {
	Version uint64     // raised by every change on the row's chain; 0 means nothing held
	Creator replica.ID // the replica that created the row; it names the row's chain
	Master  replica.ID // the row's master in this image
	Origin  replica.ID // the replica that made this version
	Epoch   uint64     // the epoch of Origin that carries this version; 0 while unsealed
	Deleted bool       // the image is a tombstone
}

// IsZero reports whether i stands for nothing held.
func (i Image) IsZero() bool { return i.Version == 0 }

// Outcome is what an importing replica does with an incoming image; see
// [Decide].
type Outcome int

// The outcomes of [Decide].
const (
	// Keep: the incoming image is not newer than the held one on the same
	// chain (an old or repeated packet). Nothing changes.
	Keep Outcome = iota
	// Create: nothing of the row is held; the image applies.
	Create
	// Replace: the image is newer on the same chain; it applies.
	Replace
	// Dead: nothing of the row is held, and the image lies within the
	// prune horizon: it is an old image of a row whose tombstone was
	// pruned, so the row stays dead.
	Dead
	// Won: the row is held on another chain (a creation conflict) and the
	// incoming chain wins it: the image applies, and the held record is
	// kept as the loser.
	Won
	// Lost: a creation conflict the held chain wins: nothing changes in
	// the table, and the incoming record is kept as the loser.
	Lost
)

var outcomeNames = [...]string{Keep: "keep", Create: "create", Replace: "replace", Dead: "dead", Won: "won", Lost: "lost"}

// String returns the outcome's name ("keep", "create", ...).
func (o Outcome) String() string {
	if o >= 0 && int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "outcome(?)"
}

// Applies reports whether the incoming image is written: Create, Replace
// and Won.
func (o Outcome) Applies() bool { return o == Create || o == Replace || o == Won }

// Conflict reports whether the outcome settles a creation conflict: Won
// and Lost, where the losing record is kept aside (not lost).
func (o Outcome) Conflict() bool { return o == Won || o == Lost }

// Decide says what a replica that holds held of a row does with the
// incoming image in. pruned is the prune horizon: per origin, the epoch up
// to which every member has acknowledged everything and tombstones were
// pruned.
//
// Mastership makes every row's history a single chain: only the master
// writes the row, and mastership moves by a change on that same chain. So
// the row version only ever increases along the chain, and the image with
// the higher version is the newer one, whatever order packets arrive in:
// an image applies only if it is newer than what is held (equal versions
// are the same image, so import is idempotent). A tombstone is an image
// like any other; its version is what counts.
//
// The one conflict left is creation: two replicas that insert the same
// key independently start two chains (different creators). Versions of
// different chains do not compare, so every replica settles it the same
// way, by the creators alone ([CreationWinner]); the loser is kept aside,
// not lost.
//
// A row nothing is held of is new here, unless its image lies within the
// prune horizon: then this replica has acknowledged the row's later
// tombstone, which was pruned since, and an old image must not bring the
// row back.
//
// Decide does not check whether the image's origin had the right to make
// it; see [MayChange], which an importer asks for every Replace.
func Decide(held, in Image, pruned replica.Vector) Outcome {
	switch {
	case held.IsZero():
		if pruned.Holds(in.Origin, in.Epoch) {
			return Dead
		}
		return Create
	case held.Creator != in.Creator:
		if CreationWinner(held.Creator, in.Creator) == in.Creator {
			return Won
		}
		return Lost
	case in.Version > held.Version:
		return Replace
	default:
		return Keep
	}
}

// CreationWinner returns which of two creators of the same key keeps the
// key: the smaller replica ID, compared byte by byte. Any rule every
// replica applies alike would do; this one needs nothing but the two IDs,
// which every image carries, so replicas of any vendor settle the conflict
// identically without talking to each other. For a = b it returns a.
func CreationWinner(a, b replica.ID) replica.ID {
	if b < a {
		return b
	}
	return a
}

// MayChange reports whether in's origin had the right to make in, an
// image that replaces held on the same chain ([Replace]), and names the
// row's master as this replica can tell: the master just before in's
// version.
//
// Authority follows the origin: a row image counts only if the row's
// master at that version made it. The held image names the master at the
// held version; every transfer since is in the row's transfer log (a
// sender always includes the transfers the receiver lacks, each proven by
// its From), so following the log from the held version ([Chain]) gives
// the master just before in's version. The log is followed even when in's
// origin masters the held image: a master that handed the row on and
// then signs a newer image of it had no right to.
//
// For a row nothing is held of, pass held as the creation stamp
// (Version 0, Master the creator): a row is created by its creator, who
// masters it until a transfer hands it on.
//
// log must be sorted by version.
func MayChange(held, in Image, log []Transfer) (master replica.ID, ok bool) {
	master = Chain(held.Master, held.Version, in.Version, log)
	return master, master == in.Origin
}

// Entitled reports whether in's origin had the right to make in, given
// what a replica holds of the row (held, zero for nothing), the prune
// horizon and the row's transfer log (sorted by version), and names the
// master the rules see: for an image that replaces the held one on its
// chain, [MayChange]; for an image that creates the row here or starts
// another creation chain ([Create], [Won], [Lost]), MayChange from the
// chain's start, where its creator masters the row; an image that changes
// nothing ([Keep], [Dead]) needs no right.
func Entitled(held, in Image, pruned replica.Vector, log []Transfer) (master replica.ID, ok bool) {
	switch Decide(held, in, pruned) {
	case Replace:
		return MayChange(held, in, log)
	case Create, Won, Lost:
		return MayChange(Image{Master: in.Creator}, in, log)
	}
	return held.Master, true
}
