package multisite_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/multisite-go/multisite/replica"
	"github.com/stretchr/testify/require"
)

// trackerSchema is a small defect tracker: an integer key, a text key and a
// composite key, in SQLite's words (trackerSchemaFor has the others').
var trackerSchema = []string{
	`CREATE TABLE project (code TEXT PRIMARY KEY, title TEXT NOT NULL)`,
	`CREATE TABLE defect (id INTEGER PRIMARY KEY, project TEXT NOT NULL, headline TEXT NOT NULL,
		state TEXT NOT NULL DEFAULT 'open', owner TEXT, severity INTEGER, score REAL, attachment BLOB, created DATETIME)`,
	`CREATE TABLE defect_tag (defect_id INTEGER NOT NULL, tag TEXT NOT NULL, note TEXT, PRIMARY KEY (defect_id, tag))`,
}

// trackerSchemaFor is the tracker schema in the words of db's dialect:
// SQLite's as written, the servers' with key text as VARCHAR and the
// types of typeNames.
func trackerSchemaFor(t testing.TB, db *sql.DB) []string {
	t.Helper()
	d := dialectOf(t, db)
	if d.Name() == dialect.SQLite {
		return trackerSchema
	}
	ty := typeNames(d.Name())
	return []string{
		`CREATE TABLE project (code VARCHAR(32) PRIMARY KEY, title TEXT NOT NULL)`,
		fmt.Sprintf(`CREATE TABLE defect (id BIGINT PRIMARY KEY, project VARCHAR(32) NOT NULL, headline TEXT NOT NULL,
		state VARCHAR(20) NOT NULL DEFAULT 'open', owner TEXT, severity INTEGER, score %s, attachment %s, created %s)`,
			ty["REAL"], ty["BLOB"], ty["DATETIME"]),
		`CREATE TABLE defect_tag (defect_id BIGINT NOT NULL, tag VARCHAR(32) NOT NULL, note TEXT, PRIMARY KEY (defect_id, tag))`,
	}
}

// seedTracker creates the tracker schema in db, of any dialect, with two
// projects, defects defects and three tags.
func seedTracker(t testing.TB, db *sql.DB, defects int) {
	t.Helper()
	testdb.Exec(t, db, trackerSchemaFor(t, db)...)
	testdb.Exec(t, db,
		`INSERT INTO project (code, title) VALUES ('CORE', 'Core engine'), ('UI', 'User interface')`)
	tx, err := db.Begin()
	require.NoError(t, err)
	const batch = 100 // rows per INSERT
	for lo := 1; lo <= defects; lo += batch {
		hi := min(defects, lo+batch-1)
		var args []any
		for i := lo; i <= hi; i++ {
			var att []byte
			if i%3 == 0 {
				att = []byte{0, 1, 2, byte(i)}
			}
			args = append(args, i, []string{"CORE", "UI"}[i%2], fmt.Sprintf("defect number %d", i), "alice", i%5, float64(i)/4, att, "2026-01-02 03:04:05")
		}
		q := `INSERT INTO defect (id, project, headline, owner, severity, score, attachment, created) VALUES ` +
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?), ", hi-lo+1), ", ")
		_, err := tx.Exec(rebind(t, db, q), args...)
		require.NoError(t, err)
	}
	require.NoError(t, tx.Commit())
	testdb.Exec(t, db, `INSERT INTO defect_tag (defect_id, tag, note) VALUES (1, 'crash', NULL), (1, 'ui', 'seen on login'), (2, 'perf', NULL)`)
}

// dialectOf returns the dialect of db.
func dialectOf(t testing.TB, db *sql.DB) dialect.Dialect {
	t.Helper()
	d, err := dialect.Detect(db)
	require.NoError(t, err)
	return d
}

// rebind turns the '?' placeholders of q into db's dialect's.
func rebind(t testing.TB, db *sql.DB, q string) string {
	t.Helper()
	return dialectOf(t, db).Rebind(q)
}

// quoteIdent quotes an identifier for db's dialect (ms_conflict's "key"
// is a reserved word on MySQL).
func quoteIdent(t testing.TB, db *sql.DB, ident string) string {
	t.Helper()
	return dialectOf(t, db).Quote(ident)
}

// sqlExec runs q, written with '?' placeholders, on db of any dialect and
// returns its error, for writes a test expects to be refused.
func sqlExec(t testing.TB, db *sql.DB, q string, args ...any) error {
	t.Helper()
	_, err := db.Exec(rebind(t, db, q), args...)
	return err
}

