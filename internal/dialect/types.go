package dialect

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Kind is the portable class of a declared column type. Packets carry a
// table's declared types as the catalog of the replica that activated the
// family reports them ("INTEGER", "character varying(20)", "datetime(6)"),
// so every dialect classifies every vendor's names the same way, and maps a
// kind to its own DDL when it creates a replica from a packet.
type Kind int

// The kinds. KindOther is a type the library does not know (JSON, UUID, an
// enum); its values travel as the driver returns them, text where possible.
const (
	KindOther Kind = iota
	KindInt
	KindBool
	KindFloat
	KindDecimal
	KindText
	KindBlob
	KindTimestamp   // date and time without a time zone
	KindTimestampTZ // an instant: date and time with a time zone
	KindDate
	KindTime
)

var typeParams = regexp.MustCompile(`\(([0-9 ,]+)\)`)

// baseType returns the upper-case declared type without its parameters,
// and the parameters with their parentheses ("(10,2)"), or "".
func baseType(typ string) (base, params string) {
	u := strings.ToUpper(strings.TrimSpace(typ))
	if m := typeParams.FindStringIndex(u); m != nil {
		params = strings.ReplaceAll(u[m[0]:m[1]], " ", "")
		u = u[:m[0]] + u[m[1]:]
	}
	return strings.Join(strings.Fields(u), " "), params
}

// KindOf classifies a declared type of any supported vendor. The rules
// follow SQLite's type affinity (a name containing INT is an integer, CHAR,
// CLOB or TEXT is text, and so on) with the temporal, boolean and decimal
// names of PostgreSQL and MySQL recognised first. MySQL's TINYINT(1) is its
// BOOLEAN.
//
// Results are remembered per type name (a few thousand at most): export
// and import classify every value's column, and parsing the name each
// time cost more than the rest of the conversion.
func KindOf(typ string) Kind {
	if k, ok := kindCache.Load(typ); ok {
		return k.(Kind)
	}
	k := classify(typ)
	if kindCached.Add(1) <= maxKindCache {
		kindCache.Store(typ, k)
	}
	return k
}

var (
	kindCache  sync.Map // declared type → Kind
	kindCached atomic.Int64
)

// maxKindCache bounds the remembered type names: packets may name types
// without end.
const maxKindCache = 4096

// classify is KindOf without the memory.
func classify(typ string) Kind {
	base, params := baseType(typ)
	switch {
	case base == "":
		return KindOther
	case strings.HasPrefix(base, "TINYINT") && params == "(1)":
		return KindBool
	case strings.Contains(base, "BOOL"):
		return KindBool
	case strings.Contains(base, "INTERVAL"), base == "POINT", strings.HasPrefix(base, "ENUM"), strings.HasPrefix(base, "SET"):
		return KindOther
	case strings.HasPrefix(base, "TIMESTAMPTZ"), strings.HasPrefix(base, "TIMESTAMP") && strings.Contains(base, "WITH TIME ZONE") && !strings.Contains(base, "WITHOUT"):
		return KindTimestampTZ
	case strings.HasPrefix(base, "DATETIME"), strings.HasPrefix(base, "TIMESTAMP"), base == "SMALLDATETIME":
		return KindTimestamp
	case base == "DATE":
		return KindDate
	case strings.HasPrefix(base, "TIME"):
		return KindTime
	case strings.Contains(base, "INT"), strings.Contains(base, "SERIAL"), base == "YEAR":
		return KindInt
	case strings.Contains(base, "BINARY"), strings.Contains(base, "BLOB"), base == "BYTEA":
		return KindBlob
	case strings.Contains(base, "CHAR"), strings.Contains(base, "CLOB"), strings.Contains(base, "TEXT"), base == "STRING":
		return KindText
	case strings.Contains(base, "REAL"), strings.Contains(base, "FLOA"), strings.Contains(base, "DOUB"):
		return KindFloat
	case strings.HasPrefix(base, "DEC"), strings.HasPrefix(base, "NUMERIC"), base == "NUMBER", base == "MONEY":
		return KindDecimal
	}
	return KindOther
}

