package multisite_test

// A seeded randomized simulation of a replica family: random local writes
// (including writes to rows mastered elsewhere), mastership transfers, and
// packets carried over a transport that loses, duplicates, reorders,
// truncates, corrupts and misdelivers them, followed by a clean all-to-all
// synchronization and checks of the invariants in DESIGN.md.
//
// It runs on every dialect: SQLite always, PostgreSQL and MariaDB when
// MULTISITE_TEST_POSTGRES and MULTISITE_TEST_MYSQL are set (each replica in
// a database of its own), and a mixed family whose replicas take turns on
// SQLite, PostgreSQL and MariaDB when both are. The servers run a tenth as
// many schedules as SQLite, in parallel with each other, with families of
// at most 5 replicas. With -v the test ends with one line per run: the
// schedules, the faults injected by kind, and the divergences (failed
// schedules), which must be 0.
//
//	go test -run TestSimulation .                                  # default: 200 schedules on SQLite, 20 on each server
//	go test -run 'TestSimulation/postgres$' -sim.seed=1234 -v .    # replay one schedule
//	MULTISITE_SIM_SCHEDULES=20000 go test -run TestSimulation -timeout 0 .   # soak (2000 on each server)
//
// A replay repeats the schedule's choices; replica IDs are random, so where
// a choice depends on their order (the winner of a creation conflict) it
// may go the other way.
//
// Each family size is built once through the API and copied for every
// schedule (VACUUM INTO on SQLite, testdb.Clone on the servers, where a
// copy a schedule released is emptied and refilled instead: simReset).
//
// A damaged packet must be refused with a typed error and change nothing,
// with one exception: a flipped bit the zstd decoder never reads (a spare
// bit of its frame header) leaves the packet's records, digest and
// signature as they were, so it applies as the intact packet would; the
// harness checks that it decodes exactly as the intact one and counts it.

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
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
	_ "modernc.org/sqlite"
)

var (
	simSeed      = flag.Uint64("sim.seed", 0, "run only the simulation schedule with this seed")
	simSchedules = flag.Int("sim.schedules", 0, "number of simulation schedules on SQLite, a tenth of it on the servers (0: $MULTISITE_SIM_SCHEDULES, else 200)")
	simBase      = flag.Uint64("sim.base", 1, "seed of the first simulation schedule; the others follow")
)

// simTables is the tracker-like schema of the simulation: an integer key
// written through NextID, a text key and a composite key. The DDL names
// types as {INT}, {KEYTEXT}, {REAL} and {BLOB}, which simDDL maps to each
// dialect's words.
var simTables = []simTable{
	{name: "defect", keys: []string{"id"}, cols: []string{"headline", "score", "att"},
		ddl: `CREATE TABLE defect (id {INT} PRIMARY KEY, headline TEXT NOT NULL, score {REAL}, att {BLOB})`},
	{name: "project", keys: []string{"code"}, cols: []string{"title", "note"},
		ddl: `CREATE TABLE project (code {KEYTEXT} PRIMARY KEY, title TEXT NOT NULL, note TEXT)`},
	{name: "tag", keys: []string{"defect_id", "tag"}, cols: []string{"note"},
		ddl: `CREATE TABLE tag (defect_id {INT} NOT NULL, tag {KEYTEXT} NOT NULL, note TEXT, PRIMARY KEY (defect_id, tag))`},
}

type simTable struct {
	name, ddl  string
	keys, cols []string
}

func (t simTable) where() string {
	var s []string
	for _, k := range t.keys {
		s = append(s, k+" = ?")
	}
	return strings.Join(s, " AND ")
}

// simDDL is tb's DDL in dialect d's words.
func simDDL(d dialect.Name, tb simTable) string {
	words := map[dialect.Name][]string{
		dialect.SQLite:   {"{INT}", "INTEGER", "{KEYTEXT}", "TEXT", "{REAL}", "REAL", "{BLOB}", "BLOB"},
		dialect.Postgres: {"{INT}", "BIGINT", "{KEYTEXT}", "TEXT", "{REAL}", "DOUBLE PRECISION", "{BLOB}", "BYTEA"},
		dialect.MySQL:    {"{INT}", "BIGINT", "{KEYTEXT}", "VARCHAR(64)", "{REAL}", "DOUBLE", "{BLOB}", "LONGBLOB"},
	}[d]
	return strings.NewReplacer(words...).Replace(tb.ddl)
}

// simBackend makes the databases of a simulation: the replicas of one
// dialect, or of several in turn (the mixed family).
type simBackend struct {
	t        testing.TB
	label    string   // subtest name: sqlite, postgres, mysql or mixed
	dialects []string // replica i lives on dialects[i % len(dialects)]
	shm      string   // directory of SQLite files
	dbs      map[string]*sql.DB
	drops    map[string]func()
	maxSize  int                 // largest family
	tmplOf   map[string]string   // copy -> the template it was made from
	spares   map[string][]string // template -> copies no schedule uses now
}

// newSimBackend returns the backend called label, skipping t (with the
// reason) when a server it needs is not configured.
func newSimBackend(t *testing.T, label string) *simBackend {
	ds := []string{label}
	if label == "mixed" {
		ds = []string{"sqlite", "postgres", "mysql"}
	}
	for _, d := range ds {
		if ok, reason := testdb.Available(d); !ok {
			t.Skip(reason)
		}
	}
	be := &simBackend{t: t, label: label, dialects: ds, dbs: map[string]*sql.DB{}, drops: map[string]func(){},
		tmplOf: map[string]string{}, spares: map[string][]string{}, maxSize: 7}
	if label != "sqlite" {
		be.maxSize = 5
	}
	be.shm = t.TempDir()
	// Memory-backed SQLite files when the machine has them: same SQLite,
	// no disk. Durability is off: the simulation never crashes a process
	// (crash_test.go does).
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		// What a killed run left behind a day ago goes first.
		old, _ := filepath.Glob("/dev/shm/multisite-sim-*")
		for _, d := range old {
			if fi, err := os.Stat(d); err == nil && time.Since(fi.ModTime()) > 24*time.Hour {
				os.RemoveAll(d)
			}
		}
		if d, err := os.MkdirTemp("/dev/shm", "multisite-sim-"); err == nil {
			be.shm = d
			t.Cleanup(func() { os.RemoveAll(d) })
		}
	}
	t.Cleanup(func() {
		for name := range be.dbs {
			be.drop(name)
		}
	})
	return be
}

