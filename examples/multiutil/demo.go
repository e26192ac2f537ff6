package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/mastership"
)

// demo runs the verbs end to end on SQLite files in a temporary directory,
// through run, exactly as an administrator would type them: boston is
// activated, bangalore is created from a creation packet, the two sync
// both ways through a storage bay, a trigger dropped by hand is repaired
// and a schema migration travels from boston to bangalore. It succeeds only if every verb gives the
// expected exit status and both replicas end with the same content hash.
func demo(e *env) int {
	dir, err := os.MkdirTemp("", "multiutil-demo-")
	if err != nil {
		fmt.Fprintf(e.stderr, "multiutil demo: %v\n", err)
		return exitFail
	}
	defer os.RemoveAll(dir)
	d := &demoRun{env: e, dir: dir}
	if err := d.walk(); err != nil {
		fmt.Fprintf(e.stderr, "\nmultiutil demo: FAILED: %v\n", err)
		return exitFail
	}
	fmt.Fprintln(e.stdout, "\ndemo complete: every verb worked and both replicas hold identical data")
	return exitOK
}

type demoRun struct {
	*env
	dir   string
	step  int
	limit int // lines of output shown per command; 0 means all
}

// multiutil runs one command line and checks its exit status. The output
// is shown with the temporary directory written as $DIR.
func (d *demoRun) multiutil(want int, args ...string) (string, error) {
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	line := strings.ReplaceAll(strings.Join(args, " "), d.dir, "$DIR")
	fmt.Fprintf(d.stdout, "\n$ multiutil %s\n", line)
	for _, b := range []*bytes.Buffer{&out, &errOut} {
		if s := strings.TrimRight(strings.ReplaceAll(b.String(), d.dir, "$DIR"), "\n"); s != "" {
			lines := strings.Split(s, "\n")
			if d.limit > 0 && len(lines) > d.limit+2 {
				// The first lines and the last two, where a summary is.
				tail := lines[len(lines)-2:]
				lines = append(append(lines[:d.limit:d.limit], fmt.Sprintf("... (%d more lines)", len(lines)-d.limit-2)), tail...)
			}
			fmt.Fprintf(d.stdout, "  %s\n", strings.Join(lines, "\n  "))
		}
	}
	if code != want {
		return out.String(), fmt.Errorf("multiutil %s: exit status %d, want %d", line, code, want)
	}
	if want != exitOK {
		fmt.Fprintf(d.stdout, "  (exit status %d, as expected)\n", code)
	}
	return out.String(), nil
}

func (d *demoRun) say(format string, args ...any) {
	d.step++
	fmt.Fprintf(d.stdout, "\n%2d. %s\n", d.step, fmt.Sprintf(format, args...))
}

func (d *demoRun) path(name string) string { return filepath.Join(d.dir, name) }

// exec writes with plain SQL, as any tool of the site would.
func (d *demoRun) exec(dbPath, q string, args ...any) error {
	db, err := sql.Open("sqlite", dsn(dbPath))
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(d.ctx, q, args...)
	return mastership.FromDriver(err)
}

