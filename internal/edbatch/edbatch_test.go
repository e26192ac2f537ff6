package edbatch

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/edwards25519"
)

func unhex(t testing.TB, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// RFC 8032 section 7.1, tests 1 to 3.
var rfc8032 = []struct{ seed, pub, msg, sig string }{
	{"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
		"e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
	{"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb", "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
		"92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
	{"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7", "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
		"6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
}

func TestRFC8032(t *testing.T) {
	var b Batch
	for i, v := range rfc8032 {
		pub, msg, sig := unhex(t, v.pub), unhex(t, v.msg), unhex(t, v.sig)
		if got := ed25519.Sign(ed25519.NewKeyFromSeed(unhex(t, v.seed)), msg); !bytes.Equal(got, sig) {
			t.Fatalf("vector %d: the test vector is mistyped", i+1)
		}
		if !Verify(pub, msg, sig) {
			t.Errorf("vector %d refused", i+1)
		}
		bad := append([]byte(nil), msg...)
		bad = append(bad, 0)
		if Verify(pub, bad, sig) {
			t.Errorf("vector %d accepted over another message", i+1)
		}
		b.Add(pub, msg, sig)
	}
	if all, _ := b.Verify(); !all {
		t.Error("the RFC 8032 vectors refused as a batch")
	}
}

// TestGoVectors: every signature of Go's (SUPERCOP) test file, alone and
// in batches of 64.
func TestGoVectors(t *testing.T) {
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Skipf("go env GOROOT: %v", err)
	}
	f, err := os.Open(filepath.Join(strings.TrimSpace(string(goroot)), "src", "crypto", "ed25519", "testdata", "sign.input.gz"))
	if err != nil {
		t.Skipf("Go's ed25519 test vectors are not installed: %v", err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var b Batch
	n := 0
	sc := bufio.NewScanner(z)
	for sc.Scan() {
		parts := strings.Split(sc.Text(), ":")
		if len(parts) != 5 {
			t.Fatalf("bad line %q", sc.Text())
		}
		pub, msg, sig := unhex(t, parts[1]), unhex(t, parts[2]), unhex(t, parts[3])[:64]
		if !Verify(pub, msg, sig) {
			t.Errorf("vector %d refused", n)
		}
		b.Add(pub, msg, sig)
		if b.Len() == 64 {
			if all, _ := b.Verify(); !all {
				t.Errorf("batch ending at vector %d refused", n)
			}
			b.Reset()
		}
		n++
	}
	if all, _ := b.Verify(); !all {
		t.Error("last batch refused")
	}
	if n < 100 {
		t.Fatalf("only %d vectors", n)
	}
}

type sigCase struct {
	pub, msg, sig []byte
}

func honest(t testing.TB, n int) []sigCase {
	out := make([]sigCase, n)
	keys := make([]ed25519.PrivateKey, 3)
	for i := range keys {
		_, keys[i], _ = ed25519.GenerateKey(rand.Reader)
	}
	for i := range out {
		k := keys[i%len(keys)]
		msg := []byte(fmt.Sprintf("message %d", i))
		out[i] = sigCase{k.Public().(ed25519.PublicKey), msg, ed25519.Sign(k, msg)}
	}
	return out
}

// check adds cs to a batch and compares its verdicts with Verify's, one
// by one; it returns the single verdicts.
func check(t *testing.T, cs []sigCase) []bool {
	t.Helper()
	single := make([]bool, len(cs))
	allSingle := true
	for i, c := range cs {
		single[i] = Verify(c.pub, c.msg, c.sig)
		allSingle = allSingle && single[i]
	}
	var b Batch
	for _, c := range cs {
		b.Add(c.pub, c.msg, c.sig)
	}
	all, ok := b.Verify()
	if all != allSingle {
		t.Fatalf("batch says %v, signatures alone %v", all, single)
	}
	if !all {
		for i := range cs {
			if ok[i] != single[i] {
				t.Fatalf("signature %d: %v in the batch, %v alone", i, ok[i], single[i])
			}
		}
	}
	return single
}

func TestBatch_RandomValid(t *testing.T) {
	for _, n := range []int{1, 2, 7, 64, 200} {
		cs := honest(t, n)
		for i, ok := range check(t, cs) {
			if !ok {
				t.Fatalf("n=%d: honest signature %d refused", n, i)
			}
		}
	}
	var b Batch
	if all, ok := b.Verify(); !all || ok != nil {
		t.Fatal("an empty batch fails")
	}
}

// mutations that must each make a signature bad.
var mutations = []struct {
	name string
	f    func(c *sigCase)
}{
	{"message", func(c *sigCase) { c.msg = append(append([]byte(nil), c.msg...), 'x') }},
	{"R bit", func(c *sigCase) { c.sig = flip(c.sig, 3) }},
	{"S bit", func(c *sigCase) { c.sig = flip(c.sig, 40) }},
	{"key", func(c *sigCase) { c.pub = flip(c.pub, 5) }},
	{"short sig", func(c *sigCase) { c.sig = c.sig[:63] }},
	{"short key", func(c *sigCase) { c.pub = c.pub[:31] }},
	{"S+L", func(c *sigCase) { c.sig = addL(c.sig) }},
	{"nil", func(c *sigCase) { c.sig = nil }},
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 1
	return c
}

// addL returns sig with S replaced by S + L (same value mod L, not canonical).
func addL(sig []byte) []byte {
	c := append([]byte(nil), sig...)
	l := [32]byte{0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 31: 0x10}
	var carry uint16
	for i := 0; i < 32; i++ {
		s := uint16(c[32+i]) + uint16(l[i]) + carry
		c[32+i], carry = byte(s), s>>8
	}
	return c
}

func TestBatch_ExactlyOneBad(t *testing.T) {
	for _, m := range mutations {
		for _, n := range []int{1, 5, 64} {
			cs := honest(t, n)
			bad := n / 2
			m.f(&cs[bad])
			single := check(t, cs)
			for i, ok := range single {
				if ok != (i != bad) {
					t.Fatalf("%s, n=%d: signature %d verdict %v", m.name, n, i, ok)
				}
			}
		}
	}
}

func TestBatch_RandomMixed(t *testing.T) {
	var r [1]byte
	for round := 0; round < 20; round++ {
		cs := honest(t, 40)
		for i := range cs {
			rand.Read(r[:])
			if r[0] < 40 {
				mutations[int(r[0])%len(mutations)].f(&cs[i])
			}
		}
		check(t, cs)
	}
}

// torsion returns the 8 points of small order, generated as [L]P for
// random points P.
func torsion(t testing.TB) []*edwards25519.Point {
	lm1, err := new(edwards25519.Scalar).SetCanonicalBytes(unhex(t, "ecd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]*edwards25519.Point{}
	for i := 0; len(seen) < 8 && i < 10000; i++ {
		var y [32]byte
		rand.Read(y[:])
		p, err := new(edwards25519.Point).SetBytes(y[:])
		if err != nil {
			continue
		}
		q := new(edwards25519.Point).ScalarMult(lm1, p)
		q.Add(q, p)
		seen[string(q.Bytes())] = q
	}
	if len(seen) != 8 {
		t.Fatalf("found %d small-order points", len(seen))
	}
	var out []*edwards25519.Point
	for _, p := range seen {
		out = append(out, p)
	}
	return out
}

// forge signs msg as a holder of secret scalar a whose public key is
// [a]B + ta (ta small order), with nonce point [r]B + tr; mixed forges
// a signature with small-order components.
func forge(a *edwards25519.Scalar, ta, tr *edwards25519.Point, msg []byte) sigCase {
	A := new(edwards25519.Point).ScalarBaseMult(a)
	A.Add(A, ta)
	var rb [64]byte
	rand.Read(rb[:])
	r, _ := new(edwards25519.Scalar).SetUniformBytes(rb[:])
	R := new(edwards25519.Point).ScalarBaseMult(r)
	R.Add(R, tr)
	h := sha512.Sum512(append(append(R.Bytes(), A.Bytes()...), msg...))
	k, _ := new(edwards25519.Scalar).SetUniformBytes(h[:])
	s := new(edwards25519.Scalar).MultiplyAdd(k, a, r)
	return sigCase{A.Bytes(), msg, append(R.Bytes(), s.Bytes()...)}
}

func TestBatch_SmallOrderComponents(t *testing.T) {
	T := torsion(t)
	id := edwards25519.NewIdentityPoint()
	var ab [64]byte
	rand.Read(ab[:])
	a, _ := new(edwards25519.Scalar).SetUniformBytes(ab[:])
	stdDiffers := 0
	for _, ta := range T {
		for _, tr := range T {
			msg := []byte("mixed order")
			c := forge(a, ta, tr, msg)
			// A and R have a component of small order but are not of small
			// order: the cofactored rule accepts them.
			if !Verify(c.pub, c.msg, c.sig) {
				t.Fatal("a signature with small-order components refused")
			}
			if !ed25519.Verify(c.pub, c.msg, c.sig) {
				stdDiffers++
			}
			cs := honest(t, 5)
			cs = append(cs[:2], append([]sigCase{c}, cs[2:]...)...)
			check(t, cs)
		}
		// R of small order alone: S = k·a with R = T makes [S]B - R - [k]A
		// small order when A's torsion part is zero; refused by the rule.
		for _, tr := range T {
			A := new(edwards25519.Point).ScalarBaseMult(a)
			A.Add(A, ta)
			msg := []byte("small R")
			h := sha512.Sum512(append(append(tr.Bytes(), A.Bytes()...), msg...))
			k, _ := new(edwards25519.Scalar).SetUniformBytes(h[:])
			s := new(edwards25519.Scalar).Multiply(k, a)
			c := sigCase{A.Bytes(), msg, append(tr.Bytes(), s.Bytes()...)}
			if Verify(c.pub, c.msg, c.sig) {
				t.Fatal("a small-order R accepted")
			}
			check(t, append(honest(t, 3), c))
		}
		// A of small order: every (R=[r]B, S=r) "verifies" under the
		// cofactored equation; refused by the rule.
		var rb [64]byte
		rand.Read(rb[:])
		r, _ := new(edwards25519.Scalar).SetUniformBytes(rb[:])
		R := new(edwards25519.Point).ScalarBaseMult(r)
		c := sigCase{ta.Bytes(), []byte("anything"), append(R.Bytes(), r.Bytes()...)}
		if Verify(c.pub, c.msg, c.sig) {
			t.Fatal("a small-order key accepted")
		}
		check(t, append(honest(t, 3), c))
		_ = id
	}
	if stdDiffers == 0 {
		t.Fatal("no mixed-order signature that crypto/ed25519 refuses: the test does not test")
	}
}

// TestNonCanonicalEncodings: every non-canonical encoding of a point
// (y + p for y < 19, and x = 0 with the sign bit) is refused as A and R.
func TestNonCanonicalEncodings(t *testing.T) {
	decodable := 0
	for y := 0; y < 19; y++ {
		for _, sign := range []byte{0, 0x80} {
			// y + p = y + 2^255 - 19: little-endian bytes.
			var e [32]byte
			v := uint64(y) + (1<<8 - 19) // low byte of p is 0xed
			e[0] = byte(v)
			carry := v >> 8
			for i := 1; i < 32; i++ {
				w := uint64(0xff) + carry
				if i == 31 {
					w = uint64(0x7f) + carry
				}
				e[i], carry = byte(w), w>>8
			}
			e[31] |= sign
			if _, err := new(edwards25519.Point).SetBytes(e[:]); err == nil {
				decodable++
			}
			if _, ok := point(e[:]); ok {
				t.Fatalf("non-canonical encoding %x taken", e)
			}
			c := honest(t, 1)[0]
			if Verify(e[:], c.msg, c.sig) || Verify(c.pub, c.msg, append(e[:], c.sig[32:]...)) {
				t.Fatalf("non-canonical encoding %x accepted", e)
			}
			check(t, []sigCase{c, {e[:], c.msg, c.sig}, {c.pub, c.msg, append(e[:], c.sig[32:]...)}})
		}
	}
	// x = 0 with the sign bit: y = 1 and y = -1.
	for _, p := range []string{"0100000000000000000000000000000000000000000000000000000000000080",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"} {
		if _, err := new(edwards25519.Point).SetBytes(unhex(t, p)); err == nil {
			decodable++
		}
		if _, ok := point(unhex(t, p)); ok {
			t.Fatalf("%s taken", p)
		}
	}
	if decodable == 0 {
		t.Fatal("no non-canonical encoding decodes: the test does not test")
	}
}

func FuzzVerify(f *testing.F) {
	c := honest(f, 1)[0]
	f.Add([]byte(c.pub), c.msg, c.sig)
	f.Add([]byte(c.pub), c.msg, addL(c.sig))
	f.Add(make([]byte, 32), []byte{}, make([]byte, 64))
	good := honest(f, 2)
	f.Fuzz(func(t *testing.T, pub, msg, sig []byte) {
		alone := Verify(pub, msg, sig)
		var b Batch
		b.Add(good[0].pub, good[0].msg, good[0].sig)
		b.Add(pub, msg, sig)
		b.Add(good[1].pub, good[1].msg, good[1].sig)
		all, ok := b.Verify()
		if all != alone || (!all && (ok[1] != alone || !ok[0] || !ok[2])) {
			t.Fatalf("batch %v %v, alone %v", all, ok, alone)
		}
		// Cofactorless acceptance of canonical, not small-order encodings
		// implies acceptance here.
		if len(pub) == 32 && len(sig) == 64 && ed25519.Verify(pub, msg, sig) {
			_, okA := point(pub)
			_, okR := point(sig[:32])
			if okA && okR && !alone {
				t.Fatal("crypto/ed25519 accepts a signature with canonical parts that this refuses")
			}
		}
	})
}

// BenchmarkBatch prints the speed of a batch of 64 against ed25519.Verify
// one at a time (ratio > 1: the batch is faster).
func BenchmarkBatch(b *testing.B) {
	cs := honest(b, 64)
	b.Run("single-stdlib", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			c := cs[i%len(cs)]
			ed25519.Verify(c.pub, c.msg, c.sig)
		}
	})
	b.Run("single-cofactored", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			c := cs[i%len(cs)]
			Verify(c.pub, c.msg, c.sig)
		}
	})
	b.Run("batch64-per-signature", func(b *testing.B) {
		var bt Batch
		for i := 0; i < b.N; i++ {
			c := cs[i%len(cs)]
			bt.Add(c.pub, c.msg, c.sig)
			if bt.Len() == 64 {
				bt.Verify()
				bt.Reset()
			}
		}
	})
	// The ratio, measured in one run.
	const n = 640
	t0 := time.Now()
	for i := 0; i < n; i++ {
		c := cs[i%len(cs)]
		ed25519.Verify(c.pub, c.msg, c.sig)
	}
	single := time.Since(t0)
	t0 = time.Now()
	var bt Batch
	for i := 0; i < n; i++ {
		c := cs[i%len(cs)]
		bt.Add(c.pub, c.msg, c.sig)
		if bt.Len() == 64 {
			bt.Verify()
			bt.Reset()
		}
	}
	batch := time.Since(t0)
	b.Logf("batch of 64 is %.2fx the speed of ed25519.Verify one at a time", float64(single)/float64(batch))
}

// pointByReencoding is rule 1 and 2 the plain way: the point re-encodes
// to exactly its bytes and is not of small order.
func pointByReencoding(b []byte) bool {
	if len(b) != 32 {
		return false
	}
	p, err := new(edwards25519.Point).SetBytes(b)
	if err != nil || !bytes.Equal(p.Bytes(), b) {
		return false
	}
	return new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 0
}

// FuzzPoint: point's canonical check (on the bytes, without re-encoding)
// takes exactly what re-encoding takes.
func FuzzPoint(f *testing.F) {
	for _, p := range torsion(f) {
		f.Add(p.Bytes())
	}
	f.Add(unhex(f, "0100000000000000000000000000000000000000000000000000000000000080"))
	f.Add(unhex(f, "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"))
	f.Add(unhex(f, "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, ok := point(b)
		if ok != pointByReencoding(b) {
			t.Fatalf("%x: point %v, by re-encoding %v", b, ok, !ok)
		}
	})
}

// TestPoint_SameAsReencoding: the small y (every one with a second,
// unreduced encoding), both signs, the small-order points, random bytes.
func TestPoint_SameAsReencoding(t *testing.T) {
	var cases [][]byte
	for y := 0; y < 40; y++ {
		for _, hi := range []byte{0, 0x80} {
			var e [32]byte
			e[0], e[31] = byte(y), hi
			cases = append(cases, e[:])
			var n [32]byte // p + y - 19 .. p + 20: 2^255 - 19 + (y - 19)
			for i := range n {
				n[i] = 0xff
			}
			n[0] = byte(0xed + y - 19)
			n[31] = 0x7f | hi
			if y < 19 {
				cases = append(cases, n[:])
			}
		}
	}
	for _, p := range torsion(t) {
		b := p.Bytes()
		cases = append(cases, b, flip(b, 31*8/8))
		c := append([]byte(nil), b...)
		c[31] ^= 0x80
		cases = append(cases, c)
	}
	for i := 0; i < 2000; i++ {
		var b [32]byte
		rand.Read(b[:])
		cases = append(cases, b[:])
	}
	for _, c := range honest(t, 20) {
		cases = append(cases, c.pub, c.sig[:32])
	}
	taken := 0
	for _, b := range cases {
		_, ok := point(b)
		if ok != pointByReencoding(b) {
			t.Fatalf("%x: point %v, by re-encoding %v", b, ok, !ok)
		}
		if ok {
			taken++
		}
	}
	if taken == 0 {
		t.Fatal("no point taken: the test does not test")
	}
}
