package dialect

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// Name identifies a dialect.
type Name string

// The dialects the library knows.
const (
	SQLite   Name = "sqlite"
	Postgres Name = "postgres"
	MySQL    Name = "mysql"
)

// ErrUnsupported is returned for a driver or dialect the library cannot
// work with.
var ErrUnsupported = errors.New("dialect: unsupported database")

// Column describes one column in portable terms.
type Column struct {
	Name    string
	Type    string // declared type as the catalog reports it
	NotNull bool
	Key     int    // 1-based position in the primary key; 0 if not part of it
	Default string `json:",omitempty"` // default as an SQL expression; "" means none
}

// Table is a table's name and columns, in catalog order, without the
// injected mastership field.
type Table struct {
	Name    string
	Columns []Column
}

// Keys returns the primary key columns in key order.
func (t Table) Keys() []Column {
	var ks []Column
	for i := 1; ; i++ {
		found := false
		for _, c := range t.Columns {
			if c.Key == i {
				ks = append(ks, c)
				found = true
			}
		}
		if !found {
			return ks
		}
	}
}

// NonKeys returns the columns outside the primary key, in catalog order.
func (t Table) NonKeys() []Column {
	var cs []Column
	for _, c := range t.Columns {
		if c.Key == 0 {
			cs = append(cs, c)
		}
	}
	return cs
}

// Column returns the column named name.
func (t Table) Column(name string) (Column, bool) {
	for _, c := range t.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

// IntegerKey reports whether the table has a single-column integer primary
// key, the kind that gets a per-replica key range.
func (t Table) IntegerKey() bool {
	ks := t.Keys()
	return len(ks) == 1 && strings.Contains(strings.ToUpper(ks[0].Type), "INT")
}

// Querier is what introspection needs: a *sql.DB, *sql.Conn or *sql.Tx.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Dialect is the set of vendor differences the rest of the library uses.
// Implementations are stateless values, safe for concurrent use.
type Dialect interface {
	Name() Name
	// Quote quotes an identifier taken from the local catalog. Every
	// identifier the library splices into SQL goes through it.
	Quote(ident string) string
	// Object returns the name of one of the library's own objects derived
	// from a user's table name: prefix + name + suffix, shortened with a
	// stable hash when longer than the vendor allows (see [Shadow]). The
	// result is a name, to be spliced through Quote.
	Object(prefix, name, suffix string) string
	// Rebind turns '?' placeholders into the dialect's own. A '?' inside
	// a quoted identifier or a string literal is not a placeholder.
	Rebind(query string) string
	// Setup prepares a database handle before activation or creation
	// (journal mode and the like); it runs outside any transaction.
	Setup(ctx context.Context, db *sql.DB) error
	// Tables lists user tables, excluding the library's own.
	Tables(ctx context.Context, q Querier) ([]string, error)
	// Describe reads a table's columns from the catalog; ok is false if the
	// table does not exist.
	Describe(ctx context.Context, q Querier, table string) (t Table, ok bool, err error)
	// Meta returns the DDL of the metadata tables.
	Meta() []string
	// DropMeta returns the DDL that removes the metadata tables.
	DropMeta() []string
	// CreateTable returns DDL creating a user table from its portable form,
	// with the mastership field defaulting to local.
	CreateTable(t Table, local string) string
	// Inject returns the DDL that adds the mastership field (defaulting to
	// local), the shadow and transfer-log tables, and fills the shadow with
	// one entry per existing row mastered by local.
	Inject(t Table, local string) []string
	// ShadowDDL returns the DDL of the shadow and transfer-log tables alone,
	// for a replica created from a packet.
	ShadowDDL(t Table) []string
	// TriggerNames lists the triggers Triggers creates.
	TriggerNames(t Table) []string
	// Triggers returns the DDL of the capture and enforcement triggers.
	Triggers(t Table) []string
	// Uninject returns the DDL that removes everything Inject and Triggers
	// added, leaving the user's table and rows as they were.
	Uninject(t Table) []string
	// Stage returns the DDL of the temporary staging table an import fills.
	Stage(t Table) []string
	// DropStage removes the staging table.
	DropStage(t Table) string
	// Upsert returns an INSERT ... SELECT from query into t's columns that
	// updates rows whose key exists.
	Upsert(t Table, cols []string, query string) string
	// UpsertShadow is Upsert for the shadow table.
	UpsertShadow(t Table, query string) string
	// SetApplying marks the transaction as applying a packet (capture and
	// enforcement off) or not, by what the engine offers to one
	// transaction or connection alone (SQLite: a TEMP table; PostgreSQL: a
	// transaction-local setting; MariaDB: a session variable), never by
	// an ordinary table another writer could set.
	SetApplying(on bool) string
	// Fingerprint is the SQL expression of the fingerprint of a row image
	// kept in its shadow entry (ms_hash), over t's columns and mastership
	// field prefixed by row ("NEW.", "t."): what the capture triggers
	// store and what a verification recomputes.
	Fingerprint(t Table, row string) string
	// Insert returns a multi-row INSERT of cols into table.
	Insert(table string, cols []string, rows int) string
	// MaxParams is the most placeholders one statement may carry.
	MaxParams() int
	// InsertIgnore returns an INSERT of cols into table that does nothing
	// for a row whose key exists.
	InsertIgnore(table string, cols []string, rows int) string
	// Raw wraps a selected column so the driver returns the stored value
	// as it is (no parsing of dates by declared type).
	Raw(expr string) string
	// DeferForeignKeys makes foreign keys checked at commit in the current
	// transaction, so a packet's rows apply in any order.
	DeferForeignKeys() string
	// Value turns a value scanned from column c (selected through Raw)
	// into the portable form packets carry: nil, int64, float64, string or
	// []byte, with booleans as 0/1 and temporal values as text (see
	// [Canonical] for the forms).
	Value(c Column, v any) (any, error)
	// Arg turns a portable value (from a packet) into a query argument the
	// driver can store in column c.
	Arg(c Column, v any) any
	// Seal returns the UPDATE that stamps every unsealed entry (ms_epoch
	// NULL) of a shadow or transfer-log table with the epoch given as its
	// one placeholder, without ever skipping a committed change.
	Seal(table string) string
	// SnapshotTx returns the options of a transaction that reads one
	// consistent snapshot; nil means the default.
	SnapshotTx() *sql.TxOptions
	// TransactionalDDL reports whether DDL runs inside a transaction (and
	// rolls back with it).
	TransactionalDDL() bool
}

// MasterColumn is the injected mastership field.
const MasterColumn = "ms_master"

// Detect finds the dialect of db from its driver.
func Detect(db *sql.DB) (Dialect, error) {
	rt := reflect.TypeOf(db.Driver())
	t := rt.String()
	pkg := t
	if rt.Kind() == reflect.Pointer {
		pkg = rt.Elem().PkgPath()
	}
	switch {
	case strings.Contains(t, "sqlite"):
		return SQLiteDialect{}, nil
	case strings.Contains(pkg, "jackc/pgx"):
		return PostgresDialect{}, nil
	case strings.Contains(pkg, "go-sql-driver/mysql"):
		return MySQLDialect{}, nil
	}
	return nil, fmt.Errorf("%w: driver %s (supported: modernc.org/sqlite, github.com/jackc/pgx/v5/stdlib, github.com/go-sql-driver/mysql)", ErrUnsupported, t)
}

// ByName returns the dialect called n.
func ByName(n Name) (Dialect, error) {
	switch n {
	case SQLite:
		return SQLiteDialect{}, nil
	case Postgres:
		return PostgresDialect{}, nil
	case MySQL:
		return MySQLDialect{}, nil
	}
	return nil, fmt.Errorf("%w: dialect %q", ErrUnsupported, n)
}

// joinMap formats each column with f and joins them with sep.
func joinMap(cols []Column, sep string, f func(Column) string) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = f(c)
	}
	return strings.Join(parts, sep)
}

