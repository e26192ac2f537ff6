package main

import (
	"bytes"
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
	"github.com/multisite-go/multisite/codepage"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/schema"
	"github.com/multisite-go/multisite/syncpkt"
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

// charsetOf returns the page's charset check of replica name against
// codePage: the violations listed ("table[key].column") and whether it
// says clean. found is false if the page has no such check.
func charsetOf(t *testing.T, doc *node, name, codePage string) (violations []string, clean, found bool) {
	t.Helper()
	divs := doc.byID(t, "charset").all(func(n *node) bool { return n.attr["data-replica"] == name && n.tag == "div" })
	if len(divs) != 1 {
		t.Fatalf("charset section has %d entries for %s, want 1", len(divs), name)
	}
	checks := divs[0].all(func(n *node) bool { return n.attr["data-codepage"] == codePage })
	if len(checks) == 0 {
		return nil, false, false
	}
	if len(checks) > 1 {
		t.Fatalf("%s has %d checks against %s, want 1", name, len(checks), codePage)
	}
	for _, li := range checks[0].withClass("violation") {
		violations = append(violations, fmt.Sprintf("%s[%s].%s", li.attr["data-table"], li.attr["data-key"], li.attr["data-column"]))
	}
	return violations, len(checks[0].withClass("clean")) == 1, true
}

// pageCharset reads every charset check on the page: replica -> code page
// (with " (planned)" for the planned one) -> "clean" or the violations.
func pageCharset(doc *node) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, div := range doc.withClass("charset") {
		name := div.attr["data-replica"]
		out[name] = map[string]string{}
		for _, c := range div.withClass("check") {
			key := c.attr["data-codepage"]
			if c.attr["data-planned"] == "true" {
				key += " (planned)"
			}
			var vs []string
			for _, li := range c.withClass("violation") {
				vs = append(vs, fmt.Sprintf("%s[%s].%s", li.attr["data-table"], li.attr["data-key"], li.attr["data-column"]))
			}
			switch {
			case len(c.withClass("clean")) == 1 && len(vs) == 0:
				out[name][key] = "clean"
			case len(c.withClass("dirty")) == 1 && len(vs) > 0:
				out[name][key] = strings.Join(vs, " ")
			default:
				out[name][key] = "neither clean nor dirty: " + c.Text()
			}
		}
	}
	return out
}

// checkCharsetAgainstLibrary checks the page's charset section against
// what ValidateCharset reports at each database: every table against the
// replica's own code page and, if f plans one, the replicated tables
// against the planned code page; and the summary's count of blocking
// characters. It returns the library's planned violations per replica.
func checkCharsetAgainstLibrary(t *testing.T, doc *node, f *Family) map[string][]string {
	t.Helper()
	var planned string
	if f.Planned != "" {
		cp, err := codepage.Lookup(f.Planned)
		require.NoError(t, err)
		planned = cp.Name()
	}
	render := func(rep *multisite.CharsetReport) (string, []string) {
		var vs []string
		for _, v := range rep.Violations {
			vs = append(vs, fmt.Sprintf("%s[%s].%s", v.Table, v.Key, v.Column))
		}
		if len(vs) == 0 {
			return "clean", nil
		}
		return strings.Join(vs, " "), vs
	}
	want := map[string]map[string]string{}
	blocking := map[string][]string{}
	total := 0
	for _, s := range f.Sites {
		st, err := multisite.ReadStatus(ctx, s.DB)
		require.NoError(t, err)
		rep, err := multisite.ValidateCharset(ctx, s.DB, st.CodePage, multisite.CharsetOptions{})
		require.NoError(t, err)
		want[s.Name] = map[string]string{}
		want[s.Name][st.CodePage], _ = render(rep)
		if planned != "" && planned != st.CodePage {
			rep, err := multisite.ValidateCharset(ctx, s.DB, planned, multisite.CharsetOptions{Tables: append([]string{}, st.Tables...)})
			require.NoError(t, err)
			var vs []string
			want[s.Name][planned+" (planned)"], vs = render(rep)
			if len(vs) > 0 {
				blocking[s.Name] = vs
			}
			total += len(vs)
		}
	}
	if diff := cmp.Diff(want, pageCharset(doc)); diff != "" {
		t.Errorf("charset checks (-library +page):\n%s", diff)
	}
	plans := doc.byID(t, "charset").all(func(n *node) bool { return n.attr["id"] == "plan" })
	switch {
	case planned == "" && len(plans) != 0:
		t.Errorf("no code page is planned, but the page says %q", plans[0].Text())
	case planned != "" && len(plans) != 1:
		t.Errorf("code page %s is planned, but the page has %d summaries", planned, len(plans))
	case planned != "":
		if got := plans[0].attr["data-violations"]; got != strconv.Itoa(total) {
			t.Errorf("the summary counts %s characters blocking %s, the library %d", got, planned, total)
		}
		if blocked := strings.Contains(plans[0].Text(), "is blocked"); blocked != (total > 0) {
			t.Errorf("with %d characters outside %s the summary says %q", total, planned, plans[0].Text())
		}
	}
	return blocking
}

