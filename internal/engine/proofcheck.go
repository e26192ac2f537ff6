package engine

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/internal/edbatch"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/syncpkt"
)

// Proofs of origin on import. Every row image carries its Origin's
// signature over syncpkt.RowMessage, every transfer its From's over
// syncpkt.TransferMessage, made by that replica and forwarded unchanged
// by any hub. An import checks each one against the key this replica's
// registry holds for the maker, before the record is applied: a proof
// that does not hold refuses the packet with ErrProof.
//
// ed25519 verification costs about 50 µs alone, more than applying a row
// on SQLite; checked in batches of proofBatch (internal/edbatch, one
// acceptance rule alone and batched) it costs about a third of that. It
// runs off the applying goroutine: the prefetcher
// (prefetch.go) notes, as it decodes, which records of a batch carry a
// proof, and hands the batch to proofCheck.verify, which checks them on
// GOMAXPROCS goroutines, in batches, while the prefetcher decodes on; the applying
// goroutine waits for a batch's verdicts before it takes its first
// record. Records keep their order.
//
// The keys are those of the registry as the import has built it up to
// the record: the packet's own registry entries, taken or refused by the
// applying goroutine, come first. Whenever the prefetcher has decoded a
// registry entry since it last asked, it asks the applying goroutine for
// a snapshot of the keys (after everything before has been applied, as
// for the packet's signature at the trailer); an honest packet asks once.

// proofCheck is the prefetcher's proof state (on its goroutine, except
// keys, which runs on the applying one).
type proofCheck struct {
	family string
	// keys returns the public keys of the registry as the import holds
	// it now; it runs on the applying goroutine.
	keys func() proofKeys

	known   proofKeys        // the last snapshot
	stale   bool             // a registry entry was decoded since
	table   string           // the current table
	cols    []syncpkt.Column // and its columns
	pending []proofJob       // of the batch being decoded
}

// proofJob is one proof to check: item i of its batch.
type proofJob struct {
	i     int
	key   keyChain // the maker's keys (registry_auth.go: a retired key for the epochs before it retired)
	table string
	cols  []syncpkt.Column
	row   *syncpkt.Row
	x     *syncpkt.Transfer
}

func newProofCheck(family string, keys func() proofKeys) *proofCheck {
	return &proofCheck{family: family, keys: keys, stale: true}
}

// see notes rec, decoded next, as item len(p.out) of the batch; it
// reports false if the import stopped while it asked for keys.
func (c *proofCheck) see(p *prefetch, rec syncpkt.Record) bool {
	switch r := rec.(type) {
	case *syncpkt.Replica:
		c.stale = true
	case *syncpkt.Table:
		c.table, c.cols = r.Name, r.Columns
	case *syncpkt.Row:
		if len(r.Proof) == 0 {
			return true // the importer decides (merge, fast path)
		}
		if !c.fresh(p) {
			return false
		}
		// An unknown origin gets no key: the importer refuses it by name.
		if k, ok := c.known[replica.ID(r.Origin)]; ok {
			c.pending = append(c.pending, proofJob{i: len(p.out), key: k, table: c.table, cols: c.cols, row: r})
		}
	case *syncpkt.Transfer:
		if len(r.Proof) == 0 {
			return true
		}
		if !c.fresh(p) {
			return false
		}
		if k, ok := c.known[replica.ID(r.From)]; ok {
			c.pending = append(c.pending, proofJob{i: len(p.out), key: k, x: r})
		}
	}
	return true
}

// fresh asks the applying goroutine for the registry's keys if a registry
// entry was decoded since the last snapshot: it hands over what was
// decoded so far, then the question, and waits.
func (c *proofCheck) fresh(p *prefetch) bool {
	if !c.stale {
		return true
	}
	if !p.send() {
		return false
	}
	reply := make(chan proofKeys, 1)
	select {
	case p.ch <- fbatch{items: []fetched{{keys: reply}}}:
	case <-p.quit:
		return false
	}
	select {
	case c.known = <-reply:
	case <-p.quit:
		return false
	}
	c.stale = false
	return true
}

