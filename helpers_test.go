package multisite_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/multisite-go/multisite/replica"
	"github.com/stretchr/testify/require"
)

// trackerSchema is a small defect tracker: an integer key, a text key and a
// composite key.
var trackerSchema = []string{
	`CREATE TABLE project (code TEXT PRIMARY KEY, title TEXT NOT NULL)`,
	`CREATE TABLE defect (id INTEGER PRIMARY KEY, project TEXT NOT NULL, headline TEXT NOT NULL,
		state TEXT NOT NULL DEFAULT 'open', owner TEXT, severity INTEGER, score REAL, attachment BLOB, created DATETIME)`,
	`CREATE TABLE defect_tag (defect_id INTEGER NOT NULL, tag TEXT NOT NULL, note TEXT, PRIMARY KEY (defect_id, tag))`,
}

func seedTracker(t testing.TB, db *sql.DB, defects int) {
	t.Helper()
	testdb.Exec(t, db, trackerSchema...)
	testdb.Exec(t, db,
		`INSERT INTO project VALUES ('CORE', 'Core engine'), ('UI', 'User interface')`)
	tx, err := db.Begin()
	require.NoError(t, err)
	stmt, err := tx.Prepare(`INSERT INTO defect (id, project, headline, owner, severity, score, attachment, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	require.NoError(t, err)
	for i := 1; i <= defects; i++ {
		var att []byte
		if i%3 == 0 {
			att = []byte{0, 1, 2, byte(i)}
		}
		_, err := stmt.Exec(i, []string{"CORE", "UI"}[i%2], fmt.Sprintf("defect number %d", i), "alice", i%5, float64(i)/4, att, "2026-01-02 03:04:05")
		require.NoError(t, err)
	}
	require.NoError(t, stmt.Close())
	require.NoError(t, tx.Commit())
	testdb.Exec(t, db, `INSERT INTO defect_tag VALUES (1, 'crash', NULL), (1, 'ui', 'seen on login'), (2, 'perf', NULL)`)
}

type site struct {
	name string
	db   *sql.DB
	id   replica.ID
}

// newFamily activates the first site over the tracker schema with n
// defects, creates the others from creation packets and makes them active.
func newFamily(t testing.TB, defects int, names ...string) []*site {
	t.Helper()
	ctx := context.Background()
	first := &site{name: names[0], db: testdb.SQLite(t, names[0])}
	seedTracker(t, first.db, defects)
	info, err := multisite.Activate(ctx, first.db, multisite.ActivateOptions{Name: names[0]})
	require.NoError(t, err)
	first.id = info.ID
	sites := []*site{first}
	for _, n := range names[1:] {
		var buf bytes.Buffer
		info, _, err := multisite.Replicate(ctx, first.db, n, &buf, multisite.ReplicateOptions{})
		require.NoError(t, err)
		s := &site{name: n, db: testdb.SQLite(t, n), id: info.ID}
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

func mustExec(t testing.TB, db *sql.DB, q string, args ...any) {
	t.Helper()
	_, err := db.Exec(q, args...)
	require.NoError(t, err, q)
}

func queryString(t testing.TB, db *sql.DB, q string, args ...any) string {
	t.Helper()
	var s sql.NullString
	require.NoError(t, db.QueryRow(q, args...).Scan(&s), q)
	return s.String
}

// openNew opens a new, empty SQLite database.
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
