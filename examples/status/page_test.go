package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/replica"
	"github.com/stretchr/testify/require"
)

var ctx = context.Background()

// newFamily builds a live three-replica family in a fresh directory.
func newFamily(t *testing.T, opt BuildOptions) (*Family, string) {
	t.Helper()
	dir := t.TempDir()
	f, err := BuildFamily(ctx, dir, opt)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f, dir
}

// statuses reads every site's status through the library.
func statuses(t *testing.T, f *Family) map[replica.ID]*multisite.Status {
	t.Helper()
	out := map[replica.ID]*multisite.Status{}
	for _, s := range f.Sites {
		st, err := multisite.ReadStatus(ctx, s.DB)
		require.NoError(t, err)
		out[st.Local.ID] = st
	}
	return out
}

// get serves path from h and parses the page.
func get(t *testing.T, h http.Handler) *node {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET / = %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	return parseHTML(t, rec.Body.String())
}

// pageReplicas reads the replicas table: ID -> name and state, as shown.
func pageReplicas(doc *node) map[replica.ID][2]string {
	out := map[replica.ID][2]string{}
	for _, tr := range doc.withClass("replica") {
		state := tr.withClass("state")
		shown := ""
		if len(state) == 1 {
			shown = state[0].Text()
		}
		out[replica.ID(tr.attr["data-id"])] = [2]string{tr.withClass("name")[0].Text(), shown}
	}
	return out
}

// pageCells reads the cells of class class (epoch or lag) of the section
// id: holder -> origin -> the attribute attr, or the text if attr is "".
func pageCells(t *testing.T, doc *node, id, class, attr string) map[replica.ID]map[replica.ID]string {
	t.Helper()
	out := map[replica.ID]map[replica.ID]string{}
	for _, td := range doc.byID(t, id).withClass(class) {
		h, o := replica.ID(td.attr["data-holder"]), replica.ID(td.attr["data-origin"])
		if out[h] == nil {
			out[h] = map[replica.ID]string{}
		}
		v := td.Text()
		if attr != "" {
			v = td.attr[attr]
		}
		out[h][o] = v
	}
	return out
}

// checkAgainstLibrary checks the replicas, the epoch matrix and the lag
// the page shows against what the library reports at each database.
func checkAgainstLibrary(t *testing.T, doc *node, f *Family) {
	t.Helper()
	sts := statuses(t, f)
	wantReplicas := map[replica.ID][2]string{}
	wantMatrix := map[replica.ID]map[replica.ID]string{}
	wantLag := map[replica.ID]map[replica.ID]string{}
	for h, st := range sts {
		wantReplicas[h] = [2]string{st.Local.Name, string(st.Local.State)}
		wantMatrix[h], wantLag[h] = map[replica.ID]string{}, map[replica.ID]string{}
		for o, ost := range sts {
			have := st.Matrix[h].Get(o)
			wantMatrix[h][o] = strconv.FormatUint(have, 10)
			wantLag[h][o] = strconv.FormatUint(ost.Epoch-have, 10)
		}
	}
	if diff := cmp.Diff(wantReplicas, pageReplicas(doc)); diff != "" {
		t.Errorf("replicas (-library +page):\n%s", diff)
	}
	if diff := cmp.Diff(wantMatrix, pageCells(t, doc, "matrix", "epoch", "")); diff != "" {
		t.Errorf("epoch matrix (-library +page):\n%s", diff)
	}
	if diff := cmp.Diff(wantLag, pageCells(t, doc, "lag", "lag", "data-behind")); diff != "" {
		t.Errorf("lag (-library +page):\n%s", diff)
	}
}

// charsetOf returns the page's charset result for replica name: the
// violations listed ("table[key].column") and whether it says clean.
func charsetOf(t *testing.T, doc *node, name string) (violations []string, clean bool) {
	t.Helper()
	divs := doc.byID(t, "charset").all(func(n *node) bool { return n.attr["data-replica"] == name && n.tag == "div" })
	if len(divs) != 1 {
		t.Fatalf("charset section has %d entries for %s, want 1", len(divs), name)
	}
	for _, li := range divs[0].withClass("violation") {
		violations = append(violations, fmt.Sprintf("%s[%s].%s", li.attr["data-table"], li.attr["data-key"], li.attr["data-column"]))
	}
	return violations, len(divs[0].withClass("clean")) == 1
}

