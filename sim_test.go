package multisite_test

// A seeded randomized simulation of a replica family: random local writes
// (including writes to rows mastered elsewhere), mastership transfers, and
// packets carried over a transport that loses, duplicates, reorders,
// truncates, corrupts and misdelivers them, followed by a clean all-to-all
// synchronization and checks of the invariants in DESIGN.md.
//
//	go test -run TestSimulation .                          # default: a few hundred small schedules
//	go test -run TestSimulation -sim.seed=1234 -v .        # replay one schedule
//	MULTISITE_SIM_SCHEDULES=20000 go test -run TestSimulation -timeout 0 .   # soak
//
// The harness takes an open function so it can run on any dialect; a clone
// function (VACUUM INTO on SQLite) makes building the family per schedule
// cheap.

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/multisite-go/multisite/mastership"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/schema"
	"github.com/multisite-go/multisite/syncpkt"
	_ "modernc.org/sqlite"
)

var (
	simSeed      = flag.Uint64("sim.seed", 0, "run only the simulation schedule with this seed")
	simSchedules = flag.Int("sim.schedules", 0, "number of simulation schedules (0: $MULTISITE_SIM_SCHEDULES, else 200)")
	simBase      = flag.Uint64("sim.base", 1, "seed of the first simulation schedule; the others follow")
)

// simTables is the tracker-like schema of the simulation: an integer key
// written through NextID, a text key and a composite key.
var simTables = []simTable{
	{name: "defect", keys: []string{"id"}, cols: []string{"headline", "score", "att"},
		ddl: `CREATE TABLE defect (id INTEGER PRIMARY KEY, headline TEXT NOT NULL, score REAL, att BLOB)`},
	{name: "project", keys: []string{"code"}, cols: []string{"title", "note"},
		ddl: `CREATE TABLE project (code TEXT PRIMARY KEY, title TEXT NOT NULL, note TEXT)`},
	{name: "tag", keys: []string{"defect_id", "tag"}, cols: []string{"note"},
		ddl: `CREATE TABLE tag (defect_id INTEGER NOT NULL, tag TEXT NOT NULL, note TEXT, PRIMARY KEY (defect_id, tag))`},
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

// simBackend is what the simulation needs of a dialect.
type simBackend struct {
	// open returns a new, empty database called name.
	open func(name string) *sql.DB
	// clone, if set, returns a new database called name holding a copy of
	// src; without it the family is built through the API every schedule.
	clone func(src *sql.DB, name string) *sql.DB
	// drop, if set, closes and removes the database called name.
	drop func(name string)
}

// sqliteSimBackend keeps every database in dir. Durability is off: the
// simulation never crashes a process (crash_test.go does).
func sqliteSimBackend(t testing.TB) simBackend {
	dir := t.TempDir()
	// Memory-backed files when the machine has them: same SQLite, no disk.
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "multisite-sim-"); err == nil {
			dir = d
			t.Cleanup(func() { os.RemoveAll(d) })
		}
	}
	dbs := map[string]*sql.DB{}
	path := func(name string) string { return filepath.Join(dir, name+".db") }
	open := func(name string) *sql.DB {
		db, err := sql.Open("sqlite", testdb.SQLiteDSN(path(name))+"&_pragma=synchronous(OFF)")
		if err != nil {
			t.Fatalf("open %s: %v", name, err)
		}
		dbs[name] = db
		return db
	}
	t.Cleanup(func() {
		for _, db := range dbs {
			db.Close()
		}
	})
	return simBackend{
		open: open,
		clone: func(src *sql.DB, name string) *sql.DB {
			if _, err := src.Exec(`VACUUM INTO ?`, path(name)); err != nil {
				t.Fatalf("clone %s: %v", name, err)
			}
			return open(name)
		},
		drop: func(name string) {
			if db := dbs[name]; db != nil {
				db.Close()
				delete(dbs, name)
			}
			for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
				os.Remove(path(name) + suffix)
			}
		},
	}
}

func TestSimulation(t *testing.T) {
	runSimulation(t, sqliteSimBackend(t))
}

// simStats counts what the schedules did.
type simStats struct {
	schedules, steps, replicas int
	writes, refused, noops     int // local writes accepted, refused with ErrNotMaster, that found no row
	transfers, conflicts       int
	exports, imports, dupes    int // intact imports; dupes: brought nothing new
	finalRounds                int
	faults                     map[string]int // by kind
	refusals                   map[string]int // damaged packets refused, by sentinel
	divergences                int
}

