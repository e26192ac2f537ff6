package dialect

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Key generators. Every replica hands out integer keys from its own range
// [lo, hi] (replica.KeyRange), and a key must come out of one atomic
// generator whoever asks for it: multisite.NextID, or an application's
// INSERT that leaves the key out.
//
//   - PostgreSQL: a sequence confined to the range (MINVALUE lo MAXVALUE
//     hi): the column's own (serial or identity) where it has one, else
//     KeySequence(table), owned by the column and made its default. A
//     creation packet's replica gets one too, so a keyless INSERT works at
//     every replica and RETURNING tells the key.
//   - MariaDB: a SEQUENCE object KeySequence(table) confined to the range;
//     the BEFORE INSERT trigger takes a key from it when the INSERT leaves
//     the key out (NULL or 0). InnoDB's AUTO_INCREMENT counter cannot be
//     confined (an imported row with a larger key moves it past the range
//     for good), so it never counts. INSERT … RETURNING and the driver's
//     LastInsertId (the OK packet's insert id, for an AUTO_INCREMENT
//     column, which CreateReplica makes every integer key) tell the key;
//     SQL's LAST_INSERT_ID() does not (0), as the key no longer comes from
//     AUTO_INCREMENT; PREVIOUS VALUE FOR the sequence does, in the same
//     session.
//   - SQLite: the counter table ms_key (tbl, next), one row per table.
//     SQLite picks max(rowid)+1 for an INSERT without the key, which lands
//     in this replica's range only while it holds the table's largest
//     key; an INSERT it would put elsewhere is refused with a message that
//     says how to give the key in plain SQL:
//     INSERT INTO t (id, …) VALUES ((SELECT next FROM ms_key WHERE tbl = 't'), …).
//     A trigger moves next past every key inserted in the range, so the
//     recipe works again and again, in one statement (SQLite 3.24+).
//
// Sequences and SQLite's counter never go back: a key taken and not used
// is skipped, never handed out twice.

// KeySequence is the name of the key sequence the library creates for
// table (PostgreSQL, when the key column has none of its own; MariaDB).
func KeySequence(d Dialect, table string) string { return d.Object("ms_seq_", table, "") }

// KeyTable is SQLite's key counter table.
const KeyTable = "ms_key"

// ErrNoKeyGenerator is returned by NextKey for a table whose key generator
// was never set up (a database activated by an older version).
var ErrNoKeyGenerator = errors.New("dialect: table has no key generator")

