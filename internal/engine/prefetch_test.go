package engine

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/multisite-go/multisite/syncpkt"
	"github.com/stretchr/testify/require"
)

// packetOf writes a signed packet of one table and n rows of about 1 KiB.
func packetOf(t *testing.T, n int) ([]byte, ed25519.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	var buf bytes.Buffer
	w, err := syncpkt.NewWriter(&buf, syncpkt.Header{Kind: syncpkt.KindSync, Family: "f", Origin: "a", Target: "b"},
		syncpkt.WriterOptions{Sign: syncpkt.Ed25519Signer(priv), Compress: true})
	require.NoError(t, err)
	require.NoError(t, w.Write(&syncpkt.Table{Name: "t", Columns: []syncpkt.Column{{Name: "id", Type: "INTEGER", Key: 1}, {Name: "body", Type: "TEXT"}}}))
	for i := range n {
		require.NoError(t, w.Write(&syncpkt.Row{Version: 1, Master: "a", Origin: "a", Creator: "a", Epoch: 1,
			Values: []syncpkt.Value{syncpkt.Int(int64(i + 1)), syncpkt.Text(strings.Repeat("x", 1000))}}))
	}
	require.NoError(t, w.Close())
	return buf.Bytes(), pub
}

// countingReader counts the Read calls made on it.
type countingReader struct {
	r     io.Reader
	reads atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.reads.Add(1)
	return c.r.Read(p)
}

// TestPrefetch_KeyIsAskedBeforeAnyRecord: the key is looked up before the
// first record is handed over (records come only once their chunk
// verified), once, and every record follows.
func TestPrefetch_KeyIsAskedBeforeAnyRecord(t *testing.T) {
	const n = 2000 // several batches
	pkt, pub := packetOf(t, n)
	taken := 0
	askedAt, asked := -1, 0
	p := newPrefetch(bytes.NewReader(pkt), syncpkt.ReaderOptions{PublicKey: func(*syncpkt.Header) (ed25519.PublicKey, error) {
		askedAt = taken
		asked++
		return pub, nil
	}})
	_, err := p.pr.Header()
	require.NoError(t, err)
	p.start()
	defer p.stop()
	for {
		_, err := p.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		taken++
	}
	if taken != n+1 || askedAt != 0 || asked != 1 {
		t.Errorf("took %d records, key asked %d times, after %d; want %d, once, after 0", taken, asked, askedAt, n+1)
	}
	if _, err := p.Next(); err != io.EOF {
		t.Errorf("Next after the end = %v, want io.EOF", err)
	}
}

// TestPrefetch_StopLeavesTheReaderAlone: once stop returns, the packet's
// reader is read no more, though the packet was far from read.
func TestPrefetch_StopLeavesTheReaderAlone(t *testing.T) {
	pkt, pub := packetOf(t, 5000)
	cr := &countingReader{r: bytes.NewReader(pkt)}
	p := newPrefetch(cr, syncpkt.ReaderOptions{PublicKey: func(*syncpkt.Header) (ed25519.PublicKey, error) { return pub, nil }})
	_, err := p.pr.Header()
	require.NoError(t, err)
	p.start()
	_, err = p.Next()
	require.NoError(t, err)
	p.stop()
	p.stop() // a second stop is harmless
	reads := cr.reads.Load()
	select {
	case <-p.done:
	default:
		t.Fatal("stop returned before the decoding goroutine ended")
	}
	if cr.reads.Load() != reads {
		t.Errorf("the reader was read after stop")
	}
}

// TestPrefetch_KeyRefusalComesFirst: the key lookup's refusal is the
// import's error, before any record.
func TestPrefetch_KeyRefusalComesFirst(t *testing.T) {
	pkt, _ := packetOf(t, 300)
	refused := errors.New("no such key")
	p := newPrefetch(bytes.NewReader(pkt), syncpkt.ReaderOptions{PublicKey: func(*syncpkt.Header) (ed25519.PublicKey, error) { return nil, refused }})
	_, err := p.pr.Header()
	require.NoError(t, err)
	p.start()
	defer p.stop()
	taken := 0
	for {
		_, err = p.Next()
		if err != nil {
			break
		}
		taken++
	}
	if taken != 0 || !errors.Is(err, refused) {
		t.Errorf("took %d records, then %v; want no record, then the key's refusal", taken, err)
	}
}
