// Command deploy walks the whole MultiSite deployment procedure on the
// embedded default (SQLite files in a temporary directory) with three sites:
// boston (the original), bangalore and dublin.
//
//	go run ./examples/deploy
//
// It prints each step and the content hash per site, and exits non-zero if
// any step fails or any site diverges. -keep leaves the directory behind.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/codepage"
	"github.com/multisite-go/multisite/mastership"
	"github.com/multisite-go/multisite/replica"
	_ "modernc.org/sqlite"
)

type site struct {
	name   string
	db     *sql.DB
	id     replica.ID
	vendor string // "sqlite", "pg" or "mysql"
}

var (
	step = 0
	ctx  = context.Background()
	dir  string
)

func say(format string, args ...any) {
	step++
	fmt.Printf("\n%2d. %s\n", step, fmt.Sprintf(format, args...))
}

func detail(format string, args ...any) { fmt.Printf("    %s\n", fmt.Sprintf(format, args...)) }

func check(err error, what string) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "deploy: %s: %v\n", what, err)
		os.Exit(1)
	}
}

func open(name string) *site {
	path := filepath.Join(dir, name+".db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)")
	check(err, "open "+path)
	return &site{name: name, db: db, vendor: "sqlite"}
}

func exec(s *site, q string, args ...any) {
	if s.vendor == "pg" { // PostgreSQL numbers its placeholders
		for i := 1; strings.Contains(q, "?"); i++ {
			q = strings.Replace(q, "?", fmt.Sprintf("$%d", i), 1)
		}
	}
	_, err := s.db.ExecContext(ctx, q, args...)
	check(mastership.FromDriver(err), s.name+": "+q)
}

// sync carries one packet from -> to through a file in the storage bay.
func sync(from, to *site) {
	path := filepath.Join(dir, "bay", fmt.Sprintf("%s-to-%s.pkt", from.name, to.name))
	f, err := os.Create(path)
	check(err, "create packet file")
	st, err := multisite.ExportPacket(ctx, from.db, to.id, f, multisite.ExportOptions{})
	check(err, "export "+from.name+" -> "+to.name)
	check(f.Close(), "close packet")
	f, err = os.Open(path)
	check(err, "open packet")
	rep, err := multisite.ImportPacket(ctx, to.db, f, multisite.ImportOptions{})
	f.Close()
	check(err, "import "+from.name+" -> "+to.name)
	var parts []string
	for t, c := range rep.Tables {
		parts = append(parts, fmt.Sprintf("%s +%d ~%d -%d", t, c.Inserted, c.Updated, c.Deleted))
	}
	detail("%s -> %s: %d rows, %d transfers, %d bytes; applied %s", from.name, to.name, st.Rows, st.Transfers, st.Bytes, strings.Join(parts, ", "))
	check(os.Remove(path), "remove delivered packet")
}

