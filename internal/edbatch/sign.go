package edbatch

import (
	"crypto/ed25519"
	"crypto/sha512"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
)

// Signer makes the signatures crypto/ed25519.Sign makes (ed25519 is
// deterministic: the same bytes), many at a time: the key is expanded
// once, and the nonce points of a batch are encoded with one field
// inversion between them (Montgomery's trick) instead of one each. Every
// step on secret values is constant-time, as in crypto/ed25519.
type Signer struct {
	s      *edwards25519.Scalar // the clamped secret scalar
	prefix []byte               // the nonce key
	pub    []byte
}

// NewSigner expands key; ok is false if key is not an ed25519 private
// key (crypto/ed25519.Sign would panic).
func NewSigner(key ed25519.PrivateKey) (*Signer, bool) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, false
	}
	h := sha512.Sum512(key.Seed())
	s, err := edwards25519.NewScalar().SetBytesWithClamping(h[:32])
	if err != nil {
		return nil, false
	}
	return &Signer{s: s, prefix: append([]byte(nil), h[32:]...), pub: append([]byte(nil), key[32:]...)}, true
}

// Sign returns the signature of each message, in order: sigs[i] equals
// crypto/ed25519.Sign(key, msgs[i]).
func (g *Signer) Sign(msgs [][]byte) [][]byte {
	n := len(msgs)
	rs := make([]*edwards25519.Scalar, n)
	xs := make([]field.Element, n)
	ys := make([]field.Element, n)
	zs := make([]field.Element, n)
	var d [64]byte
	for i, m := range msgs {
		h := sha512.New()
		h.Write(g.prefix)
		h.Write(m)
		rs[i], _ = edwards25519.NewScalar().SetUniformBytes(h.Sum(d[:0]))
		R := new(edwards25519.Point).ScalarBaseMult(rs[i])
		x, y, z, _ := R.ExtendedCoordinates()
		xs[i], ys[i], zs[i] = *x, *y, *z
	}
	// Montgomery's trick: acc[i] = z_0···z_i, one inversion of the
	// product, then each 1/z_i walking back.
	acc := make([]field.Element, n)
	for i := range zs {
		if i == 0 {
			acc[i].Set(&zs[i])
		} else {
			acc[i].Multiply(&acc[i-1], &zs[i])
		}
	}
	var inv, zi field.Element
	if n > 0 {
		inv.Invert(&acc[n-1])
	}
	sigs := make([][]byte, n)
	for i := n - 1; i >= 0; i-- {
		if i > 0 {
			zi.Multiply(&inv, &acc[i-1])
			inv.Multiply(&inv, &zs[i])
		} else {
			zi.Set(&inv)
		}
		var x, y field.Element
		x.Multiply(&xs[i], &zi)
		y.Multiply(&ys[i], &zi)
		sig := make([]byte, 64)
		copy(sig, y.Bytes())
		sig[31] |= byte(x.IsNegative() << 7)
		h := sha512.New()
		h.Write(sig[:32])
		h.Write(g.pub)
		h.Write(msgs[i])
		k, _ := edwards25519.NewScalar().SetUniformBytes(h.Sum(d[:0]))
		S := edwards25519.NewScalar().MultiplyAdd(k, g.s, rs[i])
		copy(sig[32:], S.Bytes())
		sigs[i] = sig
	}
	return sigs
}
