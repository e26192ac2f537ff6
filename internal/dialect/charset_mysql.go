package dialect

import (
	"context"
	"fmt"
	"strings"
	"unicode"
)

var _ CharsetEnforcer = MySQLDialect{}

// CharsetMeta creates ms_charset, binary-collated like the other metadata.
func (MySQLDialect) CharsetMeta() []string {
	return []string{`CREATE TABLE ms_charset (
	id BIGINT PRIMARY KEY,
	code_page VARCHAR(64) NOT NULL,
	pattern LONGTEXT,
	chars LONGTEXT
)` + tableOptions}
}

// Charset writes the code page as a PCRE (ICU on MySQL) regular expression
// matching any character outside it, with \x{...} escapes. It is exactly
// the library's repertoire: the server's character sets differ from it for
// many code pages, both ways (MariaDB's latin1 takes five C1 controls
// windows-1252 lacks, its cp932 and eucjpms the private use area, its
// big5 lacks thousands of HKSCS characters), so a CONVERT round trip would
// let through strings other replicas then refuse.
//
// Cost: for single-byte code pages the check is too cheap to measure; for
// the large East Asian ones (thousands of ranges) MariaDB 10.11 spends
// 10 to 30 µs per character written (BenchmarkCharsetTriggers), since PCRE2
// searches the class linearly and the trigger compiles it per row.
func (MySQLDialect) Charset(name string, rt *unicode.RangeTable, universal bool) Charset {
	cs := Charset{CodePage: name}
	if !universal {
		cs.Pattern = "(?-i)" + rangeClass(rt, 0, func(r rune) string { return fmt.Sprintf(`\x{%X}`, r) })
	}
	return cs
}

// CharsetSet replaces the row of ms_charset, the pattern as a hex literal, which reads the same whatever the
// connection's character set and NO_BACKSLASH_ESCAPES.
func (MySQLDialect) CharsetSet(cs Charset) []string {
	return charsetSet(cs, func(s string) string { return "CONVERT(" + hexText(s) + " USING utf8mb4)" })
}

// CharsetMetaDrop drops ms_charset.
func (MySQLDialect) CharsetMetaDrop() []string { return DropCharsetMeta() }

// CharsetTriggerNames lists t's BEFORE INSERT and BEFORE UPDATE charset
// triggers.
func (d MySQLDialect) CharsetTriggerNames(t Table) []string { return pairedCharsetTriggers(d, t) }

// myCharsetDeclare reads the code page, and the applying flag with the
// shared lock the enforcement triggers take (see [MySQLDialect]), so a
// writer never checks against a code page a concurrent change is
// replacing. Values are compared as utf8mb4_bin: a case-insensitive
// collation would make the expression case-insensitive too.
const myCharsetDeclare = `DECLARE ms_applying INT;
	DECLARE ms_page VARCHAR(64);
	DECLARE ms_p, ms_v LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
	DECLARE ms_i INT;
	DECLARE ms_h VARCHAR(8);
	DECLARE ms_msg VARCHAR(1024);
	SELECT coalesce(@ms_applying, 0), s.code_page, s.pattern INTO ms_applying, ms_page, ms_p
		FROM ms_ctl c, ms_charset s WHERE c.id = 1 AND s.id = 1 LOCK IN SHARE MODE;`

// CharsetTriggers returns BEFORE INSERT and BEFORE UPDATE triggers that
// SIGNAL SQLSTATE 22021 for the first text column holding a character
// outside the code page, whatever the column's own character set.
func (d MySQLDialect) CharsetTriggers(t Table) []string {
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
			cond := col + " IS NOT NULL"
			if update {
				cond = "NOT (BINARY " + col + " <=> BINARY OLD." + q(c.Name) + ")"
			}
			fmt.Fprintf(&b, `
		IF %s THEN
			SET ms_v = CONVERT(%s USING utf8mb4);
			SET ms_i = REGEXP_INSTR(ms_v, ms_p);
			IF ms_i > 0 THEN
				SET ms_h = TRIM(LEADING '0' FROM HEX(CONVERT(SUBSTRING(ms_v, ms_i, 1) USING utf32)));
				SET ms_msg = CONCAT('multisite: charset: ', %s, '[', %s, '].', %s, ' has U+', LPAD(ms_h, GREATEST(4, LENGTH(ms_h)), '0'),
					' at byte ', LENGTH(LEFT(ms_v, ms_i - 1)), ', outside code page ', ms_page);
				SIGNAL SQLSTATE '22021' SET MESSAGE_TEXT = ms_msg;
			END IF;
		END IF;`, cond, col, myLiteral(t.Name), d.keyText(t, "NEW"), myLiteral(c.Name))
		}
		return b.String()
	}
	trigger := func(name, event string, update bool) string {
		return fmt.Sprintf("CREATE TRIGGER %s BEFORE %s ON %s FOR EACH ROW\nBEGIN\n\t%s\n\tIF ms_applying = 0 AND ms_p IS NOT NULL THEN%s\n\tEND IF;\nEND",
			q(name), event, q(t.Name), myCharsetDeclare, checks(update))
	}
	return []string{trigger(names[0], "INSERT", false), trigger(names[1], "UPDATE", true)}
}

// DropCharset drops t's charset triggers.
func (d MySQLDialect) DropCharset(t Table) []string { return dropPairedCharset(d, t) }

// CharsetTriggersExist looks t's charset triggers up in
// information_schema.TRIGGERS.
func (d MySQLDialect) CharsetTriggersExist(ctx context.Context, q Querier, t Table) (bool, error) {
	ns := d.CharsetTriggerNames(t)
	if len(ns) == 0 {
		return true, nil
	}
	return countIs(ctx, q, 2, `SELECT count(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()
		AND BINARY EVENT_OBJECT_TABLE = BINARY ? AND BINARY TRIGGER_NAME IN (BINARY ?, BINARY ?)`, t.Name, ns[0], ns[1])
}

// ColumnCharsets returns the character set of each text column of table
// as information_schema.COLUMNS names it ("utf8mb4", "utf8mb3", "latin1").
// Unlike the other dialects', MySQL's text columns each have their own.
func (MySQLDialect) ColumnCharsets(ctx context.Context, q Querier, table string) (map[string]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT COLUMN_NAME, CHARACTER_SET_NAME FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = DATABASE() AND BINARY TABLE_NAME = BINARY ? AND CHARACTER_SET_NAME IS NOT NULL`, table)
	if err != nil {
		return nil, fmt.Errorf("dialect: read column character sets of %s: %w", table, err)
	}
	defer rows.Close()
	cs := map[string]string{}
	for rows.Next() {
		var col, set string
		if err := rows.Scan(&col, &set); err != nil {
			return nil, err
		}
		cs[col] = set
	}
	return cs, rows.Err()
}
