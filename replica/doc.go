// Package replica holds the identity of a replica and what replicas know of
// each other: the replica ID, the lifecycle state (receive-only, active,
// removed), the registry entry every member keeps of every other, and the
// epoch vector that says how much of each origin's changes a replica holds.
//
// A replica's epoch is its own change counter. Local changes are captured
// without an epoch; the next export seals every pending change into one new
// epoch, so epochs follow commit order and are never reused. A vector maps an
// origin replica to the highest epoch of that origin a replica holds in full.
// The epoch matrix is the set of vectors one replica keeps: its own, and what
// it believes each other replica holds (learned from the packets they send).
//
// The rules of vectors are functions here: what a target lacks ([Lacks]),
// whether a packet would leave a gap ([CheckGap]), which epochs it brings
// ([Brings]), merging and comparing vectors ([Vector.Merge],
// [Vector.Covers], [Vector.Short], [Vector.Holds]), and restore fencing
// ([Fence], [Restored], [Reincarnated]): a replica restored from a backup
// skips its epoch counter past every epoch others have seen from it.
// Where the library does the same work in SQL for speed (an export's
// selection of changes), a test checks that the SQL and these functions
// agree.
//
// The package holds values and rules only; it never touches SQL and
// imports no database package.
package replica