// sqliteOpen opens SQLite databases in t's temporary directory, for the
// tests that run on SQLite alone.
func sqliteOpen(t testing.TB) func(name string) *sql.DB {
	return func(name string) *sql.DB { return testdb.SQLite(t, name) }
}

type site struct {
	name string
	db   *sql.DB
	id   replica.ID
}

// newFamily activates the first site over the tracker schema with n
// defects, creates the others from creation packets and makes them active,
// all on SQLite.
func newFamily(t testing.TB, defects int, names ...string) []*site {
	t.Helper()
	return familyOn(t, sqliteOpen(t), defects, names...)
}

// familyOn is newFamily with every site's database from open (testdb.ForEach
// gives one of the subtest's dialect).
func familyOn(t testing.TB, open func(name string) *sql.DB, defects int, names ...string) []*site {
	t.Helper()
	ctx := context.Background()
	first := &site{name: names[0], db: open(names[0])}
	seedTracker(t, first.db, defects)
	info, err := multisite.Activate(ctx, first.db, multisite.ActivateOptions{Name: names[0]})
	require.NoError(t, err)
	first.id = info.ID
	sites := []*site{first}
	for _, n := range names[1:] {
		var buf bytes.Buffer
		info, _, err := multisite.Replicate(ctx, first.db, n, &buf, multisite.ReplicateOptions{})
		require.NoError(t, err)
		s := &site{name: n, db: open(n), id: info.ID}
		_, err = multisite.CreateReplica(ctx, s.db, &buf, multisite.CreateOptions{})
		require.NoError(t, err)
		require.NoError(t, multisite.SetState(ctx, s.db, replica.Active))
		sites = append(sites, s)
	}
	// Everyone learns of everyone through the first site.
	for _, s := range sites[1:] {
		syncPair(t, s, first)
	}
	for _, s := range sites[1:] {
		syncPair(t, first, s)
	}
	return sites
}

// enrol sends the new replica's first packet (an acknowledgement) to its
// creator, which enrols the key the new replica made (no packet carries a
// private key): from then on the creator's packets introduce it to the
// family.
func enrol(t testing.TB, creator, created *sql.DB, createdID replica.ID) {
	t.Helper()
	st, err := multisite.ReadStatus(context.Background(), creator)
	require.NoError(t, err)
	var ack bytes.Buffer
	_, err = multisite.WriteAck(context.Background(), created, st.Local.ID, &ack)
	require.NoError(t, err, "enrolment of %s", createdID)
	_, err = multisite.ImportPacket(context.Background(), creator, &ack, multisite.ImportOptions{})
	require.NoError(t, err, "enrolment of %s", createdID)
}

// export writes a packet from -> to.
func export(t testing.TB, from, to *site) []byte {
	t.Helper()
	var buf bytes.Buffer
	_, err := multisite.ExportPacket(context.Background(), from.db, to.id, &buf, multisite.ExportOptions{})
	require.NoError(t, err)
	return buf.Bytes()
}

func importInto(t testing.TB, s *site, pkt []byte) *multisite.ImportReport {
	t.Helper()
	rep, err := multisite.ImportPacket(context.Background(), s.db, bytes.NewReader(pkt), multisite.ImportOptions{})
	require.NoError(t, err, "import into %s", s.name)
	return rep
}

// syncPair sends one packet from -> to.
func syncPair(t testing.TB, from, to *site) *multisite.ImportReport {
	t.Helper()
	return importInto(t, to, export(t, from, to))
}

// recoverPair sends from -> to everything to has not acknowledged
// (RecoverPacket): an export since then was lost or refused, and to has
// not said so yet, so an ordinary export would start after it.
func recoverPair(t testing.TB, from, to *site) *multisite.ImportReport {
	t.Helper()
	var buf bytes.Buffer
	_, err := multisite.RecoverPacket(context.Background(), from.db, to.id, nil, &buf, multisite.ExportOptions{})
	require.NoError(t, err)
	return importInto(t, to, buf.Bytes())
}

func contentHash(t testing.TB, s *site) string {
	t.Helper()
	h, err := multisite.ContentHash(context.Background(), s.db)
	require.NoError(t, err)
	return h
}

// requireConverged checks every site has the same content hash.
func requireConverged(t testing.TB, sites ...*site) {
	t.Helper()
	want := contentHash(t, sites[0])
	for _, s := range sites[1:] {
		if got := contentHash(t, s); got != want {
			t.Fatalf("%s diverges from %s: %s != %s\n%s: %v\n%s: %v", s.name, sites[0].name, got, want,
				sites[0].name, dump(t, sites[0].db), s.name, dump(t, s.db))
		}
	}
}