func (be *simBackend) sqlitePath(name string) string { return filepath.Join(be.shm, name+".db") }

func (be *simBackend) openSQLite(name string) *sql.DB {
	db, err := sql.Open("sqlite", testdb.SQLiteDSN(be.sqlitePath(name))+"&_pragma=synchronous(OFF)")
	if err != nil {
		be.t.Fatalf("open %s: %v", name, err)
	}
	be.dbs[name] = db
	be.drops[name] = func() {
		db.Close()
		for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
			os.Remove(be.sqlitePath(name) + suffix)
		}
	}
	return db
}

// open returns a new, empty database called name for replica number i
// (which picks its dialect in a mixed family).
func (be *simBackend) open(name string, i int) *sql.DB {
	d := be.dialects[i%len(be.dialects)]
	if d == "sqlite" {
		return be.openSQLite(name)
	}
	db, drop := testdb.Temp(be.t, d, name)
	be.dbs[name], be.drops[name] = db, drop
	return db
}

// clone returns a new database called name holding a copy of the
// database called src, which must be quiet.
func (be *simBackend) clone(src, name string) *sql.DB {
	sdb := be.dbs[src]
	if d, err := dialect.Detect(sdb); err == nil && d.Name() == dialect.SQLite {
		if _, err := sdb.Exec(`VACUUM INTO ?`, be.sqlitePath(name)); err != nil {
			be.t.Fatalf("clone %s: %v", name, err)
		}
		return be.openSQLite(name)
	}
	db, drop := testdb.Clone(be.t, sdb, name)
	be.dbs[name], be.drops[name] = db, drop
	return db
}

// copyOf returns a database holding a copy of the template database
// called src, and the copy's name. On the servers, where creating and
// dropping a database and its tables takes long, it reuses a copy that an
// earlier schedule released, emptied and filled again from src (simReset);
// otherwise it clones src into a database called name.
func (be *simBackend) copyOf(src, name string) (string, *sql.DB) {
	for len(be.spares[src]) > 0 {
		spare := be.spares[src][0]
		be.spares[src] = be.spares[src][1:]
		if err := simReset(context.Background(), be.dbs[spare], be.dbs[src]); err != nil {
			be.t.Logf("reset %s from %s: %v; cloning instead", spare, src, err)
			be.drop(spare)
			continue
		}
		return spare, be.dbs[spare]
	}
	db := be.clone(src, name)
	be.tmplOf[name] = src
	return name, db
}

// release gives back a database copyOf returned: a spare of its template
// on the servers, dropped on SQLite (where a clone is cheap).
func (be *simBackend) release(name string) {
	src, ok := be.tmplOf[name]
	if d, err := dialect.Detect(be.dbs[name]); ok && err == nil && d.Name() != dialect.SQLite {
		be.spares[src] = append(be.spares[src], name)
		return
	}
	be.drop(name)
}

// simReset makes dst, a copy of src made by testdb.Clone, hold what src
// holds again: every table emptied and filled from src, with the
// library's triggers standing aside (PostgreSQL: session_replication_role
// for the constraints and multisite.applying, the setting an import makes,
// for the library's ALWAYS triggers; MariaDB: @ms_applying, the session
// variable an import sets, cleared before the commit).
func simReset(ctx context.Context, dst, src *sql.DB) error {
	d, err := dialect.Detect(dst)
	if err != nil {
		return err
	}
	tx, err := dst.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	names := func(q dialect.Querier, query string) ([]string, error) {
		rows, err := q.QueryContext(ctx, query)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				return nil, err
			}
			out = append(out, n)
		}
		return out, rows.Err()
	}
	switch d.Name() {
	case dialect.MySQL:
		var srcName string
		if err := src.QueryRowContext(ctx, `SELECT DATABASE()`).Scan(&srcName); err != nil {
			return err
		}
		tables, err := names(tx, `SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' AND TABLE_NAME <> 'ms_ctl'`)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `SET @ms_applying = 1`); err != nil {
			return err
		}
		defer tx.ExecContext(context.WithoutCancel(ctx), `SET @ms_applying = NULL`) // before the deferred rollback
		for _, tb := range append(tables, "ms_ctl") {
			for _, q := range []string{
				"DELETE FROM " + d.Quote(tb),
				fmt.Sprintf("INSERT INTO %s SELECT * FROM %s.%s", d.Quote(tb), d.Quote(srcName), d.Quote(tb)),
			} {
				if _, err := tx.ExecContext(ctx, q); err != nil {
					return fmt.Errorf("%s: %w", q, err)
				}
			}
		}
		if _, err := tx.ExecContext(ctx, `SET @ms_applying = NULL`); err != nil {
			return err
		}
	case dialect.Postgres:
		if _, err := tx.ExecContext(ctx, `SET LOCAL session_replication_role = replica`); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `SET LOCAL multisite.applying = 'on'`); err != nil {
			return err
		}
		tables, err := names(tx, `SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace AND relkind IN ('r', 'p')`)
		if err != nil {
			return err
		}
		for _, tb := range tables {
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+d.Quote(tb)); err != nil {
				return err
			}
			rows, err := src.QueryContext(ctx, "SELECT * FROM "+d.Quote(tb))
			if err != nil {
				return err
			}
			cols, err := rows.Columns()
			if err != nil {
				rows.Close()
				return err
			}
			var all [][]any
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					rows.Close()
					return err
				}
				all = append(all, vals)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			q := d.Rebind(fmt.Sprintf("INSERT INTO %s VALUES (%s)", d.Quote(tb), strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ")))
			for _, vals := range all {
				if _, err := tx.ExecContext(ctx, q, vals...); err != nil {
					return fmt.Errorf("%s: %w", q, err)
				}
			}
		}
	default:
		return fmt.Errorf("no reset on %s", d.Name())
	}
	return tx.Commit()
}

// drop closes and removes the database called name.
func (be *simBackend) drop(name string) {
	if f := be.drops[name]; f != nil {
		f()
	}
	delete(be.dbs, name)
	delete(be.drops, name)
}

