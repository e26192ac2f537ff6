package engine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/replica"
)

// prunedHolder is the ms_vector holder under which a replica records, per
// origin, the epoch up to which it pruned tombstones and transfers. It is
// not a replica ID (IDs are hex).
const prunedHolder = "*pruned*"

// ErrPruned is returned when a replica is further behind than what was
// pruned: an incremental packet can no longer bring it up to date.
var ErrPruned = errors.New("multisite: replica is behind what was pruned")

// PrunedError names the replica and the origin whose pruned history it
// lacks.
type PrunedError struct {
	Target replica.ID
	Origin replica.ID
	Has    uint64 // epoch of Origin the target holds
	Pruned uint64 // epoch of Origin up to which tombstones were pruned
}

func (e *PrunedError) Error() string {
	return fmt.Sprintf("multisite: %s holds epoch %d of %s but deletions up to epoch %d were pruned; re-create it from a creation packet (Replicate)", e.Target, e.Has, e.Origin, e.Pruned)
}

// Unwrap returns ErrPruned.
func (e *PrunedError) Unwrap() error { return ErrPruned }

// PruneStats counts what Prune removed.
type PruneStats struct {
	Tombstones int64
	Transfers  int64
	Requests   int64          // settled mastership requests (granted, denied, failed)
	Horizon    replica.Vector // per origin, the epoch up to which history is gone
}

// Prune removes tombstones, logged transfers and settled mastership
// requests that every other member (but removed ones) has acknowledged, so
// the change log stays bounded. An
// acknowledged tombstone is no longer needed: every member holds it or a
// newer version of the row. A member that has not acknowledged holds
// pruning back; remove it if it is gone for good.
func Prune(ctx context.Context, db *sql.DB, d dialect.Dialect) (PruneStats, error) {
	var st PruneStats
	err := inTx(ctx, db, d, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE ms_ctl SET epoch = epoch`); err != nil { // take the write lock
			return err
		}
		c, err := LoadCtl(ctx, tx, d)
		if err != nil {
			return err
		}
		reg, err := Registry(ctx, tx)
		if err != nil {
			return err
		}
		m, err := Matrix(ctx, tx)
		if err != nil {
			return err
		}
		h := m[c.Local].Clone()
		for _, i := range reg {
			if i.ID == c.Local || i.State == replica.Removed {
				continue
			}
			for o, e := range h {
				h[o] = min(e, m[i.ID][o])
			}
		}
		st.Horizon = h
		tables, err := Tables(ctx, tx)
		if err != nil {
			return err
		}
		for _, o := range h.Origins() {
			for _, t := range tables {
				res, err := tx.ExecContext(ctx, d.Rebind(fmt.Sprintf("DELETE FROM %s WHERE ms_deleted = 1 AND ms_origin = ? AND ms_epoch <= ?", d.Quote(dialect.Shadow(d, t.Name)))), string(o), h[o])
				if err != nil {
					return err
				}
				n, _ := res.RowsAffected()
				st.Tombstones += n
				res, err = tx.ExecContext(ctx, d.Rebind(fmt.Sprintf("DELETE FROM %s WHERE ms_from = ? AND ms_epoch <= ?", d.Quote(dialect.Xfer(d, t.Name)))), string(o), h[o])
				if err != nil {
					return err
				}
				n, _ = res.RowsAffected()
				st.Transfers += n
			}
		}
		if ok, err := dialect.TableExists(ctx, tx, d, "ms_request"); err != nil {
			return err
		} else if ok {
			// A settled request whose last change every member holds is
			// history too; an import will not bring it back (requestSetting).
			for _, o := range h.Origins() {
				res, err := tx.ExecContext(ctx, d.Rebind(`DELETE FROM ms_request WHERE state IN (?, ?, ?) AND ms_origin = ? AND ms_epoch <= ?`),
					string(RequestGranted), string(RequestDenied), string(RequestFailed), string(o), h[o])
				if err != nil {
					return err
				}
				n, _ := res.RowsAffected()
				st.Requests += n
			}
		}
		return raiseVector(ctx, tx, d, prunedHolder, h)
	})
	return st, err
}

// checkPruned refuses an export whose base lies behind the prune horizon.
func checkPruned(ctx context.Context, q dialect.Querier, d dialect.Dialect, target replica.ID, base replica.Vector) error {
	pruned, err := LoadVector(ctx, q, d, prunedHolder)
	if err != nil {
		return err
	}
	if o, short := base.Short(pruned); short {
		return &PrunedError{Target: target, Origin: o, Has: base[o], Pruned: pruned[o]}
	}
	return nil
}
