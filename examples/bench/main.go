// Command bench measures the multisite library on SQLite (or, given a DSN,
// on PostgreSQL or MariaDB) against the references a user would otherwise
// reach for, and prints each figure with its reference, measured in the
// same run, and the ratio between them:
//
//   - writes with change capture on, against the same table not activated
//   - ExportPacket of every row, against ImportPacket of the same packet
//   - ImportPacket into a replica that lacks every row, against a prepared
//     upsert loop and against applying a SQLite session changeset
//   - Replicate + CreateReplica, against VACUUM INTO
//   - packet bytes against changeset bytes, and what zstd and flate make of
//     the packet
//   - an incremental export of a few changed rows from a large database,
//     against the same export from a small one
//   - peak RSS while writing and importing packets at two sizes, each in a
//     child process of its own
//
// With -postgres DSN and/or -mysql DSN the same figures run on those
// servers instead of SQLite, one server after the other, each path and
// reference in a fresh database the program creates (the DSN's user must
// be allowed to) and drops before it exits. There the references are the
// servers' own: a prepared upsert loop in one transaction (INSERT ... ON
// CONFLICT DO UPDATE on PostgreSQL, INSERT ... ON DUPLICATE KEY UPDATE on
// MariaDB) and the bulk path, COPY through pgx's CopyFrom on PostgreSQL and
// LOAD DATA LOCAL INFILE on MariaDB (multi-row INSERTs if the server
// refuses local files; the report says which); replica creation is
// compared with streaming a SELECT of the origin's table into the bulk
// path of a new database, and the packet's size with the row payload and
// the rows' COPY/LOAD DATA text. The servers have no targets and no peak
// RSS children; the default is 5,000 rows.
//
// Usage:
//
//	go run ./examples/bench                                   # 8,000 rows, a few seconds (CI runs this)
//	go run ./examples/bench -rows 100000 -incremental-rows 1000000 -repeat 3   # the real figures
//	go run ./examples/bench -rows 100000 -cpuprofile /tmp/prof   # one CPU profile per phase
//	go run ./examples/bench -postgres "$MULTISITE_TEST_POSTGRES" -mysql "$MULTISITE_TEST_MYSQL"   # 5,000 rows on each, seconds
//
// Ratios are what to read: the machine is shared and absolute figures move
// from run to run (the server reports print the load average). On SQLite
// every database is a file in a temporary directory (removed unless
// -keep) opened through modernc.org/sqlite in WAL mode; the
// changeset reference uses zombiezen.com/go/sqlite, the session extension
// over the same SQLite translation.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/multisite-go/multisite/examples/bench/workload"
)

type config struct {
	rows, incRows, changed int
	repeat                 int
	rssRows                []int
	dir, cpuprofile        string
	keep                   bool
	dbPrefix               string // server mode: names of the databases made ("" is random)
}

