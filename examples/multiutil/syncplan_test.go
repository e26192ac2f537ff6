package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/mastership"
)

// syncBuffer is a bytes.Buffer a running verb writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// waitFor waits until re matches what b holds, and returns the match.
func waitFor(t *testing.T, b *syncBuffer, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(b.String()); m != nil {
			return m
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s in:\n%s", re, b.String())
	return nil
}

// background runs a long-running verb in-process until the test ends.
type background struct {
	stdout, stderr syncBuffer
	cancel         context.CancelFunc
	code           chan int
}

func start(t *testing.T, args ...string) *background {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	bg := &background{cancel: cancel, code: make(chan int, 1)}
	go func() { bg.code <- runCtx(ctx, args, &bg.stdout, &bg.stderr) }()
	t.Cleanup(func() { bg.stop(t) })
	return bg
}

// stop cancels the verb and returns its exit code.
func (bg *background) stop(t *testing.T) int {
	bg.cancel()
	select {
	case c := <-bg.code:
		bg.code <- c
		return c
	case <-time.After(30 * time.Second):
		t.Fatalf("the verb did not stop; stderr:\n%s", bg.stderr.String())
		return -1
	}
}

const planTemplate = `family: defects
codepage: windows-1252
exclude: [scratch]
sites:
  - name: boston
    vendor: sqlite
    dsn: %s
    working: true
    url: %s
  - name: bangalore
    vendor: %s
    dsn: %s
sync:
  pattern: hub-and-spoke
  hub: boston
  every: 15m
mastership:
  policy: table
  tables:
    defect: boston
transport:
  kind: http
`

// TestSyncOverHTTP runs a family of two sites from its plan: boston
// serves, bangalore runs one round of sync (push to boston, pull from
// boston) over loopback HTTP, and the plan's mastership policy moves the
// defect bangalore created to boston.
func TestSyncOverHTTP(t *testing.T) {
	for _, vendor := range []string{"sqlite", "postgres"} {
		t.Run("bangalore on "+vendor, func(t *testing.T) {
			f := newFamily2(t, vendor)
			t.Setenv("MULTISITE_TOKEN_BOSTON", "boston-secret")
			t.Setenv("MULTISITE_TOKEN_BANGALORE", "bangalore-secret")
			planFile := filepath.Join(f.dir, "family.yaml")
			writePlan := func(url string) {
				require.NoError(t, os.WriteFile(planFile, []byte(fmt.Sprintf(planTemplate, f.boston, url, vendor, f.blr)), 0o644))
			}
			writePlan("http://127.0.0.1:1")
			srv := start(t, "serve", "--plan", planFile, "--site", "boston", "--listen", "127.0.0.1:0", "--import")
			m := waitFor(t, &srv.stdout, regexp.MustCompile(`serving on (http://[0-9.:]+)/packets`))
			writePlan(m[1])

			execTest(t, f.boston, `UPDATE defect SET headline = 'crash on save (fixed)' WHERE id = 1`)
			blr := openAny(t, f.blr)
			id, err := multisite.NextID(context.Background(), blr, nil, "defect")
			require.NoError(t, err)
			_, err = blr.Exec(fmt.Sprintf(`INSERT INTO defect (id, headline) VALUES (%d, 'found in bangalore')`, id))
			require.NoError(t, err)

			multiutil(t, exitOK, "sync", "--plan", planFile, "--site", "bangalore", "--dry-run")
			var round roundJSON
			jsonOut(t, &round, "sync", "--plan", planFile, "--site", "bangalore", "--json")
			var got []string
			for _, l := range round.Links {
				got = append(got, l.Direction+" "+l.Peer+" "+l.Via+" "+l.Status)
			}
			if d := cmp.Diff([]string{"in boston pull ok", "out boston push ok"}, got); d != "" {
				t.Errorf("round's links (-want +got):\n%s", d)
			}
			if h1, h2 := contentHash(t, f.boston), contentHashAny(t, f.blr); h1 != h2 {
				t.Errorf("content differs after one round: boston %s, bangalore %s", h1, h2)
			}
			// The plan's policy gave bangalore's new defect to boston.
			bos := openTest(t, f.boston)
			if _, err := bos.Exec(fmt.Sprintf(`UPDATE defect SET headline = 'triaged' WHERE id = %d`, id)); err != nil {
				t.Errorf("boston cannot change the defect the policy gave it: %v", err)
			}
			_, err = blr.Exec(fmt.Sprintf(`UPDATE defect SET headline = 'mine' WHERE id = %d`, id))
			if !errors.Is(mastership.FromDriver(err), mastership.ErrNotMaster) {
				t.Errorf("bangalore changed a defect the policy gave boston: %v", err)
			}
			if code := srv.stop(t); code != exitOK {
				t.Errorf("serve stopped with exit %d; stderr:\n%s", code, srv.stderr.String())
			}
		})
	}
}

// TestSyncEvery keeps syncing until SIGTERM, then stops cleanly: exit 0
// and a last log line.
func TestSyncEvery(t *testing.T) {
	f := newFamily2(t, "sqlite")
	t.Setenv("MULTISITE_TOKEN_BOSTON", "b")
	t.Setenv("MULTISITE_TOKEN_BANGALORE", "g")
	planFile := filepath.Join(f.dir, "family.yaml")
	require.NoError(t, os.WriteFile(planFile, []byte(fmt.Sprintf(planTemplate, f.boston, "http://127.0.0.1:1", "sqlite", f.blr)), 0o644))
	srv := start(t, "serve", "--plan", planFile, "--site", "boston", "--listen", "127.0.0.1:0")
	m := waitFor(t, &srv.stdout, regexp.MustCompile(`serving on (http://[0-9.:]+)/packets`))
	require.NoError(t, os.WriteFile(planFile, []byte(fmt.Sprintf(planTemplate, f.boston, m[1], "sqlite", f.blr)), 0o644))

	loop := start(t, "sync", "--plan", planFile, "--site", "bangalore", "--every", "100ms", "--json")
	waitFor(t, &loop.stderr, regexp.MustCompile(`multiutil sync: started`))
	execTest(t, f.boston, `UPDATE defect SET headline = 'seen by the loop' WHERE id = 1`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var h string
		require.NoError(t, openTest(t, f.blr).QueryRow(`SELECT headline FROM defect WHERE id = 1`).Scan(&h))
		if h == "seen by the loop" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the loop never brought boston's change; stderr:\n%s", loop.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// SIGTERM: the loop (and serve) have signal handlers installed, so
	// the test process is not killed; both stop.
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGTERM))
	select {
	case code := <-loop.code:
		loop.code <- code
		if code != exitOK {
			t.Errorf("sync --every exit %d after SIGTERM, want 0", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("sync --every did not stop on SIGTERM")
	}
	waitFor(t, &loop.stderr, regexp.MustCompile(`multiutil sync: stopped`))
	for _, line := range strings.Split(strings.TrimSpace(loop.stdout.String()), "\n") {
		var r roundJSON
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Errorf("a round's JSON line does not decode: %v: %q", err, line)
		}
	}
}

// family2 is boston (SQLite) and bangalore (SQLite or PostgreSQL), made
// with multiutil's own verbs.
type family2 struct {
	dir, boston, blr string
}

func newFamily2(t *testing.T, vendor string) *family2 {
	t.Helper()
	dir := t.TempDir()
	f := &family2{dir: dir, boston: production(t, dir), blr: filepath.Join(dir, "bangalore.db")}
	if vendor == "postgres" {
		f.blr = serverDB(t, "postgres")
	}
	multiutil(t, exitOK, "activate", "--db", f.boston, "--name", "boston", "--codepage", "1252", "--exclude", "scratch")
	pkt := filepath.Join(dir, "blr.pkt")
	multiutil(t, exitOK, "mkreplica", "-export", "--db", f.boston, "--name", "bangalore", "--out", pkt)
	multiutil(t, exitOK, "mkreplica", "-import", "--db", f.blr, "--in", pkt)
	multiutil(t, exitOK, "activate-replica", "--db", f.blr)
	return f
}

func openAny(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := openDB(path)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func contentHashAny(t *testing.T, path string) string {
	t.Helper()
	h, err := multisite.ContentHash(context.Background(), openAny(t, path))
	require.NoError(t, err)
	return h
}

// selfSigned writes a certificate for 127.0.0.1, its own CA, and its key.
func selfSigned(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "boston"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	require.NoError(t, err)
	kb, err := x509.MarshalECPrivateKey(priv)
	require.NoError(t, err)
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	require.NoError(t, os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
	return cert, key
}

// TestSyncOverHTTPS: serve with --cert/--key, sync trusting the plan's
// transport.ca; a wrong token is refused and named.
func TestSyncOverHTTPS(t *testing.T) {
	f := newFamily2(t, "sqlite")
	cert, key := selfSigned(t, f.dir)
	t.Setenv("MULTISITE_TOKEN_BOSTON", "b")
	t.Setenv("MULTISITE_TOKEN_BANGALORE", "g")
	planFile := filepath.Join(f.dir, "family.yaml")
	write := func(url string) {
		p := fmt.Sprintf(planTemplate, f.boston, url, "sqlite", f.blr) + "  ca: " + cert + "\n"
		require.NoError(t, os.WriteFile(planFile, []byte(p), 0o644))
	}
	write("https://127.0.0.1:1")
	srv := start(t, "serve", "--plan", planFile, "--site", "boston", "--listen", "127.0.0.1:0", "--cert", cert, "--key", key)
	m := waitFor(t, &srv.stdout, regexp.MustCompile(`serving on https://([0-9.:]+)/packets`))
	write("https://" + m[1])
	execTest(t, f.boston, `UPDATE defect SET headline = 'over TLS' WHERE id = 1`)
	multiutil(t, exitOK, "sync", "--plan", planFile, "--site", "bangalore")
	var h string
	require.NoError(t, openTest(t, f.blr).QueryRow(`SELECT headline FROM defect WHERE id = 1`).Scan(&h))
	if h != "over TLS" {
		t.Errorf("bangalore's headline = %q after sync over https", h)
	}
	t.Setenv("MULTISITE_TOKEN_BANGALORE", "wrong")
	out, _ := multiutil(t, exitFail, "sync", "--plan", planFile, "--site", "bangalore")
	if !strings.Contains(out, "401") || !strings.Contains(out, "boston") {
		t.Errorf("a wrong token: %q", out)
	}
}

// TestSyncThroughBay: with transport bay, a round exports into the
// site's bay and imports what the bay holds for it.
func TestSyncThroughBay(t *testing.T) {
	f := newFamily2(t, "sqlite")
	bay := filepath.Join(f.dir, "bay")
	require.NoError(t, os.Mkdir(bay, 0o755))
	p := strings.Replace(fmt.Sprintf(planTemplate, f.boston, "http://unused", "sqlite", f.blr), "  kind: http\n", "  kind: bay\n  bay: "+bay+"\n", 1)
	planFile := filepath.Join(f.dir, "family.yaml")
	require.NoError(t, os.WriteFile(planFile, []byte(p), 0o644))
	execTest(t, f.boston, `UPDATE defect SET headline = 'through the bay' WHERE id = 1`)
	multiutil(t, exitOK, "sync", "--plan", planFile, "--site", "boston")
	var r roundJSON
	jsonOut(t, &r, "sync", "--plan", planFile, "--site", "bangalore", "--json")
	if len(r.Imported) != 1 || r.Imported[0].Status != "imported" {
		t.Errorf("bangalore's round imported %+v", r.Imported)
	}
	multiutil(t, exitOK, "sync", "--plan", planFile, "--site", "boston")
	if h1, h2 := contentHash(t, f.boston), contentHash(t, f.blr); h1 != h2 {
		t.Errorf("content differs after boston, bangalore, boston rounds")
	}
}

// TestSyncEveryPlan: --every plan runs each link at the plan's interval
// and stops when its context ends.
func TestSyncEveryPlan(t *testing.T) {
	f := newFamily2(t, "sqlite")
	t.Setenv("MULTISITE_TOKEN_BOSTON", "b")
	t.Setenv("MULTISITE_TOKEN_BANGALORE", "g")
	planFile := filepath.Join(f.dir, "family.yaml")
	writePlan := func(url string) {
		p := strings.Replace(fmt.Sprintf(planTemplate, f.boston, url, "sqlite", f.blr), "every: 15m", "every: 150ms", 1)
		require.NoError(t, os.WriteFile(planFile, []byte(p), 0o644))
	}
	writePlan("http://127.0.0.1:1")
	srv := start(t, "serve", "--plan", planFile, "--site", "boston", "--listen", "127.0.0.1:0", "--import")
	m := waitFor(t, &srv.stdout, regexp.MustCompile(`serving on (http://[0-9.:]+)/packets`))
	writePlan(m[1])
	loop := start(t, "sync", "--plan", planFile, "--site", "bangalore", "--every", "plan", "--json")
	waitFor(t, &loop.stderr, regexp.MustCompile(`per_link=true`))
	execTest(t, f.boston, `UPDATE defect SET headline = 'on the plan''s schedule' WHERE id = 1`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var h string
		require.NoError(t, openTest(t, f.blr).QueryRow(`SELECT headline FROM defect WHERE id = 1`).Scan(&h))
		if h == "on the plan's schedule" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the change never arrived; stderr:\n%s", loop.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The change may arrive in the first round; the loop must go on to
	// run another one on the plan's schedule without being asked.
	for strings.Count(loop.stdout.String(), "\n") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d rounds logged as JSON in 20s at a 150ms interval, want at least 2", strings.Count(loop.stdout.String(), "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code := loop.stop(t); code != exitOK {
		t.Errorf("sync --every plan exit %d", code)
	}
}

// TestServeToBayThenSync: serve stores verified pushes in the site's bay;
// the site's own sync round imports them.
func TestServeToBayThenSync(t *testing.T) {
	f := newFamily2(t, "sqlite")
	t.Setenv("MULTISITE_TOKEN_BOSTON", "b")
	t.Setenv("MULTISITE_TOKEN_BANGALORE", "g")
	bay := filepath.Join(f.dir, "inbound")
	require.NoError(t, os.Mkdir(bay, 0o755))
	planFile := filepath.Join(f.dir, "family.yaml")
	writePlan := func(url string) {
		p := strings.Replace(fmt.Sprintf(planTemplate, f.boston, url, "sqlite", f.blr), "    url: "+url+"\n", "    url: "+url+"\n    bay: "+bay+"\n", 1)
		require.NoError(t, os.WriteFile(planFile, []byte(p), 0o644))
	}
	writePlan("http://127.0.0.1:1")
	srv := start(t, "serve", "--plan", planFile, "--site", "boston", "--listen", "127.0.0.1:0")
	m := waitFor(t, &srv.stdout, regexp.MustCompile(`serving on (http://[0-9.:]+)/packets`))
	writePlan(m[1])

	blr := openAny(t, f.blr)
	id, err := multisite.NextID(context.Background(), blr, nil, "defect")
	require.NoError(t, err)
	_, err = blr.Exec(fmt.Sprintf(`INSERT INTO defect (id, headline) VALUES (%d, 'via the bay')`, id))
	require.NoError(t, err)
	var r roundJSON
	jsonOut(t, &r, "sync", "--plan", planFile, "--site", "bangalore", "--json")
	if len(r.Links) != 2 || r.Links[1].Via != "push" || r.Links[1].File == "" {
		t.Fatalf("bangalore's round: %+v", r.Links)
	}
	if _, err := os.Stat(filepath.Join(bay, r.Links[1].File)); err != nil {
		t.Fatalf("the pushed packet is not in boston's bay: %v", err)
	}
	count := func() int {
		var n int
		require.NoError(t, openTest(t, f.boston).QueryRow(`SELECT count(*) FROM defect WHERE headline = 'via the bay'`).Scan(&n))
		return n
	}
	if n := count(); n != 0 {
		t.Fatalf("boston has the row before importing its bay")
	}
	jsonOut(t, &r, "sync", "--plan", planFile, "--site", "boston", "--json")
	if len(r.Imported) != 1 || r.Imported[0].Status != "imported" {
		t.Errorf("boston's round imported %+v", r.Imported)
	}
	if n := count(); n != 1 {
		t.Errorf("boston has %d rows from bangalore after its round, want 1", n)
	}
	var rec roundJSON
	b, err := os.ReadFile(filepath.Join(bay, ".sync-boston.json"))
	require.NoError(t, err)
	if err := json.Unmarshal(b, &rec); err != nil || rec.Replica != "boston" || len(rec.Imported) != 1 {
		t.Errorf("boston's round record: %+v, %v", rec, err)
	}
}
