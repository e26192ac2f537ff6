package multisite_test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/multisite-go/multisite/replica"
	"github.com/stretchr/testify/require"
)

// The differential test (issue 19, item 5): random tables of portable
// types, random values with their edge cases, random inserts, updates,
// deletes and mastership transfers at random sites of a family, all-to-all
// synchronization until quiet, then the canonical dump of every replica
// compared with go-cmp, with every other replica and with the test's own
// model of what was written. TestDifferential_Vendors runs a family of one
// SQLite, one PostgreSQL and one MariaDB replica once with each vendor as
// the origin (the replica activated first, which creates the others);
// TestDifferential_SQLite runs three SQLite replicas and needs no server.
//
// Seeds are fixed (one per family, derived from the test's name), so a run
// is reproducible, except that replica IDs are random, so which creator
// wins a same-key collision may change from run to run; MULTISITE_DIFF_SEED=N runs seed N instead, and
// MULTISITE_LONG=1 runs more seeds, more rounds and more operations. Every
// failure logs the seed and the command that repeats it.
//
// # Canonical forms
//
// The dump is the test's own reading of each replica, independent of the
// library's canonical values: it selects the generated columns and
// ms_master by name and turns each driver value into a string by the
// column's generated kind, so two replicas are "identical" when these
// strings are. The forms, and what they deliberately ignore:
//
//   - NULL is "NULL", distinct from every value (an empty string is
//     `text ""`, an empty blob `blob x''`).
//   - integer, bigint: "int " and the decimal digits of the int64.
//   - real/double: "float " and strconv.FormatFloat(f, 'g', -1, 64), so
//     bit-exact for finite values: -0 is "-0", 0 is "0".
//   - boolean: "bool true" / "bool false" (SQLite and MariaDB hold 1/0).
//   - decimal/numeric: "dec " and the exact value with no exponent, no
//     trailing zeros and no "-0": DECIMAL(10,2) 12.50 is "dec 12.5". The
//     scale is not compared, because SQLite keeps no scale (NUMERIC
//     affinity stores 12.50 as the REAL 12.5); a value a driver returns as
//     a binary float (SQLite's REAL) reads as the shortest decimal that
//     rounds to it, exact for up to 15 significant digits.
//   - date: "date 2006-01-02".
//   - timestamp (without time zone): "ts 2006-01-02 15:04:05.000000",
//     always six fractional digits (the common precision: PostgreSQL's
//     TIMESTAMP and MariaDB's DATETIME(6) keep microseconds). Text in
//     SQLite is read in any of the layouts the vendors and Go drivers
//     write; a text naming a zone is converted to UTC.
//   - text: "text " and strconv.QuoteToASCII, so every code point shows:
//     trailing spaces, NUL, combining marks (e\u0301 stays two code points
//     and is not equal to é: no normalization), emoji.
//   - blob: "blob x'…'" in lower-case hexadecimal.
//   - ms_master: the replica ID as text (mastership must converge too).
//
// Rows are sorted by the bytes of their key's canonical form.
//
// # Value policy per type
//
//   - NUL in text only where every replica of the family can hold it:
//     PostgreSQL's text cannot (it refuses "\x00"), so families with a
//     PostgreSQL replica never get one; SQLite and MariaDB keep it.
//   - integer columns (INTEGER, 4 bytes on the servers) get values in the
//     int32 range, bigint columns the whole int64 range.
//   - floats are finite: MariaDB has no NaN or infinity.
//   - timestamps have microsecond precision (nanoTimestamps aside);
//     dates and timestamps lie in years 1–9999.
//
// # Classes switched off
//
// diffClasses names the edge-case classes the generator can produce. Those
// that fail today because of known bugs are off by default, each with the
// bug it waits for; MULTISITE_DIFF_CLASSES=name,name (or "all") turns them
// on for a run, which is the acceptance check once the fixes are merged.
// MULTISITE_DIFF_ODD_NAME=NAME makes oddIdentifiers use NAME alone.

// diffClass is a class of generated edge cases that can be switched on.
type diffClass struct {
	name string
	on   bool
	why  string // why it is off, when it is
}

