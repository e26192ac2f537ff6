package dialect

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// SQLiteDialect is SQLite through modernc.org/sqlite (or any SQLite driver).
type SQLiteDialect struct{}

var _ Dialect = SQLiteDialect{}

// Name returns SQLite.
func (SQLiteDialect) Name() Name { return SQLite }

// Quote quotes an identifier with double quotes.
func (SQLiteDialect) Quote(ident string) string {
	return `"` + strings.ReplaceAll(ident, `"`, `""`) + `"`
}

// Object returns prefix + name + suffix: SQLite has no length limit.
func (SQLiteDialect) Object(prefix, name, suffix string) string {
	return objectName(nil, prefix, name, suffix)
}

// Rebind leaves '?' placeholders as they are.
func (SQLiteDialect) Rebind(q string) string { return sqlx.Rebind(sqlx.QUESTION, q) }

// Setup switches the database to WAL so that readers (a long export or a
// replica-creation packet) never block writers and writers never block them.
func (SQLiteDialect) Setup(ctx context.Context, db *sql.DB) error {
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode); err != nil {
		return fmt.Errorf("set WAL journal mode: %w", err)
	}
	return nil
}

// Tables lists user tables, skipping SQLite's and the library's own.
func (SQLiteDialect) Tables(ctx context.Context, q Querier) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table'
		AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name NOT LIKE 'ms\_%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

