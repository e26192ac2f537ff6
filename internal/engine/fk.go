package engine

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/schema"
)

// Foreign keys between replicated tables replicate with them: activation
// makes them checkable at the end of an import (PostgreSQL: DEFERRABLE;
// SQLite: defer_foreign_keys; MySQL/MariaDB: checks off for the import's
// own session), creation packets carry them as "ms.fk" settings, and every
// import checks before it commits that no row it touched lost its parent.

// settingForeignKey is the key of a creation packet's setting that carries
// one foreign key (JSON of dialect.ForeignKey).
const settingForeignKey = "ms.fk"

// ErrForeignKey is wrapped by *ForeignKeyError.
var ErrForeignKey = errors.New("multisite: foreign key")

// ForeignKeyError reports a foreign key the library cannot keep: a packet
// that would leave a row without its parent, or a constraint whose
// action this dialect cannot replicate.
type ForeignKeyError struct {
	Table      string   // the referencing table
	Constraint string   // the constraint's name; "" on SQLite
	Columns    []string // the referencing columns
	RefTable   string   // the referenced table
	Values     []any    // the reference without a parent; nil for an action error
	Action     string   // the action that cannot be replicated; "" for a missing parent
}

func (e *ForeignKeyError) Error() string {
	name := e.Table + "(" + strings.Join(e.Columns, ", ") + ")"
	if e.Constraint != "" {
		name = e.Constraint + " on " + name
	}
	if e.Action != "" {
		return fmt.Sprintf("multisite: foreign key %s references %s with %s: MySQL/MariaDB do not fire triggers for the rows such an action changes, so they would not replicate; declare it without the action and delete or update the child rows explicitly", name, e.RefTable, e.Action)
	}
	return fmt.Sprintf("multisite: foreign key %s: %s has no row for %v after the import; nothing was imported. The family's members disagree (one deleted a parent another still references): import the packet that brings the parent, or have the child's master change it", name, e.RefTable, e.Values)
}

// Unwrap returns ErrForeignKey.
func (e *ForeignKeyError) Unwrap() error { return ErrForeignKey }

// replicatedForeignKeys lists the foreign keys among tables: those whose
// referenced table replicates too.
func replicatedForeignKeys(ctx context.Context, q dialect.Querier, d dialect.Dialect, tables []dialect.Table) ([]dialect.ForeignKey, error) {
	in := map[string]bool{}
	for _, t := range tables {
		in[t.Name] = true
	}
	var all []dialect.ForeignKey
	for _, t := range tables {
		fks, err := dialect.ForeignKeys(ctx, q, d, t.Name)
		if err != nil {
			return nil, err
		}
		for _, fk := range fks {
			if in[fk.RefTable] {
				all = append(all, fk)
			}
		}
	}
	return all, nil
}

// checkActions refuses on MySQL/MariaDB a foreign key whose action changes
// rows, since the triggers that capture changes do not see them.
func checkActions(d dialect.Dialect, fks []dialect.ForeignKey) error {
	if d.Name() != dialect.MySQL {
		return nil
	}
	for _, fk := range fks {
		if fk.HasAction() {
			act := "ON DELETE " + fk.OnDelete
			if fk.OnDelete == "" || fk.OnDelete == "RESTRICT" {
				act = "ON UPDATE " + fk.OnUpdate
			}
			return &ForeignKeyError{Table: fk.Table, Constraint: fk.Name, Columns: fk.Columns, RefTable: fk.RefTable, Action: act}
		}
	}
	return nil
}

// foreignKeyActivation adds to an activation plan what lets imports check
// foreign keys at their end.
func foreignKeyActivation(ctx context.Context, q dialect.Querier, d dialect.Dialect, tables []dialect.Table, p *schema.Plan) error {
	fks, err := replicatedForeignKeys(ctx, q, d, tables)
	if err != nil {
		return err
	}
	if err := checkActions(d, fks); err != nil {
		return err
	}
	for _, fk := range fks {
		if stmts := dialect.MakeDeferrable(d, fk); len(stmts) > 0 {
			for _, s := range stmts {
				p.Steps = append(p.Steps, schema.Step{Comment: "let imports check foreign key " + fk.Name + " of " + fk.Table + " at their end, so a packet's rows apply in any order", SQL: s})
			}
		}
	}
	return nil
}