// TestSimulation runs the simulation on every dialect, and on a family
// mixing them, then prints the totals of each (go test -v). The runs on
// the servers, which mostly wait for them, go in parallel with each other.
func TestSimulation(t *testing.T) {
	labels := []string{"sqlite", "postgres", "mysql", "mixed"}
	var mu sync.Mutex
	total := map[string]*simStats{}
	t.Cleanup(func() { // after the parallel subtests
		for _, label := range labels {
			if st := total[label]; st != nil {
				t.Logf("%-8s %s", label, st.summary())
			} else {
				t.Logf("%-8s not run", label)
			}
		}
	})
	for _, label := range labels {
		t.Run(label, func(t *testing.T) {
			if label != "sqlite" {
				t.Parallel()
			}
			be := newSimBackend(t, label)
			st := runSimulation(t, be, simSeeds(t, label))
			mu.Lock()
			total[label] = st
			mu.Unlock()
		})
	}
}

// simSeeds returns the seeds of the schedules to run on label: 40 on
// SQLite and 4 on the others by default (200 and 20 with MULTISITE_LONG
// set, as .ci/run does), scaled by -sim.schedules or
// $MULTISITE_SIM_SCHEDULES (the number for SQLite; the others run a tenth),
// or the one seed of -sim.seed.
func simSeeds(t *testing.T, label string) []uint64 {
	if *simSeed != 0 {
		return []uint64{*simSeed}
	}
	n := *simSchedules
	if n == 0 {
		n = 40
		if os.Getenv("MULTISITE_LONG") != "" {
			n = 200
		}
		if s := os.Getenv("MULTISITE_SIM_SCHEDULES"); s != "" {
			v, err := strconv.Atoi(s)
			if err != nil {
				t.Fatalf("MULTISITE_SIM_SCHEDULES=%q: %v", s, err)
			}
			n = v
		}
	}
	if testing.Short() {
		n = min(n, 40)
	}
	if label != "sqlite" {
		n = max(1, n/10)
	}
	seeds := make([]uint64, 0, n)
	for i := range n {
		seeds = append(seeds, *simBase+uint64(i))
	}
	return seeds
}

// simStats counts what the schedules did.
type simStats struct {
	schedules, steps, replicas int
	writes, refused, noops     int // local writes accepted, refused with ErrNotMaster, that found no row
	transfers, conflicts       int
	exports, imports, dupes    int // intact imports; dupes: brought nothing new
	finalRounds                int
	gaps                       int            // intact packets refused for a gap
	faults                     map[string]int // by kind
	refusals                   map[string]int // damaged packets refused, by sentinel
	divergences                int            // failed schedules: a replica differed from the model or another, or an invariant broke
	elapsed                    time.Duration
}

// summary is the one-line account the lead reads.
func (st *simStats) summary() string {
	kinds := make([]string, 0, len(st.faults))
	n := 0
	for k, v := range st.faults {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, v))
		n += v
	}
	sort.Strings(kinds)
	refused, harmless := 0, st.refusals[simHarmless]
	for _, v := range st.refusals {
		refused += v
	}
	return fmt.Sprintf("%d schedules in %v, %d faults injected (%s); damaged packets: %d refused with a typed error, %d changed no decoded byte and applied; %d divergences",
		st.schedules, st.elapsed.Round(time.Millisecond), n, strings.Join(kinds, ", "), refused-harmless, harmless, st.divergences)
}

func runSimulation(t *testing.T, be *simBackend, seeds []uint64) *simStats {
	st := &simStats{faults: map[string]int{}, refusals: map[string]int{}}
	tmpl := &simTemplates{be: be, fams: map[int][]*simSite{}}
	start := time.Now()
	failed := 0
	for _, seed := range seeds {
		s := newSim(t, be, tmpl, seed, st)
		if err := s.run(); err != nil {
			failed++
			st.divergences++
			t.Errorf("simulation schedule failed: %v\nreplay with: go test -run 'TestSimulation/%s$' -sim.seed=%d -v .", err, be.label, seed)
			for _, l := range s.log {
				t.Logf("  %s", l)
			}
			if failed >= 3 {
				t.Errorf("stopping after %d failing schedules", failed)
				s.close()
				break
			}
		}
		s.close()
	}
	st.elapsed = time.Since(start)
	t.Logf("%d schedules (%d replicas, %d steps) in %v: writes %d accepted, %d refused (not master), %d no-ops; %d transfers, %d creation conflicts; "+
		"%d exports, %d intact imports (%d duplicates), %d intact packets refused for a gap, %d final rounds; faults %v; damaged packets refused by %v; %d divergences",
		st.schedules, st.replicas, st.steps, st.elapsed.Round(time.Millisecond), st.writes, st.refused, st.noops, st.transfers, st.conflicts,
		st.exports, st.imports, st.dupes, st.gaps, st.finalRounds, st.faults, st.refusals, st.divergences)
	return st
}

type simSite struct {
	key    string // the backend's name of the database
	name   string
	db     *sql.DB
	id     replica.ID
	d      dialect.Dialect
	tables map[string]dialect.Table // described on first use
}

func newSimSite(name string, db *sql.DB, id replica.ID) (*simSite, error) {
	d, err := dialect.Detect(db)
	if err != nil {
		return nil, err
	}
	return &simSite{name: name, db: db, id: id, d: d, tables: map[string]dialect.Table{}}, nil
}

// exec runs q, written with '?' placeholders, on the site.
func (s *simSite) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return s.db.ExecContext(ctx, s.d.Rebind(q), args...)
}

// simTemplates builds, once per family size, a family through the API and
// clones it for every schedule.
type simTemplates struct {
	be   *simBackend
	fams map[int][]*simSite
}

func (tp *simTemplates) family(size int, prefix string) ([]*simSite, error) {
	fam, ok := tp.fams[size]
	if !ok {
		var err error
		fam, err = buildSimFamily(tp.be, size, fmt.Sprintf("tmpl%d", size))
		if err != nil {
			return nil, err
		}
		tp.fams[size] = fam
	}
	out := make([]*simSite, len(fam))
	for i, s := range fam {
		key, db := tp.be.copyOf(s.name, prefix+"-"+s.name)
		var err error
		if out[i], err = newSimSite(prefix+"-"+s.name, db, s.id); err != nil {
			return nil, err
		}
		out[i].key = key
	}
	return out, nil
}

