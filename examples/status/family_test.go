package main

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/stretchr/testify/require"
)

// postgresLocation creates a fresh PostgreSQL database (dropped when t
// ends) and returns its postgres:// location, as -db takes it. It skips t
// when MULTISITE_TEST_POSTGRES is unset.
func postgresLocation(t *testing.T, name string) string {
	t.Helper()
	if ok, reason := testdb.Available("postgres"); !ok {
		t.Skip(reason)
	}
	db := testdb.Postgres(t, name)
	var dbname string
	require.NoError(t, db.QueryRowContext(ctx, `SELECT current_database()`).Scan(&dbname))
	u, err := url.Parse(os.Getenv(testdb.PostgresEnv))
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Skipf("%s is not a postgres:// URL, which -db needs", testdb.PostgresEnv)
	}
	u.Path = "/" + dbname
	return u.String()
}

// mysqlLocation creates a fresh MariaDB/MySQL database (dropped when t
// ends) and returns its mysql:// location, as -db takes it. It skips t
// when MULTISITE_TEST_MYSQL is unset.
func mysqlLocation(t *testing.T, name string) string {
	t.Helper()
	if ok, reason := testdb.Available("mysql"); !ok {
		t.Skip(reason)
	}
	db := testdb.MySQL(t, name)
	var dbname string
	require.NoError(t, db.QueryRowContext(ctx, `SELECT DATABASE()`).Scan(&dbname))
	dsn := os.Getenv(testdb.MySQLEnv)
	slash := strings.LastIndex(dsn, "/")
	if slash < 0 {
		t.Skipf("%s has no /dbname, which -db needs", testdb.MySQLEnv)
	}
	rest := ""
	if q := strings.IndexByte(dsn[slash:], '?'); q >= 0 {
		rest = dsn[slash+q:]
	}
	return "mysql://" + dsn[:slash+1] + dbname + rest
}

// screenshot loads url in a fresh headless Chromium, writes a PNG of the
// page to path and returns the decoded image.
func screenshot(t *testing.T, browser, url, path string) image.Image {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--user-data-dir="+t.TempDir(), "--window-size=1400,3000", "--screenshot="+path, url)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium --screenshot %s: %v\n%s", url, err, out)
	}
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", path, err)
	}
	return img
}

// colours counts the distinct colours of img, up to limit.
func colours(img image.Image, limit int) int {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
			if len(seen) >= limit {
				return limit
			}
		}
	}
	return len(seen)
}

// serve runs the program as an administrator would, with args and
// -listen 127.0.0.1:0, and returns the URL it announces; the server
// stops when t ends.
func serve(t *testing.T, args ...string) string {
	t.Helper()
	sctx, stop := context.WithCancel(ctx)
	stderr := &lockedBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(sctx, append(args, "-listen", "127.0.0.1:0"), io.Discard, stderr) }()
	t.Cleanup(func() {
		stop()
		select {
		case code := <-done:
			if code != exitOK {
				t.Errorf("exit status %d after interrupt; stderr:\n%s", code, stderr.String())
			}
		case <-time.After(30 * time.Second):
			t.Error("the server did not stop")
		}
	})
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if u := regexp.MustCompile(`http://\S+/`).FindString(stderr.String()); u != "" {
			return u
		}
		select {
		case code := <-done:
			t.Fatalf("status exited with %d: %s", code, stderr.String())
		default:
		}
	}
	t.Fatalf("no address announced: %s", stderr.String())
	return ""
}

// pageMastery reads the mastership table: site -> table -> master -> count.
func pageMastery(t *testing.T, doc *node) map[string]map[string]map[string]int {
	t.Helper()
	sec := doc.byID(t, "mastery")
	var sites []string
	for _, th := range sec.all(func(n *node) bool { return n.tag == "th" }) {
		if s, ok := strings.CutPrefix(th.Text(), "at "); ok {
			sites = append(sites, s)
		}
	}
	out := map[string]map[string]map[string]int{}
	for _, tr := range sec.withClass("mastery") {
		for i, td := range tr.withClass("count") {
			n, err := strconv.Atoi(td.Text())
			if err != nil || i >= len(sites) {
				t.Fatalf("mastership cell %q (column %d of %v)", td.Text(), i, sites)
			}
			if out[sites[i]] == nil {
				out[sites[i]] = map[string]map[string]int{}
			}
			if out[sites[i]][tr.attr["data-table"]] == nil {
				out[sites[i]][tr.attr["data-table"]] = map[string]int{}
			}
			out[sites[i]][tr.attr["data-table"]][tr.attr["data-master"]] = n
		}
	}
	return out
}

