// Package edbatch verifies ed25519 signatures one at a time or many at
// once, with one acceptance rule for both, so that whether a signature is
// accepted never depends on which other signatures it was checked with.
//
// # Acceptance rule
//
// A signature sig = R || S (64 bytes) by the public key A (32 bytes) over
// the message M is accepted if and only if all of the following hold:
//
//  1. A and R are canonical encodings of points of the curve: the
//     encoded y is below p = 2^255 - 19, and the sign bit is not set on
//     a point whose x is zero (each re-encodes to exactly its bytes);
//  2. neither A nor R is of small order: [8]A and [8]R are not the
//     identity (honest keys and nonces never are);
//  3. S is a canonical scalar: S < L, the order of the base point;
//  4. with k = SHA-512(R || A || M) reduced mod L, the cofactored
//     equation [8]([S]B - R - [k]A) = O holds.
//
// This differs from crypto/ed25519.Verify (RFC 8032's cofactorless
// equation [S]B = R + [k]A, with non-canonical A accepted) only for
// signatures whose A or R has a component of small order, or whose A is
// a non-canonical encoding: such a signature can only be made by the
// owner of the key (or is a key nobody honest holds), and honest Sign
// output is accepted by both. Every signature crypto/ed25519.Sign makes
// with a key from crypto/ed25519.GenerateKey is accepted here.
//
// A [Batch] checks n signatures with one multi-scalar multiplication of
// the randomised equation
//
//	[8]( [-Σ z_i·S_i]B + Σ [z_i]R_i + Σ [z_i·k_i]A_i ) = O
//
// with independent uniformly random 128-bit z_i from crypto/rand. If
// every signature meets the rule the equation holds for every z (each
// term is then a point of small order, killed by the factor 8); if one
// does not, the equation holds with probability at most 2^-128 over the
// z, which an attacker cannot choose. So a batch's verdict is, short of
// that probability, the conjunction of the single verdicts, whatever the
// composition of the batch. When a batch fails, [Batch.Verify] checks
// each signature alone, with [Verify], to name the bad ones.
package edbatch

import (
	"crypto/rand"
	"crypto/sha512"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
)

const (
	// PublicKeySize is the size of a public key, as in crypto/ed25519.
	PublicKeySize = 32
	// SignatureSize is the size of a signature, as in crypto/ed25519.
	SignatureSize = 64
)

// point decodes a point under rule 1 and 2: canonical, not small order.
// Canonical is checked on the bytes and the decoded x, without
// re-encoding the point (which costs a field inversion): the encoded y
// must be reduced, and the sign bit clear when x is zero.
func point(b []byte) (*edwards25519.Point, bool) {
	if len(b) != 32 {
		return nil, false
	}
	y, err := new(field.Element).SetBytes(b)
	if err != nil {
		return nil, false
	}
	var yb [32]byte
	copy(yb[:], y.Bytes())
	yb[31] |= b[31] & 0x80
	if yb != [32]byte(b) {
		return nil, false // y ≥ p
	}
	p, err := new(edwards25519.Point).SetBytes(b)
	if err != nil {
		return nil, false
	}
	if b[31]&0x80 != 0 {
		x, _, _, _ := p.ExtendedCoordinates()
		if x.Equal(new(field.Element)) == 1 {
			return nil, false // x = 0 with the sign bit: a second encoding
		}
	}
	if new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1 {
		return nil, false
	}
	return p, true
}

// challenge is k = SHA-512(R || A || M) mod L.
func challenge(r, a, msg []byte) *edwards25519.Scalar {
	h := sha512.New()
	h.Write(r)
	h.Write(a)
	h.Write(msg)
	var d [64]byte
	k, _ := new(edwards25519.Scalar).SetUniformBytes(h.Sum(d[:0]))
	return k
}

// parsed is a signature whose encodings meet rules 1 to 3.
type parsed struct {
	a, r *edwards25519.Point
	s, k *edwards25519.Scalar
}

func parse(pub, msg, sig []byte) (parsed, bool) {
	if len(pub) != PublicKeySize || len(sig) != SignatureSize {
		return parsed{}, false
	}
	a, ok := point(pub)
	if !ok {
		return parsed{}, false
	}
	return parseWith(a, pub, msg, sig)
}

func parseWith(a *edwards25519.Point, pub, msg, sig []byte) (parsed, bool) {
	if len(sig) != SignatureSize {
		return parsed{}, false
	}
	r, ok := point(sig[:32])
	if !ok {
		return parsed{}, false
	}
	s, err := new(edwards25519.Scalar).SetCanonicalBytes(sig[32:])
	if err != nil {
		return parsed{}, false
	}
	return parsed{a: a, r: r, s: s, k: challenge(sig[:32], pub, msg)}, true
}