// buildSimFamily activates a first replica over the simulation schema with
// a few rows, creates the others from creation packets, makes them active
// and lets every replica learn of every other.
func buildSimFamily(be *simBackend, size int, prefix string) ([]*simSite, error) {
	ctx := context.Background()
	// In a mixed family the dialect of the first replica, whose DDL the
	// others receive in translation, turns with the family size.
	first, err := newSimSite(prefix+"-r0", be.open(prefix+"-r0", size), "")
	if err != nil {
		return nil, err
	}
	for _, tb := range simTables {
		if _, err := first.exec(ctx, simDDL(first.d.Name(), tb)); err != nil {
			return nil, err
		}
	}
	for _, r := range []struct {
		q    string
		args []any
	}{
		{`INSERT INTO defect (id, headline, score, att) VALUES (?, ?, ?, ?), (?, ?, ?, ?), (?, ?, ?, ?)`,
			[]any{1, "crash on save", 1.5, nil, 2, "slow start", nil, []byte{0, 0xff}, 3, "typo", 0.0, nil}},
		{`INSERT INTO project (code, title, note) VALUES ('CORE', 'Core engine', NULL), ('UI', 'User interface', ?)`, []any{"ü"}},
		{`INSERT INTO tag (defect_id, tag, note) VALUES (1, 'crash', NULL), (1, 'ui', 'login'), (2, 'perf', NULL)`, nil},
	} {
		if _, err := first.exec(ctx, r.q, r.args...); err != nil {
			return nil, fmt.Errorf("%s: %w", r.q, err)
		}
	}
	info, err := multisite.Activate(ctx, first.db, multisite.ActivateOptions{Name: "r0"})
	if err != nil {
		return nil, err
	}
	first.id = info.ID
	sites := []*simSite{first}
	for i := 1; i < size; i++ {
		var buf bytes.Buffer
		info, _, err := multisite.Replicate(ctx, first.db, fmt.Sprintf("r%d", i), &buf, multisite.ReplicateOptions{})
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("%s-r%d", prefix, i)
		s, err := newSimSite(name, be.open(name, size+i), info.ID)
		if err != nil {
			return nil, err
		}
		if _, err := multisite.CreateReplica(ctx, s.db, &buf, multisite.CreateOptions{}); err != nil {
			return nil, fmt.Errorf("create %s: %w", name, err)
		}
		if err := multisite.SetState(ctx, s.db, replica.Active); err != nil {
			return nil, err
		}
		sites = append(sites, s)
	}
	pair := func(from, to *simSite) error {
		var buf bytes.Buffer
		if _, err := multisite.ExportPacket(ctx, from.db, to.id, &buf, multisite.ExportOptions{}); err != nil {
			return err
		}
		_, err := multisite.ImportPacket(ctx, to.db, &buf, multisite.ImportOptions{})
		return err
	}
	for _, s := range sites[1:] {
		if err := pair(s, first); err != nil {
			return nil, err
		}
	}
	for _, s := range sites[1:] {
		if err := pair(first, s); err != nil {
			return nil, err
		}
	}
	return sites, nil
}

// simRow is the model of one row: its last committed image at its master.
type simRow struct {
	table   *simTable
	key     []any
	img     []any // non-key values; nil once deleted
	deleted bool
	master  int  // index of the master replica
	pending bool // transferred to master, which has not imported the transfer yet
	loser   int  // replica whose rival creation lost to this row (-1: none); it never touches the row
}

func (r *simRow) id() string { return r.table.name + "[" + simFormat(r.key) + "]" }

// simPacket is a packet in flight.
type simPacket struct {
	from, to int
	b        []byte
	orig     []byte // the packet as exported, if b is a damaged copy
	damage   string // "" for an intact packet
	seq      int
}

type sim struct {
	t     testing.TB
	be    *simBackend
	tmpl  *simTemplates
	seed  uint64
	rng   *rand.Rand
	st    *simStats
	ctx   context.Context
	sites []*simSite
	rows  map[string]*simRow
	order []string // row ids in creation order, so choices are reproducible
	net   []*simPacket
	seq   int
	next  int // fresh text keys
	log   []string
	// conflictsAt lists, per loser replica, the creation conflicts it must
	// keep in ms_conflict.
	conflictsAt map[int][]string
}

func newSim(t testing.TB, be *simBackend, tmpl *simTemplates, seed uint64, st *simStats) *sim {
	return &sim{t: t, be: be, tmpl: tmpl, seed: seed, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), st: st,
		ctx: context.Background(), rows: map[string]*simRow{}, conflictsAt: map[int][]string{}}
}

// simFail aborts a schedule.
type simFail struct{ err error }

func (s *sim) failf(format string, args ...any) {
	panic(simFail{fmt.Errorf("seed %d: "+format, append([]any{s.seed}, args...)...)})
}

func (s *sim) logf(format string, args ...any) {
	s.log = append(s.log, fmt.Sprintf(format, args...))
	if len(s.log) > 400 {
		s.log = s.log[len(s.log)-400:]
	}
}

func (s *sim) close() {
	for _, site := range s.sites {
		s.be.release(site.key)
	}
}

func (s *sim) run() (err error) {
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(simFail)
			if !ok {
				panic(r)
			}
			err = f.err
		}
	}()
	// Mostly small families, sometimes up to 7 replicas (5 on the
	// servers, where each family size costs a template family of
	// databases).
	size := 3
	switch s.rng.IntN(8) {
	case 0, 1:
		size = 4
	case 2:
		size = min(3+s.rng.IntN(5), s.be.maxSize)
	}
	s.sites, err = s.tmpl.family(size, fmt.Sprintf("s%d", s.seed))
	if err != nil {
		s.failf("build family of %d: %v", size, err)
	}
	s.st.schedules++
	s.st.replicas += size
	s.logf("seed %d: %d replicas", s.seed, size)
	s.loadModel()
	steps := 10 + s.rng.IntN(25)
	for range steps {
		s.st.steps++
		switch w := s.rng.IntN(100); {
		case w < 18:
			s.insert()
		case w < 36:
			s.update(false)
		case w < 42:
			s.update(true) // delete
		case w < 50:
			s.transfer()
		case w < 56:
			s.foreignInsert()
		case w < 58:
			s.conflict()
		case w < 78:
			s.export()
		default:
			s.deliver()
		}
	}
	// Whatever is still in flight arrives, in some order.
	for len(s.net) > 0 {
		s.deliver()
	}
	s.finalSync()
	s.check()
	return nil
}

