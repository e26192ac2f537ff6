package engine

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/multisite-go/multisite/hooks"
	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/mastership"
	"github.com/multisite-go/multisite/replica"
)

// hookRunner calls the hooks of one operation (export, import, write) in
// the operation's transaction. A nil *hookRunner runs no hook, so callers
// need not check: every method is nil-safe.
//
// Hooks run with capture and enforcement on, whatever the operation is
// doing: during an import the runner clears the applying flag around the
// hook and sets it again after, so a hook's writes are ordinary local
// writes (captured, exported later, refused on rows mastered elsewhere).
//
// For other engine code (mastership requests, key collisions):
//
//	r := newHookRunner(tx, d, ctl, opt.Hooks, applying) // nil if opt.Hooks is nil
//	d, reason, err := r.onRequest(ctx, hooks.Request{...}) // hooks.Defer, "", nil without a hook
//	err = r.onCollision(ctx, hooks.Collision{...})          // nil without a hook
//
// An error from them is already a *hooks.Error: return it as it is, and the
// operation's transaction rolls back. The importer holds its runner in
// importer.hooks.
type hookRunner struct {
	h        *hooks.Hooks
	tx       *hookTx
	applying bool // the operation runs with ms_ctl.applying set (an import)
}

// newHookRunner returns a runner for h in tx, or nil if h is nil. applying
// says whether tx has ms_ctl.applying set (imports).
func newHookRunner(tx *sql.Tx, d dialect.Dialect, c *Ctl, h *hooks.Hooks, applying bool) *hookRunner {
	if h == nil {
		return nil
	}
	return &hookRunner{h: h, tx: &hookTx{tx: tx, d: d, c: c}, applying: applying}
}

// run calls fn, a call of one hook, as point p: with the applying flag
// cleared during an import, a fresh registry view, and its error wrapped
// as a *hooks.Error. A failure to flip the flag is the library's own error.
func (r *hookRunner) run(ctx context.Context, p hooks.Point, fn func() error) error {
	if err := r.enter(ctx); err != nil {
		return err
	}
	if err := hooks.Run(p, fn); err != nil {
		return err
	}
	return r.leave(ctx)
}

// enter prepares a batch of hook calls; leave ends it.
func (r *hookRunner) enter(ctx context.Context) error {
	r.tx.reg = nil // the registry may have changed since the last batch
	r.tx.ctx = ctx
	if r.applying {
		if _, err := r.tx.tx.ExecContext(ctx, r.tx.d.SetApplying(false)); err != nil {
			return fmt.Errorf("multisite: run hook: %w", err)
		}
	}
	return nil
}

func (r *hookRunner) leave(ctx context.Context) error {
	if r.applying {
		if _, err := r.tx.tx.ExecContext(ctx, r.tx.d.SetApplying(true)); err != nil {
			return fmt.Errorf("multisite: run hook: %w", err)
		}
	}
	return nil
}

// onRequest asks the OnRequest hook to decide a mastership request that
// reached the row's master. Without a hook it returns hooks.Defer.
func (r *hookRunner) onRequest(ctx context.Context, req hooks.Request) (hooks.Decision, string, error) {
	if r == nil || r.h.OnRequest == nil {
		return hooks.Defer, "", nil
	}
	var d hooks.Decision
	var reason string
	err := r.run(ctx, hooks.OnRequest, func() error {
		var err error
		d, reason, err = r.h.OnRequest(ctx, r.tx, req)
		return err
	})
	if err != nil {
		return hooks.Defer, "", err
	}
	if d != hooks.Grant && d != hooks.Deny {
		d = hooks.Defer
	}
	return d, reason, nil
}

// onCollision tells the OnCollision hook of a unique-key collision an
// import settled. Without a hook it does nothing.
func (r *hookRunner) onCollision(ctx context.Context, c hooks.Collision) error {
	if r == nil || r.h.OnCollision == nil {
		return nil
	}
	return r.run(ctx, hooks.OnCollision, func() error { return r.h.OnCollision(ctx, r.tx, c) })
}

// beforeExport runs the BeforeExport hook with the pending changes.
func (r *hookRunner) beforeExport(ctx context.Context, e hooks.Export) error {
	if r == nil || r.h.BeforeExport == nil {
		return nil
	}
	return r.run(ctx, hooks.BeforeExport, func() error { return r.h.BeforeExport(ctx, r.tx, e) })
}

// wantsChanges reports whether an import must collect the row changes it
// applies for AfterImportChange.
func (r *hookRunner) wantsChanges() bool {
	return r != nil && r.h.AfterImportChange != nil
}

// afterChanges runs AfterImportChange once per change, in one batch.
func (r *hookRunner) afterChanges(ctx context.Context, cs []hooks.Change) error {
	if !r.wantsChanges() || len(cs) == 0 {
		return nil
	}
	if err := r.enter(ctx); err != nil {
		return err
	}
	for _, c := range cs {
		if err := hooks.Run(hooks.AfterImportChange, func() error { return r.h.AfterImportChange(ctx, r.tx, c) }); err != nil {
			return err
		}
	}
	return r.leave(ctx)
}

// afterPacket runs AfterImportPacket.
func (r *hookRunner) afterPacket(ctx context.Context, p hooks.Packet) error {
	if r == nil || r.h.AfterImportPacket == nil {
		return nil
	}
	return r.run(ctx, hooks.AfterImportPacket, func() error { return r.h.AfterImportPacket(ctx, r.tx, p) })
}