// libraryMastery is what multisite.Mastered reports at every site, in
// pageMastery's form.
func libraryMastery(t *testing.T, f *Family) map[string]map[string]map[string]int {
	t.Helper()
	out := map[string]map[string]map[string]int{}
	for _, s := range f.Sites {
		rep, err := multisite.Mastered(ctx, s.DB, multisite.MasteryOptions{})
		require.NoError(t, err)
		out[s.Name] = map[string]map[string]int{}
		for table, per := range rep.Counts {
			out[s.Name][table] = map[string]int{}
			for id, n := range per {
				out[s.Name][table][rep.Names[id]] = n
			}
		}
	}
	return out
}

// TestBrowser_FamilyOnEveryDialect builds the demo family with bangalore
// on SQLite, then on PostgreSQL, then on MariaDB (each server's half
// skips when its MULTISITE_TEST_* variable is unset), serves it with the program itself given
// the sites as -db locations and the storage bay as -bay, and checks the
// page headless Chromium renders against the library: both kinds of site
// with their states, the epoch matrix, the mastership counts, the open
// request, the collision, the packet waiting in the bay; then, after a
// good round, that the replicas are compared and found alike. A
// screenshot of the page is written to the test's temporary directory.
func TestBrowser_FamilyOnEveryDialect(t *testing.T) {
	browser := chromium(t)
	for _, dialect := range []string{"sqlite", "postgres", "mysql"} {
		t.Run("bangalore on "+dialect, func(t *testing.T) {
			dir := t.TempDir()
			bay := filepath.Join(dir, "bay")
			require.NoError(t, os.Mkdir(bay, 0o755))
			locations := map[string]string{}
			switch dialect {
			case "postgres":
				locations["bangalore"] = postgresLocation(t, "status_bangalore")
			case "mysql":
				locations["bangalore"] = mysqlLocation(t, "status_bangalore")
			}
			f, err := BuildFamily(ctx, dir, BuildOptions{Locations: locations})
			require.NoError(t, err)
			t.Cleanup(func() { f.Close() })
			f.Bays = []string{bay}
			require.NoError(t, demo(ctx, f))
			var args []string
			for _, s := range f.Sites {
				loc := locations[s.Name]
				if loc == "" {
					loc = filepath.Join(dir, s.Name+".db")
				}
				args = append(args, "-db", loc)
			}
			pageURL := serve(t, append(args, "-bay", bay, "-refresh", "45s")...)

			img := screenshot(t, browser, pageURL, filepath.Join(t.TempDir(), "status.png"))
			if b := img.Bounds(); b.Dx() != 1400 || b.Dy() != 3000 || colours(img, 16) < 16 {
				t.Errorf("screenshot is %v with %d colours: not the page", b, colours(img, 16))
			}
			if keep := os.Getenv("STATUS_SCREENSHOT"); keep != "" { // to look at it
				var buf bytes.Buffer
				require.NoError(t, png.Encode(&buf, img))
				require.NoError(t, os.WriteFile(strings.ReplaceAll(keep, "DIALECT", dialect), buf.Bytes(), 0o644))
			}

			doc := parseHTML(t, dumpDOM(t, browser, pageURL))
			if got := doc.all(func(n *node) bool { return n.tag == "html" })[0].attr["data-clock"]; got != "running" {
				t.Errorf("the page's script did not run: data-clock = %q", got)
			}
			refresh := doc.all(func(n *node) bool { return n.tag == "meta" && n.attr["http-equiv"] == "refresh" })
			if len(refresh) != 1 || refresh[0].attr["content"] != "45" {
				t.Errorf("the page does not reload itself every 45 s: %d refresh tags", len(refresh))
			}
			if p := doc.withClass("problem"); len(p) != 0 {
				t.Errorf("problems: %s", p[0].Text())
			}
			checkAgainstLibrary(t, doc, f)
			kinds := map[string]string{}
			for _, tr := range doc.withClass("replica") {
				kinds[tr.attr["data-name"]] = tr.attr["data-kind"]
			}
			if diff := cmp.Diff(map[string]string{"boston": "sqlite", "bangalore": dialect, "dublin": "sqlite"}, kinds); diff != "" {
				t.Errorf("databases of the replicas (-want +page):\n%s", diff)
			}
			if diff := cmp.Diff(libraryMastery(t, f), pageMastery(t, doc)); diff != "" {
				t.Errorf("mastership counts (-library +page):\n%s", diff)
			}

			reqs, err := multisite.Requests(ctx, f.Site("boston").DB, multisite.RequestFilter{})
			require.NoError(t, err)
			require.Len(t, reqs, 1)
			rows := doc.withClass("request")
			if len(rows) != 1 || rows[0].attr["data-id"] != string(reqs[0].ID) || rows[0].attr["data-state"] != string(multisite.RequestPending) ||
				!strings.Contains(rows[0].Text(), "defect[1]") || !strings.Contains(rows[0].Text(), "bangalore") {
				t.Errorf("requests on the page: %d, want bangalore's pending request %s for defect[1]", len(rows), reqs[0].ID)
			}

			cols, err := multisite.Collisions(ctx, f.Site("boston").DB, multisite.CollisionFilter{})
			require.NoError(t, err)
			require.Len(t, cols, 1)
			rows = doc.withClass("collision")
			if len(rows) != 1 || rows[0].attr["data-id"] != string(cols[0].ID) || !strings.Contains(rows[0].Text(), cols[0].Renamed) {
				t.Errorf("collisions on the page: %d, want %s renamed to %q", len(rows), cols[0].ID, cols[0].Renamed)
			}

			files, err := filepath.Glob(filepath.Join(bay, "*.pkt"))
			require.NoError(t, err)
			require.Len(t, files, 1)
			rows = doc.withClass("bay-packet")
			if len(rows) != 1 || rows[0].attr["data-state"] != bayWaiting || rows[0].attr["data-from"] != "dublin" || rows[0].attr["data-to"] != "boston" ||
				!strings.Contains(rows[0].Text(), filepath.Base(files[0])) || !strings.Contains(rows[0].Text(), "in transit") {
				t.Errorf("bay packets on the page: %d, want dublin's to boston waiting", len(rows))
			}
			waiting := map[string]string{}
			for _, tr := range doc.withClass("replica") {
				waiting[tr.attr["data-name"]] = tr.withClass("waiting")[0].Text()
			}
			if diff := cmp.Diff(map[string]string{"boston": "1", "bangalore": "0", "dublin": "0"}, waiting); diff != "" {
				t.Errorf("packets waiting per replica (-want +page):\n%s", diff)
			}
			if c := doc.byID(t, "compare"); c.attr["data-compared"] != "false" || !strings.Contains(c.Text(), "not compared") {
				t.Errorf("divergence while the replicas differ: %q", c.Text())
			}

			// A good round brings every replica to the same vector: the
			// page compares them, and the packet in the bay has nothing
			// left to bring.
			require.NoError(t, f.HubRound(ctx))
			doc = parseHTML(t, dumpDOM(t, browser, pageURL))
			checkAgainstLibrary(t, doc, f)
			hashes := map[string]bool{}
			for _, s := range f.Sites {
				h, err := multisite.ContentHash(ctx, s.DB)
				require.NoError(t, err)
				hashes[h] = true
			}
			c := doc.byID(t, "compare")
			if c.attr["data-compared"] != "true" || c.attr["data-diverged"] != strconv.FormatBool(len(hashes) > 1) {
				t.Errorf("divergence after a good round: %q (compared %s, diverged %s); the library gives %d distinct hashes",
					c.Text(), c.attr["data-compared"], c.attr["data-diverged"], len(hashes))
			}
			if rows := doc.withClass("bay-packet"); len(rows) != 1 || !strings.Contains(rows[0].Text(), "already holds") {
				t.Errorf("the bay's packet after the round: %d rows", len(rows))
			}
		})
	}
}

