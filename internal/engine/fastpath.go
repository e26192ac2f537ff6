package engine

import (
	"fmt"
	"strings"

	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/mastership"
	"github.com/multisite-go/multisite/replica"
)

// The fast path of an import writes rows that are new to the replica
// straight into the table and its shadow, skipping the staging table.
//
// A row is new when its key has no shadow row here: then none of the
// merge's questions arise. There is no local version to compare with, no
// creation conflict (that needs a row of the same key), no transfer log to
// follow when its creator made the image and the log names no transfer of
// its key (other new rows go through the stage, where checkMasters follows
// the chain from the creator), and, on a table without unique keys besides
// the primary key, no collision. Its proof was checked as it was decoded
// (proofcheck.go); one without a proof is refused (proof.go). What is left
// is the prune horizon (an old image of a row whose tombstone was pruned
// stays dead), decided here from the packet's stamp, and the refusal of a
// packet that carries a key twice, kept by remembering the keys of the
// current merge window.
//
// The path is taken for tables with a single-column integer key (whose
// equality Go and every database agree on), no unique keys and no
// AfterImportChange hook (which wants the staged changes); every other
// row, and every row whose key exists here, goes through the stage.

// fastState is the fast path's state for the current table.
type fastState struct {
	on    bool // the current table takes the fast path
	fresh int  // rows of the current table written by the fast path
	// suspended is the SQL of the library's own triggers on the current
	// table, dropped for the rest of its rows (SQLite; see suspendTriggers).
	suspended []string
	key       int                // the key's local column index
	window    map[int64]struct{} // keys routed since the last merge
	routed    int                // rows routed since the last merge
}

// startFast decides whether the current table takes the fast path.
func (m *importer) startFast() error {
	t := m.cur
	m.fast.on, m.fast.routed, m.fast.fresh, m.fast.suspended = false, 0, 0, nil
	clear(m.fast.window)
	if !t.IntegerKey() || m.hooks.wantsChanges() {
		return nil
	}
	us, err := m.uniquesOf(*t)
	if err != nil || len(us) > 0 {
		return err
	}
	for i, c := range t.Columns {
		if c.Key > 0 {
			m.fast.key = i
		}
	}
	m.fast.on = true
	if m.fast.window == nil {
		m.fast.window = map[int64]struct{}{}
	}
	return nil
}

// route sends the pending rows on: rows new to the replica into the table
// and shadow, the others into the stage. Once a merge window's worth of
// rows has been routed, the staged ones are merged.
func (m *importer) route() error {
	if !m.fast.on {
		if err := m.insertPending(); err != nil {
			return err
		}
		if m.staged >= mergeRows {
			return m.merge()
		}
		return nil
	}
	if len(m.pending) == 0 {
		return nil
	}
	t := m.cur
	n := len(t.Columns)
	keys := make([]int64, len(m.pending))
	ok := make([]bool, len(m.pending)) // the key is an integer the fast path can look up
	var look []any
	for i, p := range m.pending {
		k, isInt := p[m.fast.key].(int64)
		if !isInt {
			continue
		}
		keys[i], ok[i] = k, true
		if _, dup := m.fast.window[k]; dup {
			return fmt.Errorf("%w: key %d of %s appears more than once", ErrPacket, k, t.Name)
		}
		m.fast.window[k] = struct{}{}
		look = append(look, k)
	}
	present, err := m.presentKeys(look, dialect.Shadow(m.d, t.Name))
	if err != nil {
		return err
	}
	logged, err := m.presentKeys(look, dialect.Xfer(m.d, t.Name))
	if err != nil {
		return err
	}
	counts := m.rep.Tables[t.Name]
	var rows, shadow [][]any
	stage := m.pending[:0]
	for i, p := range m.pending {
		if !ok[i] || present[keys[i]] {
			stage = append(stage, p)
			continue
		}
		origin, _ := p[n+2].(string)
		creator, _ := p[n+3].(string)
		epoch, _ := p[n+4].(uint64)
		// Nothing is held of the row: it is new here unless the prune
		// horizon says it is dead (the merge's SQL decides the same).
		if mastership.Decide(mastership.Image{}, mastership.Image{Origin: replica.ID(origin), Epoch: epoch}, m.pruned) == mastership.Dead {
			counts.Unchanged++ // an old image of a row whose tombstone was pruned
			continue
		}
		if origin != creator || logged[keys[i]] {
			// Made by another replica than its creator, or of a key the
			// transfer log names: the merge follows the chain (proof.go).
			stage = append(stage, p)
			continue
		}
		if p[n+6] == nil {
			return unprovenError(t.Name, formatKey([]any{keys[i]}), origin)
		}
		if p[n+5] == 0 {
			rows = append(rows, p[:n+1]) // the columns and the master
			counts.Inserted++
		}
		shadow = append(shadow, []any{p[m.fast.key], p[n+1], p[n], p[n+2], p[n+3], p[n+4], p[n+5], p[n+6]})
	}
	m.fast.routed += len(m.pending)
	m.pending = stage
	if m.fast.fresh += len(shadow); m.fast.fresh >= mergeRows && m.fast.suspended == nil {
		if err := m.suspendTriggers(); err != nil {
			return err
		}
	}
	cols := make([]string, 0, n+1)
	for _, c := range t.Columns {
		cols = append(cols, c.Name)
	}
	// An upsert, not an insert: a row without a shadow entry (written while
	// someone had the triggers off) is overwritten, as the stage would.
	if err := upsertRows(m.ctx, &m.stmts, m.d, *t, append(cols, dialect.MasterColumn), rows); err != nil {
		return err
	}
	if err := insertRows(m.ctx, &m.stmts, m.d, dialect.Shadow(m.d, t.Name), []string{t.Columns[m.fast.key].Name, "ms_version", "ms_master", "ms_origin", "ms_creator", "ms_epoch", "ms_deleted", "ms_proof"}, shadow); err != nil {
		return err
	}
	if err := m.rehashFresh(rows); err != nil {
		return err
	}
	if err := m.insertPending(); err != nil {
		return err
	}
	if m.fast.routed >= mergeRows {
		clear(m.fast.window)
		m.fast.routed = 0
		return m.merge()
	}
	return nil
}