// foreignKeyDeactivation adds to a deactivation plan what undoes
// foreignKeyActivation.
func foreignKeyDeactivation(ctx context.Context, q dialect.Querier, d dialect.Dialect, tables []dialect.Table, p *schema.Plan) error {
	for _, t := range tables {
		fks, err := dialect.ForeignKeys(ctx, q, d, t.Name)
		if err != nil {
			return err
		}
		for _, fk := range fks {
			for _, s := range dialect.RestoreDeferrable(d, fk) {
				p.Steps = append(p.Steps, schema.Step{Comment: "restore foreign key " + fk.Name + " of " + fk.Table + " to NOT DEFERRABLE, as it was", SQL: s})
			}
		}
	}
	return nil
}

// foreignKeySettings returns the settings that carry the foreign keys among
// the replicated tables in a creation packet.
func foreignKeySettings(ctx context.Context, q dialect.Querier, d dialect.Dialect) ([]string, error) {
	tables, err := Tables(ctx, q)
	if err != nil {
		return nil, err
	}
	fks, err := replicatedForeignKeys(ctx, q, d, tables)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, fk := range fks {
		if fk.Marked {
			fk.Deferrable = false
		}
		b, err := json.Marshal(fk)
		if err != nil {
			return nil, err
		}
		out = append(out, string(b))
	}
	return out, nil
}

// parseForeignKey reads an "ms.fk" setting, checking every name in it.
func parseForeignKey(v string) (dialect.ForeignKey, error) {
	var fk dialect.ForeignKey
	if err := json.Unmarshal([]byte(v), &fk); err != nil {
		return fk, fmt.Errorf("%w: foreign key setting: %v", ErrPacket, err)
	}
	ok := validName(fk.Table) && validName(fk.RefTable) && len(fk.Columns) > 0 && len(fk.Columns) == len(fk.RefColumns) &&
		(fk.Name == "" || validName(fk.Name))
	for i := range fk.Columns {
		ok = ok && validName(fk.Columns[i]) && validName(fk.RefColumns[i])
	}
	for _, a := range []string{fk.OnDelete, fk.OnUpdate} {
		switch a {
		case "", "CASCADE", "SET NULL", "SET DEFAULT", "RESTRICT":
		default:
			ok = false
		}
	}
	if !ok {
		return fk, fmt.Errorf("%w: foreign key setting %q names invalid tables, columns or actions", ErrPacket, v)
	}
	return fk, nil
}

// checkCreatedForeignKeys checks that the packet's foreign keys name only
// tables and columns the packet created.
func checkCreatedForeignKeys(fks []dialect.ForeignKey, tables []dialect.Table) error {
	byName := map[string]dialect.Table{}
	for _, t := range tables {
		byName[t.Name] = t
	}
	for _, fk := range fks {
		t, ok1 := byName[fk.Table]
		r, ok2 := byName[fk.RefTable]
		if !ok1 || !ok2 {
			return fmt.Errorf("%w: foreign key of %s references %s: the packet does not create both", ErrPacket, fk.Table, fk.RefTable)
		}
		for i := range fk.Columns {
			if _, ok := t.Column(fk.Columns[i]); !ok {
				return fmt.Errorf("%w: foreign key of %s names unknown column %s", ErrPacket, fk.Table, fk.Columns[i])
			}
			if _, ok := r.Column(fk.RefColumns[i]); !ok {
				return fmt.Errorf("%w: foreign key of %s names unknown column %s of %s", ErrPacket, fk.Table, fk.RefColumns[i], fk.RefTable)
			}
		}
	}
	return nil
}

