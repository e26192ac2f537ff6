package engine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/multisite-go/multisite/hooks"
	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/mastership"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/schema"
)

// prepareExport returns what runs in the export's seal transaction before
// it seals: the policy, then the BeforeExport hook, over every pending
// local change; nil when there is neither. A transfer they make is sealed
// and sent with the rest; an error rolls the seal back and the export
// fails with nothing changed.
func prepareExport(ctx context.Context, d dialect.Dialect, target replica.ID, opt ExportOptions) func(*sql.Tx, *Ctl) error {
	if opt.Policy == nil && (opt.Hooks == nil || opt.Hooks.BeforeExport == nil) {
		return nil
	}
	return func(tx *sql.Tx, c *Ctl) error {
		pend, err := pendingChanges(ctx, tx, d, c)
		if err != nil {
			return err
		}
		if opt.Policy != nil {
			if err := applyPolicy(ctx, tx, d, c, opt.Policy, pend); err != nil {
				return err
			}
		}
		changes := make([]hooks.Change, len(pend))
		for i, p := range pend {
			changes[i] = p.Change
		}
		return newHookRunner(tx, d, c, opt.Hooks, false).beforeExport(ctx, hooks.Export{Target: target, Changes: changes})
	}
}

// pending is a pending local change with what policies need beyond the
// hook's view of it.
type pending struct {
	hooks.Change
	table   dialect.Table
	created bool // at its first version, created here
}

