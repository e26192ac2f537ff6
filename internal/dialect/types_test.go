package dialect

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestKindOf(t *testing.T) {
	tests := []struct {
		typ  string
		want Kind
	}{
		{"INTEGER", KindInt}, {"bigint", KindInt}, {"int(11)", KindInt}, {"bigint(20) unsigned", KindInt}, {"smallint", KindInt},
		{"BOOLEAN", KindBool}, {"boolean", KindBool}, {"tinyint(1)", KindBool}, {"tinyint(4)", KindInt},
		{"REAL", KindFloat}, {"double precision", KindFloat}, {"double", KindFloat}, {"float", KindFloat},
		{"DECIMAL(12,2)", KindDecimal}, {"numeric(10, 2)", KindDecimal}, {"NUMERIC", KindDecimal},
		{"TEXT", KindText}, {"character varying(20)", KindText}, {"VARCHAR(10)", KindText}, {"longtext", KindText}, {"char(4)", KindText},
		{"BLOB", KindBlob}, {"bytea", KindBlob}, {"longblob", KindBlob}, {"varbinary(16)", KindBlob},
		{"DATETIME", KindTimestamp}, {"datetime(6)", KindTimestamp}, {"timestamp without time zone", KindTimestamp}, {"TIMESTAMP(3)", KindTimestamp},
		{"timestamp with time zone", KindTimestampTZ}, {"TIMESTAMPTZ", KindTimestampTZ},
		{"DATE", KindDate}, {"time without time zone", KindTime}, {"time(6)", KindTime},
		{"interval", KindOther}, {"jsonb", KindOther}, {"", KindOther},
	}
	for _, tt := range tests {
		if got := KindOf(tt.typ); got != tt.want {
			t.Errorf("KindOf(%q) = %v, want %v", tt.typ, got, tt.want)
		}
	}
}

func TestCanonical_EqualAcrossVendors(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 500000000, time.UTC)
	tests := []struct {
		name string
		typ  string
		vals []any // what the vendors return for the same datum
		want any
	}{
		{"decimal", "DECIMAL(12,2)", []any{"1234.50", 1234.5, "1234.5", "+1234.500000000000000000000000000000"}, "1234.5"},
		{"decimal integral", "NUMERIC(10,2)", []any{int64(12), "12.00", 12.0}, "12"},
		{"negative decimal", "DECIMAL(12,2)", []any{"-0.01", -0.01}, "-0.01"},
		{"boolean", "BOOLEAN", []any{int64(1), true, 1.0, "t"}, int64(1)},
		{"timestamp", "DATETIME", []any{"2026-01-02 03:04:05.5", "2026-01-02T03:04:05.500Z", "2026-01-02 03:04:05.500000", ts}, "2026-01-02 03:04:05.5"},
		{"instant", "timestamp with time zone", []any{"2026-01-02 05:04:05.5+02:00", ts, "2026-01-02T03:04:05.5Z"}, "2026-01-02T03:04:05.5Z"},
		{"date", "DATE", []any{"2026-01-02", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)}, "2026-01-02"},
		{"float from integer", "REAL", []any{int64(3), 3.0}, 3.0},
		{"text bytes", "TEXT", []any{[]byte("abc"), "abc"}, "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, v := range tt.vals {
				if diff := cmp.Diff(tt.want, Canonical(tt.typ, v)); diff != "" {
					t.Errorf("Canonical(%q, %#v) (-want +got):\n%s", tt.typ, v, diff)
				}
			}
		})
	}
}

func TestCanonical_KeepsDifferentValuesApart(t *testing.T) {
	pairs := []struct {
		typ  string
		a, b any
	}{
		{"DECIMAL(12,2)", "10.5", "1.05"},
		{"DECIMAL(12,2)", "0", "-0.01"},
		{"DATETIME", "2026-01-02 03:04:05", "2026-01-02 03:04:05.000001"},
		{"TEXT", "Proj-A", "proj-a"},
	}
	for _, p := range pairs {
		if cmp.Equal(Canonical(p.typ, p.a), Canonical(p.typ, p.b)) {
			t.Errorf("Canonical(%q) makes %#v and %#v equal", p.typ, p.a, p.b)
		}
	}
}
