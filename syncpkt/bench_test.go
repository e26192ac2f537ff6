package syncpkt_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/multisite-go/multisite/syncpkt"
)

const benchRows = 100_000

var benchTable = &syncpkt.Table{Name: "defect", Columns: []syncpkt.Column{
	{Name: "id", Type: "INTEGER", NotNull: true, Key: 1},
	{Name: "title", Type: "TEXT", NotNull: true},
	{Name: "body", Type: "TEXT"},
	{Name: "severity", Type: "REAL"},
	{Name: "updated", Type: "TEXT"},
	{Name: "attachment", Type: "BLOB"},
	{Name: "owner", Type: "TEXT"},
	{Name: "closed", Type: "TEXT"},
}}

// benchRowsOf returns n rows of about 600 encoded bytes each.
func benchRowsOf(n int) []*syncpkt.Row {
	body := strings.Repeat("steps to reproduce: open, edit, save. ", 12) // 456 bytes
	blob := bytes.Repeat([]byte{0x5a}, 48)
	rows := make([]*syncpkt.Row, n)
	for i := range rows {
		rows[i] = &syncpkt.Row{
			Version: uint64(i + 1), Master: "boston", Origin: "boston", Epoch: 42,
			Values: []syncpkt.Value{
				syncpkt.Int(int64(i)),
				syncpkt.Text(fmt.Sprintf("defect %d: crash when saving a large form", i)),
				syncpkt.Text(body),
				syncpkt.Float(float64(i%5) + 0.5),
				syncpkt.Text("2025-11-26T12:00:00.123456789Z"),
				syncpkt.Blob(blob),
				syncpkt.Text("alice"),
				syncpkt.Null(),
			},
		}
	}
	return rows
}

var benchData = sync.OnceValues(func() ([]*syncpkt.Row, []byte) {
	rows := benchRowsOf(benchRows)
	var buf bytes.Buffer
	w, err := syncpkt.NewWriter(&buf, testHeader(), signed)
	if err != nil {
		panic(err)
	}
	if err := w.Write(benchTable); err != nil {
		panic(err)
	}
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			panic(err)
		}
	}
	if err := w.Close(); err != nil {
		panic(err)
	}
	return rows, buf.Bytes()
})

// sha256PerOp is the reference: the time SHA-256 alone takes over the same
// packet, which both the Writer and the Reader must spend anyway.
var sha256PerOp = sync.OnceValue(func() time.Duration {
	_, data := benchData()
	best := time.Duration(1<<63 - 1)
	for range 5 { // best of five, measured in the same run as the benchmark
		start := time.Now()
		sha256.Sum256(data)
		best = min(best, time.Since(start))
	}
	return best
})

func reportRatio(b *testing.B) {
	perOp := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(float64(perOp)/float64(sha256PerOp()), "x-sha256")
	b.ReportMetric(float64(benchRows)/perOp.Seconds(), "rows/s")
}

// BenchmarkWriter writes 100k rows of about 600 bytes; MB/s counts packet
// bytes, x-sha256 is the time relative to hashing the packet alone.
func BenchmarkWriter(b *testing.B) {
	rows, data := benchData()
	sha256PerOp()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w, err := syncpkt.NewWriter(io.Discard, testHeader(), signed)
		if err != nil {
			b.Fatal(err)
		}
		if err := w.Write(benchTable); err != nil {
			b.Fatal(err)
		}
		for _, r := range rows {
			if err := w.Write(r); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
	reportRatio(b)
}

// BenchmarkReader reads and verifies the same packet.
func BenchmarkReader(b *testing.B) {
	_, data := benchData()
	sha256PerOp()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := syncpkt.NewReader(bytes.NewReader(data), verified)
		n := 0
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != benchRows+1 {
			b.Fatalf("read %d records", n)
		}
	}
	reportRatio(b)
}
