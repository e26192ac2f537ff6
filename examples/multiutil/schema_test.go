package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/multisite-go/multisite"
)

// statusOut decodes schema status --json, which exits 1 when the replica
// needs repair.
func statusOut(t *testing.T, want int, db string) schemaStatusJSON {
	t.Helper()
	out, _ := multiutil(t, want, "schema", "status", "--db", db, "--json")
	var st schemaStatusJSON
	require.NoError(t, jsonUnmarshal(out, &st), out)
	return st
}

func jsonUnmarshal(s string, v any) error {
	return json.Unmarshal([]byte(s), v)
}

// captureTrigger returns the name of a capture trigger of table.
func captureTrigger(t *testing.T, st schemaStatusJSON, table string) string {
	t.Helper()
	for _, tb := range st.Tables {
		if tb.Name == table {
			for _, tr := range tb.Triggers {
				if tr.Kind == "capture" {
					return tr.Name
				}
			}
		}
	}
	t.Fatalf("no capture trigger of %s in %+v", table, st)
	return ""
}

func TestSchemaStatusAndRepair(t *testing.T) {
	f := newFamily(t)
	st := statusOut(t, exitOK, f.boston)
	if !st.Clean || st.Format != multisite.MetadataFormat || st.SchemaMaster != f.bostonID || st.SchemaMasterName != "boston" || st.Local != f.bostonID || len(st.Problems) != 0 {
		t.Errorf("status of a fresh replica = %+v", st)
	}
	replicated := map[string]bool{}
	for _, tb := range st.Tables {
		replicated[tb.Name] = tb.Replicated
		if tb.Replicated && (!tb.MasterField || !tb.Shadow || !tb.Current || len(tb.Triggers) == 0) {
			t.Errorf("table %+v is not current", tb)
		}
	}
	if diff := cmp.Diff(map[string]bool{"defect": true, "note": true, "scratch": false}, replicated); diff != "" {
		t.Errorf("replicated tables (-want +got):\n%s", diff)
	}
	out, _ := multiutil(t, exitOK, "schema", "status", "--db", f.boston)
	for _, want := range []string{"schema master boston (" + f.bostonID + "), this replica", "scratch  no", "3/3 ok", "clean"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}

	// A trigger dropped by hand.
	trig := captureTrigger(t, st, "defect")
	execTest(t, f.boston, `DROP TRIGGER `+trig)
	out, stderr := multiutil(t, exitFail, "schema", "status", "--db", f.boston)
	for _, want := range []string{"capture trigger " + trig + " is missing", "3/4 ok, missing" /* defect has an integer key: SQLite adds a key trigger of each kind */, "schema repair --db " + f.boston} {
		if !strings.Contains(out, want) {
			t.Errorf("status after dropping %s lacks %q:\n%s", trig, want, out)
		}
	}
	if !strings.Contains(stderr, trig) || !strings.Contains(stderr, "schema repair") {
		t.Errorf("status stderr does not name %s and suggest schema repair: %q", trig, stderr)
	}
	st = statusOut(t, exitFail, f.boston)
	if st.Clean || !st.Repairable || len(st.Problems) != 1 || !strings.Contains(st.Problems[0], "defect: capture trigger "+trig+" is missing") {
		t.Errorf("status --json after dropping %s = %+v", trig, st)
	}

	// The dry run prints the plan and changes nothing.
	before := fileHash(t, f.boston)
	out, _ = multiutil(t, exitOK, "schema", "repair", "--db", f.boston, "--dry-run")
	if !strings.Contains(out, `CREATE TRIGGER "`+trig+`"`) || !strings.Contains(out, "dry run") || !strings.Contains(out, "defect") {
		t.Errorf("repair --dry-run output:\n%s", out)
	}
	var dry struct {
		DryRun  bool       `json:"dry_run"`
		Tables  []string   `json:"tables"`
		Steps   []stepJSON `json:"steps"`
		Applied bool       `json:"applied"`
	}
	jsonOut(t, &dry, "schema", "repair", "--db", f.boston, "--dry-run", "--json")
	if !dry.DryRun || dry.Applied || len(dry.Steps) == 0 || !cmp.Equal(dry.Tables, []string{"defect"}) {
		t.Errorf("repair --dry-run --json = %+v", dry)
	}
	if fileHash(t, f.boston) != before {
		t.Fatalf("repair --dry-run changed the database")
	}
	statusOut(t, exitFail, f.boston)

	// The repair runs the plan it prints.
	out, _ = multiutil(t, exitOK, "schema", "repair", "--db", f.boston)
	if !strings.Contains(out, `CREATE TRIGGER "`+trig+`"`) || !strings.Contains(out, "repaired the triggers of defect") {
		t.Errorf("repair output:\n%s", out)
	}
	if st = statusOut(t, exitOK, f.boston); !st.Clean {
		t.Errorf("status after repair = %+v", st)
	}
	out, _ = multiutil(t, exitOK, "schema", "repair", "--db", f.boston)
	if !strings.Contains(out, "nothing to repair") {
		t.Errorf("second repair: %s", out)
	}
	// Captured again: the change travels.
	execTest(t, f.boston, `UPDATE defect SET headline = 'after repair' WHERE id = 1`)
	multiutil(t, exitOK, "syncreplica", "-export", "--db", f.boston, "--to", "bangalore", "--bay", f.bay)
	multiutil(t, exitOK, "syncreplica", "-import", "--db", f.blr, "--bay", f.bay)
	if contentHash(t, f.boston) != contentHash(t, f.blr) {
		t.Errorf("replicas differ after the repair")
	}

	// What repair cannot fix is said, with exit 1 and nothing changed.
	execTest(t, f.boston, `ALTER TABLE defect ADD COLUMN by_hand TEXT`)
	before = fileHash(t, f.boston)
	_, stderr = multiutil(t, exitFail, "schema", "status", "--db", f.boston)
	if !strings.Contains(stderr, "column by_hand is not replicated") || strings.Contains(stderr, "schema repair") {
		t.Errorf("status of an unrecorded column: %q", stderr)
	}
	_, stderr = multiutil(t, exitFail, "schema", "repair", "--db", f.boston)
	if !strings.Contains(stderr, "repair cannot fix") || !strings.Contains(stderr, "by_hand") || !strings.Contains(stderr, "schema migrate") {
		t.Errorf("repair of an unrecorded column: %q", stderr)
	}
	// A migration would take the column into replication at boston only.
	mdir := writeMigrations(t, f.dir, map[string]string{"0001_x.sql": "CREATE TABLE x (id INTEGER PRIMARY KEY);"})
	for _, dry := range []bool{true, false} {
		args := []string{"schema", "migrate", "--db", f.boston, "--dir", mdir}
		if dry {
			args = append(args, "--dry-run")
		}
		_, stderr = multiutil(t, exitFail, args...)
		if !strings.Contains(stderr, "refused") || !strings.Contains(stderr, "column by_hand is not replicated") {
			t.Errorf("migrate with a column added by hand: %q", stderr)
		}
	}
	if fileHash(t, f.boston) != before {
		t.Errorf("a refused repair or migrate changed the database")
	}
}

