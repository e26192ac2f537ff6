package multisite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/multisite-go/multisite/replica"
)

// childEnv tells a re-executed test binary to be the second process of a
// concurrency test: "driver<TAB>dsn<TAB>workload<TAB>writers<TAB>count".
const childEnv = "MULTISITE_TEST_CHILD"

// startChild re-executes the test binary as a second OS process running
// workload (see TestChildProcess) against the database at driver/dsn.
// wait returns its output and whether it failed.
func startChild(t *testing.T, driver, dsn, workload string, writers, count int) (wait func() (string, error)) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildProcess$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+strings.Join([]string{driver, dsn, workload, strconv.Itoa(writers), strconv.Itoa(count)}, "\t"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	return func() (string, error) {
		err := cmd.Wait()
		return out.String(), err
	}
}

// TestChildProcess is the second process of the concurrency tests; run
// alone it skips.
func TestChildProcess(t *testing.T) {
	v := os.Getenv(childEnv)
	if v == "" {
		t.Skip("runs only as the second process of TestNextID_Concurrent and TestSQLite_WritersNeverFail (" + childEnv + ")")
	}
	f := strings.Split(v, "\t")
	require.Len(t, f, 5)
	db, err := sql.Open(f[0], f[1])
	require.NoError(t, err)
	defer db.Close()
	writers, _ := strconv.Atoi(f[3])
	count, _ := strconv.Atoi(f[4])
	var errs []error
	switch f[2] {
	case "nextid":
		errs = keyWorkload(context.Background(), db, writers, count, "child")
	case "writer":
		var st writerStats
		errs = st.run(context.Background(), db, writers, count)
		t.Logf("child max wait %v", st.max)
	default:
		t.Fatalf("unknown workload %q", f[2])
	}
	for i, err := range errs {
		if i < 5 {
			t.Errorf("child: %v", err)
		}
	}
	if len(errs) > 0 {
		t.Errorf("child: %d failed transactions", len(errs))
	}
}

// keyWorkload runs writers goroutines, each committing count small
// transactions that take a key with NextID and insert a defect with it,
// and returns the errors of the transactions that failed.
func keyWorkload(ctx context.Context, db *sql.DB, writers, count int, tag string) []error {
	d, err := dialect.Detect(db)
	if err != nil {
		return []error{err}
	}
	ins := d.Rebind(`INSERT INTO defect (id, project, headline) VALUES (?, 'CORE', ?)`)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range count {
				err := func() error {
					tx, err := db.BeginTx(ctx, nil)
					if err != nil {
						return err
					}
					defer tx.Rollback()
					id, err := multisite.NextID(ctx, db, tx, "defect")
					if err != nil {
						return fmt.Errorf("NextID: %w", err)
					}
					if _, err := tx.ExecContext(ctx, ins, id, fmt.Sprintf("%s %d/%d", tag, w, i)); err != nil {
						return fmt.Errorf("insert %d: %w", id, err)
					}
					return tx.Commit()
				}()
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return errs
}

// TestNextID_Concurrent is issue 17's workload: 8 writers × 300 small
// transactions, each inserting a row under a key from NextID, while a
// second process does the same. No key is handed out twice, so no insert
// fails, and every key is the replica's.
func TestNextID_Concurrent(t *testing.T) {
	const writers, count, childWriters, childCount = 8, 300, 4, 150
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		ctx := context.Background()
		db := open("boston")
		seedTracker(t, db, 10)
		_, err := multisite.Activate(ctx, db, multisite.ActivateOptions{Name: "boston"})
		require.NoError(t, err)
		driver, dsn := testdb.DSN(t, db, "")
		wait := startChild(t, driver, dsn, "nextid", childWriters, childCount)

		errs := keyWorkload(ctx, db, writers, count, "parent")
		out, childErr := wait()
		for i, err := range errs {
			if i < 5 {
				t.Errorf("writer: %v", err)
			}
		}
		if len(errs) > 0 {
			t.Errorf("%d of %d transactions failed", len(errs), writers*count)
		}
		if childErr != nil {
			t.Errorf("second process: %v\n%s", childErr, out)
		}
		lo, hi := replica.KeyRange(0)
		var n, outside int
		require.NoError(t, db.QueryRow(rebind(t, db, `SELECT count(*), sum(CASE WHEN id BETWEEN ? AND ? THEN 0 ELSE 1 END) FROM defect WHERE headline <> ''`), lo, hi).Scan(&n, &outside))
		if want := 10 + writers*count + childWriters*childCount; n != want || outside != 0 {
			t.Errorf("%d rows, %d outside the key range; want %d, 0", n, outside, want)
		}
	})
}

