package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/examples/bench/workload"
)

// child is the -child-rss mode: it builds a family holding rows rows, then
// writes and imports a sync packet and a creation packet through files,
// resetting the peak RSS before each phase and reading it after, and
// prints the result as JSON for the parent. Packets go through files, not
// buffers, so what is measured is the library's own memory.
func child(ctx context.Context, dir string, rows int, out io.Writer) error {
	fam, err := workload.NewFamily(ctx, dir)
	if err != nil {
		return err
	}
	defer fam.Close()
	if err := workload.InsertGenerated(ctx, fam.Origin, 0, rows); err != nil {
		return err
	}
	res := rssResult{Rows: rows}
	measure := func(name string, f func() error) error {
		// Hand the set-up's garbage back first, so each phase starts from
		// what is live; then writing 5 to clear_refs resets VmHWM to the
		// current RSS (Linux 4.0+).
		runtime.GC()
		debug.FreeOSMemory()
		start, err := procStatus("VmRSS")
		if err != nil {
			return err
		}
		if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
			return fmt.Errorf("bench: reset peak RSS: %w", err)
		}
		if err := f(); err != nil {
			return fmt.Errorf("bench: %s: %w", name, err)
		}
		peak, err := procStatus("VmHWM")
		res.Phases = append(res.Phases, rssPhase{Name: name, StartKB: start, PeakKB: peak})
		return err
	}
	syncPath, createPath := filepath.Join(dir, "sync.pkt"), filepath.Join(dir, "create.pkt")
	steps := []struct {
		name string
		f    func() error
	}{
		{"ExportPacket", func() error {
			return toFile(syncPath, func(w io.Writer) error {
				_, err := multisite.ExportPacket(ctx, fam.Origin, fam.ReplicaID, w, multisite.ExportOptions{})
				return err
			})
		}},
		{"ImportPacket", func() error {
			return fromFile(syncPath, func(r io.Reader) error {
				_, err := multisite.ImportPacket(ctx, fam.Replica, r, multisite.ImportOptions{})
				return err
			})
		}},
		{"Replicate", func() error {
			return toFile(createPath, func(w io.Writer) error {
				_, _, err := multisite.Replicate(ctx, fam.Origin, "dublin", w, multisite.ReplicateOptions{})
				return err
			})
		}},
		{"CreateReplica", func() error {
			db, err := workload.Open(ctx, filepath.Join(dir, "dublin.db"))
			if err != nil {
				return err
			}
			defer db.Close()
			return fromFile(createPath, func(r io.Reader) error {
				_, err := multisite.CreateReplica(ctx, db, r, multisite.CreateOptions{})
				return err
			})
		}},
	}
	for _, s := range steps {
		if err := measure(s.name, s.f); err != nil {
			return err
		}
	}
	return json.NewEncoder(out).Encode(res)
}

func toFile(path string, f func(io.Writer) error) error {
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(fh, 1<<16)
	if err := f(bw); err != nil {
		fh.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

func fromFile(path string, f func(io.Reader) error) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	return f(bufio.NewReaderSize(fh, 1<<16))
}

// procStatus reads a kB figure (VmRSS, VmHWM) from /proc/self/status.
func procStatus(field string) (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("bench: peak RSS needs Linux's /proc: %w", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, field+":"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		}
	}
	return 0, fmt.Errorf("bench: no %s in /proc/self/status", field)
}
