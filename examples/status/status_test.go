package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/syncpkt"
	"github.com/stretchr/testify/require"
)

// chromium returns the path of Debian's Chromium, or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Skipf("headless browser test skipped: Chromium is not installed (%v); apt-get install chromium", err)
	}
	return path
}

// dumpDOM loads url in a fresh headless Chromium and returns the DOM it
// serializes once the page has loaded and its scripts have run.
func dumpDOM(t *testing.T, browser, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--dump-dom", url)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium --dump-dom %s: %v\n%s", url, err, stderr.String())
	}
	if stdout.Len() == 0 {
		t.Fatalf("chromium dumped no DOM for %s:\n%s", url, stderr.String())
	}
	return stdout.String()
}

// TestBrowser_RendersLiveFamily serves a live three-replica family and
// reads the page as headless Chromium renders it: the replicas and their
// states, the epoch matrix and the lag as the library reports them, the
// charset checks against the family's and the planned code page as
// ValidateCharset reports them, a packet damaged in transit shown refused
// with ImportPacket's error and leaving dublin one epoch behind, and the
// matrix moving once an intact packet arrives.
func TestBrowser_RendersLiveFamily(t *testing.T) {
	browser := chromium(t)
	f, _ := newFamily(t, BuildOptions{ReceiveOnly: []string{"dublin"}})
	f.Planned = demoPlanned
	srv := httptest.NewServer(&Handler{Family: f})
	defer srv.Close()
	violation := injectViolation(t, f.Site("bangalore"))

	doc := parseHTML(t, dumpDOM(t, browser, srv.URL+"/"))
	if got := doc.all(func(n *node) bool { return n.tag == "html" })[0].attr["data-clock"]; got != "running" {
		t.Errorf("the page's script did not run in the browser: data-clock = %q", got)
	}
	if got := len(doc.withClass("replica")); got != 3 {
		t.Fatalf("the browser shows %d replicas, want 3", got)
	}
	checkAgainstLibrary(t, doc, f)
	blocking := checkCharsetAgainstLibrary(t, doc, f)
	if diff := cmp.Diff(map[string][]string{"bangalore": {violation}}, blocking); diff != "" {
		t.Errorf("rows blocking %s (-want +library):\n%s", demoPlanned, diff)
	}
	states := map[string]string{}
	for _, r := range pageReplicas(doc) {
		states[r[0]] = r[1]
	}
	if states["boston"] != "active" || states["bangalore"] != "active" || states["dublin"] != "receive-only" {
		t.Errorf("states in the browser: %v", states)
	}
	if got, clean, _ := charsetOf(t, doc, "bangalore", demoPlanned); len(got) != 1 || got[0] != violation || clean {
		t.Errorf("bangalore's %s result in the browser: %v (clean %v), want [%s]", demoPlanned, got, clean, violation)
	}
	for _, e := range doc.withClass("ago") {
		if txt := e.Text(); txt != "just now" && !strings.HasSuffix(txt, " ago") {
			t.Errorf("a time label reads %q after the script ran", txt)
		}
	}

	// One more write at boston; its packet to dublin is cut short on the
	// way, and dublin refuses it.
	boston, dublin := f.Site("boston"), f.Site("dublin")
	epochOf := func(doc *node) int {
		e, err := strconv.Atoi(pageCells(t, doc, "matrix", "epoch", "")[dublin.ID][boston.ID])
		require.NoError(t, err)
		return e
	}
	before := epochOf(doc)
	require.NoError(t, f.NewDefect(ctx, boston, "One more"))
	err := f.Carry(ctx, boston, dublin, Truncate(64))
	require.ErrorIs(t, err, syncpkt.ErrTruncated)
	doc = parseHTML(t, dumpDOM(t, browser, srv.URL+"/"))
	checkAgainstLibrary(t, doc, f)
	if got := epochOf(doc); got != before {
		t.Errorf("dublin's epoch of boston went from %d to %d in the browser, though dublin refused the packet", before, got)
	}
	if got := pageCells(t, doc, "lag", "lag", "data-behind")[dublin.ID][boston.ID]; got != "1" {
		t.Errorf("the browser shows dublin %s behind boston, want 1", got)
	}
	newest := doc.withClass("packet")[0]
	if newest.attr["data-ok"] != "false" || newest.attr["data-to"] != "dublin" || !strings.Contains(newest.Text(), "refused: "+err.Error()) {
		t.Errorf("newest packet in the browser: %q, want refused with %q", newest.Text(), err)
	}

	// The next intact packet brings dublin up to date.
	require.NoError(t, f.Sync(ctx, boston, dublin))
	doc = parseHTML(t, dumpDOM(t, browser, srv.URL+"/"))
	checkAgainstLibrary(t, doc, f)
	after := epochOf(doc)
	if after != before+1 {
		t.Errorf("dublin's epoch of boston went from %d to %d in the browser, want one more", before, after)
	}
	st, err := multisite.ReadStatus(ctx, dublin.DB)
	require.NoError(t, err)
	if uint64(after) != st.Matrix[dublin.ID].Get(boston.ID) {
		t.Errorf("browser shows %d, library reports %d", after, st.Matrix[dublin.ID].Get(boston.ID))
	}
	newest = doc.withClass("packet")[0]
	if newest.attr["data-from"] != "boston" || newest.attr["data-to"] != "dublin" || !strings.Contains(newest.Text(), "applied: defect +1") {
		t.Errorf("newest packet in the browser: %q", newest.Text())
	}
}
