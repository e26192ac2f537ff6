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
// The package holds values only; it never touches SQL.
package replica