// presentKeys returns which of keys have a row in table here (the shadow
// or the transfer log).
func (m *importer) presentKeys(keys []any, table string) (map[int64]bool, error) {
	present := map[int64]bool{}
	if len(keys) == 0 {
		return present, nil
	}
	t := m.cur
	k := m.d.Quote(t.Columns[m.fast.key].Name)
	q := m.d.Rebind(fmt.Sprintf("SELECT DISTINCT %s FROM %s WHERE %s IN (%s)", k, m.d.Quote(table), k,
		strings.TrimSuffix(strings.Repeat("?, ", len(keys)), ", ")))
	st, err := m.stmts.prepare(m.ctx, q)
	if err != nil {
		return nil, fmt.Errorf("multisite: look up keys of %s: %w", t.Name, err)
	}
	rows, err := st.QueryContext(m.ctx, keys...)
	if err != nil {
		return nil, fmt.Errorf("multisite: look up keys of %s: %w", t.Name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var k int64
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("multisite: look up keys of %s: %w", t.Name, err)
		}
		present[k] = true
	}
	return present, rows.Err()
}

// suspendTriggers drops the library's own triggers on the current table
// for the rest of its rows, on SQLite, once a packet has brought many new
// rows for it. While an import applies rows the triggers stand aside
// (ms_ctl.applying), but SQLite still runs each one's WHEN subquery for
// every row: a third of the cost of writing the row. Dropping them inside
// the import's transaction is invisible to everyone else (the transaction
// holds the write lock, readers see the schema as of their snapshot, and
// a failed import rolls the DROP back with everything else);
// restoreTriggers re-creates them from their stored SQL before anything
// else, hooks included, writes to the table. Triggers of the user's own
// are left alone and keep firing. Without hooks only, so that nothing the
// library does not control writes to the table in between. The cost is
// paid once per large import: SQLite sees a schema change, so other
// connections re-prepare their statements once afterwards.
func (m *importer) suspendTriggers() error {
	if m.d.Name() != dialect.SQLite || m.hooks != nil {
		m.fast.suspended = []string{} // not to be asked again
		return nil
	}
	t := *m.cur
	names := m.d.TriggerNames(t)
	if cs, ok := m.d.(interface{ CharsetTriggerNames(dialect.Table) []string }); ok {
		names = append(names, cs.CharsetTriggerNames(t)...)
	}
	q := fmt.Sprintf("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? AND name IN (%s) ORDER BY name",
		strings.TrimSuffix(strings.Repeat("?, ", len(names)), ", "))
	args := []any{t.Name}
	for _, n := range names {
		args = append(args, n)
	}
	rows, err := m.tx.QueryContext(m.ctx, q, args...)
	if err != nil {
		return fmt.Errorf("multisite: read triggers of %s: %w", t.Name, err)
	}
	var drop, create []string
	for rows.Next() {
		var n, s string
		if err := rows.Scan(&n, &s); err != nil {
			rows.Close()
			return err
		}
		drop = append(drop, "DROP TRIGGER "+m.d.Quote(n))
		create = append(create, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, s := range drop {
		if _, err := m.tx.ExecContext(m.ctx, s); err != nil {
			return fmt.Errorf("multisite: suspend triggers of %s: %w", t.Name, err)
		}
	}
	m.fast.suspended = create
	return nil
}

// restoreTriggers re-creates the triggers suspendTriggers dropped.
func (m *importer) restoreTriggers() error {
	for _, s := range m.fast.suspended {
		if _, err := m.tx.ExecContext(m.ctx, s); err != nil {
			return fmt.Errorf("multisite: restore triggers of %s: %w", m.cur.Name, err)
		}
	}
	m.fast.suspended = nil
	return nil
}

// rehashFresh sets the fingerprints of the rows the fast path just
// inserted (refuse.go), in statements of at most MaxParams keys.
func (m *importer) rehashFresh(rows [][]any) error {
	t := m.cur
	k := m.d.Quote(t.Columns[m.fast.key].Name)
	for lo := 0; lo < len(rows); {
		hi := min(len(rows), lo+m.d.MaxParams())
		args := make([]any, 0, hi-lo)
		for _, r := range rows[lo:hi] {
			args = append(args, r[m.fast.key])
		}
		q := rehashSQL(m.d, *t, k+" IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(args)), ", ")+")")
		if _, err := m.tx.ExecContext(m.ctx, m.d.Rebind(q), args...); err != nil {
			return fmt.Errorf("multisite: fingerprints of %s: %w", t.Name, err)
		}
		lo = hi
	}
	return nil
}