// pendingChanges reads every local change not sealed yet, table by table,
// with the row's current values.
func pendingChanges(ctx context.Context, tx *sql.Tx, d dialect.Dialect, c *Ctl) ([]pending, error) {
	tables, err := Tables(ctx, tx)
	if err != nil {
		return nil, err
	}
	var out []pending
	for _, t := range tables {
		var sel []string
		for _, col := range t.Columns {
			if col.Key > 0 {
				sel = append(sel, d.Raw("r."+d.Quote(col.Name)))
			} else {
				sel = append(sel, d.Raw("t."+d.Quote(col.Name)))
			}
		}
		q := fmt.Sprintf(`SELECT %s, r.ms_version, r.ms_master, r.ms_creator, r.ms_deleted
FROM %s r LEFT JOIN %s t ON %s WHERE r.ms_epoch IS NULL AND r.ms_origin = ?`,
			strings.Join(sel, ", "), d.Quote(dialect.Shadow(d, t.Name)), d.Quote(t.Name), keyMatch(d, t, "t.", "r."))
		rows, err := tx.QueryContext(ctx, d.Rebind(q), string(c.Local))
		if err != nil {
			return nil, fmt.Errorf("multisite: read pending changes of %s: %w", t.Name, err)
		}
		for rows.Next() {
			vals := make([]any, len(t.Columns))
			var version uint64
			var master, creator string
			var deleted int
			dest := make([]any, 0, len(vals)+4)
			for i := range vals {
				dest = append(dest, &vals[i])
			}
			dest = append(dest, &version, &master, &creator, &deleted)
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return nil, err
			}
			if err := portable(d, t.Columns, vals); err != nil {
				rows.Close()
				return nil, fmt.Errorf("multisite: %s: %w", t.Name, err)
			}
			// A row at its first version was created here and has not
			// changed since (not even transferred): it is new.
			created := version == 1 && creator == string(c.Local)
			p := pending{table: t, created: created,
				Change: hooks.Change{Table: t.Name, Key: keyOf(t, vals), Master: replica.ID(master), Origin: c.Local}}
			switch {
			case deleted == 1:
				p.Op = hooks.Delete
			case created:
				p.Op, p.Values = hooks.Insert, rowValues(t, vals)
			default:
				p.Op, p.Values = hooks.Update, rowValues(t, vals)
			}
			out = append(out, p)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// applyPolicy asks p about every pending row this replica masters and
// transfers those it gives to another replica. It updates pend's masters.
func applyPolicy(ctx context.Context, tx *sql.Tx, d dialect.Dialect, c *Ctl, p mastership.Policy, pend []pending) error {
	reg, err := Registry(ctx, tx)
	if err != nil {
		return err
	}
	q := &policyQuerier{tx: tx, d: d, c: c, reg: reg}
	if ch, ok := p.(mastership.Checker); ok {
		if err := ch.Check(ctx, q); err != nil {
			return fmt.Errorf("mastership: policy: %w", err)
		}
	}
	for i := range pend {
		r := &pend[i]
		if r.Op == hooks.Delete || r.Master != c.Local {
			continue
		}
		to, err := p.Master(ctx, q, mastership.Row{Table: r.Table, Key: r.Key, Values: r.Values, Created: r.created, Master: r.Master})
		if err != nil {
			return fmt.Errorf("mastership: policy for %s[%s]: %w", r.Table, formatKey(r.Key), err)
		}
		if to.IsZero() || to == r.Master {
			continue
		}
		if _, ok := q.Replica(string(to)); !ok {
			return fmt.Errorf("mastership: policy for %s[%s]: %w", r.Table, formatKey(r.Key), &replica.UnknownError{ID: to})
		}
		if _, err := transferTx(ctx, tx, d, c, r.Table, to, [][]any{argKey(d, r.table, r.Key)}); err != nil {
			return fmt.Errorf("mastership: policy for %s[%s]: %w", r.Table, formatKey(r.Key), err)
		}
		r.Master = to
	}
	return nil
}

// argKey turns portable key values into query arguments for t's key.
func argKey(d dialect.Dialect, t dialect.Table, key []any) []any {
	ks := t.Keys()
	out := make([]any, len(key))
	for i, v := range key {
		if i < len(ks) {
			out[i] = d.Arg(ks[i], v)
		} else {
			out[i] = v
		}
	}
	return out
}

// policyQuerier is the mastership.Querier of an export's transaction.
type policyQuerier struct {
	tx  *sql.Tx
	d   dialect.Dialect
	c   *Ctl
	reg map[replica.ID]replica.Info
	cat map[string]dialect.Table
}

var _ mastership.Querier = (*policyQuerier)(nil)

// Lookup reads one column of the first row of table matching key. The
// names are checked against the catalog before they reach SQL.
func (q *policyQuerier) Lookup(ctx context.Context, table, keyColumn string, key any, column string) (any, bool, error) {
	if q.cat == nil {
		q.cat = map[string]dialect.Table{}
	}
	t, ok := q.cat[table]
	if !ok {
		var err error
		var found bool
		t, found, err = q.d.Describe(ctx, q.tx, table)
		if err != nil {
			return nil, false, err
		}
		if !found || strings.HasPrefix(table, "ms_") {
			return nil, false, &schema.UnknownTableError{Table: table}
		}
		q.cat[table] = t
	}
	kc, ok := t.Column(keyColumn)
	if !ok {
		return nil, false, &schema.UnknownTableError{Table: table, Column: keyColumn}
	}
	vc, ok := t.Column(column)
	if !ok {
		return nil, false, &schema.UnknownTableError{Table: table, Column: column}
	}
	if key == nil {
		return nil, false, nil
	}
	var v any
	err := q.tx.QueryRowContext(ctx, q.d.Rebind(fmt.Sprintf("SELECT %s FROM %s WHERE %s = ? LIMIT 1",
		q.d.Raw(q.d.Quote(vc.Name)), q.d.Quote(t.Name), q.d.Quote(kc.Name))), q.d.Arg(kc, key)).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("multisite: look up %s.%s: %w", table, column, err)
	}
	out := []any{v}
	if err := portable(q.d, []dialect.Column{vc}, out); err != nil {
		return nil, false, err
	}
	return out[0], true, nil
}

// Replica finds a member by ID or name.
func (q *policyQuerier) Replica(nameOrID string) (replica.Info, bool) {
	return findReplica(q.reg, nameOrID)
}

// Local returns the local replica.
func (q *policyQuerier) Local() replica.ID { return q.c.Local }
