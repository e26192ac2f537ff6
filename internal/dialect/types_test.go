package dialect

import (
	"errors"
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

func TestCanonical_DriverTimeForms(t *testing.T) {
	for _, tc := range []struct {
		typ  string
		in   any
		want any
	}{
		{"DATETIME", "1999-12-31 23:59:59 +0000 UTC", "1999-12-31 23:59:59"},                    // modernc, time.Time.String
		{"DATETIME", "2026-03-01 10:00:00.123456 +0100 CET", "2026-03-01 09:00:00.123456"},      // another zone: its instant in UTC
		{"DATETIME", "2026-03-01 10:00:00.5 +0000 UTC m=+0.001234567", "2026-03-01 10:00:00.5"}, // time.Now's monotonic reading
		{"DATETIME", "2026-03-01 10:00:00.25-07:00", "2026-03-01 17:00:00.25"},                  // mattn/go-sqlite3
		{"DATETIME", "2026-03-01 10:00:00", "2026-03-01 10:00:00"},                              // CURRENT_TIMESTAMP
		{"DATETIME", int64(946684799), "1999-12-31 23:59:59"},                                   // Unix seconds
		{"TIMESTAMPTZ", "1999-12-31 23:59:59 +0100 CET", "1999-12-31T22:59:59Z"},                // an instant
		{"DATE", "1999-12-31 00:00:00 +0000 UTC", "1999-12-31"},                                 // modernc, a date
		{"DATE", int64(86400), "1970-01-02"},                                                    // Unix midnight
		{"DATE", int64(86401), int64(86401)},                                                    // no date: left as it is
		{"DATETIME", "not a time", "not a time"},                                                // left as it is
	} {
		if got := Canonical(tc.typ, tc.in); got != tc.want {
			t.Errorf("Canonical(%q, %#v) = %#v, want %#v", tc.typ, tc.in, got, tc.want)
		}
		if v, err := (SQLiteDialect{}).Value(Column{Type: tc.typ}, tc.in); err != nil || v != tc.want {
			t.Errorf("SQLite Value(%q, %#v) = %#v, %v, want %#v", tc.typ, tc.in, v, err, tc.want)
		}
	}
}

func TestExact_RefusesWhatTheColumnCannotHold(t *testing.T) {
	for _, tc := range []struct {
		d    Dialect
		typ  string
		v    any
		fail bool
	}{
		{PostgresDialect{}, "timestamp without time zone", "2026-01-02 03:04:05.123456", false},
		{PostgresDialect{}, "timestamp without time zone", "2026-01-02 03:04:05.1234567", true},
		{PostgresDialect{}, "timestamp(3) without time zone", "2026-01-02 03:04:05.1234", true},
		{PostgresDialect{}, "timestamp with time zone", "2026-01-02T03:04:05.123456789Z", true},
		{PostgresDialect{}, "date", "2026-01-02", false},
		{PostgresDialect{}, "date", "yesterday", true},
		{PostgresDialect{}, "boolean", int64(2), true},
		{PostgresDialect{}, "boolean", int64(1), false},
		{MySQLDialect{}, "datetime", "2026-01-02 03:04:05.5", true},
		{MySQLDialect{}, "datetime(6)", "2026-01-02 03:04:05.5", false},
		{MySQLDialect{}, "datetime(6)", "0999-01-02 03:04:05", true},
		{MySQLDialect{}, "time(6)", "10:11:12.25", false},
		{SQLiteDialect{}, "DATETIME", "2026-01-02 03:04:05.123456789", false},
		{PostgresDialect{}, "numeric(10,2)", "12.345", true},
		{PostgresDialect{}, "numeric(10,2)", float64(12.5), false},
		{PostgresDialect{}, "numeric(4,2)", "123.4", true},
		{PostgresDialect{}, "numeric", "123456789.123456789", false},
		{MySQLDialect{}, "decimal(10,2)", "-0.01", false},
		{MySQLDialect{}, "decimal(10,2)", "0.001", true},
		{MySQLDialect{}, "decimal(65,30)", int64(7), false},
	} {
		err := Exact(tc.d, "t", Column{Name: "c", Type: tc.typ}, tc.v)
		var ie *InexactError
		if got := errors.As(err, &ie) && errors.Is(err, ErrInexact) && ie.Column == "c"; got != tc.fail || (!tc.fail && err != nil) {
			t.Errorf("%s: Exact(%q, %#v) = %v, want failure %v", tc.d.Name(), tc.typ, tc.v, err, tc.fail)
		}
	}
}

func BenchmarkKindOf(b *testing.B) {
	for i := 0; i < b.N; i++ {
		KindOf("character varying(20)")
	}
}