// writeMigrations writes files into a new directory under dir.
func writeMigrations(t *testing.T, dir string, files map[string]string) string {
	t.Helper()
	mdir := filepath.Join(dir, "migrations")
	require.NoError(t, os.MkdirAll(mdir, 0o755))
	for name, text := range files {
		require.NoError(t, os.WriteFile(filepath.Join(mdir, name), []byte(text), 0o644))
	}
	return mdir
}

type migrationsOut []struct {
	Version   int64  `json:"version"`
	Name      string `json:"name"`
	State     string `json:"state"`
	AppliedBy string `json:"applied_by"`
}

func (m migrationsOut) states() []string {
	var out []string
	for _, s := range m {
		out = append(out, fmt.Sprintf("%d %s %s", s.Version, s.Name, s.State))
	}
	return out
}

func TestSchemaMigrate(t *testing.T) {
	f := newFamily(t)
	mdir := writeMigrations(t, f.dir, map[string]string{
		"0001_add_priority.sql": "ALTER TABLE defect ADD COLUMN priority INTEGER;\n",
		"0002_milestone.sql":    "-- +goose Up\nCREATE TABLE milestone (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n-- +goose Down\nDROP TABLE milestone;\n",
		"README.txt":            "not a migration",
	})

	var ms migrationsOut
	jsonOut(t, &ms, "schema", "migrations", "--db", f.boston, "--dir", mdir, "--json")
	if diff := cmp.Diff([]string{"1 add_priority pending", "2 milestone pending"}, ms.states()); diff != "" {
		t.Errorf("migrations before (-want +got):\n%s", diff)
	}

	// bangalore is not the schema master: refused, nothing changed.
	blrBefore := fileHash(t, f.blr)
	for _, args := range [][]string{
		{"schema", "migrate", "--db", f.blr, "--dir", mdir},
		{"schema", "migrate", "--db", f.blr, "--dir", mdir, "--dry-run"},
	} {
		_, stderr := multiutil(t, exitFail, args...)
		for _, want := range []string{"refused", "bangalore (" + f.blrID + ") is not the family's schema master", "boston (" + f.bostonID + ")", "nothing changed"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("migrate at bangalore: stderr %q lacks %q", stderr, want)
			}
		}
	}
	if fileHash(t, f.blr) != blrBefore {
		t.Fatalf("a refused migrate changed bangalore")
	}

	// The dry run at boston prints the SQL and changes nothing.
	before := fileHash(t, f.boston)
	out, _ := multiutil(t, exitOK, "schema", "migrate", "--db", f.boston, "--dir", mdir, "--dry-run")
	for _, want := range []string{"ALTER TABLE defect ADD COLUMN priority INTEGER", "CREATE TABLE milestone", "dry run: would apply 1 add_priority, 2 milestone; schema version 0 -> 2"} {
		if !strings.Contains(out, want) {
			t.Errorf("migrate --dry-run lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "DROP TABLE milestone") {
		t.Errorf("migrate --dry-run runs the Down section:\n%s", out)
	}
	if fileHash(t, f.boston) != before {
		t.Fatalf("migrate --dry-run changed the database")
	}

	var rep struct {
		DryRun     bool            `json:"dry_run"`
		From       int64           `json:"from"`
		To         int64           `json:"to"`
		Applied    []migrationJSON `json:"applied"`
		Replicated []string        `json:"replicated"`
		Changed    []string        `json:"changed"`
		Steps      []stepJSON      `json:"steps"`
	}
	jsonOut(t, &rep, "schema", "migrate", "--db", f.boston, "--dir", mdir, "--json")
	if rep.DryRun || len(rep.Applied) != 2 || !cmp.Equal(rep.Replicated, []string{"milestone"}) || !cmp.Equal(rep.Changed, []string{"defect"}) || len(rep.Steps) == 0 {
		t.Errorf("migrate --json = %+v", rep)
	}
	out, _ = multiutil(t, exitOK, "schema", "migrate", "--db", f.boston, "--dir", mdir)
	if !strings.Contains(out, "nothing to migrate: schema version 2") {
		t.Errorf("second migrate: %s", out)
	}

	st := statusOut(t, exitOK, f.boston)
	var applied []string
	for _, m := range st.Migrations {
		applied = append(applied, fmt.Sprintf("%d %s %s", m.Version, m.Name, m.AppliedBy))
	}
	if diff := cmp.Diff([]string{"1 add_priority " + f.bostonID, "2 milestone " + f.bostonID}, applied); diff != "" || st.SchemaVersion != 2 {
		t.Errorf("status after migrate: version %d, migrations (-want +got):\n%s", st.SchemaVersion, diff)
	}
	out, _ = multiutil(t, exitOK, "schema", "status", "--db", f.boston)
	for _, want := range []string{"migrations applied: 2", "add_priority", "milestone  yes", "schema version 2"} {
		if !strings.Contains(out, want) {
			t.Errorf("status after migrate lacks %q:\n%s", want, out)
		}
	}

	// The migrations travel to bangalore in an ordinary packet.
	jsonOut(t, &ms, "schema", "migrations", "--db", f.blr, "--dir", mdir, "--json")
	if diff := cmp.Diff([]string{"1 add_priority pending", "2 milestone pending"}, ms.states()); diff != "" {
		t.Errorf("migrations at bangalore before the packet (-want +got):\n%s", diff)
	}
	multiutil(t, exitOK, "syncreplica", "-export", "--db", f.boston, "--to", "bangalore", "--bay", f.bay)
	multiutil(t, exitOK, "syncreplica", "-import", "--db", f.blr, "--bay", f.bay)
	jsonOut(t, &ms, "schema", "migrations", "--db", f.blr, "--dir", mdir, "--json")
	if diff := cmp.Diff([]string{"1 add_priority applied", "2 milestone applied"}, ms.states()); diff != "" || ms[0].AppliedBy != f.blrID {
		t.Errorf("migrations at bangalore after the packet (-want +got):\n%s\n%+v", diff, ms)
	}
	if st := statusOut(t, exitOK, f.blr); st.SchemaVersion != 2 || st.SchemaMasterName != "boston" {
		t.Errorf("status at bangalore = %+v", st)
	}
	out, _ = multiutil(t, exitOK, "schema", "migrations", "--db", f.blr, "--dir", mdir)
	if !strings.Contains(out, "add_priority") || !strings.Contains(out, "applied") || !strings.Contains(out, "bangalore") {
		t.Errorf("migrations at bangalore:\n%s", out)
	}

	// One more, in words.
	require.NoError(t, os.WriteFile(filepath.Join(mdir, "0003_owner.sql"), []byte("ALTER TABLE milestone ADD COLUMN owner TEXT;\n"), 0o644))
	out, _ = multiutil(t, exitOK, "schema", "migrate", "--db", f.boston, "--dir", mdir)
	for _, want := range []string{"-- migration 3 (owner)", "ALTER TABLE milestone ADD COLUMN owner TEXT;", "replicated tables changed: milestone", "applied 3 owner; schema version 2 -> 3"} {
		if !strings.Contains(out, want) {
			t.Errorf("migrate of 0003_owner.sql lacks %q:\n%s", want, out)
		}
	}

	// An applied migration whose file changed: refused, and listed.
	require.NoError(t, os.WriteFile(filepath.Join(mdir, "0001_add_priority.sql"), []byte("ALTER TABLE defect ADD COLUMN priority TEXT;\n"), 0o644))
	before = fileHash(t, f.boston)
	_, stderr := multiutil(t, exitFail, "schema", "migrate", "--db", f.boston, "--dir", mdir)
	if !strings.Contains(stderr, "checksum") {
		t.Errorf("migrate of a changed migration: %q", stderr)
	}
	out, stderr = multiutil(t, exitFail, "schema", "migrations", "--db", f.boston, "--dir", mdir)
	if !strings.Contains(out, "CHANGED since applied") || !strings.Contains(stderr, "1 add_priority") {
		t.Errorf("migrations of a changed migration:\n%s\n%s", out, stderr)
	}
	if fileHash(t, f.boston) != before {
		t.Errorf("a refused migrate changed boston")
	}
}

func TestSchemaUpgrade(t *testing.T) {
	require.Equal(t, 12, multisite.MetadataFormat, "the test downgrades format 12 to format 1")
	f := newFamily(t)
	// What format 1 of the library wrote (as the library's own upgrade test).
	db := openTest(t, f.boston)
	var names []string
	rows, err := db.Query(`SELECT name FROM ms_table`)
	require.NoError(t, err)
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		names = append(names, n)
	}
	require.NoError(t, rows.Err())
	require.NoError(t, db.Close())
	for _, n := range names { // format 7: the proof columns
		execTest(t, f.boston, `ALTER TABLE ms_row_`+n+` DROP COLUMN ms_proof`, `ALTER TABLE ms_xfer_`+n+` DROP COLUMN ms_proof`)
	}
	execTest(t, f.boston,
		`ALTER TABLE ms_request DROP COLUMN links`,  // format 12
		`ALTER TABLE ms_request DROP COLUMN signer`, // format 10
		`ALTER TABLE ms_request DROP COLUMN proof`,
		`ALTER TABLE ms_replica DROP COLUMN signer`, // format 9
		`ALTER TABLE ms_replica DROP COLUMN proof`,
		`ALTER TABLE ms_replica DROP COLUMN chain`,
		`ALTER TABLE ms_replica DROP COLUMN invite`,
		`DROP TABLE ms_migration`,
		`DROP TABLE ms_schema`,
		`DROP TABLE ms_sent`,
		`DROP TABLE ms_gap`,
		`DROP TABLE ms_part`,
		`ALTER TABLE ms_table DROP COLUMN version`,
		`UPDATE ms_ctl SET format = 1`,
		`DROP INDEX ms_ix_row_defect_epoch`, // formats 1 and 2 indexed pending changes too (as ms_row_defect_epoch)
		`CREATE INDEX ms_row_defect_epoch ON ms_row_defect (ms_origin, ms_epoch)`,
		`DROP TABLE ms_refuse`,   // format 5
		`DROP TABLE ms_sealed`,   // format 8
		`DROP TABLE ms_proof`,    // format 8
		`DROP TABLE ms_partdata`, // format 11
	)
	before := fileHash(t, f.boston)
	mdir := writeMigrations(t, f.dir, map[string]string{"0001_x.sql": "CREATE TABLE x (id INTEGER PRIMARY KEY);"})
	// Nothing but upgrade touches an older database.
	for _, args := range [][]string{
		{"schema", "status", "--db", f.boston},
		{"schema", "repair", "--db", f.boston, "--dry-run"},
		{"schema", "repair", "--db", f.boston},
		{"schema", "migrate", "--db", f.boston, "--dir", mdir, "--dry-run"},
		{"schema", "migrations", "--db", f.boston, "--dir", mdir},
	} {
		_, stderr := multiutil(t, exitFail, args...)
		if !strings.Contains(stderr, "metadata format 1") || !strings.Contains(stderr, "schema upgrade --db "+f.boston) {
			t.Errorf("%v on format 1: %q", args, stderr)
		}
	}
	var st struct {
		Format int  `json:"format"`
		Clean  bool `json:"clean"`
	}
	out, _ := multiutil(t, exitFail, "schema", "status", "--db", f.boston, "--json")
	require.NoError(t, jsonUnmarshal(out, &st))
	if st.Format != 1 || st.Clean {
		t.Errorf("status --json of format 1 = %+v", st)
	}
	out, _ = multiutil(t, exitOK, "schema", "upgrade", "--db", f.boston, "--dry-run")
	if !strings.Contains(out, "CREATE TABLE ms_migration") || !strings.Contains(out, "from format 1 to 12; nothing changed") {
		t.Errorf("upgrade --dry-run:\n%s", out)
	}
	if fileHash(t, f.boston) != before {
		t.Fatalf("a refused verb or upgrade --dry-run changed the database")
	}
	var up struct {
		From, To int
		Steps    []stepJSON
		Applied  bool
	}
	jsonOut(t, &up, "schema", "upgrade", "--db", f.boston, "--json")
	epochIndex := false
	for _, st := range up.Steps {
		epochIndex = epochIndex || strings.Contains(st.SQL, "WHERE ms_epoch IS NOT NULL")
	}
	if up.From != 1 || up.To != multisite.MetadataFormat || !up.Applied || !epochIndex {
		t.Errorf("upgrade --json = %+v", up)
	}
	if s := statusOut(t, exitOK, f.boston); !s.Clean || s.Format != multisite.MetadataFormat {
		t.Errorf("status after upgrade = %+v", s)
	}
	out, _ = multiutil(t, exitOK, "schema", "upgrade", "--db", f.boston)
	if !strings.Contains(out, "nothing to upgrade") {
		t.Errorf("second upgrade: %s", out)
	}

	// A database of a newer library is refused by every verb.
	execTest(t, f.blr, `UPDATE ms_ctl SET format = 99`)
	before = fileHash(t, f.blr)
	for _, verb := range []string{"status", "repair", "upgrade"} {
		_, stderr := multiutil(t, exitFail, "schema", verb, "--db", f.blr)
		if !strings.Contains(stderr, "format 99") {
			t.Errorf("schema %s on format 99: %q", verb, stderr)
		}
	}
	if fileHash(t, f.blr) != before {
		t.Errorf("refusals changed a newer database")
	}
}