// Temporal text forms. Values of temporal columns travel as text in one
// canonical form, whatever the vendor's own: a date and time without zone
// is "2006-01-02 15:04:05" with the fraction of a second only if it is not
// zero and without trailing zeros ("…05.5"); an instant is RFC 3339 in UTC
// ("2006-01-02T15:04:05.5Z", as syncpkt.ValueOf writes a time.Time); a date
// is "2006-01-02"; a time of day "15:04:05[.fraction]". These are the forms
// SQLite's own date functions write, and both servers read them.
const (
	timestampLayout = "2006-01-02 15:04:05.999999999"
	dateLayout      = "2006-01-02"
	timeLayout      = "15:04:05.999999999"
)

// timestampInputs are the date-and-time texts the vendors and the common
// Go drivers write, and whether each names a zone: Go's time.Time.String
// (modernc.org/sqlite's default for a time.Time argument), RFC 3339 and
// its space-separated form (mattn/go-sqlite3, the servers' zoned output),
// and SQLite's CURRENT_TIMESTAMP.
var timestampInputs = []struct {
	layout string
	zoned  bool
}{
	{"2006-01-02 15:04:05.999999999 -0700 MST", true},
	{"2006-01-02 15:04:05.999999999 -0700", true},
	{"2006-01-02 15:04:05.999999999Z07:00", true},
	{"2006-01-02T15:04:05.999999999Z07:00", true},
	{"2006-01-02 15:04:05.999999999Z0700", true},
	{"2006-01-02 15:04:05.999999999-07", true},
	{"2006-01-02 15:04:05.999999999", false},
	{"2006-01-02T15:04:05.999999999", false},
	{"2006-01-02 15:04", false},
	{"2006-01-02T15:04", false},
	{"2006-01-02", false},
}

// monotonic is the monotonic clock reading time.Time.String appends to a
// time from time.Now ("… +0100 CET m=+0.001234567").
var monotonic = regexp.MustCompile(` m=[+-][0-9.]+$`)

// parseTimestamp reads the date-and-time texts the three vendors and the
// common Go drivers write (see timestampInputs). zoned reports whether
// the text named a zone.
func parseTimestamp(s string) (t time.Time, zoned bool, ok bool) {
	s = monotonic.ReplaceAllString(strings.TrimSpace(s), "")
	for _, in := range timestampInputs {
		if t, err := time.Parse(in.layout, s); err == nil {
			return t, in.zoned, true
		}
	}
	return time.Time{}, false, false
}

// unixTime is the canonical text of a Unix time (seconds) in a column of
// temporal kind k, or v unchanged where that is no value of k (a time of
// day, a date that is not midnight UTC).
func unixTime(k Kind, v int64) any {
	t := time.Unix(v, 0).UTC()
	switch k {
	case KindTimestamp, KindTimestampTZ:
		return timeText(k, t)
	case KindDate:
		if v%86400 == 0 {
			return timeText(k, t)
		}
	}
	return v
}

// timeText formats a time.Time (as a driver returns it) for a column of
// kind k in the canonical text form.
func timeText(k Kind, t time.Time) string {
	switch k {
	case KindDate:
		return t.Format(dateLayout)
	case KindTime:
		return t.Format(timeLayout)
	case KindTimestampTZ:
		return t.UTC().Format(time.RFC3339Nano)
	}
	return t.Format(timestampLayout) // wall clock: the column has no zone
}

// canonicalTemporal rewrites a temporal text in the canonical form, or
// returns it unchanged if it cannot be read.
func canonicalTemporal(k Kind, s string) string {
	switch k {
	case KindTime:
		for _, l := range []string{timeLayout, "15:04"} {
			if t, err := time.Parse(l, strings.TrimSpace(s)); err == nil {
				return t.Format(timeLayout)
			}
		}
		return s
	case KindDate, KindTimestamp, KindTimestampTZ:
		t, zoned, ok := parseTimestamp(s)
		if !ok {
			return s
		}
		if k == KindTimestampTZ && !zoned {
			return t.Format(time.RFC3339Nano) // read as UTC
		}
		if k == KindTimestamp && zoned {
			t = t.UTC() // a zoned text in a column without zone: its instant, in UTC
		}
		if k == KindDate && (t.Hour() != 0 || t.Minute() != 0 || t.Second() != 0 || t.Nanosecond() != 0) {
			return s
		}
		return timeText(k, t)
	}
	return s
}

