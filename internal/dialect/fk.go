package dialect

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// ForeignKey is a foreign key constraint of a user table, as the catalog
// reports it and as creation packets carry it.
type ForeignKey struct {
	Table      string   `json:"table"`
	Name       string   `json:"name,omitempty"` // "" on SQLite, whose foreign keys are unnamed
	Columns    []string `json:"columns"`
	RefTable   string   `json:"ref_table"`
	RefColumns []string `json:"ref_columns"`
	OnDelete   string   `json:"on_delete,omitempty"` // "CASCADE", "SET NULL", "SET DEFAULT", "RESTRICT"; "" means NO ACTION
	OnUpdate   string   `json:"on_update,omitempty"`
	Deferrable bool     `json:"deferrable,omitempty"` // declared DEFERRABLE by its owner
	// Marked is set on PostgreSQL when activation made the constraint
	// DEFERRABLE (its comment says so), so deactivation can undo it.
	Marked bool `json:"-"`
}

// DeferMark is the comment activation puts on a PostgreSQL foreign key it
// made DEFERRABLE.
const DeferMark = "multisite: made deferrable; deactivation restores NOT DEFERRABLE"

// HasAction reports whether the constraint changes child rows by itself
// (ON DELETE/UPDATE CASCADE, SET NULL, SET DEFAULT).
func (fk ForeignKey) HasAction() bool {
	act := func(a string) bool { return a == "CASCADE" || a == "SET NULL" || a == "SET DEFAULT" }
	return act(fk.OnDelete) || act(fk.OnUpdate)
}

func normAction(a string) string {
	a = strings.ToUpper(strings.TrimSpace(a))
	switch a {
	case "CASCADE", "SET NULL", "SET DEFAULT", "RESTRICT":
		return a
	}
	return "" // NO ACTION, the default
}

// ForeignKeys reads the foreign keys of table from the catalog, sorted by
// name and then by columns.
func ForeignKeys(ctx context.Context, q Querier, d Dialect, table string) ([]ForeignKey, error) {
	var (
		fks []ForeignKey
		err error
	)
	switch d.Name() {
	case SQLite:
		fks, err = sqliteForeignKeys(ctx, q, table)
	case Postgres:
		fks, err = postgresForeignKeys(ctx, q, table)
	case MySQL:
		fks, err = mysqlForeignKeys(ctx, q, table)
	default:
		return nil, fmt.Errorf("dialect: foreign keys of %s: unknown dialect %s", table, d.Name())
	}
	if err != nil {
		return nil, fmt.Errorf("dialect: foreign keys of %s: %w", table, err)
	}
	sort.SliceStable(fks, func(i, j int) bool {
		if fks[i].Name != fks[j].Name {
			return fks[i].Name < fks[j].Name
		}
		return strings.Join(fks[i].Columns, ",") < strings.Join(fks[j].Columns, ",")
	})
	return fks, nil
}

