package syncpkt_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"
	"github.com/multisite-go/multisite/syncpkt"
)

func compressedPacket(t *testing.T, rows int) ([]byte, []syncpkt.Record) {
	t.Helper()
	h := syncpkt.Header{Kind: syncpkt.KindSync, Family: "f", Origin: "a", Target: "b"}
	var buf bytes.Buffer
	w, err := syncpkt.NewWriter(&buf, h, syncpkt.WriterOptions{Sign: syncpkt.Ed25519Signer(testKey), Compress: true})
	if err != nil {
		t.Fatal(err)
	}
	recs := []syncpkt.Record{&syncpkt.Table{Name: "defect", Columns: []syncpkt.Column{{Name: "id", Type: "INTEGER", Key: 1}, {Name: "body", Type: "TEXT"}}}}
	for i := 0; i < rows; i++ {
		recs = append(recs, &syncpkt.Row{Version: 1, Master: "a", Origin: "a", Creator: "a", Epoch: 1,
			Values: []syncpkt.Value{syncpkt.Int(int64(i)), syncpkt.Text(strings.Repeat("crash on save when the upload is large ", 15))}})
	}
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), recs
}

func TestCompressed_RoundTripAndSmaller(t *testing.T) {
	pkt, want := compressedPacket(t, 200)
	if raw := 200 * 600; len(pkt) > raw/4 {
		t.Errorf("compressed packet is %d bytes for ~%d bytes of rows", len(pkt), raw)
	}
	r := syncpkt.NewReader(bytes.NewReader(pkt), syncpkt.ReaderOptions{PublicKey: syncpkt.StaticPublicKey(testPublic)})
	var got []syncpkt.Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, rec)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

func TestCompressed_DamageAndBombsAreRefused(t *testing.T) {
	pkt, _ := compressedPacket(t, 50)
	read := func(b []byte, opt syncpkt.ReaderOptions) error {
		r := syncpkt.NewReader(bytes.NewReader(b), opt)
		for {
			if _, err := r.Next(); err != nil {
				if err == io.EOF {
					return nil
				}
				return err
			}
		}
	}
	key := syncpkt.ReaderOptions{PublicKey: syncpkt.StaticPublicKey(testPublic)}
	for i := 7; i < len(pkt); i += 7 {
		b := bytes.Clone(pkt)
		b[i] ^= 0x20
		err := read(b, key)
		if err == nil {
			t.Fatalf("bit flip at %d accepted", i)
		}
		if !errors.Is(err, syncpkt.ErrChecksum) && !errors.Is(err, syncpkt.ErrFormat) && !errors.Is(err, syncpkt.ErrSignature) && !errors.Is(err, syncpkt.ErrTruncated) && !errors.Is(err, syncpkt.ErrTooLarge) {
			t.Fatalf("bit flip at %d: untyped error %v", i, err)
		}
	}
	for _, n := range []int{8, len(pkt) / 2, len(pkt) - 1} {
		if err := read(pkt[:n], key); !errors.Is(err, syncpkt.ErrTruncated) && !errors.Is(err, syncpkt.ErrChecksum) {
			t.Errorf("cut at %d: %v", n, err)
		}
	}

	// A decompression bomb: a few KB that expand to 1 GiB of one frame
	// claiming to be a table. The limits count decompressed bytes.
	var bomb bytes.Buffer
	bomb.Write([]byte{'M', 'S', 'P', 'K', syncpkt.Version, syncpkt.MinorVersion, syncpkt.FlagZstd})
	zw, err := zstd.NewWriter(&bomb, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	for i := 0; i < 1024; i++ {
		zw.Write(zeros)
	}
	zw.Close()
	if bomb.Len() > 1<<20 {
		t.Fatalf("bomb is %d bytes", bomb.Len())
	}
	// Zeros decode as frames of type 0 with length 0: the reader must stop
	// at the first bad frame or at the size limit, not inflate it all.
	err = read(bomb.Bytes(), syncpkt.ReaderOptions{MaxPacket: 1 << 20})
	if !errors.Is(err, syncpkt.ErrFormat) && !errors.Is(err, syncpkt.ErrTooLarge) {
		t.Errorf("bomb: error = %v", err)
	}
	// A bomb whose frame declares a huge length is cut by MaxPacket.
	var bomb2 bytes.Buffer
	bomb2.Write([]byte{'M', 'S', 'P', 'K', syncpkt.Version, syncpkt.MinorVersion, syncpkt.FlagZstd})
	zw, _ = zstd.NewWriter(&bomb2)
	zw.Write([]byte{1, 0x80, 0x80, 0x80, 0x04}) // header frame claiming 1 GiB
	for i := 0; i < 64; i++ {
		zw.Write(zeros)
	}
	zw.Close()
	if err := read(bomb2.Bytes(), syncpkt.ReaderOptions{MaxPacket: 4 << 20, MaxFrame: 2 << 30}); !errors.Is(err, syncpkt.ErrTooLarge) {
		t.Errorf("bomb with MaxPacket: error = %v, want ErrTooLarge", err)
	}
}

// A truncated compressed packet says how much of the packet arrived, not
// only where the decompressed body ends.
func TestCompressed_TruncationNamesBytesArrived(t *testing.T) {
	pkt, _ := compressedPacket(t, 50)
	cut := pkt[:len(pkt)-64]
	r := syncpkt.NewReader(bytes.NewReader(cut), syncpkt.ReaderOptions{})
	var err error
	for err == nil {
		_, err = r.Next()
	}
	if !errors.Is(err, syncpkt.ErrTruncated) {
		t.Fatalf("truncated compressed packet: %v, want ErrTruncated", err)
	}
	if want := fmt.Sprintf("after %d bytes of the packet", len(cut)); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}
