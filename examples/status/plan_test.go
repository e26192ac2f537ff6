package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"image/png"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/examples/internal/plan"
	"github.com/multisite-go/multisite/replica"
)

// postgresDB creates an empty PostgreSQL database for the test and
// returns its URL, or skips the test when MULTISITE_TEST_POSTGRES is unset.
func postgresDB(t *testing.T) string {
	t.Helper()
	admin := os.Getenv("MULTISITE_TEST_POSTGRES")
	if admin == "" {
		t.Skip("PostgreSQL half skipped: set MULTISITE_TEST_POSTGRES to a DSN")
	}
	var b [5]byte
	_, _ = rand.Read(b[:])
	name := "ms_status_" + hex.EncodeToString(b[:])
	db, err := sql.Open("pgx", admin)
	require.NoError(t, err)
	_, err = db.Exec("CREATE DATABASE " + name)
	require.NoError(t, err)
	t.Cleanup(func() {
		db.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
		db.Exec("DROP DATABASE IF EXISTS " + name)
		db.Close()
	})
	u, err := url.Parse(admin)
	require.NoError(t, err)
	u.Path = "/" + name
	return u.String()
}

// TestBrowser_PlanFamily renders, in headless Chromium, a family of a
// SQLite site (boston) and a PostgreSQL site (dublin) opened from their
// deployment plan: both replicas read from their own databases, dublin's
// open mastership request, the mastership counts as the library reports
// them, the packet waiting in boston's bay, the content hashes; and it
// takes a screenshot of the page.
func TestBrowser_PlanFamily(t *testing.T) {
	browser := chromium(t)
	pgURL := postgresDB(t)
	ctx := context.Background()
	dir := t.TempDir()
	bostonPath := filepath.Join(dir, "boston.db")
	boston, err := sql.Open("sqlite", dsn(bostonPath))
	require.NoError(t, err)
	defer boston.Close()
	for _, q := range []string{
		`CREATE TABLE defect (id BIGINT PRIMARY KEY, headline TEXT NOT NULL)`,
		`INSERT INTO defect VALUES (1, 'crash on save'), (2, 'login loops'), (3, 'slow search')`,
	} {
		_, err := boston.Exec(q)
		require.NoError(t, err)
	}
	_, err = multisite.Activate(ctx, boston, multisite.ActivateOptions{Name: "boston"})
	require.NoError(t, err)
	var pkt bytes.Buffer
	_, _, err = multisite.Replicate(ctx, boston, "dublin", &pkt, multisite.ReplicateOptions{})
	require.NoError(t, err)
	dublin, err := sql.Open("pgx", pgURL)
	require.NoError(t, err)
	defer dublin.Close()
	_, err = multisite.CreateReplica(ctx, dublin, &pkt, multisite.CreateOptions{})
	require.NoError(t, err)
	require.NoError(t, multisite.SetState(ctx, dublin, replica.Active))
	reqID, err := multisite.RequestMastership(ctx, dublin, "defect", []any{int64(2)}, "dublin works on it")
	require.NoError(t, err)

	// dublin's packet (with the request) waits in boston's bay.
	bay := filepath.Join(dir, "bay")
	require.NoError(t, os.Mkdir(bay, 0o755))
	st, err := multisite.ReadStatus(ctx, boston)
	require.NoError(t, err)
	var out bytes.Buffer
	_, err = multisite.ExportPacket(ctx, dublin, st.Local.ID, &out, multisite.ExportOptions{})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(bay, "dublin-boston-1.pkt"), out.Bytes(), 0o644))

	planFile := filepath.Join(dir, "family.yaml")
	require.NoError(t, os.WriteFile(planFile, []byte(fmt.Sprintf(`family: defects
codepage: UTF-8
sites:
  - {name: boston, vendor: sqlite, dsn: %s, working: true}
  - {name: dublin, vendor: postgres, dsn: '%s'}
sync: {pattern: hub-and-spoke, hub: boston, every: 15m}
transport: {kind: bay, bay: %s}
`, bostonPath, pgURL, bay)), 0o644))
	p, err := plan.LoadFile(planFile)
	require.NoError(t, err)
	f, err := OpenPlan(ctx, p)
	require.NoError(t, err)
	defer f.Close()
	srv := httptest.NewServer(&Handler{Family: f})
	defer srv.Close()

	doc := parseHTML(t, dumpDOM(t, browser, srv.URL+"/"))
	reps := doc.withClass("replica")
	if len(reps) != 2 {
		t.Fatalf("the browser shows %d replicas, want 2", len(reps))
	}
	for _, r := range reps {
		if cells := r.all(func(n *node) bool { return n.tag == "td" }); len(cells) < 7 {
			t.Errorf("replica row %q is short", r.Text())
		} else if _, err := strconv.Atoi(cells[6].Text()); err != nil {
			t.Errorf("%s's unsealed changes read %q: its database was not read", r.attr["data-name"], cells[6].Text())
		}
	}
	reqs := doc.withClass("request")
	if len(reqs) != 1 || reqs[0].attr["data-id"] != string(reqID) || reqs[0].attr["data-requester"] != "dublin" || reqs[0].attr["data-master"] != "boston" {
		t.Errorf("requests in the browser: %d rows, first %v", len(reqs), attrs(reqs))
	}
	rep, err := multisite.Mastered(ctx, boston, multisite.MasteryOptions{})
	require.NoError(t, err)
	for _, row := range doc.withClass("mastery") {
		for _, td := range row.all(func(n *node) bool { return n.tag == "td" }) {
			id := map[string]replica.ID{"boston": st.Local.ID}[td.attr["data-replica"]]
			if td.attr["data-replica"] == "dublin" {
				for _, r := range st.Replicas {
					if r.Name == "dublin" {
						id = r.ID
					}
				}
			}
			if want := strconv.Itoa(rep.Counts[row.attr["data-table"]][id]); td.Text() != want {
				t.Errorf("%s rows %s masters: browser %s, library %s", row.attr["data-table"], td.attr["data-replica"], td.Text(), want)
			}
		}
	}
	if len(doc.withClass("mastery")) == 0 {
		t.Errorf("no mastership counts in the browser")
	}
	waiting := doc.withClass("waiting")
	if len(waiting) != 1 { // one bay shared by both sites: listed once
		t.Errorf("packets waiting in the browser: %d, want 1", len(waiting))
	}
	if bays := doc.withClass("bay"); len(bays) != 1 || bays[0].attr["data-site"] != "boston, dublin" {
		t.Errorf("bays in the browser: %v", attrs(bays))
	}
	for _, w := range waiting {
		if w.attr["data-from"] != "dublin" || w.attr["data-to"] != "boston" {
			t.Errorf("waiting packet %v", w.attr)
		}
	}
	if got := len(doc.withClass("hash")); got != 2 {
		t.Errorf("content hashes in the browser: %d, want 2", got)
	}

	// A screenshot of the page as a person sees it.
	shot := filepath.Join(t.TempDir(), "status.png")
	sctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(sctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
		"--user-data-dir="+t.TempDir(), "--window-size=1280,1600", "--screenshot="+shot, srv.URL+"/")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium --screenshot: %v\n%s", err, b)
	}
	fh, err := os.Open(shot)
	require.NoError(t, err)
	defer fh.Close()
	img, err := png.Decode(fh)
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 1600 {
		t.Errorf("screenshot is %v, want 1280x1600", b)
	}
	colors := map[uint32]bool{}
	for y := 0; y < img.Bounds().Dy(); y += 7 {
		for x := 0; x < img.Bounds().Dx(); x += 7 {
			r, g, b, _ := img.At(x, y).RGBA()
			colors[r>>8<<16|g>>8<<8|b>>8] = true
		}
	}
	if len(colors) < 8 {
		t.Errorf("the screenshot has %d colours: the page did not render", len(colors))
	}
	if keep := os.Getenv("STATUS_SCREENSHOT"); keep != "" {
		b, _ := os.ReadFile(shot)
		os.WriteFile(keep, b, 0o644)
	}
}

