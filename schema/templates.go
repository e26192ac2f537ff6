package schema

import (
	"bytes"
	"embed"
	"fmt"
	"go/format"
	"io"
	"regexp"
	"strings"
	"text/template"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var templates = template.Must(template.ParseFS(templateFS, "templates/*.tmpl"))

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// HookOptions controls GenerateHooks. The zero value generates package
// "sitehooks" with constructor New, moving rows of table "defect" by their
// "owner" column.
type HookOptions struct {
	Package     string // Go package name; "" means "sitehooks"
	Func        string // constructor name; "" means "New"
	Table       string // table whose rows follow their owner's site; "" means "defect"
	OwnerColumn string // column naming a row's owner; "" means "owner"
}

// GenerateHooks writes a Go source file with a skeleton of every hook of
// package hooks, ready to edit: a constructor returning a *hooks.Hooks, an
// Options struct, and one method per hook point with a working example
// (hand a row to the site of its owner before export, grant requests by
// table, log the rest). The output is gofmt-formatted and compiles against
// this version of the hooks package.
func GenerateHooks(w io.Writer, opt HookOptions) error {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&opt.Package, "sitehooks")
	def(&opt.Func, "New")
	def(&opt.Table, "defect")
	def(&opt.OwnerColumn, "owner")
	for _, f := range []struct{ name, v string }{{"Package", opt.Package}, {"Func", opt.Func}} {
		if !identifier.MatchString(f.v) {
			return fmt.Errorf("schema: HookOptions.%s %q is not a Go identifier", f.name, f.v)
		}
	}
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, "hooks.go.tmpl", opt); err != nil {
		return fmt.Errorf("schema: hook template: %w", err)
	}
	src, err := format.Source(b.Bytes())
	if err != nil {
		return fmt.Errorf("schema: hook template made invalid Go: %w", err)
	}
	_, err = w.Write(src)
	return err
}

// CheckOptions describes a custom mastership check: a trigger set on one
// of the user's own tables that refuses INSERT, UPDATE and DELETE unless
// the local replica masters the row, like the library's own enforcement.
// The master is read from Column of the row itself, or, with Parent, from
// the mastership field of the row of Parent that Refs point to (so a child
// row may change only where its parent is mastered). Imports pass: the
// check stands aside while ms_ctl.applying is set.
type CheckOptions struct {
	Table string   // the table to guard; required
	Key   []string // its primary key columns, for the error message; required
	// Column is the column of Table naming the master replica's ID; ""
	// means ms_master. Ignored with Parent.
	Column string
	// Parent is a replicated table whose row masters this one: Refs are
	// the columns of Table that equal ParentKey of Parent.
	Parent    string
	ParentKey []string
	Refs      []string
	// Prefix names the triggers (Prefix_bi, ...); "" means "ms_check_" + Table.
	Prefix string
}

// checkData is what the check templates see.
type checkData struct {
	opt                                 CheckOptions
	q                                   func(string) string
	key                                 func(row string) string
	TableName, Mode, Source, Table, Lit string
	Parent                              bool
	Events                              []checkEvent
}

type checkEvent struct {
	Suffix, Event string
	Rows          []string
}

// Name is the quoted name of one of the triggers.
func (c checkData) Name(suffix string) string { return c.q(c.opt.Prefix + "_" + suffix) }

// Key is the row's key as text, for messages.
func (c checkData) Key(row string) string { return c.key(row) }

// Master is the expression of the master replica of row (NEW or OLD).
func (c checkData) Master(row string) string {
	if !c.Parent {
		return row + "." + c.q(c.opt.Column)
	}
	var conds []string
	for i, k := range c.opt.ParentKey {
		conds = append(conds, "p."+c.q(k)+" = "+row+"."+c.q(c.opt.Refs[i]))
	}
	return fmt.Sprintf("(SELECT p.ms_master FROM %s p WHERE %s)", c.q(c.opt.Parent), strings.Join(conds, " AND "))
}

// GenerateMastershipCheck writes the SQL of a custom mastership check (see
// CheckOptions) for dialect ("sqlite", "postgres" or "mysql"). The text
// splits into statements with SplitStatements, so it can be a migration's
// SQL for that dialect and reach every replica that way. Names must be
// plain identifiers (letters, digits, underscores): they are written into
// SQL.
func GenerateMastershipCheck(w io.Writer, dialect string, opt CheckOptions) error {
	if opt.Column == "" {
		opt.Column = "ms_master"
	}
	if opt.Prefix == "" {
		opt.Prefix = "ms_check_" + opt.Table
	}
	if opt.Table == "" || len(opt.Key) == 0 {
		return fmt.Errorf("%w: CheckOptions needs Table and Key", ErrInvalidMigration)
	}
	if opt.Parent != "" && (len(opt.ParentKey) == 0 || len(opt.ParentKey) != len(opt.Refs)) {
		return fmt.Errorf("%w: CheckOptions.Parent needs as many ParentKey as Refs columns", ErrInvalidMigration)
	}
	names := append([]string{opt.Table, opt.Column, opt.Prefix, opt.Parent}, opt.Key...)
	names = append(append(names, opt.ParentKey...), opt.Refs...)
	for _, n := range names {
		if n != "" && !identifier.MatchString(n) {
			return fmt.Errorf("%w: %q is not a plain identifier", ErrInvalidMigration, n)
		}
	}
	c := checkData{opt: opt, TableName: opt.Table, Parent: opt.Parent != "", Lit: "'" + opt.Table + "'"}
	c.Mode, c.Source = "master in column "+opt.Column, "the row's "+opt.Column
	if c.Parent {
		c.Mode = "master of the parent row in " + opt.Parent
		c.Source = "the ms_master of the row of " + opt.Parent + " it refers to"
	}
	keyText := func(sep, open, close string, cast string) func(string) string {
		return func(row string) string {
			var parts []string
			for _, k := range opt.Key {
				parts = append(parts, row+"."+c.q(k)+cast)
			}
			return open + strings.Join(parts, sep) + close
		}
	}
	switch dialect {
	case SQLite:
		c.q = func(s string) string { return `"` + s + `"` }
		c.key = keyText(" || ',' || ", "", "", "")
	case Postgres:
		c.q = func(s string) string { return `"` + s + `"` }
		c.key = keyText(", ", "concat_ws(',', ", ")", "::text")
	case MySQL:
		c.q = func(s string) string { return "`" + s + "`" }
		c.key = keyText(", ", "CONCAT_WS(',', ", ")", "")
		update := []string{"OLD"}
		if c.Parent {
			update = append(update, "NEW")
		}
		c.Events = []checkEvent{{"bi", "INSERT", []string{"NEW"}}, {"bu", "UPDATE", update}, {"bd", "DELETE", []string{"OLD"}}}
	default:
		return fmt.Errorf("schema: no mastership check template for dialect %q (known: %s)", dialect, strings.Join(dialects, ", "))
	}
	c.Table = c.q(opt.Table)
	return templates.ExecuteTemplate(w, "check."+dialect+".sql.tmpl", c)
}
