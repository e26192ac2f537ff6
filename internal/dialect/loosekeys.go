package dialect

import (
	"context"
	"fmt"
	"strings"
)

// LooseKey is a primary-key column whose comparison on its vendor cannot
// keep apart two keys that differ in bytes: by case, accents or trailing
// spaces. Two such keys created at other replicas would become one row
// here, so the library refuses to replicate the table until it is fixed.
type LooseKey struct {
	Column string
	Reason string // what the column does, and what to make it instead
}

// LooseKeys lists the key columns of t that compare other than byte for
// byte on d:
//
//   - SQLite: a key column with a collation other than BINARY (NOCASE,
//     RTRIM, or an application's own).
//   - PostgreSQL: a nondeterministic collation, citext, or character(n),
//     which ignores trailing spaces.
//   - MySQL: a fixed-length CHAR key, whose trailing spaces the server
//     strips. (Text key columns are otherwise made binary and NO PAD by
//     activation and replica creation.)
func LooseKeys(ctx context.Context, q Querier, d Dialect, t Table) ([]LooseKey, error) {
	keys := t.Keys()
	if len(keys) == 0 {
		return nil, nil
	}
	var out []LooseKey
	switch d.Name() {
	case SQLite:
		rows, err := q.QueryContext(ctx, `SELECT x.name, x.coll FROM pragma_index_list(?) l, pragma_index_xinfo(l.name) x
WHERE l.origin = 'pk' AND x.key = 1 AND x.name IS NOT NULL AND upper(x.coll) <> 'BINARY' ORDER BY x.seqno`, t.Name)
		if err != nil {
			return nil, fmt.Errorf("dialect: read the key collation of %s: %w", t.Name, err)
		}
		defer rows.Close()
		for rows.Next() {
			var col, coll string
			if err := rows.Scan(&col, &coll); err != nil {
				return nil, err
			}
			out = append(out, LooseKey{Column: col, Reason: fmt.Sprintf("collation %s does not compare byte for byte; declare the key column without COLLATE (BINARY)", coll)})
		}
		return out, rows.Err()
	case Postgres:
		rows, err := q.QueryContext(ctx, `SELECT a.attname, t.typname, coalesce(co.collname, ''), coalesce(co.collisdeterministic, true)
FROM pg_class c
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_collation co ON co.oid = a.attcollation
WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace
ORDER BY a.attnum`, t.Name)
		if err != nil {
			return nil, fmt.Errorf("dialect: read the key collation of %s: %w", t.Name, err)
		}
		defer rows.Close()
		for rows.Next() {
			var col, typ, coll string
			var deterministic bool
			if err := rows.Scan(&col, &typ, &coll, &deterministic); err != nil {
				return nil, err
			}
			if c, ok := t.Column(col); !ok || c.Key == 0 {
				continue
			}
			switch {
			case !deterministic:
				out = append(out, LooseKey{Column: col, Reason: fmt.Sprintf("collation %s is nondeterministic; use a deterministic one (\"C\" or the database default)", coll)})
			case typ == "citext":
				out = append(out, LooseKey{Column: col, Reason: "citext compares without case; make it text"})
			case typ == "bpchar":
				out = append(out, LooseKey{Column: col, Reason: "character(n) ignores trailing spaces; make it varchar"})
			}
		}
		return out, rows.Err()
	case MySQL:
		for _, k := range keys {
			base, _ := baseType(k.Type)
			if KindOf(k.Type) == KindText && (strings.HasPrefix(base, "CHAR") || strings.HasPrefix(base, "NCHAR")) && !strings.Contains(base, "VAR") {
				out = append(out, LooseKey{Column: k.Name, Reason: "CHAR strips trailing spaces; make it VARCHAR"})
			}
		}
	}
	return out, nil
}
