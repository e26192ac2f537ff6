package syncpkt

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// splitFrames returns the frames of a well-formed packet, without checking
// anything; it serves only to seed FuzzFrame.
func splitFrames(b []byte) (frames [][]byte) {
	b = b[preambleSize:]
	for len(b) > 0 {
		n, k := uvarint(b[1:])
		if k <= 0 || uint64(len(b)-1-k) < n {
			return frames
		}
		frames = append(frames, append([]byte{b[0]}, b[1+k:1+k+int(n)]...))
		b = b[1+k+int(n):]
	}
	return frames
}

// FuzzFrame decodes arbitrary frame payloads directly, past the digest a
// fuzzer cannot forge, and checks that the encoding is canonical: whatever
// decodes must encode back to the same bytes.
func FuzzFrame(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.pkt"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for _, fr := range splitFrames(b) {
			f.Add(fr[0], fr[1:])
		}
	}
	f.Fuzz(func(t *testing.T, typ byte, payload []byte) {
		d := &decoder{b: payload}
		if typ == frameRow || typ == frameTransfer {
			td := textDecoder(payload, false, map[string]string{})
			d = &td
		}
		var again []byte
		switch typ {
		case frameHeader:
			h, err := decodeHeader(d)
			if err != nil {
				return
			}
			again = appendHeader(nil, h)
		case frameTable:
			x, err := decodeTable(d)
			if err != nil {
				return
			}
			again = appendTable(nil, x)
		case frameRow:
			x, err := readRow(d)
			if err != nil {
				return
			}
			again = appendRow(nil, x)
		case frameTransfer:
			x, err := decodeTransfer(d)
			if err != nil {
				return
			}
			again = appendTransfer(nil, x)
		case frameReplica:
			x, err := decodeReplica(d)
			if err != nil {
				return
			}
			again = appendReplica(nil, x)
		case frameSetting:
			x, err := decodeSetting(d)
			if err != nil {
				return
			}
			again = appendSetting(nil, x)
		case frameInvite:
			x, err := decodeInvite(d)
			if err != nil {
				return
			}
			again = appendInvite(nil, x)
		case frameTrailer:
			x, err := decodeTrailer(d)
			if err != nil {
				return
			}
			again = appendTrailer(nil, x)
		default:
			return
		}
		if !bytes.Equal(again, payload) {
			t.Fatalf("frame %s decodes but re-encodes differently:\n in %x\nout %x", frameName(typ), payload, again)
		}
	})
}