// diffClasses are the switchable classes. Those off fail today; the
// comment of each says how (measured with the default seeds,
// MULTISITE_DIFF_CLASSES=name). padSpaceKeys, goTimeValues and
// oddIdentifiers failed as their comments say until the fixes for issue
// 19 items 1–3 and pass now; conflictRecords waits for item 4; the others
// are divergences of their own (see each).
var diffClasses = []*diffClass{
	// Two text keys that differ only by trailing spaces ('k7' and
	// 'k7  '). MariaDB's utf8mb4_bin is PAD SPACE: a twin written at
	// MariaDB is refused ("Error 1062 Duplicate entry 'k15 ' for key
	// 'PRIMARY'"); one written elsewhere is merged, MariaDB holding one row
	// where SQLite and PostgreSQL hold two (sync reports quiet).
	{name: "padSpaceKeys", on: true},
	// Timestamps and dates written as Go time.Time values at SQLite
	// replicas: modernc stores '1909-12-31 00:00:00 +0000 UTC'; creating a
	// PostgreSQL replica fails ("invalid input syntax for type date"),
	// MariaDB refuses every packet ("Error 1292 Incorrect datetime value").
	{name: "goTimeValues", on: true},
	// Table and column names with characters the vendors allow (oddNames).
	// Fail today: q?mark (PostgreSQL: relation "q$1mark" / "ms_row_q$1mark"
	// does not exist), x$ms$y (trigger syntax error on PostgreSQL), trail\
	// (MariaDB trigger syntax error), 56 characters and one more
	// (PostgreSQL: ms_row_… truncated to 63 bytes "already exists";
	// MariaDB: "Incorrect table name 'ms_xfer_…'"). Pass: back\slash,
	// it's, dq"uote, sp ace, Ünïcødé_表.
	{name: "oddIdentifiers", on: true},
	// The same text key created at two or three sites between
	// synchronizations: the tables converge (the model leaves those keys
	// out, the replicas are compared with each other).
	{name: "keyCollisions", on: true},
	// With keyCollisions: ms_conflict (table, key, creator, winner,
	// version) compared across replicas. Fails: the losing record is in
	// ms_conflict only at the replica that made it (after round 1 MariaDB
	// holds (t0, "k14", creator 4b75…, winner 09f5…) and one more, SQLite
	// nothing), while ContentHash agrees.
	{name: "conflictRecords", why: "the loser of a same-key creation is kept only where it was made (issue 19 item 4)"},
	// Decimals with more significant digits than a double holds, up to
	// DECIMAL(38,10). SQLite's NUMERIC affinity stores them as REAL:
	// written at PostgreSQL, DECIMAL(18,6) 999999999999.999999 is
	// 1000000000000 on the SQLite replica (957571214176.340971 is
	// 957571214176.341) while MariaDB keeps it exactly; a rounded value
	// beyond the declared precision (9999…9.9999999999 of DECIMAL(38,10)
	// becomes 1e28) then makes PostgreSQL refuse the creation packet or
	// every packet ("numeric field overflow"). Silent otherwise: sync is
	// quiet (ContentHash differs).
	{name: "wideDecimals", why: "SQLite rounds decimals beyond 15 significant digits; PostgreSQL then overflows"},
	// Whole-int64 values written at a SQLite replica into an INTEGER
	// column of a server origin (4 bytes there, 8 in SQLite, which accepts
	// them): every packet from SQLite is then refused, PostgreSQL with
	// "unable to encode -9007199254740993 into binary format for int4",
	// MariaDB with "Error 1264 Out of range value for column"; sync never
	// goes quiet. A SQLite origin's INTEGER becomes 8 bytes on the servers.
	{name: "int64InInteger", why: "SQLite replicas accept values the servers' INTEGER cannot hold; their packets are refused"},
	// Float columns declared 4 bytes at the origin (PostgreSQL REAL,
	// MariaDB FLOAT; SQLite's FLOAT is 8 bytes). The replicas get 8-byte
	// columns, so: PostgreSQL origin: 382614.031250001 written at MariaDB
	// stays so there and on SQLite, PostgreSQL holds 382614.03125.
	// MariaDB origin: 1206863.25 written there reaches the others as
	// 1206860 (MariaDB's text protocol prints a FLOAT with 6 digits) and
	// ContentHash agrees everywhere: a silent divergence.
	{name: "singleFloat", why: "4-byte float columns diverge; from MariaDB silently (ContentHash equal)"},
	// Timestamps with nanoseconds written at SQLite replicas: SQLite
	// keeps '1917-12-31 23:59:59.999999769', PostgreSQL rounds to
	// '1918-01-01 00:00:00', MariaDB truncates to '1917-12-31
	// 23:59:59.999999': three replicas, three values, sync quiet.
	{name: "nanoTimestamps", why: "sub-microsecond timestamps: SQLite keeps, PostgreSQL rounds, MariaDB truncates"},
	// Negative zero in float columns. SQLite stores -0.0 as 0 and
	// MariaDB reads it back as 0; PostgreSQL keeps -0, so a -0 written at
	// PostgreSQL is 0 on the other replicas (ContentHash differs).
	{name: "negativeZero", why: "-0 kept by PostgreSQL only"},
	// Text keys that differ from another only in case, in precomposed
	// and decomposed accents (\u00e9 and e\u0301), or in ß and ss.
	{name: "lookAlikeKeys", on: true},
	// Timestamps written at SQLite replicas as ISO 8601 text with a T
	// (and a Z).
	{name: "isoTimestampText", on: true},
	// Dates and timestamps in years 1, 99 and 999 (in families without
	// a MariaDB replica, which refuses them by design).
	{name: "earlyYears", on: true},
	// C0 and C1 control characters and DEL in text.
	{name: "controlChars", on: true},
	// Unicode noncharacters and the BOM in text.
	{name: "nonCharacters", on: true},
	// Text keys of 12 to 60 characters, two bytes each.
	{name: "longTextKeys", on: true},
	// A text key created again, by the site that deleted it, after the
	// deletion reached every replica.
	{name: "reuseDeletedKeys", on: true},
	// Text keys with leading and trailing whitespace other than pairs
	// (' k', 'k ', '\tk').
	{name: "spaceKeys", on: true},
	// Text with NUL, where the family has no PostgreSQL replica.
	{name: "nulText", on: true},
	// Key columns holding the extreme int64 values, rows made before
	// activation.
	{name: "extremeIntKeys", on: true},
}

// logDiffClasses logs the classes switched off, and why.
func logDiffClasses(t *testing.T) {
	for _, c := range diffClasses {
		if !diffOn(c.name) {
			t.Logf("class %s off: %s", c.name, c.why)
		}
	}
}

func diffOn(name string) bool {
	env := os.Getenv("MULTISITE_DIFF_CLASSES")
	for _, c := range diffClasses {
		if c.name != name {
			continue
		}
		if env == "all" {
			return true
		}
		for _, n := range strings.Split(env, ",") {
			if strings.TrimSpace(n) == name {
				return true
			}
		}
		return c.on
	}
	panic("unknown class " + name)
}

// dkind is the portable type of a generated column.
type dkind int

const (
	dkInt dkind = iota
	dkBigint
	dkText
	dkReal
	dkBool
	dkDecimal
	dkDate
	dkTimestamp
	dkBlob
	dkCount
)

var dkindNames = [...]string{"int", "bigint", "text", "real", "bool", "decimal", "date", "timestamp", "blob"}

type dcol struct {
	name         string
	kind         dkind
	prec, scale  int // decimals
	notNull, key bool
	single       bool // a 4-byte float on the servers (singleFloat)
}

// ddl returns the column's type in the words of dialect v.
func (c dcol) ddl(v dialect.Name) string {
	switch c.kind {
	case dkInt:
		if c.key {
			return "BIGINT" // not SQLite's rowid alias
		}
		if v == dialect.MySQL {
			return "INT"
		}
		return "INTEGER"
	case dkBigint:
		if c.key && v == dialect.SQLite {
			return "INTEGER" // the rowid alias; dkInt keys are BIGINT
		}
		return "BIGINT"
	case dkText:
		if c.key && v != dialect.SQLite {
			return "VARCHAR(64)"
		}
		return "TEXT"
	case dkReal:
		if c.single {
			return map[dialect.Name]string{dialect.SQLite: "FLOAT", dialect.Postgres: "REAL", dialect.MySQL: "FLOAT"}[v]
		}
		return map[dialect.Name]string{dialect.SQLite: "REAL", dialect.Postgres: "DOUBLE PRECISION", dialect.MySQL: "DOUBLE"}[v]
	case dkBool:
		return "BOOLEAN"
	case dkDecimal:
		return fmt.Sprintf("DECIMAL(%d,%d)", c.prec, c.scale)
	case dkDate:
		return "DATE"
	case dkTimestamp:
		return map[dialect.Name]string{dialect.SQLite: "DATETIME", dialect.Postgres: "TIMESTAMP", dialect.MySQL: "DATETIME(6)"}[v]
	case dkBlob:
		return map[dialect.Name]string{dialect.SQLite: "BLOB", dialect.Postgres: "BYTEA", dialect.MySQL: "LONGBLOB"}[v]
	}
	panic("unknown kind")
}

