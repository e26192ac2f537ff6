package schema

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Step is one statement of a plan with the reason it is there.
type Step struct {
	Comment string
	SQL     string
}

// Plan is an ordered list of statements for one dialect. The zero value is
// an empty plan.
type Plan struct {
	Dialect string // "sqlite", "postgres" or "mysql", as multisite.Dialect names it
	Steps   []Step
}

// Querier is what Apply needs: a *sql.DB, *sql.Conn or *sql.Tx.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
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
func Apply(ctx context.Context, q Querier, p Plan) error {
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