// injectViolation stores at s, in the UTF-8 family, a headline that fits
// UTF-8 but not windows-1252, and returns it as the page lists it.
func injectViolation(t *testing.T, s *Site) string {
	t.Helper()
	id, err := multisite.NextID(ctx, s.DB, nil, "defect")
	require.NoError(t, err)
	require.NoError(t, Exec(ctx, s, `INSERT INTO defect (id, project, headline) VALUES (?, 'CORE', 'Build ✓ on arm64')`, id))
	return fmt.Sprintf("defect[%d].headline", id)
}

// refusedRows returns the packet log's refused rows on the page.
func refusedRows(t *testing.T, doc *node) []*node {
	t.Helper()
	return doc.byID(t, "packets").all(func(n *node) bool { return n.attr["data-ok"] == "false" })
}

// unchanged returns what a refused import must leave as it was at s: its
// content hash and its status.
func unchanged(t *testing.T, s *Site) string {
	t.Helper()
	h, err := multisite.ContentHash(ctx, s.DB)
	require.NoError(t, err)
	st, err := multisite.ReadStatus(ctx, s.DB)
	require.NoError(t, err)
	return fmt.Sprintf("%s %s %d %v %v %v", h, st.CodePage, st.Epoch, st.Matrix, st.Replicas, st.Pending)
}