type dtable struct {
	name string
	cols []dcol // cols[0] is the key
}

// drow is the model of one row: the canonical form of what was written.
type drow struct {
	key     any // the Go value of the key
	canon   []string
	master  int  // index of the site that masters it
	settled bool // the master knows it is master (synced since the transfer)
}

// dgone is a deleted text key and the site that deleted it, which masters
// its tombstone: only that site may create the key again (elsewhere the
// trigger refuses it, naming the master).
type dgone struct {
	key    string
	master int
}

type dfamily struct {
	t       *testing.T
	rng     *rand.Rand
	seed    uint64
	sites   []*dsite
	vendors []dialect.Name
	tables  []*dtable
	rows    []map[string]*drow // per table, by canonical key
	used    map[string]bool    // every text key ever created, "table/key"
	contest map[string]bool    // keys created at two sites ("table/key"), left out of the model check
	gone    [][]dgone          // per table, text keys deleted since the last synchronization
	deleted [][]dgone          // per table, text keys whose deletion every replica has
	nul     bool               // NUL allowed in text
	serial  int
	log     []string
	ops     int
}

func (f *dfamily) logf(format string, args ...any) {
	f.log = append(f.log, fmt.Sprintf(format, args...))
	if len(f.log) > 60 {
		f.log = f.log[1:]
	}
}

func (f *dfamily) fatalf(format string, args ...any) {
	f.t.Helper()
	f.t.Fatalf("seed %d: %s\nlast operations:\n  %s", f.seed, fmt.Sprintf(format, args...), strings.Join(f.log, "\n  "))
}

