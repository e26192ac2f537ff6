package dialect

import (
	"context"
	"fmt"
	"strings"
	"unicode"
)

var _ CharsetEnforcer = PostgresDialect{}

// CharsetMeta creates ms_charset.
func (PostgresDialect) CharsetMeta() []string {
	return []string{`CREATE TABLE ms_charset (
	id BIGINT PRIMARY KEY,
	code_page TEXT NOT NULL,
	pattern TEXT,
	chars TEXT
)`}
}

// Charset writes the code page as a regular expression (an ARE) matching
// any character outside it, with \u and \U escapes, so the pattern is
// ASCII. The regex is exactly the library's repertoire: the server's own
// conversions (convert_to) differ from it for many code pages, both ways
// (PostgreSQL's SJIS takes ¢ £ ¥ ¬ ‖ ‾ − 〜, which Windows-31J lacks; its
// BIG5 lacks 3076 characters HKSCS has), and would let through strings
// other replicas then refuse. PostgreSQL caches the compiled expression per
// session, so a check costs about as much as the conversion would.
func (PostgresDialect) Charset(name string, rt *unicode.RangeTable, universal bool) Charset {
	cs := Charset{CodePage: name}
	if !universal {
		cs.Pattern = rangeClass(rt, 1, func(r rune) string {
			if r > 0xFFFF {
				return fmt.Sprintf(`\U%08X`, r)
			}
			return fmt.Sprintf(`\u%04X`, r)
		})
	}
	return cs
}

// pgLiteral is an escape string (E'...') of s, which reads the same
// whatever standard_conforming_strings says.
func pgLiteral(s string) string {
	return "E'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}

// CharsetSet replaces the row of ms_charset and the function
// ms_charset_pattern, which the triggers call for the pattern. An
// IMMUTABLE SQL function returning a literal is folded into the triggers'
// cached plans, so the expression is compiled once per session; a pattern
// read from a table per row (tens of kilobytes, TOASTed, for the East Asian
// code pages) costs 20 to 100 times as much. Replacing the function
// invalidates those plans in every session, and, being DDL, is
// transactional on PostgreSQL like the rest.
func (PostgresDialect) CharsetSet(cs Charset) []string {
	pattern := "NULL::text"
	if cs.Pattern != "" {
		pattern = "text " + pgLiteral(cs.Pattern)
	}
	return append(charsetSet(cs, pgLiteral),
		fmt.Sprintf("CREATE OR REPLACE FUNCTION ms_charset_pattern() RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $ms$ SELECT %s $ms$", pattern))
}

// CharsetMetaDrop drops ms_charset and ms_charset_pattern.
func (PostgresDialect) CharsetMetaDrop() []string {
	return append(DropCharsetMeta(), "DROP FUNCTION IF EXISTS ms_charset_pattern()")
}

// CharsetTriggerNames is the one trigger, and its function, of t.
func (d PostgresDialect) CharsetTriggerNames(t Table) []string {
	if len(CharsetColumns(t)) == 0 {
		return nil
	}
	return []string{triggerName(d, t.Name, "charset")}
}

// CharsetTriggers returns a BEFORE INSERT OR UPDATE trigger that raises
// character_not_in_repertoire for the first text column holding a
// character outside the code page. PostgreSQL fires BEFORE triggers in
// name order, so it runs before the enforcement trigger.
func (d PostgresDialect) CharsetTriggers(t Table) []string {
	cols := CharsetColumns(t)
	if len(cols) == 0 {
		return nil
	}
	q := d.Quote
	name := q(d.CharsetTriggerNames(t)[0])
	var checks strings.Builder
	for _, c := range cols {
		v := "NEW." + q(c.Name)
		if KindOf(c.Type) != KindText {
			v += "::text"
		}
		fmt.Fprintf(&checks, `
	IF TG_OP = 'INSERT' OR NEW.%s IS DISTINCT FROM OLD.%s THEN
		ms_b := substring(%s from ms_charset_pattern());
		IF ms_b IS NOT NULL THEN
			SELECT code_page INTO ms_page FROM ms_charset WHERE id = 1;
			RAISE EXCEPTION USING ERRCODE = 'character_not_in_repertoire',
				MESSAGE = format('multisite: charset: %%s[%%s].%%s has U+%%s %%L at byte %%s, outside code page %%s',
					%s, %s, %s, upper(lpad(to_hex(ascii(ms_b)), greatest(4, length(to_hex(ascii(ms_b)))), '0')), ms_b, octet_length(left(%s, strpos(%s, ms_b) - 1)), ms_page);
		END IF;
	END IF;`, q(c.Name), q(c.Name), v, literal(t.Name), d.keyText(t, "NEW"), literal(c.Name), v, v)
	}
	return []string{
		requote(name, fmt.Sprintf(`CREATE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $ms$
DECLARE
	ms_b TEXT;
	ms_page TEXT;
BEGIN
	IF ms_charset_pattern() IS NULL OR current_setting('multisite.applying', true) = 'on' THEN
		RETURN NEW;
	END IF;%s
	RETURN NEW;
END
$ms$`, name, checks.String())),
		fmt.Sprintf("CREATE TRIGGER %s BEFORE INSERT OR UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION %s()", name, q(t.Name), name),
		// ALWAYS: it fires under session_replication_role = replica too.
		fmt.Sprintf("ALTER TABLE %s ENABLE ALWAYS TRIGGER %s", q(t.Name), name),
	}
}

// DropCharset drops t's charset trigger and its function.
func (d PostgresDialect) DropCharset(t Table) []string {
	n := d.Quote(triggerName(d, t.Name, "charset"))
	return []string{
		fmt.Sprintf("DROP TRIGGER IF EXISTS %s ON %s", n, d.Quote(t.Name)),
		fmt.Sprintf("DROP FUNCTION IF EXISTS %s()", n),
	}
}

// CharsetTriggersExist looks t's charset trigger up in pg_trigger.
func (d PostgresDialect) CharsetTriggersExist(ctx context.Context, q Querier, t Table) (bool, error) {
	ns := d.CharsetTriggerNames(t)
	if len(ns) == 0 {
		return true, nil
	}
	return countIs(ctx, q, 1, `SELECT count(*) FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
		WHERE g.tgname = $1 AND c.relname = $2 AND c.relnamespace = current_schema()::regnamespace`, ns[0], t.Name)
}