func runSimulation(t *testing.T, be simBackend) {
	n := *simSchedules
	if n == 0 {
		n = 200
		if s := os.Getenv("MULTISITE_SIM_SCHEDULES"); s != "" {
			v, err := strconv.Atoi(s)
			if err != nil {
				t.Fatalf("MULTISITE_SIM_SCHEDULES=%q: %v", s, err)
			}
			n = v
		}
	}
	seeds := make([]uint64, 0, n)
	if *simSeed != 0 {
		seeds = append(seeds, *simSeed)
	} else {
		for i := range n {
			seeds = append(seeds, *simBase+uint64(i))
		}
	}
	if testing.Short() && *simSeed == 0 && len(seeds) > 40 {
		seeds = seeds[:40]
	}
	st := &simStats{faults: map[string]int{}, refusals: map[string]int{}}
	tmpl := &simTemplates{be: be, fams: map[int][]*simSite{}}
	start := time.Now()
	failed := 0
	for _, seed := range seeds {
		s := newSim(t, be, tmpl, seed, st)
		if err := s.run(); err != nil {
			failed++
			st.divergences++
			t.Errorf("simulation schedule failed: %v\nreplay with: go test -run 'TestSimulation$' -sim.seed=%d -v .", err, seed)
			for _, l := range s.log {
				t.Logf("  %s", l)
			}
			if failed >= 3 {
				t.Errorf("stopping after %d failing schedules", failed)
				break
			}
		}
		s.close()
	}
	t.Logf("%d schedules (%d replicas, %d steps) in %v: writes %d accepted, %d refused (not master), %d no-ops; %d transfers, %d creation conflicts; "+
		"%d exports, %d intact imports (%d duplicates), %d final rounds; faults %v; damaged packets refused by %v; %d divergences",
		st.schedules, st.replicas, st.steps, time.Since(start).Round(time.Millisecond), st.writes, st.refused, st.noops, st.transfers, st.conflicts,
		st.exports, st.imports, st.dupes, st.finalRounds, st.faults, st.refusals, st.divergences)
}

type simSite struct {
	name string
	db   *sql.DB
	id   replica.ID
}

// simTemplates builds, once per family size, a family through the API and
// clones it for every schedule (when the backend can clone).
type simTemplates struct {
	be   simBackend
	fams map[int][]*simSite
	n    int
}

func (tp *simTemplates) family(t testing.TB, size int, prefix string) ([]*simSite, error) {
	if tp.be.clone == nil {
		return buildSimFamily(tp.be, size, prefix)
	}
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
		out[i] = &simSite{name: prefix + "-" + s.name, id: s.id}
		out[i].db = tp.be.clone(s.db, out[i].name)
	}
	return out, nil
}

