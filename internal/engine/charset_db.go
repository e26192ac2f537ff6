package engine

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/multisite-go/multisite/codepage"
	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/internal/schemaplan"
	"github.com/multisite-go/multisite/schema"
)

// This file keeps the database's own enforcement of the data code page
// (the charset triggers of package dialect) in step with the family's code
// page: installed at activation and creation, re-pointed in the same
// transaction as every change of the code page, removed at deactivation.

// withCharset appends to p the charset plan of the code page called name
// ("" is UTF-8) for tables.
func withCharset(p schema.Plan, d dialect.Dialect, tables []dialect.Table, name string) (schema.Plan, error) {
	cp := codepage.UTF8
	if name != "" {
		var err error
		if cp, err = codepage.Lookup(name); err != nil {
			return schema.Plan{}, err
		}
	}
	p.Steps = append(p.Steps, schemaplan.Charset(d, tables, cp).Steps...)
	return p, nil
}

// applyCharset installs the charset enforcement of the code page called
// name for tables (replica creation, after the rows are loaded).
func applyCharset(ctx context.Context, q dialect.Querier, d dialect.Dialect, tables []dialect.Table, name string) error {
	p, err := withCharset(schema.Plan{Dialect: string(d.Name())}, d, tables, name)
	if err != nil {
		return err
	}
	return schema.Apply(ctx, q, p)
}

// setCharset points the charset triggers at cp, in the caller's
// transaction, so that the database enforces a new code page from the
// moment the change commits: DML, and on PostgreSQL transactional DDL
// (MySQL's DDL would commit an import half-way). A replica activated before the
// triggers existed has no ms_charset table and is left as it is (see
// [EnforceCharset] and [CharsetStatus]).
func setCharset(ctx context.Context, q dialect.Querier, d dialect.Dialect, cp *codepage.CodePage) error {
	e, ok := d.(dialect.CharsetEnforcer)
	if !ok {
		return nil
	}
	if ok, err := dialect.TableExists(ctx, q, d, dialect.CharsetTable); err != nil || !ok {
		return err
	}
	for _, s := range e.CharsetSet(e.Charset(cp.Name(), cp.RangeTable(), cp.Universal())) {
		if _, err := q.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("multisite: set the code page the database enforces: %w", err)
		}
	}
	return nil
}

// EnforceCharset (re)installs the charset triggers of every replicated
// table and points them at the family's code page: for a replica activated
// before the library had them, or after the schema of a table changed. It
// is one transaction where the dialect's DDL is transactional.
func EnforceCharset(ctx context.Context, db *sql.DB, d dialect.Dialect) error {
	return inTx(ctx, db, d, func(tx *sql.Tx) error {
		c, err := LoadCtl(ctx, tx, d)
		if err != nil {
			return err
		}
		tables, err := Tables(ctx, tx)
		if err != nil {
			return err
		}
		if err := schema.Apply(ctx, tx, schemaplan.CharsetRemoval(d, tables)); err != nil {
			return err
		}
		return applyCharset(ctx, tx, d, tables, c.CodePage)
	})
}

// CharsetStatus says how a replica enforces its data code page.
type CharsetStatus struct {
	CodePage string // the family's data code page
	// InDatabase is set when the database refuses, by itself, writes of
	// strings outside CodePage by any client: ms_charset holds CodePage and
	// every replicated table with text columns has its triggers.
	InDatabase bool
	// Enforced is the code page the triggers enforce ("" if ms_charset is
	// missing); it differs from CodePage only if the metadata was changed
	// by hand.
	Enforced string
	// Tables lists the replicated tables whose text columns the triggers
	// check; Missing those that should have triggers and do not.
	Tables, Missing []string
	// Columns lists, per table, text columns whose storage cannot hold
	// every character of CodePage (MariaDB utf8mb3 columns under UTF-8):
	// imports refuse such strings for them with a *CharsetError.
	Columns []NarrowColumn
}

// ReadCharsetStatus reports how the replica in q enforces its code page.
func ReadCharsetStatus(ctx context.Context, q dialect.Querier, d dialect.Dialect) (*CharsetStatus, error) {
	c, err := LoadCtl(ctx, q, d)
	if err != nil {
		return nil, err
	}
	tables, err := Tables(ctx, q)
	if err != nil {
		return nil, err
	}
	st := &CharsetStatus{CodePage: c.CodePage}
	cp, err := codepage.Lookup(c.CodePage)
	if err != nil {
		return nil, err
	}
	if st.Columns, err = narrowColumns(ctx, q, d, tables, cp); err != nil {
		return nil, err
	}
	e, ok := d.(dialect.CharsetEnforcer)
	if !ok {
		return st, nil
	}
	if _, ok, err := d.Describe(ctx, q, dialect.CharsetTable); err != nil {
		return nil, err
	} else if ok {
		var page sql.NullString
		if err := q.QueryRowContext(ctx, "SELECT code_page FROM ms_charset WHERE id = 1").Scan(&page); err != nil && err != sql.ErrNoRows {
			return nil, fmt.Errorf("multisite: read ms_charset: %w", err)
		}
		st.Enforced = page.String
	}
	for _, t := range tables {
		if len(dialect.CharsetColumns(t)) == 0 {
			continue
		}
		ok, err := e.CharsetTriggersExist(ctx, q, t)
		if err != nil {
			return nil, err
		}
		if ok {
			st.Tables = append(st.Tables, t.Name)
		} else {
			st.Missing = append(st.Missing, t.Name)
		}
	}
	st.InDatabase = st.Enforced == st.CodePage && len(st.Missing) == 0
	return st, nil
}

// charsetAroundMigration removes (before is true) or re-creates the
// charset triggers of every replicated table around a migration's SQL:
// SQLite refuses to drop a column a trigger names, and afterwards the
// triggers must cover the columns and tables the migration added. A
// replica without ms_charset (activated before the triggers existed) is
// left as it is.
func charsetAroundMigration(ctx context.Context, r *runner, before bool) error {
	e, ok := r.d.(dialect.CharsetEnforcer)
	if !ok {
		return nil
	}
	if ok, err := dialect.TableExists(ctx, r.q(), r.d, dialect.CharsetTable); err != nil || !ok {
		return err
	}
	tables, err := Tables(ctx, r.q())
	if err != nil {
		return err
	}
	for _, t := range tables {
		if before {
			err = r.exec("table "+t.Name+": charset triggers off while the migration runs", e.DropCharset(t)...)
		} else {
			err = r.exec("table "+t.Name+": charset triggers (refuse text outside the data code page)", e.CharsetTriggers(t)...)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
