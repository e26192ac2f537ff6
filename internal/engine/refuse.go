package engine

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/multisite-go/multisite/internal/dialect"
)

// wantRefusal returns the refusal trigger the dialect wants for the
// replica as it is now (local replica, replicated tables, registry); ok
// is false for a dialect without one or a database not yet at format 5.
func wantRefusal(ctx context.Context, q dialect.Querier, d dialect.Dialect) (def string, ok bool, err error) {
	r, isRefuser := d.(dialect.Refuser)
	if !isRefuser {
		return "", false, nil
	}
	if has, err := dialect.TableExists(ctx, q, d, "ms_refuse"); err != nil || !has {
		return "", false, err
	}
	var local string
	if err := q.QueryRowContext(ctx, `SELECT local FROM ms_ctl`).Scan(&local); err != nil {
		return "", false, nil // no ms_ctl row yet: set when there is one
	}
	rows, err := q.QueryContext(ctx, `SELECT id, name FROM ms_replica`)
	if err != nil {
		return "", false, fmt.Errorf("multisite: read registry: %w", err)
	}
	var members []dialect.RefusalMember
	for rows.Next() {
		var m dialect.RefusalMember
		if err := rows.Scan(&m.ID, &m.Name); err != nil {
			rows.Close()
			return "", false, err
		}
		members = append(members, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", false, err
	}
	tables, err := tableNames(ctx, q)
	if err != nil {
		return "", false, err
	}
	return r.RefusalTrigger(local, tables, members), true, nil
}

// tableNames reads the names of the replicated tables.
func tableNames(ctx context.Context, q dialect.Querier) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT name FROM ms_table`)
	if err != nil {
		return nil, fmt.Errorf("multisite: read replicated tables: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// refusalStale reports whether the refusal trigger is missing or differs
// from what the registry and tables want; want is its DDL.
func refusalStale(ctx context.Context, q dialect.Querier, d dialect.Dialect) (stale bool, want string, err error) {
	want, ok, err := wantRefusal(ctx, q, d)
	if err != nil || !ok {
		return false, "", err
	}
	have, ok, err := d.(dialect.Refuser).RefusalCurrent(ctx, q)
	if err != nil {
		return false, "", err
	}
	return !ok || !dialect.SameTrigger(have, want), want, nil
}

// syncRefusals re-creates the refusal trigger when the registry or the
// replicated tables changed since it was made, so the not-master message
// names every replica. It runs in the transaction that changed them
// (putReplica, insertTable) and does nothing on a dialect whose triggers
// build the message themselves.
func syncRefusals(ctx context.Context, q dialect.Querier, d dialect.Dialect) error {
	stale, want, err := refusalStale(ctx, q, d)
	if err != nil || !stale {
		return err
	}
	name := d.(dialect.Refuser).RefusalTriggerName()
	for _, s := range []string{"DROP TRIGGER IF EXISTS " + d.Quote(name), want} {
		if _, err := q.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("multisite: re-create %s: %w", name, err)
		}
	}
	return nil
}

// clearApplying switches capture and enforcement back on in tx, whatever
// state tx is in, for the way out of an operation that switched them off.
// It matters on MySQL, whose switch is a session variable that would
// otherwise outlive a failed transaction on a pooled connection; on SQLite
// and PostgreSQL a rollback undoes the switch anyway. Its error is
// ignored: the operation's own is the one to report, and a connection
// that cannot run it is broken and closed by the driver.
func clearApplying(ctx context.Context, tx *sql.Tx, d dialect.Dialect) {
	_, _ = tx.ExecContext(context.WithoutCancel(ctx), d.SetApplying(false))
}

// rehashSQL returns the UPDATE that sets the fingerprint (ms_hash) of the
// shadow entries of t chosen by where (over the shadow's columns,
// unqualified) to that of their row as it is now.
func rehashSQL(d dialect.Dialect, t dialect.Table, where string) string {
	R := d.Quote(dialect.Shadow(d, t.Name))
	return fmt.Sprintf("UPDATE %s SET ms_hash = (SELECT %s FROM %s t WHERE %s) WHERE %s",
		R, d.Fingerprint(t, "t."), d.Quote(t.Name), keyMatch(d, t, "t.", R+"."), where)
}
