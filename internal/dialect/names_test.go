package dialect

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestObject_ShortensOnlyWhatTheVendorCannotHold(t *testing.T) {
	long56 := strings.Repeat("t", 56)
	cjk := strings.Repeat("日", 21) // 63 bytes
	for _, tc := range []struct {
		d      Dialect
		name   string
		fits   func(string) bool
		verbat bool // prefix + name + suffix unchanged
	}{
		{SQLiteDialect{}, strings.Repeat("x", 500), func(string) bool { return true }, true},
		{PostgresDialect{}, "q?mark", pgFits, true},
		{PostgresDialect{}, long56, pgFits, false},
		{PostgresDialect{}, cjk, pgFits, false},
		{MySQLDialect{}, strings.Repeat("t", 57), myFits, true}, // ms_row_ + 57 = 64
		{MySQLDialect{}, strings.Repeat("t", 58), myFits, false},
		{MySQLDialect{}, strings.Repeat("日", 40), myFits, false}, // 64 characters but a file name of 200+ bytes
	} {
		for _, aff := range [][2]string{{"ms_row_", ""}, {"ms_stage_", ""}, {"ms_", "_enforce"}, {"ms_ix_row_", "_pending"}} {
			got := tc.d.Object(aff[0], tc.name, aff[1])
			if !tc.fits(got) {
				t.Errorf("%s: Object(%q, %q, %q) = %q does not fit", tc.d.Name(), aff[0], tc.name, aff[1], got)
			}
			if !utf8.ValidString(got) || !strings.HasPrefix(got, aff[0]) || !strings.HasSuffix(got, aff[1]) {
				t.Errorf("%s: Object(%q, %q, %q) = %q lost its prefix, suffix or UTF-8", tc.d.Name(), aff[0], tc.name, aff[1], got)
			}
			verbatim := got == aff[0]+tc.name+aff[1]
			if tc.verbat && !verbatim && tc.fits(aff[0]+tc.name+aff[1]) {
				t.Errorf("%s: Object(%q, %q, %q) = %q, want it unchanged", tc.d.Name(), aff[0], tc.name, aff[1], got)
			}
			if again := tc.d.Object(aff[0], tc.name, aff[1]); again != got {
				t.Errorf("%s: Object is not stable: %q then %q", tc.d.Name(), got, again)
			}
			// A name sharing the long one's beginning gets another object.
			if other := tc.d.Object(aff[0], tc.name+"2", aff[1]); other == got {
				t.Errorf("%s: %q and %q share the object %q", tc.d.Name(), tc.name, tc.name+"2", got)
			}
		}
	}
}

func TestRebindDollar_LeavesQuotedTextAlone(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`SELECT ? FROM t`, `SELECT $1 FROM t`},
		{`UPDATE "ms_row_q?mark" SET ms_epoch = ? WHERE a = ?`, `UPDATE "ms_row_q?mark" SET ms_epoch = $1 WHERE a = $2`},
		{`SELECT "a""?""b", '?''?', ? FROM "x"`, `SELECT "a""?""b", '?''?', $1 FROM "x"`},
		{`INSERT INTO "it's?" VALUES (?, '"?')`, `INSERT INTO "it's?" VALUES ($1, '"?')`},
		{`no placeholders`, `no placeholders`},
	} {
		if got := rebindDollar(tc.in); got != tc.want {
			t.Errorf("rebindDollar(%q):\n%s", tc.in, cmp.Diff(tc.want, got))
		}
	}
}

func TestDollarQuote_RoundTrips(t *testing.T) {
	for _, body := range []string{"BEGIN END", "x $ms$ y", "$ms$$ms1$", "a $ms2$ b $ms$ c $ms1$"} {
		q := dollarQuote(body)
		head := pgFunctionHead(`"f"`)
		got, ok := dollarBody(head, head+q)
		if !ok || got != body {
			t.Errorf("dollarQuote(%q) = %q, read back as %q, %v", body, q, got, ok)
		}
		if tag := q[:strings.IndexByte(q[1:], '$')+2]; strings.Contains(body, tag) {
			t.Errorf("dollarQuote(%q) = %q: the tag %s occurs in the body", body, q, tag)
		}
	}
}

func TestMyLiteral_EscapesBackslashesAndQuotes(t *testing.T) {
	for in, want := range map[string]string{`trail\`: `'trail\\'`, `it's`: `'it''s'`, `a\'b`: `'a\\''b'`} {
		if got := myLiteral(in); got != want {
			t.Errorf("myLiteral(%q) = %s, want %s", in, got, want)
		}
	}
}