func TestHandler_ShowsFamily(t *testing.T) {
	f, _ := newFamily(t, BuildOptions{ReceiveOnly: []string{"dublin"}})
	want := injectViolation(t, f.Site("bangalore"))
	f.Planned = "1252" // by number: the page names it
	doc := get(t, &Handler{Family: f})

	checkAgainstLibrary(t, doc, f)
	checkCharsetAgainstLibrary(t, doc, f)
	states := map[string]string{}
	for _, r := range pageReplicas(doc) {
		states[r[0]] = r[1]
	}
	if diff := cmp.Diff(map[string]string{"boston": "active", "bangalore": "active", "dublin": "receive-only"}, states); diff != "" {
		t.Errorf("states (-want +page):\n%s", diff)
	}
	if got := doc.byID(t, "codepage").Text(); got != "UTF-8" {
		t.Errorf("family code page %q, want UTF-8", got)
	}
	if got := doc.byID(t, "planned").Text(); got != "windows-1252" {
		t.Errorf("planned code page %q, want windows-1252", got)
	}
	for _, s := range f.Sites {
		got, clean, found := charsetOf(t, doc, s.Name, "windows-1252")
		switch {
		case !found:
			t.Errorf("%s: no check against the planned windows-1252", s.Name)
		case s.Name == "bangalore":
			if diff := cmp.Diff([]string{want}, got); diff != "" || clean {
				t.Errorf("bangalore's planned check (-want +page), clean=%v:\n%s", clean, diff)
			}
		case len(got) != 0 || !clean:
			t.Errorf("%s: page lists violations %v of windows-1252, clean=%v; want clean", s.Name, got, clean)
		}
		if got, clean, found := charsetOf(t, doc, s.Name, "UTF-8"); !found || len(got) != 0 || !clean {
			t.Errorf("%s under UTF-8: violations %v, clean=%v, found=%v; want clean", s.Name, got, clean, found)
		}
	}
	if got := doc.byID(t, "plan").Text(); !strings.Contains(got, "blocked: 1 character outside it at bangalore (1)") {
		t.Errorf("summary %q does not name bangalore's one character", got)
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
	// The family has no mastership requests, and the page says so
	// (it used to say the library tracked none; it does: multisite.Requests).
	for _, s := range f.Sites {
		reqs, err := multisite.Requests(ctx, s.DB, multisite.RequestFilter{})
		require.NoError(t, err)
		require.Empty(t, reqs, "requests at %s", s.Name)
	}
	if got := doc.byID(t, "requests").Text(); !strings.Contains(got, "No mastership requests") || len(doc.withClass("request")) != 0 {
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

	// Without a planned code page, only the family's is checked.
	f.Planned = ""
	doc = get(t, &Handler{Family: f})
	checkCharsetAgainstLibrary(t, doc, f)
	if _, _, found := charsetOf(t, doc, "bangalore", "windows-1252"); found {
		t.Error("with no code page planned, the page still checks windows-1252")
	}
}

func TestHandler_UnknownPlannedCodePage(t *testing.T) {
	f, _ := newFamily(t, BuildOptions{})
	f.Planned = "klingon"
	p := f.Gather(ctx)
	if len(p.Problems) != 1 || !strings.Contains(p.Problems[0], "planned code page") || p.Planned != nil {
		t.Errorf("problems %q, plan %+v; want the unknown code page reported and no plan", p.Problems, p.Planned)
	}
	doc := get(t, &Handler{Family: f})
	if got := doc.byID(t, "problems").Text(); !strings.Contains(got, "klingon") {
		t.Errorf("problems section says %q", got)
	}
}

// TestHandler_PlannedCodePage follows a change of code page the way an
// administrator would with the page: the rows it lists as blocking are the
// ones the change is refused on when it reaches their replica; once they
// are cleaned, nothing blocks, and once the change has travelled, the page
// shows the family on the new page. Only the schema master changes the
// code page (a replica's packet cannot switch the family's).
func TestHandler_PlannedCodePage(t *testing.T) {
	f, _ := newFamily(t, BuildOptions{})
	f.Planned = "windows-1252"
	dublin := f.Site("dublin")
	boston := f.Sites[0]
	listed := injectViolation(t, dublin)

	doc := get(t, &Handler{Family: f})
	blocking := checkCharsetAgainstLibrary(t, doc, f)
	if diff := cmp.Diff(map[string][]string{"dublin": {listed}}, blocking); diff != "" {
		t.Fatalf("blocking violations (-want +library):\n%s", diff)
	}
	before := unchanged(t, dublin)
	if err := multisite.ChangeCodePage(ctx, dublin.DB, "windows-1252"); !errors.Is(err, schema.ErrNotSchemaMaster) {
		t.Fatalf("ChangeCodePage at dublin = %v, want schema.ErrNotSchemaMaster", err)
	}
	require.NoError(t, multisite.ChangeCodePage(ctx, boston.DB, "windows-1252"))
	var pkt bytes.Buffer
	_, err := multisite.ExportPacket(ctx, boston.DB, dublin.ID, &pkt, multisite.ExportOptions{})
	require.NoError(t, err)
	_, err = multisite.ImportPacket(ctx, dublin.DB, &pkt, multisite.ImportOptions{})
	var ce *multisite.CharsetError
	if !errors.As(err, &ce) {
		t.Fatalf("the packet that brings the change to dublin = %v, want a *multisite.CharsetError", err)
	}
	if got := fmt.Sprintf("%s[%s].%s", ce.Table, ce.Key, ce.Column); got != listed || ce.Char != "✓" {
		t.Errorf("dublin refused the change on %s %q, the page lists %s", got, ce.Char, listed)
	}
	if after := unchanged(t, dublin); after != before {
		t.Errorf("the refused change of code page changed dublin:\n%s\n%s", before, after)
	}

	rep, err := multisite.CleanCharset(ctx, dublin.DB, "windows-1252", multisite.CleanOptions{Apply: true})
	require.NoError(t, err)
	require.Equal(t, 1, rep.Applied)
	doc = get(t, &Handler{Family: f})
	if blocking := checkCharsetAgainstLibrary(t, doc, f); len(blocking) != 0 {
		t.Errorf("after the clean-up, blocking: %v", blocking)
	}
	if got := doc.byID(t, "plan").Text(); !strings.Contains(got, "Already on windows-1252: boston") {
		t.Errorf("after the change at the schema master the summary says %q", got)
	}
	// The change travels. In this first round the spokes' packets, made
	// under the old code page before the change reached them, are refused
	// by the hub (packets carry their code page); the next round is clean.
	if err := f.HubRound(ctx); err != nil && !errors.Is(err, multisite.ErrCodePage) {
		t.Fatalf("first round after the change: %v", err)
	}
	require.NoError(t, f.HubRound(ctx))
	doc = get(t, &Handler{Family: f})
	checkCharsetAgainstLibrary(t, doc, f)
	if _, clean, found := charsetOf(t, doc, "dublin", "windows-1252"); !found || !clean {
		t.Errorf("dublin, now on windows-1252: found %v, clean %v", found, clean)
	}
	if got := doc.byID(t, "plan").Text(); !strings.HasSuffix(got, "Already on windows-1252: boston, bangalore, dublin.") {
		t.Errorf("after a round the summary says %q", got)
	}
	if got := doc.byID(t, "codepage").Text(); got != "windows-1252" {
		t.Errorf("family code page %q after the change, want windows-1252", got)
	}
}

// TestHandler_PlannedIgnoresUnreplicated: a table the family does not
// replicate does not block a change of code page, so the page does not
// list its rows as blocking; ChangeCodePage agrees.
func TestHandler_PlannedIgnoresUnreplicated(t *testing.T) {
	f, _ := newFamily(t, BuildOptions{})
	f.Planned = "windows-1252"
	boston := f.Site("boston")
	require.NoError(t, Exec(ctx, boston, `CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT)`))
	require.NoError(t, Exec(ctx, boston, `INSERT INTO note VALUES (1, 'Build ✓ on arm64')`))
	rep, err := multisite.ValidateCharset(ctx, boston.DB, "windows-1252", multisite.CharsetOptions{})
	require.NoError(t, err)
	require.Len(t, rep.Violations, 1, "the unreplicated table holds a character outside windows-1252")

	doc := get(t, &Handler{Family: f})
	if blocking := checkCharsetAgainstLibrary(t, doc, f); len(blocking) != 0 {
		t.Errorf("blocking: %v, want none", blocking)
	}
	if _, clean, found := charsetOf(t, doc, "boston", "windows-1252"); !found || !clean {
		t.Errorf("boston under the planned windows-1252: found %v, clean %v", found, clean)
	}
	require.NoError(t, multisite.ChangeCodePage(ctx, boston.DB, "windows-1252"))
}

// TestHandler_RefusedPacketAndLag damages a packet on its way: the
// import refuses it with the library's error and changes nothing, the page
// shows it refused and the target one epoch behind, until an intact
// packet arrives.
func TestHandler_RefusedPacketAndLag(t *testing.T) {
	tests := []struct {
		name   string
		damage Damage
		want   error
	}{
		{"cut short", Truncate(64), syncpkt.ErrTruncated},
		{"cut to nothing", Truncate(1 << 20), syncpkt.ErrTruncated},
		{"bit flipped", FlipBit(100), syncpkt.ErrChecksum},
		{"magic damaged", FlipBit(0), syncpkt.ErrMagic},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _ := newFamily(t, BuildOptions{})
			boston, dublin := f.Site("boston"), f.Site("dublin")
			require.NoError(t, f.NewDefect(ctx, dublin, "Reported again in dublin"))
			before := unchanged(t, boston)
			err := f.Carry(ctx, dublin, boston, tt.damage)
			if !errors.Is(err, tt.want) {
				t.Fatalf("import of a packet that %s = %v, want %v", tt.damage, err, tt.want)
			}
			if after := unchanged(t, boston); after != before {
				t.Errorf("the refused import changed boston:\n%s\n%s", before, after)
			}
			doc := get(t, &Handler{Family: f})
			checkAgainstLibrary(t, doc, f)
			lag := pageCells(t, doc, "lag", "lag", "data-behind")
			if lag[boston.ID][dublin.ID] != "1" {
				t.Errorf("boston is %s epochs behind dublin, want 1 (dublin sealed the change the packet carried)", lag[boston.ID][dublin.ID])
			}
			refused := refusedRows(t, doc)
			if len(refused) != 1 {
				t.Fatalf("%d refused packets on the page, want 1", len(refused))
			}
			p := f.Packets()[0]
			txt := refused[0].Text()
			if refused[0].attr["data-from"] != "dublin" || refused[0].attr["data-to"] != "boston" || refused[0].attr["data-damaged"] != "true" ||
				!strings.Contains(txt, "refused: "+err.Error()) ||
				!strings.Contains(txt, fmt.Sprintf("damaged: %s (%d of %d bytes arrived)", tt.damage, p.Arrived, p.Bytes)) {
				t.Errorf("refused packet dublin>boston on the page: %q", txt)
			}
			if _, trunc := tt.damage.(Truncate); trunc == (p.Arrived == p.Bytes) || p.Bytes == 0 {
				t.Errorf("%d of %d bytes arrived of a packet that %s", p.Arrived, p.Bytes, tt.damage)
			}
			for _, tr := range doc.withClass("replica") {
				if tr.attr["data-name"] == "dublin" && !strings.Contains(tr.Text(), "to boston (refused)") {
					t.Errorf("dublin's row: %q", tr.Text())
				}
			}

			// The next intact packet carries the same change again.
			require.NoError(t, f.Sync(ctx, dublin, boston))
			doc = get(t, &Handler{Family: f})
			checkAgainstLibrary(t, doc, f)
			if got := pageCells(t, doc, "lag", "lag", "data-behind")[boston.ID][dublin.ID]; got != "0" {
				t.Errorf("after an intact packet boston is %s epochs behind dublin", got)
			}
			newest := doc.withClass("packet")[0]
			if newest.attr["data-ok"] != "true" || newest.attr["data-damaged"] != "" || !strings.Contains(newest.Text(), "applied: defect +1") {
				t.Errorf("newest packet: %q", newest.Text())
			}
		})
	}
}

