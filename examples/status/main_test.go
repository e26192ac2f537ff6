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
		{"help", []string{"-h"}, exitOK, "usage: status [-listen ADDR] [-dir DIR]"},
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
// stdout, showing the demo's violation at dublin and boston's refusal.
func TestRun_Demo(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(ctx, nil, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit status %d; stderr:\n%s", code, stderr.String())
	}
	doc := parseHTML(t, stdout.String())
	states := map[string]string{}
	for _, r := range pageReplicas(doc) {
		states[r[0]] = r[1]
	}
	if len(states) != 3 || states["boston"] != "active" || states["bangalore"] != "active" || states["dublin"] != "active" {
		t.Errorf("replicas: %v", states)
	}
	if v, clean := charsetOf(t, doc, "dublin"); len(v) != 1 || clean {
		t.Errorf("dublin's charset result: %v, clean %v; want the demo's one violation", v, clean)
	}
	refused := doc.byID(t, "packets").all(func(n *node) bool { return n.attr["data-ok"] == "false" })
	if len(refused) != 1 || refused[0].attr["data-from"] != "dublin" {
		t.Errorf("%d refused packets, want dublin's", len(refused))
	}
}

// TestRun_DirAndListen serves an existing family's directory over HTTP
// until the context ends.
func TestRun_DirAndListen(t *testing.T) {
	f, dir := newFamily(t, BuildOptions{})
	require.NoError(t, f.Close())

	var once bytes.Buffer
	if code := run(ctx, []string{"-dir", dir}, &once, io.Discard); code != exitOK {
		t.Fatalf("-dir: exit status %d", code)
	}
	if n := len(parseHTML(t, once.String()).withClass("replica")); n != 3 {
		t.Errorf("-dir page lists %d replicas, want 3", n)
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