// TestOpenSites_ErrorsPerSite: a database that cannot be opened, one that
// is no replica and one of another family each show as a problem of its
// own, and the other sites are shown.
func TestOpenSites_ErrorsPerSite(t *testing.T) {
	_, dir := newFamily(t, BuildOptions{})
	_, otherDir := newFamily(t, BuildOptions{})
	plain := filepath.Join(t.TempDir(), "plain.db")
	s, err := openSite(plain, true)
	require.NoError(t, err)
	require.NoError(t, Exec(ctx, s, `CREATE TABLE t (id INTEGER PRIMARY KEY)`))
	require.NoError(t, s.DB.Close())
	missing := filepath.Join(t.TempDir(), "missing.db")
	g := OpenSites(ctx, []string{filepath.Join(dir, "boston.db"), missing, plain, filepath.Join(otherDir, "dublin.db"), filepath.Join(dir, "dublin.db"),
		"postgres://nobody:secret@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"})
	t.Cleanup(func() { g.Close() })
	p := g.Gather(ctx)
	var names []string
	for _, r := range p.Replicas {
		if r.Site != "" {
			names = append(names, r.Name)
		}
	}
	if diff := cmp.Diff([]string{"boston", "dublin"}, names); diff != "" {
		t.Errorf("replicas read (-want +got):\n%s", diff)
	}
	if len(p.Problems) != 4 {
		t.Fatalf("problems: %q, want 4", p.Problems)
	}
	var other *Site
	for _, s := range g.Sites {
		if strings.HasPrefix(s.Path, otherDir) {
			other = s
		}
	}
	if other == nil || !errors.Is(other.Err, ErrOtherFamily) {
		t.Errorf("the other family's dublin: %v, want ErrOtherFamily", other.Err)
	}
	for i, want := range []string{"missing.db", "plain.db", "a database of another family", "postgres://nobody:***@127.0.0.1:1/none"} {
		if !strings.Contains(p.Problems[i], want) {
			t.Errorf("problem %d: %q, want it to say %q", i, p.Problems[i], want)
		}
	}
	for _, pr := range p.Problems {
		if strings.Contains(pr, "secret") {
			t.Errorf("a problem shows the password: %q", pr)
		}
	}
}

