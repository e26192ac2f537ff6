package engine

import (
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/syncpkt"
)

// TestKeyAt: a retired key is in force for packets dated before its
// successor, never after; a chain without dates ends the walk back.
func TestKeyAt(t *testing.T) {
	k := func() ed25519.PublicKey { p, _, _ := ed25519.GenerateKey(nil); return p }
	k1, k2, k3 := k(), k(), k()
	t0 := time.UnixMilli(1_700_000_000_000)
	dated := func(pub ed25519.PublicKey, at time.Time) *syncpkt.Replica {
		_, prev, _ := ed25519.GenerateKey(nil)
		return &syncpkt.Replica{PublicKey: pub, KeySig: endorse(prev, replica.Info{ID: "x", PublicKey: pub}, at, uint64(at.Sub(t0)/time.Hour)*10+5)}
	}
	chain := []*syncpkt.Replica{{PublicKey: k1}, dated(k2, t0), dated(k3, t0.Add(time.Hour))}
	cur := replica.Info{ID: "x", PublicKey: k3}
	for _, tt := range []struct {
		at   time.Time
		want ed25519.PublicKey
	}{
		{t0.Add(-time.Millisecond), k1},
		{t0, k2},
		{t0.Add(time.Minute), k2},
		{t0.Add(time.Hour), k3},
		{t0.Add(48 * time.Hour), k3},
	} {
		if got := keyAt(cur, chain, tt.at); !got.Equal(tt.want) {
			t.Errorf("keyAt(%v) is the wrong key", tt.at.Sub(t0))
		}
	}
	// Epochs: k1 sealed up to 5, k2 up to 15.
	for _, tt := range []struct {
		epoch uint64
		want  []ed25519.PublicKey
	}{
		{1, []ed25519.PublicKey{k3, k2, k1}},
		{5, []ed25519.PublicKey{k3, k2, k1}},
		{6, []ed25519.PublicKey{k3, k2}},
		{15, []ed25519.PublicKey{k3, k2}},
		{16, []ed25519.PublicKey{k3}},
	} {
		if got := KeysForEpoch(cur, chain, tt.epoch); len(got) != len(tt.want) {
			t.Errorf("KeysForEpoch(%d) = %d keys, want %d", tt.epoch, len(got), len(tt.want))
		} else {
			for i := range got {
				if !got[i].Equal(tt.want[i]) {
					t.Errorf("KeysForEpoch(%d)[%d] is the wrong key", tt.epoch, i)
				}
			}
		}
	}
	// An undated link (an endorsement from before format 9) stops the walk.
	chain[1].KeySig = make([]byte, ed25519.SignatureSize)
	if got := keyAt(cur, chain, t0.Add(-time.Hour)); !got.Equal(k2) {
		t.Errorf("undated rotation: keyAt walked past it")
	}
}

// FuzzEnrolAndEndorsement: whatever the bytes, parsing an enrolment and
// checking an endorsement never panic, and a random endorsement is never
// taken.
func FuzzEnrolAndEndorsement(f *testing.F) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	good := endorse(priv, replica.Info{ID: "x", Version: 2, PublicKey: pub}, time.Now(), 7)
	f.Add("00 11", []byte(nil))
	f.Add(enrolValue(pub, make([]byte, 32)), good)
	f.Add("", make([]byte, rotationSize))
	f.Fuzz(func(t *testing.T, v string, keySig []byte) {
		if p, mac, err := parseEnrol(v); err == nil && (len(p) != ed25519.PublicKeySize || len(mac) != 32) {
			t.Fatalf("parseEnrol(%q) = %d-byte key, %d-byte MAC", v, len(p), len(mac))
		}
		other, _, _ := ed25519.GenerateKey(nil)
		if KeyEndorsed(other, replica.Info{ID: "x", Version: 2, PublicKey: pub, KeySig: keySig}) {
			t.Fatalf("endorsement %x taken from a key that never made it", keySig)
		}
		_, _ = rotatedAt(keySig)
	})
}
