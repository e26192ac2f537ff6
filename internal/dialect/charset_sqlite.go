package dialect

import (
	"context"
	"fmt"
	"strings"
	"unicode"
)

var _ CharsetEnforcer = SQLiteDialect{}

// CharsetMeta creates ms_charset.
func (SQLiteDialect) CharsetMeta() []string {
	return []string{`CREATE TABLE ms_charset (
	id INTEGER PRIMARY KEY,
	code_page TEXT NOT NULL,
	pattern TEXT,
	chars TEXT
)`}
}

// Charset writes the code page as a GLOB pattern, "*[^...]*" with the
// class's characters as they are (GLOB has no escapes; every code page
// holds all of ASCII, so no range starts or ends at one of GLOB's special
// characters), and lists its characters for ltrim, which finds the first
// one outside it when a write is refused. SQLite has no regular
// expressions, but GLOB classes compare code points, which is all the
// check needs. GLOB scans the whole class for every character, so for the
// large East Asian code pages (thousands of ranges) a write costs about
// 50 µs per character (BenchmarkCharsetTriggers); single-byte code pages
// cost well under 1 µs.
//
// GLOB reads malformed UTF-8 leniently (a stray continuation byte as the
// character of its value), so on SQLite a string of invalid UTF-8 written
// by plain SQL may pass; imports refuse it on every dialect, and
// PostgreSQL and MariaDB cannot store it at all.
func (SQLiteDialect) Charset(name string, rt *unicode.RangeTable, universal bool) Charset {
	cs := Charset{CodePage: name}
	if universal {
		return cs
	}
	cs.Pattern = "*" + rangeClass(rt, 1, func(r rune) string { return string(r) }) + "*"
	var b strings.Builder
	each := func(lo, hi rune) {
		for r := max(lo, 1); r <= hi; r++ {
			b.WriteRune(r)
		}
	}
	for _, r := range rt.R16 {
		each(rune(r.Lo), rune(r.Hi))
	}
	for _, r := range rt.R32 {
		each(rune(r.Lo), rune(r.Hi))
	}
	cs.Chars = b.String()
	return cs
}

// CharsetSet replaces the row of ms_charset, pattern and characters as hex literals cast to text, so that the plan
// is plain ASCII.
func (SQLiteDialect) CharsetSet(cs Charset) []string {
	return charsetSet(cs, func(s string) string { return "CAST(" + hexText(s) + " AS TEXT)" })
}

// CharsetMetaDrop drops ms_charset.
func (SQLiteDialect) CharsetMetaDrop() []string { return DropCharsetMeta() }

// CharsetTriggerNames lists t's BEFORE INSERT and BEFORE UPDATE charset
// triggers.
func (d SQLiteDialect) CharsetTriggerNames(t Table) []string { return pairedCharsetTriggers(d, t) }

// CharsetTriggers returns BEFORE INSERT and BEFORE UPDATE triggers that
// abort with the first text column holding a character outside the code
// page. The message is a literal naming table and column (SQLite before
// 3.47 takes nothing else in RAISE); the key, the character and its place
// are for ValidateCharset to find.
func (d SQLiteDialect) CharsetTriggers(t Table) []string {
	cols := CharsetColumns(t)
	if len(cols) == 0 {
		return nil
	}
	q := d.Quote
	names := d.CharsetTriggerNames(t)
	checks := func(update bool) string {
		var b strings.Builder
		for _, c := range cols {
			col := "NEW." + q(c.Name)
			cond := col + " GLOB s.pattern"
			if update {
				cond = "CAST(" + col + " AS BLOB) IS NOT CAST(OLD." + q(c.Name) + " AS BLOB) AND " + cond
			}
			fmt.Fprintf(&b, `
	SELECT RAISE(ABORT, %s)
	FROM ms_charset s WHERE s.id = 1 AND %s;`, literal(CharsetLiteral(t.Name, c.Name)), cond)
		}
		return b.String()
	}
	trigger := func(name, event string, update bool) string {
		return fmt.Sprintf("CREATE TRIGGER %s BEFORE %s ON %s WHEN %s AND (SELECT pattern FROM ms_charset WHERE id = 1) IS NOT NULL BEGIN%s\nEND",
			q(name), event, q(t.Name), SQLiteNotApplying, checks(update))
	}
	return []string{trigger(names[0], "INSERT", false), trigger(names[1], "UPDATE", true)}
}

// CharsetLiteral is the charset message of SQLite's literal form: table
// and column, no key, character or code page.
func CharsetLiteral(table, column string) string {
	return "multisite: charset: " + table + "." + column + " has a character outside the data code page"
}

// DropCharset drops t's charset triggers.
func (d SQLiteDialect) DropCharset(t Table) []string { return dropPairedCharset(d, t) }

// CharsetTriggersExist looks t's charset triggers up in sqlite_master.
func (d SQLiteDialect) CharsetTriggersExist(ctx context.Context, q Querier, t Table) (bool, error) {
	ns := d.CharsetTriggerNames(t)
	if len(ns) == 0 {
		return true, nil
	}
	return countIs(ctx, q, 2, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? AND name IN (?, ?)", t.Name, ns[0], ns[1])
}
