package schema

import (
	"fmt"
	"strings"
)

// RowIssue is what a row verification found wrong with one row.
type RowIssue string

// The row issues. Each means a change that bypassed capture or
// enforcement (triggers dropped or disabled, the library's switch set by
// hand, a shadow table edited): left alone, it would never replicate, or
// would make every later packet of this replica refused.
const (
	// RowUnrecorded: the row has no live shadow entry (inserted with the
	// triggers off, or its entry deleted).
	RowUnrecorded RowIssue = "unrecorded"
	// RowAltered: the row differs from the image its shadow entry
	// fingerprints (changed with the triggers off).
	RowAltered RowIssue = "altered"
	// RowVanished: the shadow entry is live but the row is gone (deleted
	// with the triggers off).
	RowVanished RowIssue = "vanished"
	// RowForeignChange: this replica recorded its own change to a row
	// another replica masters (enforcement was off while capture was on).
	RowForeignChange RowIssue = "foreign-change"
	// RowRefetch: Repair set the row aside to be sent again by its master
	// (see [RowFinding.Origin]); any image of it from the master applies.
	RowRefetch RowIssue = "refetch"
)

// RowFinding is one row a verification found outside the rules.
type RowFinding struct {
	Table  string
	Key    string // the primary key, formatted "k1,k2"
	Issue  RowIssue
	Master string // the row's master by its shadow entry (by the row itself when it has none)
	// Local reports whether this replica masters the row: Repair records
	// it again as a local change. Otherwise Repair sets it aside for its
	// master to send again (RecoverPacket at the master, since Epoch of
	// Origin).
	Local  bool
	Origin string // the origin and epoch of the last change the shadow entry records
	Epoch  uint64
}

// RowReport is the result of a row verification: every row of every
// replicated table compared with its shadow entry.
type RowReport struct {
	Rows     int64 // rows and shadow entries looked at
	Findings []RowFinding
}

// Clean reports whether every row is inside the rules.
func (r RowReport) Clean() bool { return len(r.Findings) == 0 }

// String renders the report for an administrator.
func (r RowReport) String() string {
	if r.Clean() {
		return fmt.Sprintf("%d rows checked, all inside the rules\n", r.Rows)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d rows checked, %d outside the rules:\n", r.Rows, len(r.Findings))
	for _, f := range r.Findings {
		who := "mastered here: Repair records it again"
		if !f.Local {
			who = fmt.Sprintf("mastered by %s: Repair sets it aside for %s to send again (since epoch %d of %s)", f.Master, f.Master, f.Epoch, f.Origin)
		}
		fmt.Fprintf(&b, "  %s[%s] %s, %s\n", f.Table, f.Key, f.Issue, who)
	}
	return b.String()
}