func main() {
	keep := flag.Bool("keep", false, "keep the temporary directory")
	pgDSN := flag.String("postgres", os.Getenv("MULTISITE_DEPLOY_POSTGRES"), "put dublin on this PostgreSQL server (URL DSN; env MULTISITE_DEPLOY_POSTGRES)")
	myDSN := flag.String("mysql", os.Getenv("MULTISITE_DEPLOY_MYSQL"), "put bangalore on this MySQL/MariaDB server (env MULTISITE_DEPLOY_MYSQL)")
	flag.Parse()
	defer func() {
		for _, drop := range dropServerDBs {
			drop()
		}
	}()
	openSite := func(name string) *site {
		switch {
		case name == "dublin" && *pgDSN != "":
			return openServer("pgx", *pgDSN, name)
		case name == "bangalore" && *myDSN != "":
			return openServer("mysql", *myDSN, name)
		}
		return open(name)
	}
	var err error
	dir, err = os.MkdirTemp("", "multisite-deploy-")
	check(err, "temp dir")
	if !*keep {
		defer os.RemoveAll(dir)
	}
	check(os.Mkdir(filepath.Join(dir, "bay"), 0o755), "storage bay")
	fmt.Printf("multisite deployment walk-through in %s\n", dir)

	say("Plan: sites boston (original), bangalore, dublin; data code page windows-1252; hub-and-spoke through boston; the creating site masters new records")
	boston := open("boston")
	exec(boston, `CREATE TABLE project (code TEXT PRIMARY KEY, title TEXT NOT NULL)`)
	exec(boston, `CREATE TABLE defect (id INTEGER PRIMARY KEY, project TEXT NOT NULL, headline TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'open', owner TEXT)`)
	exec(boston, `CREATE TABLE defect_note (defect_id INTEGER NOT NULL, seq INTEGER NOT NULL, body TEXT, PRIMARY KEY (defect_id, seq))`)
	exec(boston, `INSERT INTO project VALUES ('CORE', 'Core engine'), ('WEB', 'Web client')`)
	for i := 1; i <= 200; i++ {
		exec(boston, `INSERT INTO defect (id, project, headline, owner) VALUES (?, ?, ?, 'alice')`, i, []string{"CORE", "WEB"}[i%2], fmt.Sprintf("Defect %d: crash on save", i))
	}
	exec(boston, `UPDATE defect SET headline = 'Résumé upload fails “sometimes” ✓' WHERE id = 7`)
	exec(boston, `INSERT INTO defect_note VALUES (7, 1, 'seen by Zoë')`)
	detail("production database: 2 projects, 200 defects, 1 note")

	say("Validate the production data against the data code page (windows-1252)")
	rep, err := multisite.ValidateCharset(ctx, boston.db, "windows-1252", multisite.CharsetOptions{})
	check(err, "validate")
	for _, v := range rep.Violations {
		detail("violation: %s", v)
	}
	detail("%d strings, %d bytes checked, %d violations", rep.Strings, rep.Bytes, len(rep.Violations))

	say("Clean up the violations before activation (transliterate what cannot be stored)")
	cp, err := codepage.Lookup("windows-1252")
	check(err, "code page")
	for _, v := range rep.Violations {
		var val string
		check(boston.db.QueryRowContext(ctx, fmt.Sprintf(`SELECT %q FROM %q WHERE id = ?`, v.Column, v.Table), v.Key).Scan(&val), "read")
		clean, _ := cp.Clean(val, codepage.CleanOptions{Strategy: codepage.Transliterate})
		exec(boston, fmt.Sprintf(`UPDATE %q SET %q = ? WHERE id = ?`, v.Table, v.Column), clean, v.Key)
		detail("%s[%s].%s: %q -> %q", v.Table, v.Key, v.Column, val, clean)
	}
	rep, err = multisite.ValidateCharset(ctx, boston.db, "windows-1252", multisite.CharsetOptions{})
	check(err, "validate again")
	if len(rep.Violations) != 0 {
		check(fmt.Errorf("%d violations remain", len(rep.Violations)), "clean-up")
	}
	detail("clean")

	say("Back up the production database (VACUUM INTO)")
	exec(boston, `VACUUM INTO ?`, filepath.Join(dir, "boston-before-multisite.db"))
	detail("backup written")

	say("Review the schema changes (dry-run plan), then apply them and activate the family")
	plan, err := multisite.PlanActivation(ctx, boston.db, multisite.ActivateOptions{Name: "boston", CodePage: "windows-1252"})
	check(err, "plan")
	detail("%d statements: metadata tables, mastership field, shadow tables, triggers", len(plan.Steps))
	info, err := multisite.Activate(ctx, boston.db, multisite.ActivateOptions{Name: "boston", CodePage: "windows-1252"})
	check(err, "activate")
	boston.id = info.ID
	detail("boston is replica %s, the first of its family", info.ID)

	say("Replicate the production database to bangalore and dublin (creation packets through the storage bay)")
	sites := []*site{boston}
	for _, name := range []string{"bangalore", "dublin"} {
		path := filepath.Join(dir, "bay", "mkreplica-"+name+".pkt")
		f, err := os.Create(path)
		check(err, "create packet")
		ri, st, err := multisite.Replicate(ctx, boston.db, name, f, multisite.ReplicateOptions{})
		check(err, "replicate "+name)
		check(f.Close(), "close")
		s := openSite(name)
		s.id = ri.ID
		f, err = os.Open(path)
		check(err, "open packet")
		_, err = multisite.CreateReplica(ctx, s.db, f, multisite.CreateOptions{OriginKey: info.PublicKey})
		f.Close()
		check(err, "create "+name)
		check(os.Remove(path), "remove packet")
		detail("%s is replica %s on %s: %d rows, %d bytes, receive-only", name, ri.ID, s.vendor, st.Rows, st.Bytes)
		sites = append(sites, s)
	}
	blr, dub := sites[1], sites[2]

	say("Unidirectional synchronization boston -> new replicas; users are kept out of the new replicas")
	exec(boston, `UPDATE defect SET state = 'assigned' WHERE id = 1`)
	sync(boston, blr)
	sync(boston, dub)
	_, err = blr.db.ExecContext(ctx, `UPDATE defect SET state = 'closed' WHERE id = 1`)
	if err == nil {
		check(errors.New("a receive-only replica accepted a write"), "receive-only")
	}
	detail("write at bangalore refused: %v", err)

	say("Validate use cases at the new sites, then make them active (bidirectional synchronization)")
	for _, s := range sites[1:] {
		var n int
		check(s.db.QueryRowContext(ctx, `SELECT count(*) FROM defect`).Scan(&n), "count")
		detail("%s holds %d defects", s.name, n)
		check(multisite.SetState(ctx, s.db, replica.Active), "activate "+s.name)
	}
	sync(blr, boston)
	sync(dub, boston)

	say("Users work at every site; each site masters what it creates")
	for _, s := range sites {
		id, err := multisite.NextID(ctx, s.db, nil, "defect")
		check(err, "next id")
		exec(s, `INSERT INTO defect (id, project, headline, owner) VALUES (?, 'CORE', ?, ?)`, id, "Reported in "+s.name, s.name)
		detail("%s created defect %d", s.name, id)
	}
	_, err = dub.db.ExecContext(ctx, `UPDATE defect SET state = 'closed' WHERE id = 2`)
	var nm *mastership.NotMasterError
	if !errors.As(mastership.FromDriver(err), &nm) {
		check(fmt.Errorf("expected a mastership error, got %v", err), "enforcement")
	}
	detail("dublin may not close boston's defect 2: %v", nm)

	say("Transfer mastership of defect 2 from boston to dublin")
	_, err = multisite.TransferMastership(ctx, boston.db, "defect", dub.id, []any{2})
	check(err, "transfer")

	say("Scheduled synchronization, hub-and-spoke through boston")
	for _, s := range sites[1:] {
		sync(s, boston)
	}
	for _, s := range sites[1:] {
		sync(boston, s)
	}
	exec(dub, `UPDATE defect SET state = 'closed', owner = 'dublin' WHERE id = 2`)
	detail("dublin, now master, closed defect 2")
	for _, s := range sites[1:] {
		sync(s, boston)
	}
	for _, s := range sites[1:] {
		sync(boston, s)
	}

	if blr.vendor == "sqlite" {
		restoreBangalore(&blr, sites, boston, dub)
	}

	say("Compare the replicas (content hash of every replicated table)")
	var first string
	diverged := false
	for _, s := range sites {
		h, err := multisite.ContentHash(ctx, s.db)
		check(err, "hash")
		detail("%-10s %s", s.name, h)
		if first == "" {
			first = h
		} else if h != first {
			diverged = true
		}
	}
	for _, s := range sites {
		s.db.Close()
	}
	if diverged {
		fmt.Fprintln(os.Stderr, "deploy: replicas diverged")
		os.Exit(1)
	}
	fmt.Println("\nall sites hold identical data; deployment complete")
	_ = io.Discard
}

