package schemaplan

import (
	"context"
	"fmt"

	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/schema"
)

// add appends one step per statement, all with comment.
func add(p *schema.Plan, comment string, stmts ...string) {
	for _, s := range stmts {
		p.Steps = append(p.Steps, schema.Step{Comment: comment, SQL: s})
	}
}

// Activation plans the metadata tables and, for each table, the mastership
// field, the shadow and transfer log, and the triggers. local is the ID of
// the replica that will master every existing row.
func Activation(d dialect.Dialect, tables []dialect.Table, local string) schema.Plan {
	p := Metadata(d)
	for _, t := range tables {
		add(&p, "table "+t.Name+": mastership field, shadow, transfer log", d.Inject(t, local)...)
		add(&p, "table "+t.Name+": capture and enforcement triggers", d.Triggers(t)...)
	}
	return p
}

// Creation plans a replica created from a packet: the metadata tables and,
// for each table, the table itself, its shadow and transfer log. Triggers
// come after the rows are loaded ([Triggers]).
func Creation(d dialect.Dialect, tables []dialect.Table, local string) schema.Plan {
	p := Metadata(d)
	for _, t := range tables {
		add(&p, "table "+t.Name, d.CreateTable(t, local))
		add(&p, "table "+t.Name+": shadow and transfer log", d.ShadowDDL(t)...)
	}
	return p
}

// Triggers plans the capture and enforcement triggers of tables.
func Triggers(d dialect.Dialect, tables []dialect.Table) schema.Plan {
	p := schema.Plan{Dialect: string(d.Name())}
	for _, t := range tables {
		add(&p, "table "+t.Name+": capture and enforcement triggers", d.Triggers(t)...)
	}
	return p
}

// Deactivation plans the removal of everything Activation added, leaving
// the user's tables and rows as they were before activation.
func Deactivation(d dialect.Dialect, tables []dialect.Table) schema.Plan {
	p := CharsetRemoval(d, tables)
	for _, t := range tables {
		add(&p, "table "+t.Name+": remove triggers, shadow, transfer log, mastership field", d.Uninject(t)...)
	}
	add(&p, "metadata tables", dialect.DropMetaFormat()...)
	add(&p, "metadata tables", d.DropMeta()...)
	return p
}

// InspectOptions selects the tables to replicate. The zero value selects
// every user table.
type InspectOptions struct {
	Exclude []string // tables not to replicate
}

// Inspect reads the tables to replicate from the catalog. Tables without a
// primary key are reported together in one *NoPrimaryKeyError; so are
// excluded names that do not exist, as *UnknownTableError.
func Inspect(ctx context.Context, q dialect.Querier, d dialect.Dialect, opt InspectOptions) ([]dialect.Table, error) {
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
			return nil, &schema.UnknownTableError{Table: e}
		}
	}
	var tables []dialect.Table
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
		return nil, &schema.NoPrimaryKeyError{Tables: nokey}
	}
	return tables, nil
}