// keylessSchema is a table whose key the database assigns: SQLite's
// rowid, PostgreSQL's serial, MariaDB's AUTO_INCREMENT.
func keylessSchema(d dialect.Name) string {
	switch d {
	case dialect.Postgres:
		return `CREATE TABLE note (id BIGSERIAL PRIMARY KEY, body TEXT NOT NULL)`
	case dialect.MySQL:
		return `CREATE TABLE note (id BIGINT AUTO_INCREMENT PRIMARY KEY, body TEXT NOT NULL)`
	}
	return `CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT NOT NULL)`
}

// TestKeys_KeylessInsert is an application's INSERT that leaves the key
// out, at the origin and at a replica made from a creation packet, before
// and after each has imported the other's keys. On PostgreSQL and MariaDB
// it works everywhere and RETURNING tells the key (and, on MariaDB and
// SQLite, LastInsertId); on SQLite, where the rowid rule would take
// another replica's key, it is refused with the recipe in the message, and
// the recipe works in plain SQL.
func TestKeys_KeylessInsert(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		ctx := context.Background()
		boston := &site{name: "boston", db: open("boston")}
		d := dialectOf(t, boston.db)
		testdb.Exec(t, boston.db, keylessSchema(d.Name()),
			`INSERT INTO note (body) VALUES ('one')`, `INSERT INTO note (body) VALUES ('two')`)
		info, err := multisite.Activate(ctx, boston.db, multisite.ActivateOptions{Name: "boston"})
		require.NoError(t, err)
		boston.id = info.ID
		var buf bytes.Buffer
		binfo, _, err := multisite.Replicate(ctx, boston.db, "bangalore", &buf, multisite.ReplicateOptions{})
		require.NoError(t, err)
		blr := &site{name: "bangalore", db: open("bangalore"), id: binfo.ID}
		_, err = multisite.CreateReplica(ctx, blr.db, &buf, multisite.CreateOptions{})
		require.NoError(t, err)
		require.NoError(t, multisite.SetState(ctx, blr.db, replica.Active))

		recipe := `INSERT INTO note (id, body) VALUES ((SELECT next FROM ms_key WHERE tbl = 'note'), ?) RETURNING id`
		// insert adds a note without its key and returns the key the
		// database gave it, or the refusal.
		insert := func(s *site, body string) (int64, error) {
			var id int64
			err := s.db.QueryRowContext(ctx, rebind(t, s.db, `INSERT INTO note (body) VALUES (?) RETURNING id`), body).Scan(&id)
			return id, err
		}
		inRange := func(s *site, n int64, id int64) {
			t.Helper()
			lo, hi := replica.KeyRange(n)
			if id < lo || id > hi {
				t.Errorf("%s: key %d outside [%d, %d]", s.name, id, lo, hi)
			}
		}
		steps := []struct {
			s    *site
			n    int64
			body string
		}{
			{boston, 0, "at the origin"},
			{blr, 1, "at the new replica"},
		}
		for round := range 2 {
			for _, st := range steps {
				body := fmt.Sprintf("%s, round %d", st.body, round)
				id, err := insert(st.s, body)
				if d.Name() == dialect.SQLite && !(st.s == boston && round == 0) {
					// SQLite's max(rowid)+1 is the other replica's: refused,
					// saying how to give the key.
					if err == nil {
						t.Errorf("%s: keyless INSERT took key %d, want a refusal", st.s.name, id)
					} else if !strings.Contains(err.Error(), "SELECT next FROM ms_key WHERE tbl = 'note'") {
						t.Errorf("%s: refusal does not give the recipe: %v", st.s.name, err)
					}
					require.NoError(t, st.s.db.QueryRowContext(ctx, recipe, body+" (recipe)").Scan(&id))
					inRange(st.s, st.n, id)
					require.NoError(t, st.s.db.QueryRowContext(ctx, recipe, body+" (recipe again)").Scan(&id))
				} else if err != nil {
					t.Errorf("%s: keyless INSERT: %v", st.s.name, err)
					continue
				}
				inRange(st.s, st.n, id)
				if d.Name() == dialect.MySQL || (d.Name() == dialect.SQLite && st.s == boston) {
					res, err := st.s.db.ExecContext(ctx, rebind(t, st.s.db, `INSERT INTO note (body) VALUES (?)`), body+" (LastInsertId)")
					if d.Name() == dialect.SQLite && round > 0 {
						require.Error(t, err) // refused as above
					} else {
						require.NoError(t, err)
						got, err := res.LastInsertId()
						require.NoError(t, err)
						var want int64
						require.NoError(t, st.s.db.QueryRowContext(ctx, rebind(t, st.s.db, `SELECT id FROM note WHERE body = ?`), body+" (LastInsertId)").Scan(&want))
						if got != want {
							t.Errorf("%s: LastInsertId = %d, want %d", st.s.name, got, want)
						}
					}
				}
				next, err := multisite.NextID(ctx, st.s.db, nil, "note")
				require.NoError(t, err)
				var max int64
				require.NoError(t, st.s.db.QueryRowContext(ctx, `SELECT max(id) FROM note`).Scan(&max))
				if lo, hi := replica.KeyRange(st.n); max < hi && next <= max && max >= lo {
					t.Errorf("%s: NextID = %d, not past the largest key %d", st.s.name, next, max)
				}
				inRange(st.s, st.n, next)
			}
			// Each imports the other's keys, which lie above or below its
			// own range.
			syncPair(t, blr, boston)
			syncPair(t, boston, blr)
			requireConverged(t, boston, blr)
		}
	})
}

