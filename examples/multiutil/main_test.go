package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/multisite-go/multisite"
)

// multiutil runs the tool in-process and checks its exit status.
func multiutil(t *testing.T, want int, args ...string) (stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	if got := run(args, &out, &errOut); got != want {
		t.Fatalf("multiutil %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), got, want, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}

// jsonOut runs a verb that must succeed and decodes its --json output.
func jsonOut(t *testing.T, v any, args ...string) {
	t.Helper()
	out, _ := multiutil(t, exitOK, args...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("multiutil %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func openTest(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", dsn(path))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func execTest(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db := openTest(t, path)
	for _, q := range stmts {
		_, err := db.Exec(q)
		require.NoError(t, err, q)
	}
	require.NoError(t, db.Close())
}

// production makes an ordinary database, not yet a replica.
func production(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "boston.db")
	execTest(t, path,
		`CREATE TABLE defect (id INTEGER PRIMARY KEY, headline TEXT NOT NULL)`,
		`CREATE TABLE note (defect_id INTEGER NOT NULL, seq INTEGER NOT NULL, body TEXT, PRIMARY KEY (defect_id, seq))`,
		`CREATE TABLE scratch (k TEXT PRIMARY KEY, v TEXT)`,
		`INSERT INTO defect VALUES (1, 'crash on save'), (2, 'login loops'), (3, 'Résumé upload')`,
		`INSERT INTO note VALUES (2, 1, 'seen by Zoë'), (2, 2, 'a, b')`,
		`INSERT INTO scratch VALUES ('x', 'local only')`,
	)
	return path
}

func fileHash(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func contentHash(t *testing.T, path string) string {
	t.Helper()
	h, err := multisite.ContentHash(context.Background(), openTest(t, path))
	require.NoError(t, err)
	return h
}

type lsreplicaOut struct {
	Family   string        `json:"family"`
	Local    string        `json:"local"`
	CodePage string        `json:"code_page"`
	Replicas []replicaJSON `json:"replicas"`
}

// family is boston activated plus bangalore created and made active.
type family struct {
	dir, bay, boston, blr string
	bostonID, blrID       string
}

func newFamily(t *testing.T) *family {
	t.Helper()
	dir := t.TempDir()
	f := &family{dir: dir, bay: filepath.Join(dir, "bay"), boston: production(t, dir), blr: filepath.Join(dir, "bangalore.db")}
	require.NoError(t, os.Mkdir(f.bay, 0o755))
	multiutil(t, exitOK, "activate", "--db", f.boston, "--name", "boston", "--codepage", "1252", "--exclude", "scratch")
	pkt := filepath.Join(dir, "blr.pkt")
	multiutil(t, exitOK, "mkreplica", "-export", "--db", f.boston, "--name", "bangalore", "--out", pkt)
	multiutil(t, exitOK, "mkreplica", "-import", "--db", f.blr, "--in", pkt)
	multiutil(t, exitOK, "activate-replica", "--db", f.blr)
	var ls lsreplicaOut
	jsonOut(t, &ls, "lsreplica", "--db", f.boston, "--json")
	require.Len(t, ls.Replicas, 2)
	f.bostonID, f.blrID = ls.Replicas[0].ID, ls.Replicas[1].ID
	return f
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	db := production(t, dir)
	before := fileHash(t, db)
	tests := []struct {
		name string
		args []string
	}{
		{"unknown verb", []string{"frobnicate"}},
		{"unknown flag", []string{"lsreplica", "--db", db, "--bogus"}},
		{"missing --db", []string{"describe"}},
		{"stray argument", []string{"lsepoch", "--db", db, "extra"}},
		{"schema without sub-verb", []string{"schema"}},
		{"schema status without --db", []string{"schema", "status"}},
		{"rmreplica without --db", []string{"rmreplica", "--transfer-to", "boston"}},
		{"rmreplica unknown flag", []string{"rmreplica", "--db", db, "--force"}},
		{"recoverpacket without --bay", []string{"recoverpacket", "--db", db, "--to", "x"}},
		{"recoverpacket bad --since", []string{"recoverpacket", "--db", db, "--to", "x", "--bay", dir, "--since", "x:1"}},
		{"restorereplica stray argument", []string{"restorereplica", "--db", db, "now"}},
		{"prune unknown flag", []string{"prune", "--db", db, "--all"}},
		{"plan without sub-verb", []string{"plan"}},
		{"plan unknown sub-verb", []string{"plan", "check", "x.yaml"}},
		{"plan validate without file", []string{"plan", "validate", "--json"}},
		{"mkreplica without mode", []string{"mkreplica", "--db", db, "--name", "x", "--out", filepath.Join(dir, "x.pkt")}},
		{"mkreplica both modes", []string{"mkreplica", "-export", "-import", "--db", db}},
		{"mkreplica short origin key", []string{"mkreplica", "-import", "--db", filepath.Join(dir, "new.db"), "--in", "x.pkt", "--origin-key", "abcd"}},
		{"syncreplica without --to", []string{"syncreplica", "-export", "--db", db, "--bay", dir}},
		{"syncreplica -import with --to", []string{"syncreplica", "-import", "--db", db, "--bay", dir, "--to", "x"}},
		{"chstate removed", []string{"chstate", "--db", db, "--state", "removed"}},
		{"chmaster without --key", []string{"chmaster", "--db", db, "--table", "defect", "--to", "x"}},
		{"chmaster empty --key", []string{"chmaster", "--db", db, "--table", "defect", "--to", "x", "--key", ""}},
		{"unknown code page", []string{"validatecharset", "--db", db, "--codepage", "klingon"}},
		{"activate unknown code page", []string{"activate", "--db", db, "--name", "b", "--codepage", "klingon"}},
		{"negative --max", []string{"validatecharset", "--db", db, "--codepage", "1252", "--max", "-1"}},
		{"lspacket without files", []string{"lspacket", "--json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr := multiutil(t, exitUsage, tt.args...)
			if strings.TrimSpace(stderr) == "" {
				t.Errorf("no message on stderr")
			}
		})
	}
	if got := fileHash(t, db); got != before {
		t.Errorf("usage errors changed the database")
	}
	if _, err := os.Stat(filepath.Join(dir, "new.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a usage error created a database: %v", err)
	}
}

func TestHelp(t *testing.T) {
	for _, c := range commands() {
		if c.later || c.name == "plan" || c.name == "schema" { // their help: TestPlanVerbs, TestSchemaBadInput
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			out, _ := multiutil(t, exitOK, c.name, "--help")
			if !strings.Contains(out, "usage: multiutil "+c.name) || !strings.Contains(out, "-db") && c.name != "lspacket" && c.name != "version" {
				t.Errorf("help of %s lacks usage or flags:\n%s", c.name, out)
			}
		})
	}
	out, _ := multiutil(t, exitOK, "help")
	for _, verb := range []string{"recoverpacket", "restorereplica", "rmreplica", "prune", "plan", "schema",
		"lsmaster", "reqmaster", "lsrequest", "grantrequest", "denyrequest", "lscollision", "resolvecollision",
		"comparereplica", "cleancharset", "rotatekey", "deactivate", "version", "sync", "serve"} {
		if !strings.Contains(out, "\n  "+verb+" ") {
			t.Errorf("overview does not list %s", verb)
		}
	}
	if strings.Contains(out, "not yet available") {
		t.Errorf("overview lists verbs as not yet available, but every verb is:\n%s", out)
	}
}

func TestActivate(t *testing.T) {
	dir := t.TempDir()
	db := production(t, dir)
	before := fileHash(t, db)

	var plan struct {
		Dialect string
		Steps   []struct{ Comment, SQL string }
	}
	jsonOut(t, &plan, "activate", "--db", db, "--name", "boston", "--exclude", "scratch", "--plan", "--json")
	if plan.Dialect != "sqlite" || len(plan.Steps) == 0 {
		t.Errorf("plan = %s with %d steps, want sqlite steps", plan.Dialect, len(plan.Steps))
	}
	for _, s := range plan.Steps {
		if strings.Contains(s.SQL, `"scratch"`) {
			t.Errorf("plan touches the excluded table: %s", s.SQL)
		}
	}
	if got := fileHash(t, db); got != before {
		t.Fatalf("activate --plan changed the database")
	}
	multiutil(t, exitFail, "describe", "--db", db) // not a replica yet

	var got struct {
		Family   string      `json:"family"`
		CodePage string      `json:"code_page"`
		Tables   []string    `json:"tables"`
		Replica  replicaJSON `json:"replica"`
	}
	jsonOut(t, &got, "activate", "--db", db, "--name", "boston", "--codepage", "1252", "--exclude", "scratch", "--json")
	if diff := cmp.Diff([]string{"defect", "note"}, got.Tables); diff != "" {
		t.Errorf("replicated tables (-want +got):\n%s", diff)
	}
	if got.CodePage != "windows-1252" || got.Replica.Name != "boston" || got.Replica.State != "active" || got.Family == "" {
		t.Errorf("activate --json = %+v", got)
	}
	_, stderr := multiutil(t, exitFail, "activate", "--db", db, "--name", "again")
	if !strings.Contains(stderr, "already") {
		t.Errorf("second activation: stderr %q does not say the database already is a replica", stderr)
	}
	multiutil(t, exitFail, "activate", "--db", filepath.Join(dir, "missing.db"), "--name", "x")
	if _, err := os.Stat(filepath.Join(dir, "missing.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("activate created a missing database: %v", err)
	}
}

func TestMkreplica(t *testing.T) {
	dir := t.TempDir()
	boston := production(t, dir)
	multiutil(t, exitOK, "activate", "--db", boston, "--name", "boston", "--exclude", "scratch")
	var ls lsreplicaOut
	jsonOut(t, &ls, "lsreplica", "--db", boston, "--json")
	originKey := ls.Replicas[0].PublicKey

	pkt := filepath.Join(dir, "blr.pkt")
	var exp struct {
		Replica   replicaJSON    `json:"replica"`
		Rows      int            `json:"rows"`
		Tables    map[string]int `json:"tables"`
		OriginKey string         `json:"origin_key"`
	}
	jsonOut(t, &exp, "mkreplica", "-export", "--db", boston, "--name", "bangalore", "--out", pkt, "--json")
	if exp.Replica.Name != "bangalore" || exp.Replica.State != "receive-only" || exp.Rows != 5 || exp.OriginKey != originKey {
		t.Errorf("mkreplica -export --json = %+v", exp)
	}
	if fi, err := os.Stat(pkt); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("creation packet: %v, mode %v; want 0600 (it holds a private key)", err, fi.Mode())
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
	// Never overwrite a packet; a duplicate name is refused by the library.
	multiutil(t, exitFail, "mkreplica", "-export", "--db", boston, "--name", "dublin", "--out", pkt)
	multiutil(t, exitFail, "mkreplica", "-export", "--db", boston, "--name", "bangalore", "--out", filepath.Join(dir, "again.pkt"))

	var pk []packetJSON
	jsonOut(t, &pk, "lspacket", pkt, "--json")
	want := map[string]*tableRecord{"defect": {Rows: 3}, "note": {Rows: 2}}
	if diff := cmp.Diff(want, pk[0].Tables); diff != "" {
		t.Errorf("lspacket tables (-want +got):\n%s", diff)
	}
	if pk[0].Kind != "creation" || !pk[0].Invite || !pk[0].Checksum || pk[0].Signature != "not verified" {
		t.Errorf("lspacket = %+v", pk[0])
	}

	// A wrong origin key refuses the packet and leaves no database behind.
	wrong := filepath.Join(dir, "wrong.db")
	multiutil(t, exitFail, "mkreplica", "-import", "--db", wrong, "--in", pkt, "--origin-key", strings.Repeat("ab", 32))
	if _, err := os.Stat(wrong); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed import left a database: %v", err)
	}

	blr := filepath.Join(dir, "bangalore.db")
	var imp struct {
		Replica replicaJSON              `json:"replica"`
		Tables  map[string]tableCountsJS `json:"tables"`
	}
	jsonOut(t, &imp, "mkreplica", "-import", "--db", blr, "--in", pkt, "--origin-key", originKey, "--json")
	if imp.Replica.ID != exp.Replica.ID || imp.Replica.State != "receive-only" || imp.Tables["defect"].Inserted != 3 {
		t.Errorf("mkreplica -import --json = %+v", imp)
	}
	if contentHash(t, blr) != contentHash(t, boston) {
		t.Errorf("new replica differs from its origin")
	}
	multiutil(t, exitFail, "mkreplica", "-import", "--db", blr, "--in", pkt) // already a replica
	multiutil(t, exitFail, "syncreplica", "-export", "--db", blr, "--to", "boston", "--bay", dir)
	multiutil(t, exitOK, "chstate", "--db", blr, "--state", "active")
	var d struct {
		Local replicaJSON `json:"local"`
	}
	jsonOut(t, &d, "describe", "--db", blr, "--json")
	if d.Local.State != "active" {
		t.Errorf("state after chstate = %s", d.Local.State)
	}
}

func TestSyncAndChmaster(t *testing.T) {
	f := newFamily(t)
	execTest(t, f.boston, `UPDATE defect SET headline = 'crash on save (v2)' WHERE id = 1`)

	var d struct {
		Pending int `json:"pending"`
		Tables  []struct {
			Name    string `json:"name"`
			Pending int    `json:"pending"`
		} `json:"tables"`
	}
	jsonOut(t, &d, "describe", "--db", f.boston, "--json")
	if d.Pending != 1 {
		t.Errorf("pending before export = %d, want 1 (%+v)", d.Pending, d.Tables)
	}

	var exp []exportJSON
	jsonOut(t, &exp, "syncreplica", "-export", "--db", f.boston, "--to", "bangalore", "--bay", f.bay, "--json")
	if len(exp) != 1 || exp[0].Target != f.blrID || exp[0].Rows != 1 || filepath.Dir(exp[0].File) != f.bay || !strings.HasSuffix(exp[0].File, ".pkt") {
		t.Fatalf("syncreplica -export --json = %+v", exp)
	}
	if left, _ := filepath.Glob(filepath.Join(f.bay, "*.tmp")); len(left) > 0 {
		t.Errorf("temporary files left in the bay: %v", left)
	}
	// A half-written packet (.pkt.tmp) is not taken.
	require.NoError(t, os.WriteFile(filepath.Join(f.bay, "boston-bangalore-1.pkt.tmp"), []byte("MSPK half"), 0o644))

	var imp []importJSON
	jsonOut(t, &imp, "syncreplica", "-import", "--db", f.blr, "--bay", f.bay, "--json")
	if len(imp) != 1 || imp[0].Status != "imported" || imp[0].Tables["defect"].Updated != 1 || imp[0].MovedTo != filepath.Join(f.bay, "done", filepath.Base(exp[0].File)) {
		t.Fatalf("syncreplica -import --json = %+v", imp)
	}
	if _, err := os.Stat(imp[0].MovedTo); err != nil {
		t.Errorf("imported packet not in done/: %v", err)
	}

	// Mastership of a composite-key row and of an integer-key row, by ID.
	var cm struct{ Transferred int }
	jsonOut(t, &cm, "chmaster", "--db", f.boston, "--table", "note", "--to", f.blrID, "--key", "2,1", "--key", "2,2", "--json")
	if cm.Transferred != 2 {
		t.Errorf("chmaster transferred %d rows, want 2", cm.Transferred)
	}
	multiutil(t, exitOK, "chmaster", "--db", f.boston, "--table", "defect", "--to", "bangalore", "--key", "2")
	// boston no longer masters them: a second transfer fails.
	multiutil(t, exitFail, "chmaster", "--db", f.boston, "--table", "defect", "--to", "bangalore", "--key", "2")
	multiutil(t, exitFail, "chmaster", "--db", f.boston, "--table", "defect", "--to", "bangalore", "--key", "999")
	multiutil(t, exitFail, "chmaster", "--db", f.boston, "--table", "scratch", "--to", "bangalore", "--key", "x")

	multiutil(t, exitOK, "syncreplica", "-export", "--db", f.boston, "--to", "all", "--bay", f.bay)
	multiutil(t, exitOK, "syncreplica", "-import", "--db", f.blr, "--bay", f.bay)
	execTest(t, f.blr, `UPDATE defect SET headline = 'fixed at bangalore' WHERE id = 2`, `UPDATE note SET body = 'c' WHERE defect_id = 2 AND seq = 2`)
	multiutil(t, exitOK, "syncreplica", "-export", "--db", f.blr, "--to", "boston", "--bay", f.bay)
	multiutil(t, exitOK, "syncreplica", "-import", "--db", f.boston, "--bay", f.bay)
	multiutil(t, exitOK, "syncreplica", "-export", "--db", f.boston, "--to", "bangalore", "--bay", f.bay)
	multiutil(t, exitOK, "syncreplica", "-import", "--db", f.blr, "--bay", f.bay)
	if a, b := contentHash(t, f.boston), contentHash(t, f.blr); a != b {
		t.Errorf("content hashes differ after syncing both ways: %s vs %s", a, b)
	}

	var ep struct {
		Local  string                       `json:"local"`
		Epoch  uint64                       `json:"epoch"`
		Names  map[string]string            `json:"names"`
		Matrix map[string]map[string]uint64 `json:"matrix"`
	}
	jsonOut(t, &ep, "lsepoch", "--db", f.blr, "--json")
	if ep.Local != f.blrID || ep.Names[f.bostonID] != "boston" {
		t.Errorf("lsepoch --json = %+v", ep)
	}
	// bangalore holds everything boston has sealed, and boston's view of
	// bangalore matches bangalore's own after the last round.
	if ep.Matrix[f.blrID][f.blrID] != ep.Epoch || ep.Matrix[f.bostonID][f.blrID] != ep.Epoch || ep.Matrix[f.blrID][f.bostonID] == 0 {
		t.Errorf("epoch matrix = %v, local epoch %d", ep.Matrix, ep.Epoch)
	}

	var ls lsreplicaOut
	jsonOut(t, &ls, "lsreplica", "--db", f.blr, "--json")
	var states []string
	for _, r := range ls.Replicas {
		states = append(states, r.Name+" "+r.State)
	}
	if diff := cmp.Diff([]string{"boston active", "bangalore active"}, states); diff != "" {
		t.Errorf("lsreplica (-want +got):\n%s", diff)
	}
	if ls.Replicas[1].KeyRange[0] != 1<<40+1 || !ls.Replicas[1].Local || ls.CodePage != "windows-1252" {
		t.Errorf("lsreplica --json = %+v", ls)
	}
}

func TestSyncImportBay(t *testing.T) {
	f := newFamily(t)

	t.Run("missing bay", func(t *testing.T) {
		before := fileHash(t, f.blr)
		_, stderr := multiutil(t, exitFail, "syncreplica", "-import", "--db", f.blr, "--bay", filepath.Join(f.dir, "nope"))
		if !strings.Contains(stderr, "nope") {
			t.Errorf("stderr %q does not name the bay", stderr)
		}
		multiutil(t, exitFail, "syncreplica", "-export", "--db", f.boston, "--to", "bangalore", "--bay", filepath.Join(f.dir, "nope"))
		if fileHash(t, f.blr) != before {
			t.Errorf("database changed")
		}
	})

	t.Run("unknown replica", func(t *testing.T) {
		before := fileHash(t, f.boston)
		_, stderr := multiutil(t, exitFail, "syncreplica", "-export", "--db", f.boston, "--to", "dublin", "--bay", f.bay)
		if !strings.Contains(stderr, `"dublin"`) {
			t.Errorf("stderr %q does not name the unknown replica", stderr)
		}
		multiutil(t, exitFail, "chmaster", "--db", f.boston, "--table", "defect", "--to", "dublin", "--key", "1")
		if fileHash(t, f.boston) != before {
			t.Errorf("database changed")
		}
		if pk, _ := filepath.Glob(filepath.Join(f.bay, "*")); len(pk) != 0 {
			t.Errorf("bay not empty: %v", pk)
		}
	})

	t.Run("others skipped, corrupt moved to failed", func(t *testing.T) {
		// A packet for boston sits in the same bay; bangalore must leave it.
		multiutil(t, exitOK, "syncreplica", "-export", "--db", f.blr, "--to", "boston", "--bay", f.bay)
		execTest(t, f.boston, `UPDATE defect SET headline = 'x' WHERE id = 3`)
		multiutil(t, exitOK, "syncreplica", "-export", "--db", f.boston, "--to", "bangalore", "--bay", f.bay)
		require.NoError(t, os.WriteFile(filepath.Join(f.bay, "zz-corrupt.pkt"), []byte("not a packet at all"), 0o644))
		good, _ := filepath.Glob(filepath.Join(f.bay, "boston-bangalore-*.pkt"))
		require.Len(t, good, 1)

		out, stderr := multiutil(t, exitFail, "syncreplica", "-import", "--db", f.blr, "--bay", f.bay, "--json")
		var imp []importJSON
		require.NoError(t, json.Unmarshal([]byte(out), &imp), out)
		var got []string
		for _, r := range imp {
			got = append(got, filepath.Base(r.File)+" "+r.Status+" "+filepath.Base(filepath.Dir(r.MovedTo)))
		}
		want := []string{filepath.Base(good[0]) + " imported done", "zz-corrupt.pkt failed failed"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("import results (-want +got):\n%s", diff)
		}
		if imp[1].Error == "" || !strings.Contains(stderr, "failed") {
			t.Errorf("failure not reported: %+v, stderr %q", imp[1], stderr)
		}
		left, _ := filepath.Glob(filepath.Join(f.bay, "*.pkt"))
		if len(left) != 1 || !strings.HasPrefix(filepath.Base(left[0]), "bangalore-boston-") {
			t.Errorf("bay holds %v, want only the packet for boston", left)
		}
		var pk []packetJSON
		out, _ = multiutil(t, exitFail, "lspacket", "--json", filepath.Join(f.bay, "failed", "zz-corrupt.pkt"), left[0])
		require.NoError(t, json.Unmarshal([]byte(out), &pk), out)
		if len(pk) != 2 || pk[0].Error == "" || pk[1].Error != "" || pk[1].Kind != "sync" || pk[1].Target != f.bostonID {
			t.Errorf("lspacket --json = %+v", pk)
		}
	})
}

// A packet from a replica the importer does not know yet is retried once
// another packet of the same run has brought its registry entry.
func TestSyncImportRetriesUnknownOrigin(t *testing.T) {
	f := newFamily(t)
	pkt := filepath.Join(f.dir, "aachen.pkt")
	aachen := filepath.Join(f.dir, "aachen.db")
	// Bangalore enrols at boston, its creator, with its first packet;
	// aachen, created after, then does the same; it has not yet had
	// boston's answer, so it cannot yet show bangalore the creation entry
	// boston signed for it.
	multiutil(t, exitOK, "syncreplica", "-export", "--db", f.blr, "--to", "boston", "--bay", f.bay)
	multiutil(t, exitOK, "syncreplica", "-import", "--db", f.boston, "--bay", f.bay)
	multiutil(t, exitOK, "mkreplica", "-export", "--db", f.boston, "--name", "aachen", "--out", pkt)
	multiutil(t, exitOK, "mkreplica", "-import", "--db", aachen, "--in", pkt)
	multiutil(t, exitOK, "chstate", "--db", aachen, "--state", "active")
	multiutil(t, exitOK, "syncreplica", "-export", "--db", aachen, "--to", "boston", "--bay", f.bay)
	multiutil(t, exitOK, "syncreplica", "-import", "--db", f.boston, "--bay", f.bay)
	execTest(t, aachen, `INSERT INTO defect (id, headline) VALUES (2199023255553, 'from aachen')`) // replica 2's first key
	multiutil(t, exitOK, "syncreplica", "-export", "--db", aachen, "--to", "bangalore", "--bay", f.bay)
	multiutil(t, exitOK, "syncreplica", "-export", "--db", f.boston, "--to", "bangalore", "--bay", f.bay)

	var imp []importJSON
	jsonOut(t, &imp, "syncreplica", "-import", "--db", f.blr, "--bay", f.bay, "--json")
	var got []string
	for _, r := range imp {
		ok := r.Status == "imported" || r.Status == "duplicate" // boston's brings aachen's creation entry
		got = append(got, fmt.Sprintf("%s ok=%v", strings.SplitN(filepath.Base(r.File), "-", 2)[0], ok))
	}
	// aachen's packet sorts first and fails on the first pass.
	if diff := cmp.Diff([]string{"aachen ok=true", "boston ok=true"}, got); diff != "" {
		t.Errorf("import results (-want +got):\n%s", diff)
	}
}

func TestValidatecharset(t *testing.T) {
	dir := t.TempDir()
	db := production(t, dir)
	execTest(t, db, `INSERT INTO defect VALUES (4, 'check ✓ and ☃')`)
	before := fileHash(t, db)
	out, _ := multiutil(t, exitFail, "validatecharset", "--db", db, "--codepage", "1252", "--json")
	var rep multisite.CharsetReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	var got []string
	for _, v := range rep.Violations {
		got = append(got, v.Table+"["+v.Key+"]."+v.Column+" "+v.Char)
	}
	sort.Strings(got)
	if diff := cmp.Diff([]string{"defect[4].headline ☃", "defect[4].headline ✓"}, got); diff != "" {
		t.Errorf("violations (-want +got):\n%s", diff)
	}
	out, _ = multiutil(t, exitFail, "validatecharset", "--db", db, "--codepage", "windows-1252", "--max", "1", "--json")
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	if len(rep.Violations) != 1 || !rep.Truncated {
		t.Errorf("--max 1: %d violations, truncated %v", len(rep.Violations), rep.Truncated)
	}
	jsonOut(t, &rep, "validatecharset", "--db", db, "--codepage", "UTF-8", "--json")
	if len(rep.Violations) != 0 || rep.Rows != 7 {
		t.Errorf("UTF-8: %+v", rep)
	}
	if fileHash(t, db) != before {
		t.Errorf("validatecharset changed the database")
	}
	multiutil(t, exitFail, "validatecharset", "--db", filepath.Join(dir, "missing.db"), "--codepage", "1252")
}

// TestDemo is what CI runs: go run ./examples/multiutil with no arguments.
func TestDemo(t *testing.T) {
	out, stderr := multiutil(t, exitOK)
	if !strings.HasPrefix(out, "usage: multiutil") || !strings.Contains(out, "demo complete") {
		t.Errorf("demo output lacks usage or completion:\n%s\nstderr:\n%s", out, stderr)
	}
}

// Long operations draw progress bars on stderr when asked (on a terminal,
// or with MULTIUTIL_PROGRESS=always), and nothing when output is a pipe.
func TestProgressBars(t *testing.T) {
	f := newFamily(t)
	execTest(t, f.boston, `UPDATE defect SET headline = headline || ' (edited)'`)
	multiutil(t, exitOK, "syncreplica", "-export", "--db", f.boston, "--to", "bangalore", "--bay", f.bay)
	t.Setenv("MULTIUTIL_PROGRESS", "always")
	_, stderr := multiutil(t, exitOK, "syncreplica", "-import", "--db", f.blr, "--bay", f.bay)
	if !strings.Contains(stderr, "import ") || !strings.Contains(stderr, "100%") {
		t.Errorf("stderr %q has no finished import progress bar", stderr)
	}
	// The bar counts rows and bytes of the uncompressed stream, with
	// their rate, then the commit as a phase of its own.
	counts := regexp.MustCompile(`(\d[\d,]*) rows, (\d+(?:\.\d)? (?:B|KiB|MiB)) \(\d+(?:\.\d)? (?:B|KiB|MiB)/s\)`).FindAllStringSubmatch(stderr, -1)
	if len(counts) == 0 {
		t.Fatalf("stderr %q shows no rows and stream bytes with their rate", stderr)
	}
	var rows int
	db := openTest(t, f.boston)
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM defect`).Scan(&rows))
	if got := counts[len(counts)-1][1]; got != strconv.Itoa(rows) {
		t.Errorf("the bar ends at %s rows, want the %d rows edited at boston", got, rows)
	}
	if i, j := strings.LastIndex(stderr, " rows, "), strings.Index(stderr, ": commit"); j < 0 || j < i {
		t.Errorf("stderr %q shows no commit phase after the rows", stderr)
	}
	// Not a terminal: progressbar draws to 80 columns, and no line is
	// longer (a longer line wraps, and every redraw adds a line).
	for _, line := range strings.FieldsFunc(stderr, func(r rune) bool { return r == '\r' || r == '\n' }) {
		if n := utf8.RuneCountInString(line); n > 80 {
			t.Errorf("a line of %d columns, wider than 80: %q", n, line)
		}
	}
	t.Setenv("MULTIUTIL_PROGRESS", "")
	_, stderr = multiutil(t, exitOK, "syncreplica", "-export", "--db", f.blr, "--to", "boston", "--bay", f.bay)
	if strings.Contains(stderr, "%") {
		t.Errorf("a progress bar was drawn into a pipe: %q", stderr)
	}
}