// Verify reports whether sig is pub's signature over msg under the
// package's acceptance rule. It never panics, whatever the lengths.
func Verify(pub, msg, sig []byte) bool {
	p, ok := parse(pub, msg, sig)
	return ok && p.holds()
}

// holds checks [8]([S]B - [k]A - R) = O.
func (p parsed) holds() bool {
	negA := new(edwards25519.Point).Negate(p.a)
	q := new(edwards25519.Point).VarTimeDoubleScalarBaseMult(p.k, negA, p.s)
	q.Subtract(q, p.r)
	return q.MultByCofactor(q).Equal(edwards25519.NewIdentityPoint()) == 1
}

// Batch collects signatures to verify together. The zero value is ready
// to use; a Batch is not safe for concurrent use.
type Batch struct {
	items []item
	keys  map[[32]byte]int // public key -> index in pubs
	pubs  []*edwards25519.Point
}

type item struct {
	pub, msg, sig []byte
	key           int // index in pubs, -1 if pub is not acceptable
}

// Len is the number of signatures added since the last Reset.
func (b *Batch) Len() int { return len(b.items) }

// Reset empties the batch, keeping its decoded keys.
func (b *Batch) Reset() { b.items = b.items[:0] }

// Add adds pub's signature sig over msg. The slices are kept, not
// copied, until Verify returns.
func (b *Batch) Add(pub, msg, sig []byte) {
	key := -1
	if len(pub) == PublicKeySize {
		var k [32]byte
		copy(k[:], pub)
		if i, ok := b.keys[k]; ok {
			key = i
		} else if a, ok := point(pub); ok {
			if b.keys == nil {
				b.keys = make(map[[32]byte]int)
			}
			key = len(b.pubs)
			b.keys[k] = key
			b.pubs = append(b.pubs, a)
		}
	}
	b.items = append(b.items, item{pub: pub, msg: msg, sig: sig, key: key})
}

// Verify checks every signature added since the last Reset. It reports
// whether all are accepted; if not, ok[i] says whether the i-th added
// signature is (each one then checked alone, exactly as Verify would).
// ok is nil when all are accepted.
func (b *Batch) Verify() (all bool, ok []bool) {
	if b.verifyAll() {
		return true, nil
	}
	ok = make([]bool, len(b.items))
	for i, it := range b.items {
		if it.key < 0 {
			continue
		}
		if p, good := parseWith(b.pubs[it.key], it.pub, it.msg, it.sig); good {
			ok[i] = p.holds()
		}
	}
	return false, ok
}

// verifyAll is the randomised batch equation; false if any signature's
// encodings break the rule or the equation does not hold.
func (b *Batch) verifyAll() bool {
	n := len(b.items)
	if n == 0 {
		return true
	}
	zs := make([]byte, 16*n)
	if _, err := rand.Read(zs); err != nil {
		return false // checked one at a time then
	}
	// Points: B, each R_i, each distinct A.
	scalars := make([]*edwards25519.Scalar, 0, 1+n+len(b.pubs))
	points := make([]*edwards25519.Point, 0, 1+n+len(b.pubs))
	sumS := edwards25519.NewScalar()
	aCoef := make([]*edwards25519.Scalar, len(b.pubs))
	scalars = append(scalars, sumS)
	points = append(points, edwards25519.NewGeneratorPoint())
	var zb [32]byte
	for i, it := range b.items {
		if it.key < 0 {
			return false
		}
		p, good := parseWith(b.pubs[it.key], it.pub, it.msg, it.sig)
		if !good {
			return false
		}
		copy(zb[:16], zs[16*i:16*i+16])
		z, _ := new(edwards25519.Scalar).SetCanonicalBytes(zb[:]) // < 2^128 < L
		sumS.MultiplyAdd(z, p.s, sumS)
		scalars = append(scalars, z)
		points = append(points, new(edwards25519.Point).Negate(p.r))
		zk := new(edwards25519.Scalar).Multiply(z, p.k)
		if c := aCoef[it.key]; c != nil {
			c.Add(c, zk)
		} else {
			aCoef[it.key] = zk
		}
	}
	for i, c := range aCoef {
		if c != nil {
			scalars = append(scalars, c)
			points = append(points, new(edwards25519.Point).Negate(b.pubs[i]))
		}
	}
	// [Σ z_i S_i]B - Σ [z_i]R_i - Σ [z_i k_i]A_i, times 8.
	q := new(edwards25519.Point).VarTimeMultiScalarMult(scalars, points)
	return q.MultByCofactor(q).Equal(edwards25519.NewIdentityPoint()) == 1
}
