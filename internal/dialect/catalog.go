package dialect

import (
	"context"
	"fmt"
	"regexp"
	"strings"
)

// TriggerKind tells what a trigger of the library does.
type TriggerKind string

// The trigger kinds: enforcement refuses writes to rows mastered
// elsewhere, capture records local changes in the shadow table.
const (
	Enforcement TriggerKind = "enforcement"
	Capture     TriggerKind = "capture"
)

// TriggerDef is one trigger of a replicated table (on PostgreSQL a trigger
// and its function) as the catalog holds it, in a form that compares
// across whitespace: Def is what [Dialect.Triggers] creates today, so a
// trigger whose catalog definition differs was altered by hand (or made by
// another library version).
type TriggerDef struct {
	Name string
	Kind TriggerKind
	Def  string
}

// normalize folds runs of white space to one space.
func normalize(s string) string { return strings.Join(strings.Fields(s), " ") }

// myNormalize is normalize for a MySQL trigger body, with every run of
// backslashes folded to one: MariaDB's catalog holds a string literal's
// escapes resolved ('a\\b' as 'a\b'), MySQL's as written.
func myNormalize(s string) string {
	s = normalize(s)
	if !strings.Contains(s, `\\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i > 0 && s[i-1] == '\\' {
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

var (
	myTriggerRe = regexp.MustCompile("(?s)^CREATE TRIGGER `(?:[^`]|``)+` (BEFORE|AFTER) (INSERT|UPDATE|DELETE) ON .*? FOR EACH ROW\\s*(.*)$")
)

// pgTriggerType is pg_trigger.tgtype of the library's triggers: ROW (1) |
// BEFORE (2) | INSERT (4) | DELETE (8) | UPDATE (16).
var pgTriggerType = map[TriggerKind]int{Enforcement: 1 | 2 | 4 | 8 | 16, Capture: 1 | 4 | 8 | 16}

func pgDef(function, body string, tgtype int, enabled string) string {
	return fmt.Sprintf("type %d enabled %s function %s: %s", tgtype, enabled, function, normalize(body))
}

// WantTriggers returns the triggers [Dialect.Triggers] creates for t, as
// the catalog holds them once created.
func WantTriggers(d Dialect, t Table) []TriggerDef {
	names := d.TriggerNames(t)
	stmts := d.Triggers(t)
	var out []TriggerDef
	switch d.Name() {
	case Postgres:
		// Function, trigger; function, trigger: enforcement first.
		for i, kind := range []TriggerKind{Enforcement, Capture} {
			body, _ := dollarBody(pgFunctionHead(d.Quote(names[i])), stmts[2*i])
			out = append(out, TriggerDef{Name: names[i], Kind: kind, Def: pgDef(names[i], body, pgTriggerType[kind], "A")})
		}
	case MySQL:
		for i, n := range names {
			def := myNormalize(stmts[i])
			if m := myTriggerRe.FindStringSubmatch(stmts[i]); m != nil {
				def = m[1] + " " + m[2] + " " + myNormalize(m[3])
			}
			out = append(out, TriggerDef{Name: n, Kind: kindOf(n), Def: def})
		}
	default:
		for i, n := range names {
			out = append(out, TriggerDef{Name: n, Kind: kindOf(n), Def: normalize(stmts[i])})
		}
	}
	return out
}

// kindOf tells the kind of a SQLite or MySQL trigger by its name: BEFORE
// triggers (_bi, _bu, _bd) enforce, AFTER triggers capture.
func kindOf(name string) TriggerKind {
	if i := strings.LastIndex(name, "_"); i >= 0 && strings.HasPrefix(name[i+1:], "b") {
		return Enforcement
	}
	return Capture
}

// HaveTriggers reads from the catalog, by name, the definitions of the
// triggers on table t in the form of [TriggerDef.Def]. A trigger that is
// not there is absent from the map.
func HaveTriggers(ctx context.Context, q Querier, d Dialect, t Table) (map[string]string, error) {
	out := map[string]string{}
	var query string
	switch d.Name() {
	case Postgres:
		query = `SELECT t.tgname, t.tgtype, t.tgenabled, p.proname, p.prosrc FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid
WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal`
	case MySQL:
		query = `SELECT TRIGGER_NAME, ACTION_TIMING, EVENT_MANIPULATION, ACTION_STATEMENT FROM information_schema.TRIGGERS
WHERE TRIGGER_SCHEMA = DATABASE() AND BINARY EVENT_OBJECT_TABLE = BINARY ?`
	default:
		query = `SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?`
	}
	rows, err := q.QueryContext(ctx, query, t.Name)
	if err != nil {
		return nil, fmt.Errorf("dialect: read triggers of %s: %w", t.Name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		switch d.Name() {
		case Postgres:
			var tgtype int
			var enabled, fn, src string
			if err := rows.Scan(&name, &tgtype, &enabled, &fn, &src); err != nil {
				return nil, err
			}
			out[name] = pgDef(fn, src, tgtype, enabled)
		case MySQL:
			var timing, event, body string
			if err := rows.Scan(&name, &timing, &event, &body); err != nil {
				return nil, err
			}
			out[name] = timing + " " + event + " " + myNormalize(body)
		default:
			var sql string
			if err := rows.Scan(&name, &sql); err != nil {
				return nil, err
			}
			out[name] = normalize(sql)
		}
	}
	return out, rows.Err()
}

// DropTriggers returns the statements that remove t's triggers (and, on
// PostgreSQL, their functions), whatever is left of them.
func DropTriggers(d Dialect, t Table) []string {
	var stmts []string
	for _, n := range d.TriggerNames(t) {
		if d.Name() == Postgres {
			stmts = append(stmts, fmt.Sprintf("DROP TRIGGER IF EXISTS %s ON %s", d.Quote(n), d.Quote(t.Name)),
				fmt.Sprintf("DROP FUNCTION IF EXISTS %s()", d.Quote(n)))
			continue
		}
		stmts = append(stmts, "DROP TRIGGER IF EXISTS "+d.Quote(n))
	}
	return stmts
}

// DropOrphans returns the statements that remove what the library added
// for table t after the table itself was dropped: shadow, transfer log and
// (on PostgreSQL) the trigger functions.
func DropOrphans(d Dialect, t Table) []string {
	var stmts []string
	if d.Name() == Postgres {
		for _, n := range d.TriggerNames(t) {
			stmts = append(stmts, fmt.Sprintf("DROP FUNCTION IF EXISTS %s()", d.Quote(n)))
		}
	}
	return append(stmts, "DROP TABLE IF EXISTS "+d.Quote(Xfer(d, t.Name)), "DROP TABLE IF EXISTS "+d.Quote(Shadow(d, t.Name)))
}

// HasColumn reports whether table has a column called column (the
// injected mastership field included, which Describe leaves out).
func HasColumn(ctx context.Context, q Querier, d Dialect, table, column string) (bool, error) {
	var query string
	switch d.Name() {
	case Postgres:
		query = `SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped`
	case MySQL:
		query = `SELECT count(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND BINARY TABLE_NAME = BINARY ? AND COLUMN_NAME = ?`
	default:
		query = `SELECT count(*) FROM pragma_table_xinfo(?) WHERE name = ?`
	}
	var n int
	if err := q.QueryRowContext(ctx, query, table, column).Scan(&n); err != nil {
		return false, fmt.Errorf("dialect: columns of %s: %w", table, err)
	}
	return n > 0, nil
}
