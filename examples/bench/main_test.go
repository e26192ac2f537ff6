package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/multisite-go/multisite/examples/bench/workload"
	"github.com/stretchr/testify/require"
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

// TestServerRunPrintsEveryFigure runs the server mode at a tiny size on
// each server whose DSN variable is set: every row of the table must be
// there with a finite, positive ratio, and no database may be left behind.
// It asserts nothing about speed.
func TestServerRunPrintsEveryFigure(t *testing.T) {
	for _, s := range []struct{ dialect, env, bulk string }{
		{workload.Postgres, "MULTISITE_TEST_POSTGRES", "COPY"},
		{workload.MySQL, "MULTISITE_TEST_MYSQL", "LOAD DATA LOCAL INFILE"},
	} {
		t.Run(s.dialect, func(t *testing.T) {
			dsn := os.Getenv(s.env)
			if dsn == "" {
				t.Skipf("server benchmark skipped: set %s to a DSN of a user who may create databases", s.env)
			}
			ctx := context.Background()
			var tag [4]byte
			rand.Read(tag[:])
			cfg := config{rows: 200, incRows: 300, changed: 10, dir: t.TempDir(), dbPrefix: "ms_bench_t" + hex.EncodeToString(tag[:]) + "_"}
			rep, err := serverFigures(ctx, cfg, s.dialect, dsn)
			if err != nil {
				t.Fatalf("serverFigures: %v", err)
			}
			var out bytes.Buffer
			printReport(&out, rep.header, rep.lines, rep.sizeLines, rep.inc, nil, rep.notes)
			text := out.String()

			want := []string{"capture on", "capture off", "ExportPacket, all rows", "ImportPacket of it", "upsert loop",
				s.bulk, "Replicate + CreateReplica", "SELECT →", "row payload", "COPY/LOAD DATA text",
				"incremental ExportPacket, 10 of 300 rows", "from a 100-row database"}
			for _, w := range want {
				if !strings.Contains(text, w) {
					t.Errorf("output lacks %q:\n%s", w, text)
				}
			}
			all := rep.all()
			if len(all) != 8 {
				t.Errorf("report has %d rows, want 8 (5 timings, 2 sizes, the incremental export):\n%s", len(all), text)
			}
			for _, l := range all {
				if math.IsNaN(l.ratio) || math.IsInf(l.ratio, 0) || l.ratio <= 0 {
					t.Errorf("%s vs %s: ratio %v", l.what, l.ref, l.ratio)
				}
				if !strings.Contains(text, l.what) || !strings.Contains(text, l.ref) {
					t.Errorf("row %q vs %q not printed:\n%s", l.what, l.ref, text)
				}
			}
			// Every table row prints its ratio: count the printed rows.
			rowsPrinted := 0
			for _, ln := range strings.Split(text, "\n") {
				if strings.Contains(ln, " ÷ ref") {
					rowsPrinted++
				}
			}
			if rowsPrinted != len(all) {
				t.Errorf("%d table rows printed, want %d:\n%s", rowsPrinted, len(all), text)
			}

			check, err := workload.OpenServer(ctx, s.dialect, dsn, cfg.dbPrefix)
			require.NoError(t, err)
			defer check.Close()
			left, err := check.Databases(ctx)
			require.NoError(t, err)
			if len(left) > 0 {
				t.Errorf("databases left on the server: %v", left)
			}
		})
	}
}