// checkForeignKeys finds, before an import commits, a row of a table the
// import touched, or referencing one, that has no parent. A database would
// refuse the commit anyway (SQLite, PostgreSQL) or would not notice
// (MySQL, whose checks the import turned off); either way the import gets
// a typed error naming the row.
func checkForeignKeys(ctx context.Context, tx *sql.Tx, d dialect.Dialect, rep *ImportReport) error {
	touched := map[string]bool{}
	for name, c := range rep.Tables {
		if c.Inserted+c.Updated+c.Deleted > 0 {
			touched[name] = true
		}
	}
	if len(touched) == 0 {
		return nil
	}
	if off, err := dialect.ForeignKeysUnchecked(ctx, tx, d); err != nil || off {
		return err // foreign keys are not enforced on this connection
	}
	tables, err := Tables(ctx, tx)
	if err != nil {
		return err
	}
	fks, err := replicatedForeignKeys(ctx, tx, d, tables)
	if err != nil {
		return err
	}
	for _, fk := range fks {
		if !touched[fk.Table] && !touched[fk.RefTable] {
			continue
		}
		vals := make([]any, len(fk.Columns))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		err := tx.QueryRowContext(ctx, dialect.Orphans(d, fk)).Scan(ptrs...)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return fmt.Errorf("multisite: check foreign key of %s: %w", fk.Table, err)
		}
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				vals[i] = string(b)
			}
		}
		return &ForeignKeyError{Table: fk.Table, Constraint: fk.Name, Columns: fk.Columns, RefTable: fk.RefTable, Values: vals}
	}
	return nil
}

// importTx runs f in a transaction fit for an import. On MySQL/MariaDB,
// whose foreign keys are checked row by row with no deferred mode, it
// turns the checks off for the import's own connection and back on after,
// and checkForeignKeys does the checking before commit.
func importTx(ctx context.Context, db *sql.DB, d dialect.Dialect, f func(*sql.Tx) error) error {
	return mysqlSessionTx(ctx, db, d, true, f)
}

// creationTx runs f in a transaction fit for loading a creation packet.
func creationTx(ctx context.Context, db *sql.DB, d dialect.Dialect, f func(*sql.Tx) error) error {
	return mysqlSessionTx(ctx, db, d, false, f)
}

// mysqlSessionTx is inTx, except on MySQL/MariaDB, where it runs f on a
// connection of its own whose session loads rows as the packet has them:
// NO_AUTO_VALUE_ON_ZERO, so a row keyed 0 keeps its key in an
// AUTO_INCREMENT column (which CreateReplica makes integer keys, keys.go)
// instead of taking the next value; and, with fkOff, foreign-key checks
// off. The session is restored afterwards, or the connection discarded.
func mysqlSessionTx(ctx context.Context, db *sql.DB, d dialect.Dialect, fkOff bool, f func(*sql.Tx) error) error {
	if d.Name() != dialect.MySQL {
		return inTx(ctx, db, d, f)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("multisite: begin: %w", err)
	}
	defer conn.Close()
	set := []string{
		"SET @ms_sql_mode = @@SESSION.sql_mode",
		"SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',NO_AUTO_VALUE_ON_ZERO')",
	}
	reset := "SET SESSION sql_mode = @ms_sql_mode, @ms_sql_mode = NULL"
	if fkOff {
		set = append(set, "SET SESSION foreign_key_checks = 0")
		reset += ", SESSION foreign_key_checks = 1"
	}
	for _, q := range set {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			return fmt.Errorf("multisite: begin: %w", err)
		}
	}
	defer func() {
		// A connection whose session stays changed must not go back to the pool.
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), reset); err != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	return runTx(ctx, conn, f)
}

// parentsFirst orders tables so that a table comes after the tables its
// foreign keys reference (a creation packet creates them in this order,
// and SQLite cannot load rows into a table whose parent does not exist
// yet). Tables in a cycle keep their name order.
func parentsFirst(ctx context.Context, q dialect.Querier, d dialect.Dialect, tables []dialect.Table) ([]dialect.Table, error) {
	fks, err := replicatedForeignKeys(ctx, q, d, tables)
	if err != nil || len(fks) == 0 {
		return tables, err
	}
	parents := map[string][]string{}
	for _, fk := range fks {
		if fk.RefTable != fk.Table {
			parents[fk.Table] = append(parents[fk.Table], fk.RefTable)
		}
	}
	done := map[string]bool{}
	var out []dialect.Table
	for len(out) < len(tables) {
		progress := false
		for _, t := range tables {
			if done[t.Name] {
				continue
			}
			ready := true
			for _, p := range parents[t.Name] {
				ready = ready && done[p]
			}
			if ready {
				done[t.Name], progress = true, true
				out = append(out, t)
			}
		}
		if !progress { // a cycle: take the rest as they come
			for _, t := range tables {
				if !done[t.Name] {
					done[t.Name] = true
					out = append(out, t)
				}
			}
		}
	}
	return out, nil
}
