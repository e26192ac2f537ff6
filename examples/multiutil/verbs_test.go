package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// blrKey is bangalore's first integer key (replica number 1).
const blrKey = "1099511627777"

// baySnapshot lists the files in a bay, subdirectories included.
func baySnapshot(t *testing.T, bay string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(bay, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return err
	}))
	return out
}

func TestRecoverpacket(t *testing.T) {
	f := newFamily(t)
	execTest(t, f.boston, `UPDATE defect SET headline = 'lost change' WHERE id = 1`)
	multiutil(t, exitOK, "syncreplica", "-export", "--db", f.boston, "--to", "bangalore", "--bay", f.bay)
	lost, _ := filepath.Glob(filepath.Join(f.bay, "*.pkt"))
	require.Len(t, lost, 1)
	require.NoError(t, os.Remove(lost[0])) // the packet never arrives

	t.Run("bad input changes nothing", func(t *testing.T) {
		before := fileHash(t, f.boston)
		for _, c := range []struct {
			code int
			args []string
			msg  string
		}{
			{exitFail, []string{"--to", "dublin", "--bay", f.bay}, `unknown replica "dublin"`},
			{exitFail, []string{"--to", "bangalore", "--bay", filepath.Join(f.dir, "nope")}, "storage bay"},
			{exitFail, []string{"--to", "bangalore", "--bay", f.bay, "--since", "cairo=1"}, `unknown replica "cairo"`},
			{exitUsage, []string{"--to", "bangalore", "--bay", f.bay, "--since", "boston"}, "ORIGIN=EPOCH"},
			{exitUsage, []string{"--to", "bangalore", "--bay", f.bay, "--since", "boston=-1"}, "ORIGIN=EPOCH"},
			{exitUsage, []string{"--to", "boston", "--bay", f.bay}, "local replica"},
			{exitUsage, []string{"--to", "all", "--bay", f.bay}, "one replica"},
			{exitUsage, []string{"--bay", f.bay}, "--to is required"},
		} {
			_, stderr := multiutil(t, c.code, append([]string{"recoverpacket", "--db", f.boston}, c.args...)...)
			if !strings.Contains(stderr, c.msg) {
				t.Errorf("recoverpacket %v: stderr %q lacks %q", c.args, stderr, c.msg)
			}
		}
		if fileHash(t, f.boston) != before {
			t.Errorf("database changed")
		}
		if got := baySnapshot(t, f.bay); len(got) != 0 {
			t.Errorf("bay holds %v", got)
		}
	})

	// By default, what bangalore has not acknowledged: the lost row.
	var rec exportJSON
	jsonOut(t, &rec, "recoverpacket", "--db", f.boston, "--to", "bangalore", "--bay", f.bay, "--json")
	if rec.Target != f.blrID || filepath.Dir(rec.File) != f.bay || rec.Rows != 1 || rec.Tables["defect"] != 1 {
		t.Errorf("recoverpacket --json = %+v, want the lost row only", rec)
	}
	// The same from bangalore's own request (its acknowledgement).
	ackBay := t.TempDir()
	multiutil(t, exitOK, "syncreplica", "-ack", "--db", f.blr, "--to", "boston", "--bay", ackBay)
	req, _ := filepath.Glob(filepath.Join(ackBay, "*.pkt"))
	require.Len(t, req, 1)
	var byReq exportJSON
	jsonOut(t, &byReq, "recoverpacket", "--db", f.boston, "--to", "bangalore", "--bay", ackBay, "--request", req[0], "--json")
	if byReq.Rows != 1 || byReq.Tables["defect"] != 1 {
		t.Errorf("recoverpacket --request = %+v, want the lost row only", byReq)
	}
	var imp []importJSON
	jsonOut(t, &imp, "syncreplica", "-import", "--db", f.blr, "--bay", f.bay, "--json")
	if len(imp) != 1 || imp[0].Status != "imported" || imp[0].Tables["defect"].Updated != 1 {
		t.Fatalf("import of the recovery packet = %+v", imp)
	}
	if contentHash(t, f.boston) != contentHash(t, f.blr) {
		t.Errorf("replicas differ after the recovery packet")
	}

	// --since: only what came after the given epoch.
	var ep struct {
		Epoch uint64 `json:"epoch"`
	}
	jsonOut(t, &ep, "lsepoch", "--db", f.boston, "--json")
	execTest(t, f.boston, `UPDATE defect SET headline = 'newer' WHERE id = 2`)
	jsonOut(t, &rec, "recoverpacket", "--db", f.boston, "--to", f.blrID, "--bay", f.bay, "--since", "boston="+strconv.FormatUint(ep.Epoch, 10), "--json")
	if rec.Rows != 1 || rec.Tables["defect"] != 1 || rec.Epoch != ep.Epoch+1 {
		t.Errorf("recoverpacket --since boston=%d = %+v, want the one newer row", ep.Epoch, rec)
	}
	out, _ := multiutil(t, exitOK, "recoverpacket", "--db", f.boston, "--to", "bangalore", "--bay", f.bay, "--since", "boston=0,bangalore=0")
	if !strings.Contains(out, "every change after bangalore=0, boston=0") && !strings.Contains(out, "every change after boston=0, bangalore=0") {
		t.Errorf("recoverpacket output: %s", out)
	}
	multiutil(t, exitOK, "syncreplica", "-import", "--db", f.blr, "--bay", f.bay)
	if contentHash(t, f.boston) != contentHash(t, f.blr) {
		t.Errorf("replicas differ after --since packets")
	}
}

