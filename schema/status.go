package schema

import (
	"fmt"
	"strings"
)

// masterColumn is the mastership field the library adds to every
// replicated table.
const masterColumn = "ms_master"

// TriggerState is what the catalog holds of one of the library's triggers.
type TriggerState string

// The trigger states. Altered means the catalog's definition is not what
// the library creates today: edited or disabled by hand, or created by
// another version of the library.
const (
	TriggerOK      TriggerState = "ok"
	TriggerMissing TriggerState = "missing"
	TriggerAltered TriggerState = "altered"
)

// TriggerStatus is one capture or enforcement trigger of a table.
type TriggerStatus struct {
	Name  string
	Kind  string // "capture" or "enforcement"
	State TriggerState
}

// TableStatus is what multisite.SchemaStatus finds for one table.
type TableStatus struct {
	Table      string
	Replicated bool // recorded as replicated (ms_table)
	Exists     bool // the table is in the catalog
	// MasterField reports the injected mastership field ms_master.
	MasterField bool
	// Shadow reports the shadow (row versions) and transfer-log tables.
	Shadow   bool
	Triggers []TriggerStatus
	// Version is the schema version at which the table's replication was
	// last set up (0: at activation).
	Version int64
	// Unrecorded lists columns the catalog has and the replication does
	// not know: added by hand rather than by a migration, so they do not
	// replicate.
	Unrecorded []string
}

// Current reports whether a replicated table has everything replication
// needs, every trigger as the library creates it.
func (s TableStatus) Current() bool { return len(s.Problems()) == 0 }

// Problems lists, in words, what is wrong with a replicated table; none
// for a table that is not replicated.
func (s TableStatus) Problems() []string {
	if !s.Replicated {
		return nil
	}
	if !s.Exists {
		return []string{"table is gone"}
	}
	var p []string
	if !s.MasterField {
		p = append(p, "mastership field "+masterColumn+" is missing")
	}
	if !s.Shadow {
		p = append(p, "shadow or transfer-log table is missing")
	}
	for _, t := range s.Triggers {
		if t.State != TriggerOK {
			p = append(p, fmt.Sprintf("%s trigger %s is %s", t.Kind, t.Name, t.State))
		}
	}
	for _, c := range s.Unrecorded {
		p = append(p, "column "+c+" is not replicated (added outside a migration)")
	}
	return p
}

// Repairable reports whether multisite.Repair can make the table current:
// its triggers are the only problem.
func (s TableStatus) Repairable() bool {
	return s.Replicated && s.Exists && s.MasterField && s.Shadow
}

// AppliedMigration is a migration recorded as applied at a replica.
type AppliedMigration struct {
	Version   int64
	Name      string
	Checksum  string
	AppliedAt string // RFC 3339, when it was applied at this replica
	AppliedBy string // the replica that applied it here
}

// Report is the schema status of a replica: metadata format, schema
// version and master, applied migrations, and every table.
type Report struct {
	Dialect       string // "sqlite", "postgres" or "mysql"
	Format        int
	SchemaVersion int64
	SchemaMaster  string // replica ID of the family's schema master
	Migrations    []AppliedMigration
	Tables        []TableStatus
	// Problems lists, in words, what is wrong beyond single tables (a
	// stale refusal trigger on SQLite).
	Problems []string
	// Rows is the row verification: rows a bypass of the triggers left
	// outside the rules.
	Rows *RowReport
}

// Clean reports whether every replicated table is current and nothing
// else is wrong.
func (r Report) Clean() bool {
	if len(r.Problems) > 0 || r.Rows != nil && !r.Rows.Clean() {
		return false
	}
	for _, t := range r.Tables {
		if !t.Current() {
			return false
		}
	}
	return true
}

// Table returns the status of the table called name.
func (r Report) Table(name string) (TableStatus, bool) {
	for _, t := range r.Tables {
		if t.Table == name {
			return t, true
		}
	}
	return TableStatus{}, false
}

// String renders the report for an administrator.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: metadata format %d, schema version %d, schema master %s, %d migrations applied\n",
		r.Dialect, r.Format, r.SchemaVersion, r.SchemaMaster, len(r.Migrations))
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "  problem: %s\n", p)
	}
	if r.Rows != nil {
		b.WriteString("  rows: " + r.Rows.String())
	}
	for _, t := range r.Tables {
		switch {
		case !t.Replicated:
			fmt.Fprintf(&b, "  %-20s not replicated\n", t.Table)
		case t.Current():
			fmt.Fprintf(&b, "  %-20s replicated, current (version %d)\n", t.Table, t.Version)
		default:
			fmt.Fprintf(&b, "  %-20s replicated, NOT current (version %d): %s\n", t.Table, t.Version, strings.Join(t.Problems(), "; "))
		}
	}
	return b.String()
}
