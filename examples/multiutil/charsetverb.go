package main

import (
	"fmt"
	"strings"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/codepage"
)

// --- chcodepage ------------------------------------------------------------

type chcodepageJSON struct {
	Replica    string                       `json:"replica"`
	From       string                       `json:"from"`
	To         string                       `json:"to"`
	DryRun     bool                         `json:"dry_run"`
	Changed    bool                         `json:"changed"`
	Violations []multisite.CharsetViolation `json:"violations"`
}

func cmdChcodepage(e *env, args []string) error {
	fs := newFlags(e, "chcodepage")
	dbPath := fs.String("db", "", "database `file` of the replica"+dbKinds)
	cp := fs.String("codepage", "", "the family's new data `code page` by name or number (1252, windows-1252, UTF-8)")
	dry := fs.Bool("dry-run", false, "check the replicated data against the code page (exit 1 if some does not fit), and change nothing")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(e, fs, args, false); err != nil {
		return err
	}
	if err := required("db", "codepage")(fs); err != nil {
		return err
	}
	if err := checkCodePage(*cp); err != nil {
		return err
	}
	page, _ := codepage.Lookup(*cp) // checked above
	db, st, err := openStatus(e, *dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	out := chcodepageJSON{Replica: st.Local.Name, From: st.CodePage, To: page.Name(), DryRun: *dry, Violations: []multisite.CharsetViolation{}}
	if *dry {
		rep, err := multisite.ValidateCharset(e.ctx, db, page.Name(), multisite.CharsetOptions{Tables: st.Tables})
		if err != nil {
			return err
		}
		if rep.Violations != nil {
			out.Violations = rep.Violations
		}
	} else if st.CodePage != page.Name() {
		if err := multisite.ChangeCodePage(e.ctx, db, page.Name()); err != nil {
			return fmt.Errorf("%s: %w", st.Local.Name, err)
		}
		out.Changed = true
	}
	if *asJSON {
		if err := writeJSON(e.stdout, out); err != nil {
			return err
		}
	} else {
		for _, v := range out.Violations {
			fmt.Fprintln(e.stdout, v)
		}
		switch {
		case *dry && len(out.Violations) > 0:
			fmt.Fprintf(e.stdout, "dry run: %d characters in %s's replicated data do not fit %s; nothing changed (cleancharset --codepage %s cleans them)\n", len(out.Violations), out.Replica, out.To, out.To)
		case *dry && out.From == out.To:
			fmt.Fprintf(e.stdout, "dry run: %s's family already uses %s; nothing would change\n", out.Replica, out.To)
		case *dry:
			fmt.Fprintf(e.stdout, "dry run: %s's replicated data fits %s; the family's code page would change from %s to %s; nothing changed\n", out.Replica, out.To, out.From, out.To)
		case !out.Changed:
			fmt.Fprintf(e.stdout, "%s's family already uses %s; nothing changed\n", out.Replica, out.To)
		default:
			fmt.Fprintf(e.stdout, "%s's family now uses data code page %s (was %s); the change travels in the next packets, and each replica takes it once its own data fits\n", out.Replica, out.To, out.From)
		}
	}
	if *dry && len(out.Violations) > 0 {
		return &exitError{code: exitFail}
	}
	return nil
}

// --- lscharset / enforcecharset --------------------------------------------

type charsetJSON struct {
	Replica    string                   `json:"replica"`
	CodePage   string                   `json:"code_page"`
	InDatabase bool                     `json:"in_database"`
	Enforced   string                   `json:"enforced"`
	Tables     []string                 `json:"tables"`
	Missing    []string                 `json:"missing"`
	Columns    []multisite.NarrowColumn `json:"narrow_columns"`
	DryRun     bool                     `json:"dry_run,omitempty"`
	Installed  bool                     `json:"installed,omitempty"`
}

func charsetOut(st *multisite.Status, cs *multisite.CharsetStatus) charsetJSON {
	out := charsetJSON{Replica: st.Local.Name, CodePage: cs.CodePage, InDatabase: cs.InDatabase, Enforced: cs.Enforced,
		Tables: cs.Tables, Missing: cs.Missing, Columns: cs.Columns}
	if out.Tables == nil {
		out.Tables = []string{}
	}
	if out.Missing == nil {
		out.Missing = []string{}
	}
	if out.Columns == nil {
		out.Columns = []multisite.NarrowColumn{}
	}
	return out
}

func printCharset(e *env, c charsetJSON) {
	how := "does not refuse them by itself"
	if c.InDatabase {
		how = "refuses writes outside it by itself, from any client"
	}
	fmt.Fprintf(e.stdout, "%s: data code page %s; the database %s\n", c.Replica, c.CodePage, how)
	if c.Enforced != "" && c.Enforced != c.CodePage {
		fmt.Fprintf(e.stdout, "the triggers enforce %s, not %s: run enforcecharset\n", c.Enforced, c.CodePage)
	}
	if len(c.Tables) > 0 {
		fmt.Fprintf(e.stdout, "checked tables: %s\n", strings.Join(c.Tables, ", "))
	}
	if len(c.Missing) > 0 {
		fmt.Fprintf(e.stdout, "tables without charset triggers: %s (enforcecharset installs them)\n", strings.Join(c.Missing, ", "))
	}
	for _, n := range c.Columns {
		fmt.Fprintf(e.stdout, "column %s.%s (%s) cannot hold every character of %s: imports refuse such strings for it\n", n.Table, n.Column, n.Charset, c.CodePage)
	}
}

func cmdLscharset(e *env, args []string) error {
	fs := newFlags(e, "lscharset")
	dbPath := fs.String("db", "", "database `file` of the replica"+dbKinds)
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(e, fs, args, false); err != nil {
		return err
	}
	if err := required("db")(fs); err != nil {
		return err
	}
	db, st, err := openStatus(e, *dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	cs, err := multisite.ReadCharsetStatus(e.ctx, db)
	if err != nil {
		return err
	}
	out := charsetOut(st, cs)
	if *asJSON {
		return writeJSON(e.stdout, out)
	}
	printCharset(e, out)
	return nil
}

func cmdEnforcecharset(e *env, args []string) error {
	fs := newFlags(e, "enforcecharset")
	dbPath := fs.String("db", "", "database `file` of the replica"+dbKinds)
	dry := fs.Bool("dry-run", false, "say which tables would get charset triggers, and change nothing")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(e, fs, args, false); err != nil {
		return err
	}
	if err := required("db")(fs); err != nil {
		return err
	}
	db, st, err := openStatus(e, *dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	before, err := multisite.ReadCharsetStatus(e.ctx, db)
	if err != nil {
		return err
	}
	if *dry {
		out := charsetOut(st, before)
		out.DryRun = true
		if *asJSON {
			return writeJSON(e.stdout, out)
		}
		tables := append(append([]string{}, before.Tables...), before.Missing...)
		fmt.Fprintf(e.stdout, "dry run: %s would (re)install the triggers enforcing %s on %d tables (%s), %d of them now without; nothing changed\n",
			st.Local.Name, before.CodePage, len(tables), strings.Join(tables, ", "), len(before.Missing))
		return nil
	}
	if err := multisite.EnforceCharset(e.ctx, db); err != nil {
		return fmt.Errorf("%s: %w", st.Local.Name, err)
	}
	after, err := multisite.ReadCharsetStatus(e.ctx, db)
	if err != nil {
		return err
	}
	out := charsetOut(st, after)
	out.Installed = true
	if *asJSON {
		return writeJSON(e.stdout, out)
	}
	fmt.Fprintf(e.stdout, "%s: charset triggers (re)installed on %d tables\n", st.Local.Name, len(after.Tables))
	printCharset(e, out)
	return nil
}
