package engine

import (
	"crypto/ed25519"
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
// record), two batches queued (their proofs are checked meanwhile, see
// proofcheck.go): besides the record being applied, at most four batches
// are held, so memory stays bounded by the packet's largest rows, not its
// size.
//
// The packet's signature is checked at its trailer against a key the
// import looks up in the registry it is building as it applies the
// packet's replica records. The reader's key lookup is therefore handed
// back to the applying goroutine, after every record before the trailer
// has been applied, exactly as when one goroutine did both.
//
// The goroutine reads the caller's io.Reader; stop waits for it, so the
// reader is never touched after the import returns.
type prefetch struct {
	pr      *syncpkt.Reader
	key     func(*syncpkt.Header) (ed25519.PublicKey, error)
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
// final error (io.EOF at the end), or a key lookup to answer.
type fetched struct {
	rec syncpkt.Record
	err error
	ask *keyAsk
	bad error // the record's proof does not hold (proofcheck.go)

	keys chan proofKeys // a registry snapshot to answer (proofcheck.go)

	read, decoded int64 // packet bytes read, stream bytes decoded, at rec
}

type keyAsk struct {
	h     *syncpkt.Header
	reply chan keyReply
}

type keyReply struct {
	key ed25519.PublicKey
	err error
}

// fbatch is a batch of fetched items; wait, if set, is done once their
// proofs are checked.
type fbatch struct {
	items []fetched
	wait  *sync.WaitGroup
}

// prefetchBytes is the size a batch of records reaches before it is sent.
const prefetchBytes = 256 << 10

// newPrefetch returns the packet's reader, its key lookup routed through
// the prefetcher. Read the header from it, then call start.
func newPrefetch(r io.Reader, opt syncpkt.ReaderOptions) *prefetch {
	p := &prefetch{key: opt.PublicKey}
	p.counted, _ = r.(*countReader)
	if opt.PublicKey != nil {
		opt.PublicKey = p.askKey
	}
	p.pr = syncpkt.NewReader(r, opt)
	return p
}

// start begins decoding the records after the header.
func (p *prefetch) start() {
	p.started = true
	p.ch = make(chan fbatch, 2)
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

// askKey runs on the decoding goroutine when the reader reaches the
// trailer: it sends what was decoded so far, then the question, and waits
// for the applying goroutine's answer.
func (p *prefetch) askKey(h *syncpkt.Header) (ed25519.PublicKey, error) {
	if !p.started { // the key is looked up at the header, before start
		return p.key(h)
	}
	ask := &keyAsk{h: h, reply: make(chan keyReply, 1)}
	if !p.send() {
		return nil, errStopped
	}
	select {
	case p.ch <- fbatch{items: []fetched{{ask: ask}}}:
	case <-p.quit:
		return nil, errStopped
	}
	select {
	case r := <-ask.reply:
		return r.key, r.err
	case <-p.quit:
		return nil, errStopped
	}
}

// errStopped is what the key lookup returns to a reader whose import has
// stopped; no one reads it.
var errStopped = io.ErrClosedPipe

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
		if f.ask != nil {
			k, err := p.key(f.ask.h)
			f.ask.reply <- keyReply{k, err}
			continue
		}
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
	r, ok := rec.(*syncpkt.Row)
	if !ok {
		return 64
	}
	n := 64 + 40*len(r.Values)
	for _, v := range r.Values {
		n += len(v.Text) + len(v.Blob)
	}
	return n
}
