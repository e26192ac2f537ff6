package engine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/mastership"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/schema"
)

// NoRowError names a row that does not exist.
type NoRowError struct {
	Table, Key string
}

func (e *NoRowError) Error() string {
	return fmt.Sprintf("mastership: %s[%s] does not exist", e.Table, e.Key)
}

// Unwrap returns mastership.ErrNoRow.
func (e *NoRowError) Unwrap() error { return mastership.ErrNoRow }

func findTable(ctx context.Context, q dialect.Querier, name string) (dialect.Table, error) {
	ts, err := Tables(ctx, q)
	if err != nil {
		return dialect.Table{}, err
	}
	for _, t := range ts {
		if t.Name == name {
			return t, nil
		}
	}
	return dialect.Table{}, &schema.UnknownTableError{Table: name}
}

// Transfer hands the rows with the given keys of table to replica to. It
// is all or nothing: every row must exist and be mastered here. The change
// is an ordinary captured update of the mastership field, logged as a
// transfer, and travels in the next packet.
func Transfer(ctx context.Context, db *sql.DB, d dialect.Dialect, table string, to replica.ID, keys [][]any) (int, error) {
	n := 0
	err := inTx(ctx, db, d, func(tx *sql.Tx) error {
		c, err := LoadCtl(ctx, tx, d)
		if err != nil {
			return err
		}
		n, err = transferTx(ctx, tx, d, c, table, to, keys)
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// transferTx is Transfer in the caller's transaction, for Transfer itself,
// export policies and hooks. On error the caller must roll back.
func transferTx(ctx context.Context, tx *sql.Tx, d dialect.Dialect, c *Ctl, table string, to replica.ID, keys [][]any) (int, error) {
	n := 0
	err := func() error {
		if c.State != replica.Active {
			return fmt.Errorf("%w: %s cannot transfer mastership", replica.ErrReceiveOnly, c.Local)
		}
		reg, err := Registry(ctx, tx)
		if err != nil {
			return err
		}
		if i, ok := reg[to]; !ok {
			return &replica.UnknownError{ID: to}
		} else if i.State == replica.Removed {
			return fmt.Errorf("%w: %s", replica.ErrRemoved, i)
		}
		t, err := findTable(ctx, tx, table)
		if err != nil {
			return err
		}
		ks := t.Keys()
		var conds []string
		for _, k := range ks {
			conds = append(conds, d.Quote(k.Name)+" = ?")
		}
		where := strings.Join(conds, " AND ")
		sel := d.Rebind(fmt.Sprintf("SELECT %s FROM %s WHERE %s", dialect.MasterColumn, d.Quote(t.Name), where))
		upd := d.Rebind(fmt.Sprintf("UPDATE %s SET %s = ? WHERE %s", d.Quote(t.Name), dialect.MasterColumn, where))
		for _, key := range keys {
			if len(key) != len(ks) {
				return fmt.Errorf("mastership: %s has a %d-column key, got %d values", t.Name, len(ks), len(key))
			}
			var master string
			err := tx.QueryRowContext(ctx, sel, key...).Scan(&master)
			if errors.Is(err, sql.ErrNoRows) {
				return &NoRowError{Table: t.Name, Key: formatKey(key)}
			}
			if err != nil {
				return err
			}
			if replica.ID(master) != c.Local {
				return &mastership.NotMasterError{Table: t.Name, Key: formatKey(key), Master: replica.ID(master), By: c.Local}
			}
			if replica.ID(master) == to {
				continue
			}
			if _, err := tx.ExecContext(ctx, upd, append([]any{string(to)}, key...)...); err != nil {
				return mastership.FromDriver(err)
			}
			n++
		}
		return nil
	}()
	if err != nil {
		return 0, err
	}
	return n, nil
}

// SetState moves the local replica to state. The only moves allowed are
// receive-only to active (the new replica has been validated) and back.
// The change is recorded in the registry entry and travels in packets.
func SetState(ctx context.Context, db *sql.DB, d dialect.Dialect, state replica.State) error {
	return inTx(ctx, db, d, func(tx *sql.Tx) error {
		c, err := LoadCtl(ctx, tx, d)
		if err != nil {
			return err
		}
		if state != replica.Active && state != replica.ReceiveOnly {
			return fmt.Errorf("%w: %s to %s", ErrState, c.State, state)
		}
		if c.State == replica.Restoring || c.State == replica.Removed {
			return fmt.Errorf("%w: %s is %s; a restore ends by itself once every member has sent a packet", ErrState, c.Local, c.State)
		}
		if c.State == state {
			return nil
		}
		if _, err := tx.ExecContext(ctx, d.Rebind(`UPDATE ms_ctl SET state = ?`), string(state)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, d.Rebind(`UPDATE ms_replica SET state = ?, version = version + 1 WHERE id = ?`), string(state), string(c.Local))
		return err
	})
}
