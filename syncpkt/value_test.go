package syncpkt_test

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/multisite-go/multisite/syncpkt"
)

func TestValueOf(t *testing.T) {
	tm := time.Date(2025, 11, 26, 7, 8, 9, 500, time.FixedZone("CET", 3600))
	tests := []struct {
		name string
		in   any
		want syncpkt.Value
	}{
		{"nil", nil, syncpkt.Null()},
		{"int", 42, syncpkt.Int(42)},
		{"int8", int8(-8), syncpkt.Int(-8)},
		{"int16", int16(-16), syncpkt.Int(-16)},
		{"int32", int32(-32), syncpkt.Int(-32)},
		{"int64", int64(math.MinInt64), syncpkt.Int(math.MinInt64)},
		{"uint", uint(7), syncpkt.Int(7)},
		{"uint8", uint8(255), syncpkt.Int(255)},
		{"uint16", uint16(65535), syncpkt.Int(65535)},
		{"uint32", uint32(math.MaxUint32), syncpkt.Int(math.MaxUint32)},
		{"uint64", uint64(math.MaxInt64), syncpkt.Int(math.MaxInt64)},
		{"true", true, syncpkt.Int(1)},
		{"false", false, syncpkt.Int(0)},
		{"float32", float32(0.5), syncpkt.Float(0.5)},
		{"float64", 2.25, syncpkt.Float(2.25)},
		{"string", "abc", syncpkt.Text("abc")},
		{"bytes", []byte{1, 2}, syncpkt.Blob([]byte{1, 2})},
		{"time in UTC", tm, syncpkt.Text("2025-11-26T06:08:09.0000005Z")},
		{"value", syncpkt.Text("v"), syncpkt.Text("v")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := syncpkt.ValueOf(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ValueOf(%v) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestValueOf_Errors(t *testing.T) {
	for _, in := range []any{uint64(math.MaxInt64 + 1), uint(math.MaxUint64), struct{}{}, []int{1}, new(int)} {
		if v, err := syncpkt.ValueOf(in); err == nil {
			t.Errorf("ValueOf(%#v) = %v, want error", in, v)
		}
	}
}

func TestValueOf_CopiesBytes(t *testing.T) {
	b := []byte{1, 2, 3}
	v, _ := syncpkt.ValueOf(b)
	b[0] = 9
	if v.Blob[0] != 1 {
		t.Error("ValueOf([]byte) shares the caller's buffer")
	}
}

func TestValue_Any(t *testing.T) {
	tests := []struct {
		v    syncpkt.Value
		want any
	}{
		{syncpkt.Null(), nil},
		{syncpkt.Int(-3), int64(-3)},
		{syncpkt.Float(1.5), 1.5},
		{syncpkt.Text("t"), "t"},
		{syncpkt.Blob([]byte{1}), []byte{1}},
		{syncpkt.Blob(nil), []byte{}},
		{syncpkt.Value{Kind: 99}, nil},
	}
	for _, tt := range tests {
		got := tt.v.Any()
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%v.Any() (-want +got):\n%s", tt.v, diff)
		}
		if b, ok := got.([]byte); ok && b == nil {
			t.Errorf("%v.Any() is a nil []byte, which drivers store as NULL", tt.v)
		}
	}
}

func TestValue_String(t *testing.T) {
	long := make([]byte, 40)
	tests := []struct {
		v    syncpkt.Value
		want string
	}{
		{syncpkt.Null(), "NULL"},
		{syncpkt.Int(-42), "-42"},
		{syncpkt.Float(0.1), "0.1"},
		{syncpkt.Float(math.Inf(-1)), "-Inf"},
		{syncpkt.Text(`say "hi"`), `"say \"hi\""`},
		{syncpkt.Blob([]byte{0x0a, 0xff}), "x'0aff'"},
		{syncpkt.Blob(long), "x'0000000000000000000000000000000000000000000000000000000000000000…' (40 bytes)"},
		{syncpkt.Value{Kind: 7}, "ValueKind(7)"},
	}
	for _, tt := range tests {
		if got := tt.v.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func TestValue_Equal(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		a, b syncpkt.Value
		want bool
	}{
		{syncpkt.Null(), syncpkt.Null(), true},
		{syncpkt.Null(), syncpkt.Int(0), false},
		{syncpkt.Int(0), syncpkt.Float(0), false},
		{syncpkt.Int(1), syncpkt.Int(1), true},
		{syncpkt.Int(1), syncpkt.Value{Kind: syncpkt.ValueInt, Int: 1, Text: "ignored"}, true},
		{syncpkt.Float(nan), syncpkt.Float(nan), true},
		{syncpkt.Float(0), syncpkt.Float(math.Copysign(0, -1)), false},
		{syncpkt.Text("a"), syncpkt.Text("b"), false},
		{syncpkt.Blob(nil), syncpkt.Blob([]byte{}), true},
		{syncpkt.Blob([]byte{1}), syncpkt.Blob([]byte{2}), false},
	}
	for _, tt := range tests {
		if got := tt.a.Equal(tt.b); got != tt.want {
			t.Errorf("%v.Equal(%v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestKind_String(t *testing.T) {
	for k, want := range map[syncpkt.Kind]string{syncpkt.KindSync: "sync", syncpkt.KindCreation: "creation", 0: "Kind(0)"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", k, got, want)
		}
	}
	for k, want := range map[syncpkt.ValueKind]string{syncpkt.ValueNull: "null", syncpkt.ValueInt: "int",
		syncpkt.ValueFloat: "float", syncpkt.ValueText: "text", syncpkt.ValueBlob: "blob", 5: "ValueKind(5)"} {
		if got := k.String(); got != want {
			t.Errorf("ValueKind(%d).String() = %q, want %q", k, got, want)
		}
	}
}
