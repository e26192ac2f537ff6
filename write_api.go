package multisite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/multisite-go/multisite/hooks"
	"github.com/multisite-go/multisite/internal/engine"
	"github.com/multisite-go/multisite/mastership"
)

// WriteOptions controls Write. The zero value detects the dialect, uses
// the driver's default isolation and runs no hook.
type WriteOptions struct {
	Dialect Dialect // "" detects it
	// TxOptions are passed to BeginTx; nil means the driver's defaults.
	TxOptions *sql.TxOptions
	// Hooks, if set, has its OnRefusedWrite told of a write the library
	// refused because another replica masters the row.
	Hooks *hooks.Hooks
}

// Write runs fn in a transaction on db and commits it if fn returns nil,
// else rolls it back. Writes to replicated tables are captured and
// checked by the database itself, whatever tool makes them; Write adds
// what plain SQL cannot: an error from a write to a row another replica
// masters comes back as a *mastership.NotMasterError (errors.Is
// mastership.ErrNotMaster) naming the table, key and master, and the
// OnRefusedWrite hook is told of it before Write returns; a write the
// database refused for a character outside the family's code page comes
// back as a *CharsetError (errors.Is ErrCharset). fn's other errors are
// returned as they are. Safe for concurrent use.
func Write(ctx context.Context, db *sql.DB, opt WriteOptions, fn func(ctx context.Context, tx *sql.Tx) error) error {
	d, err := ready(ctx, db, opt.Dialect)
	if err != nil {
		return err
	}
	if fn == nil {
		return errors.New("multisite: Write needs a function")
	}
	err = write(ctx, db, opt.TxOptions, func(ctx context.Context, tx *sql.Tx) error {
		// On SQLite the write lock is taken first, so a transaction that
		// reads before it writes waits for other writers instead of
		// failing to upgrade its read lock (SQLITE_BUSY).
		if opt.TxOptions == nil || !opt.TxOptions.ReadOnly {
			if err := engine.LockForWrite(ctx, tx, d); err != nil {
				return err
			}
		}
		return fn(ctx, tx)
	})
	var nm *mastership.NotMasterError
	if errors.As(err, &nm) && opt.Hooks != nil && opt.Hooks.OnRefusedWrite != nil {
		opt.Hooks.OnRefusedWrite(ctx, err)
	}
	return err
}

func write(ctx context.Context, db *sql.DB, txo *sql.TxOptions, fn func(context.Context, *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, txo)
	if err != nil {
		return fmt.Errorf("multisite: begin: %w", err)
	}
	if err := fn(ctx, tx); err != nil {
		_ = tx.Rollback()
		return fromDriver(err)
	}
	if err := tx.Commit(); err != nil {
		return fromDriver(fmt.Errorf("multisite: commit: %w", err))
	}
	return nil
}

// fromDriver turns the database's refusals of a write into the library's
// typed errors.
func fromDriver(err error) error {
	err = mastership.FromDriver(err)
	var nm *mastership.NotMasterError
	if errors.As(err, &nm) {
		return err
	}
	return publicError(engine.CharsetFromDriver(err))
}