func main() {
	var (
		cfg      config
		rss      string
		postgres string
		mysql    string
		childRSS int
	)
	flag.IntVar(&cfg.rows, "rows", 8000, "rows of about 600 bytes for the write, export, import and creation figures (100000 for the real figures; the default stays below the import's 8192-row merge batch so CI is quick; 5000 when a server is named)")
	flag.IntVar(&cfg.incRows, "incremental-rows", 0, "rows in the database the incremental export reads from; 0 means -rows, -1 skips it (1000000 for the real figure)")
	flag.IntVar(&cfg.repeat, "repeat", 1, "rounds of every path and reference; each figure is the best of its rounds (3 for the real figures)")
	flag.IntVar(&cfg.changed, "changed", 100, "rows changed before each incremental export")
	flag.StringVar(&rss, "rss-rows", "", "comma-separated sizes for the peak-RSS children; empty means -rows/10 and -rows, \"off\" skips them")
	flag.StringVar(&cfg.dir, "dir", "", "directory for the databases; empty means a new temporary one")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the SQLite databases (server databases are always dropped)")
	flag.StringVar(&cfg.cpuprofile, "cpuprofile", "", "directory to write one CPU profile per phase into (capture.pprof, export.pprof, export-uncompressed.pprof, import.pprof, create.pprof, incremental.pprof; on a server postgres-capture.pprof and so on)")
	flag.StringVar(&postgres, "postgres", "", "PostgreSQL DSN (a user who may create databases) to measure on instead of SQLite (empty: not used), e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	flag.StringVar(&mysql, "mysql", "", "MariaDB/MySQL DSN (a user who may create databases) to measure on instead of SQLite (empty: not used), e.g. root@tcp(127.0.0.1:3306)/test")
	flag.IntVar(&childRSS, "child-rss", 0, "internal: measure peak RSS at this many rows and print it as JSON")
	flag.Parse()

	servers := serverDSNs(postgres, mysql)
	if len(servers) > 0 && !flagSet("rows") {
		cfg.rows = serverDefaultRows
	}
	if cfg.rows < 1 || cfg.changed < 1 {
		fail(errors.New("bench: -rows and -changed must be at least 1"))
	}
	if cfg.incRows == 0 {
		cfg.incRows = cfg.rows
	}
	switch rss {
	case "off":
	case "":
		cfg.rssRows = []int{max(1, cfg.rows/10), cfg.rows}
	default:
		for _, s := range strings.Split(rss, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 1 {
				fail(fmt.Errorf("bench: -rss-rows: %q is not a row count", s))
			}
			cfg.rssRows = append(cfg.rssRows, n)
		}
	}
	if cfg.dir == "" {
		var err error
		if cfg.dir, err = os.MkdirTemp("", "multisite-bench-"); err != nil {
			fail(err)
		}
		if !cfg.keep {
			defer os.RemoveAll(cfg.dir)
		}
	}
	ctx := context.Background()
	if childRSS > 0 {
		fail(child(ctx, cfg.dir, childRSS, os.Stdout))
		return
	}
	if cfg.cpuprofile != "" {
		if err := os.MkdirAll(cfg.cpuprofile, 0o755); err != nil {
			fail(err)
		}
	}
	if len(servers) > 0 {
		// On Ctrl-C, stop measuring but still drop the databases made.
		ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := runServers(ctx, cfg, servers, os.Stdout); err != nil {
			if !cfg.keep {
				os.RemoveAll(cfg.dir)
			}
			fail(err)
		}
		return
	}
	if err := run(ctx, cfg, os.Stdout); err != nil {
		if !cfg.keep {
			os.RemoveAll(cfg.dir)
		}
		fail(err)
	}
}

func fail(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// phase runs f, under a CPU profile named name if -cpuprofile is set.
func phase(cfg config, name string, f func() error) error {
	fmt.Fprintf(os.Stderr, "bench: %s...\n", name)
	if cfg.cpuprofile == "" {
		return f()
	}
	pf, err := os.Create(filepath.Join(cfg.cpuprofile, name+".pprof"))
	if err != nil {
		return err
	}
	defer pf.Close()
	if err := pprof.StartCPUProfile(pf); err != nil {
		return err
	}
	err = f()
	pprof.StopCPUProfile()
	return err
}

// line is one row of the printed table.
type line struct {
	what      string
	rows      int
	d         time.Duration
	bytes     int64 // payload bytes the MB/s figure counts; 0 prints none
	ref       string
	refRows   int
	refD      time.Duration
	refBytes  int64
	ratio     float64
	ratioNote string // how ratio is formed
	target    string // "≥ 0.6", "≤ 2", "" for information
	ok        bool
}

func rate(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }

func mbps(b int64, d time.Duration) float64 { return float64(b) / 1e6 / d.Seconds() }

// faster compares two paths by rows/s: ratio = subject / reference.
func faster(what string, rows int, d time.Duration, bytes int64, ref string, refD time.Duration, target float64) line {
	r := rate(rows, d) / rate(rows, refD)
	l := line{what: what, rows: rows, d: d, bytes: bytes, ref: ref, refRows: rows, refD: refD, refBytes: bytes,
		ratio: r, ratioNote: "rows/s ÷ ref"}
	if target > 0 {
		l.target, l.ok = fmt.Sprintf("≥ %g", target), r >= target
	}
	return l
}

// timings are one round's durations of every path and reference.
type timings struct {
	off, on, exp, imp, ups, rec, apply, vac time.Duration
	expRaw                                  time.Duration // export without compression
	create                                  workload.Creation
}

// best keeps, path by path, the faster of t and u: on a shared machine the
// fastest of a few rounds is the least disturbed one.
func (t timings) best(u timings) timings {
	m := func(a, b time.Duration) time.Duration {
		if a == 0 || b < a {
			return b
		}
		return a
	}
	if t.create.Total() == 0 || u.create.Total() < t.create.Total() {
		t.create = u.create
	}
	return timings{off: m(t.off, u.off), on: m(t.on, u.on), exp: m(t.exp, u.exp), expRaw: m(t.expRaw, u.expRaw), imp: m(t.imp, u.imp),
		ups: m(t.ups, u.ups), rec: m(t.rec, u.rec), apply: m(t.apply, u.apply), vac: m(t.vac, u.vac), create: t.create}
}

// round measures every path once over rows, in its own directory, with
// each reference run right beside the path it is compared with. It returns
// the packet and the changeset too, for the size figures.
func round(ctx context.Context, cfg config, dir string, rows [][]any, size int64) (timings, []byte, []byte, error) {
	var t timings
	n := len(rows)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return t, nil, nil, err
	}
	defer os.RemoveAll(dir)

	// Writes: capture off (plain table) against capture on (activated).
	off, err := workload.OpenWithTable(ctx, filepath.Join(dir, "capture-off.db"))
	if err != nil {
		return t, nil, nil, err
	}
	t.off, err = workload.Insert(ctx, off, rows)
	off.Close()
	if err != nil {
		return t, nil, nil, err
	}
	fam, err := workload.NewFamily(ctx, dir)
	if err != nil {
		return t, nil, nil, err
	}
	defer fam.Close()
	if err := phase(cfg, "capture", func() (err error) { t.on, err = workload.Insert(ctx, fam.Origin, rows); return err }); err != nil {
		return t, nil, nil, err
	}

	// Export and import of every row.
	var pkt []byte
	if err := phase(cfg, "export", func() (err error) {
		pkt, t.exp, err = workload.Export(ctx, fam.Origin, fam.ReplicaID, workload.PacketSizeHint(n, size))
		return err
	}); err != nil {
		return t, nil, nil, err
	}
	// The same packet again without compression (an export changes nothing
	// of what the origin believes the target holds): what zstd costs.
	if err := phase(cfg, "export-uncompressed", func() (err error) {
		_, t.expRaw, err = workload.ExportUncompressed(ctx, fam.Origin, fam.ReplicaID, 3*workload.PacketSizeHint(n, size))
		return err
	}); err != nil {
		return t, nil, nil, err
	}
	if err := phase(cfg, "import", func() (err error) { t.imp, err = workload.Import(ctx, fam.Replica, pkt, n); return err }); err != nil {
		return t, nil, nil, err
	}

	// References for the import: a prepared upsert loop and a changeset.
	ups, err := workload.OpenWithTable(ctx, filepath.Join(dir, "upsert.db"))
	if err != nil {
		return t, nil, nil, err
	}
	t.ups, err = workload.Upsert(ctx, ups, rows)
	ups.Close()
	if err != nil {
		return t, nil, nil, err
	}
	cs, rec, err := workload.Changeset(filepath.Join(dir, "changeset-src.db"), rows)
	if err != nil {
		return t, nil, nil, err
	}
	t.rec = rec
	if t.apply, err = workload.ApplyChangeset(filepath.Join(dir, "changeset-dst.db"), cs); err != nil {
		return t, nil, nil, err
	}

	// Replica creation against VACUUM INTO.
	if err := phase(cfg, "create", func() (err error) { t.create, err = workload.CreateReplica(ctx, fam.Origin, "dublin", dir); return err }); err != nil {
		return t, nil, nil, err
	}
	t.vac, err = workload.VacuumInto(ctx, fam.Origin, filepath.Join(dir, "vacuum.db"))
	return t, pkt, cs, err
}

func run(ctx context.Context, cfg config, out io.Writer) error {
	n := cfg.rows
	rows, size := workload.Rows(n)
	var lines []line
	var notes []string

	var t timings
	var pkt, cs []byte
	for i := range max(1, cfg.repeat) {
		cfg := cfg
		if i > 0 {
			cfg.cpuprofile = "" // profile the first round only
		}
		fmt.Fprintf(os.Stderr, "bench: round %d of %d\n", i+1, max(1, cfg.repeat))
		u, p, c, err := round(ctx, cfg, filepath.Join(cfg.dir, fmt.Sprintf("round-%d", i)), rows, size)
		if err != nil {
			return err
		}
		t, pkt, cs = t.best(u), p, c
	}
	lines = append(lines,
		faster("INSERT loop, capture on (activated)", n, t.on, size, "same, capture off", t.off, 0.6),
		faster("ExportPacket, all rows", n, t.exp, size, "ImportPacket of it", t.imp, 3),
		faster("ExportPacket, uncompressed", n, t.expRaw, size, "ImportPacket of it", t.imp, 0),
		faster("ImportPacket, fresh replica", n, t.imp, size, "changeset apply (session ext.)", t.apply, 0.8),
		faster("ImportPacket, fresh replica", n, t.imp, size, "prepared upsert loop, one tx", t.ups, 0),
		faster("ExportPacket, all rows", n, t.exp, size, "changeset recording (inserts under a session)", t.rec, 0),
	)
	cr := t.create
	r := cr.Total().Seconds() / t.vac.Seconds()
	lines = append(lines, line{what: "Replicate + CreateReplica", rows: n, d: cr.Total(), bytes: size,
		ref: "VACUUM INTO", refRows: n, refD: t.vac, refBytes: size, ratio: r, ratioNote: "time ÷ ref", target: "≤ 2", ok: r <= 2})
	notes = append(notes, fmt.Sprintf("creation: Replicate %v (packet %s), CreateReplica %v (the MB/s columns count row payload for both)",
		roundD(cr.Write), mb(cr.Bytes), roundD(cr.Create)))

	// Sizes: packet against changeset, and compressed.
	pr := float64(len(pkt)) / float64(len(cs))
	sizeLines := []line{{what: fmt.Sprintf("sync packet, %s", mb(int64(len(pkt)))), ref: fmt.Sprintf("changeset, %s", mb(int64(len(cs)))),
		ratio: pr, ratioNote: "bytes ÷ ref", target: "≤ 0.5", ok: pr <= 0.5}}
	comps, err := workload.CompressorsOfPacket(pkt)
	if err != nil {
		return err
	}
	for _, c := range comps {
		r := float64(c.Bytes) / float64(len(cs))
		sizeLines = append(sizeLines, line{what: fmt.Sprintf("packet + %s, %s", c.Name, mb(c.Bytes)), ref: "changeset",
			ratio: r, ratioNote: "bytes ÷ ref", target: "≤ 0.5", ok: r <= 0.5})
		notes = append(notes, fmt.Sprintf("%s: packet ×%.2f smaller; compresses %.0f MB/s, expands %.0f MB/s (one goroutine, packet bytes)",
			c.Name, float64(len(pkt))/float64(c.Bytes), mbps(int64(len(pkt)), c.Compress), mbps(int64(len(pkt)), c.Expand)))
	}

	// Incremental export of a few changed rows from a large database.
	var incLine *line
	if cfg.incRows > 0 {
		l, err := incremental(ctx, cfg)
		if err != nil {
			return err
		}
		incLine = &l
	}

	// Peak RSS, each size in a child so the peaks do not mix.
	var rssRes []rssResult
	for _, k := range cfg.rssRows {
		fmt.Fprintf(os.Stderr, "bench: peak RSS at %d rows (child process)...\n", k)
		res, err := runChild(ctx, cfg.dir, k)
		if err != nil {
			return err
		}
		rssRes = append(rssRes, res)
	}

	printReport(out, sqliteHeader(cfg, n, size), lines, sizeLines, incLine, rssRes, notes)
	return nil
}

func incremental(ctx context.Context, cfg config) (line, error) {
	const rounds = 5
	small := cfg.changed * 10
	fmt.Fprintf(os.Stderr, "bench: building %d-row database for the incremental export...\n", cfg.incRows)
	big, far, err := workload.Large(ctx, filepath.Join(cfg.dir, "large.db"), cfg.incRows)
	if err != nil {
		return line{}, err
	}
	defer big.Close()
	var ds []time.Duration
	if err := phase(cfg, "incremental", func() (err error) {
		ds, err = workload.Incremental(ctx, big, far, cfg.incRows, cfg.changed, rounds)
		return err
	}); err != nil {
		return line{}, err
	}
	ref, rfar, err := workload.Large(ctx, filepath.Join(cfg.dir, "small.db"), small)
	if err != nil {
		return line{}, err
	}
	defer ref.Close()
	refDs, err := workload.Incremental(ctx, ref, rfar, small, cfg.changed, rounds)
	if err != nil {
		return line{}, err
	}
	return incrementalLine(cfg, ds, refDs, small), nil
}

// incrementalLine compares the median incremental export from the large
// database, ds, with the median from a small one of small rows, refDs.
func incrementalLine(cfg config, ds, refDs []time.Duration, small int) line {
	d, refD := median(ds), median(refDs)
	l := line{what: fmt.Sprintf("incremental ExportPacket, %d of %d rows changed", cfg.changed, cfg.incRows), rows: cfg.changed, d: d,
		ref: fmt.Sprintf("same, from a %d-row database", small), refRows: cfg.changed, refD: refD,
		ratio: d.Seconds() / refD.Seconds(), ratioNote: "time ÷ ref"}
	if cfg.incRows >= 1_000_000 { // the target is set for a database of a million rows
		l.target, l.ok = "< 50 ms", d < 50*time.Millisecond
	}
	return l
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func roundD(d time.Duration) time.Duration {
	switch {
	case d > time.Second:
		return d.Round(10 * time.Millisecond)
	case d > time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }

// sqliteHeader is the heading of the SQLite report.
func sqliteHeader(cfg config, n int, size int64) []string {
	return []string{
		fmt.Sprintf("multisite benchmark on SQLite: %d rows of ~%d bytes (%s payload); %s, GOMAXPROCS=%d, %s",
			n, size/int64(n), mb(size), runtime.Version(), runtime.GOMAXPROCS(0), deps()),
		fmt.Sprintf("reproduce: go run ./examples/bench -rows %d -incremental-rows %d -repeat %d", cfg.rows, cfg.incRows, max(1, cfg.repeat)),
	}
}

// printReport prints the header lines, the table of figures, the peak RSS
// table if any and the notes.
func printReport(out io.Writer, header []string, lines, sizeLines []line, inc *line, rss []rssResult, notes []string) {
	for _, h := range header {
		fmt.Fprintln(out, h)
	}
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "path\ttime\trows/s\tMB/s\treference\ttime\trows/s\tMB/s\tratio\t\ttarget\t")
	verdict := func(l line) string {
		switch {
		case l.target == "":
			return "info"
		case l.ok:
			return "met"
		}
		return "MISSED"
	}
	for _, l := range lines {
		fmt.Fprintf(tw, "%s\t%v\t%.0f\t%.1f\t%s\t%v\t%.0f\t%.1f\t%.2f\t%s\t%s %s\t\n", l.what, roundD(l.d), rate(l.rows, l.d), mbps(l.bytes, l.d),
			l.ref, roundD(l.refD), rate(l.refRows, l.refD), mbps(l.refBytes, l.refD), l.ratio, l.ratioNote, l.target, verdict(l))
	}
	for _, l := range sizeLines {
		fmt.Fprintf(tw, "%s\t\t\t\t%s\t\t\t\t%.2f\t%s\t%s %s\t\n", l.what, l.ref, l.ratio, l.ratioNote, l.target, verdict(l))
	}
	if inc != nil {
		fmt.Fprintf(tw, "%s\t%v\t%.0f\t\t%s\t%v\t%.0f\t\t%.2f\t%s\t%s %s\t\n", inc.what, roundD(inc.d), rate(inc.rows, inc.d),
			inc.ref, roundD(inc.refD), rate(inc.refRows, inc.refD), inc.ratio, inc.ratioNote, inc.target, verdict(*inc))
	}
	tw.Flush()
	if len(rss) > 0 {
		fmt.Fprintln(out, "\npeak RSS per phase, as peak (growth over the phase's start); each size in its own process, garbage freed and peak reset before each phase:")
		tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprint(tw, "rows")
		for _, p := range rss[0].Phases {
			fmt.Fprintf(tw, "\t%s", p.Name)
		}
		fmt.Fprintln(tw, "\t")
		for _, r := range rss {
			fmt.Fprintf(tw, "%d", r.Rows)
			for _, p := range r.Phases {
				fmt.Fprintf(tw, "\t%s (+%s)", mib(p.PeakKB), mib(p.PeakKB-p.StartKB))
			}
			fmt.Fprintln(tw, "\t")
		}
		tw.Flush()
		if len(rss) > 1 {
			a, b := rss[0], rss[len(rss)-1]
			worst, which := 0.0, ""
			for i := range a.Phases {
				if r := float64(b.Phases[i].PeakKB) / float64(a.Phases[i].PeakKB); r > worst {
					worst, which = r, a.Phases[i].Name
				}
			}
			fmt.Fprintf(out, "largest peak ratio %d rows ÷ %d rows: %.2f, in %s (flat memory is about 1; the row ratio is %.0f)\n",
				b.Rows, a.Rows, worst, which, float64(b.Rows)/float64(a.Rows))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(out)
		for _, s := range notes {
			fmt.Fprintln(out, s)
		}
	}
}

func mib(kb int64) string { return fmt.Sprintf("%.0f MiB", float64(kb)/1024) }

// deps names the SQLite builds measured.
func deps() string { return depsOf("modernc.org/sqlite", "zombiezen.com/go/sqlite") }

// depsOf names the modules paths with their versions, as built.
func depsOf(paths ...string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return paths[0]
	}
	var s []string
	for _, m := range bi.Deps {
		if slices.Contains(paths, m.Path) {
			s = append(s, m.Path+" "+m.Version)
		}
	}
	return strings.Join(s, ", ")
}

// rssResult is what a child reports.
type rssResult struct {
	Rows   int
	Phases []rssPhase
}

// rssPhase is one phase's resident set: VmRSS at its start, VmHWM at its
// end, in kB.
type rssPhase struct {
	Name            string
	StartKB, PeakKB int64
}

func runChild(ctx context.Context, dir string, rows int) (rssResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return rssResult{}, err
	}
	cdir := filepath.Join(dir, fmt.Sprintf("rss-%d", rows))
	if err := os.MkdirAll(cdir, 0o755); err != nil {
		return rssResult{}, err
	}
	defer os.RemoveAll(cdir)
	cmd := exec.CommandContext(ctx, exe, "-child-rss", strconv.Itoa(rows), "-dir", cdir, "-keep")
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		return rssResult{}, fmt.Errorf("bench: RSS child at %d rows: %w", rows, err)
	}
	var res rssResult
	if err := json.Unmarshal(b, &res); err != nil {
		return rssResult{}, fmt.Errorf("bench: RSS child at %d rows printed %q: %w", rows, b, err)
	}
	return res, nil
}