// TestDemo plays the demo on a family of its own and checks the page
// against the library: dublin's row outside the planned code page, the
// packet boston refused, and the lag it leaves, which the next round
// clears.
func TestDemo(t *testing.T) {
	f, _ := newFamily(t, BuildOptions{})
	require.NoError(t, demo(ctx, f))
	f.Planned = demoPlanned
	boston, blr, dublin := f.Site("boston"), f.Site("bangalore"), f.Site("dublin")

	doc := get(t, &Handler{Family: f})
	checkAgainstLibrary(t, doc, f)
	blocking := checkCharsetAgainstLibrary(t, doc, f)
	if len(blocking) != 1 || len(blocking["dublin"]) != 1 {
		t.Fatalf("blocking %v, want one row at dublin", blocking)
	}
	var headline string
	key := strings.TrimSuffix(strings.TrimPrefix(blocking["dublin"][0], "defect["), "].headline")
	require.NoError(t, dublin.DB.QueryRowContext(ctx, `SELECT headline FROM defect WHERE id = ?`, key).Scan(&headline))
	if headline != "Build ✓ on arm64" {
		t.Errorf("the blocking row %s holds %q", blocking["dublin"][0], headline)
	}
	var refused []Packet
	for _, p := range f.Packets() {
		if p.Err != nil {
			refused = append(refused, p)
		}
	}
	if len(refused) != 1 || refused[0].From != dublin || refused[0].To != boston || !errors.Is(refused[0].Err, syncpkt.ErrTruncated) {
		t.Fatalf("refused packets: %+v, want dublin's to boston, truncated", refused)
	}
	if rows := refusedRows(t, doc); len(rows) != 1 || !strings.Contains(rows[0].Text(), "refused: "+refused[0].Err.Error()) {
		t.Errorf("the page's refused packets do not show the library's error %q", refused[0].Err)
	}
	lag := pageCells(t, doc, "lag", "lag", "data-behind")
	if lag[boston.ID][dublin.ID] != "1" || lag[blr.ID][dublin.ID] != "1" {
		t.Errorf("boston and bangalore are %s and %s behind dublin, want 1 and 1", lag[boston.ID][dublin.ID], lag[blr.ID][dublin.ID])
	}

	require.NoError(t, f.HubRound(ctx))
	doc = get(t, &Handler{Family: f})
	checkAgainstLibrary(t, doc, f)
	for h, row := range pageCells(t, doc, "lag", "lag", "data-behind") {
		for o, behind := range row {
			if behind != "0" {
				t.Errorf("after a good round %s is %s behind %s", h, behind, o)
			}
		}
	}
	// The row has travelled: every replica now holds it, and so blocks.
	if blocking := checkCharsetAgainstLibrary(t, doc, f); len(blocking) != 3 {
		t.Errorf("after a good round, blocking at %v; want every replica", blocking)
	}
}

