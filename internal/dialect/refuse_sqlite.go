package dialect

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Refuser is implemented by a dialect whose triggers cannot build the
// not-master message at run time (SQLite before 3.47 takes only a literal
// in RAISE): the message is chosen by one trigger, on ms_refuse, holding a
// CASE over every replica of the registry and every replicated table, which
// the engine re-creates whenever the registry or the tables change.
type Refuser interface {
	// RefusalTriggerName is the name of the trigger on ms_refuse.
	RefusalTriggerName() string
	// RefusalTrigger returns the DDL of the trigger on ms_refuse for the
	// local replica, the replicated tables and the registry.
	RefusalTrigger(local string, tables []string, members []RefusalMember) string
	// RefusalCurrent reads the trigger's definition from the catalog; ok is
	// false when it is not there.
	RefusalCurrent(ctx context.Context, q Querier) (def string, ok bool, err error)
}

// RefusalMember is one replica of the registry as the refusal trigger
// names it.
type RefusalMember struct {
	ID   string
	Name string
}

var _ Refuser = SQLiteDialect{}

// refuseTable is ms_refuse: it never holds a row. The enforcement
// triggers insert the table and master of a refused write; the trigger on
// it raises the message, and the CHECK refuses the row should that trigger
// be dropped.
const refuseTable = `CREATE TABLE ms_refuse (
	tbl TEXT NOT NULL,
	master TEXT,
	CONSTRAINT "multisite: not master" CHECK (0)
)`

// RefusalTriggerName is ms_refuse_bi.
func (SQLiteDialect) RefusalTriggerName() string { return "ms_refuse_bi" }

// NotMasterLiteral is the not-master message of SQLite's literal form
// (mastership.TriggerFormat without the key): table and master ID or "?"
// when unknown, the master's name, the local replica.
func NotMasterLiteral(table, master, name, local string) string {
	return fmt.Sprintf("multisite: not master: %s is mastered by %s (%s), not %s; ask the master to transfer it", table, master, name, local)
}

// RefusalTrigger raises, for the table and master inserted into ms_refuse,
// the not-master message naming the master by ID and name: a CASE over the
// registry, then over the tables, each branch one literal RAISE, with
// literal fallbacks for a table or a master it does not know.
func (d SQLiteDialect) RefusalTrigger(local string, tables []string, members []RefusalMember) string {
	ms := append([]RefusalMember(nil), members...)
	sort.Slice(ms, func(a, b int) bool { return ms[a].ID < ms[b].ID })
	ts := append([]string(nil), tables...)
	sort.Strings(ts)
	raise := func(table, master, name string) string {
		return "RAISE(ABORT, " + literal(NotMasterLiteral(table, master, name, local)) + ")"
	}
	byTable := func(master, name string) string {
		if len(ts) == 0 {
			return raise("?", master, name)
		}
		var b strings.Builder
		b.WriteString("CASE NEW.tbl")
		for _, t := range ts {
			fmt.Fprintf(&b, "\n\t\tWHEN %s THEN %s", literal(t), raise(t, master, name))
		}
		fmt.Fprintf(&b, "\n\t\tELSE %s END", raise("?", master, name))
		return b.String()
	}
	var b strings.Builder
	b.WriteString("CREATE TRIGGER ms_refuse_bi BEFORE INSERT ON ms_refuse BEGIN\n\tSELECT CASE NEW.master")
	for _, m := range ms {
		fmt.Fprintf(&b, "\n\tWHEN %s THEN %s", literal(m.ID), byTable(m.ID, m.Name))
	}
	fmt.Fprintf(&b, "\n\tELSE %s END;\nEND", byTable("?", "unknown replica"))
	return b.String()
}

// RefusalCurrent reads ms_refuse_bi from sqlite_master.
func (SQLiteDialect) RefusalCurrent(ctx context.Context, q Querier) (string, bool, error) {
	var def string
	err := q.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'ms_refuse_bi' AND tbl_name = 'ms_refuse'`).Scan(&def)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("dialect: read ms_refuse_bi: %w", err)
	}
	return def, true, nil
}

// SameTrigger reports whether two trigger definitions differ at most in
// white space.
func SameTrigger(a, b string) bool { return normalize(a) == normalize(b) }

// noShadowMessage is the refusal of a local write to a row whose shadow
// entry is missing (deleted by hand): the change could not be exported.
func noShadowMessage(t Table) string {
	return "multisite: a row of " + t.Name + " has no shadow entry, so its change could not replicate; run multisite.Repair"
}