// proofBatch is how many proofs a goroutine checks in one batch
// (internal/edbatch): large enough to share the batch equation's
// doublings, small enough that a batch holding a bad proof costs little
// more than checking its proofs one by one.
const proofBatch = 64

// verify starts checking the proofs noted for items, on up to GOMAXPROCS
// goroutines, each verdict going into its item's bad; the returned group
// is done when all are checked (nil if there is nothing to check).
func (c *proofCheck) verify(items []fetched) *sync.WaitGroup {
	jobs := c.pending
	c.pending = nil
	if len(jobs) == 0 {
		return nil
	}
	var wg sync.WaitGroup
	n := min(runtime.GOMAXPROCS(0), (len(jobs)+proofBatch-1)/proofBatch)
	per := (len(jobs) + n - 1) / n
	for lo := 0; lo < len(jobs); lo += per {
		part := jobs[lo:min(lo+per, len(jobs))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.checkAll(items, part)
		}()
	}
	return &wg
}

// checkAll checks jobs in batches of proofBatch, each verdict going into
// its item's bad. A batch verifies every proof against its maker's key in
// force at once (edbatch.Batch); a proof the batch does not accept is
// checked alone, by check, which also tries the maker's retired keys.
// The verdict of each record is therefore check's, whatever the batch:
// edbatch's acceptance rule is the same alone and batched.
func (c *proofCheck) checkAll(items []fetched, jobs []proofJob) {
	var b edbatch.Batch
	for lo := 0; lo < len(jobs); lo += proofBatch {
		part := jobs[lo:min(lo+proofBatch, len(jobs))]
		b.Reset()
		for _, j := range part {
			msg, sig := c.message(j)
			b.Add(j.key.cur, msg, sig)
		}
		all, ok := b.Verify()
		if all {
			continue
		}
		for k, j := range part {
			if ok[k] {
				continue // accepted by the key in force, as check would
			}
			items[j.i].bad = c.check(j)
		}
	}
}

// message is the message and proof of a job.
func (c *proofCheck) message(j proofJob) (msg, sig []byte) {
	if j.row != nil {
		return RowMessage(c.family, j.table, j.cols, j.row), j.row.Proof
	}
	return syncpkt.TransferMessage(c.family, j.x), j.x.Proof
}

// check verifies one proof alone (keyChain.verifyProof: the rule of
// internal/edbatch, by the key in force or a retired one for its epochs).
func (c *proofCheck) check(j proofJob) error {
	msg, sig := c.message(j)
	if j.row != nil {
		if j.key.verifyProof(j.row.Epoch, msg, sig) {
			return nil
		}
		return fmt.Errorf("%w: a row image of %s (version %d) is not signed by its origin %s", ErrProof, j.table, j.row.Version, j.row.Origin)
	}
	if j.key.verifyProof(j.x.Epoch, msg, sig) {
		return nil
	}
	return fmt.Errorf("%w: a transfer of %s (version %d, %s to %s) is not signed by %s", ErrProof, j.x.Table, j.x.Version, j.x.From, j.x.To, j.x.From)
}

// RowMessage is what a row image's origin signs: syncpkt.RowMessage over
// the image with each value in its canonical form for its column's type
// (dialect.Canonical, the form content hashes compare), so that the proof
// holds over the image a hub of another vendor reads back from its own
// database: SQLite holds DECIMAL(12,2) 1234.50 as the REAL 1234.5 and
// sends a float, PostgreSQL and MariaDB send the text "1234.50"; both
// sign and verify as "1234.5". cols are the packet's columns of the
// row's table, whose types every member shares (ms_table).
func RowMessage(family, table string, cols []syncpkt.Column, r *syncpkt.Row) []byte {
	if len(cols) != len(r.Values) {
		return nil
	}
	c := *r
	c.Values = make([]syncpkt.Value, len(r.Values))
	for i, v := range r.Values {
		c.Values[i] = v
		if v.IsNull() {
			continue
		}
		if cv, err := syncpkt.ValueOf(dialect.Canonical(cols[i].Type, v.Any())); err == nil {
			c.Values[i] = cv
		}
	}
	return syncpkt.RowMessage(family, table, cols, &c)
}
