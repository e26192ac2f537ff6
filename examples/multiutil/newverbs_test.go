package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/multisite-go/multisite"
)

// syncBoth moves what each of boston and bangalore has to the other
// through the bay.
func syncBoth(t *testing.T, f *family) {
	t.Helper()
	for _, p := range [][2]string{{f.boston, "bangalore"}, {f.blr, "boston"}} {
		multiutil(t, exitOK, "syncreplica", "-export", "--db", p[0], "--to", p[1], "--bay", f.bay)
	}
	multiutil(t, exitOK, "syncreplica", "-import", "--db", f.boston, "--bay", f.bay)
	multiutil(t, exitOK, "syncreplica", "-import", "--db", f.blr, "--bay", f.bay)
}

func counts(t *testing.T, db string) map[string]map[string]int {
	t.Helper()
	var ls lsmasterJSON
	jsonOut(t, &ls, "lsmaster", "--db", db, "--json")
	return ls.Counts
}

func keysOf(rows [][]any) []string {
	var out []string
	for _, k := range rows {
		out = append(out, keyText(k))
	}
	return out
}

func TestChmasterAllAndWhere(t *testing.T) {
	f := newFamily(t)
	before := contentHash(t, f.boston)
	tests := []struct {
		name        string
		args        []string
		rows        []string
		transferred int
		skipped     []skipJSON
		counts      map[string]int // boston's view of defect after
	}{
		{"all, dry run", []string{"--all", "--dry-run"}, []string{"1", "2", "3"}, 0, nil, map[string]int{"boston": 3}},
		{"where, dry run", []string{"--where", "id >= 2", "--dry-run"}, []string{"2", "3"}, 0, nil, map[string]int{"boston": 3}},
		{"where", []string{"--where", "id = 2"}, []string{"2"}, 1, nil, map[string]int{"boston": 2, "bangalore": 1}},
		{"where skips rows mastered elsewhere", []string{"--where", "headline LIKE '%o%'", "--dry-run"}, []string{"1", "3"}, 0,
			[]skipJSON{{Key: []any{float64(2)}, Master: "bangalore"}}, map[string]int{"boston": 2, "bangalore": 1}},
		{"all", []string{"--all"}, []string{"1", "3"}, 2, nil, map[string]int{"bangalore": 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out chmasterJSON
			jsonOut(t, &out, append([]string{"chmaster", "--db", f.boston, "--table", "defect", "--to", "bangalore", "--json"}, tt.args...)...)
			if d := cmp.Diff(tt.rows, keysOf(out.Rows)); d != "" {
				t.Errorf("rows (-want +got):\n%s", d)
			}
			if out.Transferred != tt.transferred || out.To != "bangalore" {
				t.Errorf("transferred %d to %s, want %d to bangalore", out.Transferred, out.To, tt.transferred)
			}
			if d := cmp.Diff(tt.skipped, out.Skipped); d != "" {
				t.Errorf("skipped (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.counts, counts(t, f.boston)["defect"]); d != "" {
				t.Errorf("lsmaster defect (-want +got):\n%s", d)
			}
		})
	}
	if after := contentHash(t, f.boston); after == before {
		t.Errorf("content hash unchanged by real transfers: the test proves nothing")
	}
	for _, bad := range [][]string{
		{"chmaster", "--db", f.boston, "--table", "defect", "--to", "bangalore"},
		{"chmaster", "--db", f.boston, "--table", "defect", "--to", "bangalore", "--key", "1", "--all"},
	} {
		multiutil(t, exitUsage, bad...)
	}
	_, stderr := multiutil(t, exitFail, "chmaster", "--db", f.boston, "--table", "defect", "--to", "bangalore", "--where", "no_such_column = 1")
	if !strings.Contains(stderr, "--where") {
		t.Errorf("a bad --where is not named: %q", stderr)
	}
}

func TestMastershipRequestVerbs(t *testing.T) {
	f := newFamily(t)
	out, _ := multiutil(t, exitOK, "reqmaster", "--db", f.blr, "--table", "defect", "--key", "1", "--dry-run")
	if !strings.Contains(out, "bangalore would ask boston for defect[1]") {
		t.Errorf("dry run says %q", out)
	}
	var none []requestJSON
	jsonOut(t, &none, "lsrequest", "--db", f.blr, "--json")
	if len(none) != 0 {
		t.Fatalf("the dry run recorded a request: %+v", none)
	}
	var req requestJSON
	jsonOut(t, &req, "reqmaster", "--db", f.blr, "--table", "defect", "--key", "1", "--reason", "fixing it here", "--json")
	if req.Requester != "bangalore" || req.Master != "boston" || req.State != "pending" {
		t.Errorf("reqmaster = %+v", req)
	}
	syncBoth(t, f)
	var open []requestJSON
	jsonOut(t, &open, "lsrequest", "--db", f.boston, "--state", "open", "--json")
	if len(open) != 1 || open[0].ID != req.ID || open[0].Reason != "fixing it here" {
		t.Fatalf("boston's open requests = %+v", open)
	}
	out, _ = multiutil(t, exitOK, "grantrequest", "--db", f.boston, "--id", req.ID, "--dry-run")
	if !strings.Contains(out, "defect[1] would go to bangalore") {
		t.Errorf("grant dry run says %q", out)
	}
	if c := counts(t, f.boston)["defect"]["boston"]; c != 3 {
		t.Errorf("the dry run moved a row: boston masters %d", c)
	}
	// The request is addressed to boston: bangalore cannot answer it.
	multiutil(t, exitFail, "grantrequest", "--db", f.blr, "--id", req.ID, "--dry-run")
	var got requestJSON
	jsonOut(t, &got, "grantrequest", "--db", f.boston, "--id", req.ID, "--json")
	if got.State != "granted" {
		t.Errorf("grantrequest = %+v", got)
	}
	if d := cmp.Diff(map[string]int{"boston": 2, "bangalore": 1}, counts(t, f.boston)["defect"]); d != "" {
		t.Errorf("after the grant (-want +got):\n%s", d)
	}
	_, stderr := multiutil(t, exitFail, "denyrequest", "--db", f.boston, "--id", req.ID, "--reason", "too late")
	if !strings.Contains(stderr, "bangalore asks boston for defect[1]") {
		t.Errorf("denying a settled request says %q", stderr)
	}
	multiutil(t, exitFail, "denyrequest", "--db", f.boston, "--id", "no-such-request")
	multiutil(t, exitUsage, "denyrequest", "--db", f.boston)
	multiutil(t, exitUsage, "lsrequest", "--db", f.boston, "--state", "maybe")
	multiutil(t, exitUsage, "reqmaster", "--db", f.blr, "--table", "defect")
}

func TestUpkeepVerbs(t *testing.T) {
	f := newFamily(t)

	t.Run("rotatekey", func(t *testing.T) {
		key := func() string {
			var ls lsreplicaOut
			jsonOut(t, &ls, "lsreplica", "--db", f.blr, "--json")
			return ls.Replicas[1].PublicKey
		}
		old := key()
		var dry struct{ Old, New string }
		jsonOut(t, &dry, "rotatekey", "--db", f.blr, "--dry-run", "--json")
		if key() != old {
			t.Fatalf("the dry run changed the key")
		}
		var done struct {
			Old string `json:"old_public_key"`
			New string `json:"new_public_key"`
		}
		jsonOut(t, &done, "rotatekey", "--db", f.blr, "--json")
		if done.Old != old || done.New == old || key() != done.New {
			t.Errorf("rotatekey = %+v; key now %s, was %s", done, key(), old)
		}
	})

	t.Run("cleancharset", func(t *testing.T) {
		before := contentHash(t, f.boston)
		var dry cleanJSON
		jsonOut(t, &dry, "cleancharset", "--db", f.boston, "--codepage", "US-ASCII", "--strategy", "transliterate", "--json")
		var got []string
		for _, c := range dry.Changes {
			got = append(got, fmt.Sprintf("%s.%s %s->%s", c.Table, c.Column, c.Before, c.After))
		}
		want := []string{"defect.headline Résumé upload->Resume upload", "note.body seen by Zoë->seen by Zoe"}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("dry run (-want +got):\n%s", d)
		}
		if contentHash(t, f.boston) != before {
			t.Errorf("the dry run changed data")
		}
		var applied cleanJSON
		jsonOut(t, &applied, "cleancharset", "--db", f.boston, "--codepage", "US-ASCII", "--strategy", "transliterate", "--apply", "--json")
		if applied.Applied != 2 || contentHash(t, f.boston) == before {
			t.Errorf("--apply cleaned %d values, want 2", applied.Applied)
		}
		multiutil(t, exitUsage, "cleancharset", "--db", f.boston, "--codepage", "US-ASCII", "--strategy", "guess")
	})

	t.Run("comparereplica", func(t *testing.T) {
		syncBoth(t, f)
		var cmpOut struct {
			Identical bool `json:"identical"`
			Replicas  []struct {
				Replica string `json:"replica"`
			} `json:"replicas"`
		}
		jsonOut(t, &cmpOut, "comparereplica", "--db", f.boston, "--db", f.blr, "--json")
		if !cmpOut.Identical || len(cmpOut.Replicas) != 2 || cmpOut.Replicas[1].Replica != "bangalore" {
			t.Errorf("after syncing both ways: %+v", cmpOut)
		}
		execTest(t, f.boston, `UPDATE defect SET headline = 'only at boston' WHERE id = 2`)
		out, _ := multiutil(t, exitFail, "comparereplica", "--db", f.boston, "--db", f.blr)
		if !strings.Contains(out, "differ") {
			t.Errorf("comparereplica of different replicas says %q", out)
		}
		multiutil(t, exitUsage, "comparereplica", "--db", f.boston)
	})

	t.Run("lscollision", func(t *testing.T) {
		var cs []collisionJSON
		jsonOut(t, &cs, "lscollision", "--db", f.boston, "--json")
		if len(cs) != 0 {
			t.Errorf("collisions in a family without unique keys: %+v", cs)
		}
		multiutil(t, exitFail, "resolvecollision", "--db", f.boston, "--id", "nope")
		multiutil(t, exitUsage, "lscollision", "--db", f.boston, "--state", "odd")
	})

	t.Run("version", func(t *testing.T) {
		var v struct {
			Packet string `json:"packet_format"`
			Go     string `json:"go"`
		}
		jsonOut(t, &v, "version", "--json")
		if v.Packet == "" || v.Go != runtime.Version() {
			t.Errorf("version = %+v", v)
		}
	})

	t.Run("deactivate", func(t *testing.T) {
		multiutil(t, exitUsage, "deactivate", "--db", f.boston)
		out, _ := multiutil(t, exitOK, "deactivate", "--db", f.boston, "--dry-run")
		if !strings.Contains(strings.ToUpper(out), "DROP") {
			t.Errorf("the dry run shows no DROP:\n%s", out)
		}
		_, stderr := multiutil(t, exitFail, "deactivate", "--db", f.boston, "--yes")
		if !strings.Contains(stderr, "boston masters") {
			t.Errorf("deactivating a master of rows says %q", stderr)
		}
		multiutil(t, exitOK, "lsreplica", "--db", f.boston)
		multiutil(t, exitOK, "deactivate", "--db", f.blr, "--yes")
		multiutil(t, exitFail, "lsreplica", "--db", f.blr)
	})
}