func TestRmreplica(t *testing.T) {
	f := newFamily(t)
	execTest(t, f.blr, `INSERT INTO defect (id, headline) VALUES (`+blrKey+`, 'made in bangalore')`)
	multiutil(t, exitOK, "syncreplica", "-export", "--db", f.blr, "--to", "boston", "--bay", f.bay)
	multiutil(t, exitOK, "syncreplica", "-import", "--db", f.boston, "--bay", f.bay)

	before := fileHash(t, f.blr)
	_, stderr := multiutil(t, exitFail, "rmreplica", "--db", f.blr)
	if !strings.Contains(stderr, "still masters rows (defect: 1)") || !strings.Contains(stderr, "--transfer-to") {
		t.Errorf("refusal: %q", stderr)
	}
	_, stderr = multiutil(t, exitFail, "rmreplica", "--db", f.blr, "--transfer-to", "dublin")
	if !strings.Contains(stderr, `unknown replica "dublin"`) {
		t.Errorf("unknown --transfer-to: %q", stderr)
	}
	multiutil(t, exitUsage, "rmreplica", "--db", f.blr, "--transfer-to", "bangalore")
	multiutil(t, exitUsage, "rmreplica", "--db", f.blr, "--force")
	multiutil(t, exitFail, "rmreplica", "--db", filepath.Join(f.dir, "missing.db"))
	if fileHash(t, f.blr) != before {
		t.Fatalf("a refused rmreplica changed the database")
	}

	var rm struct {
		Replica    replicaJSON `json:"replica"`
		TransferTo string      `json:"transfer_to"`
	}
	jsonOut(t, &rm, "rmreplica", "--db", f.blr, "--transfer-to", "boston", "--json")
	if rm.Replica.State != "removed" || rm.Replica.ID != f.blrID || rm.TransferTo != f.bostonID {
		t.Errorf("rmreplica --json = %+v", rm)
	}
	if _, err := openTest(t, f.blr).Exec(`UPDATE defect SET headline = 'late' WHERE id = 1`); err == nil {
		t.Errorf("a removed replica accepted a write")
	}
	multiutil(t, exitFail, "rmreplica", "--db", f.blr) // already removed

	// The last export tells boston, which takes over bangalore's row.
	multiutil(t, exitOK, "syncreplica", "-export", "--db", f.blr, "--to", "all", "--bay", f.bay)
	multiutil(t, exitOK, "syncreplica", "-import", "--db", f.boston, "--bay", f.bay)
	var ls lsreplicaOut
	jsonOut(t, &ls, "lsreplica", "--db", f.boston, "--json")
	if ls.Replicas[1].Name != "bangalore" || ls.Replicas[1].State != "removed" {
		t.Errorf("boston's registry: %+v", ls.Replicas)
	}
	execTest(t, f.boston, `UPDATE defect SET headline = 'boston masters it now' WHERE id = `+blrKey)
	_, stderr = multiutil(t, exitFail, "syncreplica", "-export", "--db", f.boston, "--to", "bangalore", "--bay", f.bay)
	if !strings.Contains(stderr, "removed") {
		t.Errorf("export to a removed replica: %q", stderr)
	}
}

