package dialect

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite/codepage"
	"github.com/multisite-go/multisite/internal/testdb"
)

// TestCharset_PatternIsTheRepertoire asks each real database which runes
// the pattern its charset triggers use refuses, and compares with the
// library's repertoire, rune by rune over the whole Basic Multilingual
// Plane and a sample beyond it. The triggers must refuse exactly what
// imports refuse: a rune they let through would stall replication at
// every other replica, and one they refuse wrongly would block a legal
// write.
func TestCharset_PatternIsTheRepertoire(t *testing.T) {
	pages := codepage.All()
	if testing.Short() {
		pages = nil
		for _, n := range []string{"windows-1252", "KOI8-U", "ISO-8859-8", "Shift_JIS", "Big5", "UTF-8"} {
			cp, err := codepage.Lookup(n)
			if err != nil {
				t.Fatal(err)
			}
			pages = append(pages, cp)
		}
	}
	extra := []rune{0x10000, 0x1F600, 0x1F44D, 0x20021, 0x2000B, 0x2F9D4, 0x10FFFF}
	for _, dn := range testdb.Dialects {
		t.Run(dn, func(t *testing.T) {
			db := openFor(t, dn)
			d, err := ByName(Name(dn))
			if err != nil {
				t.Fatal(err)
			}
			e := d.(CharsetEnforcer)
			for _, cp := range pages {
				t.Run(cp.Name(), func(t *testing.T) {
					cs := e.Charset(cp.Name(), cp.RangeTable(), cp.Universal())
					if cp.Universal() {
						if cs.Pattern != "" {
							t.Errorf("universal code page has pattern %q", cs.Pattern)
						}
						return
					}
					runes := candidates(cp, extra)
					refused := refusedRunes(t, db, Name(dn), cs.Pattern, runes)
					var wrong []string
					for _, r := range runes {
						if refused[r] == cp.Contains(r) && len(wrong) < 10 {
							wrong = append(wrong, fmt.Sprintf("%U refused=%v", r, refused[r]))
						}
					}
					if len(wrong) > 0 {
						t.Errorf("the %s pattern disagrees with the repertoire of %s: %s", dn, cp.Name(), strings.Join(wrong, ", "))
					}
				})
			}
		})
	}
}

// candidates returns the runes to ask the database about: the whole Basic
// Multilingual Plane (but surrogates) for a code page of few ranges; for
// the large East Asian ones, where the databases take longest, both sides
// of every range boundary and every seventh rune; and extra.
func candidates(cp *codepage.CodePage, extra []rune) []rune {
	rt := cp.RangeTable()
	want := map[rune]bool{}
	add := func(r rune) {
		if r > 0 && r <= utf8.MaxRune && (r < 0xD800 || r > 0xDFFF) {
			want[r] = true
		}
	}
	step := rune(1)
	if len(rt.R16) > 300 {
		step = 7
		for _, g := range rt.R16 {
			for _, r := range []rune{rune(g.Lo) - 1, rune(g.Lo), rune(g.Hi), rune(g.Hi) + 1} {
				add(r)
			}
		}
	}
	for r := rune(1); r < 0x10000; r += step {
		add(r)
	}
	for _, r := range extra {
		add(r)
	}
	out := make([]rune, 0, len(want))
	for r := range want {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

func openFor(t *testing.T, dn string) *sql.DB {
	t.Helper()
	return testdb.Open(t, dn, "charset_pattern")
}

// refusedRunes returns the runes of runes that pattern matches on the
// database, as the triggers apply it.
func refusedRunes(t *testing.T, db *sql.DB, d Name, pattern string, runes []rune) map[rune]bool {
	t.Helper()
	ctx := context.Background()
	list := make([]string, len(runes))
	for i, r := range runes {
		list[i] = fmt.Sprint(r)
	}
	var q string
	arg := "[" + strings.Join(list, ",") + "]"
	switch d {
	case Postgres:
		arg = "{" + strings.Join(list, ",") + "}"
		q = `SELECT n FROM unnest($1::int[]) AS n WHERE chr(n) ~ $2`
	case MySQL:
		q = `SELECT n FROM JSON_TABLE(?, '$[*]' COLUMNS (n INT PATH '$')) AS j
			WHERE CONVERT(CHAR(n USING utf32) USING utf8mb4) COLLATE utf8mb4_bin REGEXP ?`
	case SQLite:
		q = `SELECT value FROM json_each(?) WHERE char(value) GLOB ?`
	}
	rows, err := db.QueryContext(ctx, q, arg, pattern)
	if err != nil {
		t.Fatalf("query the %s pattern: %v", d, err)
	}
	defer rows.Close()
	out := map[rune]bool{}
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[rune(n)] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCharset_Columns(t *testing.T) {
	tb := Table{Name: "t", Columns: []Column{
		{Name: "id", Type: "INTEGER", Key: 1}, {Name: "title", Type: "character varying(20)"}, {Name: "body", Type: "longtext"},
		{Name: "doc", Type: "jsonb"}, {Name: "state", Type: "enum('open','closed')"}, {Name: "blob", Type: "BLOB"},
		{Name: "at", Type: "datetime(6)"}, {Name: "code", Type: "CHAR(4)"},
	}}
	var got []string
	for _, c := range CharsetColumns(tb) {
		got = append(got, c.Name)
	}
	if diff := cmp.Diff([]string{"title", "body", "doc", "code"}, got); diff != "" {
		t.Errorf("CharsetColumns (-want +got):\n%s", diff)
	}
	for _, d := range []CharsetEnforcer{SQLiteDialect{}, PostgresDialect{}, MySQLDialect{}} {
		if n := d.CharsetTriggerNames(Table{Name: "n", Columns: []Column{{Name: "id", Type: "INTEGER", Key: 1}}}); n != nil {
			t.Errorf("%T: a table without text columns gets triggers %v", d, n)
		}
		if len(d.CharsetTriggers(tb)) == 0 || len(d.CharsetTriggerNames(tb)) == 0 {
			t.Errorf("%T: no triggers for a table with text columns", d)
		}
	}
}

// TestCharset_RowIsPlainASCII checks that the plan's INSERT of the code
// page reads the same whatever the connection's character set: it is ASCII.
func TestCharset_RowIsPlainASCII(t *testing.T) {
	cp, err := codepage.Lookup("windows-1252")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []CharsetEnforcer{SQLiteDialect{}, PostgresDialect{}, MySQLDialect{}} {
		row := strings.Join(d.CharsetSet(d.Charset(cp.Name(), cp.RangeTable(), false)), ";")
		for i := 0; i < len(row); i++ {
			if row[i] >= utf8.RuneSelf || row[i] < ' ' {
				t.Errorf("%T: byte %#x at %d of the row's INSERT", d, row[i], i)
				break
			}
		}
	}
}