// injectViolation stores at s a headline windows-1252 cannot hold and
// returns the violation as the page lists it.
func injectViolation(t *testing.T, s *Site) string {
	t.Helper()
	id, err := multisite.NextID(ctx, s.DB, nil, "defect")
	require.NoError(t, err)
	require.NoError(t, Exec(ctx, s, `INSERT INTO defect (id, project, headline) VALUES (?, 'CORE', 'Build ✓ on arm64')`, id))
	return fmt.Sprintf("defect[%d].headline", id)
}

func TestHandler_ShowsFamily(t *testing.T) {
	f, _ := newFamily(t, BuildOptions{ReceiveOnly: []string{"dublin"}})
	want := injectViolation(t, f.Site("bangalore"))
	doc := get(t, &Handler{Family: f})

	checkAgainstLibrary(t, doc, f)
	states := map[string]string{}
	for _, r := range pageReplicas(doc) {
		states[r[0]] = r[1]
	}
	if diff := cmp.Diff(map[string]string{"boston": "active", "bangalore": "active", "dublin": "receive-only"}, states); diff != "" {
		t.Errorf("states (-want +page):\n%s", diff)
	}
	for _, s := range f.Sites {
		got, clean := charsetOf(t, doc, s.Name)
		if s.Name == "bangalore" {
			if diff := cmp.Diff([]string{want}, got); diff != "" || clean {
				t.Errorf("bangalore's charset result (-want +page), clean=%v:\n%s", clean, diff)
			}
		} else if len(got) != 0 || !clean {
			t.Errorf("%s: page lists violations %v, clean=%v; want clean", s.Name, got, clean)
		}
	}
	for _, tr := range doc.withClass("replica") {
		st, err := multisite.ReadStatus(ctx, f.Site(tr.attr["data-name"]).DB)
		require.NoError(t, err)
		if got, want := tr.withClass("fingerprint")[0].Text(), Fingerprint(st.Local.PublicKey); got != want || !strings.HasPrefix(got, "SHA256:") {
			t.Errorf("%s: fingerprint %q, want %q", st.Local.Name, got, want)
		}
	}
	if got := doc.byID(t, "family").Text(); got != f.Gather(ctx).Family || got == "" {
		t.Errorf("family %q", got)
	}
	if got := doc.byID(t, "requests").Text(); !strings.Contains(got, "not tracked by this library version") {
		t.Errorf("requests section says %q", got)
	}
	// Every packet BuildFamily moved is listed, newest first.
	var rows, log []string
	for _, tr := range doc.withClass("packet") {
		rows = append(rows, tr.attr["data-from"]+">"+tr.attr["data-to"]+":"+tr.attr["data-ok"])
	}
	for _, p := range f.Packets() {
		log = append(log, fmt.Sprintf("%s>%s:%v", p.From.Name, p.To.Name, p.Err == nil))
	}
	if diff := cmp.Diff(log, rows); diff != "" || len(rows) == 0 {
		t.Errorf("packets (-log +page):\n%s", diff)
	}
}

func TestHandler_RefusedPacketAndLag(t *testing.T) {
	f, _ := newFamily(t, BuildOptions{})
	boston, dublin := f.Site("boston"), f.Site("dublin")
	injectViolation(t, dublin)
	var ce *multisite.CharsetError
	if err := f.HubRound(ctx); !errors.As(err, &ce) {
		t.Fatalf("HubRound = %v, want a *multisite.CharsetError from boston", err)
	}
	doc := get(t, &Handler{Family: f})
	checkAgainstLibrary(t, doc, f)

	lag := pageCells(t, doc, "lag", "lag", "data-behind")
	if lag[boston.ID][dublin.ID] != "1" {
		t.Errorf("boston is %s epochs behind dublin, want 1 (dublin sealed the refused change)", lag[boston.ID][dublin.ID])
	}
	refused := doc.byID(t, "packets").all(func(n *node) bool { return n.attr["data-ok"] == "false" })
	if len(refused) != 1 || refused[0].attr["data-from"] != "dublin" || refused[0].attr["data-to"] != "boston" ||
		!strings.Contains(refused[0].Text(), "refused: ") || !strings.Contains(refused[0].Text(), "windows-1252") {
		t.Fatalf("refused packets on the page: %d, want dublin>boston naming the code page", len(refused))
	}
	// The replicas table shows dublin's last packet out as refused.
	for _, tr := range doc.withClass("replica") {
		if tr.attr["data-name"] == "dublin" && !strings.Contains(tr.Text(), "to boston (refused)") {
			t.Errorf("dublin's row: %q", tr.Text())
		}
	}
}