func TestRestorereplica(t *testing.T) {
	f := newFamily(t)
	backup := filepath.Join(f.dir, "bangalore-backup.db")
	b, err := os.ReadFile(f.blr)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(backup, b, 0o644))

	// After the backup bangalore makes a change that reaches boston, then
	// loses its disk.
	execTest(t, f.blr, `INSERT INTO defect (id, headline) VALUES (`+blrKey+`, 'after the backup')`)
	multiutil(t, exitOK, "syncreplica", "-export", "--db", f.blr, "--to", "boston", "--bay", f.bay)
	multiutil(t, exitOK, "syncreplica", "-import", "--db", f.boston, "--bay", f.bay)
	require.NoError(t, os.WriteFile(f.blr, b, 0o644))

	multiutil(t, exitFail, "restorereplica", "--db", filepath.Join(f.dir, "missing.db"))
	multiutil(t, exitUsage, "restorereplica")
	var rr struct {
		Replica     replicaJSON `json:"replica"`
		Incarnation uint64      `json:"incarnation"`
		WaitingFor  []string    `json:"waiting_for"`
	}
	restoredCopy := bytes.Clone(b)
	jsonOut(t, &rr, "restorereplica", "--db", f.blr, "--json")
	if rr.Replica.State != "restoring" || rr.Incarnation != 1 || !cmp.Equal(rr.WaitingFor, []string{"boston"}) {
		t.Errorf("restorereplica --json = %+v", rr)
	}
	if _, err := openTest(t, f.blr).Exec(`UPDATE defect SET headline = 'x' WHERE id = 1`); err == nil {
		t.Errorf("a restoring replica accepted a write")
	}

	// Restored again, the printed next steps are run as printed (with the
	// member's database for its placeholder): boston learns of the
	// restore and resends what bangalore lost, its own lost row included.
	require.NoError(t, os.WriteFile(f.blr, restoredCopy, 0o644))
	out, _ := multiutil(t, exitOK, "restorereplica", "--db", f.blr, "--bay", f.bay)
	var steps [][]string
	for _, l := range strings.Split(out, "\n") {
		_, cmd, ok := strings.Cut(l, "multiutil ")
		if !ok || !strings.HasPrefix(strings.TrimSpace(l), fmt.Sprint(len(steps)+1)+".") {
			continue
		}
		steps = append(steps, strings.Fields(strings.ReplaceAll(cmd, "DB_OF_boston", f.boston)))
	}
	if len(steps) != 4 {
		t.Fatalf("restorereplica printed %d steps, want 4:\n%s", len(steps), out)
	}
	for _, args := range steps {
		out, _ = multiutil(t, exitOK, args...)
	}
	if !strings.Contains(out, "restore complete") {
		t.Errorf("the last step does not report the restore complete:\n%s", out)
	}
	var d struct {
		Local replicaJSON `json:"local"`
	}
	jsonOut(t, &d, "describe", "--db", f.blr, "--json")
	if d.Local.State != "active" {
		t.Errorf("state after the members' packets = %s, want active", d.Local.State)
	}
	if contentHash(t, f.boston) != contentHash(t, f.blr) {
		t.Errorf("restored replica differs from boston")
	}

	// A receive-only replica cannot be restored; it is created again.
	pkt := filepath.Join(f.dir, "dublin.pkt")
	dub := filepath.Join(f.dir, "dublin.db")
	multiutil(t, exitOK, "mkreplica", "-export", "--db", f.boston, "--name", "dublin", "--out", pkt)
	multiutil(t, exitOK, "mkreplica", "-import", "--db", dub, "--in", pkt)
	before := fileHash(t, dub)
	_, stderr := multiutil(t, exitFail, "restorereplica", "--db", dub)
	if !strings.Contains(stderr, "receive-only") || fileHash(t, dub) != before {
		t.Errorf("restorereplica of a receive-only replica: %q (database changed: %v)", stderr, fileHash(t, dub) != before)
	}
}

