package engine

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/multisite-go/multisite/internal/dialect"
)

// inTx runs f in a write transaction on one connection and commits if f
// returns nil; otherwise it rolls back and the database is as it was. It
// is the only way the library opens a write transaction (a read-only
// snapshot is readTx's).
//
// On SQLite the transaction takes the write lock with its first statement,
// before it reads anything. A transaction that reads first and writes
// later must upgrade its lock, and SQLite refuses an upgrade at once
// (SQLITE_BUSY, whatever the busy timeout) if another connection wrote in
// between; taking the lock first waits under the busy timeout like any
// writer and never fails that way. The library's transactions are short,
// so the application's writers wait for them, not fail.
func inTx(ctx context.Context, db *sql.DB, d dialect.Dialect, f func(*sql.Tx) error) error {
	if d.Name() == dialect.SQLite {
		conn, err := db.Conn(ctx)
		if err != nil {
			return fmt.Errorf("multisite: begin: %w", err)
		}
		defer conn.Close()
		restore, err := sqliteWaitForLocks(ctx, conn)
		if err != nil {
			return err
		}
		defer restore()
		lock, err := sqliteLockStatement(ctx, conn)
		if err != nil {
			return err
		}
		return runTx(ctx, conn, func(tx *sql.Tx) error {
			if lock != "" {
				if _, err := tx.ExecContext(ctx, lock); err != nil {
					return fmt.Errorf("multisite: take the write lock: %w", err)
				}
			}
			return f(tx)
		})
	}
	return runTx(ctx, db, f)
}

// txBeginner is a *sql.DB or a *sql.Conn.
type txBeginner interface {
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

// runTx is inTx's body on a pool or on one connection the caller holds;
// callers outside this file go through inTx (or importTx, which holds a
// MySQL connection).
func runTx(ctx context.Context, db txBeginner, f func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("multisite: begin: %w", err)
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("multisite: commit: %w", err)
	}
	return nil
}

// DefaultBusyTimeout is how long, in milliseconds, the library's own
// SQLite transactions wait for the write lock when the application's
// connection has no busy timeout of its own.
const DefaultBusyTimeout = 5000

// sqliteWaitForLocks gives conn a busy timeout if it has none, so the
// library's transaction waits for the application's writers instead of
// failing; restore puts the connection's setting back before it returns
// to the pool.
func sqliteWaitForLocks(ctx context.Context, conn *sql.Conn) (restore func(), err error) {
	var ms int64
	if err := conn.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&ms); err != nil {
		return nil, fmt.Errorf("multisite: read busy_timeout: %w", err)
	}
	if ms > 0 {
		return func() {}, nil
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA busy_timeout = %d", DefaultBusyTimeout)); err != nil {
		return nil, fmt.Errorf("multisite: set busy_timeout: %w", err)
	}
	return func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA busy_timeout = 0") }, nil
}

// sqliteLockStatement returns a statement that takes the write lock and
// changes nothing: a DELETE that matches no row still begins a write
// transaction (the same lock BEGIN IMMEDIATE takes). database/sql gives
// no way to say BEGIN IMMEDIATE for one transaction, and the DSN option
// (_txlock=immediate) is the application's choice, so the library's
// transactions open with this. It needs a table: ms_ctl once the database
// is activated, else any table; a database with no table has no writer to
// wait for.
func sqliteLockStatement(ctx context.Context, conn *sql.Conn) (string, error) {
	var name string
	err := conn.QueryRowContext(ctx, `SELECT name FROM sqlite_master
WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND upper(sql) NOT LIKE 'CREATE VIRTUAL%'
ORDER BY name <> 'ms_ctl', name LIMIT 1`).Scan(&name)
	if err == sql.ErrNoRows {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("multisite: find a table to lock: %w", err)
	}
	return `DELETE FROM "` + strings.ReplaceAll(name, `"`, `""`) + `" WHERE 0`, nil
}

// LockForWrite takes SQLite's write lock in tx, waiting under the
// connection's busy timeout, if tx has not read yet; later writes in tx
// then never fail to upgrade a read lock. It does nothing on the servers,
// whose row locks need no such step. The database must be activated.
func LockForWrite(ctx context.Context, tx *sql.Tx, d dialect.Dialect) error {
	if d.Name() != dialect.SQLite {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM ms_ctl WHERE 0`); err != nil {
		return fmt.Errorf("multisite: take the write lock: %w", err)
	}
	return nil
}
