package dialect

import (
	"context"
	"fmt"
	"sort"
)

// Unique is a UNIQUE constraint or unique index of a table, other than its
// primary key: the business keys two replicas may create independently.
type Unique struct {
	Name    string   // constraint or index name, as the catalog reports it
	Columns []string // in index order
}

// UniqueKeys reads the unique constraints and unique indexes of table other
// than the primary key, sorted by name. Partial indexes and indexes on
// expressions are left out: the library cannot rename their values.
//
//   - SQLite: pragma index_list rows with unique = 1, origin 'u' (UNIQUE in
//     the table) or 'c' (CREATE UNIQUE INDEX) and partial = 0, columns from
//     pragma index_info;
//   - PostgreSQL: pg_index rows with indisunique and not indisprimary, no
//     predicate and no expression;
//   - MySQL/MariaDB: information_schema.STATISTICS rows with NON_UNIQUE = 0
//     and INDEX_NAME <> 'PRIMARY', none on an expression.
func UniqueKeys(ctx context.Context, q Querier, d Dialect, table string) ([]Unique, error) {
	var (
		us  []Unique
		err error
	)
	switch d.Name() {
	case SQLite:
		us, err = sqliteUniques(ctx, q, table)
	case Postgres:
		us, err = pairsToUniques(ctx, q, `SELECT i.relname, coalesce(a.attname, '')
FROM pg_index x
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_class i ON i.oid = x.indexrelid
CROSS JOIN LATERAL unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum AND k.attnum > 0
WHERE t.relname = $1 AND t.relnamespace = current_schema()::regnamespace
	AND x.indisunique AND NOT x.indisprimary AND x.indpred IS NULL AND x.indexprs IS NULL
ORDER BY i.relname, k.ord`, table)
	case MySQL:
		us, err = pairsToUniques(ctx, q, `SELECT INDEX_NAME, coalesce(COLUMN_NAME, '')
FROM information_schema.STATISTICS
WHERE TABLE_SCHEMA = DATABASE() AND BINARY TABLE_NAME = BINARY ? AND NON_UNIQUE = 0 AND INDEX_NAME <> 'PRIMARY'
ORDER BY INDEX_NAME, SEQ_IN_INDEX`, table)
	default:
		return nil, fmt.Errorf("%w: unique keys of dialect %s", ErrUnsupported, d.Name())
	}
	if err != nil {
		return nil, fmt.Errorf("dialect: unique keys of %s: %w", table, err)
	}
	sort.Slice(us, func(a, b int) bool { return us[a].Name < us[b].Name })
	return us, nil
}

// pairsToUniques groups (index name, column name) rows, ordered by index
// and position, into Uniques; an index with an empty column name (an
// expression) is dropped.
func pairsToUniques(ctx context.Context, q Querier, query, table string) ([]Unique, error) {
	rows, err := q.QueryContext(ctx, query, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var us []Unique
	bad := map[string]bool{}
	for rows.Next() {
		var name, col string
		if err := rows.Scan(&name, &col); err != nil {
			return nil, err
		}
		if col == "" {
			bad[name] = true
		}
		if len(us) == 0 || us[len(us)-1].Name != name {
			us = append(us, Unique{Name: name})
		}
		us[len(us)-1].Columns = append(us[len(us)-1].Columns, col)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := us[:0]
	for _, u := range us {
		if !bad[u.Name] {
			out = append(out, u)
		}
	}
	return out, nil
}

func sqliteUniques(ctx context.Context, q Querier, table string) ([]Unique, error) {
	rows, err := q.QueryContext(ctx, `SELECT name FROM pragma_index_list(?) WHERE "unique" = 1 AND origin IN ('u', 'c') AND partial = 0`, table)
	if err != nil {
		return nil, err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, err
		}
		names = append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var us []Unique
	for _, n := range names {
		cols, err := sqliteIndexColumns(ctx, q, n)
		if err != nil {
			return nil, err
		}
		if cols != nil {
			us = append(us, Unique{Name: n, Columns: cols})
		}
	}
	return us, nil
}

// sqliteIndexColumns returns the columns of index, or nil if one of them
// is an expression.
func sqliteIndexColumns(ctx context.Context, q Querier, index string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT name FROM pragma_index_info(?) ORDER BY seqno`, index)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []string
	expr := false
	for rows.Next() {
		var c *string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		if c == nil {
			expr = true
			continue
		}
		cols = append(cols, *c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if expr {
		return nil, nil
	}
	return cols, nil
}
