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

	"github.com/multisite-go/multisite"
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
// states, the epoch matrix and the lag as the library reports them, a
// charset violation stored at one replica, and the matrix moving after one
// more write and sync.
func TestBrowser_RendersLiveFamily(t *testing.T) {
	browser := chromium(t)
	f, _ := newFamily(t, BuildOptions{ReceiveOnly: []string{"dublin"}})
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
	states := map[string]string{}
	for _, r := range pageReplicas(doc) {
		states[r[0]] = r[1]
	}
	if states["boston"] != "active" || states["bangalore"] != "active" || states["dublin"] != "receive-only" {
		t.Errorf("states in the browser: %v", states)
	}
	if got, clean := charsetOf(t, doc, "bangalore"); len(got) != 1 || got[0] != violation || clean {
		t.Errorf("bangalore's charset result in the browser: %v (clean %v), want [%s]", got, clean, violation)
	}
	for _, name := range []string{"boston", "dublin"} {
		if got, clean := charsetOf(t, doc, name); len(got) != 0 || !clean {
			t.Errorf("%s's charset result in the browser: %v (clean %v), want clean", name, got, clean)
		}
	}
	for _, e := range doc.withClass("ago") {
		if txt := e.Text(); txt != "just now" && !strings.HasSuffix(txt, " ago") {
			t.Errorf("a time label reads %q after the script ran", txt)
		}
	}

	// One more write at boston and a sync to dublin move the matrix.
	boston, dublin := f.Site("boston"), f.Site("dublin")
	before := pageCells(t, doc, "matrix", "epoch", "")[dublin.ID][boston.ID]
	require.NoError(t, f.NewDefect(ctx, boston, "One more"))
	require.NoError(t, f.Sync(ctx, boston, dublin))
	doc = parseHTML(t, dumpDOM(t, browser, srv.URL+"/"))
	checkAgainstLibrary(t, doc, f)
	after := pageCells(t, doc, "matrix", "epoch", "")[dublin.ID][boston.ID]
	b, _ := strconv.Atoi(before)
	a, _ := strconv.Atoi(after)
	if a != b+1 {
		t.Errorf("dublin's epoch of boston went from %q to %q in the browser, want one more", before, after)
	}
	st, err := multisite.ReadStatus(ctx, dublin.DB)
	require.NoError(t, err)
	if after != strconv.FormatUint(st.Matrix[dublin.ID].Get(boston.ID), 10) {
		t.Errorf("browser shows %s, library reports %d", after, st.Matrix[dublin.ID].Get(boston.ID))
	}
	newest := doc.withClass("packet")[0]
	if newest.attr["data-from"] != "boston" || newest.attr["data-to"] != "dublin" || !strings.Contains(newest.Text(), "defect +1") {
		t.Errorf("newest packet in the browser: %q", newest.Text())
	}
}
