package replica

// Fence returns the epoch counter a replica continues from, given its own
// counter and seen, a vector that says what some member holds of it:
// the larger of counter and what seen holds of self.
//
// Epochs are never reused. A replica restored from a backup has a counter
// from the time of the backup, but others may hold epochs it handed out
// after that; reusing one of those numbers for different changes would
// make members that hold the old epoch skip the new changes. So every
// vector it learns of itself fences its counter: it skips past the highest
// epoch anyone has seen from it.
func Fence(counter uint64, self ID, seen Vector) uint64 {
	return max(counter, seen[self])
}

// Restored returns a replica's registry entry as it stands right after the
// replica was restored from a backup: a new incarnation, a new version,
// and the restoring state. The new incarnation tells every member that the
// replica holds less than it said; see [Reincarnated].
func Restored(i Info) Info {
	i.Incarnation++
	i.Version++
	i.State = Restoring
	return i
}

// Reincarnated reports whether entry next says that the replica old
// describes was restored from a backup since: a higher incarnation. A
// member that sees it forgets what it believed the replica holds, so its
// next export resends what the replica lost.
func Reincarnated(old, next Info) bool { return next.Incarnation > old.Incarnation }