// SetupKeys confines t's key generator to [lo, hi] and makes next the
// first key it hands out. t must have an integer key. It runs in the
// transaction that activates the database or creates the table; on
// MariaDB it is DDL and commits that transaction, as the rest of
// activation does there.
func SetupKeys(ctx context.Context, q Querier, d Dialect, t Table, lo, hi, next int64) error {
	k := t.Keys()[0].Name
	var stmts []string
	switch d.Name() {
	case SQLite:
		stmts = []string{
			`CREATE TABLE IF NOT EXISTS ms_key (
	tbl TEXT PRIMARY KEY,
	next INTEGER NOT NULL
)`,
			fmt.Sprintf("INSERT INTO ms_key (tbl, next) VALUES (%s, %d) ON CONFLICT (tbl) DO UPDATE SET next = max(next, excluded.next)", literal(t.Name), next),
		}
	case Postgres:
		var seq sql.NullString
		if err := q.QueryRowContext(ctx, `SELECT pg_get_serial_sequence($1, $2)`, d.Quote(t.Name), k).Scan(&seq); err != nil {
			return fmt.Errorf("dialect: key sequence of %s: %w", t.Name, err)
		}
		if seq.Valid {
			stmts = []string{fmt.Sprintf("ALTER SEQUENCE %s AS bigint MINVALUE %d MAXVALUE %d START WITH %d RESTART WITH %d NO CYCLE", seq.String, lo, hi, next, next)}
			break
		}
		s := d.Quote(KeySequence(d, t.Name))
		stmts = []string{
			fmt.Sprintf("CREATE SEQUENCE %s AS bigint MINVALUE %d MAXVALUE %d START WITH %d NO CYCLE OWNED BY %s.%s", s, lo, hi, next, d.Quote(t.Name), d.Quote(k)),
		}
		var hasDefault bool
		if err := q.QueryRowContext(ctx, `SELECT a.atthasdef OR a.attidentity <> '' FROM pg_attribute a
			WHERE a.attrelid = $1::regclass AND a.attname = $2`, d.Quote(t.Name), k).Scan(&hasDefault); err != nil {
			return fmt.Errorf("dialect: key default of %s: %w", t.Name, err)
		}
		if !hasDefault {
			stmts = append(stmts, fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s SET DEFAULT nextval(%s::regclass)", d.Quote(t.Name), d.Quote(k), literal(s)))
		}
	case MySQL:
		stmts = []string{fmt.Sprintf("CREATE OR REPLACE SEQUENCE %s START WITH %d MINVALUE %d MAXVALUE %d INCREMENT BY 1 CACHE 1000 NOCYCLE",
			d.Quote(KeySequence(d, t.Name)), next, lo, hi)}
	default:
		return fmt.Errorf("dialect: key generator of %s: unknown dialect %s", t.Name, d.Name())
	}
	for _, s := range stmts {
		if _, err := q.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("dialect: set up the key generator of %s: %w", t.Name, err)
		}
	}
	return nil
}

// NextKey takes the next key of t from its generator. q is the caller's
// transaction or the pool. On PostgreSQL and MariaDB the sequence hands
// out the key at once, so concurrent transactions never wait for each
// other here; on SQLite the counter row is updated in q's transaction,
// which holds the database's one write lock anyway. The SQLite counter
// never goes below the largest key of the range the shadow holds (a
// deleted row's key stays taken), which keeps it right after a restore.
func NextKey(ctx context.Context, q Querier, d Dialect, t Table, lo, hi int64) (int64, error) {
	k := d.Quote(t.Keys()[0].Name)
	var next sql.NullInt64
	var err error
	switch d.Name() {
	case SQLite:
		_, err = q.ExecContext(ctx, fmt.Sprintf(`INSERT INTO ms_key (tbl, next)
SELECT ?, coalesce(max(%s), ?) + 2 FROM %s WHERE %s BETWEEN ? AND ?
ON CONFLICT (tbl) DO UPDATE SET next = max(next + 1, excluded.next)`, k, d.Quote(Shadow(d, t.Name)), k), t.Name, lo-1, lo, hi)
		if err == nil {
			err = q.QueryRowContext(ctx, `SELECT next - 1 FROM ms_key WHERE tbl = ?`, t.Name).Scan(&next)
		}
	case Postgres:
		err = q.QueryRowContext(ctx, `SELECT nextval(pg_get_serial_sequence($1, $2))`, d.Quote(t.Name), t.Keys()[0].Name).Scan(&next)
		if err == nil && !next.Valid {
			return 0, fmt.Errorf("%w: %s", ErrNoKeyGenerator, t.Name)
		}
	case MySQL:
		err = q.QueryRowContext(ctx, "SELECT NEXT VALUE FOR "+d.Quote(KeySequence(d, t.Name))).Scan(&next)
	default:
		return 0, fmt.Errorf("dialect: next key of %s: unknown dialect %s", t.Name, d.Name())
	}
	if err != nil {
		if m := err.Error(); strings.Contains(m, "no such table: ms_key") || strings.Contains(m, "Error 1146") || strings.Contains(m, "Error 4091") {
			return 0, fmt.Errorf("%w: %s: %w", ErrNoKeyGenerator, t.Name, err)
		}
		return 0, fmt.Errorf("dialect: next key of %s: %w", t.Name, err)
	}
	return next.Int64, nil
}

