package multisite_test

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/stretchr/testify/require"
)

// nameLimit is the longest identifier each vendor allows, in the unit it
// counts (bytes on PostgreSQL, characters on MySQL); 0 means no limit.
func nameLimit(d dialect.Name) (n int, bytes bool) {
	switch d {
	case dialect.Postgres:
		return 63, true
	case dialect.MySQL:
		return 64, false
	}
	return 0, false
}

// allowedName reports whether the vendor of d accepts name as a table or
// column name: MySQL refuses a trailing space and characters outside the
// Basic Multilingual Plane, every vendor NUL; the library's own prefix is
// reserved.
func allowedName(d dialect.Name, name string) bool {
	if name == "" || strings.ContainsRune(name, 0) || strings.HasPrefix(strings.ToLower(name), "ms_") {
		return false
	}
	if n, bytes := nameLimit(d); n > 0 && (bytes && len(name) > n || !bytes && utf8.RuneCountInString(name) > n) {
		return false
	}
	if d == dialect.MySQL {
		if strings.HasSuffix(name, " ") {
			return false
		}
		for _, r := range name {
			if r > 0xFFFF {
				return false
			}
		}
	}
	return true
}

// atLimit returns a name of exactly the vendor's limit made of unit
// repeated (a unit's bytes or characters), starting with start.
func atLimit(d dialect.Name, start, unit string) string {
	n, bytes := nameLimit(d)
	if n == 0 {
		n = 100
	}
	size := func(s string) int {
		if bytes {
			return len(s)
		}
		return utf8.RuneCountInString(s)
	}
	s := start
	for size(s+unit) <= n {
		s += unit
	}
	for size(s) < n {
		s += "z"
	}
	return s
}

// hostileNames returns table names the vendor of d allows that stress the
// library's own names: quotes, placeholders, dollar quoting, backslashes,
// spaces, unicode, and names at the vendor's length limit; then count
// random ones from seed.
func hostileNames(d dialect.Name, count int, seed uint64) []string {
	fixed := []string{
		`q?mark`, `x$ms$y`, `trail\`, `back\slash`, `it's`, `dq"uote`, "back`tick", `sp ace`,
		`$1`, `a;b--c`, `pct%_under`, `ünïcødé`, `日本語`, `e👍moji`, ` lead`, `trail `, `Mixed.Case`,
		`a`, `a_epoch`, `a_pending`, `a_bi`,
		atLimit(d, "long", "x"), atLimit(d, "long2", "日"), atLimit(d, "q?", "\\"),
	}
	alphabet := []rune("abcXYZ09 _-?$\\\"'`.;%éü日👍")
	r := rand.New(rand.NewPCG(seed, 0x6e616d6573))
	for i := 0; i < count; i++ {
		n := 1 + r.IntN(12)
		if r.IntN(8) == 0 {
			n = 40 + r.IntN(30)
		}
		var b strings.Builder
		for j := 0; j < n; j++ {
			b.WriteRune(alphabet[r.IntN(len(alphabet))])
		}
		fixed = append(fixed, b.String())
	}
	seen := map[string]bool{}
	var out []string
	for _, n := range fixed {
		// MySQL compares column and trigger names without case; keep
		// table names apart the same way on every vendor.
		if !allowedName(d, n) || seen[strings.ToLower(n)] {
			continue
		}
		seen[strings.ToLower(n)] = true
		out = append(out, n)
	}
	return out
}