// keyList is "prefix.k1, prefix.k2" in key order, quoted with q.
func keyList(q func(string) string, t Table, prefix string) string {
	return joinMap(t.Keys(), ", ", func(c Column) string { return prefix + q(c.Name) })
}

// keyMatch is "a.k1 = b.k1 AND a.k2 = b.k2", quoted with q.
func keyMatch(q func(string) string, t Table, a, b string) string {
	return joinMap(t.Keys(), " AND ", func(c Column) string {
		return a + q(c.Name) + " = " + b + q(c.Name)
	})
}

// onConflictUpsert is INSERT ... query ON CONFLICT (key) DO UPDATE, the
// upsert SQLite and PostgreSQL share.
func onConflictUpsert(q func(string) string, t Table, cols []string, query string) string {
	var set []string
	for _, c := range cols {
		if _, isKey := keyCol(t, c); !isKey {
			set = append(set, fmt.Sprintf("%s = excluded.%s", q(c), q(c)))
		}
	}
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = q(c)
	}
	conflict := "DO NOTHING"
	if len(set) > 0 {
		conflict = "DO UPDATE SET " + strings.Join(set, ", ")
	}
	return fmt.Sprintf("INSERT INTO %s (%s) %s ON CONFLICT (%s) %s",
		q(t.Name), strings.Join(quoted, ", "), query, keyList(q, t, ""), conflict)
}

// onConflictUpsertShadow is onConflictUpsert for the shadow table; query
// selects the key columns, then ms_version, ms_master, ms_origin,
// ms_creator, ms_epoch, ms_deleted, ms_proof; shadow is the shadow table's
// name.
func onConflictUpsertShadow(q func(string) string, shadow string, t Table, query string) string {
	return fmt.Sprintf(`INSERT INTO %s (%s, ms_version, ms_master, ms_origin, ms_creator, ms_epoch, ms_deleted, ms_proof) %s
ON CONFLICT (%s) DO UPDATE SET ms_version = excluded.ms_version, ms_master = excluded.ms_master,
	ms_origin = excluded.ms_origin, ms_creator = excluded.ms_creator, ms_epoch = excluded.ms_epoch,
	ms_deleted = excluded.ms_deleted, ms_proof = excluded.ms_proof, ms_hash = NULL`, q(shadow), keyList(q, t, ""), query, keyList(q, t, ""))
}
