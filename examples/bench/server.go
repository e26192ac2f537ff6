package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/multisite-go/multisite/examples/bench/workload"
)

// serverDefaultRows is -rows when a server is named and -rows is not:
// a row per round trip costs 10–20 times what it does on SQLite, so the
// default is smaller to keep `go run ./examples/bench -postgres DSN -mysql
// DSN` well under a minute.
const serverDefaultRows = 5000

// serverDSN is a server named on the command line.
type serverDSN struct {
	dialect, dsn string
}

func serverDSNs(postgres, mysql string) []serverDSN {
	var s []serverDSN
	if postgres != "" {
		s = append(s, serverDSN{workload.Postgres, postgres})
	}
	if mysql != "" {
		s = append(s, serverDSN{workload.MySQL, mysql})
	}
	return s
}

// flagSet reports whether the flag called name was given.
func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// runServers measures on each server in turn, one after the other, and
// prints a report for each.
func runServers(ctx context.Context, cfg config, servers []serverDSN, out io.Writer) error {
	for i, s := range servers {
		rep, err := serverFigures(ctx, cfg, s.dialect, s.dsn)
		if err != nil {
			return err
		}
		if i > 0 {
			fmt.Fprintln(out)
		}
		printReport(out, rep.header, rep.lines, rep.sizeLines, rep.inc, nil, rep.notes)
	}
	return nil
}

// serverReport is what serverFigures measured, ready to print.
type serverReport struct {
	header           []string
	lines, sizeLines []line
	inc              *line
	notes            []string
}

// all returns every line of the table.
func (r serverReport) all() []line {
	l := append(append([]line{}, r.lines...), r.sizeLines...)
	if r.inc != nil {
		l = append(l, *r.inc)
	}
	return l
}

// serverTimings are one round's durations on a server.
type serverTimings struct {
	off, on, exp, imp, ups, bulk, copy time.Duration
	create                             workload.Creation
}

func (t serverTimings) best(u serverTimings) serverTimings {
	m := func(a, b time.Duration) time.Duration {
		if a == 0 || b < a {
			return b
		}
		return a
	}
	if t.create.Total() == 0 || u.create.Total() < t.create.Total() {
		t.create = u.create
	}
	return serverTimings{off: m(t.off, u.off), on: m(t.on, u.on), exp: m(t.exp, u.exp), imp: m(t.imp, u.imp),
		ups: m(t.ups, u.ups), bulk: m(t.bulk, u.bulk), copy: m(t.copy, u.copy), create: t.create}
}

