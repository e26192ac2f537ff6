package engine

import (
	"io"
	"sync"

	"github.com/multisite-go/multisite/syncpkt"
)

// prefetch decodes a packet's records on a goroutine of its own, a little
// ahead of the import applying them, so that reading, decompressing,
// hashing and decoding the packet run on another core than the database
// writes (on SQLite they took a fifth of an import's time).
//
// Records travel in batches of at most prefetchBytes (or one larger
// record), handed over without a queue (the proofs of the batch handed
// over are checked meanwhile, see proofcheck.go): besides the batch being
// applied, one batch is held (and the reader's chunk), so memory stays
// bounded by the packet's largest rows, not its size.
//
// The reader returns a record only once the chunk it came in verified
// (syncpkt.Reader): the key is looked up, on the decoding goroutine, when
// the first record is asked for, before any record is handed over.
//
// The goroutine reads the caller's io.Reader; stop waits for it, so the
// reader is never touched after the import returns.
type prefetch struct {
	pr      *syncpkt.Reader
	started bool
	ch      chan fbatch
	quit    chan struct{}
	done    chan struct{}
	batch   []fetched // received, not yet handed out

	// proofs, if set, has every row image's and transfer's proof checked
	// (proofcheck.go) on other goroutines before its batch is handed out;
	// bad is the verdict on the record Next returned last.
	proofs *proofCheck
	bad    error

	// The decoding goroutine's own: decoded, not yet sent, and its size.
	out  []fetched
	size int

	// For progress reports: the packet bytes read (counted, if the
	// packet is read through a countReader) and the bytes of the
	// uncompressed stream decoded when the last record handed out was.
	counted       *countReader
	read, decoded int64
}

// fetched is one item the goroutine hands over: a record, the reader's
// final error (io.EOF at the end), or a request for the registry's keys
// (proofcheck.go).
type fetched struct {
	rec syncpkt.Record
	err error
	bad error // the record's proof does not hold (proofcheck.go)

	keys chan proofKeys // a registry snapshot to answer (proofcheck.go)

	read, decoded int64 // packet bytes read, stream bytes decoded, at rec
}

// fbatch is a batch of fetched items; wait, if set, is done once their
// proofs are checked.
type fbatch struct {
	items []fetched
	wait  *sync.WaitGroup
}

// prefetchBytes is the size a batch of records reaches before it is sent.
const prefetchBytes = 256 << 10

// newPrefetch returns the packet's reader. Read the header from it, then
// call start.
func newPrefetch(r io.Reader, opt syncpkt.ReaderOptions) *prefetch {
	p := &prefetch{}
	p.counted, _ = r.(*countReader)
	p.pr = syncpkt.NewReader(r, opt)
	return p
}

// start begins decoding the records after the header.
func (p *prefetch) start() {
	p.started = true
	p.ch = make(chan fbatch) // unbuffered: a large record is not held twice ahead
	p.quit = make(chan struct{})
	p.done = make(chan struct{})
	go p.run()
}

func (p *prefetch) run() {
	defer close(p.done)
	defer close(p.ch)
	for {
		rec, err := p.pr.Next()
		f := fetched{rec: rec, err: err, decoded: p.pr.N()}
		if p.counted != nil {
			f.read = p.counted.n
		}
		if err == nil && p.proofs != nil && !p.proofs.see(p, rec) {
			return
		}
		p.out = append(p.out, f)
		if err != nil {
			p.send()
			return
		}
		p.size += recordSize(rec)
		if p.size >= prefetchBytes && !p.send() {
			return
		}
	}
}

// send hands the records decoded so far to the applying goroutine; it
// reports false if the import stopped.
func (p *prefetch) send() bool {
	if len(p.out) == 0 {
		return true
	}
	b := fbatch{items: p.out}
	if p.proofs != nil {
		b.wait = p.proofs.verify(b.items)
	}
	select {
	case p.ch <- b:
		p.out, p.size = nil, 0
		return true
	case <-p.quit:
		return false
	}
}

// Next returns the next record, or the reader's error (io.EOF at the end).
func (p *prefetch) Next() (syncpkt.Record, error) {
	for {
		if len(p.batch) == 0 {
			b, ok := <-p.ch
			if !ok {
				return nil, io.EOF
			}
			if b.wait != nil {
				b.wait.Wait() // the batch's proofs are checked
			}
			p.batch = b.items
		}
		f := p.batch[0]
		p.batch[0] = fetched{}
		p.batch = p.batch[1:]
		if f.keys != nil {
			f.keys <- p.proofs.keys()
			continue
		}
		p.read, p.decoded, p.bad = f.read, f.decoded, f.bad
		return f.rec, f.err
	}
}

// stop ends the decoding goroutine and waits for it; a read of the
// caller's io.Reader in progress finishes first.
func (p *prefetch) stop() {
	if !p.started {
		return
	}
	select {
	case <-p.quit:
		return
	default:
	}
	close(p.quit)
	<-p.done
}

// recordSize estimates the memory a decoded record holds.
func recordSize(rec syncpkt.Record) int {
	switch r := rec.(type) {
	case *syncpkt.Row:
		n := 128 + valueSize*len(r.Values) + len(r.Proof)
		for _, v := range r.Values {
			n += len(v.Text) + len(v.Blob)
		}
		return n
	case *syncpkt.Setting:
		return 128 + len(r.Key) + len(r.Value)
	case *syncpkt.Table:
		n := 128
		for _, c := range r.Columns {
			n += 96 + len(c.Name) + len(c.Type) + len(c.Default)
		}
		return n
	case *syncpkt.Transfer:
		n := 128 + valueSize*len(r.Key)
		for _, v := range r.Key {
			n += len(v.Text) + len(v.Blob)
		}
		return n
	}
	return 256
}

// valueSize is the memory of one syncpkt.Value (kind, int, float, string
// and slice headers on a 64-bit machine).
const valueSize = 64