// restoreBangalore backs bangalore up, writes on, loses its disk, restores
// the backup and brings it back with RestoreReplica (SQLite sites only: the
// backup is a file copy).
func restoreBangalore(blrp **site, sites []*site, boston, dub *site) {
	blr := *blrp
	say("Back up bangalore, keep working, then lose bangalore's disk and restore the backup")
	backup := filepath.Join(dir, "bangalore-backup.db")
	exec(blr, `VACUUM INTO ?`, backup)
	id, err := multisite.NextID(ctx, blr.db, nil, "defect")
	check(err, "next id")
	exec(blr, `INSERT INTO defect (id, project, headline, owner) VALUES (?, 'WEB', 'Reported after the backup', 'bangalore')`, id)
	sync(blr, boston)
	check(blr.db.Close(), "close bangalore")
	check(os.Rename(backup, filepath.Join(dir, "bangalore.db")), "restore backup")
	for _, suffix := range []string{"-wal", "-shm"} {
		os.Remove(filepath.Join(dir, "bangalore.db"+suffix))
	}
	old := blr.id
	blr = open("bangalore")
	*blrp = blr
	blr.id = old
	sites[1] = blr
	ri, err := multisite.RestoreReplica(ctx, blr.db)
	check(err, "restore replica")
	detail("bangalore restored (incarnation %d, %s): local writes refused until it has caught up", ri.Incarnation, ri.State)
	sync(blr, boston)
	sync(blr, dub)
	sync(boston, blr)
	f, err := os.Create(filepath.Join(dir, "bay", "dublin-to-bangalore.pkt"))
	check(err, "packet file")
	_, err = multisite.ExportPacket(ctx, dub.db, blr.id, f, multisite.ExportOptions{})
	check(err, "export dublin -> bangalore")
	f.Close()
	f, err = os.Open(filepath.Join(dir, "bay", "dublin-to-bangalore.pkt"))
	check(err, "open packet")
	rrep, err := multisite.ImportPacket(ctx, blr.db, f, multisite.ImportOptions{})
	f.Close()
	check(err, "import dublin -> bangalore")
	if !rrep.Restored {
		check(errors.New("bangalore did not finish its restore"), "restore")
	}
	var n int
	check(blr.db.QueryRowContext(ctx, `SELECT count(*) FROM defect WHERE id = ?`, id).Scan(&n), "count")
	detail("bangalore is active again; its defect %d from after the backup came back from the family (%d row)", id, n)
	for _, s := range sites[1:] {
		sync(s, boston)
	}
	for _, s := range sites[1:] {
		sync(boston, s)
	}

}
