package workload

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/multisite-go/multisite/syncpkt"
)

// Compression is what one compressor does to a packet: its size after, and
// how long compressing and decompressing took on one goroutine.
type Compression struct {
	Name             string
	Bytes            int64
	Compress, Expand time.Duration
}

// Compressors returns how zstd (klauspost/compress, default and fastest
// levels) and the standard library's compress/flate (default level) do on
// data. Each result is checked to expand back to data.
func Compressors(data []byte) ([]Compression, error) {
	var out []Compression
	for _, lvl := range []zstd.EncoderLevel{zstd.SpeedDefault, zstd.SpeedFastest} {
		c, err := zstdOf(data, lvl)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	c, err := flateOf(data)
	if err != nil {
		return nil, err
	}
	return append(out, c), nil
}

func zstdOf(data []byte, lvl zstd.EncoderLevel) (Compression, error) {
	c := Compression{Name: "zstd " + lvl.String()}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(lvl), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return c, err
	}
	defer enc.Close()
	start := time.Now()
	z := enc.EncodeAll(data, nil)
	c.Compress, c.Bytes = time.Since(start), int64(len(z))
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return c, err
	}
	defer dec.Close()
	start = time.Now()
	back, err := dec.DecodeAll(z, make([]byte, 0, len(data)))
	c.Expand = time.Since(start)
	if err != nil || !bytes.Equal(back, data) {
		return c, fmt.Errorf("workload: %s does not round-trip: %v", c.Name, err)
	}
	return c, nil
}

func flateOf(data []byte) (Compression, error) {
	c := Compression{Name: "flate default (stdlib)"}
	var z bytes.Buffer
	start := time.Now()
	w, err := flate.NewWriter(&z, flate.DefaultCompression)
	if err != nil {
		return c, err
	}
	if _, err := w.Write(data); err != nil {
		return c, err
	}
	if err := w.Close(); err != nil {
		return c, err
	}
	c.Compress, c.Bytes = time.Since(start), int64(z.Len())
	start = time.Now()
	back, err := io.ReadAll(flate.NewReader(&z))
	c.Expand = time.Since(start)
	if err != nil || !bytes.Equal(back, data) {
		return c, fmt.Errorf("workload: %s does not round-trip: %v", c.Name, err)
	}
	return c, nil
}

// Uncompressed re-encodes a packet without compression (and without a
// signature), so the compressors above are compared on the raw format.
func Uncompressed(pkt []byte) ([]byte, error) {
	r := syncpkt.NewReader(bytes.NewReader(pkt), syncpkt.ReaderOptions{})
	h, err := r.Header()
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	w, err := syncpkt.NewWriter(&out, *h, syncpkt.WriterOptions{})
	if err != nil {
		return nil, err
	}
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if err := w.Write(rec); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// CompressorsOfPacket runs Compressors on the uncompressed form of pkt.
func CompressorsOfPacket(pkt []byte) ([]Compression, error) {
	raw, err := Uncompressed(pkt)
	if err != nil {
		return nil, err
	}
	return Compressors(raw)
}