func sqliteForeignKeys(ctx context.Context, q Querier, table string) ([]ForeignKey, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, "table", "from", coalesce("to", ''), on_update, on_delete FROM pragma_foreign_key_list(?) ORDER BY id, seq`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var fks []ForeignKey
	last := -1
	for rows.Next() {
		var id int
		var ref, from, to, upd, del string
		if err := rows.Scan(&id, &ref, &from, &to, &upd, &del); err != nil {
			return nil, err
		}
		if id != last {
			fks = append(fks, ForeignKey{Table: table, RefTable: ref, OnDelete: normAction(del), OnUpdate: normAction(upd)})
			last = id
		}
		fk := &fks[len(fks)-1]
		fk.Columns = append(fk.Columns, from)
		fk.RefColumns = append(fk.RefColumns, to)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// A reference without columns names the parent's primary key.
	for i := range fks {
		if fks[i].RefColumns[0] != "" {
			continue
		}
		pt, ok, err := SQLiteDialect{}.Describe(ctx, q, fks[i].RefTable)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("%s references %s, which does not exist", table, fks[i].RefTable)
		}
		fks[i].RefColumns = fks[i].RefColumns[:0]
		for _, k := range pt.Keys() {
			fks[i].RefColumns = append(fks[i].RefColumns, k.Name)
		}
	}
	return fks, nil
}

func postgresForeignKeys(ctx context.Context, q Querier, table string) ([]ForeignKey, error) {
	rows, err := q.QueryContext(ctx, `SELECT con.conname, rc.relname, con.confdeltype, con.confupdtype, con.condeferrable,
	coalesce(obj_description(con.oid, 'pg_constraint'), ''),
	(SELECT array_to_string(array_agg(a.attname ORDER BY k.n), ',') FROM unnest(con.conkey) WITH ORDINALITY k(att, n)
		JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.att),
	(SELECT array_to_string(array_agg(a.attname ORDER BY k.n), ',') FROM unnest(con.confkey) WITH ORDINALITY k(att, n)
		JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.att)
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_class rc ON rc.oid = con.confrelid
WHERE con.contype = 'f' AND c.relname = $1 AND c.relnamespace = current_schema()::regnamespace
ORDER BY con.conname`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	action := map[string]string{"c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT", "r": "RESTRICT"}
	var fks []ForeignKey
	for rows.Next() {
		var fk ForeignKey
		var del, upd, comment, cols, refs string
		if err := rows.Scan(&fk.Name, &fk.RefTable, &del, &upd, &fk.Deferrable, &comment, &cols, &refs); err != nil {
			return nil, err
		}
		fk.Table, fk.OnDelete, fk.OnUpdate = table, action[del], action[upd]
		fk.Columns, fk.RefColumns = strings.Split(cols, ","), strings.Split(refs, ",")
		if comment == DeferMark {
			fk.Marked, fk.Deferrable = true, false
		}
		fks = append(fks, fk)
	}
	return fks, rows.Err()
}

func mysqlForeignKeys(ctx context.Context, q Querier, table string) ([]ForeignKey, error) {
	rows, err := q.QueryContext(ctx, `SELECT k.CONSTRAINT_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME, r.DELETE_RULE, r.UPDATE_RULE
FROM information_schema.KEY_COLUMN_USAGE k
JOIN information_schema.REFERENTIAL_CONSTRAINTS r ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME
WHERE k.TABLE_SCHEMA = DATABASE() AND BINARY k.TABLE_NAME = BINARY ? AND k.REFERENCED_TABLE_NAME IS NOT NULL
ORDER BY k.CONSTRAINT_NAME, k.ORDINAL_POSITION`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var fks []ForeignKey
	for rows.Next() {
		var name, col, ref, refCol, del, upd string
		if err := rows.Scan(&name, &col, &ref, &refCol, &del, &upd); err != nil {
			return nil, err
		}
		if len(fks) == 0 || fks[len(fks)-1].Name != name {
			fks = append(fks, ForeignKey{Table: table, Name: name, RefTable: ref, OnDelete: normAction(del), OnUpdate: normAction(upd)})
		}
		fk := &fks[len(fks)-1]
		fk.Columns = append(fk.Columns, col)
		fk.RefColumns = append(fk.RefColumns, refCol)
	}
	return fks, rows.Err()
}

func quoteAll(d Dialect, names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = d.Quote(n)
	}
	return strings.Join(q, ", ")
}

// ForeignKeyClause returns the constraint's definition as it goes into a
// CREATE TABLE or an ALTER TABLE ... ADD. On PostgreSQL the constraint is
// DEFERRABLE, so an import can check it at commit.
func ForeignKeyClause(d Dialect, fk ForeignKey) string {
	var b strings.Builder
	if fk.Name != "" && d.Name() != SQLite {
		b.WriteString("CONSTRAINT " + d.Quote(fk.Name) + " ")
	}
	fmt.Fprintf(&b, "FOREIGN KEY (%s) REFERENCES %s (%s)", quoteAll(d, fk.Columns), d.Quote(fk.RefTable), quoteAll(d, fk.RefColumns))
	if fk.OnDelete != "" {
		b.WriteString(" ON DELETE " + fk.OnDelete)
	}
	if fk.OnUpdate != "" {
		b.WriteString(" ON UPDATE " + fk.OnUpdate)
	}
	if d.Name() == Postgres || (d.Name() == SQLite && fk.Deferrable) {
		b.WriteString(" DEFERRABLE INITIALLY IMMEDIATE")
	}
	return b.String()
}

// WithForeignKeys adds the constraints to a CREATE TABLE statement (SQLite
// cannot add one to an existing table).
func WithForeignKeys(d Dialect, create string, fks []ForeignKey) string {
	i := strings.LastIndex(create, ")")
	if len(fks) == 0 || i < 0 {
		return create
	}
	var b strings.Builder
	b.WriteString(create[:i])
	for _, fk := range fks {
		b.WriteString(", " + ForeignKeyClause(d, fk))
	}
	b.WriteString(create[i:])
	return b.String()
}

// AddForeignKey returns the DDL that adds the constraint to its existing
// table (PostgreSQL and MySQL), marking it on PostgreSQL when its owner had
// not declared it DEFERRABLE.
func AddForeignKey(d Dialect, fk ForeignKey) []string {
	stmts := []string{fmt.Sprintf("ALTER TABLE %s ADD %s", d.Quote(fk.Table), ForeignKeyClause(d, fk))}
	if d.Name() == Postgres && !fk.Deferrable && fk.Name != "" {
		stmts = append(stmts, fmt.Sprintf("COMMENT ON CONSTRAINT %s ON %s IS '%s'", d.Quote(fk.Name), d.Quote(fk.Table), DeferMark))
	}
	return stmts
}

// MakeDeferrable returns the PostgreSQL DDL that lets an import check the
// constraint at commit, so the rows of a packet apply in any order; nothing
// for a constraint that is deferrable already or another dialect.
func MakeDeferrable(d Dialect, fk ForeignKey) []string {
	if d.Name() != Postgres || fk.Deferrable || fk.Marked {
		return nil
	}
	return []string{
		fmt.Sprintf("ALTER TABLE %s ALTER CONSTRAINT %s DEFERRABLE INITIALLY IMMEDIATE", d.Quote(fk.Table), d.Quote(fk.Name)),
		fmt.Sprintf("COMMENT ON CONSTRAINT %s ON %s IS '%s'", d.Quote(fk.Name), d.Quote(fk.Table), DeferMark),
	}
}

// RestoreDeferrable undoes MakeDeferrable.
func RestoreDeferrable(d Dialect, fk ForeignKey) []string {
	if d.Name() != Postgres || !fk.Marked {
		return nil
	}
	return []string{
		fmt.Sprintf("ALTER TABLE %s ALTER CONSTRAINT %s NOT DEFERRABLE", d.Quote(fk.Table), d.Quote(fk.Name)),
		fmt.Sprintf("COMMENT ON CONSTRAINT %s ON %s IS NULL", d.Quote(fk.Name), d.Quote(fk.Table)),
	}
}

// Orphans returns a query selecting the first row of fk's table whose
// reference finds no parent: the key columns' values and the reference's.
func Orphans(d Dialect, fk ForeignKey) string {
	var notNull, match []string
	for i, c := range fk.Columns {
		notNull = append(notNull, "c."+d.Quote(c)+" IS NOT NULL")
		match = append(match, "p."+d.Quote(fk.RefColumns[i])+" = c."+d.Quote(c))
	}
	var cols []string
	for _, c := range fk.Columns {
		cols = append(cols, "c."+d.Quote(c))
	}
	return fmt.Sprintf("SELECT %s FROM %s c WHERE %s AND NOT EXISTS (SELECT 1 FROM %s p WHERE %s) LIMIT 1",
		strings.Join(cols, ", "), d.Quote(fk.Table), strings.Join(notNull, " AND "), d.Quote(fk.RefTable), strings.Join(match, " AND "))
}

// ForeignKeysUnchecked reports whether the connection q does not enforce
// foreign keys at all (SQLite with PRAGMA foreign_keys off), so there is
// nothing to check after an import. The servers always enforce them.
func ForeignKeysUnchecked(ctx context.Context, q Querier, d Dialect) (bool, error) {
	if d.Name() != SQLite {
		return false, nil
	}
	var on int
	if err := q.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&on); err != nil {
		return false, err
	}
	return on == 0, nil
}

// ForeignKeysInCreate reports whether d's foreign keys must be written into
// CREATE TABLE ([WithForeignKeys]): SQLite cannot add a constraint to an
// existing table.
func ForeignKeysInCreate(d Dialect) bool { return d.Name() == SQLite }