// q rewrites '?' placeholders outside quoted identifiers for site s.
func dRebind(d dialect.Dialect, q string) string {
	if d.Name() != dialect.Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	var quote rune
	for _, r := range q {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '`' || r == '\'':
			quote = r
		case r == '?':
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (f *dfamily) exec(s *dsite, q string, args ...any) error {
	_, err := s.db.Exec(dRebind(s.d, q), args...)
	return err
}

// oddNames are the identifiers of the oddIdentifiers class: each table is
// named by one, and its first column by "c " and one.
// MULTISITE_DIFF_ODD_NAME=NAME uses NAME alone (tables NAME, NAME1, ...),
// to tell which of them fails.
var oddNames = []string{"q?mark", "x$ms$y", "trail\\", "back\\slash", "it's", `dq"uote`, "sp ace", "Ünïcødé_表",
	strings.Repeat("long_name_", 5) + "abcdef"}

func diffOddNames() []string {
	if n := os.Getenv("MULTISITE_DIFF_ODD_NAME"); n != "" {
		return []string{n}
	}
	return oddNames
}

// genSchema makes 2–3 random tables (more in long runs).
func (f *dfamily) genSchema(long bool) {
	n := 2 + f.rng.IntN(2)
	if long {
		n = 3 + f.rng.IntN(3)
	}
	odd := diffOn("oddIdentifiers")
	for i := range n {
		tb := &dtable{name: fmt.Sprintf("t%d", i)}
		if odd {
			names := diffOddNames()
			tb.name = names[(i+int(f.seed))%len(names)]
			if i >= len(names) {
				tb.name += strconv.Itoa(i)
			}
		}
		key := dcol{name: "k", key: true, notNull: true}
		switch f.rng.IntN(3) {
		case 0:
			key.kind = dkText
		case 1:
			key.kind, key.name = dkBigint, "id"
		default:
			key.kind, key.name = dkInt, "id"
		}
		tb.cols = append(tb.cols, key)
		// Every kind once, in random order, plus a few more at random.
		kinds := f.rng.Perm(int(dkCount))
		for range 2 + f.rng.IntN(3) {
			kinds = append(kinds, f.rng.IntN(int(dkCount)))
		}
		for j, k := range kinds {
			c := dcol{name: fmt.Sprintf("c%d_%s", j, dkindNames[k]), kind: dkind(k), notNull: f.rng.IntN(5) == 0}
			c.single = c.kind == dkReal && diffOn("singleFloat") && f.rng.IntN(2) == 0
			if odd && j == 0 {
				names := diffOddNames()
				c.name = "c " + names[(i+int(f.seed))%len(names)]
			}
			if c.kind == dkDecimal {
				ps := [][2]int{{10, 2}, {15, 0}, {18, 6}, {12, 12}}
				if diffOn("wideDecimals") {
					ps = append(ps, [2]int{38, 10}, [2]int{30, 0})
				}
				p := ps[f.rng.IntN(len(ps))]
				c.prec, c.scale = p[0], p[1]
			}
			tb.cols = append(tb.cols, c)
		}
		f.tables = append(f.tables, tb)
		f.rows = append(f.rows, map[string]*drow{})
		f.gone = append(f.gone, nil)
		f.deleted = append(f.deleted, nil)
	}
}

func (f *dfamily) createSQL(tb *dtable, v dialect.Name) string {
	d := f.sites[0].d
	var cols []string
	for _, c := range tb.cols {
		s := d.Quote(c.name) + " " + c.ddl(v)
		if c.key {
			s += " PRIMARY KEY"
		} else if c.notNull {
			s += " NOT NULL"
		}
		cols = append(cols, s)
	}
	return fmt.Sprintf("CREATE TABLE %s (%s)", d.Quote(tb.name), strings.Join(cols, ", "))
}

var textPieces = []string{
	"plain", "ß", "naïve", "😀", "👩‍👩‍👧", "🇫🇷", "e\u0301", "\u0301", "a\u0308\u0323", "表", "ﬁ", "Ω", "\u200b",
	" ", "  ", "\t", "\n", "\r\n", "'", `"`, `\`, "%", "_", "?", "$1", "--", "/*", ";",
}

func (f *dfamily) genText() string {
	switch f.rng.IntN(10) {
	case 0:
		return ""
	case 1:
		return strings.Repeat("x", 1+f.rng.IntN(3)) + "   " // trailing spaces
	case 2:
		return "  lead and trail  "
	case 3:
		return strings.Repeat("long ☃ text ", 50+f.rng.IntN(100))
	}
	var b strings.Builder
	for range 1 + f.rng.IntN(5) {
		b.WriteString(textPieces[f.rng.IntN(len(textPieces))])
	}
	if diffOn("controlChars") && f.rng.IntN(4) == 0 {
		b.WriteString("\x01\x1b\x7f\u0085")
	}
	if diffOn("nonCharacters") && f.rng.IntN(4) == 0 {
		b.WriteString("\ufffe\uffff\U0010ffff\ufeff")
	}
	if f.nul && f.rng.IntN(4) == 0 {
		b.WriteString("\x00after NUL")
	}
	return b.String()
}

var extremeInt64 = []int64{math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MinInt64 + 1, 0, -1, 1, 1<<53 + 1, -(1<<53 + 1), math.MaxInt32 + 1, math.MinInt32 - 1}

// extremeKeys are the integer keys of rows made before activation: the
// key range of the first replica ends at 2^40-1 (activation refuses larger
// keys), and nothing bounds it below. NextID continues after the largest
// key, so a row at 2^40-1 would leave the origin no key to allocate
// ("t has used every key up to 1099511627775"): the largest is 2^20 short.
var extremeKeys = []int64{math.MinInt64, math.MinInt64 + 1, -(1<<53 + 1), math.MinInt32 - 1, -1, 0, 1, 1<<40 - 1<<20}

var extremeInt32 = []int64{math.MaxInt32, math.MinInt32, 0, -1, 1, 127, -128, 255, 32767, -32768}

func (f *dfamily) genDecimal(c dcol) string {
	intDigits := c.prec - c.scale
	maxSig := c.prec
	if !diffOn("wideDecimals") {
		maxSig = min(maxSig, 15)
	}
	switch f.rng.IntN(6) {
	case 0:
		return "0"
	case 1: // the largest value of the type (within maxSig)
		ni := min(intDigits, maxSig)
		s := strings.Repeat("9", ni)
		if s == "" {
			s = "0"
		}
		if fr := min(c.scale, maxSig-ni); fr > 0 {
			s += "." + strings.Repeat("9", fr)
		}
		if f.rng.IntN(2) == 0 {
			s = "-" + s
		}
		return s
	case 2: // the smallest step
		if c.scale == 0 {
			return "-1"
		}
		return "0." + strings.Repeat("0", c.scale-1) + "1"
	}
	sig := 1 + f.rng.IntN(maxSig)
	ni := min(intDigits, f.rng.IntN(sig+1))
	fr := min(c.scale, sig-ni)
	var b strings.Builder
	if f.rng.IntN(3) == 0 {
		b.WriteByte('-')
	}
	for i := range ni {
		d := f.rng.IntN(10)
		if i == 0 && d == 0 {
			d = 1 + f.rng.IntN(9)
		}
		b.WriteByte(byte('0' + d))
	}
	if ni == 0 {
		b.WriteByte('0')
	}
	if fr > 0 {
		b.WriteByte('.')
		for range fr {
			b.WriteByte(byte('0' + f.rng.IntN(10)))
		}
	}
	return b.String()
}

func (f *dfamily) genTime() time.Time {
	var y int
	switch f.rng.IntN(5) {
	case 0:
		ys := []int{1000, 1970, 1999, 2000, 2038, 9999}
		// MariaDB refuses years before 1000 (MySQL's documented DATE
		// range) with an *InexactError at creation or import, by design;
		// TestValues_InexactRefusedAtCreation covers that refusal.
		if diffOn("earlyYears") && !slices.Contains(f.vendors, dialect.MySQL) {
			ys = append(ys, 1, 99, 999)
		}
		y = ys[f.rng.IntN(len(ys))]
	default:
		y = 1900 + f.rng.IntN(200)
	}
	t := time.Date(y, time.Month(1+f.rng.IntN(12)), 1+f.rng.IntN(28), f.rng.IntN(24), f.rng.IntN(60), f.rng.IntN(60), 0, time.UTC)
	switch f.rng.IntN(4) {
	case 0:
		t = t.Add(time.Duration(f.rng.IntN(1e6)) * time.Microsecond)
	case 1:
		t = t.Add(time.Duration(1+f.rng.IntN(999)) * time.Millisecond)
	case 2:
		t = time.Date(y, 12, 31, 23, 59, 59, 999999000, time.UTC)
	}
	return t
}

// genValue returns a random value for c, to write at a replica of vendor
// v, as the Go value given to the driver.
func (f *dfamily) genValue(c dcol, v dialect.Name) any {
	if !c.notNull && f.rng.IntN(6) == 0 {
		return nil
	}
	switch c.kind {
	case dkInt:
		if f.rng.IntN(2) == 0 {
			if v == dialect.SQLite && diffOn("int64InInteger") && f.rng.IntN(3) == 0 {
				return extremeInt64[f.rng.IntN(len(extremeInt64))]
			}
			return extremeInt32[f.rng.IntN(len(extremeInt32))]
		}
		return int64(int32(f.rng.Uint32()))
	case dkBigint:
		if f.rng.IntN(2) == 0 {
			return extremeInt64[f.rng.IntN(len(extremeInt64))]
		}
		return int64(f.rng.Uint64())
	case dkText:
		return f.genText()
	case dkReal:
		if c.single {
			return float64(float32(f.rng.NormFloat64()*1e6)) + []float64{0, 1e-9}[f.rng.IntN(2)]
		}
		fs := []float64{0, 1, -1, 0.1, 1.5, -2.5e-300, 1e308, math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64,
			2.2250738585072014e-308, math.Pi, 1 << 53, 9007199254740993, 1e-7, 123456789.123456789}
		if diffOn("negativeZero") {
			fs = append(fs, math.Copysign(0, -1))
		}
		if f.rng.IntN(2) == 0 {
			return fs[f.rng.IntN(len(fs))]
		}
		for {
			x := math.Float64frombits(f.rng.Uint64())
			if !math.IsNaN(x) && !math.IsInf(x, 0) {
				return x
			}
		}
	case dkBool:
		return f.rng.IntN(2) == 0
	case dkDecimal:
		return f.genDecimal(c)
	case dkDate:
		t := f.genTime()
		if v == dialect.SQLite && diffOn("goTimeValues") && f.rng.IntN(2) == 0 {
			return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		}
		return t.Format("2006-01-02")
	case dkTimestamp:
		t := f.genTime()
		if v == dialect.SQLite && diffOn("goTimeValues") && f.rng.IntN(2) == 0 {
			return t
		}
		if v == dialect.SQLite && diffOn("nanoTimestamps") && f.rng.IntN(3) == 0 {
			return t.Add(time.Duration(1 + f.rng.IntN(999))).Format("2006-01-02 15:04:05.000000000")
		}
		layouts := []string{"2006-01-02 15:04:05.999999", "2006-01-02 15:04:05.000000", "2006-01-02 15:04:05"}
		if t.Nanosecond() != 0 {
			layouts = layouts[:2]
		}
		if v == dialect.SQLite && diffOn("isoTimestampText") && f.rng.IntN(2) == 0 {
			layouts = []string{"2006-01-02T15:04:05.999999", "2006-01-02T15:04:05.999999Z"}
		}
		return t.Format(layouts[f.rng.IntN(len(layouts))])
	case dkBlob:
		switch f.rng.IntN(5) {
		case 0:
			return []byte{}
		case 1:
			return []byte{0}
		case 2:
			return []byte("text as bytes \xff\xfe")
		}
		b := make([]byte, 1+f.rng.IntN(64))
		for i := range b {
			b[i] = byte(f.rng.Uint32())
		}
		return b
	}
	panic("unknown kind")
}

// canonical is the value's canonical form for a column of kind k (see the
// comment at the top of the file); it reads what any of the three drivers
// returns, and what genValue writes.
func canonical(k dkind, v any) string {
	if v == nil {
		return "NULL"
	}
	raw := func() string {
		switch x := v.(type) {
		case []byte:
			return string(x)
		case string:
			return x
		}
		return fmt.Sprint(v)
	}
	bad := func() string { return fmt.Sprintf("%s? %T %+q", dkindNames[k], v, raw()) }
	switch k {
	case dkInt, dkBigint:
		switch x := v.(type) {
		case int64:
			return "int " + strconv.FormatInt(x, 10)
		case []byte, string:
			if i, err := strconv.ParseInt(raw(), 10, 64); err == nil {
				return "int " + strconv.FormatInt(i, 10)
			}
		}
	case dkReal:
		var x float64
		switch y := v.(type) {
		case float64:
			x = y
		case float32:
			x = float64(y)
		case int64:
			x = float64(y)
		case []byte, string:
			p, err := strconv.ParseFloat(raw(), 64)
			if err != nil {
				return bad()
			}
			x = p
		default:
			return bad()
		}
		return "float " + strconv.FormatFloat(x, 'g', -1, 64)
	case dkBool:
		switch x := v.(type) {
		case bool:
			return "bool " + strconv.FormatBool(x)
		case int64:
			if x == 0 || x == 1 {
				return "bool " + strconv.FormatBool(x == 1)
			}
		case []byte, string:
			switch strings.ToLower(raw()) {
			case "1", "t", "true":
				return "bool true"
			case "0", "f", "false":
				return "bool false"
			}
		}
	case dkDecimal:
		var s string
		switch x := v.(type) {
		case float64:
			s = strconv.FormatFloat(x, 'g', -1, 64)
		case int64:
			s = strconv.FormatInt(x, 10)
		case []byte, string:
			s = strings.TrimSpace(raw())
		default:
			return bad()
		}
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			return bad()
		}
		s = r.FloatString(40)
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		return "dec " + s
	case dkDate:
		t, ok := parseAnyTime(v)
		if !ok || t.Hour()+t.Minute()+t.Second()+t.Nanosecond() != 0 {
			return bad()
		}
		return "date " + t.Format("2006-01-02")
	case dkTimestamp:
		t, ok := parseAnyTime(v)
		if !ok {
			return bad()
		}
		if t.Nanosecond()%1000 != 0 {
			return "ts " + t.Format("2006-01-02 15:04:05.000000000")
		}
		return "ts " + t.Format("2006-01-02 15:04:05.000000")
	case dkText:
		switch v.(type) {
		case []byte, string:
			return "text " + strconv.QuoteToASCII(raw())
		}
	case dkBlob:
		switch v.(type) {
		case []byte, string:
			return "blob x'" + hex.EncodeToString([]byte(raw())) + "'"
		}
	}
	return bad()
}

var timeLayouts = []string{
	"2006-01-02 15:04:05.999999999 -0700 MST", // Go's time.Time.String, as modernc stores it
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02",
}

// parseAnyTime reads a time.Time or the text of a date or timestamp; a
// zoned value is converted to UTC, an unzoned one read as UTC.
func parseAnyTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case time.Time:
		if x.Location() != time.UTC && x.Location().String() != "" {
			return x.UTC(), true
		}
		return x, true
	case []byte:
		return parseAnyTime(string(x))
	case string:
		for _, l := range timeLayouts {
			if t, err := time.Parse(l, strings.TrimSpace(x)); err == nil {
				return t.UTC(), true
			}
		}
	}
	return time.Time{}, false
}

// stored is the canonical form of v written into column c at a replica of
// vendor v: canonical, except where the vendor itself keeps another value
// than the one written, which is then what every replica must hold.
// SQLite stores a REAL -0.0 as 0, and a DECIMAL (NUMERIC affinity) that is
// no 64-bit integer as the nearest REAL (as an INTEGER if that is whole);
// MariaDB reads a DOUBLE -0 back as
// 0.
// A singleFloat column is 4 bytes only where it was declared: at the
// origin, when that is a server (origin reports whether v is written
// there).
func stored(vendor dialect.Name, origin bool, c dcol, v any) string {
	if x, ok := v.(float64); ok && vendor != dialect.SQLite && c.single && origin {
		return canonical(c.kind, float64(float32(x)))
	}
	if x, ok := v.(float64); ok && vendor == dialect.MySQL && c.kind == dkReal && x == 0 {
		return canonical(c.kind, 0.0)
	}
	if vendor == dialect.SQLite {
		switch x := v.(type) {
		case float64:
			if c.kind == dkReal && x == 0 {
				return canonical(c.kind, 0.0)
			}
		case string:
			if c.kind == dkDecimal {
				if _, err := strconv.ParseInt(x, 10, 64); err != nil {
					if fl, err := strconv.ParseFloat(x, 64); err == nil {
						if fl == math.Trunc(fl) && math.Abs(fl) < 1<<63 {
							return canonical(c.kind, int64(fl)) // a whole REAL is stored as INTEGER
						}
						return canonical(c.kind, fl)
					}
				}
			}
		}
	}
	return canonical(c.kind, v)
}

// ddump is a canonical dump: per table, its rows sorted by key, each row
// its canonical values as "column=value", ms_master last.
type ddump map[string][][]string

func (f *dfamily) dump(s *dsite) ddump {
	f.t.Helper()
	out := ddump{}
	for _, tb := range f.tables {
		var cols []string
		for _, c := range tb.cols {
			col := s.d.Quote(c.name)
			if c.kind == dkReal && s.d.Name() == dialect.MySQL {
				// MariaDB's text protocol writes a FLOAT with 6
				// significant digits (1206863.25 as 1206860).
				col = "CAST(" + col + " AS DOUBLE)"
			}
			cols = append(cols, col)
		}
		cols = append(cols, s.d.Quote(dialect.MasterColumn))
		rows, err := s.db.Query(fmt.Sprintf("SELECT %s FROM %s", strings.Join(cols, ", "), s.d.Quote(tb.name)))
		if err != nil {
			f.fatalf("dump %s of %s: %v", tb.name, s.name, err)
		}
		var got [][]string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				f.fatalf("dump %s of %s: %v", tb.name, s.name, err)
			}
			row := make([]string, len(cols))
			for i, c := range tb.cols {
				row[i] = c.name + "=" + canonical(c.kind, vals[i])
			}
			row[len(cols)-1] = "ms_master=" + canonical(dkText, vals[len(cols)-1])
			got = append(got, row)
		}
		if err := rows.Err(); err != nil {
			f.fatalf("dump %s of %s: %v", tb.name, s.name, err)
		}
		rows.Close()
		sortRows(got)
		out[tb.name] = got
	}
	if diffOn("conflictRecords") {
		got := [][]string{}
		rows, err := s.db.Query(fmt.Sprintf("SELECT tbl, %s, creator, winner, version FROM ms_conflict", s.d.Quote("key")))
		if err != nil {
			f.fatalf("dump ms_conflict of %s: %v", s.name, err)
		}
		for rows.Next() {
			var tbl, key, creator, winner, version string
			if err := rows.Scan(&tbl, &key, &creator, &winner, &version); err != nil {
				f.fatalf("dump ms_conflict of %s: %v", s.name, err)
			}
			got = append(got, []string{"tbl=" + tbl, "key=" + strconv.QuoteToASCII(key), "creator=" + creator, "winner=" + winner, "version=" + version})
		}
		if err := rows.Err(); err != nil {
			f.fatalf("dump ms_conflict of %s: %v", s.name, err)
		}
		rows.Close()
		sort.Slice(got, func(i, j int) bool { return strings.Join(got[i], "\x00") < strings.Join(got[j], "\x00") })
		out["ms_conflict"] = got
	}
	return out
}

func sortRows(rows [][]string) {
	sort.Slice(rows, func(i, j int) bool { return rows[i][0] < rows[j][0] })
}

// expected is the model's dump.
func (f *dfamily) expected() ddump {
	out := ddump{}
	for i, tb := range f.tables {
		rows := [][]string{}
		for _, r := range f.rows[i] {
			row := make([]string, len(tb.cols)+1)
			for j, c := range tb.cols {
				row[j] = c.name + "=" + r.canon[j]
			}
			row[len(tb.cols)] = "ms_master=" + canonical(dkText, string(f.sites[r.master].id))
			rows = append(rows, row)
		}
		sortRows(rows)
		out[tb.name] = rows
	}
	return out
}

// withoutContested drops the rows of keys created at two sites.
func (f *dfamily) withoutContested(d ddump) ddump {
	out := ddump{}
	for name, rows := range d {
		if name == "ms_conflict" {
			continue // the model does not know the winners
		}
		keep := [][]string{}
		for _, r := range rows {
			if !f.contest[name+"/"+r[0]] {
				keep = append(keep, r)
			}
		}
		out[name] = keep
	}
	return out
}

func keyCanon(tb *dtable, key any) string {
	return tb.cols[0].name + "=" + canonical(tb.cols[0].kind, key)
}

// insert creates a row at site i.
func (f *dfamily) insert(i int, ti int, key any) {
	f.t.Helper()
	s, tb := f.sites[i], f.tables[ti]
	vals := []any{key}
	for _, c := range tb.cols[1:] {
		vals = append(vals, f.genValue(c, s.d.Name()))
	}
	var cols, marks []string
	for _, c := range tb.cols {
		cols = append(cols, s.d.Quote(c.name))
		marks = append(marks, "?")
	}
	f.logf("insert at %s into %s: %s", s.name, tb.name, fmtVals(vals))
	q := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", s.d.Quote(tb.name), strings.Join(cols, ", "), strings.Join(marks, ", "))
	if err := f.exec(s, q, vals...); err != nil {
		f.fatalf("insert at %s (%s): %v", s.name, s.d.Name(), err)
	}
	r := &drow{key: key, master: i, settled: true}
	for j, c := range tb.cols {
		r.canon = append(r.canon, stored(s.d.Name(), s == f.sites[0], c, vals[j]))
	}
	f.rows[ti][keyCanon(tb, key)] = r
}

func fmtVals(vals []any) string {
	var b []string
	for _, v := range vals {
		switch x := v.(type) {
		case string:
			if len(x) > 40 {
				x = x[:40] + "…"
			}
			b = append(b, strconv.QuoteToASCII(x))
		case []byte:
			b = append(b, "x'"+hex.EncodeToString(x)+"'")
		case float64:
			b = append(b, strconv.FormatFloat(x, 'g', -1, 64))
		default:
			b = append(b, fmt.Sprint(v))
		}
	}
	return strings.Join(b, ", ")
}

// newKey returns a fresh key for table ti at site i.
func (f *dfamily) newKey(i, ti int) any {
	f.t.Helper()
	tb := f.tables[ti]
	if tb.cols[0].kind != dkText {
		id, err := multisite.NextID(ctx, f.sites[i].db, nil, tb.name)
		if err != nil {
			f.fatalf("NextID at %s: %v", f.sites[i].name, err)
		}
		return id
	}
	if diffOn("reuseDeletedKeys") && f.rng.IntN(3) == 0 {
		for n, g := range f.deleted[ti] {
			if g.master == i {
				f.deleted[ti] = append(f.deleted[ti][:n], f.deleted[ti][n+1:]...)
				f.logf("reuse deleted key %+q", g.key)
				return g.key
			}
		}
	}
	return f.freshKey(ti)
}

// freshKey returns a text key for table ti that no site has used.
func (f *dfamily) freshKey(ti int) string {
	tb := f.tables[ti]
	for {
		f.serial++
		k := fmt.Sprintf("k%d", f.serial)
		if diffOn("longTextKeys") && f.rng.IntN(5) == 0 {
			k += strings.Repeat("é", 10+f.rng.IntN(40)) // keys are VARCHAR(64) on servers
		} else if f.rng.IntN(3) == 0 {
			k += textPieces[f.rng.IntN(13)] // unicode, combining marks, emoji
		}
		if diffOn("spaceKeys") {
			switch f.rng.IntN(6) {
			case 0:
				k = " " + k
			case 1:
				k += " "
			case 2:
				k = "\t" + k + "\t"
			}
		}
		if !f.used[tb.name+"/"+k] {
			f.used[tb.name+"/"+k] = true
			return k
		}
	}
}

// pick returns a random settled row of table ti mastered by site i, or nil.
func (f *dfamily) pick(i, ti int) (string, *drow) {
	var keys []string
	for k, r := range f.rows[ti] {
		if r.master == i && r.settled {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return "", nil
	}
	sort.Strings(keys)
	k := keys[f.rng.IntN(len(keys))]
	return k, f.rows[ti][k]
}

// op runs one random operation at a random site.
func (f *dfamily) op() {
	f.t.Helper()
	f.ops++
	i := f.rng.IntN(len(f.sites))
	ti := f.rng.IntN(len(f.tables))
	s, tb := f.sites[i], f.tables[ti]
	switch n := f.rng.IntN(10); {
	case n < 4:
		f.insert(i, ti, f.newKey(i, ti))
	case n < 7:
		k, r := f.pick(i, ti)
		if r == nil {
			f.insert(i, ti, f.newKey(i, ti))
			return
		}
		var sets []string
		var args []any
		for j, c := range tb.cols[1:] {
			if f.rng.IntN(2) == 0 {
				continue
			}
			v := f.genValue(c, s.d.Name())
			sets = append(sets, s.d.Quote(c.name)+" = ?")
			args = append(args, v)
			r.canon[j+1] = stored(s.d.Name(), s == f.sites[0], c, v)
		}
		if len(sets) == 0 {
			return
		}
		f.logf("update at %s %s %s: %s", s.name, tb.name, k, fmtVals(args))
		args = append(args, r.key)
		if err := f.exec(s, fmt.Sprintf("UPDATE %s SET %s WHERE %s = ?", s.d.Quote(tb.name), strings.Join(sets, ", "), s.d.Quote(tb.cols[0].name)), args...); err != nil {
			f.fatalf("update at %s (%s): %v", s.name, s.d.Name(), err)
		}
	case n < 8:
		k, r := f.pick(i, ti)
		if r == nil {
			return
		}
		f.logf("delete at %s %s %s", s.name, tb.name, k)
		if err := f.exec(s, fmt.Sprintf("DELETE FROM %s WHERE %s = ?", s.d.Quote(tb.name), s.d.Quote(tb.cols[0].name)), r.key); err != nil {
			f.fatalf("delete at %s (%s): %v", s.name, s.d.Name(), err)
		}
		delete(f.rows[ti], k)
		if key, ok := r.key.(string); ok {
			f.gone[ti] = append(f.gone[ti], dgone{key: key, master: i})
		}
	case n < 9:
		k, r := f.pick(i, ti)
		if r == nil {
			return
		}
		j := (i + 1 + f.rng.IntN(len(f.sites)-1)) % len(f.sites)
		f.logf("transfer at %s %s %s to %s", s.name, tb.name, k, f.sites[j].name)
		if _, err := multisite.TransferMastership(ctx, s.db, tb.name, f.sites[j].id, []any{r.key}); err != nil {
			f.fatalf("transfer at %s (%s): %v", s.name, s.d.Name(), err)
		}
		r.master, r.settled = j, false
	default:
		if tb.cols[0].kind != dkText || !diffOn("keyCollisions") {
			f.insert(i, ti, f.newKey(i, ti))
			return
		}
		// The same new key at two or three sites before they sync.
		k := f.freshKey(ti)
		for n := range 2 + f.rng.IntN(len(f.sites)-1) {
			f.insert((i+n)%len(f.sites), ti, k)
		}
		kc := keyCanon(tb, k)
		delete(f.rows[ti], kc)
		f.contest[tb.name+"/"+kc] = true
	}
	if tb.cols[0].kind == dkText && f.rng.IntN(4) == 0 {
		f.twins(i, ti)
	}
}

// twins inserts at site i keys that differ from one of its keys only in
// ways some collation ignores: case, precomposed and decomposed accents,
// ß and ss, and (padSpaceKeys) trailing spaces.
func (f *dfamily) twins(i, ti int) {
	f.t.Helper()
	tb := f.tables[ti]
	k, r := f.pick(i, ti)
	if r == nil {
		return
	}
	var twins []string
	if diffOn("lookAlikeKeys") {
		base := r.key.(string)
		twins = append(twins, strings.ToUpper(base), base+"\u00e9", base+"e\u0301", base+"\u00df", base+"ss")
	}
	if diffOn("padSpaceKeys") {
		twins = append(twins, r.key.(string)+strings.Repeat(" ", 1+f.rng.IntN(2)))
	}
	for _, twin := range twins {
		if len([]rune(twin)) <= 64 && !f.used[tb.name+"/"+twin] {
			f.used[tb.name+"/"+twin] = true
			f.logf("twin of %s", k)
			f.insert(i, ti, twin)
		}
	}
}

// syncAll exchanges packets between every ordered pair of sites until a
// whole pass brings nothing new.
func (f *dfamily) syncAll() {
	f.t.Helper()
	for pass := 0; ; pass++ {
		if pass == 8 {
			f.fatalf("synchronization never went quiet")
		}
		quiet := true
		for _, a := range f.sites {
			for _, b := range f.sites {
				if a == b {
					continue
				}
				var buf bytes.Buffer
				if _, err := multisite.ExportPacket(ctx, a.db, b.id, &buf, multisite.ExportOptions{}); err != nil {
					f.fatalf("export %s (%s) -> %s: %v", a.name, a.d.Name(), b.name, err)
				}
				rep, err := multisite.ImportPacket(ctx, b.db, &buf, multisite.ImportOptions{})
				if err != nil {
					f.fatalf("import %s (%s) -> %s (%s): %v", a.name, a.d.Name(), b.name, b.d.Name(), err)
				}
				if !rep.Duplicate {
					quiet = false
				}
			}
		}
		if quiet {
			break
		}
	}
	for ti, rows := range f.rows {
		for _, r := range rows {
			r.settled = true
		}
		f.deleted[ti] = append(f.deleted[ti], f.gone[ti]...)
		f.gone[ti] = nil
	}
}

// check compares every replica's dump with the first's and with the model.
func (f *dfamily) check(when string) {
	f.t.Helper()
	want := f.withoutContested(f.expected())
	dumps := make([]ddump, len(f.sites))
	for i, s := range f.sites {
		dumps[i] = f.dump(s)
	}
	// ContentHash, the library's own digest, must agree exactly when the
	// dumps do: equal hashes over different dumps are a divergence the
	// library cannot see; different hashes over equal dumps a false alarm
	// (or a difference the dump does not select).
	hashes := make([]string, len(f.sites))
	for i, s := range f.sites {
		h, err := multisite.ContentHash(ctx, s.db)
		if err != nil {
			f.fatalf("%s: content hash of %s: %v", when, s.name, err)
		}
		hashes[i] = h
	}
	var diffs []string
	for i, s := range f.sites[1:] {
		if diff := cmp.Diff(dumps[0], dumps[i+1]); diff != "" {
			diffs = append(diffs, fmt.Sprintf("%s (%s) differs from %s (%s) (-%s +%s):\n%sContentHash %s: %s, %s: %s", s.name, s.d.Name(),
				f.sites[0].name, f.sites[0].d.Name(), f.sites[0].name, s.name, diff, f.sites[0].name, hashes[0], s.name, hashes[i+1]))
		}
	}
	if diffs != nil {
		f.fatalf("%s: %s", when, strings.Join(diffs, "\n"))
	}
	for i, s := range f.sites[1:] {
		if hashes[i+1] != hashes[0] {
			f.fatalf("%s: the dumps agree but ContentHash of %s (%s) is %s, of %s (%s) %s", when, s.name, s.d.Name(), hashes[i+1],
				f.sites[0].name, f.sites[0].d.Name(), hashes[0])
		}
	}
	for i, s := range f.sites {
		if diff := cmp.Diff(want, f.withoutContested(dumps[i])); diff != "" {
			f.fatalf("%s: %s (%s) differs from what was written (-written +%s):\n%s", when, s.name, s.d.Name(), s.name, diff)
		}
	}
}

// diffSize is how much one family does.
type diffSize struct {
	initial, rounds, ops int
}

func diffSizes() (diffSize, int) {
	if os.Getenv("MULTISITE_LONG") == "1" {
		return diffSize{initial: 20, rounds: 12, ops: 40}, 6
	}
	return diffSize{initial: 8, rounds: 5, ops: 20}, 1
}

// diffSeeds returns the seeds to run: MULTISITE_DIFF_SEED, or n seeds
// derived from base.
func diffSeeds(t *testing.T, base uint64, n int) []uint64 {
	if s := os.Getenv("MULTISITE_DIFF_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "MULTISITE_DIFF_SEED")
		return []uint64{v}
	}
	var out []uint64
	for i := range n {
		out = append(out, base*1000+uint64(i))
	}
	return out
}

// runDifferential builds a family over the databases of vendors (the first
// is the origin) and runs seed on it.
func runDifferential(t *testing.T, seed uint64, vendors []string) {
	size, _ := diffSizes()
	t.Cleanup(func() {
		if t.Failed() {
			env := fmt.Sprintf("MULTISITE_DIFF_SEED=%d", seed)
			for _, v := range []string{"MULTISITE_LONG", "MULTISITE_DIFF_CLASSES", "MULTISITE_DIFF_ODD_NAME"} {
				if x := os.Getenv(v); x != "" {
					env += fmt.Sprintf(" %s=%q", v, x)
				}
			}
			t.Logf("reproduce: %s go test -count=1 -run '%s' .", env, t.Name())
		}
	})
	f := &dfamily{t: t, seed: seed, rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)),
		used: map[string]bool{}, contest: map[string]bool{}, nul: diffOn("nulText")}
	for _, v := range vendors {
		f.vendors = append(f.vendors, dialect.Name(v))
		if v == "postgres" {
			f.nul = false
		}
	}
	names := []string{"origin", "second", "third"}
	origin := newDSite(t, testdb.Open(t, vendors[0], names[0]+"_"+vendors[0]), names[0]+"_"+vendors[0])
	f.sites = []*dsite{origin}
	f.genSchema(os.Getenv("MULTISITE_LONG") == "1")
	for _, tb := range f.tables {
		q := f.createSQL(tb, origin.d.Name())
		f.logf("%s", q)
		if err := f.exec(origin, q); err != nil {
			f.fatalf("%s: %v", q, err)
		}
	}
	// Rows made before activation, with the extreme keys.
	for ti, tb := range f.tables {
		for n := range size.initial {
			var key any
			switch {
			case tb.cols[0].kind == dkText:
				key = f.newKey(0, ti)
			case diffOn("extremeIntKeys") && n < len(extremeKeys):
				key = extremeKeys[(n+int(seed))%len(extremeKeys)]
				if _, dup := f.rows[ti][keyCanon(tb, key)]; dup {
					continue
				}
			default:
				key = int64(n + 100)
			}
			f.insert(0, ti, key)
		}
	}
	info, err := multisite.Activate(ctx, origin.db, multisite.ActivateOptions{Name: origin.name})
	if err != nil {
		f.fatalf("activate at %s: %v", origin.name, err)
	}
	origin.id = info.ID
	for i, v := range vendors[1:] {
		name := names[i+1] + "_" + v
		var buf bytes.Buffer
		info, _, err := multisite.Replicate(ctx, origin.db, name, &buf, multisite.ReplicateOptions{})
		if err != nil {
			f.fatalf("replicate %s: %v", name, err)
		}
		s := newDSite(t, testdb.Open(t, v, name), name)
		s.id = info.ID
		if _, err := multisite.CreateReplica(ctx, s.db, &buf, multisite.CreateOptions{}); err != nil {
			f.fatalf("create replica %s (%s) from %s (%s): %v", name, v, origin.name, vendors[0], err)
		}
		enrol(t, origin.db, s.db, s.id)
		if err := multisite.SetState(ctx, s.db, replica.Active); err != nil {
			f.fatalf("activate %s: %v", name, err)
		}
		f.sites = append(f.sites, s)
	}
	f.syncAll()
	f.check("after creation")
	for round := range size.rounds {
		for range size.ops {
			f.op()
		}
		f.syncAll()
		f.check(fmt.Sprintf("after round %d", round+1))
	}
	t.Logf("seed %d: %d tables, %d operations, %d rows at the end", seed, len(f.tables), f.ops, func() int {
		n := 0
		for _, r := range f.rows {
			n += len(r)
		}
		return n
	}())
}

// TestDifferential_Vendors runs a family of one SQLite, one PostgreSQL and
// one MariaDB replica, each vendor taking a turn as the origin.
func TestDifferential_Vendors(t *testing.T) {
	logDiffClasses(t)
	for _, d := range []string{"postgres", "mysql"} {
		if ok, reason := testdb.Available(d); !ok {
			t.Skip("the differential test across vendors needs both servers: " + reason)
		}
	}
	_, n := diffSizes()
	for oi, vendors := range [][]string{
		{"sqlite", "postgres", "mysql"},
		{"postgres", "mysql", "sqlite"},
		{"mysql", "sqlite", "postgres"},
	} {
		t.Run("origin="+vendors[0], func(t *testing.T) {
			for _, seed := range diffSeeds(t, uint64(oi+1), n) {
				t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { runDifferential(t, seed, vendors) })
			}
		})
	}
}

// TestDifferential_SQLite runs the same on a family of three SQLite
// replicas, without servers.
func TestDifferential_SQLite(t *testing.T) {
	logDiffClasses(t)
	_, n := diffSizes()
	for _, seed := range diffSeeds(t, 7, n*2) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			runDifferential(t, seed, []string{"sqlite", "sqlite", "sqlite"})
		})
	}
}