func TestSchemaBadInput(t *testing.T) {
	f := newFamily(t)
	plain := production(t, t.TempDir()) // no replica
	mdir := writeMigrations(t, f.dir, map[string]string{"0001_x.sql": "CREATE TABLE x (id INTEGER PRIMARY KEY);"})
	empty := filepath.Join(f.dir, "empty")
	require.NoError(t, os.Mkdir(empty, 0o755))
	hashes := func() []string { return []string{fileHash(t, f.boston), fileHash(t, f.blr), fileHash(t, plain)} }
	before := hashes()
	for _, c := range []struct {
		code int
		args []string
		msg  string
	}{
		{exitUsage, []string{}, "give a sub-verb"},
		{exitUsage, []string{"check"}, `unknown sub-verb "check"`},
		{exitUsage, []string{"status"}, "--db is required"},
		{exitUsage, []string{"status", "--db", f.boston, "--bogus"}, "flag provided but not defined"},
		{exitUsage, []string{"status", "--db", f.boston, "--dry-run"}, "flag provided but not defined"},
		{exitUsage, []string{"status", "--db", f.boston, "extra"}, `unexpected argument "extra"`},
		{exitUsage, []string{"repair", "--dry-run"}, "--db is required"},
		{exitUsage, []string{"upgrade", "--db", f.boston, "--dir", mdir}, "flag provided but not defined"},
		{exitUsage, []string{"migrate", "--db", f.boston}, "--dir is required"},
		{exitUsage, []string{"migrate", "--dir", mdir}, "--db is required"},
		{exitUsage, []string{"migrations", "--db", f.boston}, "--dir is required"},
		{exitFail, []string{"migrate", "--db", f.boston, "--dir", filepath.Join(f.dir, "nope")}, "migrations directory " + filepath.Join(f.dir, "nope") + ": no such file or directory"},
		{exitFail, []string{"migrate", "--db", f.boston, "--dir", f.boston}, "not a directory"},
		{exitFail, []string{"migrate", "--db", f.boston, "--dir", empty}, "holds no migration files"},
		{exitFail, []string{"migrations", "--db", f.boston, "--dir", filepath.Join(f.dir, "nope")}, "no such file or directory"},
		{exitFail, []string{"status", "--db", filepath.Join(f.dir, "missing.db")}, "missing.db: no such file or directory"},
		{exitFail, []string{"repair", "--db", filepath.Join(f.dir, "missing.db")}, "no such file or directory"},
		{exitFail, []string{"status", "--db", plain}, "is not a replica"},
		{exitFail, []string{"status", "--db", plain, "--json"}, "is not a replica"},
		{exitFail, []string{"repair", "--db", plain}, "is not a replica"},
		{exitFail, []string{"repair", "--db", plain, "--dry-run"}, "is not a replica"},
		{exitFail, []string{"upgrade", "--db", plain}, "is not a replica"},
		{exitFail, []string{"upgrade", "--db", plain, "--dry-run"}, "is not a replica"},
		{exitFail, []string{"migrate", "--db", plain, "--dir", mdir}, "is not a replica"},
		{exitFail, []string{"migrations", "--db", plain, "--dir", mdir}, "is not a replica"},
	} {
		_, stderr := multiutil(t, c.code, append([]string{"schema"}, c.args...)...)
		if !strings.Contains(stderr, c.msg) {
			t.Errorf("schema %v: stderr %q lacks %q", c.args, stderr, c.msg)
		}
	}
	// A sub-verb's mistake shows that sub-verb's usage.
	_, stderr := multiutil(t, exitUsage, "schema", "migrate", "--db", f.boston)
	if !strings.Contains(stderr, "multiutil schema migrate: --dir is required\nusage: multiutil schema migrate --db F --dir DIR [--dry-run] [--json]\n") || strings.Contains(stderr, "schema status") {
		t.Errorf("usage of schema migrate: %q", stderr)
	}
	if diff := cmp.Diff(before, hashes()); diff != "" {
		t.Errorf("bad input changed a database (-before +after):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "missing.db")); !os.IsNotExist(err) {
		t.Errorf("a schema verb created a database: %v", err)
	}

	// Help: the group, each sub-verb, and the overview.
	out, _ := multiutil(t, exitOK, "schema", "--help")
	for _, c := range schemaCommands() {
		if !strings.Contains(out, "multiutil "+c.name+" "+c.usage) {
			t.Errorf("schema --help lacks %s:\n%s", c.name, out)
		}
		sub := strings.TrimPrefix(c.name, "schema ")
		out, _ := multiutil(t, exitOK, "schema", sub, "--help")
		if !strings.Contains(out, "usage: multiutil "+c.name+" --db F") || !strings.Contains(out, "-db") {
			t.Errorf("schema %s --help:\n%s", sub, out)
		}
		if strings.Contains(c.usage, "--dry-run") != strings.Contains(out, "-dry-run") || strings.Contains(c.usage, "--dir") != strings.Contains(out, "-dir") {
			t.Errorf("schema %s --help does not match its usage %q:\n%s", sub, c.usage, out)
		}
	}
	out, _ = multiutil(t, exitOK, "help", "schema")
	if !strings.Contains(out, "multiutil schema migrate --db F --dir DIR") {
		t.Errorf("help schema:\n%s", out)
	}
}

// TestSchemaServer: status and repair on PostgreSQL and MySQL/MariaDB,
// whose triggers the catalog describes differently.
func TestSchemaServer(t *testing.T) {
	for _, vendor := range []string{"postgres", "mysql"} {
		t.Run(vendor, func(t *testing.T) {
			db := serverDB(t, vendor)
			f := newFamily(t)
			pkt := filepath.Join(f.dir, "dublin.pkt")
			multiutil(t, exitOK, "mkreplica", "-export", "--db", f.boston, "--name", "dublin", "--out", pkt)
			multiutil(t, exitOK, "mkreplica", "-import", "--db", db, "--in", pkt)
			st := statusOut(t, exitOK, db)
			if !st.Clean || st.Dialect != vendor || st.SchemaMasterName != "boston" {
				t.Fatalf("status on %s = %+v", vendor, st)
			}
			trig := captureTrigger(t, st, "defect")
			driver, source, _ := server(db)
			conn, err := sql.Open(driver, source)
			require.NoError(t, err)
			defer conn.Close()
			drop := `DROP TRIGGER ` + trig
			if vendor == "postgres" {
				drop += ` ON defect`
			}
			_, err = conn.Exec(drop)
			require.NoError(t, err)
			_, stderr := multiutil(t, exitFail, "schema", "status", "--db", db)
			if !strings.Contains(stderr, "capture trigger "+trig+" is missing") {
				t.Errorf("status after dropping %s: %q", trig, stderr)
			}
			multiutil(t, exitOK, "schema", "repair", "--db", db, "--dry-run")
			statusOut(t, exitFail, db)
			multiutil(t, exitOK, "schema", "repair", "--db", db)
			if st := statusOut(t, exitOK, db); !st.Clean {
				t.Errorf("status after repair = %+v", st)
			}
		})
	}
}

func TestSchemaTransferMaster(t *testing.T) {
	f := newFamily(t)
	mdir := writeMigrations(t, f.dir, map[string]string{"0001_add_priority.sql": "ALTER TABLE defect ADD COLUMN priority INTEGER;\n"})
	hashes := func() []string { return []string{fileHash(t, f.boston), fileHash(t, f.blr)} }

	// Bad input: exit 2 for usage, 1 for the refusals; nothing changes.
	before := hashes()
	for _, c := range []struct {
		code int
		args []string
		msg  []string
	}{
		{exitUsage, []string{"--db", f.boston}, []string{"--to is required", "usage: multiutil schema transfer-master --db F --to REPLICA [--json]"}},
		{exitUsage, []string{"--to", "bangalore"}, []string{"--db is required"}},
		{exitUsage, []string{"--db", f.boston, "--to", "bangalore", "extra"}, []string{`unexpected argument "extra"`}},
		{exitUsage, []string{"--db", f.boston, "--to", "bangalore", "--dry-run"}, []string{"flag provided but not defined"}},
		{exitFail, []string{"--db", f.boston, "--to", "chennai"}, []string{`unknown replica "chennai"`, "boston", "bangalore"}},
		{exitFail, []string{"--db", filepath.Join(f.dir, "missing.db"), "--to", "bangalore"}, []string{"no such file or directory"}},
		{exitFail, []string{"--db", f.blr, "--to", "bangalore"}, []string{"refused", "bangalore (" + f.blrID + ") is not the family's schema master", "boston (" + f.bostonID + ")", "nothing changed"}},
		{exitFail, []string{"--db", f.blr, "--to", f.bostonID, "--json"}, []string{"refused", "is not the family's schema master", "nothing changed"}},
	} {
		_, stderr := multiutil(t, c.code, append([]string{"schema", "transfer-master"}, c.args...)...)
		for _, want := range c.msg {
			if !strings.Contains(stderr, want) {
				t.Errorf("schema transfer-master %v: stderr %q lacks %q", c.args, stderr, want)
			}
		}
	}
	// The master handing the schema to itself writes nothing.
	var self struct {
		From        string `json:"from"`
		To          string `json:"to"`
		Transferred bool   `json:"transferred"`
	}
	jsonOut(t, &self, "schema", "transfer-master", "--db", f.boston, "--to", "boston", "--json")
	if self.From != f.bostonID || self.To != f.bostonID || self.Transferred {
		t.Errorf("transfer-master to itself --json = %+v", self)
	}
	if diff := cmp.Diff(before, hashes()); diff != "" {
		t.Fatalf("bad input changed a database (-before +after):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "missing.db")); !os.IsNotExist(err) {
		t.Errorf("transfer-master created a database: %v", err)
	}

	// boston hands the schema to bangalore.
	out, _ := multiutil(t, exitOK, "schema", "transfer-master", "--db", f.boston, "--to", "bangalore")
	for _, want := range []string{"from boston (" + f.bostonID + ") to bangalore (" + f.blrID + ")", "travels in the next packet", "apply migrations at bangalore"} {
		if !strings.Contains(out, want) {
			t.Errorf("transfer-master output lacks %q:\n%s", want, out)
		}
	}
	if st := statusOut(t, exitOK, f.boston); st.SchemaMaster != f.blrID {
		t.Errorf("status at boston after the transfer = %+v", st)
	}
	// boston no longer masters the schema: a second hand-over is refused.
	before = hashes()
	_, stderr := multiutil(t, exitFail, "schema", "transfer-master", "--db", f.boston, "--to", f.blrID)
	if !strings.Contains(stderr, "boston ("+f.bostonID+") is not the family's schema master") || !strings.Contains(stderr, "bangalore ("+f.blrID+")") {
		t.Errorf("second transfer at boston: %q", stderr)
	}
	if diff := cmp.Diff(before, hashes()); diff != "" {
		t.Fatalf("a refused transfer changed a database (-before +after):\n%s", diff)
	}

	// A packet each way; then migrations are refused at boston, applied at
	// bangalore.
	multiutil(t, exitOK, "syncreplica", "-export", "--db", f.boston, "--to", "bangalore", "--bay", f.bay)
	multiutil(t, exitOK, "syncreplica", "-import", "--db", f.blr, "--bay", f.bay)
	multiutil(t, exitOK, "syncreplica", "-export", "--db", f.blr, "--to", "boston", "--bay", f.bay)
	multiutil(t, exitOK, "syncreplica", "-import", "--db", f.boston, "--bay", f.bay)
	if st := statusOut(t, exitOK, f.blr); st.SchemaMaster != f.blrID || st.SchemaMasterName != "bangalore" {
		t.Errorf("status at bangalore after the packet = %+v", st)
	}
	before = hashes()
	_, stderr = multiutil(t, exitFail, "schema", "migrate", "--db", f.boston, "--dir", mdir)
	if !strings.Contains(stderr, "refused") || !strings.Contains(stderr, "run schema migrate at bangalore ("+f.blrID+")") {
		t.Errorf("migrate at boston after the transfer: %q", stderr)
	}
	if diff := cmp.Diff(before, hashes()); diff != "" {
		t.Fatalf("a refused migrate changed a database (-before +after):\n%s", diff)
	}
	out, _ = multiutil(t, exitOK, "schema", "migrate", "--db", f.blr, "--dir", mdir)
	if !strings.Contains(out, "applied 1 add_priority; schema version 0 -> 1") {
		t.Errorf("migrate at bangalore:\n%s", out)
	}
	// The migration travels back to boston.
	multiutil(t, exitOK, "syncreplica", "-export", "--db", f.blr, "--to", "boston", "--bay", f.bay)
	multiutil(t, exitOK, "syncreplica", "-import", "--db", f.boston, "--bay", f.bay)
	if st := statusOut(t, exitOK, f.boston); st.SchemaVersion != 1 || st.SchemaMasterName != "bangalore" {
		t.Errorf("status at boston after the migration's packet = %+v", st)
	}
}

// TestSchemaVerify: a row changed past the triggers (here with the
// library's switch set by hand on one connection) is listed by schema
// verify (exit 1) and by schema status, and schema repair records it again
// so it travels.
func TestSchemaVerify(t *testing.T) {
	f := newFamily(t)
	out, _ := multiutil(t, exitOK, "schema", "verify", "--db", f.boston)
	if !strings.Contains(out, "all inside the rules") {
		t.Fatalf("verify of a fresh replica:\n%s", out)
	}
	// One Exec, one connection: the TEMP table is seen by it alone.
	execTest(t, f.boston, `CREATE TEMP TABLE ms_applying (id INTEGER); UPDATE defect SET headline = 'past the triggers' WHERE id = 1; DROP TABLE temp.ms_applying`)
	out, stderr := multiutil(t, exitFail, "schema", "verify", "--db", f.boston)
	if !strings.Contains(out, "defect[1] altered") || !strings.Contains(stderr, "schema repair") {
		t.Errorf("verify after the bypass:\n%s\n%s", out, stderr)
	}
	if st := statusOut(t, exitFail, f.boston); st.Clean {
		t.Errorf("status after the bypass is clean")
	}
	multiutil(t, exitOK, "schema", "repair", "--db", f.boston)
	multiutil(t, exitOK, "schema", "verify", "--db", f.boston)
	multiutil(t, exitOK, "syncreplica", "-export", "--db", f.boston, "--to", "bangalore", "--bay", f.bay)
	multiutil(t, exitOK, "syncreplica", "-import", "--db", f.blr, "--bay", f.bay)
	if contentHash(t, f.boston) != contentHash(t, f.blr) {
		t.Errorf("the repaired row did not travel")
	}
}
