package engine

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/multisite-go/multisite/syncpkt"
)

// proofJobs makes n signed row images of a table of three columns, by
// one origin, as an import's prefetcher notes them.
func proofJobs(t testing.TB, n int) (*proofCheck, []proofJob, ed25519.PrivateKey) {
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c := &proofCheck{family: "bench"}
	cols := []syncpkt.Column{{Name: "id", Type: "BIGINT", Key: 1}, {Name: "name", Type: "TEXT"}, {Name: "body", Type: "TEXT"}}
	jobs := make([]proofJob, n)
	for i := range jobs {
		r := &syncpkt.Row{Version: 1, Master: "a", Origin: "a", Creator: "a", Epoch: 1,
			Values: []syncpkt.Value{syncpkt.Int(int64(i)), syncpkt.Text(fmt.Sprintf("name %d", i)), syncpkt.Text(strings.Repeat("x", 500))}}
		r.Proof = ed25519.Sign(key, RowMessage(c.family, "t", cols, r))
		jobs[i] = proofJob{i: i, key: keyChain{cur: pub}, table: "t", cols: cols, row: r}
	}
	return c, jobs, key
}

// TestProofCheck_BatchVerdicts: in batches, every honest image passes and
// exactly the images with a bad proof are refused, with ErrProof.
func TestProofCheck_BatchVerdicts(t *testing.T) {
	c, jobs, _ := proofJobs(t, 300)
	bad := map[int]bool{0: true, 63: true, 64: true, 200: true, 299: true}
	for i := range bad {
		p := append([]byte(nil), jobs[i].row.Proof...)
		p[i%64] ^= 4
		jobs[i].row.Proof = p
	}
	// Images signed by a key their origin retired: valid for the epochs
	// it sealed (the batch, by the key in force, refuses them; each alone
	// is then checked with the retired key), refused for a later epoch.
	oldPub, oldKey, _ := ed25519.GenerateKey(rand.Reader)
	for _, i := range []int{10, 11, 150} {
		j := &jobs[i]
		j.key.old = []epochKey{{key: oldPub, upto: 1}}
		j.row.Proof = ed25519.Sign(oldKey, RowMessage(c.family, j.table, j.cols, j.row))
	}
	jobs[12].key.old = []epochKey{{key: oldPub, upto: 0}}
	jobs[12].row.Proof = ed25519.Sign(oldKey, RowMessage(c.family, jobs[12].table, jobs[12].cols, jobs[12].row))
	bad[12] = true
	items := make([]fetched, len(jobs))
	c.pending = jobs // as see notes them
	c.verify(items).Wait()
	for i, it := range items {
		if bad[i] != (it.bad != nil) {
			t.Fatalf("image %d: bad %v, verdict %v", i, bad[i], it.bad)
		}
		if it.bad != nil && !errors.Is(it.bad, ErrProof) {
			t.Fatalf("image %d: %v is not ErrProof", i, it.bad)
		}
	}
}

// BenchmarkProofCheck prints the speed of the import's batched proof
// check (checkAll) against checking each proof with ed25519.Verify, the
// code before it, on the same images in one run, both on GOMAXPROCS
// goroutines.
func BenchmarkProofCheck(b *testing.B) {
	c, jobs, _ := proofJobs(b, 4096)
	run := func(f func(part []proofJob)) time.Duration {
		t0 := time.Now()
		var wg sync.WaitGroup
		n := runtime.GOMAXPROCS(0)
		per := (len(jobs) + n - 1) / n
		for lo := 0; lo < len(jobs); lo += per {
			part := jobs[lo:min(lo+per, len(jobs))]
			wg.Add(1)
			go func() { defer wg.Done(); f(part) }()
		}
		wg.Wait()
		return time.Since(t0)
	}
	items := make([]fetched, len(jobs))
	single := func(part []proofJob) {
		for _, j := range part {
			if !j.key.verify(j.row.Epoch, RowMessage(c.family, j.table, j.cols, j.row), j.row.Proof) {
				b.Error("refused")
			}
		}
	}
	batch := func(part []proofJob) { c.checkAll(items, part) }
	run(single)
	run(batch)
	var ts, tb time.Duration
	for r := 0; r < 3; r++ {
		ts += run(single)
		tb += run(batch)
	}
	for _, it := range items {
		if it.bad != nil {
			b.Fatal(it.bad)
		}
	}
	b.Logf("proof check of %d row images: batched %.2fx the speed of one ed25519.Verify each (%.1f µs against %.1f µs an image)",
		len(jobs), float64(ts)/float64(tb), float64(tb.Microseconds())/float64(3*len(jobs)), float64(ts.Microseconds())/float64(3*len(jobs)))
	for i := 0; i < b.N; i++ {
		run(batch)
	}
}
