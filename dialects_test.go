package multisite_test

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/multisite-go/multisite/mastership"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/schema"
	"github.com/multisite-go/multisite/syncpkt"
	"github.com/stretchr/testify/require"
)

// These tests run the core scenarios on every configured dialect
// (testdb.ForEach: SQLite always, PostgreSQL and MariaDB when
// MULTISITE_TEST_POSTGRES and MULTISITE_TEST_MYSQL are set), and one family
// that spans all three.

// dsite is a site of a family on any dialect.
type dsite struct {
	site
	d dialect.Dialect
}

func newDSite(t testing.TB, db *sql.DB, name string) *dsite {
	t.Helper()
	d, err := dialect.Detect(db)
	require.NoError(t, err)
	return &dsite{site: site{name: name, db: db}, d: d}
}

// exec runs q with '?' placeholders rebound for the site's dialect.
func (s *dsite) exec(t testing.TB, q string, args ...any) error {
	t.Helper()
	_, err := s.db.Exec(s.d.Rebind(q), args...)
	return err
}

func (s *dsite) mustExec(t testing.TB, q string, args ...any) {
	t.Helper()
	require.NoError(t, s.exec(t, q, args...), q)
}

func (s *dsite) query(t testing.TB, q string, args ...any) string {
	t.Helper()
	var v sql.NullString
	require.NoError(t, s.db.QueryRow(s.d.Rebind(q), args...).Scan(&v), q)
	return v.String
}

// typeNames maps portable type words to each dialect's.
func typeNames(d dialect.Name) map[string]string {
	switch d {
	case dialect.Postgres:
		return map[string]string{"BLOB": "BYTEA", "DATETIME": "TIMESTAMP", "REAL": "DOUBLE PRECISION", "BOOL": "BOOLEAN"}
	case dialect.MySQL:
		return map[string]string{"BLOB": "LONGBLOB", "DATETIME": "DATETIME(6)", "REAL": "DOUBLE", "BOOL": "BOOLEAN"}
	}
	return map[string]string{"BLOB": "BLOB", "DATETIME": "DATETIME", "REAL": "REAL", "BOOL": "BOOLEAN"}
}