// sqliteKeyTriggerNames are the names of SQLite's key triggers of t.
func sqliteKeyTriggerNames(d Dialect, t Table) []string {
	return []string{triggerName(d, t.Name, "bk"), triggerName(d, t.Name, "ak")}
}

// sqliteKeyTriggers returns SQLite's two key triggers of a table with an
// integer key. The first refuses an INSERT without the key that SQLite
// would give a key outside this replica's range or one already handed
// out (in a BEFORE INSERT trigger, a rowid SQLite is about to choose reads
// as -1), with a message that says how to give the key. The second moves
// the counter past every key inserted in the range, whoever inserted it
// (an application's plain SQL, NextID's caller, an import bringing back
// this replica's own rows after a restore). Neither looks at the applying
// flag for an import, except that the first stands aside while one
// applies (its keys are given, -1 included). The message is one literal, so
// the trigger parses on every SQLite.
func (d SQLiteDialect) sqliteKeyTriggers(t Table) []string {
	q := d.Quote
	n := sqliteKeyTriggerNames(d, t)
	k := q(t.Keys()[0].Name)
	msg := fmt.Sprintf("multisite: an INSERT into %s without its key would take SQLite's max(%s)+1, which is not this replica's to give; give the key: INSERT INTO %s (%s, ...) VALUES ((SELECT next FROM ms_key WHERE tbl = %s), ...), or take one with multisite.NextID",
		t.Name, t.Keys()[0].Name, q(t.Name), k, literal(t.Name))
	return []string{
		// An import always gives the key, and may bring one that is -1
		// (a row keyed -1 before activation), so the check stands aside
		// while the library's own transaction applies a packet.
		fmt.Sprintf(`CREATE TRIGGER %s BEFORE INSERT ON %s WHEN (NEW.%s IS NULL OR NEW.%s = -1) AND `+SQLiteNotApplying+` BEGIN
	SELECT RAISE(ABORT, %s) WHERE NEW.%s IS NULL
		OR (SELECT coalesce(max(%s), 0) + 1 FROM %s) NOT BETWEEN (SELECT next FROM ms_key WHERE tbl = %s) AND (SELECT key_hi FROM ms_ctl);
END`, q(n[0]), q(t.Name), k, k, literal(msg), k, k, q(t.Name), literal(t.Name)),
		fmt.Sprintf(`CREATE TRIGGER %s AFTER INSERT ON %s BEGIN
	UPDATE ms_key SET next = NEW.%s + 1 WHERE tbl = %s AND next <= NEW.%s AND NEW.%s <= (SELECT key_hi FROM ms_ctl);
END`, q(n[1]), q(t.Name), k, literal(t.Name), k, k),
	}
}

// HasKeyGenerator reports whether t's key generator exists (databases
// activated by older versions have none until Repair sets one up).
func HasKeyGenerator(ctx context.Context, q Querier, d Dialect, t Table) (bool, error) {
	var n int
	var err error
	switch d.Name() {
	case SQLite:
		err = q.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'ms_key'`).Scan(&n)
		if err == nil && n > 0 {
			err = q.QueryRowContext(ctx, `SELECT count(*) FROM ms_key WHERE tbl = ?`, t.Name).Scan(&n)
		}
	case Postgres:
		err = q.QueryRowContext(ctx, `SELECT count(pg_get_serial_sequence($1, $2))`, d.Quote(t.Name), t.Keys()[0].Name).Scan(&n)
	case MySQL:
		err = q.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND TABLE_TYPE = 'SEQUENCE'`, KeySequence(d, t.Name)).Scan(&n)
	default:
		return false, fmt.Errorf("dialect: key generator of %s: unknown dialect %s", t.Name, d.Name())
	}
	if err != nil {
		return false, fmt.Errorf("dialect: key generator of %s: %w", t.Name, err)
	}
	return n > 0, nil
}