func (d *demoRun) walk() error {
	boston, blr, bay := d.path("boston.db"), d.path("bangalore.db"), d.path("bay")
	if err := os.Mkdir(bay, 0o755); err != nil {
		return err
	}
	fmt.Fprintf(d.stdout, "demo in %s (shown as $DIR)\n", d.dir)

	d.say("Plan the deployment: validate the plan, write bangalore's workflow document")
	good, bad := d.path("family.yaml"), d.path("mistaken.yaml")
	if err := os.WriteFile(good, []byte(fmt.Sprintf(demoPlan, boston, blr, bay)), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(bad, []byte(demoBadPlan), 0o644); err != nil {
		return err
	}
	if _, err := d.multiutil(exitOK, "plan", "validate", good); err != nil {
		return err
	}
	d.limit = 14 // the document is long
	_, err := d.multiutil(exitOK, "plan", "workflow", good, "--site", "bangalore")
	d.limit = 0
	if err != nil {
		return err
	}
	if _, err := d.multiutil(exitFail, "plan", "validate", bad); err != nil {
		return err
	}

	d.say("A production database at boston, with one string windows-1252 cannot store")
	for _, q := range []string{
		`CREATE TABLE project (code TEXT PRIMARY KEY, title TEXT NOT NULL)`,
		`CREATE TABLE defect (id INTEGER PRIMARY KEY, project TEXT NOT NULL, headline TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'open')`,
		`CREATE TABLE defect_note (defect_id INTEGER NOT NULL, seq INTEGER NOT NULL, body TEXT, PRIMARY KEY (defect_id, seq))`,
		`INSERT INTO project VALUES ('CORE', 'Core engine'), ('WEB', 'Web client')`,
		`INSERT INTO defect (id, project, headline) VALUES (1, 'CORE', 'crash on save'), (2, 'WEB', 'login loops'), (3, 'CORE', 'check mark ✓ garbled')`,
		`INSERT INTO defect_note VALUES (2, 1, 'seen by Zoë'), (2, 2, 'also on Firefox')`,
	} {
		if err := d.exec(boston, q); err != nil {
			return err
		}
	}

	d.say("Validate the data against the data code page, fix it, validate again")
	if _, err := d.multiutil(exitFail, "validatecharset", "--db", boston, "--codepage", "1252"); err != nil {
		return err
	}
	if err := d.exec(boston, `UPDATE defect SET headline = 'check mark garbled' WHERE id = 3`); err != nil {
		return err
	}
	if _, err := d.multiutil(exitOK, "validatecharset", "--db", boston, "--codepage", "1252", "--json"); err != nil {
		return err
	}

	d.say("Review the activation plan, then activate the family")
	d.limit = 12 // the whole script is long
	_, err = d.multiutil(exitOK, "activate", "--db", boston, "--name", "boston", "--codepage", "1252", "--plan")
	d.limit = 0
	if err != nil {
		return err
	}
	if _, err := d.multiutil(exitOK, "activate", "--db", boston, "--name", "boston", "--codepage", "1252"); err != nil {
		return err
	}
	out, err := d.multiutil(exitOK, "lsreplica", "--db", boston, "--json")
	if err != nil {
		return err
	}
	var ls struct {
		Replicas []struct {
			Name      string `json:"name"`
			PublicKey string `json:"public_key"`
		}
	}
	if err := json.Unmarshal([]byte(out), &ls); err != nil || len(ls.Replicas) != 1 {
		return fmt.Errorf("lsreplica --json: %v %+v", err, ls)
	}
	originKey := ls.Replicas[0].PublicKey

	d.say("Create bangalore: creation packet out of boston, into a new database at bangalore")
	create := d.path("bangalore-create.pkt")
	if _, err := d.multiutil(exitOK, "mkreplica", "-export", "--db", boston, "--name", "bangalore", "--out", create); err != nil {
		return err
	}
	if _, err := d.multiutil(exitOK, "lspacket", create); err != nil {
		return err
	}
	if _, err := d.multiutil(exitOK, "mkreplica", "-import", "--db", blr, "--in", create, "--origin-key", originKey); err != nil {
		return err
	}

	d.say("Unidirectional sync boston -> bangalore while bangalore is receive-only")
	if err := d.exec(boston, `UPDATE defect SET state = 'assigned' WHERE id = 1`); err != nil {
		return err
	}
	if _, err := d.multiutil(exitOK, "syncreplica", "-export", "--db", boston, "--to", "bangalore", "--bay", bay); err != nil {
		return err
	}
	if _, err := d.multiutil(exitOK, "syncreplica", "-import", "--db", blr, "--bay", bay); err != nil {
		return err
	}

	d.say("Validated: make bangalore active; it creates a defect and syncs back")
	if _, err := d.multiutil(exitOK, "chstate", "--db", blr, "--state", "active"); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", dsn(blr))
	if err != nil {
		return err
	}
	id, err := multisite.NextID(d.ctx, db, nil, "defect")
	db.Close()
	if err != nil {
		return err
	}
	if err := d.exec(blr, `INSERT INTO defect (id, project, headline) VALUES (?, 'WEB', 'reported in bangalore')`, id); err != nil {
		return err
	}
	if _, err := d.multiutil(exitOK, "syncreplica", "-export", "--db", blr, "--to", "boston", "--bay", bay); err != nil {
		return err
	}
	pkts, _ := filepath.Glob(filepath.Join(bay, "*.pkt"))
	if _, err := d.multiutil(exitOK, append([]string{"lspacket"}, pkts...)...); err != nil {
		return err
	}
	if _, err := d.multiutil(exitOK, "syncreplica", "-import", "--db", boston, "--bay", bay); err != nil {
		return err
	}

	d.say("Mistakes are refused and change nothing")
	if _, err := d.multiutil(exitFail, "chmaster", "--db", boston, "--table", "defect", "--to", "dublin", "--key", "2"); err != nil {
		return err
	}
	if _, err := d.multiutil(exitFail, "syncreplica", "-import", "--db", boston, "--bay", d.path("no-such-bay")); err != nil {
		return err
	}
	if _, err := d.multiutil(exitFail, "rmreplica", "--db", blr); err != nil { // it masters the defect it created
		return err
	}
	if _, err := d.multiutil(exitFail, "recoverpacket", "--db", boston, "--to", "dublin", "--bay", bay); err != nil {
		return err
	}

	d.say("Hand defect 2 and its notes to bangalore; bangalore closes it")
	if _, err := d.multiutil(exitOK, "chmaster", "--db", boston, "--table", "defect", "--to", "bangalore", "--key", "2"); err != nil {
		return err
	}
	if _, err := d.multiutil(exitOK, "chmaster", "--db", boston, "--table", "defect_note", "--to", "bangalore", "--key", "2,1", "--key", "2,2"); err != nil {
		return err
	}
	if err := d.exec(blr, `UPDATE defect SET state = 'closed' WHERE id = 2`); err == nil {
		return fmt.Errorf("bangalore changed defect 2 before the transfer arrived")
	}
	if _, err := d.multiutil(exitOK, "syncreplica", "-export", "--db", boston, "--to", "all", "--bay", bay); err != nil {
		return err
	}
	if _, err := d.multiutil(exitOK, "syncreplica", "-import", "--db", blr, "--bay", bay); err != nil {
		return err
	}
	if err := d.exec(blr, `UPDATE defect SET state = 'closed' WHERE id = 2`); err != nil {
		return err
	}
	if err := d.exec(blr, `UPDATE defect_note SET body = 'fixed in 2.1' WHERE defect_id = 2 AND seq = 2`); err != nil {
		return err
	}
	if _, err := d.multiutil(exitOK, "syncreplica", "-export", "--db", blr, "--to", "boston", "--bay", bay); err != nil {
		return err
	}
	if _, err := d.multiutil(exitOK, "syncreplica", "-import", "--db", boston, "--bay", bay); err != nil {
		return err
	}
	// One more round so boston learns what bangalore holds and the other way.
	if _, err := d.multiutil(exitOK, "syncreplica", "-export", "--db", boston, "--to", "bangalore", "--bay", bay); err != nil {
		return err
	}
	if _, err := d.multiutil(exitOK, "syncreplica", "-import", "--db", blr, "--bay", bay); err != nil {
		return err
	}

	d.say("boston deletes defect 1; once bangalore has acknowledged the deletion, prune drops its tombstone")
	if err := d.exec(boston, `DELETE FROM defect WHERE id = 1`); err != nil {
		return err
	}
	for _, args := range [][]string{
		{"syncreplica", "-export", "--db", boston, "--to", "bangalore", "--bay", bay},
		{"syncreplica", "-import", "--db", blr, "--bay", bay},
		{"syncreplica", "-export", "--db", blr, "--to", "boston", "--bay", bay},
		{"syncreplica", "-import", "--db", boston, "--bay", bay},
		{"prune", "--db", boston},
	} {
		if _, err := d.multiutil(exitOK, args...); err != nil {
			return err
		}
	}

	if err := d.schema(boston, blr, bay); err != nil {
		return err
	}

	d.say("Look at the family from both sites")
	for _, args := range [][]string{
		{"lsreplica", "--db", boston},
		{"lsepoch", "--db", boston},
		{"lsepoch", "--db", blr},
		{"describe", "--db", blr},
	} {
		if _, err := d.multiutil(exitOK, args...); err != nil {
			return err
		}
	}

	d.say("Compare the replicas (content hash of every replicated table)")
	var hashes []string
	for _, p := range []string{boston, blr} {
		db, err := sql.Open("sqlite", dsn(p))
		if err != nil {
			return err
		}
		h, err := multisite.ContentHash(d.ctx, db)
		db.Close()
		if err != nil {
			return err
		}
		fmt.Fprintf(d.stdout, "  %-14s %s\n", filepath.Base(p), h)
		hashes = append(hashes, h)
	}
	if hashes[0] != hashes[1] {
		return fmt.Errorf("replicas diverged")
	}
	return nil
}

// schema shows the schema verbs: a trigger dropped by hand is seen and
// repaired, and a migration applied at boston, the schema master, reaches
// bangalore in an ordinary packet.
func (d *demoRun) schema(boston, blr, bay string) error {
	d.say("Check the schema: a trigger dropped by hand is seen and repaired")
	if _, err := d.multiutil(exitOK, "schema", "status", "--db", boston); err != nil {
		return err
	}
	var out, errOut bytes.Buffer // the trigger's name, from the JSON status
	if code := run([]string{"schema", "status", "--db", boston, "--json"}, &out, &errOut); code != exitOK {
		return fmt.Errorf("schema status --json: exit status %d: %s", code, errOut.String())
	}
	var st schemaStatusJSON
	if err := json.Unmarshal(out.Bytes(), &st); err != nil {
		return fmt.Errorf("schema status --json: %v", err)
	}
	trigger := ""
	for _, t := range st.Tables {
		for _, tr := range t.Triggers {
			if t.Name == "defect" && tr.Kind == "capture" && trigger == "" {
				trigger = tr.Name
			}
		}
	}
	if trigger == "" {
		return fmt.Errorf("schema status --json lists no capture trigger of defect")
	}
	fmt.Fprintf(d.stdout, "\n(someone runs DROP TRIGGER %s at boston)\n", trigger)
	if err := d.exec(boston, `DROP TRIGGER `+trigger); err != nil {
		return err
	}
	d.limit = 12
	defer func() { d.limit = 0 }()
	for _, c := range []struct {
		want int
		args []string
	}{
		{exitFail, []string{"schema", "status", "--db", boston}},
		{exitOK, []string{"schema", "repair", "--db", boston, "--dry-run"}},
		{exitOK, []string{"schema", "repair", "--db", boston}},
		{exitOK, []string{"schema", "status", "--db", boston}},
		{exitOK, []string{"schema", "upgrade", "--db", blr, "--dry-run"}},
	} {
		if _, err := d.multiutil(c.want, c.args...); err != nil {
			return err
		}
	}

	d.say("Migrate the schema at boston, the schema master; the next packet carries the migration to bangalore")
	dir := d.path("migrations")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "0001_add_priority.sql"), []byte("-- +goose Up\nALTER TABLE defect ADD COLUMN priority INTEGER;\n"), 0o644); err != nil {
		return err
	}
	for _, c := range []struct {
		want int
		args []string
	}{
		{exitFail, []string{"schema", "migrate", "--db", blr, "--dir", dir}},
		{exitOK, []string{"schema", "migrate", "--db", boston, "--dir", dir, "--dry-run"}},
		{exitOK, []string{"schema", "migrate", "--db", boston, "--dir", dir}},
		{exitOK, []string{"syncreplica", "-export", "--db", boston, "--to", "bangalore", "--bay", bay}},
		{exitOK, []string{"syncreplica", "-import", "--db", blr, "--bay", bay}},
		{exitOK, []string{"schema", "migrations", "--db", blr, "--dir", dir}},
	} {
		if _, err := d.multiutil(c.want, c.args...); err != nil {
			return err
		}
	}
	return nil
}

// demoPlan is the demo's deployment plan: the databases and the bay of
// the walk-through (filled in with fmt).
const demoPlan = `family: defects
codepage: windows-1252
sites:
  - {name: boston, vendor: sqlite, dsn: %q, working: true}
  - {name: bangalore, vendor: sqlite, dsn: %q}
sync: {pattern: all-to-all, every: 15m}
mastership: {policy: creator}
transport: {kind: bay, bay: %q}
`

// demoBadPlan has mistakes plan validate must find, all at once.
const demoBadPlan = `family: defects
codepage: windows-1525
sites:
  - {name: boston, vendor: sqlite, working: true}
  - {name: bangalore, vendor: oracle}
  - {name: dublin, vendor: postgres}
sync: {pattern: hub-and-spoke, hub: london, every: 0s}
transport: {kind: bay, bay: /mnt/bay}
`