func TestHandler_KeyDisagreement(t *testing.T) {
	f, _ := newFamily(t, BuildOptions{})
	blr := f.Site("bangalore")
	before, err := multisite.ReadStatus(ctx, blr.DB)
	require.NoError(t, err)
	_, err = multisite.RotateKey(ctx, blr.DB)
	require.NoError(t, err)

	notes := func() string {
		for _, tr := range get(t, &Handler{Family: f}).withClass("replica") {
			if tr.attr["data-name"] == "bangalore" {
				return strings.Join(func() (s []string) {
					for _, d := range tr.withClass("disagree") {
						s = append(s, d.Text())
					}
					return s
				}(), "; ")
			}
		}
		t.Fatal("no bangalore row")
		return ""
	}
	old := Fingerprint(before.Local.PublicKey)
	want := fmt.Sprintf("boston holds key %s; dublin holds key %s", old, old)
	if got := notes(); got != want {
		t.Errorf("before the new key travels: notes %q, want %q", got, want)
	}
	require.NoError(t, f.HubRound(ctx))
	if got := notes(); got != "" {
		t.Errorf("after a round: notes %q, want none", got)
	}
}

func TestHandler_StateNewestEntryWins(t *testing.T) {
	f, _ := newFamily(t, BuildOptions{ReceiveOnly: []string{"dublin"}})
	require.NoError(t, multisite.SetState(ctx, f.Site("dublin").DB, replica.Active))
	row := func() *node {
		for _, tr := range get(t, &Handler{Family: f}).withClass("replica") {
			if tr.attr["data-name"] == "dublin" {
				return tr
			}
		}
		t.Fatal("no dublin row")
		return nil
	}
	tr := row()
	if tr.attr["data-state"] != "active" {
		t.Errorf("dublin, made active at dublin, shows %q", tr.attr["data-state"])
	}
	var notes []string
	for _, d := range tr.withClass("disagree") {
		notes = append(notes, d.Text())
	}
	want := []string{"boston still believes it is receive-only", "bangalore still believes it is receive-only"}
	if diff := cmp.Diff(want, notes); diff != "" {
		t.Errorf("dublin's notes before it sent a packet (-want +page):\n%s", diff)
	}
	require.NoError(t, f.HubRound(ctx))
	if d := row().withClass("disagree"); len(d) != 0 {
		t.Errorf("after a round dublin's row still has %d notes: %s", len(d), d[0].Text())
	}
}

func TestHandler_Methods(t *testing.T) {
	f, _ := newFamily(t, BuildOptions{})
	h := &Handler{Family: f, Refresh: 30 * time.Second}
	tests := []struct {
		method, path string
		code         int
		body         bool
	}{
		{http.MethodGet, "/", http.StatusOK, true},
		{http.MethodHead, "/", http.StatusOK, false},
		{http.MethodPost, "/", http.StatusMethodNotAllowed, true},
		{http.MethodGet, "/nope", http.StatusNotFound, true},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != tt.code || (rec.Body.Len() > 0) != tt.body {
				t.Errorf("%s %s = %d with %d bytes, want %d (body %v)", tt.method, tt.path, rec.Code, rec.Body.Len(), tt.code, tt.body)
			}
		})
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if !strings.Contains(rec.Body.String(), `<meta http-equiv="refresh" content="30">`) {
		t.Error("Refresh of 30s does not make the page reload itself every 30 s")
	}
}

// reopen closes f and opens the databases in dir with OpenDir.
func reopen(t *testing.T, f *Family, dir string) *Family {
	t.Helper()
	require.NoError(t, f.Close())
	g, err := OpenDir(ctx, dir)
	require.NoError(t, err)
	t.Cleanup(func() { g.Close() })
	return g
}

func TestOpenDir(t *testing.T) {
	f, dir := newFamily(t, BuildOptions{})
	want := f.Gather(ctx)
	g := reopen(t, f, dir)
	if len(g.Packets()) != 0 {
		t.Errorf("a family read from a directory has %d packets in its log", len(g.Packets()))
	}
	got := g.Gather(ctx)
	cellsOf := func(p *Page) (out []Cell) {
		for _, r := range p.Matrix {
			for _, c := range r.Cells {
				c.LastNew = nil // times come from this process's own log
				out = append(out, c)
			}
		}
		return out
	}
	if diff := cmp.Diff(cellsOf(want), cellsOf(got)); diff != "" {
		t.Errorf("matrix read back (-built +read):\n%s", diff)
	}
	checkAgainstLibrary(t, get(t, &Handler{Family: g}), g)
	if len(got.Problems) != 0 {
		t.Errorf("problems: %v", got.Problems)
	}
}

