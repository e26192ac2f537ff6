package dialect

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// The library's own objects of a user table T, all made by
// [Dialect.Object] from a prefix, T's name and a suffix:
//
//	ms_row_T                   shadow table                 [Shadow]
//	ms_xfer_T                  transfer-log table           [Xfer]
//	ms_stage_T                 an import's staging table    [StageName]
//	ms_ix_row_T_epoch, ...     shadow indexes               [ShadowIndex]
//	ms_ix_xfer_T_epoch, ...    transfer-log indexes         [XferIndex]
//	ms_T_bi, ms_T_enforce, ... triggers (and PostgreSQL trigger functions)
//
// A user's name is used as it is (every identifier is spliced through
// [Dialect.Quote], never bare), so the objects of a database activated by
// an older version keep their names. Only a name the vendor could not
// hold is shortened (see [objectName]). No two prefixes begin alike and
// no two suffixes of one prefix end alike, so two tables never share an
// object: on PostgreSQL and SQLite, where tables and indexes share one
// namespace, the indexes have a prefix of their own (in older versions
// they were ms_row_T_epoch, which is the shadow of a table T_epoch; see
// [LegacyShadowIndex]).

// hashLen is the number of hex digits of the hash a shortened name ends
// its user part with.
const hashLen = 10

// objectName is prefix + name + suffix when fits says it does. Otherwise
// name is cut (at a character boundary) and followed by "_" and the
// first hashLen hex digits of the SHA-256 of the whole name, so the
// result is stable, fits, keeps prefix and suffix (which tell what the
// object is), and two long names that share a beginning still get
// different objects. A nil fits means no limit.
func objectName(fits func(string) bool, prefix, name, suffix string) string {
	full := prefix + name + suffix
	if fits == nil || fits(full) {
		return full
	}
	sum := sha256.Sum256([]byte(name))
	tail := "_" + hex.EncodeToString(sum[:])[:hashLen] + suffix
	cut := 0
	for i, r := range name {
		if !fits(prefix + name[:i+utf8.RuneLen(r)] + tail) {
			break
		}
		cut = i + utf8.RuneLen(r)
	}
	return prefix + name[:cut] + tail
}

// pgFits reports whether s fits PostgreSQL's identifiers: 63 bytes
// (NAMEDATALEN - 1), beyond which the server cuts names silently.
func pgFits(s string) bool { return len(s) <= 63 }

// myFits reports whether s fits MySQL's identifiers: 64 characters, and
// a file name of at most 250 bytes once MySQL encodes it for the file
// system (tables and, on MariaDB, triggers are files; a character other
// than an ASCII letter, digit or underscore takes up to five bytes).
func myFits(s string) bool {
	if utf8.RuneCountInString(s) > 64 {
		return false
	}
	n := 0
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
			n++
		default:
			n += 5
		}
	}
	return n <= 250
}

// ErrName is returned for a table or column name a vendor cannot hold
// (too long, or with characters it refuses).
var ErrName = errors.New("dialect: name not allowed")

// NameError names the table or column name a replica's vendor cannot
// hold, and why. It matches ErrName.
type NameError struct {
	Dialect Name
	Name    string
	Reason  string
}

func (e *NameError) Error() string {
	return fmt.Sprintf("dialect: %s cannot hold the name %q: %s", e.Dialect, e.Name, e.Reason)
}

// Unwrap returns ErrName.
func (e *NameError) Unwrap() error { return ErrName }

// CheckName reports, with a *NameError, a table or column name the
// vendor of d would refuse or (PostgreSQL) silently cut: a replica
// created from a packet could not hold its table under the origin's name.
func CheckName(d Dialect, name string) error {
	fail := func(reason string) error { return &NameError{Dialect: d.Name(), Name: name, Reason: reason} }
	if name == "" || strings.ContainsRune(name, 0) {
		return fail("empty, or holds NUL")
	}
	if !utf8.ValidString(name) {
		return fail("not UTF-8")
	}
	switch d.Name() {
	case Postgres:
		if !pgFits(name) {
			return fail(fmt.Sprintf("%d bytes, PostgreSQL keeps 63", len(name)))
		}
	case MySQL:
		if !myFits(name) {
			return fail("longer than MySQL's 64 characters (or its file name would be)")
		}
		if strings.HasSuffix(name, " ") {
			return fail("MySQL names cannot end with a space")
		}
		for _, r := range name {
			if r > 0xFFFF {
				return fail(fmt.Sprintf("MySQL names hold no character beyond U+FFFF (%U)", r))
			}
		}
	}
	return nil
}

