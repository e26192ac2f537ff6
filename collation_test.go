package multisite_test

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/multisite-go/multisite/schema"
	"github.com/stretchr/testify/require"
)

// openDialect opens a fresh database of dialect d for a site.
func openDialect(t *testing.T, d dialect.Name, name string) *sql.DB {
	t.Helper()
	if d == dialect.SQLite {
		return testdb.SQLite(t, name)
	}
	return testdb.Open(t, string(d), name)
}

// keysOf lists the codes of proj at s, sorted byte-wise.
func keysOf(t *testing.T, s *dsite) []string {
	t.Helper()
	rows, err := s.db.Query(`SELECT code FROM proj`)
	require.NoError(t, err)
	defer rows.Close()
	var ks []string
	for rows.Next() {
		var k string
		require.NoError(t, rows.Scan(&k))
		ks = append(ks, k)
	}
	require.NoError(t, rows.Err())
	sort.Strings(ks)
	return ks
}

// TestKeys_CompareByteForByte creates keys that differ only by trailing
// spaces, case or accents, at every vendor in turn as origin and at the
// other two, and checks every replica of the SQLite + PostgreSQL +
// MariaDB family ends with every one of them as its own row.
func TestKeys_CompareByteForByte(t *testing.T) {
	for _, env := range []string{testdb.PostgresEnv, testdb.MySQLEnv} {
		if os.Getenv(env) == "" {
			t.Skipf("a mixed family needs PostgreSQL and MariaDB: %s is not set", env)
		}
	}
	vendors := []dialect.Name{dialect.SQLite, dialect.Postgres, dialect.MySQL}
	for i, origin := range vendors {
		t.Run(string(origin), func(t *testing.T) {
			others := []dialect.Name{vendors[(i+1)%3], vendors[(i+2)%3]}
			a := newDSite(t, openDialect(t, origin, "keys_a"), "a")
			a.mustExec(t, `CREATE TABLE proj (code VARCHAR(40) NOT NULL PRIMARY KEY, title VARCHAR(80))`)
			info, err := multisite.Activate(ctx, a.db, multisite.ActivateOptions{Name: "a"})
			require.NoError(t, err)
			a.id = info.ID
			b := replicateTo(t, a, openDialect(t, others[0], "keys_b"), "b")
			c := replicateTo(t, a, openDialect(t, others[1], "keys_c"), "c")
			dsync(t, b, a)
			dsync(t, c, a)
			dsync(t, a, b)
			dsync(t, a, c)
			var want []string
			for _, w := range []struct {
				s    *dsite
				keys []string
			}{
				{a, []string{"Proj-A", "Proj-A ", "proj-a", "Proj-A  ", "prój-a"}},
				{b, []string{"B", "B ", "b", " b"}},
				{c, []string{"C", "C\t", "c ", "ç"}},
			} {
				for _, k := range w.keys {
					w.s.mustExec(t, `INSERT INTO proj (code, title) VALUES (?, ?)`, k, fmt.Sprintf("%q at %s", k, w.s.name))
					want = append(want, k)
				}
			}
			sort.Strings(want)
			for round := 0; round < 2; round++ {
				for _, p := range [][2]*dsite{{a, b}, {a, c}, {b, a}, {b, c}, {c, a}, {c, b}} {
					dsync(t, p[0], p[1])
				}
			}
			for _, s := range []*dsite{a, b, c} {
				if diff := cmp.Diff(want, keysOf(t, s)); diff != "" {
					t.Errorf("keys at %s (%s) (-want +got):\n%s", s.name, s.d.Name(), diff)
				}
			}
			dconverged(t, a, b, c)
		})
	}
}

// TestKeys_LooseKeyRefused checks that activation refuses, with a
// *schema.LooseKeyError naming the column and leaving the database as it
// was, a key the vendor compares ignoring case or trailing spaces.
func TestKeys_LooseKeyRefused(t *testing.T) {
	loose := map[dialect.Name][]string{
		dialect.SQLite:   {`CREATE TABLE proj (code TEXT COLLATE NOCASE PRIMARY KEY, title TEXT)`, `CREATE TABLE proj (code TEXT PRIMARY KEY COLLATE RTRIM, title TEXT)`},
		dialect.Postgres: {`CREATE TABLE proj (code CHAR(8) PRIMARY KEY, title TEXT)`},
		dialect.MySQL:    {`CREATE TABLE proj (code CHAR(8) PRIMARY KEY, title TEXT)`},
	}
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		for i, ddl := range loose[dialectOf(t, open("probe")).Name()] {
			s := newDSite(t, open(fmt.Sprint("loose", i)), "a")
			s.mustExec(t, ddl)
			s.mustExec(t, `CREATE TABLE fine (id BIGINT PRIMARY KEY)`)
			before := catalogOf(t, s.db)
			_, err := multisite.Activate(ctx, s.db, multisite.ActivateOptions{Name: "a"})
			var le *schema.LooseKeyError
			if !errors.As(err, &le) || !errors.Is(err, schema.ErrLooseKey) || le.Table != "proj" || le.Column != "code" {
				t.Fatalf("Activate over %s: %v, want a *schema.LooseKeyError naming proj.code", ddl, err)
			}
			if _, err := multisite.PlanActivation(ctx, s.db, multisite.ActivateOptions{Name: "a"}); !errors.Is(err, schema.ErrLooseKey) {
				t.Errorf("PlanActivation over %s: %v, want ErrLooseKey", ddl, err)
			}
			if diff := cmp.Diff(before, catalogOf(t, s.db)); diff != "" {
				t.Errorf("a refused activation changed the catalog (-before +after):\n%s", diff)
			}
		}
	})
}
