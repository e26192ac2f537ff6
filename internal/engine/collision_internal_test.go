package engine

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestKeysiteName(t *testing.T) {
	tests := []struct {
		original, site, typ string
		attempt             int
		want                string
	}{
		{"qa", "bangalore", "TEXT", 1, "qa<bangalore>"},
		{"qa", "bangalore", "VARCHAR(64)", 2, "qa<bangalore>2"},
		{"quality", "bangalore", "VARCHAR(12)", 1, "q<bangalore>"},
		{"quality", "bangalore", "varchar (13)", 1, "qu<bangalore>"},
		{"quality", "bangalore", "CHAR(5)", 1, "lore>"},
		{"élan", "s", "VARCHAR(5)", 1, "él<s>"},
	}
	for _, tt := range tests {
		if got := keysiteName(tt.original, tt.site, tt.typ, tt.attempt); got != tt.want {
			t.Errorf("keysiteName(%q, %q, %q, %d) = %q, want %q", tt.original, tt.site, tt.typ, tt.attempt, got, tt.want)
		}
	}
}

func TestKeyJSONRoundTrip(t *testing.T) {
	for _, key := range [][]any{
		{int64(17)},
		{"CORE", int64(-3)},
		{1.5, []byte{0, 255}, nil, "x"},
		{int64(1) << 62},
	} {
		s, err := encodeKey(key)
		if err != nil {
			t.Fatalf("encodeKey(%v): %v", key, err)
		}
		got, err := decodeKey(s)
		if err != nil {
			t.Fatalf("decodeKey(%s): %v", s, err)
		}
		if diff := cmp.Diff(key, got); diff != "" {
			t.Errorf("round trip of %v through %s (-want +got):\n%s", key, s, diff)
		}
	}
	for _, bad := range []string{``, `{}`, `[1.5]`, `[{"x":"1"}]`, `[{"b":"!!"}]`, `[true]`} {
		if _, err := decodeKey(bad); err == nil {
			t.Errorf("decodeKey(%s) accepted", bad)
		}
	}
}