func TestPrune(t *testing.T) {
	f := newFamily(t)
	execTest(t, f.boston, `DELETE FROM defect WHERE id = 3`)
	var pr struct {
		Tombstones int64             `json:"tombstones"`
		Transfers  int64             `json:"transfers"`
		Horizon    map[string]uint64 `json:"horizon"`
	}
	multiutil(t, exitOK, "syncreplica", "-export", "--db", f.boston, "--to", "bangalore", "--bay", f.bay)
	jsonOut(t, &pr, "prune", "--db", f.boston, "--json")
	if pr.Tombstones != 0 {
		t.Errorf("pruned %d tombstones bangalore has not acknowledged", pr.Tombstones)
	}
	multiutil(t, exitOK, "syncreplica", "-import", "--db", f.blr, "--bay", f.bay)
	multiutil(t, exitOK, "syncreplica", "-export", "--db", f.blr, "--to", "boston", "--bay", f.bay) // the acknowledgement
	multiutil(t, exitOK, "syncreplica", "-import", "--db", f.boston, "--bay", f.bay)
	jsonOut(t, &pr, "prune", "--db", f.boston, "--json")
	if pr.Tombstones != 1 || pr.Horizon[f.bostonID] == 0 {
		t.Errorf("prune after the acknowledgement = %+v, want the one tombstone", pr)
	}
	out, _ := multiutil(t, exitOK, "prune", "--db", f.boston)
	if !strings.Contains(out, "pruned 0 tombstones") || !strings.Contains(out, "boston=") {
		t.Errorf("second prune: %s", out)
	}
	if contentHash(t, f.boston) != contentHash(t, f.blr) {
		t.Errorf("prune changed replicated data")
	}
	multiutil(t, exitFail, "prune", "--db", production(t, t.TempDir())) // not a replica
	multiutil(t, exitUsage, "prune")
}

// samplePlan is the example plan of examples/plan.
const samplePlan = "../plan/family.yaml"

