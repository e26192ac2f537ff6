package syncpkt

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"time"
)

// ValueKind is the type of a [Value]: the five storage classes every SQL
// database can round-trip.
type ValueKind uint8

// Value kinds. The numbers are the kind byte on the wire.
const (
	ValueNull  ValueKind = 0
	ValueInt   ValueKind = 1
	ValueFloat ValueKind = 2
	ValueText  ValueKind = 3
	ValueBlob  ValueKind = 4
)

// String returns "null", "int", "float", "text", "blob", or "ValueKind(n)".
func (k ValueKind) String() string {
	switch k {
	case ValueNull:
		return "null"
	case ValueInt:
		return "int"
	case ValueFloat:
		return "float"
	case ValueText:
		return "text"
	case ValueBlob:
		return "blob"
	}
	return "ValueKind(" + strconv.Itoa(int(k)) + ")"
}

// Value is one SQL value. Only the field that matches Kind is meaningful; the
// zero Value is SQL NULL. Use the constructors ([Int], [Text], ...) or
// [ValueOf] rather than filling the struct by hand.
type Value struct {
	Kind  ValueKind
	Int   int64
	Float float64
	Text  string
	Blob  []byte
}

// Null returns SQL NULL.
func Null() Value { return Value{} }

// Int returns an integer value.
func Int(i int64) Value { return Value{Kind: ValueInt, Int: i} }

// Float returns a floating-point value.
func Float(f float64) Value { return Value{Kind: ValueFloat, Float: f} }

// Text returns a text value. Its bytes are carried as they are: checking
// them against the code page is the receiver's job, not the format's.
func Text(s string) Value { return Value{Kind: ValueText, Text: s} }

// Blob returns a binary value. A nil b is an empty blob, not NULL.
func Blob(b []byte) Value { return Value{Kind: ValueBlob, Blob: b} }

// ValueOf converts a Go value as database/sql scans it, or as a caller
// passes it as a query argument, to a Value:
//
//   - nil → NULL
//   - int, int8…int64, uint, uint8…uint64 → Int (a uint above MaxInt64 is an error)
//   - bool → Int 0 or 1
//   - float32, float64 → Float
//   - string → Text
//   - []byte → Blob (copied, so the caller may reuse its buffer)
//   - time.Time → Text in RFC 3339 with nanoseconds, in UTC, so the same
//     instant gives the same text at every site whatever its time zone
//   - Value → itself
//
// Any other type is an error.
func ValueOf(x any) (Value, error) {
	switch x := x.(type) {
	case nil:
		return Null(), nil
	case Value:
		return x, nil
	case int:
		return Int(int64(x)), nil
	case int8:
		return Int(int64(x)), nil
	case int16:
		return Int(int64(x)), nil
	case int32:
		return Int(int64(x)), nil
	case int64:
		return Int(x), nil
	case uint:
		return uintValue(uint64(x))
	case uint8:
		return Int(int64(x)), nil
	case uint16:
		return Int(int64(x)), nil
	case uint32:
		return Int(int64(x)), nil
	case uint64:
		return uintValue(x)
	case bool:
		if x {
			return Int(1), nil
		}
		return Int(0), nil
	case float32:
		return Float(float64(x)), nil
	case float64:
		return Float(x), nil
	case string:
		return Text(x), nil
	case []byte:
		return Blob(append([]byte{}, x...)), nil
	case time.Time:
		return Text(x.UTC().Format(time.RFC3339Nano)), nil
	}
	return Value{}, fmt.Errorf("syncpkt: cannot convert %T to a value", x)
}

func uintValue(u uint64) (Value, error) {
	if u > math.MaxInt64 {
		return Value{}, fmt.Errorf("syncpkt: integer %d overflows int64", u)
	}
	return Int(int64(u)), nil
}

// Any returns v as a Go value that database/sql accepts as a query argument:
// nil, int64, float64, string or []byte. A blob is never a nil slice, which
// drivers would store as NULL.
func (v Value) Any() any {
	switch v.Kind {
	case ValueInt:
		return v.Int
	case ValueFloat:
		return v.Float
	case ValueText:
		return v.Text
	case ValueBlob:
		if v.Blob == nil {
			return []byte{}
		}
		return v.Blob
	}
	return nil
}

// IsNull reports whether v is SQL NULL.
func (v Value) IsNull() bool { return v.Kind == ValueNull }

// Equal reports whether v and u are the same value of the same kind. Floats
// compare by bits, so NaN equals an identical NaN and 0 differs from -0, as
// they do on the wire; a nil blob equals an empty one.
func (v Value) Equal(u Value) bool {
	if v.Kind != u.Kind {
		return false
	}
	switch v.Kind {
	case ValueNull:
		return true
	case ValueInt:
		return v.Int == u.Int
	case ValueFloat:
		return math.Float64bits(v.Float) == math.Float64bits(u.Float)
	case ValueText:
		return v.Text == u.Text
	case ValueBlob:
		return bytes.Equal(v.Blob, u.Blob)
	}
	return true // same unknown kind: nothing else to compare
}

// maxBlobString is how many bytes of a blob String shows.
const maxBlobString = 32

// String returns a readable form of v for errors and logs: NULL, 42, 1.5,
// "text" (quoted in Go syntax) or x'0a0b' (long blobs cut after 32 bytes).
func (v Value) String() string {
	switch v.Kind {
	case ValueNull:
		return "NULL"
	case ValueInt:
		return strconv.FormatInt(v.Int, 10)
	case ValueFloat:
		return strconv.FormatFloat(v.Float, 'g', -1, 64)
	case ValueText:
		return strconv.Quote(v.Text)
	case ValueBlob:
		if len(v.Blob) > maxBlobString {
			return fmt.Sprintf("x'%s…' (%d bytes)", hex.EncodeToString(v.Blob[:maxBlobString]), len(v.Blob))
		}
		return "x'" + hex.EncodeToString(v.Blob) + "'"
	}
	return v.Kind.String()
}

// check reports a kind the format cannot carry.
func (v *Value) check() error {
	if v.Kind > ValueBlob {
		return errf("unknown value kind %d", uint8(v.Kind))
	}
	return nil
}

func appendValue(b []byte, v *Value) []byte {
	b = append(b, byte(v.Kind))
	switch v.Kind {
	case ValueInt:
		b = appendVarint(b, v.Int)
	case ValueFloat:
		b = appendFloat(b, v.Float)
	case ValueText:
		b = appendString(b, v.Text)
	case ValueBlob:
		b = appendBytes(b, v.Blob)
	}
	return b
}

// values reads a list of values; every value takes at least its kind byte.
func (d *decoder) values() []Value {
	n := d.count(1)
	if n == 0 {
		return nil
	}
	vs := make([]Value, n)
	for i := range vs {
		vs[i] = d.value()
	}
	if d.err != nil {
		return nil
	}
	return vs
}

func (d *decoder) value() Value {
	switch k := ValueKind(d.u8()); k {
	case ValueNull:
		return Value{}
	case ValueInt:
		return Value{Kind: k, Int: d.varint()}
	case ValueFloat:
		return Value{Kind: k, Float: d.float()}
	case ValueText:
		return Value{Kind: k, Text: d.str()}
	case ValueBlob:
		return Value{Kind: k, Blob: d.blob()}
	default:
		d.fail(errf("unknown value kind %d", uint8(k)))
		return Value{}
	}
}