// Shadow is the name, on d, of the shadow table that records each row's
// version, master, origin, creator and epoch.
func Shadow(d Dialect, table string) string { return d.Object("ms_row_", table, "") }

// Xfer is the name, on d, of the transfer-log table of a table.
func Xfer(d Dialect, table string) string { return d.Object("ms_xfer_", table, "") }

// StageName is the name, on d, of the temporary staging table of a table.
func StageName(d Dialect, table string) string { return d.Object("ms_stage_", table, "") }

// ShadowIndex is the name, on d, of an index of a table's shadow ("epoch"
// or "pending").
func ShadowIndex(d Dialect, table, index string) string {
	return d.Object("ms_ix_row_", table, "_"+index)
}

// LegacyShadowIndex is the name the shadow's index called index had when
// the library named indexes after their table (ms_row_T_epoch), which an
// upgrade drops.
func LegacyShadowIndex(d Dialect, table, index string) string {
	return d.Object("ms_row_", table, "_"+index)
}

// XferIndex is the name, on d, of an index of a table's transfer log.
func XferIndex(d Dialect, table, index string) string {
	return d.Object("ms_ix_xfer_", table, "_"+index)
}

// triggerName is the name, on d, of one of a table's triggers (suffix
// "bi", "enforce", "ci", ...).
func triggerName(d Dialect, table, suffix string) string {
	return d.Object("ms_", table, "_"+suffix)
}

// rebindDollar turns the '?' placeholders of q into $1, $2, ... like
// sqlx.Rebind, except inside quoted identifiers ("...", where "" is a
// quote) and string literals ('...', where ” is a quote): a table called
// q?mark keeps its name.
func rebindDollar(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	var quote byte // the open quote, 0 outside quotes
	n := 0
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0 // a doubled quote closes and reopens: same result
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func itoa(n int) string {
	var buf [20]byte
	i := len(buf)
	for n >= 10 {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	i--
	buf[i] = byte('0' + n)
	return string(buf[i:])
}

// dollarQuote returns body quoted with the first dollar-quote tag ($ms$,
// $ms1$, $ms2$, ...) that body does not contain, so that a table or
// column name holding "$ms$" cannot end a function body early.
func dollarQuote(body string) string {
	tag := "$ms$"
	for i := 1; strings.Contains(body, tag); i++ {
		tag = "$ms" + itoa(i) + "$"
	}
	return tag + body + tag
}

// pgFunctionHead is how the library's CREATE FUNCTION statements of
// trigger functions begin, up to the dollar-quoted body.
func pgFunctionHead(quotedName string) string {
	return "CREATE FUNCTION " + quotedName + "() RETURNS trigger LANGUAGE plpgsql AS "
}

// requote re-quotes the body of a trigger function created by
// pgFunctionHead(quotedName) + "$ms$" + body + "$ms$" with [dollarQuote].
func requote(quotedName, stmt string) string {
	head := pgFunctionHead(quotedName)
	if !strings.HasPrefix(stmt, head+"$ms$") || !strings.HasSuffix(stmt, "$ms$") || len(stmt) < len(head)+8 {
		return stmt
	}
	return head + dollarQuote(stmt[len(head)+4:len(stmt)-4])
}

// dollarBody returns the body of a trigger function's CREATE FUNCTION
// statement (head as pgFunctionHead made it), and whether it is one: the
// inverse of [dollarQuote].
func dollarBody(head, stmt string) (string, bool) {
	if !strings.HasPrefix(stmt, head+"$") {
		return "", false
	}
	rest := stmt[len(head):]
	j := strings.IndexByte(rest[1:], '$')
	if j < 0 {
		return "", false
	}
	tag := rest[:j+2]
	if !strings.HasSuffix(rest, tag) || len(rest) < 2*len(tag) {
		return "", false
	}
	return rest[len(tag) : len(rest)-len(tag)], true
}

// myLiteral quotes s as a MySQL string literal: quotes doubled and, as
// MySQL reads a backslash as an escape (unless the session's sql_mode has
// NO_BACKSLASH_ESCAPES, which the library does not support), backslashes
// doubled.
func myLiteral(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", "''") + "'"
}
