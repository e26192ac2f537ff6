package syncpkt

import (
	"encoding/binary"
	"math"
	"slices"
)

// Encoding primitives. Every append function has a decoder method that
// accepts exactly what it produces: varints must be minimal, bools 0 or 1,
// and map keys strictly ascending, so each packet has one encoding only.

func appendUvarint(b []byte, x uint64) []byte { return binary.AppendUvarint(b, x) }

// appendVarint writes x zigzag-encoded, so small negative numbers stay short.
func appendVarint(b []byte, x int64) []byte { return binary.AppendVarint(b, x) }

func appendString(b []byte, s string) []byte {
	b = appendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b []byte, p []byte) []byte {
	b = appendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendFloat(b []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
}

// appendEpochs writes a map as a count and entries sorted by key, so equal
// maps give equal bytes.
func appendEpochs(b []byte, m map[string]uint64) []byte {
	b = appendUvarint(b, uint64(len(m)))
	if len(m) == 0 {
		return b
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b = appendString(b, k)
		b = appendUvarint(b, m[k])
	}
	return b
}

// uvarint decodes a minimal uvarint from the start of b. It returns the
// value and the number of bytes read; n == 0 means b ended first, n < 0 means
// the encoding is too long, overflows or is not minimal.
func uvarint(b []byte) (x uint64, n int) {
	var s uint
	for i, c := range b {
		if i == maxVarintLen {
			return 0, -1
		}
		if c < 0x80 {
			if i == maxVarintLen-1 && c > 1 {
				return 0, -1 // overflows 64 bits
			}
			if c == 0 && i > 0 {
				return 0, -1 // not minimal
			}
			return x | uint64(c)<<s, i + 1
		}
		x |= uint64(c&0x7f) << s
		s += 7
	}
	return 0, 0
}

// decoder reads the primitives from one frame payload. The first error
// sticks: later calls return zero values, and finish reports it, so decode
// functions read straight through and check once.
type decoder struct {
	b   []byte
	err error
	// lenient allows unread bytes at the end of the payload: they are fields
	// appended by a newer minor version.
	lenient bool
	// names, if not nil, interns replica IDs: a packet repeats a few of
	// them in every row, and sharing one string saves an allocation each.
	names map[string]string
	// whole, if not empty, is a string copy of the entire payload: text
	// fields are cut from it, so a row costs one string allocation, not
	// one per column.
	whole string
}

// textDecoder returns a decoder whose strings share one copy of payload.
func textDecoder(payload []byte, lenient bool, names map[string]string) decoder {
	return decoder{b: payload, lenient: lenient, names: names, whole: string(payload)}
}

// maxNames bounds the interned replica IDs, so a hostile packet cannot grow
// the table without limit.
const maxNames = 1024

// name reads a string that is usually a replica ID.
func (d *decoder) name() string {
	p := d.raw()
	if d.names == nil {
		return string(p)
	}
	if s, ok := d.names[string(p)]; ok {
		return s
	}
	s := string(p)
	if len(d.names) < maxNames {
		d.names[s] = s
	}
	return s
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

// finish reports the first error, or unread bytes a strict decoder refuses.
func (d *decoder) finish() error {
	if d.err == nil && len(d.b) > 0 && !d.lenient {
		d.err = errf("%d unread bytes at end of frame", len(d.b))
	}
	return d.err
}

func (d *decoder) u8() byte {
	if len(d.b) == 0 {
		d.fail(errString("frame ends inside a field"))
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	x, n := uvarint(d.b)
	if n <= 0 {
		if n == 0 {
			d.fail(errString("frame ends inside a varint"))
		} else {
			d.fail(errString("bad varint"))
		}
		return 0
	}
	d.b = d.b[n:]
	return x
}

func (d *decoder) varint() int64 {
	u := d.uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

func (d *decoder) boolean() bool {
	switch c := d.u8(); c {
	case 0:
		return false
	case 1:
		return true
	default:
		d.fail(errf("bool byte %d", c))
		return false
	}
}

func (d *decoder) float() float64 {
	p := d.fixed(8)
	if p == nil {
		return 0
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(p))
}

// fixed returns the next n bytes without copying them.
func (d *decoder) fixed(n int) []byte {
	if len(d.b) < n {
		d.fail(errString("frame ends inside a field"))
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

// raw returns a length-prefixed byte string without copying it.
func (d *decoder) raw() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail(errf("length %d exceeds the %d bytes left in frame", n, len(d.b)))
		return nil
	}
	return d.fixed(int(n))
}

func (d *decoder) str() string {
	p := d.raw()
	if d.whole == "" || len(p) == 0 {
		return string(p)
	}
	end := len(d.whole) - len(d.b)
	return d.whole[end-len(p) : end]
}

// bytes returns a copy of a length-prefixed byte string; never nil unless
// there was an error, so an empty blob stays distinct from SQL NULL.
func (d *decoder) blob() []byte {
	p := d.raw()
	if d.err != nil {
		return nil
	}
	return append([]byte{}, p...)
}

// count reads the number of items in a list whose items take at least
// minSize bytes each, and refuses a count the rest of the frame cannot hold,
// so a hostile count never makes the reader allocate more than the frame.
func (d *decoder) count(minSize int) int {
	n := d.uvarint()
	if d.err != nil {
		return 0
	}
	if n > uint64(len(d.b)/minSize) {
		d.fail(errf("count %d exceeds what the %d bytes left in frame can hold", n, len(d.b)))
		return 0
	}
	return int(n)
}

// epochs reads a map written by appendEpochs; nil when empty.
func (d *decoder) epochs() map[string]uint64 {
	n := d.count(2) // key length, value
	if n == 0 {
		return nil
	}
	m := make(map[string]uint64, n)
	var prev string
	for i := range n {
		k := d.str()
		v := d.uvarint()
		if d.err != nil {
			return nil
		}
		if i > 0 && k <= prev {
			d.fail(errf("map key %q not after %q", k, prev))
			return nil
		}
		m[k] = v
		prev = k
	}
	return m
}

// proof decodes a proof: bytes, nil when empty.
func (d *decoder) proof() []byte {
	if p := d.blob(); len(p) > 0 {
		return p
	}
	return nil
}