func TestOpenDir_ReplicaWithoutDatabase(t *testing.T) {
	f, dir := newFamily(t, BuildOptions{})
	dublinID := f.Site("dublin").ID
	beliefs := statuses(t, f)
	require.NoError(t, f.Close())
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(filepath.Join(dir, "dublin.db"+suffix))
	}
	g, err := OpenDir(ctx, dir)
	require.NoError(t, err)
	defer g.Close()
	p := g.Gather(ctx)
	var row *MatrixRow
	for i := range p.Matrix {
		if p.Matrix[i].Holder.ID == dublinID {
			row = &p.Matrix[i]
		}
	}
	if row == nil {
		t.Fatal("dublin, known to the registries, is not in the matrix")
	}
	if row.Measured || row.Holder.Site != "" || row.Holder.Pending != -1 {
		t.Errorf("dublin's row: measured %v, site %q, pending %d; want a belief with no database", row.Measured, row.Holder.Site, row.Holder.Pending)
	}
	for _, c := range row.Cells {
		var want uint64
		for h, st := range beliefs {
			if h != dublinID {
				want = max(want, st.Matrix[dublinID].Get(c.Origin))
			}
		}
		if c.Epoch != want {
			t.Errorf("dublin's belief of origin %s = %d, want the highest other members hold, %d", c.Origin, c.Epoch, want)
		}
	}
	var b strings.Builder
	require.NoError(t, Render(&b, p))
	if !strings.Contains(b.String(), "dublin*") || !strings.Contains(b.String(), "not open here") {
		t.Error("the page does not mark dublin's row as a belief")
	}
}

func TestOpenDir_Refuses(t *testing.T) {
	f, dir := newFamily(t, BuildOptions{})
	other, otherDir := newFamily(t, BuildOptions{})
	hashes := func(f *Family) (out []string) {
		for _, s := range f.Sites {
			h, err := multisite.ContentHash(ctx, s.DB)
			require.NoError(t, err)
			st, err := multisite.ReadStatus(ctx, s.DB)
			require.NoError(t, err)
			out = append(out, h, fmt.Sprint(st.Matrix))
		}
		return out
	}
	before := hashes(f)
	require.NoError(t, other.Close())
	require.NoError(t, os.Rename(filepath.Join(otherDir, "boston.db"), filepath.Join(dir, "zurich.db")))

	plain := t.TempDir()
	db, err := openSite(filepath.Join(plain, "plain.db"), true)
	require.NoError(t, err)
	require.NoError(t, Exec(ctx, db, `CREATE TABLE t (id INTEGER PRIMARY KEY)`))
	require.NoError(t, db.DB.Close())

	tests := []struct {
		name, dir string
		want      error
		says      string
	}{
		{"empty directory", t.TempDir(), ErrNoDatabases, "no *.db files"},
		{"not a replica", plain, multisite.ErrNotActivated, "plain.db"},
		{"two families", dir, nil, "give one family's databases"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := OpenDir(ctx, tt.dir)
			if err == nil {
				g.Close()
				t.Fatal("OpenDir succeeded")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("OpenDir = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("OpenDir = %q, want it to say %q", err, tt.says)
			}
		})
	}
	if diff := cmp.Diff(before, hashes(f)); diff != "" {
		t.Errorf("reading changed the databases (-before +after):\n%s", diff)
	}
}

func TestAgo(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "just now"},
		{999 * time.Millisecond, "just now"},
		{time.Second, "1 s ago"},
		{119 * time.Second, "119 s ago"},
		{2 * time.Minute, "2 min ago"},
		{119 * time.Minute, "119 min ago"},
		{2 * time.Hour, "2 h ago"},
		{47 * time.Hour, "47 h ago"},
		{48 * time.Hour, "2 days ago"},
		{-time.Hour, "just now"}, // a clock that went back
	}
	for _, tt := range tests {
		if got := ago(now.Add(-tt.d), now); got != tt.want {
			t.Errorf("ago(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestFamily_PacketLogBounded(t *testing.T) {
	f, _ := newFamily(t, BuildOptions{})
	boston, blr := f.Site("boston"), f.Site("bangalore")
	for range maxPackets + 5 {
		require.NoError(t, f.Sync(ctx, boston, blr))
	}
	ps := f.Packets()
	if len(ps) != maxPackets {
		t.Fatalf("log holds %d packets, want %d", len(ps), maxPackets)
	}
	if !slices.IsSortedFunc(ps, func(a, b Packet) int { return b.Time.Compare(a.Time) }) {
		t.Error("log is not newest first")
	}
	if ps[0].Applied != "nothing new" {
		t.Errorf("a repeated packet applied %q, want nothing new", ps[0].Applied)
	}
}