// dump returns every replicated table's rows, for diffs.
func dump(t testing.TB, db *sql.DB) map[string][]map[string]any {
	t.Helper()
	out := map[string][]map[string]any{}
	for _, table := range []string{"project", "defect", "defect_tag"} {
		rows, err := db.Query(fmt.Sprintf("SELECT * FROM %s ORDER BY 1, 2", table))
		require.NoError(t, err)
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			m := map[string]any{}
			for i, c := range cols {
				m[c] = vals[i]
			}
			out[table] = append(out[table], m)
		}
		rows.Close()
	}
	return out
}

// mustExec runs q, written with '?' placeholders, on db of any dialect.
func mustExec(t testing.TB, db *sql.DB, q string, args ...any) {
	t.Helper()
	require.NoError(t, sqlExec(t, db, q, args...), q)
}

// queryString returns the one value q (with '?' placeholders) selects.
func queryString(t testing.TB, db *sql.DB, q string, args ...any) string {
	t.Helper()
	var s sql.NullString
	require.NoError(t, db.QueryRow(rebind(t, db, q), args...).Scan(&s), q)
	return s.String
}

// catalogOf returns the definitions of every table, index, constraint,
// trigger and (PostgreSQL) function of db, keyed by kind and name and
// normalized for whitespace, to compare a schema before and after.
func catalogOf(t testing.TB, db *sql.DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	add := func(q string) {
		rows, err := db.Query(q)
		require.NoError(t, err, q)
		defer rows.Close()
		for rows.Next() {
			var name string
			var def sql.NullString
			require.NoError(t, rows.Scan(&name, &def))
			out[name] = strings.Join(strings.Fields(def.String), " ")
		}
		require.NoError(t, rows.Err())
	}
	switch dialectOf(t, db).Name() {
	case dialect.SQLite:
		add(`SELECT type || ' ' || name, sql FROM sqlite_master WHERE sql IS NOT NULL`)
	case dialect.Postgres:
		add(`SELECT 'table ' || c.relname, string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) ||
				CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '') ||
				coalesce(' COLLATE ' || nullif(co.collname, 'default'), ''), ', ' ORDER BY a.attnum)
			FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
			LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
			LEFT JOIN pg_collation co ON co.oid = a.attcollation
			WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p', 'v')
			GROUP BY c.relname`)
		add(`SELECT 'index ' || indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()`)
		add(`SELECT 'constraint ' || conname || ' on ' || conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint
			WHERE connamespace = current_schema()::regnamespace`)
		add(`SELECT 'trigger ' || tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
			WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal`)
		add(`SELECT 'function ' || proname, pg_get_functiondef(oid) FROM pg_proc WHERE pronamespace = current_schema()::regnamespace`)
	case dialect.MySQL:
		rows, err := db.Query(`SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()`)
		require.NoError(t, err)
		var tables []string
		for rows.Next() {
			var n string
			require.NoError(t, rows.Scan(&n))
			tables = append(tables, n)
		}
		require.NoError(t, rows.Err())
		rows.Close()
		sort.Strings(tables)
		for _, n := range tables {
			var name, def string
			require.NoError(t, db.QueryRow("SHOW CREATE TABLE "+quoteIdent(t, db, n)).Scan(&name, &def))
			out["table "+n] = strings.Join(strings.Fields(def), " ")
		}
		add(`SELECT concat('trigger ', TRIGGER_NAME), concat_ws(' ', ACTION_TIMING, EVENT_MANIPULATION, EVENT_OBJECT_TABLE, ACTION_STATEMENT)
			FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()`)
	}
	return out
}

// libraryObjects lists the objects of db's catalog the library made (named
// ms_...).
func libraryObjects(t testing.TB, db *sql.DB) []string {
	t.Helper()
	var names []string
	for k := range catalogOf(t, db) {
		if f := strings.Fields(k); strings.HasPrefix(f[len(f)-1], "ms_") || strings.HasPrefix(f[1], "ms_") {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	return names
}

// openNew opens a new, empty SQLite database (for the tests that run on
// SQLite alone; the others take open from testdb.ForEach).
func openNew(t testing.TB, name string) *sql.DB {
	t.Helper()
	return testdb.SQLite(t, name)
}

func toJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func nowNS() int64 { return time.Now().UnixNano() }
