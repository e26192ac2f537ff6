package multisite

import (
	"fmt"
	"sort"
	"strings"

	"github.com/multisite-go/multisite/replica"
)

// String summarizes the report on one line for a log or a terminal: kind,
// origin, the epochs covered per origin, the row counts, and what else the
// packet brought (transfers, conflicts, collisions, migrations, a code
// page change, a completed restore, refused keys), then its size. For
// example:
//
//	sync packet from 1536024ca341b9a0: epochs 1536024ca341b9a0 3..5; 12 inserted, 3 updated, 1 deleted, 0 unchanged in 2 tables; 1 transfer; 4.2 KiB
func (r *ImportReport) String() string {
	if r == nil {
		return "no import"
	}
	var b strings.Builder
	kind := r.Kind
	if kind == "" {
		kind = "sync"
	}
	fmt.Fprintf(&b, "%s packet from %s", kind, r.Origin)
	if r.Duplicate {
		b.WriteString(": duplicate, nothing new")
	} else if len(r.Epochs) > 0 {
		origins := make([]string, 0, len(r.Epochs))
		for o := range r.Epochs {
			origins = append(origins, string(o))
		}
		sort.Strings(origins)
		b.WriteString(": epochs")
		for i, o := range origins {
			e := r.Epochs[replica.ID(o)]
			if i > 0 {
				b.WriteString(",")
			}
			// Epochs holds (first, last]: the epochs applied are first+1..last.
			if e[1] == e[0]+1 {
				fmt.Fprintf(&b, " %s %d", o, e[1])
			} else {
				fmt.Fprintf(&b, " %s %d..%d", o, e[0]+1, e[1])
			}
		}
	}
	var c TableCounts
	for _, t := range r.Tables {
		if t != nil {
			c.Inserted += t.Inserted
			c.Updated += t.Updated
			c.Deleted += t.Deleted
			c.Unchanged += t.Unchanged
		}
	}
	fmt.Fprintf(&b, "; %d inserted, %d updated, %d deleted, %d unchanged in %s", c.Inserted, c.Updated, c.Deleted, c.Unchanged, plural(len(r.Tables), "table"))
	var more []string
	if r.Transfers > 0 {
		more = append(more, plural(r.Transfers, "transfer"))
	}
	if len(r.Conflicts) > 0 {
		more = append(more, plural(len(r.Conflicts), "creation conflict"))
	}
	if len(r.Collisions) > 0 {
		more = append(more, plural(len(r.Collisions), "collision"))
	}
	if len(r.Migrated) > 0 {
		more = append(more, plural(len(r.Migrated), "migration"))
	}
	if r.CodePage != "" {
		more = append(more, "code page now "+r.CodePage)
	}
	if r.Restored {
		more = append(more, "restore complete, active again")
	}
	if len(r.RefusedKeys) > 0 {
		more = append(more, plural(len(r.RefusedKeys), "refused key"))
	}
	for _, m := range more {
		b.WriteString("; ")
		b.WriteString(m)
	}
	b.WriteString("; ")
	b.WriteString(formatBytes(r.Bytes))
	return b.String()
}

// String summarizes the stats on one line, for example:
//
//	packet for 23300ab9cf7dee41 up to epoch 7: 15 rows (1 deletion) in 2 tables, 1 transfer; 3.1 KiB
func (s ExportStats) String() string {
	return fmt.Sprintf("packet for %s up to epoch %d: %s (%s) in %s, %s; %s",
		s.Target, s.Epoch, plural(s.Rows, "row"), plural(s.Deletes, "deletion"), plural(len(s.Tables), "table"),
		plural(s.Transfers, "transfer"), formatBytes(s.Bytes))
}

// plural formats n with noun, adding an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// formatBytes formats a byte count in B, KiB, MiB or GiB with one decimal.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/unit, 0
	for v >= unit && i < 2 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMG"[i])
}