// canonicalDecimal writes a decimal number without exponent, leading '+',
// trailing zeros after the point, or a point with nothing after it, so
// "12.50", 12.5 and "+12.5" read the same. Text that is no number is
// returned unchanged.
func canonicalDecimal(v any) any {
	var s string
	switch x := v.(type) {
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return x
		}
		s = strconv.FormatFloat(x, 'f', -1, 64)
	case string:
		s = strings.TrimSpace(x)
	case []byte:
		s = strings.TrimSpace(string(x))
	default:
		return v
	}
	if _, err := strconv.ParseFloat(s, 64); err != nil || strings.ContainsAny(s, "eEnNiIxX") {
		return v
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimLeft(s, "+-")
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	s = strings.TrimLeft(s, "0")
	if s == "" || strings.HasPrefix(s, ".") {
		s = "0" + s
	}
	if neg && strings.Trim(s, "0.") != "" {
		s = "-" + s
	}
	return s
}

// Canonical returns the form of a portable value (as [Dialect.Value]
// returns it) that compares equal across vendors for a column of type typ:
// booleans and integers as int64, floats as float64, decimals as canonical
// decimal text, temporal values in the canonical text form above, text as
// string. Content hashes use it, so a replica on PostgreSQL and one on
// SQLite holding the same data agree although SQLite stores DECIMAL(10,2)
// 12.50 as the REAL 12.5 and PostgreSQL returns the text "12.50".
func Canonical(typ string, v any) any {
	if v == nil {
		return nil
	}
	k := KindOf(typ)
	switch k {
	case KindBool:
		switch x := v.(type) {
		case bool:
			return boolInt(x)
		case float64:
			return boolInt(x != 0)
		case string:
			if b, ok := parseBool(x); ok {
				return boolInt(b)
			}
		}
	case KindInt:
		if f, ok := v.(float64); ok && f == math.Trunc(f) && math.Abs(f) < 1<<63 {
			return int64(f)
		}
	case KindFloat:
		if i, ok := v.(int64); ok {
			return float64(i)
		}
	case KindDecimal:
		return canonicalDecimal(v)
	case KindTimestamp, KindTimestampTZ, KindDate, KindTime:
		switch x := v.(type) {
		case time.Time:
			return timeText(k, x)
		case string:
			return canonicalTemporal(k, x)
		case int64:
			return unixTime(k, x)
		}
	case KindText:
		if b, ok := v.([]byte); ok {
			return string(b)
		}
	}
	return v
}

// isTemporal reports whether k is a date, time or timestamp kind.
func isTemporal(k Kind) bool {
	return k == KindTimestamp || k == KindTimestampTZ || k == KindDate || k == KindTime
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "t", "true", "y", "yes", "on":
		return true, true
	case "0", "f", "false", "n", "no", "off":
		return false, true
	}
	return false, false
}

// portable turns what a server driver scanned into the portable form of a
// column of kind k: nil, int64, float64, string or []byte. Booleans become
// 0 or 1; temporal values canonical text; decimals the server's own text
// ("12.50"), which is exact.
func portable(k Kind, v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case bool:
		return boolInt(x), nil
	case int64:
		if isTemporal(k) {
			return unixTime(k, x), nil
		}
		return x, nil
	case float64:
		return x, nil
	case int32:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case int:
		return int64(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return strconv.FormatUint(x, 10), nil
		}
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case float32:
		return float64(x), nil
	case time.Time:
		return timeText(k, x), nil
	case string:
		switch k {
		case KindTimestamp, KindTimestampTZ, KindDate, KindTime:
			return canonicalTemporal(k, x), nil
		case KindBlob:
			return []byte(x), nil
		}
		return x, nil
	case []byte:
		b := append([]byte{}, x...)
		switch k {
		case KindBlob:
			return b, nil
		case KindInt, KindBool:
			if i, err := strconv.ParseInt(string(b), 10, 64); err == nil {
				return i, nil
			}
		case KindFloat:
			if f, err := strconv.ParseFloat(string(b), 64); err == nil {
				return f, nil
			}
		case KindTimestamp, KindTimestampTZ, KindDate, KindTime:
			return canonicalTemporal(k, string(b)), nil
		}
		return string(b), nil
	}
	return v, nil
}