// serverFigures runs every figure on the server dsn names, in databases it
// creates and drops, and returns the report.
func serverFigures(ctx context.Context, cfg config, dialect, dsn string) (rep serverReport, err error) {
	srv, err := workload.OpenServer(ctx, dialect, dsn, cfg.dbPrefix)
	if err != nil {
		return rep, err
	}
	defer func() {
		if cerr := srv.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	loadStart := loadAvg()
	n := cfg.rows
	rows, size := workload.Rows(n)
	text, err := workload.TextBytes(rows)
	if err != nil {
		return rep, err
	}
	var t serverTimings
	var pkt []byte
	for i := range max(1, cfg.repeat) {
		cfg := cfg
		if i > 0 {
			cfg.cpuprofile = ""
		}
		fmt.Fprintf(os.Stderr, "bench: %s round %d of %d\n", dialect, i+1, max(1, cfg.repeat))
		u, p, err := serverRound(ctx, cfg, srv, rows, size)
		if err != nil {
			return rep, err
		}
		t, pkt = t.best(u), p
	}
	bulk := srv.BulkMethod()
	bulkLabel := bulk
	if !strings.HasPrefix(bulk, workload.MethodCopy) && bulk != workload.MethodLoadData {
		bulkLabel = "multi-row INSERT ×1000 (LOAD DATA refused)"
	}
	rep.lines = append(rep.lines,
		faster("INSERT loop, capture on (activated)", n, t.on, size, "same, capture off", t.off, 0),
		faster("ExportPacket, all rows", n, t.exp, size, "ImportPacket of it", t.imp, 0),
		faster("ImportPacket, fresh replica", n, t.imp, size, "prepared upsert loop, one tx", t.ups, 0),
		faster("ImportPacket, fresh replica", n, t.imp, size, bulkLabel+", empty table", t.bulk, 0),
	)
	cr := t.create
	rep.lines = append(rep.lines, line{what: "Replicate + CreateReplica", rows: n, d: cr.Total(), bytes: size,
		ref: "SELECT → " + bulkLabel + ", new database", refRows: n, refD: t.copy, refBytes: size,
		ratio: cr.Total().Seconds() / t.copy.Seconds(), ratioNote: "time ÷ ref"})
	rep.sizeLines = []line{
		{what: fmt.Sprintf("sync packet, %s", mb(int64(len(pkt)))), ref: fmt.Sprintf("row payload, %s", mb(size)),
			ratio: float64(len(pkt)) / float64(size), ratioNote: "bytes ÷ ref"},
		{what: fmt.Sprintf("sync packet, %s", mb(int64(len(pkt)))), ref: fmt.Sprintf("rows as COPY/LOAD DATA text, %s", mb(text)),
			ratio: float64(len(pkt)) / float64(text), ratioNote: "bytes ÷ ref"},
	}
	if cfg.incRows > 0 {
		l, err := serverIncremental(ctx, cfg, srv)
		if err != nil {
			return rep, err
		}
		rep.inc = &l
	}
	name := serverName(dialect, srv.Version)
	flagName := "-" + dialect
	rep.header = []string{
		fmt.Sprintf("multisite benchmark on %s: %d rows of ~%d bytes (%s payload); %s, GOMAXPROCS=%d, %s",
			name, n, size/int64(n), mb(size), runtime.Version(), runtime.GOMAXPROCS(0), depsOf(serverDriver(dialect))),
		fmt.Sprintf("server: %s; load average %s at the start, %s at the end (the machine may be shared)", srv.Version, loadStart, loadAvg()),
		fmt.Sprintf("reproduce: go run ./examples/bench %s DSN -rows %d -incremental-rows %d -repeat %d", flagName, cfg.rows, cfg.incRows, max(1, cfg.repeat)),
	}
	rep.notes = append(rep.notes,
		fmt.Sprintf("creation: Replicate %v (packet %s), CreateReplica %v (the MB/s columns count row payload for both)",
			roundD(cr.Write), mb(cr.Bytes), roundD(cr.Create)),
		fmt.Sprintf("upsert reference: one prepared %s a row, one transaction; bulk reference: %s", srv.UpsertStatement(), bulk),
		"no targets on the servers: the issue sets them for SQLite; every row is info",
	)
	return rep, nil
}

// serverRound measures every path once on srv, each in fresh databases
// dropped before it returns, with each reference beside its path. It
// returns the packet too, for the size figures.
func serverRound(ctx context.Context, cfg config, srv *workload.Server, rows [][]any, size int64) (serverTimings, []byte, error) {
	var t serverTimings
	n := len(rows)
	d := srv.Dialect
	// timed runs f on a fresh database made by open, which it drops after.
	timed := func(open func(context.Context, string) (*sql.DB, error), site string, f func(db *sql.DB) error) error {
		db, err := open(ctx, site)
		if err != nil {
			return err
		}
		defer srv.Drop(db)
		return f(db)
	}

	// Writes: capture off (a plain table) against capture on (activated).
	if err := timed(srv.OpenWithTable, "capture_off", func(db *sql.DB) (err error) {
		t.off, err = srv.Insert(ctx, db, rows)
		return err
	}); err != nil {
		return t, nil, err
	}
	fam, err := srv.Family(ctx)
	if err != nil {
		return t, nil, err
	}
	defer fam.Close()
	if err := phase(cfg, d+"-capture", func() (err error) { t.on, err = srv.Insert(ctx, fam.Origin, rows); return err }); err != nil {
		return t, nil, err
	}

	// Export and import of every row.
	var pkt []byte
	if err := phase(cfg, d+"-export", func() (err error) {
		pkt, t.exp, err = workload.Export(ctx, fam.Origin, fam.ReplicaID, workload.PacketSizeHint(n, size))
		return err
	}); err != nil {
		return t, nil, err
	}
	if err := phase(cfg, d+"-import", func() (err error) { t.imp, err = workload.Import(ctx, fam.Replica, pkt, n); return err }); err != nil {
		return t, nil, err
	}

	// References for the import: a prepared upsert loop and the bulk path.
	if err := timed(srv.OpenWithTable, "upsert", func(db *sql.DB) (err error) {
		t.ups, err = srv.Upsert(ctx, db, rows)
		return err
	}); err != nil {
		return t, nil, err
	}
	if err := timed(srv.OpenWithTable, "bulk", func(db *sql.DB) (err error) {
		if t.bulk, _, err = srv.Load(ctx, db, rows); err != nil {
			return err
		}
		return wantRows(ctx, db, n, "the bulk load")
	}); err != nil {
		return t, nil, err
	}

	// Replica creation against copying the table into a new database.
	if err := phase(cfg, d+"-create", func() error {
		c, db, err := srv.CreateReplica(ctx, fam.Origin, "dublin", cfg.dir)
		if err != nil {
			return err
		}
		defer srv.Drop(db)
		t.create = c
		return wantRows(ctx, db, n, "CreateReplica")
	}); err != nil {
		return t, nil, err
	}
	err = timed(srv.Open, "copy", func(db *sql.DB) (err error) {
		if t.copy, _, _, err = srv.Copy(ctx, fam.Origin, db); err != nil {
			return err
		}
		return wantRows(ctx, db, n, "the bulk copy")
	})
	return t, pkt, err
}

// wantRows checks that db's benchmark table holds n rows, so no figure
// times a path that did less than the others.
func wantRows(ctx context.Context, db *sql.DB, n int, what string) error {
	var got int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+workload.Table).Scan(&got); err != nil {
		return err
	}
	if got != n {
		return fmt.Errorf("bench: %s left %d rows, want %d", what, got, n)
	}
	return nil
}