// seedPortable creates the tracker schema in the site's dialect: an
// integer key, a text key, and a composite key declared in another order
// than its columns.
func seedPortable(t testing.TB, s *dsite, defects int) {
	t.Helper()
	ty := typeNames(s.d.Name())
	for _, q := range []string{
		`CREATE TABLE project (code VARCHAR(32) PRIMARY KEY, title TEXT NOT NULL)`,
		fmt.Sprintf(`CREATE TABLE defect (id BIGINT PRIMARY KEY, project VARCHAR(32) NOT NULL, headline TEXT NOT NULL,
			state VARCHAR(20) NOT NULL DEFAULT 'open', owner TEXT, severity INTEGER, score %s, attachment %s, created %s)`,
			ty["REAL"], ty["BLOB"], ty["DATETIME"]),
		`CREATE TABLE defect_tag (defect_id BIGINT NOT NULL, tag VARCHAR(32) NOT NULL, note TEXT, PRIMARY KEY (tag, defect_id))`,
	} {
		s.mustExec(t, q)
	}
	s.mustExec(t, `INSERT INTO project (code, title) VALUES ('CORE', 'Core engine'), ('UI', 'User interface')`)
	for i := 1; i <= defects; i++ {
		var att []byte
		if i%3 == 0 {
			att = []byte{0, 1, 2, byte(i)}
		}
		s.mustExec(t, `INSERT INTO defect (id, project, headline, owner, severity, score, attachment, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			i, []string{"CORE", "UI"}[i%2], fmt.Sprintf("defect number %d", i), "alice", i%5, float64(i)/4, att, "2026-01-02 03:04:05")
	}
	s.mustExec(t, `INSERT INTO defect_tag (defect_id, tag, note) VALUES (1, 'crash', NULL), (1, 'ui', 'seen on login'), (2, 'perf', NULL)`)
}

// dumpPortable reads every replicated table in portable, canonical form
// (what ContentHash hashes), sorted by key, for go-cmp diffs across sites.
func dumpPortable(t testing.TB, s *dsite) map[string][]map[string]any {
	t.Helper()
	st, err := multisite.ReadStatus(ctx, s.db)
	require.NoError(t, err)
	out := map[string][]map[string]any{}
	for _, name := range st.Tables {
		tb, ok, err := s.d.Describe(ctx, s.db, name)
		require.NoError(t, err)
		require.True(t, ok, name)
		rows, err := s.db.Query(fmt.Sprintf("SELECT * FROM %s", s.d.Quote(name)))
		require.NoError(t, err)
		cols, err := rows.Columns()
		require.NoError(t, err)
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			m := map[string]any{}
			for i, c := range cols {
				col, ok := tb.Column(c)
				if !ok {
					col = dialect.Column{Name: c, Type: "TEXT"}
				}
				v, err := s.d.Value(col, vals[i])
				require.NoError(t, err)
				if b, ok := v.([]byte); ok && b == nil {
					v = []byte{} // SQLite returns an empty blob as a nil slice
				}
				m[c] = dialect.Canonical(col.Type, v)
			}
			out[name] = append(out[name], m)
		}
		require.NoError(t, rows.Err())
		rows.Close()
		sort.Slice(out[name], func(i, j int) bool {
			return fmt.Sprint(keyOf(tb, out[name][i])) < fmt.Sprint(keyOf(tb, out[name][j]))
		})
	}
	return out
}

func keyOf(tb dialect.Table, row map[string]any) []any {
	var k []any
	for _, c := range tb.Keys() {
		k = append(k, row[c.Name])
	}
	return k
}

func dexport(t testing.TB, from, to *dsite) []byte {
	t.Helper()
	return export(t, &from.site, &to.site)
}

func dsync(t testing.TB, from, to *dsite) *multisite.ImportReport {
	t.Helper()
	return syncPair(t, &from.site, &to.site)
}

func drecover(t testing.TB, from, to *dsite) *multisite.ImportReport {
	t.Helper()
	return recoverPair(t, &from.site, &to.site)
}

// replicateTo creates a replica called name from first into db and makes
// it active.
func replicateTo(t testing.TB, first *dsite, db *sql.DB, name string) *dsite {
	t.Helper()
	var buf bytes.Buffer
	info, _, err := multisite.Replicate(ctx, first.db, name, &buf, multisite.ReplicateOptions{})
	require.NoError(t, err)
	s := newDSite(t, db, name)
	s.id = info.ID
	_, err = multisite.CreateReplica(ctx, s.db, &buf, multisite.CreateOptions{})
	require.NoError(t, err, "create %s", name)
	enrol(t, first.db, s.db, s.id)
	require.NoError(t, multisite.SetState(ctx, s.db, replica.Active))
	return s
}

func dconverged(t testing.TB, sites ...*dsite) {
	t.Helper()
	for _, s := range sites {
		// Every row is inside the rules too: each fingerprint follows its
		// row whatever path wrote it.
		if r, err := multisite.VerifyRows(ctx, s.db); err != nil || !r.Clean() {
			t.Fatalf("VerifyRows at %s: %v\n%s", s.name, err, r)
		}
	}
	want := contentHash(t, &sites[0].site)
	for _, s := range sites[1:] {
		if got := contentHash(t, &s.site); got != want {
			t.Fatalf("%s diverges from %s:\n%s", s.name, sites[0].name, cmp.Diff(dumpPortable(t, sites[0]), dumpPortable(t, s)))
		}
	}
}

func TestDialects_CoreReplication(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		boston := newDSite(t, open("boston"), "boston")
		seedPortable(t, boston, 20)
		// A table without a primary key is refused, naming it.
		boston.mustExec(t, `CREATE TABLE audit (at TEXT, what TEXT)`)
		_, err := multisite.Activate(ctx, boston.db, multisite.ActivateOptions{Name: "boston"})
		var nopk *schema.NoPrimaryKeyError
		if !errors.As(err, &nopk) || !cmp.Equal([]string{"audit"}, nopk.Tables) {
			t.Fatalf("Activate with a keyless table: %v, want *schema.NoPrimaryKeyError naming audit", err)
		}
		info, err := multisite.Activate(ctx, boston.db, multisite.ActivateOptions{Name: "boston", Exclude: []string{"audit"}})
		require.NoError(t, err)
		boston.id = info.ID

		// Text keys that differ only in case or accents stay apart, on
		// every dialect (MariaDB's default collation would merge them).
		for _, code := range []string{"Proj-A", "proj-a", "prój-a"} {
			boston.mustExec(t, `INSERT INTO project (code, title) VALUES (?, ?)`, code, "title of "+code)
		}

		blr := replicateTo(t, boston, open("bangalore"), "bangalore")
		dconverged(t, boston, blr)
		if n := blr.query(t, `SELECT count(*) FROM project WHERE code IN ('Proj-A', 'proj-a', 'prój-a')`); n != "3" {
			t.Errorf("bangalore has %s of the three look-alike projects, want 3", n)
		}
		if got := blr.query(t, `SELECT title FROM project WHERE code = 'proj-a'`); got != "title of proj-a" {
			t.Errorf("bangalore's proj-a has title %q", got)
		}

		// A plain SQL write to a row mastered elsewhere fails naming the master.
		before := dumpPortable(t, blr)
		for _, q := range []string{
			`UPDATE defect SET state = 'closed' WHERE id = 1`,
			`DELETE FROM defect WHERE id = 2`,
			`UPDATE project SET title = 'mine now' WHERE code = 'CORE'`,
			`DELETE FROM defect_tag WHERE defect_id = 1`,
			`INSERT INTO project (code, title, ms_master) VALUES ('P', 'p', '` + string(boston.id) + `')`,
		} {
			err := mastership.FromDriver(blr.exec(t, q))
			var nm *mastership.NotMasterError
			if !errors.As(err, &nm) {
				t.Fatalf("%s: error = %v, want *mastership.NotMasterError", q, err)
			}
			if nm.Master != boston.id || nm.By != blr.id {
				t.Errorf("%s: master %q by %q, want %q by %q", q, nm.Master, nm.By, boston.id, blr.id)
			}
		}
		if diff := cmp.Diff(before, dumpPortable(t, blr)); diff != "" {
			t.Errorf("refused writes changed data (-before +after):\n%s", diff)
		}

		// Local edits travel; importing the packet twice changes nothing more.
		boston.mustExec(t, `UPDATE defect SET headline = 'changed', created = '2026-03-04 05:06:07.25' WHERE id = 4`)
		boston.mustExec(t, `DELETE FROM defect WHERE id = 5`)
		boston.mustExec(t, `UPDATE project SET title = 'renamed' WHERE code = 'prój-a'`)
		pkt := dexport(t, boston, blr)
		first := importInto(t, &blr.site, pkt)
		after := dumpPortable(t, blr)
		second := importInto(t, &blr.site, pkt)
		if got := first.Tables["defect"]; got.Updated != 1 || got.Deleted != 1 {
			t.Errorf("first import of defect: %+v, want 1 updated, 1 deleted", got)
		}
		if got := second.Tables["defect"]; !second.Duplicate || got.Inserted+got.Updated+got.Deleted != 0 {
			t.Errorf("second import changed %+v, duplicate=%v", got, second.Duplicate)
		}
		if diff := cmp.Diff(after, dumpPortable(t, blr)); diff != "" {
			t.Errorf("second import changed data:\n%s", diff)
		}
		dconverged(t, boston, blr)

		// A damaged packet is refused and changes nothing.
		boston.mustExec(t, `UPDATE defect SET state = 'fixed'`)
		pkt = dexport(t, boston, blr)
		before, beforeHash := dumpPortable(t, blr), contentHash(t, &blr.site)
		for name, bad := range map[string][]byte{
			"truncated":   pkt[:len(pkt)/2],
			"bit flipped": func() []byte { b := bytes.Clone(pkt); b[len(b)/2] ^= 0x10; return b }(),
		} {
			_, err := multisite.ImportPacket(ctx, blr.db, bytes.NewReader(bad), multisite.ImportOptions{})
			if !errors.Is(err, syncpkt.ErrTruncated) && !errors.Is(err, syncpkt.ErrChecksum) && !errors.Is(err, syncpkt.ErrFormat) && !errors.Is(err, syncpkt.ErrSignature) {
				t.Errorf("%s packet: error = %v, want a syncpkt error", name, err)
			}
			if diff := cmp.Diff(before, dumpPortable(t, blr)); diff != "" {
				t.Errorf("%s packet changed data:\n%s", name, diff)
			}
			if h := contentHash(t, &blr.site); h != beforeHash {
				t.Errorf("%s packet changed the content hash", name)
			}
		}
		importInto(t, &blr.site, pkt)
		dconverged(t, boston, blr)

		// Mastership moves to bangalore, which edits and syncs back.
		n, err := multisite.TransferMastership(ctx, boston.db, "defect", blr.id, []any{1}, []any{2})
		require.NoError(t, err)
		if n != 2 {
			t.Errorf("transferred %d rows, want 2", n)
		}
		if err := boston.exec(t, `UPDATE defect SET state = 'x' WHERE id = 1`); !errors.Is(mastership.FromDriver(err), mastership.ErrNotMaster) {
			t.Errorf("old master wrote after the transfer: %v", err)
		}
		dsync(t, boston, blr)
		blr.mustExec(t, `UPDATE defect SET state = 'assigned', owner = 'ravi' WHERE id = 1`)
		blr.mustExec(t, `DELETE FROM defect WHERE id = 2`)
		id, err := multisite.NextID(ctx, blr.db, nil, "defect")
		require.NoError(t, err)
		blr.mustExec(t, `INSERT INTO defect (id, project, headline) VALUES (?, 'CORE', 'found in Bangalore')`, id)
		blr.mustExec(t, `INSERT INTO defect_tag (defect_id, tag) VALUES (?, 'new')`, id)
		// A key outside bangalore's range is refused whatever the tool.
		lo, _ := replica.KeyRange(0)
		if err := blr.exec(t, `INSERT INTO defect (id, project, headline) VALUES (?, 'CORE', 'stolen key')`, lo+100); err == nil || !strings.Contains(err.Error(), "NextID") {
			t.Errorf("key from boston's range: %v", err)
		}
		dsync(t, blr, boston)
		dconverged(t, boston, blr)
		if o := boston.query(t, `SELECT owner FROM defect WHERE id = 1`); o != "ravi" {
			t.Errorf("boston sees owner %q, want ravi", o)
		}
		// And back again.
		_, err = multisite.TransferMastership(ctx, blr.db, "defect", boston.id, []any{1})
		require.NoError(t, err)
		dsync(t, blr, boston)
		boston.mustExec(t, `UPDATE defect SET state = 'closed' WHERE id = 1`)
		dsync(t, boston, blr)
		dconverged(t, boston, blr)
	})
}

// TestDialects_ConcurrentWritersNothingSkipped is DESIGN invariant 2:
// writer transactions of different lengths commit while exports run, and
// every committed change reaches the other replica. An export seals
// pending changes into an epoch in a short transaction; a change committed
// after the seal waits for the next one, so the commit order of writers
// does not matter.
func TestDialects_ConcurrentWritersNothingSkipped(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		a := newDSite(t, open("boston"), "boston")
		seedPortable(t, a, 0)
		info, err := multisite.Activate(ctx, a.db, multisite.ActivateOptions{Name: "boston"})
		require.NoError(t, err)
		a.id = info.ID
		b := replicateTo(t, a, open("bangalore"), "bangalore")
		lo, _ := replica.KeyRange(0)

		const writers, txs = 4, 12
		var mu sync.Mutex
		committed := map[int64]string{} // id -> headline of the last committed write
		var wg sync.WaitGroup
		done := make(chan struct{})
		errs := make(chan error, writers)
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(w), 7))
				base := lo + int64(w)*1000
				for i := 0; i < txs; i++ {
					id := base + int64(i)
					head := fmt.Sprintf("w%d tx%d", w, i)
					err := func() error {
						tx, err := a.db.BeginTx(ctx, nil)
						if err != nil {
							return err
						}
						defer tx.Rollback()
						if _, err := tx.Exec(a.d.Rebind(`INSERT INTO defect (id, project, headline) VALUES (?, 'CORE', ?)`), id, head); err != nil {
							return err
						}
						// Transactions of different lengths: some stay open
						// across an export's seal.
						time.Sleep(time.Duration(rng.IntN(4)) * 15 * time.Millisecond)
						if i > 0 {
							if _, err := tx.Exec(a.d.Rebind(`UPDATE defect SET headline = ? WHERE id = ?`), head+" again", id-1); err != nil {
								return err
							}
						}
						return tx.Commit()
					}()
					if err != nil {
						errs <- fmt.Errorf("writer %d tx %d: %w", w, i, err)
						return
					}
					mu.Lock()
					committed[id] = head
					if i > 0 {
						committed[id-1] = head + " again"
					}
					mu.Unlock()
				}
			}(w)
		}
		go func() { wg.Wait(); close(done) }()
		rounds := 0
		for running := true; running; rounds++ {
			select {
			case <-done:
				running = false
			default:
			}
			dsync(t, a, b) // an export (seal + snapshot) while writers commit
		}
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		dsync(t, a, b) // the changes committed after the last seal
		got := map[int64]string{}
		rows, err := b.db.Query(a.d.Rebind(`SELECT id, headline FROM defect`))
		require.NoError(t, err)
		for rows.Next() {
			var id int64
			var h string
			require.NoError(t, rows.Scan(&id, &h))
			got[id] = h
		}
		require.NoError(t, rows.Err())
		rows.Close()
		if diff := cmp.Diff(committed, got); diff != "" {
			t.Errorf("bangalore lacks committed changes after %d export rounds (-committed +bangalore):\n%s", rounds, diff)
		}
		dconverged(t, a, b)
		t.Logf("%d writers x %d transactions, %d export rounds", writers, txs, rounds)
	})
}

// mixedSchema is a table of every common type, in SQLite's words; the
// replicas on PostgreSQL and MariaDB map them (dialect Type methods).
const mixedSchema = `CREATE TABLE sample (
	id INTEGER PRIMARY KEY,
	small INTEGER,
	big BIGINT,
	price DECIMAL(12,2),
	ratio REAL,
	flag BOOLEAN,
	body TEXT,
	code VARCHAR(10),
	data BLOB,
	at DATETIME,
	day DATE
)`

// TestDialects_MixedFamily runs one family across SQLite, PostgreSQL and
// MariaDB: SQLite creates a PostgreSQL replica, which creates a MariaDB
// replica, which creates a SQLite replica; the data that comes back must be
// what went out, and the content hashes of all four must agree.
//
// Every value in the table round-trips exactly, because it is written in
// the canonical form each type travels in. What does not round-trip
// exactly (documented in internal/dialect):
//   - timestamps finer than a microsecond (PostgreSQL and MariaDB keep
//     microseconds), and timestamp text not in the canonical form
//     "2006-01-02 15:04:05[.ffffff]" (a 'T' or a zone comes back without);
//   - DECIMAL without precision on MariaDB becomes DECIMAL(65,30), so its
//     text comes back with 30 decimals (equal by value and by ContentHash);
//   - CHAR(n) comes back space-padded from PostgreSQL, trimmed from MariaDB;
//   - floats NaN and ±Inf cannot be stored on MariaDB;
//   - SQLite's dynamic typing: text in an INTEGER column is refused by the
//     servers.
func TestDialects_MixedFamily(t *testing.T) {
	for _, env := range []string{testdb.PostgresEnv, testdb.MySQLEnv} {
		if os.Getenv(env) == "" {
			t.Skipf("mixed family needs PostgreSQL and MariaDB: %s is not set", env)
		}
	}
	a := newDSite(t, testdb.SQLite(t, "boston"), "boston")
	a.mustExec(t, mixedSchema)
	a.mustExec(t, `CREATE TABLE project (code TEXT PRIMARY KEY, title TEXT NOT NULL)`)
	rows := [][]any{
		{1, 7, int64(9007199254740993), 1234.5, 0.1, 1, "naïve ☃ 😀 'quoted' \\ back", "Ab", []byte{0, 1, 0xff}, "2026-01-02 03:04:05", "2026-01-02"},
		{2, -3, int64(-1) << 62, -0.01, 1e300, 0, "", "", []byte{}, "2026-01-02 03:04:05.123456", "1999-12-31"},
		{3, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil},
		{4, 0, int64(0), 0, -2.5, 1, "line\nbreak\ttab", "ü", []byte("text as bytes"), "1970-01-01 00:00:00", "2000-02-29"},
	}
	for _, r := range rows {
		a.mustExec(t, `INSERT INTO sample VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, r...)
	}
	for _, code := range []string{"Proj-A", "proj-a", "prój-a"} {
		a.mustExec(t, `INSERT INTO project VALUES (?, ?)`, code, "title of "+code)
	}
	want := dumpRaw(t, a.db)
	info, err := multisite.Activate(ctx, a.db, multisite.ActivateOptions{Name: "boston"})
	require.NoError(t, err)
	a.id = info.ID

	pg := replicateTo(t, a, testdb.Postgres(t, "pg"), "pg")
	my := replicateTo(t, pg, testdb.MySQL(t, "maria"), "maria")
	c := replicateTo(t, my, testdb.SQLite(t, "cork"), "cork")
	if diff := cmp.Diff(want, dumpRaw(t, c.db)); diff != "" {
		t.Errorf("data back in SQLite after PostgreSQL and MariaDB differs (-sent +received):\n%s", diff)
	}
	if diff := cmp.Diff(dumpPortable(t, a), dumpPortable(t, my)); diff != "" {
		t.Errorf("MariaDB holds other data than SQLite (-boston +maria):\n%s", diff)
	}
	dconverged(t, a, pg, my, c)

	// Everyone learns of everyone, then each site writes and all converge.
	sites := []*dsite{a, pg, my, c}
	allToAll := func() {
		for _, x := range sites {
			for _, y := range sites {
				if x != y {
					dsync(t, x, y)
				}
			}
		}
	}
	dsync(t, pg, a)
	dsync(t, my, pg)
	dsync(t, c, my)
	dsync(t, my, pg)
	dsync(t, pg, a)
	allToAll()
	for i, s := range sites {
		id, err := multisite.NextID(ctx, s.db, nil, "sample")
		require.NoError(t, err)
		s.mustExec(t, `INSERT INTO sample (id, small, price, flag, body, data, at, day) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			id, i, "10.25", i%2 == 1, "from "+s.name, []byte{byte(i)}, "2026-05-06 07:08:09.5", "2026-05-06")
	}
	_, err = multisite.TransferMastership(ctx, a.db, "sample", my.id, []any{1})
	require.NoError(t, err)
	allToAll()
	my.mustExec(t, `UPDATE sample SET body = 'edited at maria', flag = 0, price = 99.99 WHERE id = 1`)
	allToAll()
	dconverged(t, a, pg, my, c)
	if got := a.query(t, `SELECT body FROM sample WHERE id = 1`); got != "edited at maria" {
		t.Errorf("boston sees body %q, want maria's edit", got)
	}
}

// dumpRaw returns the rows of sample and project exactly as the SQLite
// driver returns them.
func dumpRaw(t testing.TB, db *sql.DB) map[string][]map[string]any {
	t.Helper()
	out := map[string][]map[string]any{}
	for _, table := range []string{"sample", "project"} {
		rows, err := db.Query(fmt.Sprintf("SELECT * FROM %s ORDER BY 1", table))
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
				if c != dialect.MasterColumn {
					m[c] = vals[i]
				}
			}
			out[table] = append(out[table], m)
		}
		rows.Close()
	}
	return out
}

func TestDialects_UnreachableServer(t *testing.T) {
	tests := []struct {
		dialect, env, dsn string
	}{
		{"postgres", testdb.PostgresEnv, "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2"},
		{"mysql", testdb.MySQLEnv, "root@tcp(127.0.0.1:1)/test?timeout=2s"},
	}
	for _, tt := range tests {
		t.Run(tt.dialect, func(t *testing.T) {
			driver := map[string]string{"postgres": "pgx", "mysql": "mysql"}[tt.dialect]
			db, err := sql.Open(driver, tt.dsn)
			require.NoError(t, err)
			defer db.Close()
			_, err = multisite.Activate(ctx, db, multisite.ActivateOptions{Name: "boston"})
			if !errors.Is(err, multisite.ErrUnreachable) {
				t.Fatalf("Activate on an unreachable %s server: %v, want ErrUnreachable", tt.dialect, err)
			}
		})
	}
}

// TestDialects_DamagedCreationPacketLeavesNothing: a creation packet that
// fails its check at the trailer leaves the database empty, also where DDL
// commits by itself (MySQL), so the good packet can be applied after.
func TestDialects_DamagedCreationPacketLeavesNothing(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		boston := newDSite(t, open("boston"), "boston")
		seedPortable(t, boston, 30)
		_, err := multisite.Activate(ctx, boston.db, multisite.ActivateOptions{Name: "boston"})
		require.NoError(t, err)
		var buf bytes.Buffer
		_, _, err = multisite.Replicate(ctx, boston.db, "bangalore", &buf, multisite.ReplicateOptions{})
		require.NoError(t, err)
		pkt := buf.Bytes()
		blr := newDSite(t, open("bangalore"), "bangalore")
		for name, bad := range map[string][]byte{
			"truncated before the trailer": pkt[:len(pkt)-20],
			"bit flipped in the signature": func() []byte { b := bytes.Clone(pkt); b[len(b)-3] ^= 0x10; return b }(),
		} {
			_, err := multisite.CreateReplica(ctx, blr.db, bytes.NewReader(bad), multisite.CreateOptions{})
			if err == nil {
				t.Fatalf("%s: creation packet accepted", name)
			}
			tables, err := blr.d.Tables(ctx, blr.db)
			require.NoError(t, err)
			_, ctl, err := blr.d.Describe(ctx, blr.db, "ms_ctl")
			require.NoError(t, err)
			if len(tables) != 0 || ctl {
				t.Errorf("%s: refused creation left tables %v (ms_ctl: %v)", name, tables, ctl)
			}
		}
		_, err = multisite.CreateReplica(ctx, blr.db, bytes.NewReader(pkt), multisite.CreateOptions{})
		require.NoError(t, err)
		dconverged(t, boston, blr)
	})
}