func TestPlanVerbs(t *testing.T) {
	dir := t.TempDir()
	out, _ := multiutil(t, exitOK, "plan", "validate", samplePlan)
	if !strings.Contains(out, "valid plan of family defects: 3 sites (working site boston), 4 links") {
		t.Errorf("plan validate: %s", out)
	}
	var v struct {
		Valid    bool          `json:"valid"`
		Problems []problemJSON `json:"problems"`
		Routes   []routeJSON   `json:"routes"`
	}
	jsonOut(t, &v, "plan", "validate", "--json", samplePlan)
	if !v.Valid || len(v.Problems) != 0 || len(v.Routes) != 4 || v.Routes[2] != (routeJSON{"boston", "dublin", "1h0m0s"}) {
		t.Errorf("plan validate --json = %+v", v)
	}

	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte(`family: defects
codepage: UTF-8
sites:
  - {name: boston, vendor: sqlite, working: true}
  - {name: bangalore, vendor: sqlite}
  - {name: dublin, vendor: sqlite}
sync:
  pattern: tree
  every: 1h
  links: [{from: boston, to: bangalore}, {from: bangalore, to: dublin}, {from: dublin, to: boston}, {from: boston, to: paris}]
transport: {bay: /bay}
`), 0o644))
	out, stderr := multiutil(t, exitFail, "plan", "validate", bad, "--json")
	require.NoError(t, json.Unmarshal([]byte(out), &v), out)
	var paths []string
	for _, p := range v.Problems {
		paths = append(paths, p.Path)
	}
	if v.Valid || !cmp.Equal(paths, []string{"sync.links[2]", "sync.links[3].to"}) || !strings.Contains(v.Problems[0].Msg, "closes a cycle") || !strings.Contains(stderr, "2 problems") {
		t.Errorf("plan validate of a bad plan: %+v, stderr %q", v, stderr)
	}
	out, _ = multiutil(t, exitFail, "plan", "validate", bad)
	if !strings.Contains(out, "sync.links[2]: dublin–boston closes a cycle") || !strings.Contains(out, `sync.links[3].to: unknown site "paris"`) {
		t.Errorf("plan validate text: %s", out)
	}
	out, stderr = multiutil(t, exitFail, "plan", "workflow", bad)
	if out != "" || !strings.Contains(stderr, "closes a cycle") {
		t.Errorf("plan workflow of a bad plan wrote %q, stderr %q", out, stderr)
	}

	out, _ = multiutil(t, exitOK, "plan", "workflow", samplePlan, "--site", "dublin")
	if !strings.HasPrefix(out, "# defects: MultiSite deployment workflow for dublin\n") || strings.Contains(out, "workflow for boston") {
		t.Errorf("plan workflow --site dublin: %.200s", out)
	}
	out, _ = multiutil(t, exitOK, "plan", "workflow", samplePlan)
	if strings.Count(out, "# defects: MultiSite deployment workflow for ") != 3 {
		t.Errorf("plan workflow wrote %d documents", strings.Count(out, "# defects: MultiSite deployment workflow for "))
	}
	docs := filepath.Join(dir, "docs")
	multiutil(t, exitOK, "plan", "workflow", samplePlan, "--out", docs)
	files, _ := filepath.Glob(filepath.Join(docs, "*"))
	if diff := cmp.Diff([]string{filepath.Join(docs, "bangalore.md"), filepath.Join(docs, "boston.md"), filepath.Join(docs, "dublin.md")}, files); diff != "" {
		t.Errorf("--out files (-want +got):\n%s", diff)
	}
	_, stderr = multiutil(t, exitFail, "plan", "workflow", samplePlan, "--site", "paris", "--out", filepath.Join(dir, "none"))
	if !strings.Contains(stderr, `no site "paris"`) {
		t.Errorf("unknown site: %q", stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "none")); err == nil {
		t.Errorf("a failed plan workflow created its --out directory")
	}

	typo := filepath.Join(dir, "typo.yaml")
	require.NoError(t, os.WriteFile(typo, []byte("family: x\nsites:\n  - name: a\n    vendr: sqlite\n"), 0o644))
	_, stderr = multiutil(t, exitFail, "plan", "validate", typo)
	if !strings.Contains(stderr, "field vendr not found") {
		t.Errorf("unknown field: %q", stderr)
	}
	multiutil(t, exitFail, "plan", "validate", filepath.Join(dir, "missing.yaml"))

	for _, args := range [][]string{{"plan"}, {"plan", "frob"}, {"plan", "validate"}, {"plan", "validate", bad, bad}, {"plan", "workflow", "--bogus", bad}} {
		multiutil(t, exitUsage, args...)
	}
	for _, args := range [][]string{{"plan", "--help"}, {"help", "plan"}, {"plan", "validate", "--help"}, {"plan", "workflow", "-h"}} {
		out, _ := multiutil(t, exitOK, args...)
		if !strings.Contains(out, "plan validate") && !strings.Contains(out, "plan workflow") {
			t.Errorf("%v: %s", args, out)
		}
	}
}