func serverIncremental(ctx context.Context, cfg config, srv *workload.Server) (line, error) {
	const rounds = 5
	small := cfg.changed * 10
	fmt.Fprintf(os.Stderr, "bench: building %d-row %s database for the incremental export...\n", cfg.incRows, srv.Dialect)
	big, far, err := srv.Large(ctx, "large", cfg.incRows)
	if err != nil {
		return line{}, err
	}
	defer srv.Drop(big)
	var ds []time.Duration
	if err := phase(cfg, srv.Dialect+"-incremental", func() (err error) {
		ds, err = srv.Incremental(ctx, big, far, cfg.incRows, cfg.changed, rounds)
		return err
	}); err != nil {
		return line{}, err
	}
	ref, rfar, err := srv.Large(ctx, "small", small)
	if err != nil {
		return line{}, err
	}
	defer srv.Drop(ref)
	refDs, err := srv.Incremental(ctx, ref, rfar, small, cfg.changed, rounds)
	if err != nil {
		return line{}, err
	}
	return incrementalLine(cfg, ds, refDs, small), nil
}

// serverName is how the report names the server.
func serverName(dialect, version string) string {
	if dialect == workload.Postgres {
		if v, _, ok := strings.Cut(version, " on "); ok {
			return v
		}
		return version
	}
	if strings.Contains(version, "MariaDB") {
		return "MariaDB " + strings.SplitN(version, "-", 2)[0]
	}
	return "MySQL " + version
}

func serverDriver(dialect string) string {
	if dialect == workload.Postgres {
		return "github.com/jackc/pgx/v5"
	}
	return "github.com/go-sql-driver/mysql"
}

// loadAvg is the first three fields of /proc/loadavg, or "unknown".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
