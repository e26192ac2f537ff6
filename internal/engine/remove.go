package engine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/replica"
)

// ErrMastersRows is returned by RemoveReplica for a replica that still
// masters rows.
var ErrMastersRows = errors.New("multisite: replica still masters rows")

// MastersRowsError lists, per table, how many rows the replica masters.
type MastersRowsError struct {
	Replica replica.ID
	Tables  map[string]int
}

func (e *MastersRowsError) Error() string {
	var parts []string
	for t, n := range e.Tables {
		parts = append(parts, fmt.Sprintf("%s: %d", t, n))
	}
	sort.Strings(parts)
	return fmt.Sprintf("multisite: %s still masters rows (%s); transfer them first (RemoveOptions.TransferTo)", e.Replica, strings.Join(parts, ", "))
}

// Unwrap returns ErrMastersRows.
func (e *MastersRowsError) Unwrap() error { return ErrMastersRows }

// RemoveOptions controls RemoveReplica. The zero value refuses to remove a
// replica that masters anything.
type RemoveOptions struct {
	// TransferTo, if set, receives the mastership of every row (deleted
	// ones included) the replica masters before it leaves.
	TransferTo replica.ID
}

// Mastered counts, per replicated table, the live rows id masters.
func Mastered(ctx context.Context, q dialect.Querier, d dialect.Dialect, id replica.ID) (map[string]int, error) {
	tables, err := Tables(ctx, q)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, t := range tables {
		var n int
		if err := q.QueryRowContext(ctx, d.Rebind(fmt.Sprintf("SELECT count(*) FROM %s WHERE %s = ?", d.Quote(t.Name), dialect.MasterColumn)), string(id)).Scan(&n); err != nil {
			return nil, err
		}
		if n > 0 {
			out[t.Name] = n
		}
	}
	return out, nil
}

// RemoveReplica takes the local replica out of its family. It refuses
// while the replica masters rows, unless opt.TransferTo names the replica
// that takes them over (an ordinary, captured transfer). The replica is
// then marked removed in the registry; its next packets tell the family,
// which from then on neither sends to it nor accepts its packets. Only a
// replica removes itself: the removed entry is signed by its own key, and
// members refuse a removal of another member's entry, or a removed
// replica's return (registry_auth.go). Export to every member once more
// after RemoveReplica, then retire the database.
func RemoveReplica(ctx context.Context, db *sql.DB, d dialect.Dialect, opt RemoveOptions) (replica.Info, error) {
	var self replica.Info
	err := inTx(ctx, db, d, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE ms_ctl SET epoch = epoch`); err != nil { // take the write lock
			return err
		}
		c, err := LoadCtl(ctx, tx, d)
		if err != nil {
			return err
		}
		if c.State != replica.Active && c.State != replica.ReceiveOnly {
			return fmt.Errorf("%w: %s is %s", ErrState, c.Local, c.State)
		}
		reg, err := Registry(ctx, tx)
		if err != nil {
			return err
		}
		if opt.TransferTo != "" {
			to, ok := reg[opt.TransferTo]
			if !ok || to.ID == c.Local {
				return &replica.UnknownError{ID: opt.TransferTo}
			}
			if to.State == replica.Removed {
				return fmt.Errorf("%w: %s", replica.ErrRemoved, to)
			}
			if err := transferAll(ctx, tx, d, c.Local, opt.TransferTo); err != nil {
				return err
			}
		}
		left, err := Mastered(ctx, tx, d, c.Local)
		if err != nil {
			return err
		}
		if len(left) > 0 {
			return &MastersRowsError{Replica: c.Local, Tables: left}
		}
		self = reg[c.Local]
		self.State = replica.Removed
		self.Version++
		if err := putReplica(ctx, tx, d, self, true); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, d.Rebind(`UPDATE ms_ctl SET state = ?`), string(replica.Removed))
		return err
	})
	return self, err
}

// transferAll hands every row from masters to another replica: live rows
// by an ordinary update of the mastership field (the triggers capture and
// log it), tombstones by writing the shadow and the transfer log the same
// way the triggers would.
func transferAll(ctx context.Context, tx *sql.Tx, d dialect.Dialect, from, to replica.ID) error {
	tables, err := Tables(ctx, tx)
	if err != nil {
		return err
	}
	for _, t := range tables {
		if _, err := tx.ExecContext(ctx, d.Rebind(fmt.Sprintf("UPDATE %s SET %s = ? WHERE %s = ?", d.Quote(t.Name), dialect.MasterColumn, dialect.MasterColumn)), string(to), string(from)); err != nil {
			return fmt.Errorf("multisite: transfer rows of %s: %w", t.Name, err)
		}
		S, X := d.Quote(dialect.Shadow(d, t.Name)), d.Quote(dialect.Xfer(d, t.Name))
		var names []string
		for _, k := range t.Keys() {
			names = append(names, d.Quote(k.Name))
		}
		keys := strings.Join(names, ", ")
		stmts := []string{
			fmt.Sprintf("INSERT INTO %s (%s, ms_version, ms_from, ms_to, ms_epoch) SELECT %s, ms_version + 1, ms_master, ?, NULL FROM %s WHERE ms_deleted = 1 AND ms_master = ?", X, keys, keys, S),
			fmt.Sprintf("UPDATE %s SET ms_version = ms_version + 1, ms_master = ?, ms_origin = ?, ms_epoch = NULL WHERE ms_deleted = 1 AND ms_master = ?", S),
		}
		if _, err := tx.ExecContext(ctx, d.Rebind(stmts[0]), string(to), string(from)); err != nil {
			return fmt.Errorf("multisite: transfer deleted rows of %s: %w", t.Name, err)
		}
		if _, err := tx.ExecContext(ctx, d.Rebind(stmts[1]), string(to), string(from), string(from)); err != nil {
			return fmt.Errorf("multisite: transfer deleted rows of %s: %w", t.Name, err)
		}
	}
	return nil
}