// TestExec_RefusesOutsideCodePage: in a windows-1252 family the database
// itself refuses "✓", and Exec gives the library's typed error.
func TestExec_RefusesOutsideCodePage(t *testing.T) {
	f, _ := newFamily(t, BuildOptions{CodePage: "windows-1252"})
	blr := f.Site("bangalore")
	before := unchanged(t, blr)
	id, err := multisite.NextID(ctx, blr.DB, nil, "defect")
	require.NoError(t, err)
	err = Exec(ctx, blr, `INSERT INTO defect (id, project, headline) VALUES (?, 'CORE', 'Build ✓ on arm64')`, id)
	var ce *multisite.CharsetError
	if !errors.As(err, &ce) || !errors.Is(err, multisite.ErrCharset) {
		t.Fatalf("Exec = %v, want a *multisite.CharsetError", err)
	}
	// SQLite's refusal is a literal naming table and column (see the
	// README's SQLite floor).
	if diff := cmp.Diff(multisite.CharsetError{Table: "defect", Column: "headline"}, *ce); diff != "" {
		t.Errorf("CharsetError (-want +got):\n%s", diff)
	}
	if after := unchanged(t, blr); after != before {
		t.Errorf("the refused write changed bangalore:\n%s\n%s", before, after)
	}
	doc := get(t, &Handler{Family: f})
	checkCharsetAgainstLibrary(t, doc, f)
	for _, s := range f.Sites {
		if _, clean, found := charsetOf(t, doc, s.Name, "windows-1252"); !found || !clean {
			t.Errorf("%s under windows-1252: found %v, clean %v", s.Name, found, clean)
		}
	}
}

func TestTransit(t *testing.T) {
	pkt := func() []byte { return []byte{1, 2, 3, 4} }
	tests := []struct {
		damage Damage
		want   []byte
	}{
		{Truncate(1), []byte{1, 2, 3}},
		{Truncate(0), []byte{1, 2, 3, 4}},
		{Truncate(9), []byte{}},
		{Truncate(-1), []byte{1, 2, 3, 4}},
		{FlipBit(0), []byte{0, 2, 3, 4}},
		{FlipBit(2), []byte{1, 2, 2, 4}},
		{FlipBit(9), []byte{1, 2, 3, 5}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, tt.damage.Apply(pkt())); diff != "" {
			t.Errorf("%T(%v) (-want +got):\n%s", tt.damage, tt.damage, diff)
		}
	}
	if got := FlipBit(3).Apply(nil); len(got) != 0 {
		t.Errorf("FlipBit of nothing = %v", got)
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
