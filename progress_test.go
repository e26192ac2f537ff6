package multisite_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite"
	"github.com/stretchr/testify/require"
)

// Import and creation report the packet bytes read against the packet's
// size, ending at the whole packet, for a file and for an in-memory reader.
func TestProgress_ImportAndCreation(t *testing.T) {
	sites := newFamily(t, 3000, "boston", "bangalore")
	boston, blr := sites[0], sites[1]
	mustExec(t, boston.db, `UPDATE defect SET headline = headline || ' (edited)'`)
	pkt := export(t, boston, blr)
	path := filepath.Join(t.TempDir(), "sync.pkt")
	require.NoError(t, os.WriteFile(path, pkt, 0o600))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()

	var calls [][2]int64
	_, err = multisite.ImportPacket(ctx, blr.db, f, multisite.ImportOptions{Progress: func(read, size int64) {
		calls = append(calls, [2]int64{read, size})
	}})
	require.NoError(t, err)
	if len(calls) == 0 {
		t.Fatal("Progress was never called")
	}
	last := calls[len(calls)-1]
	if last != [2]int64{int64(len(pkt)), int64(len(pkt))} {
		t.Errorf("last progress call %v, want the whole packet of %d bytes read of %d", last, len(pkt), len(pkt))
	}
	for i := 1; i < len(calls); i++ {
		if calls[i][0] <= calls[i-1][0] {
			t.Errorf("progress went back: %v", calls)
		}
	}

	// Creation, from memory.
	var cp bytes.Buffer
	_, _, err = multisite.Replicate(ctx, boston.db, "dublin", &cp, multisite.ReplicateOptions{})
	require.NoError(t, err)
	size := int64(cp.Len())
	var got [2]int64
	_, err = multisite.CreateReplica(ctx, openNew(t, "dublin"), bytes.NewReader(cp.Bytes()), multisite.CreateOptions{Progress: func(read, size int64) {
		got = [2]int64{read, size}
	}})
	require.NoError(t, err)
	if got != [2]int64{size, size} {
		t.Errorf("creation progress ended at %v, want %d of %d", got, size, size)
	}
}

// OnProgress counts the rows applied and the bytes of the uncompressed
// stream: its last read report has every row the report counts and at
// least the packet's bytes (more, for a compressed packet of repetitive
// rows), and the commit is reported once, last.
func TestProgress_OnProgressCountsRowsAndStream(t *testing.T) {
	sites := newFamily(t, 3000, "boston", "bangalore")
	boston, blr := sites[0], sites[1]
	mustExec(t, boston.db, `UPDATE defect SET headline = headline || ' (edited, edited, edited, edited)'`)
	pkt := export(t, boston, blr)

	check := func(t *testing.T, calls []multisite.ImportProgress, rows int, packet int64) {
		t.Helper()
		if len(calls) < 2 {
			t.Fatalf("OnProgress called %d times, want read reports then the commit: %v", len(calls), calls)
		}
		last, read := calls[len(calls)-1], calls[len(calls)-2]
		if last.Phase != multisite.ProgressCommit {
			t.Errorf("last report's phase is %q, want %q", last.Phase, multisite.ProgressCommit)
		}
		for i, c := range calls[:len(calls)-1] {
			if c.Phase != multisite.ProgressRead {
				t.Errorf("report %d of %d has phase %q, want %q", i+1, len(calls), c.Phase, multisite.ProgressRead)
			}
			if i > 0 && (c.Rows < calls[i-1].Rows || c.Bytes < calls[i-1].Bytes || c.PacketBytes < calls[i-1].PacketBytes) {
				t.Errorf("progress went back: %+v after %+v", c, calls[i-1])
			}
		}
		want := multisite.ImportProgress{Phase: multisite.ProgressRead, PacketBytes: packet, PacketSize: packet, Bytes: read.Bytes, Rows: rows}
		if diff := cmp.Diff(want, read); diff != "" {
			t.Errorf("last read report (-want +got):\n%s", diff)
		}
		if read.Bytes <= read.PacketBytes {
			t.Errorf("stream bytes %d, want more than the %d compressed packet bytes", read.Bytes, read.PacketBytes)
		}
		if last.Rows != read.Rows || last.Bytes != read.Bytes {
			t.Errorf("commit report %+v differs from the last read report %+v", last, read)
		}
	}
	counted := func(rep *multisite.ImportReport) int {
		n := 0
		for _, c := range rep.Tables {
			n += c.Inserted + c.Updated + c.Deleted + c.Unchanged
		}
		return n
	}

	t.Run("import", func(t *testing.T) {
		var calls []multisite.ImportProgress
		var old int
		rep, err := multisite.ImportPacket(ctx, blr.db, bytes.NewReader(pkt), multisite.ImportOptions{
			OnProgress: func(p multisite.ImportProgress) { calls = append(calls, p) },
			Progress:   func(int64, int64) { old++ },
		})
		require.NoError(t, err)
		require.Equal(t, 3000, counted(rep), "the packet carries every edited row")
		check(t, calls, counted(rep), int64(len(pkt)))
		if old == 0 {
			t.Error("Progress was not called next to OnProgress")
		}
	})
	t.Run("split export", func(t *testing.T) {
		// Counts cover every part: the import of the last one applies them all.
		for i := 1; i <= 40; i++ {
			mustExec(t, boston.db, `UPDATE defect SET headline = ? WHERE id = ?`, fmt.Sprintf("a longer headline to fill the parts, number %d of forty, and again", i), i)
		}
		parts := []*bytes.Buffer{{}}
		next := func(int) (io.Writer, error) {
			parts = append(parts, &bytes.Buffer{})
			return parts[len(parts)-1], nil
		}
		_, err := multisite.ExportPacket(ctx, boston.db, blr.id, parts[0], multisite.ExportOptions{MaxSize: 2048, NextPart: next})
		require.NoError(t, err)
		require.Greater(t, len(parts), 2, "the export is split")
		var calls []multisite.ImportProgress
		var rep *multisite.ImportReport
		var total int64
		for _, p := range parts {
			total += int64(p.Len())
			rep, err = multisite.ImportPacket(ctx, blr.db, bytes.NewReader(p.Bytes()), multisite.ImportOptions{
				OnProgress: func(p multisite.ImportProgress) { calls = append(calls, p) },
			})
			require.NoError(t, err)
		}
		require.False(t, rep.Held, "the last part applies the export")
		require.Equal(t, 40, counted(rep))
		check(t, calls, counted(rep), total)
	})
	t.Run("creation", func(t *testing.T) {
		var cp bytes.Buffer
		_, _, err := multisite.Replicate(ctx, boston.db, "dublin", &cp, multisite.ReplicateOptions{})
		require.NoError(t, err)
		var calls []multisite.ImportProgress
		rep, err := multisite.CreateReplica(ctx, openNew(t, "dublin"), bytes.NewReader(cp.Bytes()), multisite.CreateOptions{
			OnProgress: func(p multisite.ImportProgress) { calls = append(calls, p) },
		})
		require.NoError(t, err)
		require.NotZero(t, counted(rep))
		check(t, calls, counted(rep), int64(cp.Len()))
	})
}