// A new replica still receive-only is removed without loss, as the
// workflow documents' step 3.9 says: rmreplica, one export, drop it.
func TestRmreplicaReceiveOnly(t *testing.T) {
	f := newFamily(t)
	pkt := filepath.Join(f.dir, "dublin.pkt")
	dub := filepath.Join(f.dir, "dublin.db")
	multiutil(t, exitOK, "mkreplica", "-export", "--db", f.boston, "--name", "dublin", "--out", pkt)
	multiutil(t, exitOK, "mkreplica", "-import", "--db", dub, "--in", pkt)
	multiutil(t, exitOK, "rmreplica", "--db", dub)
	multiutil(t, exitOK, "syncreplica", "-export", "--db", dub, "--to", "boston", "--bay", f.bay)
	multiutil(t, exitOK, "syncreplica", "-import", "--db", f.boston, "--bay", f.bay)
	var ls lsreplicaOut
	jsonOut(t, &ls, "lsreplica", "--db", f.boston, "--json")
	if len(ls.Replicas) != 3 || ls.Replicas[2].Name != "dublin" || ls.Replicas[2].State != "removed" {
		t.Errorf("boston's registry after dublin left: %+v", ls.Replicas)
	}
	var exp []exportJSON
	jsonOut(t, &exp, "syncreplica", "-export", "--db", f.boston, "--to", "all", "--bay", f.bay, "--json")
	if len(exp) != 1 || exp[0].Target != f.blrID {
		t.Errorf("export to all after dublin left: %+v", exp)
	}
}

// TestSyncreplica_MaxsizeParts: --maxsize writes numbered parts; an import
// run without the first part holds the others and names it missing; the
// next run with it applies the export.
func TestSyncreplica_MaxsizeParts(t *testing.T) {
	f := newFamily(t)
	for i := 1; i <= 3; i++ {
		execTest(t, f.boston, fmt.Sprintf(`UPDATE defect SET headline = '%s' WHERE id = %d`, strings.Repeat("long headline ", 20), i))
	}
	multiutil(t, exitOK, "syncreplica", "-export", "--db", f.boston, "--to", "bangalore", "--bay", f.bay, "--maxsize", "700")
	parts, _ := filepath.Glob(filepath.Join(f.bay, "*-p*.pkt"))
	if len(parts) < 2 {
		t.Fatalf("--maxsize 700 wrote %d parts, want at least 2", len(parts))
	}
	aside := filepath.Join(f.dir, filepath.Base(parts[0]))
	require.NoError(t, os.Rename(parts[0], aside))
	out, _ := multiutil(t, exitOK, "syncreplica", "-import", "--db", f.blr, "--bay", f.bay)
	if !strings.Contains(out, "still missing") || !strings.Contains(out, "[1]") {
		t.Errorf("import without part 1:\n%s", out)
	}
	if contentHash(t, f.boston) == contentHash(t, f.blr) {
		t.Fatal("held parts were applied without part 1")
	}
	require.NoError(t, os.Rename(aside, parts[0]))
	out, _ = multiutil(t, exitOK, "syncreplica", "-import", "--db", f.blr, "--bay", f.bay)
	if !strings.Contains(out, fmt.Sprintf("imported (all %d parts)", len(parts))) {
		t.Errorf("import of part 1:\n%s", out)
	}
	if contentHash(t, f.boston) != contentHash(t, f.blr) {
		t.Errorf("replicas differ after every part came")
	}
	multiutil(t, exitUsage, "syncreplica", "-import", "--db", f.blr, "--bay", f.bay, "--maxsize", "10")
}