// TestKeys_NextIDRefusals checks NextID refuses a table without an
// integer key and an unknown table, and leaves the database unchanged.
func TestKeys_NextIDRefusals(t *testing.T) {
	ctx := context.Background()
	s := newFamily(t, 3, "boston")[0]
	before := dump(t, s.db)
	for _, table := range []string{"project", "defect_tag", "nosuch"} {
		if id, err := multisite.NextID(ctx, s.db, nil, table); err == nil {
			t.Errorf("NextID(%s) = %d, want an error", table, id)
		}
	}
	if diff := cmp.Diff(before, dump(t, s.db)); diff != "" {
		t.Errorf("database changed (-before +after):\n%s", diff)
	}
}

// TestKeys_OlderDatabaseGetsGenerators is a database activated before key
// generators existed: NextID in a transaction refuses with ErrKeyRange and
// changes nothing, Repair sets the generators up, and so does NextID on
// its own.
func TestKeys_OlderDatabaseGetsGenerators(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		ctx := context.Background()
		db := open("boston")
		seedTracker(t, db, 5)
		_, err := multisite.Activate(ctx, db, multisite.ActivateOptions{Name: "boston"})
		require.NoError(t, err)
		forget := func() {
			switch dialectOf(t, db).Name() {
			case dialect.SQLite:
				testdb.Exec(t, db, `DROP TRIGGER ms_defect_bk`, `DROP TRIGGER ms_defect_ak`, `DROP TABLE ms_key`)
			case dialect.Postgres:
				testdb.Exec(t, db, `DROP SEQUENCE ms_seq_defect CASCADE`)
			case dialect.MySQL:
				testdb.Exec(t, db, `DROP SEQUENCE ms_seq_defect`)
			}
		}
		forget()
		before := dump(t, db)
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		_, err = multisite.NextID(ctx, db, tx, "defect")
		require.NoError(t, tx.Rollback())
		if !errors.Is(err, multisite.ErrKeyRange) {
			t.Errorf("NextID in a transaction without a generator: %v, want ErrKeyRange", err)
		}
		if diff := cmp.Diff(before, dump(t, db)); diff != "" {
			t.Errorf("refused NextID changed the database (-before +after):\n%s", diff)
		}
		_, err = multisite.Repair(ctx, db)
		require.NoError(t, err)
		var ids []int64
		err = multisite.Write(ctx, db, multisite.WriteOptions{}, func(ctx context.Context, tx *sql.Tx) error {
			id, err := multisite.NextID(ctx, db, tx, "defect")
			ids = append(ids, id)
			return err
		})
		if err != nil {
			t.Errorf("NextID after Repair: %v", err)
		}
		forget()
		id, err := multisite.NextID(ctx, db, nil, "defect")
		if err != nil {
			t.Errorf("NextID on its own without a generator: %v", err)
		}
		ids = append(ids, id)
		lo, hi := replica.KeyRange(0)
		for _, id := range ids {
			if id <= 5 || id > hi || id < lo {
				t.Errorf("key %d: the seeded keys are 1..5, the range [%d, %d]", id, lo, hi)
			}
		}
	})
}