// loadModel reads the family's initial rows from the first replica.
func (s *sim) loadModel() {
	idx := map[string]int{}
	for i, site := range s.sites {
		idx[string(site.id)] = i
	}
	for ti := range simTables {
		tb := &simTables[ti]
		rows, err := s.sites[0].db.QueryContext(s.ctx, fmt.Sprintf("SELECT %s, %s, ms_master FROM %s ORDER BY %s",
			strings.Join(tb.keys, ", "), strings.Join(tb.cols, ", "), tb.name, strings.Join(tb.keys, ", ")))
		if err != nil {
			s.failf("load model: %v", err)
		}
		for rows.Next() {
			vals := make([]any, len(tb.keys)+len(tb.cols)+1)
			ptrs := make([]any, len(vals))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				s.failf("load model: %v", err)
			}
			s.portable(0, tb, append(slices.Clone(tb.keys), tb.cols...), vals[:len(vals)-1])
			m, ok := idx[simText(vals[len(vals)-1])]
			if !ok {
				s.failf("load model: unknown master %v", vals[len(vals)-1])
			}
			r := &simRow{table: tb, key: vals[:len(tb.keys)], img: vals[len(tb.keys) : len(vals)-1], master: m, loser: -1}
			s.add(r)
		}
		rows.Close()
	}
}

func (s *sim) add(r *simRow) {
	if _, ok := s.rows[r.id()]; !ok {
		s.order = append(s.order, r.id())
	}
	s.rows[r.id()] = r
}

// pickRow returns a random row of the model (deleted ones included).
func (s *sim) pickRow() *simRow {
	if len(s.order) == 0 {
		return nil
	}
	return s.rows[s.order[s.rng.IntN(len(s.order))]]
}

// pickWriter returns, half of the time, the row's master, else any replica.
func (s *sim) pickWriter(r *simRow) int {
	if s.rng.IntN(2) == 0 {
		return r.master
	}
	return s.rng.IntN(len(s.sites))
}

func (s *sim) randText() string {
	words := []string{"crash", "slow", "typo", "naïve", "日本", "ok", "'quote'", "a;b", "emoji 🐛", ""}
	return words[s.rng.IntN(len(words))] + " " + strconv.Itoa(s.rng.IntN(1000))
}

func (s *sim) randImage(tb *simTable) []any {
	img := make([]any, len(tb.cols))
	for i, c := range tb.cols {
		switch c {
		case "score":
			if s.rng.IntN(3) > 0 {
				img[i] = float64(s.rng.IntN(1000)) / 8
			}
		case "att":
			if s.rng.IntN(3) == 0 {
				b := make([]byte, 1+s.rng.IntN(8))
				for j := range b {
					b[j] = byte(s.rng.IntN(256))
				}
				img[i] = b
			}
		case "note":
			if s.rng.IntN(2) == 0 {
				img[i] = s.randText()
			}
		default:
			img[i] = s.randText()
		}
	}
	return img
}

// local reads the row at replica i: its non-key values and master, or
// ok=false if the replica does not hold it.
func (s *sim) local(i int, r *simRow) (img []any, master string, ok bool) {
	tb := r.table
	vals := make([]any, len(tb.cols)+1)
	ptrs := make([]any, len(vals))
	for j := range vals {
		ptrs[j] = &vals[j]
	}
	site := s.sites[i]
	err := site.db.QueryRowContext(s.ctx, site.d.Rebind(fmt.Sprintf("SELECT %s, ms_master FROM %s WHERE %s", strings.Join(tb.cols, ", "), tb.name, tb.where())), r.key...).Scan(ptrs...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", false
	}
	if err != nil {
		s.failf("read %s at %s: %v", r.id(), s.sites[i].name, err)
	}
	s.portable(i, tb, tb.cols, vals[:len(tb.cols)])
	return vals[:len(tb.cols)], simText(vals[len(tb.cols)]), true
}

// mayWrite is the model's answer: replica i may change r now.
func (s *sim) mayWrite(i int, r *simRow) bool {
	return !r.deleted && !r.pending && r.master == i
}

// checkMasterCopy checks the invariant that the master holds the last
// committed image.
func (s *sim) checkMasterCopy(r *simRow) {
	img, master, ok := s.local(r.master, r)
	if r.deleted {
		if ok {
			s.failf("%s was deleted at its master %s but is still there", r.id(), s.sites[r.master].name)
		}
		return
	}
	if !ok {
		s.failf("master %s lost %s", s.sites[r.master].name, r.id())
	}
	if diff := cmp.Diff(simFormat(r.img), simFormat(img)); diff != "" || master != string(s.sites[r.master].id) {
		s.failf("%s at its master %s (master column %s) differs from the last committed image:\n%s", r.id(), s.sites[r.master].name, master, diff)
	}
}

func (s *sim) hash(i int) string {
	h, err := multisite.ContentHash(s.ctx, s.sites[i].db)
	if err != nil {
		s.failf("content hash of %s: %v", s.sites[i].name, err)
	}
	return h
}

// refusedWrite checks a write the model refuses: it failed with
// ErrNotMaster through mastership.FromDriver (or found no row) and changed
// nothing.
func (s *sim) refusedWrite(i int, what string, before string, err error, affected int64) {
	if err == nil && affected == 0 {
		s.st.noops++
		s.logf("%s at %s: no row there", what, s.sites[i].name)
		return
	}
	if err == nil {
		s.failf("%s at %s was accepted, but %s does not master the row", what, s.sites[i].name, s.sites[i].name)
	}
	err = mastership.FromDriver(err)
	var nm *mastership.NotMasterError
	if !errors.Is(err, mastership.ErrNotMaster) || !errors.As(err, &nm) {
		s.failf("%s at %s: error %v, want *mastership.NotMasterError", what, s.sites[i].name, err)
	}
	if after := s.hash(i); after != before {
		s.failf("refused %s changed %s", what, s.sites[i].name)
	}
	s.st.refused++
	s.logf("%s at %s: refused (%v)", what, s.sites[i].name, err)
}

