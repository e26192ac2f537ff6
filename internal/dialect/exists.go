package dialect

import (
	"context"
	"fmt"
)

// TableExists reports whether the current database or schema has a base
// table called name. It is much cheaper than Describe, which the library
// would otherwise run on every call that checks for its own tables (on
// MariaDB a query of information_schema.COLUMNS opens every table it
// joins).
func TableExists(ctx context.Context, q Querier, d Dialect, name string) (bool, error) {
	var query string
	switch d.Name() {
	case SQLite:
		query = `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`
	case Postgres:
		query = `SELECT count(*) FROM pg_class WHERE relname = $1 AND relnamespace = current_schema()::regnamespace AND relkind IN ('r', 'p')`
	case MySQL:
		query = `SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND BINARY TABLE_NAME = BINARY ?`
	default:
		_, ok, err := d.Describe(ctx, q, name)
		return ok, err
	}
	args := []any{name}
	if d.Name() == MySQL {
		args = append(args, name)
	}
	var n int
	if err := q.QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
		return false, fmt.Errorf("dialect: look for table %s: %w", name, err)
	}
	return n > 0, nil
}
