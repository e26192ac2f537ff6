package multisite_test

import (
	"bytes"
	"database/sql"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/stretchr/testify/require"
)

// TestValues_GoWrittenTimesReachEveryVendor writes rows through the SQLite
// driver as a Go program does (time.Time, bool, float64 and decimal text
// arguments, SQLite's CURRENT_TIMESTAMP, a Unix time in a DATETIME
// column) and replicates them to PostgreSQL and MariaDB: every replica
// must be created, and hold the same canonical values, also for rows
// written after creation and sent back.
func TestValues_GoWrittenTimesReachEveryVendor(t *testing.T) {
	for _, env := range []string{testdb.PostgresEnv, testdb.MySQLEnv} {
		if os.Getenv(env) == "" {
			t.Skipf("a mixed family needs PostgreSQL and MariaDB: %s is not set", env)
		}
	}
	a := newDSite(t, testdb.SQLite(t, "vals_a"), "a")
	a.mustExec(t, `CREATE TABLE ev (id INTEGER PRIMARY KEY, at DATETIME, day DATE, stamp DATETIME DEFAULT CURRENT_TIMESTAMP,
		flag BOOLEAN, price DECIMAL(10,2), ratio REAL, note TEXT)`)
	cet := time.FixedZone("CET", 3600)
	rows := [][]any{
		{1, time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC), time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC), true, "12.50", 0.1, "utc"},
		{2, time.Date(2026, 3, 1, 10, 0, 0, 123456000, cet), "2026-03-01", false, 12.5, 0.0, "cet, microseconds"},
		{3, time.Now().Truncate(time.Microsecond), time.Now().UTC().Truncate(24 * time.Hour), true, "-0.01", 1e300, "now, monotonic"},
		{4, int64(946684799), "2000-02-29", false, int64(7), 2.5, "unix seconds"},
		{5, nil, nil, nil, nil, nil, nil},
	}
	for _, r := range rows {
		a.mustExec(t, `INSERT INTO ev (id, at, day, flag, price, ratio, note) VALUES (?, ?, ?, ?, ?, ?, ?)`, r...)
	}
	info, err := multisite.Activate(ctx, a.db, multisite.ActivateOptions{Name: "a"})
	require.NoError(t, err)
	a.id = info.ID
	pg := replicateTo(t, a, testdb.Postgres(t, "vals_pg"), "pg")
	my := replicateTo(t, a, testdb.MySQL(t, "vals_my"), "my")
	want := dumpPortable(t, a)
	for _, s := range []*dsite{pg, my} {
		if diff := cmp.Diff(want, dumpPortable(t, s)); diff != "" {
			t.Errorf("%s after creation (-sqlite +%s):\n%s", s.name, s.name, diff)
		}
	}
	// Rows written after creation travel in packets both ways.
	a.mustExec(t, `INSERT INTO ev (id, at, day, flag, price, ratio, note) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		6, time.Date(2001, 2, 3, 4, 5, 6, 7000, time.UTC), time.Date(2001, 2, 3, 0, 0, 0, 0, time.UTC), true, "3.10", 3.0, "after")
	a.mustExec(t, `UPDATE ev SET at = ?, flag = ? WHERE id = 1`, time.Date(2020, 1, 1, 0, 0, 0, 0, cet), false)
	for round := 0; round < 2; round++ {
		for _, p := range [][2]*dsite{{a, pg}, {a, my}, {pg, a}, {my, a}, {pg, my}, {my, pg}} {
			dsync(t, p[0], p[1])
		}
	}
	dconverged(t, a, pg, my)
	want = dumpPortable(t, a)
	for _, s := range []*dsite{pg, my} {
		if diff := cmp.Diff(want, dumpPortable(t, s)); diff != "" {
			t.Errorf("%s after sync (-sqlite +%s):\n%s", s.name, s.name, diff)
		}
	}
}

// TestValues_InexactRefusedAtCreation sends a timestamp with nanoseconds,
// which PostgreSQL and MariaDB keep to the microsecond, to a replica
// being created there: the creation is refused with a *InexactError
// naming the column, and leaves the database as it was.
func TestValues_InexactRefusedAtCreation(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		db := open("inexact_b")
		if dialectOf(t, db).Name() == dialect.SQLite {
			return // SQLite holds any value
		}
		// The SQLite origin is the subtest's own: the server subtests run
		// in parallel and share nothing.
		a := newDSite(t, testdb.SQLite(t, "inexact_a"), "a")
		a.mustExec(t, `CREATE TABLE ev (id INTEGER PRIMARY KEY, at DATETIME)`)
		a.mustExec(t, `INSERT INTO ev VALUES (1, ?), (2, ?)`, time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC), time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC))
		info, err := multisite.Activate(ctx, a.db, multisite.ActivateOptions{Name: "a"})
		require.NoError(t, err)
		a.id = info.ID
		before := catalogOf(t, db)
		var buf bytes.Buffer
		_, _, err = multisite.Replicate(ctx, a.db, "b_"+string(dialectOf(t, db).Name()), &buf, multisite.ReplicateOptions{})
		require.NoError(t, err)
		_, err = multisite.CreateReplica(ctx, db, &buf, multisite.CreateOptions{})
		var ie *multisite.InexactError
		if !errors.As(err, &ie) || !errors.Is(err, multisite.ErrInexact) || ie.Table != "ev" || ie.Column != "at" {
			t.Fatalf("CreateReplica with a nanosecond timestamp: %v, want a *multisite.InexactError naming ev.at", err)
		}
		if diff := cmp.Diff(before, catalogOf(t, db)); diff != "" {
			t.Errorf("a refused creation changed the database (-before +after):\n%s", diff)
		}
	})
}