// TestNames_AnyIdentifier activates a database whose tables (and columns)
// carry every kind of name the vendor allows, writes at both sites,
// replicates both ways and checks every replica holds the same rows and
// reports its schema clean. MULTISITE_LONG=1 runs more random names.
func TestNames_AnyIdentifier(t *testing.T) {
	count, rounds := 12, 1
	if os.Getenv("MULTISITE_LONG") != "" {
		count, rounds = 40, 4
	}
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		for round := 0; round < rounds; round++ {
			t.Run(fmt.Sprint("round", round), func(t *testing.T) {
				a := newDSite(t, open("names_a"), "a")
				names := hostileNames(a.d.Name(), count, uint64(round+1))
				keyCol, valCol := `k?"ey\`, "v$al 'x"
				q := a.d.Quote
				kept := names[:0]
				for _, n := range names {
					// What the vendor refuses (MySQL: a file name too long
					// once encoded) is no name it allows.
					if err := a.exec(t, fmt.Sprintf("CREATE TABLE %s (%s VARCHAR(200) NOT NULL PRIMARY KEY, %s TEXT)", q(n), q(keyCol), q(valCol))); err != nil {
						t.Logf("%q: the vendor refuses it: %v", n, err)
						continue
					}
					kept = append(kept, n)
					a.mustExec(t, fmt.Sprintf("INSERT INTO %s (%s, %s) VALUES (?, ?), (?, ?)", q(n), q(keyCol), q(valCol)),
						"k?1", n, `k'$2\`, "gone")
				}
				names = kept
				info, err := multisite.Activate(ctx, a.db, multisite.ActivateOptions{Name: "a"})
				require.NoError(t, err, "activate")
				a.id = info.ID
				b := replicateTo(t, a, open("names_b"), "b")
				for _, n := range names {
					a.mustExec(t, fmt.Sprintf("UPDATE %s SET %s = ? WHERE %s = ?", q(n), q(valCol), q(keyCol)), n+"?$", "k?1")
					a.mustExec(t, fmt.Sprintf("DELETE FROM %s WHERE %s = ?", q(n), q(keyCol)), `k'$2\`)
					b.mustExec(t, fmt.Sprintf("INSERT INTO %s (%s, %s) VALUES (?, ?)", b.d.Quote(n), b.d.Quote(keyCol), b.d.Quote(valCol)), "from b "+n, "?")
				}
				dsync(t, a, b)
				dsync(t, b, a)
				dsync(t, a, b)
				dconverged(t, a, b)
				for _, s := range []*dsite{a, b} {
					r, err := multisite.SchemaStatus(ctx, s.db)
					require.NoError(t, err)
					if !r.Clean() {
						var problems []string
						for _, ts := range r.Tables {
							for _, p := range ts.Problems() {
								problems = append(problems, fmt.Sprintf("%q: %s", ts.Table, p))
							}
						}
						t.Errorf("%s: schema not clean:\n%s", s.name, strings.Join(problems, "\n"))
					}
				}
				st, err := multisite.ReadStatus(ctx, b.db)
				require.NoError(t, err)
				if diff := cmp.Diff(len(names), len(st.Tables)); diff != "" {
					t.Errorf("replicated tables at b (-want +got):\n%s", diff)
				}
				for _, n := range names {
					got := b.query(t, fmt.Sprintf("SELECT %s FROM %s WHERE %s = ?", b.d.Quote(valCol), b.d.Quote(n), b.d.Quote(keyCol)), "k?1")
					if got != n+"?$" {
						t.Errorf("%q at b: value %q, want %q", n, got, n+"?$")
					}
				}
			})
		}
	})
}

// TestNames_CreationRefusesNamesTheVendorCannotHold replicates SQLite
// tables whose names another vendor cannot hold: CreateReplica there
// refuses with a *multisite.NameError and leaves the database as it was,
// rather than cutting the name (PostgreSQL) or failing half-way.
func TestNames_CreationRefusesNamesTheVendorCannotHold(t *testing.T) {
	long := strings.Repeat("n", 70)
	cases := []struct {
		name   string
		refuse map[dialect.Name]bool
	}{
		{long, map[dialect.Name]bool{dialect.Postgres: true, dialect.MySQL: true}},
		{"trail ", map[dialect.Name]bool{dialect.MySQL: true}},
		{"e👍moji", map[dialect.Name]bool{dialect.MySQL: true}},
	}
	for i, tc := range cases {
		testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
			db := open(fmt.Sprint("target", i))
			d := dialectOf(t, db).Name()
			if d == dialect.SQLite {
				return // SQLite holds any name
			}
			// The SQLite origin is the subtest's own: the server subtests
			// run in parallel and share nothing.
			a := newDSite(t, testdb.SQLite(t, fmt.Sprint("origin", i)), "a")
			a.mustExec(t, fmt.Sprintf(`CREATE TABLE %s (id INTEGER PRIMARY KEY, v TEXT)`, a.d.Quote(tc.name)))
			a.mustExec(t, fmt.Sprintf(`INSERT INTO %s VALUES (1, 'x')`, a.d.Quote(tc.name)))
			info, err := multisite.Activate(ctx, a.db, multisite.ActivateOptions{Name: "a"})
			require.NoError(t, err)
			a.id = info.ID
			before := catalogOf(t, db)
			var buf bytes.Buffer
			_, _, err = multisite.Replicate(ctx, a.db, "b_"+string(d), &buf, multisite.ReplicateOptions{})
			require.NoError(t, err)
			_, err = multisite.CreateReplica(ctx, db, &buf, multisite.CreateOptions{})
			var ne *multisite.NameError
			refused := errors.As(err, &ne) && errors.Is(err, multisite.ErrName) && ne.Name == tc.name
			if refused != tc.refuse[d] || !refused && err != nil {
				t.Fatalf("CreateReplica of table %q on %s: %v, want refused: %v", tc.name, d, err, tc.refuse[d])
			}
			if refused {
				if diff := cmp.Diff(before, catalogOf(t, db)); diff != "" {
					t.Errorf("a refused creation changed the database (-before +after):\n%s", diff)
				}
			}
		})
	}
}

// TestNames_AcrossVendors replicates tables named with every kind of name
// all three vendors allow from SQLite to PostgreSQL and MariaDB and back,
// and checks every replica holds the same rows and a clean schema.
func TestNames_AcrossVendors(t *testing.T) {
	for _, env := range []string{testdb.PostgresEnv, testdb.MySQLEnv} {
		if os.Getenv(env) == "" {
			t.Skipf("a mixed family needs PostgreSQL and MariaDB: %s is not set", env)
		}
	}
	var names []string
	for _, n := range hostileNames(dialect.SQLite, 12, 7) {
		if allowedName(dialect.Postgres, n) && allowedName(dialect.MySQL, n) && dialect.CheckName(dialect.MySQLDialect{}, n) == nil {
			names = append(names, n)
		}
	}
	a := newDSite(t, testdb.SQLite(t, "across_a"), "a")
	keyCol, valCol := `k?"ey\`, "v$al 'x"
	q := a.d.Quote
	for _, n := range names {
		a.mustExec(t, fmt.Sprintf("CREATE TABLE %s (%s VARCHAR(200) NOT NULL PRIMARY KEY, %s TEXT)", q(n), q(keyCol), q(valCol)))
		a.mustExec(t, fmt.Sprintf("INSERT INTO %s (%s, %s) VALUES (?, ?)", q(n), q(keyCol), q(valCol)), "k?1", n)
	}
	info, err := multisite.Activate(ctx, a.db, multisite.ActivateOptions{Name: "a"})
	require.NoError(t, err)
	a.id = info.ID
	pg := replicateTo(t, a, testdb.Postgres(t, "across_pg"), "pg")
	my := replicateTo(t, pg, testdb.MySQL(t, "across_my"), "my")
	for _, s := range []*dsite{pg, my} {
		for _, n := range names {
			s.mustExec(t, fmt.Sprintf("INSERT INTO %s (%s, %s) VALUES (?, ?)", s.d.Quote(n), s.d.Quote(keyCol), s.d.Quote(valCol)), "from "+s.name, n+"?")
		}
	}
	for round := 0; round < 2; round++ {
		for _, p := range [][2]*dsite{{my, pg}, {pg, a}, {a, pg}, {a, my}, {pg, my}, {my, a}} {
			dsync(t, p[0], p[1])
		}
	}
	dconverged(t, a, pg, my)
	for _, s := range []*dsite{a, pg, my} {
		r, err := multisite.SchemaStatus(ctx, s.db)
		require.NoError(t, err)
		if !r.Clean() {
			t.Errorf("%s: schema not clean: %+v", s.name, r.Tables)
		}
		st, err := multisite.ReadStatus(ctx, s.db)
		require.NoError(t, err)
		if len(st.Tables) != len(names) {
			t.Errorf("%s replicates %d tables, want %d", s.name, len(st.Tables), len(names))
		}
	}
}