func (s *sim) insert() {
	i := s.rng.IntN(len(s.sites))
	tb := &simTables[s.rng.IntN(len(simTables))]
	var key []any
	switch tb.name {
	case "defect":
		id, err := multisite.NextID(s.ctx, s.sites[i].db, nil, "defect")
		if err != nil {
			s.failf("NextID at %s: %v", s.sites[i].name, err)
		}
		key = []any{id}
	case "project":
		s.next++
		key = []any{fmt.Sprintf("P%d-%d", i, s.next)}
	default:
		s.next++
		var defect int64 = 1
		if r := s.pickRow(); r != nil && r.table.name == "defect" {
			defect = r.key[0].(int64)
		}
		key = []any{defect, fmt.Sprintf("t%d-%d", i, s.next)}
	}
	r := &simRow{table: tb, key: key, img: s.randImage(tb), master: i, loser: -1}
	if _, existed := s.rows[r.id()]; existed {
		// Keys are never handed out twice, not even after a delete.
		s.failf("NextID at %s returned %s, a key that existed before", s.sites[i].name, r.id())
	}
	what := "insert " + r.id()
	args := append(slices.Clone(key), r.img...)
	res, err := s.sites[i].exec(s.ctx, fmt.Sprintf("INSERT INTO %s (%s, %s) VALUES (%s)", tb.name, strings.Join(tb.keys, ", "), strings.Join(tb.cols, ", "),
		strings.TrimSuffix(strings.Repeat("?, ", len(args)), ", ")), args...)
	if err != nil {
		s.failf("%s at %s: %v", what, s.sites[i].name, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		s.failf("%s at %s: %d rows", what, s.sites[i].name, n)
	}
	s.st.writes++
	s.add(r)
	s.logf("%s at %s", what, s.sites[i].name)
}

// update changes or deletes a row at a random replica.
func (s *sim) update(del bool) {
	r := s.pickRow()
	if r == nil {
		return
	}
	i := s.pickWriter(r)
	if r.loser == i {
		return // the rival creator keeps off the row it lost (see conflict)
	}
	allowed := s.mayWrite(i, r)
	if allowed {
		s.checkMasterCopy(r)
	}
	tb := r.table
	var q, what string
	var args []any
	img := s.randImage(tb)
	if del {
		q, what, args = fmt.Sprintf("DELETE FROM %s WHERE %s", tb.name, tb.where()), "delete "+r.id(), r.key
	} else {
		var set []string
		for _, c := range tb.cols {
			set = append(set, c+" = ?")
		}
		q, what = fmt.Sprintf("UPDATE %s SET %s WHERE %s", tb.name, strings.Join(set, ", "), tb.where()), "update "+r.id()
		args = append(slices.Clone(img), r.key...)
	}
	before := ""
	if !allowed {
		before = s.hash(i)
	}
	res, err := s.sites[i].exec(s.ctx, q, args...)
	var n int64
	if err == nil {
		n, _ = res.RowsAffected()
	}
	if !allowed {
		s.refusedWrite(i, what, before, err, n)
		return
	}
	if err == nil && n == 0 && !del && s.sites[i].d.Name() == dialect.MySQL {
		// MySQL counts changed rows, not matched ones: an update to the
		// values the row holds already affects none.
		if got, _, ok := s.local(i, r); ok && simFormat(got) == simFormat(img) {
			n = 1
		}
	}
	if err != nil || n != 1 {
		s.failf("%s at its master %s: %d rows, %v", what, s.sites[i].name, n, err)
	}
	s.st.writes++
	if del {
		r.deleted, r.img = true, nil
	} else {
		r.img = img
	}
	s.logf("%s at %s", what, s.sites[i].name)
}

// foreignInsert inserts a new row naming another replica as its master,
// which no replica may do.
func (s *sim) foreignInsert() {
	i := s.rng.IntN(len(s.sites))
	j := (i + 1 + s.rng.IntN(len(s.sites)-1)) % len(s.sites)
	s.next++
	code := fmt.Sprintf("F%d-%d", i, s.next)
	before := s.hash(i)
	_, err := s.sites[i].exec(s.ctx, `INSERT INTO project (code, title, ms_master) VALUES (?, 'forged', ?)`, code, string(s.sites[j].id))
	if err == nil {
		s.failf("insert of project[%s] mastered by %s accepted at %s", code, s.sites[j].name, s.sites[i].name)
	}
	s.refusedWrite(i, "insert project["+code+"] for "+s.sites[j].name, before, err, 1)
}

func (s *sim) transfer() {
	r := s.pickRow()
	if r == nil {
		return
	}
	i := s.pickWriter(r)
	j := (i + 1 + s.rng.IntN(len(s.sites)-1)) % len(s.sites)
	if r.loser == i || r.loser == j {
		return
	}
	allowed := s.mayWrite(i, r)
	if allowed {
		s.checkMasterCopy(r)
	}
	what := fmt.Sprintf("transfer %s to %s", r.id(), s.sites[j].name)
	before := ""
	if !allowed {
		before = s.hash(i)
	}
	n, err := multisite.TransferMastership(s.ctx, s.sites[i].db, r.table.name, s.sites[j].id, r.key)
	if !allowed {
		if errors.Is(err, mastership.ErrNoRow) {
			if _, _, ok := s.local(i, r); ok {
				s.failf("%s at %s: ErrNoRow for a row it holds", what, s.sites[i].name)
			}
			s.st.noops++
			return
		}
		s.refusedWrite(i, what, before, err, int64(n))
		return
	}
	if err != nil || n != 1 {
		s.failf("%s at its master %s: %d rows, %v", what, s.sites[i].name, n, err)
	}
	s.st.transfers++
	r.master, r.pending = j, true
	s.logf("%s at %s", what, s.sites[i].name)
}

// conflict makes two replicas create the same text key independently. The
// smaller creator ID wins everywhere; the loser's record must be kept in
// ms_conflict at the loser. The loser never touches the key again: until
// it imports the winner's chain it would be writing its own, doomed one.
func (s *sim) conflict() {
	i := s.rng.IntN(len(s.sites))
	j := (i + 1 + s.rng.IntN(len(s.sites)-1)) % len(s.sites)
	s.next++
	code := fmt.Sprintf("C%d", s.next)
	tb := &simTables[1]
	imgs := map[int][]any{}
	for _, k := range []int{i, j} {
		imgs[k] = s.randImage(tb)
		if _, err := s.sites[k].exec(s.ctx, `INSERT INTO project (code, title, note) VALUES (?, ?, ?)`, code, imgs[k][0], imgs[k][1]); err != nil {
			s.failf("insert project[%s] at %s: %v", code, s.sites[k].name, err)
		}
		s.st.writes++
	}
	win, lose := i, j
	if s.sites[j].id < s.sites[i].id {
		win, lose = j, i
	}
	r := &simRow{table: tb, key: []any{code}, img: imgs[win], master: win, loser: lose}
	s.add(r)
	s.conflictsAt[lose] = append(s.conflictsAt[lose], code)
	s.st.conflicts++
	s.logf("project[%s] created at %s and %s; %s wins", code, s.sites[i].name, s.sites[j].name, s.sites[win].name)
}

func (s *sim) exportPacket(i, j int) []byte {
	var buf bytes.Buffer
	if _, err := multisite.ExportPacket(s.ctx, s.sites[i].db, s.sites[j].id, &buf, multisite.ExportOptions{}); err != nil {
		s.failf("export %s -> %s: %v", s.sites[i].name, s.sites[j].name, err)
	}
	s.st.exports++
	return buf.Bytes()
}

// export sends a packet over the faulty transport.
func (s *sim) export() {
	i := s.rng.IntN(len(s.sites))
	j := (i + 1 + s.rng.IntN(len(s.sites)-1)) % len(s.sites)
	b := s.exportPacket(i, j)
	send := func(p *simPacket) {
		s.seq++
		p.seq = s.seq
		s.net = append(s.net, p)
	}
	intact := func() *simPacket { return &simPacket{from: i, to: j, b: b} }
	fate := s.rng.IntN(100)
	switch {
	case fate < 40:
		send(intact())
	case fate < 52:
		s.st.faults["lost"]++
	case fate < 62:
		s.st.faults["duplicated"]++
		send(intact())
		send(intact())
	case fate < 74:
		s.st.faults["truncated"]++
		send(&simPacket{from: i, to: j, b: b[:s.rng.IntN(len(b))], orig: b, damage: "truncated"})
	case fate < 88:
		s.st.faults["bit flipped"]++
		c := bytes.Clone(b)
		for range 1 + s.rng.IntN(3) {
			c[s.rng.IntN(len(c))] ^= 1 << s.rng.IntN(8)
		}
		if bytes.Equal(c, b) { // flips cancelled out
			c[0] ^= 1
		}
		send(&simPacket{from: i, to: j, b: c, orig: b, damage: "bit flipped"})
	case fate < 94:
		s.st.faults["misdelivered"]++
		k := (j + 1 + s.rng.IntN(len(s.sites)-1)) % len(s.sites)
		if k == i { // a packet from i back to i
			s.st.faults["misdelivered"]--
			s.st.faults["lost"]++
			return
		}
		send(&simPacket{from: i, to: k, b: b, damage: "misdelivered"})
	default:
		s.st.faults["damaged copy"]++
		send(intact())
		c := bytes.Clone(b)
		c[s.rng.IntN(len(c))] ^= 0x40
		send(&simPacket{from: i, to: j, b: c, orig: b, damage: "damaged copy"})
	}
}

// simRefusals are the sentinels a damaged packet may be refused with.
var simRefusals = []error{
	syncpkt.ErrFormat, syncpkt.ErrMagic, syncpkt.ErrVersion, syncpkt.ErrTruncated, syncpkt.ErrChecksum,
	syncpkt.ErrSignature, syncpkt.ErrTooLarge,
	multisite.ErrFamily, multisite.ErrTarget, multisite.ErrKind, multisite.ErrSchemaVersion, multisite.ErrCodePage, multisite.ErrPacket,
	replica.ErrUnknown, replica.ErrGap, replica.ErrRemoved, schema.ErrUnknownTable, mastership.ErrNotMaster,
}

// deliver imports one packet in flight, not necessarily the oldest.
func (s *sim) deliver() {
	if len(s.net) == 0 {
		return
	}
	k := s.rng.IntN(len(s.net))
	p := s.net[k]
	s.net = slices.Delete(s.net, k, k+1)
	if k > 0 {
		s.st.faults["reordered"]++
	}
	to := s.sites[p.to]
	if p.damage != "" {
		before := s.hash(p.to)
		rep, err := multisite.ImportPacket(s.ctx, to.db, bytes.NewReader(p.b), multisite.ImportOptions{})
		if err == nil {
			// A flipped bit the zstd decoder never reads (a spare bit of
			// its frame header, say) leaves the packet as it was: the same
			// records, digest and signature. That packet is intact, and
			// applies as the intact one would; any other is a failure.
			if p.orig == nil || !simSameRecords(p.b, p.orig) {
				s.failf("%s packet #%d %s -> %s was accepted", p.damage, p.seq, s.sites[p.from].name, to.name)
			}
			s.st.refusals[simHarmless]++
			s.imported(p.to, rep)
			s.logf("%s packet #%d %s -> %s decodes as the intact packet and was imported", p.damage, p.seq, s.sites[p.from].name, to.name)
			return
		}
		kind := ""
		for _, e := range simRefusals {
			if errors.Is(err, e) {
				kind = e.Error()
				break
			}
		}
		if kind == "" {
			s.failf("%s packet #%d into %s refused with an untyped error: %v", p.damage, p.seq, to.name, err)
		}
		if p.damage == "misdelivered" && !errors.Is(err, multisite.ErrTarget) {
			s.failf("misdelivered packet #%d into %s: %v, want ErrTarget", p.seq, to.name, err)
		}
		if after := s.hash(p.to); after != before {
			s.failf("refused %s packet #%d changed %s", p.damage, p.seq, to.name)
		}
		s.st.refusals[kind]++
		s.logf("%s packet #%d %s -> %s refused: %v", p.damage, p.seq, s.sites[p.from].name, to.name, err)
		return
	}
	rep := s.importPacket(p.from, p.to, p.b)
	if rep == nil {
		s.logf("packet #%d %s -> %s refused for a gap (an earlier one was lost or comes later)", p.seq, s.sites[p.from].name, to.name)
		return
	}
	s.logf("packet #%d %s -> %s imported (duplicate %v)", p.seq, s.sites[p.from].name, to.name, rep.Duplicate)
}

// importPacket imports an intact packet, which must apply, then notes the
// transfers the receiver has learned of. A packet sent after one that was
// lost, or that overtook an earlier one, leaves a gap: it is refused with
// nothing changed (importPacket returns nil), and the receiver reports the
// gap back to the sender.
func (s *sim) importPacket(from, to int, b []byte) *multisite.ImportReport {
	before := s.hash(to)
	rep, err := multisite.ImportPacket(s.ctx, s.sites[to].db, bytes.NewReader(b), multisite.ImportOptions{})
	if errors.Is(err, replica.ErrGap) {
		s.st.gaps++
		if after := s.hash(to); after != before {
			s.failf("packet %s -> %s refused for a gap changed %s", s.sites[from].name, s.sites[to].name, s.sites[to].name)
		}
		return nil
	}
	if err != nil {
		s.failf("intact packet %s -> %s refused: %v", s.sites[from].name, s.sites[to].name, err)
	}
	s.imported(to, rep)
	return rep
}

// imported notes an intact packet imported into replica to, and the
// transfers it has learned of.
func (s *sim) imported(to int, rep *multisite.ImportReport) {
	s.st.imports++
	if rep.Duplicate {
		s.st.dupes++
	}
	for _, id := range s.order {
		r := s.rows[id]
		if !r.pending || r.master != to {
			continue
		}
		if _, master, ok := s.local(to, r); ok && master == string(s.sites[to].id) {
			r.pending = false
			s.checkMasterCopy(r) // the transfer came with the latest image
			s.logf("%s learned it masters %s", s.sites[to].name, r.id())
		}
	}
}

// simHarmless counts the damaged packets that decode as the intact one.
const simHarmless = "none: decodes as the intact packet"

// simSameRecords reports whether packets a and b both read to the end
// with the same header, records and digest.
func simSameRecords(a, b []byte) bool {
	read := func(p []byte) ([]any, bool) {
		r := syncpkt.NewReader(bytes.NewReader(p), syncpkt.ReaderOptions{})
		h, err := r.Header()
		if err != nil {
			return nil, false
		}
		out := []any{h}
		for {
			rec, err := r.Next()
			if err == io.EOF {
				return append(out, r.Digest()), true
			}
			if err != nil {
				return nil, false
			}
			out = append(out, rec)
		}
	}
	ra, oka := read(a)
	rb, okb := read(b)
	return oka && okb && reflect.DeepEqual(ra, rb)
}

// finalSync exchanges packets all-to-all over a clean transport until a
// whole round brings nobody anything new.
func (s *sim) finalSync() {
	for round := 1; ; round++ {
		s.st.finalRounds++
		quiet := true
		for i := range s.sites {
			for j := range s.sites {
				if i == j {
					continue
				}
				if rep := s.importPacket(i, j, s.exportPacket(i, j)); rep == nil || !rep.Duplicate {
					quiet = false
				}
			}
		}
		if quiet {
			return
		}
		if round > 3*len(s.sites)+2 { // a gap takes a round to be reported and one to be filled
			s.failf("no quiescence after %d all-to-all rounds", round)
		}
	}
}

// check compares every replica with the model and with each other.
func (s *sim) check() {
	want := map[string]string{}
	for _, id := range s.order {
		r := s.rows[id]
		if r.pending {
			s.failf("%s still pending after the final sync", id)
		}
		if !r.deleted {
			want[id] = simFormat(r.img) + " @" + string(s.sites[r.master].id)
		}
	}
	hash0 := s.hash(0)
	for i, site := range s.sites {
		got := s.dump(i)
		if diff := cmp.Diff(want, got); diff != "" {
			s.failf("%s differs from the model (-want +got):\n%s", site.name, diff)
		}
		if h := s.hash(i); h != hash0 {
			s.failf("%s content hash %s differs from %s's %s", site.name, h, s.sites[0].name, hash0)
		}
	}
	for lose, codes := range s.conflictsAt {
		for _, code := range codes {
			var n int
			site := s.sites[lose]
			if err := site.db.QueryRowContext(s.ctx, site.d.Rebind(`SELECT count(*) FROM ms_conflict WHERE tbl = 'project' AND `+site.d.Quote("key")+` = ? AND creator = ?`),
				code, string(site.id)).Scan(&n); err != nil {
				s.failf("read ms_conflict at %s: %v", s.sites[lose].name, err)
			}
			if n != 1 {
				s.failf("%s lost project[%s] but keeps no record of it in ms_conflict", s.sites[lose].name, code)
			}
		}
	}
}

// dump reads every replicated row of replica i as the model formats it.
func (s *sim) dump(i int) map[string]string {
	out := map[string]string{}
	for ti := range simTables {
		tb := &simTables[ti]
		rows, err := s.sites[i].db.QueryContext(s.ctx, fmt.Sprintf("SELECT %s, %s, ms_master FROM %s", strings.Join(tb.keys, ", "), strings.Join(tb.cols, ", "), tb.name))
		if err != nil {
			s.failf("dump %s: %v", s.sites[i].name, err)
		}
		for rows.Next() {
			vals := make([]any, len(tb.keys)+len(tb.cols)+1)
			ptrs := make([]any, len(vals))
			for j := range vals {
				ptrs[j] = &vals[j]
			}
			if err := rows.Scan(ptrs...); err != nil {
				s.failf("dump %s: %v", s.sites[i].name, err)
			}
			s.portable(i, tb, append(slices.Clone(tb.keys), tb.cols...), vals[:len(vals)-1])
			r := simRow{table: tb, key: vals[:len(tb.keys)]}
			out[r.id()] = simFormat(vals[len(tb.keys):len(vals)-1]) + " @" + simText(vals[len(vals)-1])
		}
		rows.Close()
	}
	return out
}

// simFormat formats values with their types, so 1 and "1" differ.
func simFormat(vals []any) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		switch x := v.(type) {
		case nil:
			parts[i] = "NULL"
		case []byte:
			parts[i] = fmt.Sprintf("x'%x'", x)
		case string:
			parts[i] = strconv.Quote(x)
		default:
			parts[i] = fmt.Sprintf("%T(%v)", x, x)
		}
	}
	return strings.Join(parts, ",")
}

// portable turns values scanned at replica i from columns cols of tb into
// the portable form the model holds (nil, int64, float64, string or
// []byte), whatever the driver returned.
func (s *sim) portable(i int, tb *simTable, cols []string, vals []any) {
	site := s.sites[i]
	desc, ok := site.tables[tb.name]
	if !ok {
		var err error
		if desc, ok, err = site.d.Describe(s.ctx, site.db, tb.name); err != nil || !ok {
			s.failf("describe %s at %s: %v (found %v)", tb.name, site.name, err, ok)
		}
		site.tables[tb.name] = desc
	}
	for j, c := range cols {
		col, ok := desc.Column(c)
		if !ok {
			s.failf("%s at %s has no column %s", tb.name, site.name, c)
		}
		v, err := site.d.Value(col, vals[j])
		if err != nil {
			s.failf("value of %s.%s at %s: %v", tb.name, c, site.name, err)
		}
		vals[j] = v
	}
}

// simText is a scanned text value (a string, or bytes from MySQL) as a
// string.
func simText(v any) string {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return fmt.Sprint(v)
}