// Describe reads columns with PRAGMA table_xinfo (which reports declared
// types, NOT NULL and key positions) and drops the mastership field.
func (d SQLiteDialect) Describe(ctx context.Context, q Querier, table string) (Table, bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT name, type, "notnull", pk, hidden, coalesce(dflt_value, '') FROM pragma_table_xinfo(?)`, table)
	if err != nil {
		return Table{}, false, err
	}
	defer rows.Close()
	t := Table{Name: table}
	n := 0
	for rows.Next() {
		var c Column
		var notnull, hidden int
		if err := rows.Scan(&c.Name, &c.Type, &notnull, &c.Key, &hidden, &c.Default); err != nil {
			return Table{}, false, err
		}
		n++
		if hidden != 0 || c.Name == MasterColumn {
			continue // generated columns are derived, not replicated
		}
		c.NotNull = notnull != 0
		t.Columns = append(t.Columns, c)
	}
	if err := rows.Err(); err != nil {
		return Table{}, false, err
	}
	return t, n > 0, nil
}

// Meta returns the metadata tables. ms_ctl has exactly one row; the
// triggers read the local replica, its state and the applying flag there.
func (SQLiteDialect) Meta() []string {
	return append([]string{
		`CREATE TABLE ms_ctl (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	format INTEGER NOT NULL,
	family TEXT NOT NULL,
	local TEXT NOT NULL,
	state TEXT NOT NULL,
	applying INTEGER NOT NULL DEFAULT 0,
	epoch INTEGER NOT NULL DEFAULT 0,
	key_lo INTEGER NOT NULL,
	key_hi INTEGER NOT NULL,
	code_page TEXT NOT NULL,
	code_page_version INTEGER NOT NULL DEFAULT 0,
	schema_version INTEGER NOT NULL DEFAULT 0,
	private_key BLOB NOT NULL
)`,
		`CREATE TABLE ms_replica (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	number INTEGER NOT NULL UNIQUE,
	public_key BLOB NOT NULL,
	state TEXT NOT NULL,
	version INTEGER NOT NULL,
	key_sig BLOB,
	incarnation INTEGER NOT NULL DEFAULT 0
)`,
		`CREATE TABLE ms_restore (
	peer TEXT PRIMARY KEY
)`,
		`CREATE TABLE ms_vector (
	holder TEXT NOT NULL,
	origin TEXT NOT NULL,
	epoch INTEGER NOT NULL,
	PRIMARY KEY (holder, origin)
)`,
		`CREATE TABLE ms_table (
	name TEXT PRIMARY KEY,
	columns TEXT NOT NULL
)`,
		`CREATE TABLE ms_key (
	tbl TEXT PRIMARY KEY,
	next INTEGER NOT NULL
)`,
		`CREATE TABLE ms_conflict (
	tbl TEXT NOT NULL,
	key TEXT NOT NULL,
	creator TEXT NOT NULL,
	winner TEXT NOT NULL,
	version INTEGER NOT NULL,
	image TEXT NOT NULL,
	detected TEXT NOT NULL,
	PRIMARY KEY (tbl, key, creator)
)`,
	}, requestMeta()...)
}

// DropMeta removes the metadata tables.
func (SQLiteDialect) DropMeta() []string {
	return append(dropRequestMeta(),
		"DROP TABLE IF EXISTS ms_conflict",
		"DROP TABLE IF EXISTS ms_key",
		"DROP TABLE IF EXISTS ms_table",
		"DROP TABLE IF EXISTS ms_vector",
		"DROP TABLE IF EXISTS ms_restore",
		"DROP TABLE IF EXISTS ms_replica",
		"DROP TABLE IF EXISTS ms_ctl",
	)
}

// literal quotes s as an SQL string literal. Only replica IDs the library
// generated reach it.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func (d SQLiteDialect) colDef(c Column) string {
	s := d.Quote(c.Name)
	if c.Type != "" {
		s += " " + c.Type
	}
	if c.NotNull {
		s += " NOT NULL"
	}
	if c.Default != "" {
		s += " DEFAULT (" + c.Default + ")"
	}
	return s
}

func (d SQLiteDialect) keyList(t Table, prefix string) string {
	return keyList(d.Quote, t, prefix)
}

// keyMatch is "a.k1 = b.k1 AND a.k2 = b.k2".
func (d SQLiteDialect) keyMatch(t Table, a, b string) string {
	return keyMatch(d.Quote, t, a, b)
}

// CreateTable creates a user table from its portable form.
func (d SQLiteDialect) CreateTable(t Table, local string) string {
	defs := joinMap(t.Columns, ",\n\t", d.colDef)
	return fmt.Sprintf("CREATE TABLE %s (\n\t%s,\n\t%s TEXT NOT NULL DEFAULT %s,\n\tPRIMARY KEY (%s)\n)",
		d.Quote(t.Name), defs, MasterColumn, literal(local), d.keyList(t, ""))
}

func (d SQLiteDialect) shadowDDL(t Table) []string {
	keys := joinMap(t.Keys(), ",\n\t", func(c Column) string {
		c.Default = ""
		return d.colDef(c)
	})
	return []string{
		fmt.Sprintf(`CREATE TABLE %s (
	%s,
	ms_version INTEGER NOT NULL,
	ms_master TEXT NOT NULL,
	ms_origin TEXT NOT NULL,
	ms_creator TEXT NOT NULL,
	ms_epoch INTEGER,
	ms_deleted INTEGER NOT NULL DEFAULT 0,
	ms_hash TEXT,
	ms_proof BLOB,
	PRIMARY KEY (%s)
)`, d.Quote(Shadow(d, t.Name)), keys, d.keyList(t, "")),
		d.EpochIndex(t),
		// Seal finds pending changes through this partial index instead of
		// scanning the shadow (an incremental export of 100 rows from 1M).
		fmt.Sprintf("CREATE INDEX %s ON %s (ms_epoch) WHERE ms_epoch IS NULL", d.Quote(ShadowIndex(d, t.Name, "pending")), d.Quote(Shadow(d, t.Name))),
		fmt.Sprintf(`CREATE TABLE %s (
	%s,
	ms_version INTEGER NOT NULL,
	ms_from TEXT NOT NULL,
	ms_to TEXT NOT NULL,
	ms_epoch INTEGER,
	ms_proof BLOB,
	PRIMARY KEY (%s, ms_version)
)`, d.Quote(Xfer(d, t.Name)), keys, d.keyList(t, "")),
		fmt.Sprintf("CREATE INDEX %s ON %s (ms_from, ms_epoch)", d.Quote(XferIndex(d, t.Name, "epoch")), d.Quote(Xfer(d, t.Name))),
		fmt.Sprintf("CREATE INDEX %s ON %s (ms_epoch) WHERE ms_epoch IS NULL", d.Quote(XferIndex(d, t.Name, "pending")), d.Quote(Xfer(d, t.Name))),
	}
}

// Inject adds the mastership field to an existing table, creates its shadow
// and transfer log, and records every existing row as a local change so the
// first export seals it.
func (d SQLiteDialect) Inject(t Table, local string) []string {
	stmts := []string{
		fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s TEXT NOT NULL DEFAULT %s", d.Quote(t.Name), MasterColumn, literal(local)),
	}
	stmts = append(stmts, d.shadowDDL(t)...)
	stmts = append(stmts, fmt.Sprintf(
		"INSERT INTO %s (%s, ms_version, ms_master, ms_origin, ms_creator, ms_epoch, ms_deleted, ms_hash) SELECT %s, 1, %s, %s, %s, NULL, 0, %s FROM %s t",
		d.Quote(Shadow(d, t.Name)), d.keyList(t, ""), d.keyList(t, "t."), literal(local), literal(local), literal(local), d.Fingerprint(t, "t."), d.Quote(t.Name)))
	return stmts
}

// Fingerprint is the fingerprint of a row image kept in its shadow entry
// (ms_hash), over the columns and the mastership field of the row whose
// columns are prefixed by row ("NEW.", "t."). SQLite has no hash function
// of its own, so the fingerprint is the image itself, each value quoted:
// exact, at the cost of a shadow as large as the table.
func (d SQLiteDialect) Fingerprint(t Table, row string) string {
	parts := make([]string, 0, len(t.Columns)+1)
	for _, c := range t.Columns {
		parts = append(parts, "quote("+row+d.Quote(c.Name)+")")
	}
	parts = append(parts, "quote("+row+MasterColumn+")")
	return strings.Join(parts, " || ',' || ")
}

// SQLiteNotApplying is the condition under which the triggers act: no
// temp.ms_applying on this connection. Only the library's transactions
// create that TEMP table (SetApplying), which no other connection sees and
// which a rollback removes; no ordinary table holds the switch.
const SQLiteNotApplying = "NOT EXISTS (SELECT 1 FROM pragma_table_info('ms_applying', 'temp'))"

// EpochIndex is the index exports find a shadow's changes by (origin,
// then epoch). It holds sealed changes only: a pending change (epoch NULL)
// is found through the pending index, and leaving it out of this one
// spares every captured write one index entry and every seal one index
// update. SQLite uses it for the exports'
// "ms_origin = ? AND ms_epoch > ?" terms, which imply its condition.
// Databases of metadata format 2 and older had it whole, under its
// legacy name ([LegacyShadowIndex]); the format 3 upgrade drops that one
// and creates this one if it is not there yet.
func (d SQLiteDialect) EpochIndex(t Table) string {
	return fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (ms_origin, ms_epoch) WHERE ms_epoch IS NOT NULL", d.Quote(ShadowIndex(d, t.Name, "epoch")), d.Quote(Shadow(d, t.Name)))
}

// ShadowDDL is the shadow and transfer-log DDL alone, for a replica created
// from a packet, whose shadow is filled from the packet.
func (d SQLiteDialect) ShadowDDL(t Table) []string { return d.shadowDDL(t) }

// refuse is the trigger statement that refuses a write to a row of t
// mastered by master (an expression) when cond holds: it inserts into
// ms_refuse, whose own trigger raises the not-master error (see
// RefusalTrigger). SQLite before 3.47 takes only a literal message in
// RAISE, so the message naming the master is chosen there, by a CASE over
// the registry, rather than built here.
func (d SQLiteDialect) refuse(t Table, master, from, cond string) string {
	return fmt.Sprintf("INSERT INTO ms_refuse (tbl, master) SELECT %s, %s FROM %s WHERE %s;", literal(t.Name), master, from, cond)
}

// raiseState refuses local writes at a replica that is not active. The
// messages are literals: see refuse.
const raiseState = `SELECT CASE c.state WHEN 'receive-only' THEN RAISE(ABORT, 'multisite: this replica is receive-only; local writes are refused until it is made active')
		ELSE RAISE(ABORT, 'multisite: this replica is not active; local writes are refused until it is made active') END FROM ms_ctl c WHERE c.state <> 'active';`

// Triggers returns the enforcement (BEFORE) and capture (AFTER) triggers.
// They stand aside while temp.ms_applying exists, which only an import's
// own connection creates (see SetApplying). Every message they raise is a literal, so that any
// SQLite from 3.31 on parses them (see the README's SQLite floor).
func (d SQLiteDialect) Triggers(t Table) []string {
	q := d.Quote
	T, S, X := q(t.Name), q(Shadow(d, t.Name)), q(Xfer(d, t.Name))
	name := func(suffix string) string { return q(triggerName(d, t.Name, suffix)) }
	when := "WHEN " + SQLiteNotApplying
	keys := d.keyList(t, "")
	newKeys := d.keyList(t, "NEW.")
	pkChanged := joinMap(t.Keys(), " OR ", func(c Column) string {
		return "NEW." + q(c.Name) + " IS NOT OLD." + q(c.Name)
	})
	var rangeCheck string
	if t.IntegerKey() {
		k := q(t.Keys()[0].Name)
		rangeCheck = fmt.Sprintf(`SELECT RAISE(ABORT, %s) FROM ms_ctl c WHERE NEW.%s NOT BETWEEN c.key_lo AND c.key_hi;
	`, literal("multisite: a key of "+t.Name+" is outside the key range of this replica; allocate new keys with multisite.NextID"), k)
	}
	return append([]string{
		fmt.Sprintf(`CREATE TRIGGER %s BEFORE INSERT ON %s %s BEGIN
	%s
	%s
	%s
END`, name("bi"), T, when, raiseState,
			d.refuse(t, "NEW.ms_master", "ms_ctl c", "NEW.ms_master IS NOT c.local"),
			d.refuse(t, "r.ms_master", S+" r, ms_ctl c", d.keyMatch(t, "r.", "NEW.")+" AND r.ms_master <> c.local")),
		fmt.Sprintf(`CREATE TRIGGER %s AFTER INSERT ON %s %s BEGIN
	%sINSERT INTO %s (%s, ms_version, ms_master, ms_origin, ms_creator, ms_epoch, ms_deleted, ms_hash)
	SELECT %s, 1, NEW.ms_master, c.local, c.local, NULL, 0, %s FROM ms_ctl c WHERE true
	ON CONFLICT (%s) DO UPDATE SET ms_version = ms_version + 1, ms_master = excluded.ms_master,
		ms_origin = excluded.ms_origin, ms_epoch = NULL, ms_deleted = 0, ms_hash = excluded.ms_hash;
END`, name("ai"), T, when, rangeCheck, S, keys, newKeys, d.Fingerprint(t, "NEW."), keys),
		fmt.Sprintf(`CREATE TRIGGER %s BEFORE UPDATE ON %s %s BEGIN
	%s
	%s
	SELECT RAISE(ABORT, %s) WHERE %s;
	SELECT RAISE(ABORT, %s) WHERE NEW.ms_master IS NOT OLD.ms_master AND NOT EXISTS (SELECT 1 FROM ms_replica WHERE id = NEW.ms_master AND state <> 'removed');
END`, name("bu"), T, when, raiseState,
			d.refuse(t, "OLD.ms_master", "ms_ctl c", "OLD.ms_master IS NOT c.local"),
			literal("multisite: the primary key of replicated table "+t.Name+" cannot change; delete the row and insert a new one"), pkChanged,
			literal("multisite: cannot transfer a row of "+t.Name+" to an unknown or removed replica")),
		fmt.Sprintf(`CREATE TRIGGER %s AFTER UPDATE ON %s %s BEGIN
	SELECT RAISE(ABORT, %s) WHERE NOT EXISTS (SELECT 1 FROM %s r WHERE %s AND r.ms_deleted = 0);
	UPDATE %s SET ms_version = ms_version + 1, ms_master = NEW.ms_master,
		ms_origin = (SELECT local FROM ms_ctl), ms_epoch = NULL, ms_hash = %s WHERE %s;
	INSERT INTO %s (%s, ms_version, ms_from, ms_to, ms_epoch)
	SELECT %s, r.ms_version, OLD.ms_master, NEW.ms_master, NULL FROM %s r
	WHERE %s AND OLD.ms_master IS NOT NEW.ms_master;
END`, name("au"), T, when, literal(noShadowMessage(t)), S, d.keyMatch(t, "r.", "OLD."),
			S, d.Fingerprint(t, "NEW."), d.keyMatch(t, "", "NEW."), X, keys, newKeys, S, d.keyMatch(t, "r.", "NEW.")),
		fmt.Sprintf(`CREATE TRIGGER %s BEFORE DELETE ON %s %s BEGIN
	%s
	%s
END`, name("bd"), T, when, raiseState, d.refuse(t, "OLD.ms_master", "ms_ctl c", "OLD.ms_master IS NOT c.local")),
		fmt.Sprintf(`CREATE TRIGGER %s AFTER DELETE ON %s %s BEGIN
	SELECT RAISE(ABORT, %s) WHERE NOT EXISTS (SELECT 1 FROM %s r WHERE %s AND r.ms_deleted = 0);
	UPDATE %s SET ms_version = ms_version + 1, ms_origin = (SELECT local FROM ms_ctl),
		ms_epoch = NULL, ms_deleted = 1, ms_hash = NULL WHERE %s;
END`, name("ad"), T, when, literal(noShadowMessage(t)), S, d.keyMatch(t, "r.", "OLD."), S, d.keyMatch(t, "", "OLD.")),
	}, d.keyTriggers(t)...)
}

// keyTriggers are the key triggers of a table with an integer key (keys.go).
func (d SQLiteDialect) keyTriggers(t Table) []string {
	if !t.IntegerKey() {
		return nil
	}
	return d.sqliteKeyTriggers(t)
}

// TriggerNames lists the triggers Triggers creates.
func (d SQLiteDialect) TriggerNames(t Table) []string {
	ns := triggerNames(d, t)
	if t.IntegerKey() {
		ns = append(ns, sqliteKeyTriggerNames(d, t)...) // keys.go
	}
	return ns
}

// triggerNames are the names of the six capture and enforcement triggers.
func triggerNames(d Dialect, t Table) []string {
	var ns []string
	for _, s := range []string{"bi", "ai", "bu", "au", "bd", "ad"} {
		ns = append(ns, triggerName(d, t.Name, s))
	}
	return ns
}

// Uninject drops the triggers, shadow and transfer log and the mastership
// field.
func (d SQLiteDialect) Uninject(t Table) []string {
	var stmts []string
	for _, n := range d.TriggerNames(t) {
		stmts = append(stmts, "DROP TRIGGER IF EXISTS "+d.Quote(n))
	}
	return append(stmts,
		"DROP TABLE IF EXISTS "+d.Quote(Xfer(d, t.Name)),
		"DROP TABLE IF EXISTS "+d.Quote(Shadow(d, t.Name)),
		fmt.Sprintf("ALTER TABLE %s DROP COLUMN %s", d.Quote(t.Name), MasterColumn),
	)
}

// Stage creates the temporary staging table of an import: the row image
// plus the change's metadata and whether to apply it.
func (d SQLiteDialect) Stage(t Table) []string {
	cols := joinMap(t.Columns, ", ", func(c Column) string { return d.Quote(c.Name) })
	return []string{
		"DROP TABLE IF EXISTS temp." + d.Quote(StageName(d, t.Name)),
		fmt.Sprintf(`CREATE TEMP TABLE %s (%s, ms_master, ms_version, ms_origin, ms_creator, ms_epoch, ms_deleted, ms_proof, ms_apply INTEGER NOT NULL DEFAULT 0, ms_seq INTEGER PRIMARY KEY)`,
			d.Quote(StageName(d, t.Name)), cols),
	}
}

// DropStage drops the staging table.
func (d SQLiteDialect) DropStage(t Table) string {
	return "DROP TABLE IF EXISTS temp." + d.Quote(StageName(d, t.Name))
}

// Upsert inserts rows from query into t, replacing rows whose key exists.
func (d SQLiteDialect) Upsert(t Table, cols []string, query string) string {
	return onConflictUpsert(d.Quote, t, cols, query)
}

// UpsertShadow inserts shadow entries from query (which must select the key
// columns then ms_version, ms_master, ms_origin, ms_creator, ms_epoch,
// ms_deleted, ms_proof), replacing entries whose key exists.
func (d SQLiteDialect) UpsertShadow(t Table, query string) string {
	return onConflictUpsertShadow(d.Quote, Shadow(d, t.Name), t, query)
}

// SetApplying creates (on) or drops (off) temp.ms_applying, which the
// triggers look for (SQLiteNotApplying): a TEMP table is seen by this
// connection alone, and its creation is undone with the transaction, so a
// failed import leaves nothing switched off. Switching on also writes
// ms_ctl, so that the transaction holds the write lock from there on.
// ms_ctl.applying is no longer read by any trigger.
func (SQLiteDialect) SetApplying(on bool) string {
	if on {
		return "UPDATE ms_ctl SET applying = 0; CREATE TEMP TABLE IF NOT EXISTS ms_applying (id INTEGER)"
	}
	return "DROP TABLE IF EXISTS temp.ms_applying"
}

// DeferForeignKeys defers foreign key checks to commit.
func (SQLiteDialect) DeferForeignKeys() string { return "PRAGMA defer_foreign_keys = ON" }

func keyCol(t Table, name string) (Column, bool) {
	c, ok := t.Column(name)
	return c, ok && c.Key > 0
}

// InsertIgnore inserts rows of placeholders, skipping keys that exist.
func (d SQLiteDialect) InsertIgnore(table string, cols []string, rows int) string {
	return d.insert(table, cols, rows) + " ON CONFLICT DO NOTHING"
}

// Insert returns a multi-row INSERT of cols into table with '?' placeholders.
func (d SQLiteDialect) insert(table string, cols []string, rows int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO ")
	b.WriteString(d.Quote(table))
	b.WriteString(" (")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(d.Quote(c))
	}
	b.WriteString(") VALUES ")
	row := "(" + strings.Repeat("?, ", len(cols)-1) + "?)"
	for i := 0; i < rows; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

// Insert returns a multi-row INSERT of cols into table.
func (d SQLiteDialect) Insert(table string, cols []string, rows int) string {
	return d.insert(table, cols, rows)
}

// Raw applies SQLite's no-op unary plus: the result has no declared type,
// so the driver does not turn DATE or DATETIME text into time.Time.
func (SQLiteDialect) Raw(expr string) string { return "+" + expr }

// MaxParams is the most placeholders one statement may carry.
func (SQLiteDialect) MaxParams() int { return 32000 }

// Value returns v unchanged, through Raw SQLite's storage classes being
// the portable forms, but for a date, time or timestamp column, whose
// value it turns into the canonical text (see [Canonical]): Go drivers
// store a time.Time as text of their own (modernc.org/sqlite as
// time.Time.String, "1999-12-31 23:59:59 +0000 UTC"), SQLite's
// CURRENT_TIMESTAMP writes "1999-12-31 23:59:59", and an integer there is
// a Unix time.
func (SQLiteDialect) Value(c Column, v any) (any, error) {
	if k := KindOf(c.Type); isTemporal(k) && v != nil {
		if t, ok := v.(time.Time); ok && k == KindTimestamp {
			v = t.UTC() // as its text form reads (a driver parsed it)
		}
		return portable(k, v)
	}
	return v, nil
}

// Arg returns v unchanged: SQLite stores any value in any column.
func (SQLiteDialect) Arg(c Column, v any) any { return v }

// Seal stamps unsealed entries. SQLite has one writer at a time, so the
// seal sees every committed change and no uncommitted one.
func (d SQLiteDialect) Seal(table string) string {
	return fmt.Sprintf("UPDATE %s SET ms_epoch = ? WHERE ms_epoch IS NULL", d.Quote(table))
}

// SnapshotTx asks for a read-only transaction: a SQLite transaction reads
// one snapshot, and ReadOnly keeps a driver told to begin every
// transaction IMMEDIATE (modernc.org/sqlite's _txlock=immediate, as the
// README advises applications) from taking the write lock for a read that
// may last as long as a creation packet takes to write.
func (SQLiteDialect) SnapshotTx() *sql.TxOptions { return &sql.TxOptions{ReadOnly: true} }

// TransactionalDDL is true.
func (SQLiteDialect) TransactionalDDL() bool { return true }
