package engine

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/multisite-go/multisite/internal/dialect"
)

// stmtCache prepares each statement text once in a transaction: the
// multi-row INSERTs of an import or a creation repeat the same few texts
// thousands of times, and parsing them each time cost SQLite as much as
// running them. The transaction closes the statements when it ends.
type stmtCache struct {
	tx *sql.Tx
	m  map[string]*sql.Stmt
}

// prepare returns q prepared in the transaction.
func (c *stmtCache) prepare(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := c.m[q]; ok {
		return st, nil
	}
	st, err := c.tx.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[q] = st
	return st, nil
}

// insertRows inserts rows with as few multi-row statements as the
// dialect's placeholder limit allows.
func insertRows(ctx context.Context, c *stmtCache, d dialect.Dialect, table string, cols []string, rows [][]any) error {
	return execRows(ctx, c, d, table, len(cols), rows, func(n int) string { return d.Insert(table, cols, n) })
}

// upsertRows writes rows into t, replacing the non-key columns of rows
// whose key exists, with as few multi-row statements as insertRows.
func upsertRows(ctx context.Context, c *stmtCache, d dialect.Dialect, t dialect.Table, cols []string, rows [][]any) error {
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	return execRows(ctx, c, d, t.Name, len(cols), rows, func(n int) string {
		return d.Upsert(t, cols, "VALUES "+strings.TrimSuffix(strings.Repeat(one+", ", n), ", "))
	})
}

// execRows runs the statement stmt(n) makes for n rows of ncols values
// over rows, n as large as the placeholder limit allows.
func execRows(ctx context.Context, c *stmtCache, d dialect.Dialect, table string, ncols int, rows [][]any, stmt func(n int) string) error {
	per := max(1, d.MaxParams()/ncols)
	for len(rows) > 0 {
		n := min(per, len(rows))
		args := make([]any, 0, n*ncols)
		for _, r := range rows[:n] {
			args = append(args, r...)
		}
		st, err := c.prepare(ctx, d.Rebind(stmt(n)))
		if err == nil {
			_, err = st.ExecContext(ctx, args...)
		}
		if err != nil {
			return fmt.Errorf("multisite: load %s: %w", table, err)
		}
		rows = rows[n:]
	}
	return nil
}
