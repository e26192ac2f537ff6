package dialect

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrInexact is returned for a value a replica's column cannot hold
// exactly: stored, it would read back other than it travelled, and the
// replicas would differ.
var ErrInexact = errors.New("dialect: value cannot be stored exactly")

// InexactError names the column that cannot hold a value, the value, and
// why. It matches ErrInexact.
type InexactError struct {
	Dialect Name
	Table   string
	Column  string
	Type    string // the column's declared type on this replica
	Value   string
	Reason  string
}

func (e *InexactError) Error() string {
	return fmt.Sprintf("dialect: %s.%s (%s on %s) cannot hold %q exactly: %s", e.Table, e.Column, e.Type, e.Dialect, e.Value, e.Reason)
}

// Unwrap returns ErrInexact.
func (e *InexactError) Unwrap() error { return ErrInexact }

// Exact checks that the portable value v (as a packet carries it) can be
// stored exactly in column c, of this replica's catalog, of table on d:
// a decimal must fit the column's precision and scale (the servers would
// round it); a date, time or timestamp must be one the server reads, with no more
// fractional digits than the column keeps (PostgreSQL: its precision, 6
// by default; MySQL: its precision, 0 by default) and, on MySQL, a year
// from 1000 to 9999; a boolean must be 0 or 1. SQLite holds any value.
func Exact(d Dialect, table string, c Column, v any) error {
	if v == nil || d.Name() == SQLite {
		return nil
	}
	k := KindOf(c.Type)
	fail := func(reason string) error {
		return &InexactError{Dialect: d.Name(), Table: table, Column: c.Name, Type: c.Type, Value: fmt.Sprint(v), Reason: reason}
	}
	switch k {
	case KindBool:
		switch x := v.(type) {
		case int64:
			if x != 0 && x != 1 {
				return fail("a boolean is 0 or 1")
			}
		case float64:
			if x != 0 && x != 1 {
				return fail("a boolean is 0 or 1")
			}
		case string:
			if _, ok := parseBool(x); !ok {
				return fail("not a boolean")
			}
		}
	case KindDecimal:
		p, sc, ok := decimalParams(d.Name(), c.Type)
		if !ok {
			return nil
		}
		text, isText := canonicalDecimal(v).(string)
		if !isText {
			return fail("not a decimal number")
		}
		text = strings.TrimPrefix(text, "-")
		whole, frac, _ := strings.Cut(text, ".")
		if len(frac) > sc {
			return fail(fmt.Sprintf("it has %d digits after the point, the column keeps %d", len(frac), sc))
		}
		if whole != "0" && len(whole) > p-sc {
			return fail(fmt.Sprintf("it has %d digits before the point, the column holds %d", len(whole), p-sc))
		}
	case KindTimestamp, KindTimestampTZ, KindDate, KindTime:
		var text string
		switch x := v.(type) {
		case string:
			text = x
		case int64:
			u, ok := unixTime(k, x).(string)
			if !ok {
				return fail("an integer here is a Unix time, which is no value of this type")
			}
			text = u
		case time.Time:
			return nil
		default:
			return fail("not a date or time")
		}
		canon := canonicalTemporal(k, text)
		var t time.Time
		var err error
		switch k {
		case KindTime:
			t, err = time.Parse(timeLayout, canon)
		case KindDate:
			t, err = time.Parse(dateLayout, canon)
		case KindTimestampTZ:
			t, err = time.Parse(time.RFC3339Nano, canon)
		default:
			t, err = time.Parse(timestampLayout, canon)
		}
		if err != nil {
			return fail("not a date or time the server reads")
		}
		if k != KindDate {
			if digits, keep := fraction(canon), precision(d.Name(), c.Type); digits > keep {
				return fail(fmt.Sprintf("it has %d fractional digits of a second, the column keeps %d", digits, keep))
			}
		}
		if d.Name() == MySQL && k != KindTime && (t.Year() < 1000 || t.Year() > 9999) {
			return fail("MySQL dates run from year 1000 to 9999")
		}
	}
	return nil
}

// decimalParams returns the precision and scale of a decimal column of
// type typ on vendor n, and whether it has any: a PostgreSQL numeric
// without them holds any number; MySQL's default is DECIMAL(10,0).
func decimalParams(n Name, typ string) (p, s int, ok bool) {
	base, params := baseType(typ)
	if base == "MONEY" {
		return 0, 0, false
	}
	if params == "" {
		if n == MySQL {
			return 10, 0, true
		}
		return 0, 0, false
	}
	ps := strings.Split(strings.Trim(params, "()"), ",")
	p, err := strconv.Atoi(ps[0])
	if err != nil {
		return 0, 0, false
	}
	if len(ps) > 1 {
		if s, err = strconv.Atoi(ps[1]); err != nil {
			return 0, 0, false
		}
	}
	return p, s, true
}

// fraction counts the digits after the seconds of a canonical temporal
// text.
func fraction(s string) int {
	s = strings.TrimSuffix(s, "Z")
	i := strings.LastIndexByte(s, '.')
	if i < 0 || strings.ContainsAny(s[i:], ":-") {
		return 0
	}
	return len(s) - i - 1
}

// precision is how many fractional digits of a second a temporal column
// of type typ keeps on vendor n.
func precision(n Name, typ string) int {
	_, params := baseType(typ)
	if p, err := strconv.Atoi(strings.Trim(params, "()")); err == nil {
		return p
	}
	if n == MySQL {
		return 0
	}
	return 6
}
