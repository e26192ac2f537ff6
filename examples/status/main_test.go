package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/syncpkt"
	"github.com/stretchr/testify/require"
)

func TestRun_Usage(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	tests := []struct {
		name string
		args []string
		code int
		says string
	}{
		{"unknown flag", []string{"-bogus"}, exitUsage, "flag provided but not defined: -bogus"},
		{"argument", []string{"boston.db"}, exitUsage, `unexpected argument "boston.db"`},
		{"missing dir", []string{"-dir", filepath.Join(t.TempDir(), "nope")}, exitUsage, "no such file or directory"},
		{"dir is a file", []string{"-dir", file}, exitUsage, "is not a directory"},
		{"dir without databases", []string{"-dir", t.TempDir()}, exitUsage, "no *.db files"},
		{"listen without port", []string{"-listen", "localhost"}, exitUsage, "missing port in address"},
		{"unknown code page", []string{"-validate", "klingon"}, exitUsage, "-validate: codepage: unknown code page"},
		{"help", []string{"-h"}, exitOK, "usage: status [-listen ADDR] [-dir DIR] [-validate CODEPAGE]"},
		{"dir and db", []string{"-dir", t.TempDir(), "-db", file}, exitUsage, "-dir and -db: give the databases one way"},
		{"missing bay", []string{"-bay", filepath.Join(t.TempDir(), "nope")}, exitUsage, "no such file or directory"},
		{"bay is a file", []string{"-bay", file}, exitUsage, "is not a directory"},
		{"negative refresh", []string{"-refresh", "-1s"}, exitUsage, "-refresh -1s: negative"},
		{"empty db", []string{"-db", ""}, exitUsage, "empty location"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(ctx, tt.args, &stdout, &stderr); code != tt.code {
				t.Errorf("exit status %d, want %d; stderr:\n%s", code, tt.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.says) {
				t.Errorf("stderr does not say %q:\n%s", tt.says, stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout: %q", stdout.String())
			}
		})
	}
}

// TestRun_Demo runs the program as CI does: no arguments, the page on
// stdout, showing dublin's row outside the planned windows-1252 (and
// inside the family's UTF-8), the packet boston refused as truncated, and
// boston one epoch behind dublin. (TestDemo checks the same demo against
// the library's own reports; here the databases are gone when run ends.)
func TestRun_Demo(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(ctx, nil, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit status %d; stderr:\n%s", code, stderr.String())
	}
	doc := parseHTML(t, stdout.String())
	states := map[string]string{}
	names := map[replica.ID]string{}
	for id, r := range pageReplicas(doc) {
		states[r[0]], names[id] = r[1], r[0]
	}
	if len(states) != 3 || states["boston"] != "active" || states["bangalore"] != "active" || states["dublin"] != "active" {
		t.Errorf("replicas: %v", states)
	}
	if got := doc.byID(t, "codepage").Text() + " planning " + doc.byID(t, "planned").Text(); got != "UTF-8 planning windows-1252" {
		t.Errorf("code pages: %s", got)
	}
	for name, checks := range pageCharset(doc) {
		if checks["UTF-8"] != "clean" {
			t.Errorf("%s under the family's UTF-8: %s", name, checks["UTF-8"])
		}
		if got := checks["windows-1252 (planned)"]; (got == "clean") != (name != "dublin") {
			t.Errorf("%s under the planned windows-1252: %s", name, got)
		}
	}
	lis := doc.byID(t, "charset").withClass("violation")
	if len(lis) != 1 || !strings.Contains(lis[0].Text(), `U+2713 "✓" at byte 6`) {
		t.Errorf("violations listed: %d, want dublin's ✓", len(lis))
	}
	if plan := doc.byID(t, "plan"); plan.attr["data-violations"] != "1" || !strings.Contains(plan.Text(), "at dublin (1)") {
		t.Errorf("summary: %q", plan.Text())
	}
	refused := refusedRows(t, doc)
	if len(refused) != 1 || refused[0].attr["data-from"] != "dublin" || refused[0].attr["data-to"] != "boston" ||
		!strings.Contains(refused[0].Text(), "refused: "+syncpkt.ErrTruncated.Error()) ||
		!strings.Contains(refused[0].Text(), "damaged: "+demoDamage.String()) {
		t.Errorf("%d refused packets, want dublin's to boston, truncated", len(refused))
	}
	behind := map[string]string{}
	for h, row := range pageCells(t, doc, "lag", "lag", "data-behind") {
		for o, n := range row {
			if n != "0" {
				behind[names[h]+" of "+names[o]] = n
			}
		}
	}
	if diff := cmp.Diff(map[string]string{"boston of dublin": "1", "bangalore of dublin": "1"}, behind); diff != "" {
		t.Errorf("lag (-want +page):\n%s", diff)
	}
	if !strings.Contains(stderr.String(), "dublin's last packet to boston lost its last 64 bytes in transit and was refused") {
		t.Errorf("stderr: %s", stderr.String())
	}
}

// TestRun_DirAndListen serves an existing family's directory over HTTP
// until the context ends.
func TestRun_DirAndListen(t *testing.T) {
	f, dir := newFamily(t, BuildOptions{})
	violation := injectViolation(t, f.Site("bangalore"))
	require.NoError(t, f.Close())

	var once bytes.Buffer
	if code := run(ctx, []string{"-dir", dir}, &once, io.Discard); code != exitOK {
		t.Fatalf("-dir: exit status %d", code)
	}
	doc := parseHTML(t, once.String())
	if n := len(doc.withClass("replica")); n != 3 {
		t.Errorf("-dir page lists %d replicas, want 3", n)
	}
	if n := len(doc.withClass("check")); n != 3 {
		t.Errorf("-dir page has %d charset checks, want the family's code page at 3 replicas", n)
	}

	// -validate checks the planned code page too, named by number.
	once.Reset()
	if code := run(ctx, []string{"-dir", dir, "-validate", "1252"}, &once, io.Discard); code != exitOK {
		t.Fatalf("-dir -validate: exit status %d", code)
	}
	doc = parseHTML(t, once.String())
	for _, name := range []string{"boston", "bangalore", "dublin"} {
		v, clean, found := charsetOf(t, doc, name, "windows-1252")
		if want := []string{violation}; name == "bangalore" && (clean || !cmp.Equal(v, want)) {
			t.Errorf("bangalore under windows-1252: %v, want %v", v, want)
		} else if name != "bangalore" && (!found || !clean) {
			t.Errorf("%s under windows-1252: %v, found %v", name, v, found)
		}
	}

	sctx, stop := context.WithCancel(ctx)
	stderr := &lockedBuffer{}
	done := make(chan int)
	go func() { done <- run(sctx, []string{"-dir", dir, "-listen", "127.0.0.1:0"}, io.Discard, stderr) }()
	var url string
	for deadline := time.Now().Add(30 * time.Second); url == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		url = regexp.MustCompile(`http://\S+/`).FindString(stderr.String())
	}
	if url == "" {
		stop()
		t.Fatalf("no address announced: %s", stderr.String())
	}
	resp, err := http.Get(url)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(parseHTML(t, string(body)).withClass("replica")) != 3 {
		t.Errorf("GET %s = %d:\n%s", url, resp.StatusCode, body)
	}
	stop()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("exit status %d after interrupt; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not stop")
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
