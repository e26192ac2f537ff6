package syncpkt_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/multisite-go/multisite/syncpkt"
)

// testKey is the deterministic key every test and golden vector is signed
// with: ed25519.NewKeyFromSeed of the bytes 0x00…0x1f (see SPEC.md).
var testKey = func() ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i)
	}
	return ed25519.NewKeyFromSeed(seed)
}()

var testPublic = testKey.Public().(ed25519.PublicKey)

var signed = syncpkt.WriterOptions{Sign: syncpkt.Ed25519Signer(testKey)}

var verified = syncpkt.ReaderOptions{PublicKey: syncpkt.StaticPublicKey(testPublic)}

// testHeader is a small valid sync header.
func testHeader() syncpkt.Header {
	return syncpkt.Header{
		Kind:          syncpkt.KindSync,
		Family:        "fam-1",
		Origin:        "site-a",
		Target:        "site-b",
		SchemaVersion: 7,
		CodePage:      "utf-8",
		Created:       time.Date(2025, 11, 26, 6, 0, 0, 123456789, time.UTC),
		Base:          map[string]uint64{"site-a": 3, "site-b": 9},
		Upto:          map[string]uint64{"site-a": 5, "site-b": 9},
	}
}

// issueTable is a small table with one key column.
var issueTable = &syncpkt.Table{
	Name: "issue",
	Columns: []syncpkt.Column{
		{Name: "id", Type: "INTEGER", NotNull: true, Key: 1},
		{Name: "title", Type: "TEXT", NotNull: true},
		{Name: "score", Type: "REAL"},
	},
}

// writePacket encodes a packet and fails the test on any error.
func writePacket(t testing.TB, h syncpkt.Header, opt syncpkt.WriterOptions, recs ...syncpkt.Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := syncpkt.NewWriter(&buf, h, opt)
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	for i, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatalf("Write(record %d): %v", i, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if !opt.Compress && w.N() != int64(buf.Len()) { // N counts bytes before compression
		t.Fatalf("N() = %d, wrote %d bytes", w.N(), buf.Len())
	}
	return buf.Bytes()
}

// readPacket decodes a whole packet; err is nil when Next reached io.EOF.
func readPacket(data []byte, opt syncpkt.ReaderOptions) (*syncpkt.Header, []syncpkt.Record, *syncpkt.Reader, error) {
	r := syncpkt.NewReader(bytes.NewReader(data), opt)
	h, err := r.Header()
	if err != nil {
		return nil, nil, r, err
	}
	var recs []syncpkt.Record
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return h, recs, r, nil
		}
		if err != nil {
			return h, recs, r, err
		}
		recs = append(recs, rec)
	}
}
