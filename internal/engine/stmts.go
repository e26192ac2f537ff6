package engine

import (
	"context"
	"database/sql"
	"fmt"

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
	per := max(1, d.MaxParams()/len(cols))
	for len(rows) > 0 {
		n := min(per, len(rows))
		args := make([]any, 0, n*len(cols))
		for _, r := range rows[:n] {
			args = append(args, r...)
		}
		st, err := c.prepare(ctx, d.Rebind(d.Insert(table, cols, n)))
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
