package edbatch

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"
)

// TestSigner_SameAsStdlib: every signature equals crypto/ed25519.Sign's,
// for batch sizes 0 to 70, random keys and messages of every length.
func TestSigner_SameAsStdlib(t *testing.T) {
	for n := 0; n <= 70; n++ {
		_, key, _ := ed25519.GenerateKey(rand.Reader)
		g, ok := NewSigner(key)
		if !ok {
			t.Fatal("NewSigner refused a key")
		}
		msgs := make([][]byte, n)
		for i := range msgs {
			msgs[i] = make([]byte, (i*37+n)%300)
			rand.Read(msgs[i])
		}
		sigs := g.Sign(msgs)
		if len(sigs) != n {
			t.Fatalf("%d signatures for %d messages", len(sigs), n)
		}
		for i, m := range msgs {
			if want := ed25519.Sign(key, m); !bytes.Equal(sigs[i], want) {
				t.Fatalf("n=%d, message %d: %x, crypto/ed25519 %x", n, i, sigs[i], want)
			}
			if !Verify(key.Public().(ed25519.PublicKey), m, sigs[i]) {
				t.Fatal("a signature refused")
			}
		}
	}
	for _, v := range rfc8032 {
		g, _ := NewSigner(ed25519.NewKeyFromSeed(unhex(t, v.seed)))
		if got := g.Sign([][]byte{unhex(t, v.msg)})[0]; !bytes.Equal(got, unhex(t, v.sig)) {
			t.Fatalf("RFC 8032: %x", got)
		}
	}
	if _, ok := NewSigner(make([]byte, 12)); ok {
		t.Fatal("a short key taken")
	}
}

// BenchmarkSigner prints the speed of Signer.Sign on 64 messages against
// crypto/ed25519.Sign one at a time.
func BenchmarkSigner(b *testing.B) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	msgs := make([][]byte, 64)
	for i := range msgs {
		msgs[i] = make([]byte, 200)
		rand.Read(msgs[i])
	}
	g, _ := NewSigner(key)
	const rounds = 20
	g.Sign(msgs) // warm: the base point tables are built at the first use
	ed25519.Sign(key, msgs[0])
	t0 := time.Now()
	for r := 0; r < rounds; r++ {
		for _, m := range msgs {
			ed25519.Sign(key, m)
		}
	}
	single := time.Since(t0)
	t0 = time.Now()
	for r := 0; r < rounds; r++ {
		g.Sign(msgs)
	}
	batch := time.Since(t0)
	b.Logf("Signer.Sign of 64 is %.2fx the speed of ed25519.Sign one at a time", float64(single)/float64(batch))
	for i := 0; i < b.N; i++ {
		g.Sign(msgs)
	}
}
