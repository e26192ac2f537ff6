package dialect

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode"
)

// CharsetTable is the metadata table the charset triggers read: one row
// (id 1) holding the family's data code page in the form the dialect's
// triggers match strings with (on PostgreSQL the pattern is also the body
// of the function ms_charset_pattern, which the triggers call). The
// triggers never change with the code page; a change is a rewrite of this
// row (and function), as transactional as the rest of the metadata on
// every dialect (MySQL's DDL would commit an import half-way).
const CharsetTable = "ms_charset"

// CharsetTriggerFormat is the message a charset trigger raises (with
// SQLSTATE 22021, character_not_in_repertoire, where the dialect has
// SQLSTATEs): table, key, column, code point in hex (at least four
// digits), UTF-8 byte offset of the character in the value, and code
// page. PostgreSQL adds the character, quoted, after the code point. It is
// parsed back into a typed error by the engine, so the two change together.
const CharsetTriggerFormat = "multisite: charset: %s[%s].%s has U+%s at byte %d, outside code page %s"

// CharsetState is SQLSTATE character_not_in_repertoire, which the charset
// triggers raise on PostgreSQL and MySQL.
const CharsetState = "22021"

// Charset is a data code page in the form a dialect's charset triggers use.
type Charset struct {
	CodePage string // canonical name, for messages
	// Pattern matches a string holding a character outside the code page
	// (a regular expression on PostgreSQL and MySQL, a GLOB pattern on
	// SQLite). "" means every character fits: the triggers check nothing.
	Pattern string
	// Chars lists every character of the code page (SQLite only, where it
	// finds the offending character with ltrim); "" elsewhere.
	Chars string
}

// CharsetEnforcer is implemented by the dialects that refuse, in the
// database itself, a write of a string the data code page cannot
// represent, whatever client makes it. All three dialects do.
//
// The triggers check every text column (see [CharsetColumns]) of an
// inserted row and every such column an update changes. They stand aside
// while an import applies a packet (see Dialect.SetApplying): an import has checked its packet already.
type CharsetEnforcer interface {
	// CharsetMeta returns the DDL of the ms_charset table.
	CharsetMeta() []string
	// CharsetMetaDrop returns the DDL removing what CharsetMeta and
	// CharsetSet made.
	CharsetMetaDrop() []string
	// Charset returns the code page called name, with the repertoire rt,
	// in the dialect's form. universal means every scalar value fits.
	Charset(name string, rt *unicode.RangeTable, universal bool) Charset
	// CharsetSet returns the statements, with literal values (plans are
	// read by administrators), that make the triggers enforce cs from the
	// moment they commit: DML, and on PostgreSQL transactional DDL, so
	// they run inside an import's or a code page change's transaction.
	CharsetSet(cs Charset) []string
	// CharsetTriggerNames lists the triggers CharsetTriggers creates for
	// t (none for a table without text columns).
	CharsetTriggerNames(t Table) []string
	// CharsetTriggers returns the DDL of t's charset triggers.
	CharsetTriggers(t Table) []string
	// DropCharset returns the DDL removing t's charset triggers (whether
	// they exist or not).
	DropCharset(t Table) []string
	// CharsetTriggersExist reports whether every charset trigger of t is
	// in the catalog.
	CharsetTriggersExist(ctx context.Context, q Querier, t Table) (bool, error)
}

// DropCharsetMeta returns the DDL removing the ms_charset table.
func DropCharsetMeta() []string { return []string{"DROP TABLE IF EXISTS " + CharsetTable} }

// CharsetColumns returns the columns of t whose values are text the code
// page applies to: text types, and JSON and XML, whose values are text
// too. Enumerations are left out; their values are fixed by the DDL.
func CharsetColumns(t Table) []Column {
	var cs []Column
	for _, c := range t.Columns {
		base, _ := baseType(c.Type)
		if KindOf(c.Type) == KindText || base == "JSON" || base == "JSONB" || base == "XML" {
			cs = append(cs, c)
		}
	}
	return cs
}

// rangeClass writes a negated character class of rt's ranges, each end
// written by esc, starting at rune from (runes below it are left out of
// the class, so they match it: callers pass 1 where NUL cannot occur and
// where it can be written, 0).
func rangeClass(rt *unicode.RangeTable, from rune, esc func(rune) string) string {
	var b strings.Builder
	b.WriteString("[^")
	add := func(lo, hi rune) {
		lo = max(lo, from)
		if hi < lo {
			return
		}
		b.WriteString(esc(lo))
		if hi > lo {
			if hi > lo+1 {
				b.WriteByte('-')
			}
			b.WriteString(esc(hi))
		}
	}
	for _, r := range rt.R16 {
		add(rune(r.Lo), rune(r.Hi))
	}
	for _, r := range rt.R32 {
		add(rune(r.Lo), rune(r.Hi))
	}
	b.WriteByte(']')
	return b.String()
}

// hexText is a MySQL or SQLite literal of s written in hex, so that it
// reads the same whatever the connection's character set and escape mode.
func hexText(s string) string { return "X'" + strings.ToUpper(hex.EncodeToString([]byte(s))) + "'" }

// charsetSet replaces the row of ms_charset with cs, each value written
// by lit (NULL for "").
func charsetSet(cs Charset, lit func(string) string) []string {
	v := func(s string) string {
		if s == "" {
			return "NULL"
		}
		return lit(s)
	}
	return []string{
		"DELETE FROM " + CharsetTable,
		fmt.Sprintf("INSERT INTO %s (id, code_page, pattern, chars) VALUES (1, %s, %s, %s)", CharsetTable, literal(cs.CodePage), v(cs.Pattern), v(cs.Chars)),
	}
}

// countIs reports whether query, run with args, counts n rows.
func countIs(ctx context.Context, q Querier, n int, query string, args ...any) (bool, error) {
	var got int
	if err := q.QueryRowContext(ctx, query, args...).Scan(&got); err != nil {
		return false, fmt.Errorf("dialect: look up charset triggers: %w", err)
	}
	return got == n, nil
}

// pairedCharsetTriggers names the BEFORE INSERT and BEFORE UPDATE charset
// triggers of t on the dialects that enforce with two triggers (SQLite,
// MySQL); none for a table without text columns.
func pairedCharsetTriggers(d Dialect, t Table) []string {
	if len(CharsetColumns(t)) == 0 {
		return nil
	}
	return []string{triggerName(d, t.Name, "ci"), triggerName(d, t.Name, "cu")}
}

// dropPairedCharset drops both of t's paired charset triggers, whether or
// not t has text columns now.
func dropPairedCharset(d Dialect, t Table) []string {
	return []string{
		"DROP TRIGGER IF EXISTS " + d.Quote(triggerName(d, t.Name, "ci")),
		"DROP TRIGGER IF EXISTS " + d.Quote(triggerName(d, t.Name, "cu")),
	}
}
