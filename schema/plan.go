package schema

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/multisite-go/multisite/internal/dialect"
)

// Table is a replicated table's name and columns in portable form.
type Table = dialect.Table

// Column is one column of a Table.
type Column = dialect.Column

// Step is one statement of a plan with the reason it is there.
type Step struct {
	Comment string
	SQL     string
}

// Plan is an ordered list of statements for one dialect. The zero value is
// an empty plan.
type Plan struct {
	Dialect dialect.Name
	Steps   []Step
}

func (p *Plan) add(comment string, stmts ...string) {
	for _, s := range stmts {
		p.Steps = append(p.Steps, Step{Comment: comment, SQL: s})
	}
}

// String renders the plan as an SQL script with comments.
func (p Plan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "-- multisite schema plan for %s: %d statements\n", p.Dialect, len(p.Steps))
	last := ""
	for _, s := range p.Steps {
		if s.Comment != last {
			fmt.Fprintf(&b, "\n-- %s\n", s.Comment)
			last = s.Comment
		}
		b.WriteString(s.SQL)
		b.WriteString(";\n")
	}
	return b.String()
}

// Activation plans the metadata tables and, for each table, the mastership
// field, the shadow and transfer log, and the triggers. local is the ID of
// the replica that will master every existing row.
func Activation(d dialect.Dialect, tables []Table, local string) Plan {
	p := Metadata(d)
	for _, t := range tables {
		p.add("table "+t.Name+": mastership field, shadow, transfer log", d.Inject(t, local)...)
		p.add("table "+t.Name+": capture and enforcement triggers", d.Triggers(t)...)
	}
	return p
}

// Creation plans a replica created from a packet: the metadata tables and,
// for each table, the table itself, its shadow and transfer log. Triggers
// come after the rows are loaded ([Triggers]).
func Creation(d dialect.Dialect, tables []Table, local string) Plan {
	p := Metadata(d)
	for _, t := range tables {
		p.add("table "+t.Name, d.CreateTable(t, local))
		p.add("table "+t.Name+": shadow and transfer log", d.ShadowDDL(t)...)
	}
	return p
}

// Triggers plans the capture and enforcement triggers of tables.
func Triggers(d dialect.Dialect, tables []Table) Plan {
	p := Plan{Dialect: d.Name()}
	for _, t := range tables {
		p.add("table "+t.Name+": capture and enforcement triggers", d.Triggers(t)...)
	}
	return p
}

// Deactivation plans the removal of everything Activation added, leaving
// the user's tables and rows as they were before activation.
func Deactivation(d dialect.Dialect, tables []Table) Plan {
	p := CharsetRemoval(d, tables)
	for _, t := range tables {
		p.add("table "+t.Name+": remove triggers, shadow, transfer log, mastership field", d.Uninject(t)...)
	}
	p.add("metadata tables", dialect.DropMetaFormat()...)
	p.add("metadata tables", d.DropMeta()...)
	return p
}

// ApplyError reports the statement of a plan that failed and how many
// statements before it ran.
type ApplyError struct {
	Applied int
	Step    Step
	Err     error
}

func (e *ApplyError) Error() string {
	return fmt.Sprintf("schema: statement %d (%s) failed: %v", e.Applied+1, e.Step.Comment, e.Err)
}

func (e *ApplyError) Unwrap() error { return e.Err }

// Apply runs the plan's statements in order on q, which should be a
// transaction so that a failure leaves nothing applied.
func Apply(ctx context.Context, q dialect.Querier, p Plan) error {
	for i, s := range p.Steps {
		if _, err := q.ExecContext(ctx, s.SQL); err != nil {
			return &ApplyError{Applied: i, Step: s, Err: err}
		}
	}
	return nil
}

// ErrNoPrimaryKey is returned when a table to replicate has no primary key.
var ErrNoPrimaryKey = errors.New("schema: table has no primary key")

// NoPrimaryKeyError names every table that has no primary key.
type NoPrimaryKeyError struct {
	Tables []string
}

func (e *NoPrimaryKeyError) Error() string {
	return fmt.Sprintf("schema: tables without a primary key cannot be replicated: %s; add a primary key or exclude them", strings.Join(e.Tables, ", "))
}

// Unwrap returns ErrNoPrimaryKey.
func (e *NoPrimaryKeyError) Unwrap() error { return ErrNoPrimaryKey }

// ErrLooseKey is returned when a table's primary key compares other than
// byte for byte on its vendor (by case, accents or trailing spaces): keys
// that other replicas keep apart would become one row there.
var ErrLooseKey = errors.New("schema: primary key does not compare byte for byte")

// LooseKeyError names a key column that cannot keep apart keys differing
// only by case, accents or trailing spaces, and why.
type LooseKeyError struct {
	Table  string
	Column string
	Reason string
}

func (e *LooseKeyError) Error() string {
	return fmt.Sprintf("schema: key column %s of %s cannot keep apart keys that differ only by case or trailing spaces: %s", e.Column, e.Table, e.Reason)
}

// Unwrap returns ErrLooseKey.
func (e *LooseKeyError) Unwrap() error { return ErrLooseKey }

// ErrUnknownTable is returned for a table name that is not in the local
// schema (or not replicated).
var ErrUnknownTable = errors.New("schema: unknown table")

// UnknownTableError names a table (or table.column) not in the local schema.
type UnknownTableError struct {
	Table, Column string
}

func (e *UnknownTableError) Error() string {
	if e.Column != "" {
		return fmt.Sprintf("schema: column %q of table %q is not in the local schema", e.Column, e.Table)
	}
	return fmt.Sprintf("schema: table %q is not replicated here", e.Table)
}

// Unwrap returns ErrUnknownTable.
func (e *UnknownTableError) Unwrap() error { return ErrUnknownTable }

// InspectOptions selects the tables to replicate. The zero value selects
// every user table.
type InspectOptions struct {
	Exclude []string // tables not to replicate
}

// Inspect reads the tables to replicate from the catalog. Tables without a
// primary key are reported together in one *NoPrimaryKeyError; so are
// excluded names that do not exist, as *UnknownTableError.
func Inspect(ctx context.Context, q dialect.Querier, d dialect.Dialect, opt InspectOptions) ([]Table, error) {
	names, err := d.Tables(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("schema: list tables: %w", err)
	}
	skip := map[string]bool{}
	for _, e := range opt.Exclude {
		skip[e] = true
	}
	for _, e := range opt.Exclude {
		found := false
		for _, n := range names {
			found = found || n == e
		}
		if !found {
			return nil, &UnknownTableError{Table: e}
		}
	}
	var tables []Table
	var nokey []string
	for _, n := range names {
		if skip[n] {
			continue
		}
		t, _, err := d.Describe(ctx, q, n)
		if err != nil {
			return nil, fmt.Errorf("schema: describe %s: %w", n, err)
		}
		if len(t.Keys()) == 0 {
			nokey = append(nokey, n)
			continue
		}
		tables = append(tables, t)
	}
	if len(nokey) > 0 {
		return nil, &NoPrimaryKeyError{Tables: nokey}
	}
	return tables, nil
}
