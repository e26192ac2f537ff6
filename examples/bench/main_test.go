package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// TestRunPrintsEveryFigure runs the whole benchmark at a tiny size and
// checks that each comparison made it into the table.
func TestRunPrintsEveryFigure(t *testing.T) {
	var out bytes.Buffer
	cfg := config{rows: 200, incRows: 300, changed: 10, dir: t.TempDir()}
	if err := run(context.Background(), cfg, &out); err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, want := range []string{"capture off", "ImportPacket of it", "changeset apply", "upsert loop", "VACUUM INTO",
		"sync packet", "zstd default", "flate default", "incremental ExportPacket, 10 of 300 rows"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestChildReportsEveryPhase(t *testing.T) {
	var out bytes.Buffer
	if err := child(context.Background(), t.TempDir(), 100, &out); err != nil {
		t.Fatalf("child: %v", err)
	}
	var res rssResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("child printed %q: %v", out.String(), err)
	}
	var names []string
	for _, p := range res.Phases {
		names = append(names, p.Name)
		if p.PeakKB <= 0 {
			t.Errorf("phase %s: peak %d kB", p.Name, p.PeakKB)
		}
	}
	if got, want := strings.Join(names, ","), "ExportPacket,ImportPacket,Replicate,CreateReplica"; got != want {
		t.Errorf("phases = %s, want %s", got, want)
	}
}