// TestSyncreplicaPlanPolicy: syncreplica -export --plan applies the plan's
// mastership policy, as sync does.
func TestSyncreplicaPlanPolicy(t *testing.T) {
	f := newFamily(t)
	blr := openAny(t, f.blr)
	id, err := multisite.NextID(context.Background(), blr, nil, "defect")
	if err != nil {
		t.Fatal(err)
	}
	execTest(t, f.blr, fmt.Sprintf(`INSERT INTO defect (id, headline) VALUES (%d, 'filed at bangalore')`, id))
	planFile := filepath.Join(f.dir, "family.yaml")
	if err := os.WriteFile(planFile, []byte(fmt.Sprintf(`family: defects
codepage: windows-1252
sites:
  - {name: boston, vendor: sqlite, dsn: %s, working: true}
  - {name: bangalore, vendor: sqlite, dsn: %s}
sync: {pattern: hub-and-spoke, hub: boston, every: 15m}
mastership: {policy: table, tables: {defect: boston}}
transport: {bay: %s}
`, f.boston, f.blr, f.bay)), 0o644); err != nil {
		t.Fatal(err)
	}
	multiutil(t, exitUsage, "syncreplica", "-import", "--db", f.blr, "--bay", f.bay, "--plan", planFile)
	multiutil(t, exitOK, "syncreplica", "-export", "--db", f.blr, "--to", "boston", "--bay", f.bay, "--plan", planFile)
	if got := counts(t, f.blr)["defect"]["bangalore"]; got != 0 {
		t.Errorf("bangalore still masters %d defects after an export under policy table", got)
	}
}