// hookTx is the hooks.Tx a hook receives: the operation's transaction, with
// ? placeholders rebound and refused writes turned into
// *mastership.NotMasterError.
type hookTx struct {
	tx  *sql.Tx
	d   dialect.Dialect
	c   *Ctl
	ctx context.Context // of the current batch of hook calls, for Replica
	reg map[replica.ID]replica.Info
}

var _ hooks.Tx = (*hookTx)(nil)

// QueryContext runs a query in the operation's transaction.
func (t *hookTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	rows, err := t.tx.QueryContext(ctx, t.d.Rebind(query), args...)
	return rows, mastership.FromDriver(err)
}

// QueryRowContext runs a query of at most one row.
func (t *hookTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.d.Rebind(query), args...)
}

// ExecContext runs a statement in the operation's transaction.
func (t *hookTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	res, err := t.tx.ExecContext(ctx, t.d.Rebind(query), args...)
	return res, mastership.FromDriver(err)
}

// Transfer hands one row to replica to, as TransferMastership does.
func (t *hookTx) Transfer(ctx context.Context, table string, key []any, to replica.ID) error {
	tb, err := findTable(ctx, t.tx, table)
	if err != nil {
		return err
	}
	_, err = transferTx(ctx, t.tx, t.d, t.c, table, to, [][]any{argKey(t.d, tb, key)})
	return err
}

// Local returns the local replica.
func (t *hookTx) Local() replica.ID { return t.c.Local }

// Replica looks a member up by ID or name. A registry that cannot be read
// finds nothing.
func (t *hookTx) Replica(nameOrID string) (replica.Info, bool) {
	if t.reg == nil {
		ctx := t.ctx
		if ctx == nil {
			ctx = context.Background()
		}
		reg, err := Registry(ctx, t.tx)
		if err != nil {
			return replica.Info{}, false
		}
		t.reg = reg
	}
	return findReplica(t.reg, nameOrID)
}

// findReplica finds a registry entry by ID, else by name.
func findReplica(reg map[replica.ID]replica.Info, nameOrID string) (replica.Info, bool) {
	if i, ok := reg[replica.ID(nameOrID)]; ok {
		return i, true
	}
	for _, i := range reg {
		if i.Name == nameOrID {
			return i, true
		}
	}
	return replica.Info{}, false
}

// keyOf returns the key values of a row scanned in t's column order.
func keyOf(t dialect.Table, vals []any) []any {
	var key []any
	for _, k := range t.Keys() {
		for i, c := range t.Columns {
			if c.Name == k.Name {
				key = append(key, vals[i])
			}
		}
	}
	return key
}

// rowValues maps t's columns to vals.
func rowValues(t dialect.Table, vals []any) map[string]any {
	m := make(map[string]any, len(t.Columns))
	for i, c := range t.Columns {
		m[c.Name] = vals[i]
	}
	return m
}

// stagedChanges reads, before merge applies them, the staged images of the
// current table that will apply, as hook changes; nil without an
// AfterImportChange hook. Op is what the image does here: insert if the row
// is absent, update if present, delete for a tombstone of a present row
// (a tombstone of an absent row changes nothing and is left out).
func (m *importer) stagedChanges() ([]hooks.Change, error) {
	if !m.hooks.wantsChanges() {
		return nil, nil
	}
	t := *m.cur
	d := m.d
	var sel []string
	for _, c := range t.Columns {
		sel = append(sel, d.Raw("s."+d.Quote(c.Name)))
	}
	q := fmt.Sprintf(`SELECT %s, s.ms_master, s.ms_origin, s.ms_deleted, CASE WHEN EXISTS (SELECT 1 FROM %s t WHERE %s) THEN 1 ELSE 0 END
FROM %s s WHERE s.ms_apply = 1 ORDER BY s.ms_seq`,
		strings.Join(sel, ", "), d.Quote(t.Name), keyMatch(d, t, "t.", "s."), d.Quote(dialect.StageName(d, t.Name)))
	rows, err := m.tx.QueryContext(m.ctx, q)
	if err != nil {
		return nil, fmt.Errorf("multisite: read applied changes of %s: %w", t.Name, err)
	}
	defer rows.Close()
	var out []hooks.Change
	for rows.Next() {
		vals := make([]any, len(t.Columns))
		var master, origin string
		var deleted, exists int
		dest := make([]any, 0, len(vals)+4)
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		dest = append(dest, &master, &origin, &deleted, &exists)
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		if err := portable(d, t.Columns, vals); err != nil {
			return nil, fmt.Errorf("multisite: %s: %w", t.Name, err)
		}
		c := hooks.Change{Table: t.Name, Key: keyOf(t, vals), Master: replica.ID(master), Origin: replica.ID(origin)}
		switch {
		case deleted == 1 && exists == 0:
			continue
		case deleted == 1:
			c.Op = hooks.Delete
		case exists == 1:
			c.Op, c.Values = hooks.Update, rowValues(t, vals)
		default:
			c.Op, c.Values = hooks.Insert, rowValues(t, vals)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// importHooksPacket runs AfterImportPacket with what the import applied.
func (m *importer) importHooksPacket() error {
	if m.hooks == nil {
		return nil
	}
	p := hooks.Packet{Origin: m.rep.Origin, Kind: m.rep.Kind, Tables: map[string]int{}}
	for name, c := range m.rep.Tables {
		if n := c.Inserted + c.Updated + c.Deleted; n > 0 {
			p.Tables[name] = n
			p.Changes += n
		}
	}
	return m.hooks.afterPacket(m.ctx, p)
}
