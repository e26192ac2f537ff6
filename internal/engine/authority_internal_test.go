package engine

import (
	"encoding/binary"
	"testing"

	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/syncpkt"
)

// FuzzBoundClaims checks the rules of boundClaims on any header: the
// sender's claims stand; the local replica's are refused beyond what it
// sealed or vouched for (capped in an acknowledgement); any other known
// replica's are capped at its statement or what is held of it; unknown
// replicas are dropped.
func FuzzBoundClaims(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32}, false)
	f.Add(make([]byte, 64), true)
	ids := []replica.ID{"local", "sender", "third", "fourth", "ghost"}
	f.Fuzz(func(t *testing.T, data []byte, lenient bool) {
		next := func() uint64 {
			if len(data) < 8 {
				return 0
			}
			v := binary.LittleEndian.Uint64(data)
			data = data[8:]
			if v&1 == 0 {
				v %= 64 // small epochs are the interesting ones
			}
			return v
		}
		c := &Ctl{Local: "local", Epoch: next()}
		reg := map[replica.ID]replica.Info{}
		for _, id := range ids[:4] {
			reg[id] = replica.Info{ID: id}
		}
		ours, held := replica.Vector{}, map[replica.ID]sealedStmt{}
		h := &syncpkt.Header{Origin: "sender", Upto: map[string]uint64{}}
		for _, id := range ids {
			ours[id] = next()
			held[id] = sealedStmt{Epoch: next()}
			h.Upto[string(id)] = next()
		}
		out, err := boundClaims(h, c, reg, ours, held, lenient)
		limit := max(ours["local"], c.Epoch, held["local"].Epoch)
		if err != nil {
			if lenient || h.Upto["local"] <= limit {
				t.Fatalf("refused: %v", err)
			}
			return
		}
		if !lenient && h.Upto["local"] > limit {
			t.Fatalf("claim %d on the local replica taken; limit %d", h.Upto["local"], limit)
		}
		if out["local"] > limit || out["sender"] != h.Upto["sender"] {
			t.Fatalf("local %d (limit %d), sender %d (claim %d)", out["local"], limit, out["sender"], h.Upto["sender"])
		}
		for _, id := range []replica.ID{"third", "fourth"} {
			if out[id] > h.Upto[string(id)] || out[id] > max(held[id].Epoch, ours[id]) {
				t.Fatalf("%s: %d believed of claim %d, statement %d, held %d", id, out[id], h.Upto[string(id)], held[id].Epoch, ours[id])
			}
		}
		if _, ok := out["ghost"]; ok {
			t.Fatalf("claim on an unknown replica taken")
		}
	})
}

// FuzzCheckEpochRange: no header with an epoch at or above MaxEpoch
// passes, every other does.
func FuzzCheckEpochRange(f *testing.F) {
	f.Add(uint64(1), uint64(MaxEpoch), uint64(0))
	f.Add(uint64(1<<63-1), uint64(0), uint64(5))
	f.Fuzz(func(t *testing.T, b, u, g uint64) {
		h := &syncpkt.Header{Base: map[string]uint64{"x": b}, Upto: map[string]uint64{"y": u}, Gaps: map[string]uint64{"z": g}}
		err := checkEpochRange(h)
		if bad := b >= MaxEpoch || u >= MaxEpoch || g >= MaxEpoch; bad != (err != nil) {
			t.Fatalf("Base %d Upto %d Gaps %d: %v", b, u, g, err)
		}
	})
}
