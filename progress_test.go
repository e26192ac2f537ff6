package multisite_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

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