// buildSimFamily activates a first replica over the simulation schema with
// a few rows, creates the others from creation packets, makes them active
// and lets every replica learn of every other.
func buildSimFamily(be simBackend, size int, prefix string) ([]*simSite, error) {
	ctx := context.Background()
	first := &simSite{name: prefix + "-r0", db: be.open(prefix + "-r0")}
	for _, tb := range simTables {
		if _, err := first.db.Exec(tb.ddl); err != nil {
			return nil, err
		}
	}
	for _, q := range []string{
		`INSERT INTO defect VALUES (1, 'crash on save', 1.5, NULL), (2, 'slow start', NULL, x'00ff'), (3, 'typo', 0, NULL)`,
		`INSERT INTO project VALUES ('CORE', 'Core engine', NULL), ('UI', 'User interface', 'ü')`,
		`INSERT INTO tag VALUES (1, 'crash', NULL), (1, 'ui', 'login'), (2, 'perf', NULL)`,
	} {
		if _, err := first.db.Exec(q); err != nil {
			return nil, err
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
		s := &simSite{name: fmt.Sprintf("%s-r%d", prefix, i), db: be.open(fmt.Sprintf("%s-r%d", prefix, i)), id: info.ID}
		if _, err := multisite.CreateReplica(ctx, s.db, &buf, multisite.CreateOptions{}); err != nil {
			return nil, err
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
	damage   string // "" for an intact packet
	seq      int
}

type sim struct {
	t     testing.TB
	be    simBackend
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

func newSim(t testing.TB, be simBackend, tmpl *simTemplates, seed uint64, st *simStats) *sim {
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
		if s.be.drop != nil {
			s.be.drop(site.name)
		}
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
	// Mostly small families, sometimes up to 7 replicas.
	size := 3
	switch s.rng.IntN(8) {
	case 0, 1:
		size = 4
	case 2:
		size = 3 + s.rng.IntN(5)
	}
	s.sites, err = s.tmpl.family(s.t, size, fmt.Sprintf("s%d", s.seed))
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
		rows, err := s.sites[0].db.Query(fmt.Sprintf("SELECT %s, %s, ms_master FROM %s ORDER BY %s",
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
			m, ok := idx[fmt.Sprint(vals[len(vals)-1])]
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
	err := s.sites[i].db.QueryRow(fmt.Sprintf("SELECT %s, ms_master FROM %s WHERE %s", strings.Join(tb.cols, ", "), tb.name, tb.where()), r.key...).Scan(ptrs...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", false
	}
	if err != nil {
		s.failf("read %s at %s: %v", r.id(), s.sites[i].name, err)
	}
	return vals[:len(tb.cols)], fmt.Sprint(vals[len(tb.cols)]), true
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
	res, err := s.sites[i].db.Exec(fmt.Sprintf("INSERT INTO %s (%s, %s) VALUES (%s)", tb.name, strings.Join(tb.keys, ", "), strings.Join(tb.cols, ", "),
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
	res, err := s.sites[i].db.Exec(q, args...)
	var n int64
	if err == nil {
		n, _ = res.RowsAffected()
	}
	if !allowed {
		s.refusedWrite(i, what, before, err, n)
		return
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
	_, err := s.sites[i].db.Exec(`INSERT INTO project (code, title, ms_master) VALUES (?, 'forged', ?)`, code, string(s.sites[j].id))
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
		if _, err := s.sites[k].db.Exec(`INSERT INTO project (code, title, note) VALUES (?, ?, ?)`, code, imgs[k][0], imgs[k][1]); err != nil {
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
		send(&simPacket{from: i, to: j, b: b[:s.rng.IntN(len(b))], damage: "truncated"})
	case fate < 88:
		s.st.faults["bit flipped"]++
		c := bytes.Clone(b)
		for range 1 + s.rng.IntN(3) {
			c[s.rng.IntN(len(c))] ^= 1 << s.rng.IntN(8)
		}
		if bytes.Equal(c, b) { // flips cancelled out
			c[0] ^= 1
		}
		send(&simPacket{from: i, to: j, b: c, damage: "bit flipped"})
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
		send(&simPacket{from: i, to: j, b: c, damage: "damaged copy"})
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
		_, err := multisite.ImportPacket(s.ctx, to.db, bytes.NewReader(p.b), multisite.ImportOptions{})
		if err == nil {
			s.failf("%s packet #%d %s -> %s was accepted", p.damage, p.seq, s.sites[p.from].name, to.name)
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
	s.logf("packet #%d %s -> %s imported (duplicate %v)", p.seq, s.sites[p.from].name, to.name, rep.Duplicate)
}

// importPacket imports an intact packet, which must apply, then notes the
// transfers the receiver has learned of.
func (s *sim) importPacket(from, to int, b []byte) *multisite.ImportReport {
	rep, err := multisite.ImportPacket(s.ctx, s.sites[to].db, bytes.NewReader(b), multisite.ImportOptions{})
	if err != nil {
		s.failf("intact packet %s -> %s refused: %v", s.sites[from].name, s.sites[to].name, err)
	}
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
	return rep
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
				if rep := s.importPacket(i, j, s.exportPacket(i, j)); !rep.Duplicate {
					quiet = false
				}
			}
		}
		if quiet {
			return
		}
		if round > 2*len(s.sites) {
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
			if err := s.sites[lose].db.QueryRow(`SELECT count(*) FROM ms_conflict WHERE tbl = 'project' AND key = ? AND creator = ?`,
				code, string(s.sites[lose].id)).Scan(&n); err != nil {
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
		rows, err := s.sites[i].db.Query(fmt.Sprintf("SELECT %s, %s, ms_master FROM %s", strings.Join(tb.keys, ", "), strings.Join(tb.cols, ", "), tb.name))
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
			r := simRow{table: tb, key: vals[:len(tb.keys)]}
			out[r.id()] = simFormat(vals[len(tb.keys):len(vals)-1]) + " @" + fmt.Sprint(vals[len(vals)-1])
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
