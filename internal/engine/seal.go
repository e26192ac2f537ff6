package engine

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/replica"
)

// Seal gives every captured change that has no epoch yet the next epoch of
// the local replica, in one short write transaction, and returns the
// replica's newest epoch. Changes committed after Seal wait for the next
// one, so a change is never skipped whatever order transactions commit in:
// an epoch is assigned to what is committed, not to what is begun.
func Seal(ctx context.Context, db *sql.DB, d dialect.Dialect) (uint64, error) {
	return sealWith(ctx, db, d, nil)
}

// sealWith is Seal that first runs before, if set, in the seal's own
// transaction once it holds the write lock (and only on an active
// replica): what before writes (a policy's transfers) is sealed with
// everything else, and nothing commits between what before saw and the
// seal.
func sealWith(ctx context.Context, db *sql.DB, d dialect.Dialect, before func(*sql.Tx, *Ctl) error) (uint64, error) {
	var epoch uint64
	if err := ensureLateMeta(ctx, db, d); err != nil { // request.go
		return 0, err
	}
	if before == nil {
		// Nothing pending: no write transaction at all, so a scheduled
		// export that finds nothing new never makes a writer wait (a
		// change committed after this look is the next seal's, as it
		// would be after a seal).
		if e, none, err := nothingToSeal(ctx, db, d); err != nil {
			return 0, err
		} else if none {
			return e, nil
		}
	}
	err := inTx(ctx, db, d, func(tx *sql.Tx) error {
		// Taking the write lock first (the UPDATE) keeps SQLite from
		// failing to upgrade a read transaction.
		if _, err := tx.ExecContext(ctx, `UPDATE ms_ctl SET epoch = epoch + 1`); err != nil {
			return fmt.Errorf("multisite: seal: %w", err)
		}
		c, err := LoadCtl(ctx, tx, d)
		if err != nil {
			return err
		}
		if c.State == replica.Restoring {
			// A restored replica does not know yet which epochs it already
			// handed out before the restore; it seals once it has caught up.
			epoch = c.Epoch - 1
			return errNothing
		}
		if before != nil && c.State == replica.Active {
			if err := before(tx, c); err != nil {
				return err
			}
		}
		n, err := sealTables(ctx, tx, d, c.Epoch)
		if err != nil {
			return err
		}
		k, err := sealRequests(ctx, tx, d, c.Epoch) // request.go
		if err != nil {
			return err
		}
		n += k
		if n == 0 {
			epoch = c.Epoch - 1
			return errNothing
		}
		epoch = c.Epoch
		return raiseVector(ctx, tx, d, c.Local, replica.Vector{c.Local: c.Epoch})
	})
	if err == errNothing {
		return epoch, nil
	}
	return epoch, err
}

// errNothing rolls back a seal that found nothing to seal, so no epoch is
// spent on an empty change set.
var errNothing = fmt.Errorf("nothing to seal")

// sealTables stamps every captured change of the replicated tables that
// has no epoch yet with epoch and returns how many it stamped.
func sealTables(ctx context.Context, tx *sql.Tx, d dialect.Dialect, epoch uint64) (int64, error) {
	tables, err := Tables(ctx, tx)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, t := range tables {
		for _, name := range []string{dialect.Shadow(d, t.Name), dialect.Xfer(d, t.Name)} {
			res, err := tx.ExecContext(ctx, d.Rebind(d.Seal(name)), epoch)
			if err != nil {
				return 0, fmt.Errorf("multisite: seal %s: %w", name, err)
			}
			k, _ := res.RowsAffected()
			n += k
		}
	}
	return n, nil
}

// nothingToSeal reports, from a read snapshot, whether no captured change
// waits for an epoch, and if so the replica's newest epoch (what Seal
// returns then). A restoring replica always takes Seal's own path.
func nothingToSeal(ctx context.Context, db *sql.DB, d dialect.Dialect) (epoch uint64, none bool, err error) {
	err = readTx(ctx, db, d, func(tx *sql.Tx) error {
		c, err := LoadCtl(ctx, tx, d)
		if err != nil {
			return err
		}
		if c.State == replica.Restoring {
			return nil
		}
		tables, err := Tables(ctx, tx)
		if err != nil {
			return err
		}
		names := []string{"ms_request"}
		for _, t := range tables {
			names = append(names, dialect.Shadow(d, t.Name), dialect.Xfer(d, t.Name))
		}
		for _, n := range names {
			var one int
			err := tx.QueryRowContext(ctx, fmt.Sprintf("SELECT 1 FROM %s WHERE ms_epoch IS NULL LIMIT 1", d.Quote(n))).Scan(&one)
			if err == nil {
				return nil // something to seal
			}
			if err != sql.ErrNoRows {
				return fmt.Errorf("multisite: look for changes to seal in %s: %w", n, err)
			}
		}
		epoch, none = c.Epoch, true
		return nil
	})
	return epoch, none, err
}
