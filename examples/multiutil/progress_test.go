package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/multisite-go/multisite"
)

func TestImportCounts(t *testing.T) {
	tests := []struct {
		name    string
		p       multisite.ImportProgress
		elapsed time.Duration
		rate    bool
		want    string
	}{
		{"nothing yet", multisite.ImportProgress{}, 0, true, "0 rows, 0 B"},
		{"bytes", multisite.ImportProgress{Rows: 999, Bytes: 1023}, time.Second, false, "999 rows, 1023 B"},
		{"KiB and rate", multisite.ImportProgress{Rows: 1000, Bytes: 1536}, time.Second, true, "1,000 rows, 1.5 KiB (1.5 KiB/s)"},
		{"MiB", multisite.ImportProgress{Rows: 1234567, Bytes: 12 << 20}, 4 * time.Second, true, "1,234,567 rows, 12.0 MiB (3.0 MiB/s)"},
		{"GiB, narrow", multisite.ImportProgress{Rows: 5, Bytes: 3 << 30}, time.Second, false, "5 rows, 3.0 GiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := importCounts(tt.p, tt.elapsed, tt.rate); got != tt.want {
				t.Errorf("importCounts = %q, want %q", got, tt.want)
			}
		})
	}
}

// An import's bar shows the stream's rows and bytes as the library
// reports them, the packet bytes as its length, then the commit phase;
// with progress off there is neither bar nor callback.
func TestImportProgressBar(t *testing.T) {
	var w bytes.Buffer
	e := &env{stderr: &w, progress: true}
	b, fn := e.importProgress("import sync.pkt")
	for _, p := range []multisite.ImportProgress{
		{Phase: multisite.ProgressRead, PacketBytes: 100, PacketSize: 400, Bytes: 300 << 10, Rows: 1000},
		{Phase: multisite.ProgressRead, PacketBytes: 400, PacketSize: 400, Bytes: 1200 << 10, Rows: 4000},
		{Phase: multisite.ProgressCommit, PacketBytes: 400, PacketSize: 400, Bytes: 1200 << 10, Rows: 4000},
	} {
		fn(p)
	}
	b.done()
	out := w.String()
	last, commit := strings.LastIndex(out, "4,000 rows, 1.2 MiB"), strings.Index(out, "import sync.pkt: commit")
	if last < 0 || !strings.Contains(out, "100%") {
		t.Errorf("no finished bar at 4,000 rows and 1.2 MiB of stream:\n%q", out)
	}
	if commit < last {
		t.Errorf("no commit phase after the rows:\n%q", out)
	}
	if strings.Count(out, "4,000 rows") != 1 {
		t.Errorf("the finished bar was drawn again:\n%q", out)
	}

	w.Reset()
	e = &env{stderr: &w, progress: false}
	off, fn := e.importProgress("import")
	if off != nil || fn != nil {
		t.Errorf("progress off: got a bar or a callback")
	}
	off.done() // a nil bar is done at once
	if w.Len() != 0 {
		t.Errorf("progress off, and %q was drawn", w.String())
	}
}
