package syncpkt

import (
	"crypto/sha256"
	"hash"
	"sort"
	"unsafe"
)

// Proof messages (version 3). A proof is the ed25519 signature, by the
// replica entitled to make a record, over the record's message below. The
// message binds the family and every field that carries authority, but not
// how the record was framed or by whom it was forwarded, so a proof made at
// the origin verifies at every replica the record reaches, through any
// number of hubs. Each message starts with its own domain string, so a
// proof of one kind is never a proof of another.
const (
	rowProofDomain      = "multisite row proof v3\x00"
	transferProofDomain = "multisite transfer proof v3\x00"
	replicaProofDomain  = "multisite replica proof v3\x00"
	settingProofDomain  = "multisite setting proof v3\x00"
	sealedProofDomain   = "multisite sealed proof v3\x00"
)

// RowMessage is what a row image's Origin signs: the domain string
// followed by the SHA-256 digest of the row's encoding, which is the
// family, the table name, the row's Version, Master, Origin, Creator,
// Epoch and Deleted, then the (column name, value) pairs of its non-null
// values in ascending byte order of column name. Hashing first keeps the
// message 56 bytes long whatever the row's size (a proof is made and
// checked without a second copy of a large row). Naming the columns makes
// the proof independent of column order, so replicas whose catalogs order
// columns differently forward the same proof; leaving nulls out keeps it
// valid at a replica that has since added a nullable column. cols are the
// columns of the row's Table, in the order of r.Values; a row with another
// number of values than cols gives nil, which verifies against no
// signature.
func RowMessage(family, table string, cols []Column, r *Row) []byte {
	if len(cols) != len(r.Values) {
		return nil
	}
	h := sha256.New()
	b := make([]byte, 0, 256)
	b = appendString(b, family)
	b = appendString(b, table)
	b = appendUvarint(b, r.Version)
	b = appendString(b, r.Master)
	b = appendString(b, r.Origin)
	b = appendString(b, r.Creator)
	b = appendUvarint(b, r.Epoch)
	b = appendBool(b, r.Deleted)
	order := make([]int, 0, len(cols))
	for i := range cols {
		if !r.Values[i].IsNull() {
			order = append(order, i)
		}
	}
	sort.Slice(order, func(a, c int) bool { return cols[order[a]].Name < cols[order[c]].Name })
	b = appendUvarint(b, uint64(len(order)))
	for _, i := range order {
		b = appendString(b, cols[i].Name)
		v := &r.Values[i]
		switch v.Kind {
		case ValueText, ValueBlob:
			// Large values go to the hash as they are, not copied.
			b = append(b, byte(v.Kind))
			if v.Kind == ValueText {
				b = appendUvarint(b, uint64(len(v.Text)))
				h.Write(b)
				writeString(h, v.Text)
			} else {
				b = appendUvarint(b, uint64(len(v.Blob)))
				h.Write(b)
				h.Write(v.Blob)
			}
			b = b[:0]
		default:
			b = appendValue(b, v)
		}
	}
	h.Write(b)
	return h.Sum(append(make([]byte, 0, len(rowProofDomain)+sha256.Size), rowProofDomain...))
}

// writeString writes s to h without copying it: an io.Writer may neither
// modify nor retain what it is given, so the string's bytes are safe to
// lend (converting a large string would copy it whole).
func writeString(h hash.Hash, s string) {
	if len(s) > 0 {
		h.Write(unsafe.Slice(unsafe.StringData(s), len(s)))
	}
}

// TransferMessage is what a transfer's From signs: the family and every
// field of the transfer but its proof.
func TransferMessage(family string, x *Transfer) []byte {
	b := make([]byte, 0, 96)
	b = append(b, transferProofDomain...)
	b = appendString(b, family)
	b = appendString(b, x.Table)
	b = appendValues(b, x.Key)
	b = appendUvarint(b, x.Version)
	b = appendString(b, x.From)
	b = appendString(b, x.To)
	return appendUvarint(b, x.Epoch)
}

// ReplicaMessage is what a registry entry's Signer signs: the family and
// every field of the entry but its proof, the signer included.
func ReplicaMessage(family string, r *Replica) []byte {
	b := make([]byte, 0, 160)
	b = append(b, replicaProofDomain...)
	b = appendString(b, family)
	b = appendString(b, r.ID)
	b = appendString(b, r.Name)
	b = appendVarint(b, r.Number)
	b = appendBytes(b, r.PublicKey)
	b = appendString(b, r.State)
	b = appendUvarint(b, r.Version)
	b = appendBytes(b, r.KeySig)
	b = appendUvarint(b, r.Incarnation)
	return appendString(b, r.Signer)
}

// SettingMessage is what a setting's Signer signs: the family, the key,
// the value and the signer.
func SettingMessage(family string, s *Setting) []byte {
	b := make([]byte, 0, 64+len(s.Value))
	b = append(b, settingProofDomain...)
	b = appendString(b, family)
	b = appendString(b, s.Key)
	b = appendString(b, s.Value)
	return appendString(b, s.Signer)
}

// SealedMessage is what a [Sealed] statement's Replica signs: the family,
// the replica and the epoch.
func SealedMessage(family string, s *Sealed) []byte {
	b := make([]byte, 0, 64)
	b = append(b, sealedProofDomain...)
	b = appendString(b, family)
	b = appendString(b, s.Replica)
	return appendUvarint(b, s.Epoch)
}