func attrs(ns []*node) []map[string]string {
	var out []map[string]string
	for _, n := range ns {
		out = append(out, n.attr)
	}
	return out
}

// TestOpenPlan_Problems: a site whose database cannot be read is named
// under Problems, the others are shown; a packet waiting over a day is
// flagged stale.
func TestOpenPlan_Problems(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	bostonPath := filepath.Join(dir, "boston.db")
	boston, err := sql.Open("sqlite", dsn(bostonPath))
	require.NoError(t, err)
	defer boston.Close()
	_, err = boston.Exec(`CREATE TABLE defect (id INTEGER PRIMARY KEY, headline TEXT)`)
	require.NoError(t, err)
	_, err = multisite.Activate(ctx, boston, multisite.ActivateOptions{Name: "boston"})
	require.NoError(t, err)
	bay := filepath.Join(dir, "bay")
	require.NoError(t, os.Mkdir(bay, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(bay, ".sync-boston.json"), []byte(`{"site":"boston","replica":"boston","started":"2026-01-02T03:04:05Z","failed":1,
"links":[{"peer":"dublin","direction":"out","via":"push","status":"failed","error":"transport: 401 Unauthorized: unknown token"},{"peer":"dublin","direction":"in","via":"pull","status":"ok"}]}`), 0o644))
	old := filepath.Join(bay, "x-boston-1.pkt")
	require.NoError(t, os.WriteFile(old, []byte("not a packet"), 0o644))
	require.NoError(t, os.Chtimes(old, time.Now().Add(-48*time.Hour), time.Now().Add(-48*time.Hour)))

	p := &plan.Plan{Family: "defects", CodePage: "UTF-8",
		Sites: []plan.Site{
			{Name: "boston", Vendor: plan.SQLite, DSN: bostonPath, Working: true},
			{Name: "paris", Vendor: plan.SQLite, DSN: filepath.Join(dir, "paris.db")},
		},
		Sync:      plan.Sync{Pattern: plan.HubAndSpoke, Hub: "boston", Every: "1h"},
		Transport: plan.Transport{Bay: bay},
	}
	f, err := OpenPlan(ctx, p)
	require.NoError(t, err)
	defer f.Close()
	var b bytes.Buffer
	require.NoError(t, Render(&b, f.Gather(ctx)))
	doc := parseHTML(t, b.String())
	problems := doc.withClass("problem")
	if len(problems) != 1 || !bytes.Contains([]byte(problems[0].Text()), []byte("site paris")) {
		t.Errorf("problems: %v", problems)
	}
	if _, err := os.Stat(filepath.Join(dir, "paris.db")); err == nil {
		t.Errorf("opening the plan created paris's missing database")
	}
	rounds := doc.withClass("round")
	if len(rounds) != 1 || rounds[0].attr["data-failed"] != "1" || !bytes.Contains([]byte(rounds[0].Text()), []byte("to dublin via push: transport: 401")) {
		t.Errorf("sync rounds: %v %v", attrs(rounds), rounds)
	}
	w := doc.withClass("waiting")
	if len(w) != 1 || !bytes.Contains([]byte(w[0].attr["class"]), []byte("stale")) {
		t.Errorf("waiting packets: %v", attrs(w))
	}
}