// TestScanDir_FlagsStaleFiles: a folder holding the family, a copy of one
// replica, another family's file and a file untouched for days: the
// family is shown, and each stale file is flagged.
func TestScanDir_FlagsStaleFiles(t *testing.T) {
	f, dir := newFamily(t, BuildOptions{})
	other, otherDir := newFamily(t, BuildOptions{})
	require.NoError(t, other.Close())
	require.NoError(t, f.Close())
	require.NoError(t, os.Rename(filepath.Join(otherDir, "boston.db"), filepath.Join(dir, "zurich.db")))
	copyFile(t, filepath.Join(dir, "bangalore.db"), filepath.Join(dir, "bangalore-old.db"))
	old := time.Now().Add(-72 * time.Hour)
	require.NoError(t, os.Chtimes(filepath.Join(dir, "bangalore-old.db"), old, old))
	require.NoError(t, os.Chtimes(filepath.Join(dir, "dublin.db"), old, old))

	g, err := ScanDir(ctx, dir, 0)
	require.NoError(t, err)
	t.Cleanup(func() { g.Close() })
	stale := map[string]string{}
	errs := map[string]error{}
	for _, s := range g.Sites {
		if s.Stale != "" {
			stale[filepath.Base(s.Path)] = s.Stale
		}
		errs[filepath.Base(s.Path)] = s.Err
	}
	for file, want := range map[string]error{"zurich.db": ErrOtherFamily, "bangalore-old.db": ErrCopy} {
		if !errors.Is(errs[file], want) {
			t.Errorf("%s: %v, want %v", file, errs[file], want)
		}
	}
	for _, file := range []string{"boston.db", "bangalore.db", "dublin.db"} {
		if errs[file] != nil {
			t.Errorf("%s: %v, want it shown", file, errs[file])
		}
	}
	for file, want := range map[string]string{"zurich.db": "another family", "bangalore-old.db": "older copy of the replica in bangalore.db", "dublin.db": "before the newest file"} {
		if !strings.Contains(stale[file], want) {
			t.Errorf("%s: flagged %q, want %q", file, stale[file], want)
		}
	}
	if len(stale) != 3 {
		t.Errorf("flagged %v, want 3 files", stale)
	}
	doc := get(t, &Handler{Family: g})
	if n := len(doc.withClass("warning")); n != 3 {
		t.Errorf("the page has %d warnings, want 3", n)
	}
	shown := map[string]string{}
	for _, r := range pageReplicas(doc) {
		shown[r[0]] = r[1]
	}
	if diff := cmp.Diff(map[string]string{"boston": "active", "bangalore": "active", "dublin": "active"}, shown); diff != "" {
		t.Errorf("replicas shown (-want +page):\n%s", diff)
	}
	for _, tr := range doc.withClass("replica") {
		if want := filepath.Join(dir, tr.attr["data-name"]+".db"); !strings.Contains(tr.Text(), want) {
			t.Errorf("%s is read from another file than %s: %q", tr.attr["data-name"], want, tr.Text())
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(to, b, 0o644))
}

// TestDivergence: a synced family is compared and found alike; a row
// changed at dublin behind the library's back (its triggers dropped by
// hand, so the change is not captured and the vector stays the same) is
// divergence, and the page says so; a change captured as usual makes the
// replicas incomparable until it is synced.
func TestDivergence(t *testing.T) {
	f, _ := newFamily(t, BuildOptions{})
	d := f.Gather(ctx).Divergence
	if !d.Compared || d.Diverged || len(d.Hashes) != 3 {
		t.Fatalf("a synced family: %+v, want compared and alike", d)
	}

	blr := f.Site("bangalore")
	require.NoError(t, f.NewDefect(ctx, blr, "Not synced yet"))
	if d := f.Gather(ctx).Divergence; d.Compared || !strings.Contains(d.Reason, "not sealed") {
		t.Errorf("with a change pending at bangalore: %+v, want not compared", d)
	}
	require.NoError(t, f.HubRound(ctx))
	if d := f.Gather(ctx).Divergence; !d.Compared || d.Diverged {
		t.Fatalf("after the round: %+v, want compared and alike", d)
	}

	f.HashEvery = time.Hour // the page reuses the hashes computed at these vectors
	if d := f.Gather(ctx).Divergence; !d.Compared || d.Diverged {
		t.Fatalf("with HashEvery: %+v, want compared and alike", d)
	}

	dublin := f.Site("dublin")
	rows, err := dublin.DB.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'defect'`)
	require.NoError(t, err)
	var triggers []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		triggers = append(triggers, n)
	}
	require.NoError(t, rows.Err())
	require.NotEmpty(t, triggers)
	for _, n := range triggers {
		_, err := dublin.DB.ExecContext(ctx, `DROP TRIGGER "`+n+`"`)
		require.NoError(t, err)
	}
	_, err = dublin.DB.ExecContext(ctx, `UPDATE defect SET headline = 'changed behind the library' WHERE id = 1`)
	require.NoError(t, err)
	hashes := map[string]bool{}
	for _, s := range f.Sites {
		h, err := multisite.ContentHash(ctx, s.DB)
		require.NoError(t, err)
		hashes[h] = true
	}
	require.Len(t, hashes, 2, "the library's hashes after the hidden change")
	if d := f.Gather(ctx).Divergence; d.Diverged {
		t.Errorf("within HashEvery at the same vectors the hashes are reused, yet the page computed them again: %+v", d)
	}
	f.HashEvery = 0
	doc := get(t, &Handler{Family: f})
	c := doc.byID(t, "compare")
	if c.attr["data-compared"] != "true" || c.attr["data-diverged"] != "true" || !strings.Contains(c.Text(), "Divergence detected") {
		t.Errorf("divergence on the page: %q", c.Text())
	}
}

// TestBays: every state of a packet file in a bay is listed with what the
// header says, and the newest import a bay records is the replica's last
// sync, with its result.
func TestBays(t *testing.T) {
	f, _ := newFamily(t, BuildOptions{})
	bay := t.TempDir()
	f.Bays = []string{bay}
	boston, blr, dublin := f.Site("boston"), f.Site("bangalore"), f.Site("dublin")
	require.NoError(t, f.NewDefect(ctx, boston, "For the bay"))
	waiting, err := f.SendToBay(ctx, boston, blr, bay)
	require.NoError(t, err)
	done, err := f.SendToBay(ctx, boston, dublin, bay)
	require.NoError(t, err)
	require.NoError(t, os.Mkdir(filepath.Join(bay, "done"), 0o755))
	require.NoError(t, os.Mkdir(filepath.Join(bay, "failed"), 0o755))
	in, err := os.Open(done)
	require.NoError(t, err)
	_, err = multisite.ImportPacket(ctx, dublin.DB, in, multisite.ImportOptions{})
	in.Close()
	require.NoError(t, err)
	require.NoError(t, os.Rename(done, filepath.Join(bay, "done", filepath.Base(done))))
	// The kernel stamps files from a coarse clock, a few milliseconds
	// behind time.Now: without this the family's own last import, made
	// just before, could look newer than the bay's.
	later := time.Now().Add(time.Second)
	require.NoError(t, os.Chtimes(filepath.Join(bay, "done", filepath.Base(done)), later, later))
	require.NoError(t, os.WriteFile(filepath.Join(bay, "failed", "junk.pkt"), []byte("not a packet"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(bay, "half.pkt.tmp"), nil, 0o644))

	doc := get(t, &Handler{Family: f})
	got := map[string]string{}
	for _, tr := range doc.withClass("bay-packet") {
		got[tr.attr["data-state"]] = tr.attr["data-from"] + ">" + tr.attr["data-to"]
	}
	want := map[string]string{bayWaiting: "boston>bangalore", bayImported: "boston>dublin", bayRefused: ">", bayWriting: ">"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("bay packets (-want +page):\n%s", diff)
	}
	for _, tr := range doc.withClass("bay-packet") {
		if tr.attr["data-state"] == bayWaiting && !strings.Contains(tr.Text(), filepath.Base(waiting)) {
			t.Errorf("waiting row %q does not name %s", tr.Text(), filepath.Base(waiting))
		}
		if tr.attr["data-state"] == bayRefused && !strings.Contains(tr.Text(), "not a readable packet") {
			t.Errorf("refused row %q does not say the file is no packet", tr.Text())
		}
	}
	for _, tr := range doc.withClass("replica") {
		name, last := tr.attr["data-name"], tr.withClass("lastsync")[0].Text()
		wait := tr.withClass("waiting")[0].Text()
		switch name {
		case "dublin":
			if !strings.Contains(last, "ok from boston") || !strings.Contains(last, "via "+bay) {
				t.Errorf("dublin's last sync: %q, want the bay's import from boston", last)
			}
		case "bangalore":
			if wait != "1" {
				t.Errorf("bangalore has %s packets waiting, want 1", wait)
			}
		}
	}
}

// TestRun_DB: the program given -db locations prints the page with the
// sites it can read and the others' errors; with none readable it prints
// the page and fails.
func TestRun_DB(t *testing.T) {
	f, dir := newFamily(t, BuildOptions{})
	require.NoError(t, f.Close())
	missing := filepath.Join(t.TempDir(), "gone.db")
	tests := []struct {
		name     string
		args     []string
		code     int
		replicas int
		problems int
	}{
		{"two sites and a missing one", []string{"-db", filepath.Join(dir, "boston.db"), "-db", missing, "-db", filepath.Join(dir, "dublin.db")}, exitOK, 2, 1},
		{"none readable", []string{"-db", missing}, exitFail, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(ctx, tt.args, &stdout, &stderr); code != tt.code {
				t.Fatalf("exit status %d, want %d; stderr:\n%s", code, tt.code, stderr.String())
			}
			doc := parseHTML(t, stdout.String())
			open := 0
			for _, tr := range doc.withClass("replica") {
				if tr.attr["data-kind"] != "" {
					open++
				}
			}
			if open != tt.replicas || len(doc.withClass("problem")) != tt.problems {
				t.Errorf("%d replicas read and %d problems on the page, want %d and %d", open, len(doc.withClass("problem")), tt.replicas, tt.problems)
			}
			if !strings.Contains(stderr.String(), "gone.db") {
				t.Errorf("stderr does not name the missing database: %s", stderr.String())
			}
		})
	}
}
