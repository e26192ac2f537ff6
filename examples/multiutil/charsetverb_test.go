package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCharsetVerbs: chcodepage changes the family's code page (its dry run
// lists what does not fit and changes nothing), lscharset shows how the
// database enforces it, enforcecharset reinstalls missing triggers.
func TestCharsetVerbs(t *testing.T) {
	f := newFamily(t)
	codePage := func(db string) string {
		var ls lsreplicaOut
		jsonOut(t, &ls, "lsreplica", "--db", db, "--json")
		return ls.CodePage
	}
	orig := codePage(f.boston)

	t.Run("chcodepage bad input", func(t *testing.T) {
		_, stderr := multiutil(t, exitUsage, "chcodepage", "--db", f.boston, "--codepage", "no-such-page")
		if !strings.Contains(stderr, "no-such-page") {
			t.Errorf("an unknown code page says %q", stderr)
		}
		multiutil(t, exitUsage, "chcodepage", "--db", f.boston)
		multiutil(t, exitOK, "chcodepage", "--help")
		if got := codePage(f.boston); got != orig {
			t.Errorf("code page after bad input = %s, want %s", got, orig)
		}
	})

	t.Run("chcodepage dry run with violations", func(t *testing.T) {
		before := contentHash(t, f.boston)
		out, _ := multiutil(t, exitFail, "chcodepage", "--db", f.boston, "--codepage", "US-ASCII", "--dry-run", "--json")
		var dry chcodepageJSON
		if err := json.Unmarshal([]byte(out), &dry); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, out)
		}
		var got []string
		for _, v := range dry.Violations {
			got = append(got, fmt.Sprintf("%s[%s].%s %s", v.Table, v.Key, v.Column, v.Char))
		}
		want := []string{"defect[3].headline é", "defect[3].headline é", "note[2,1].body ë"}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("violations (-want +got):\n%s", d)
		}
		if !dry.DryRun || dry.Changed || dry.Replica != "boston" || dry.From != orig {
			t.Errorf("dry run = %+v", dry)
		}
		text, _ := multiutil(t, exitFail, "chcodepage", "--db", f.boston, "--codepage", "US-ASCII", "--dry-run")
		if !strings.Contains(text, "boston's replicated data") || !strings.Contains(text, "nothing changed") {
			t.Errorf("dry run text:\n%s", text)
		}
		_, stderr := multiutil(t, exitFail, "chcodepage", "--db", f.boston, "--codepage", "US-ASCII")
		if !strings.Contains(stderr, "boston") {
			t.Errorf("refused change says %q", stderr)
		}
		if got := codePage(f.boston); got != orig || contentHash(t, f.boston) != before {
			t.Errorf("code page %s (want %s) or data changed by a refused change", got, orig)
		}
	})

	t.Run("chcodepage", func(t *testing.T) {
		var dry chcodepageJSON
		jsonOut(t, &dry, "chcodepage", "--db", f.boston, "--codepage", "UTF-8", "--dry-run", "--json")
		if len(dry.Violations) != 0 || dry.Changed || dry.To == orig {
			t.Errorf("dry run to UTF-8 = %+v", dry)
		}
		if got := codePage(f.boston); got != orig {
			t.Fatalf("the dry run changed the code page to %s", got)
		}
		// Under the old page the database refuses a check mark by itself.
		if err := execErr(t, f.boston, `INSERT INTO defect (id, headline) VALUES (10, 'Build ✓')`); err == nil || !strings.Contains(err.Error(), "code page") {
			t.Fatalf("a check mark under %s: error %v, want a refusal naming the code page", orig, err)
		}
		var done chcodepageJSON
		jsonOut(t, &done, "chcodepage", "--db", f.boston, "--codepage", "UTF-8", "--json")
		if !done.Changed || done.From != orig || codePage(f.boston) != done.To {
			t.Errorf("chcodepage = %+v; code page now %s", done, codePage(f.boston))
		}
		execTest(t, f.boston, `INSERT INTO defect (id, headline) VALUES (10, 'Build ✓')`)
		out, _ := multiutil(t, exitOK, "chcodepage", "--db", f.boston, "--codepage", "UTF-8")
		if !strings.Contains(out, "already uses") {
			t.Errorf("changing to the current page says %q", out)
		}
		// The change travels: bangalore takes it from the next packet.
		multiutil(t, exitOK, "syncreplica", "-export", "--db", f.boston, "--to", "bangalore", "--bay", f.bay)
		multiutil(t, exitOK, "syncreplica", "-import", "--db", f.blr, "--bay", f.bay)
		if got := codePage(f.blr); got != done.To {
			t.Errorf("bangalore's code page after sync = %s, want %s", got, done.To)
		}
	})

	t.Run("lscharset and enforcecharset", func(t *testing.T) {
		var cs charsetJSON
		jsonOut(t, &cs, "lscharset", "--db", f.blr, "--json")
		if !cs.InDatabase || cs.Replica != "bangalore" || cs.Enforced != cs.CodePage || len(cs.Missing) != 0 {
			t.Fatalf("lscharset = %+v", cs)
		}
		if d := cmp.Diff([]string{"defect", "note"}, cs.Tables); d != "" {
			t.Errorf("checked tables (-want +got):\n%s", d)
		}
		execTest(t, f.blr, `DROP TRIGGER ms_note_ci`, `DROP TRIGGER ms_note_cu`)
		jsonOut(t, &cs, "lscharset", "--db", f.blr, "--json")
		if cs.InDatabase || cmp.Diff([]string{"note"}, cs.Missing) != "" {
			t.Fatalf("after dropping note's triggers, lscharset = %+v", cs)
		}
		out, _ := multiutil(t, exitOK, "enforcecharset", "--db", f.blr, "--dry-run")
		if !strings.Contains(out, "bangalore would") || !strings.Contains(out, "nothing changed") {
			t.Errorf("enforcecharset --dry-run says %q", out)
		}
		jsonOut(t, &cs, "lscharset", "--db", f.blr, "--json")
		if len(cs.Missing) != 1 {
			t.Fatalf("the dry run changed the triggers: %+v", cs)
		}
		var done charsetJSON
		jsonOut(t, &done, "enforcecharset", "--db", f.blr, "--json")
		if !done.Installed || !done.InDatabase || len(done.Missing) != 0 {
			t.Errorf("enforcecharset = %+v", done)
		}
		text, _ := multiutil(t, exitOK, "lscharset", "--db", f.blr)
		if !strings.Contains(text, "bangalore: data code page") || strings.Contains(text, "without charset triggers") {
			t.Errorf("lscharset text:\n%s", text)
		}
		multiutil(t, exitUsage, "lscharset")
		multiutil(t, exitUsage, "enforcecharset")
	})
}

// execErr runs one statement on a SQLite file and returns its error.
func execErr(t *testing.T, path, stmt string) error {
	t.Helper()
	_, err := openTest(t, path).Exec(stmt)
	return err
}
