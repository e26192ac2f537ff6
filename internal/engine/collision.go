package engine

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/multisite-go/multisite/hooks"
	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/mastership"
	"github.com/multisite-go/multisite/replica"
)

// Unique-key collisions.
//
// Two replicas that create rows with the same value of a UNIQUE business
// key (not the primary key) would make each other's imports fail. Instead
// every replica settles the collision the same way: the record whose
// creator has the smaller replica ID (for one creator, the smaller primary
// key) keeps the value; every other record's first text column of the key
// is renamed in the ClearQuest keysite manner, NAME<site>, site being the
// name of the replica that created it. Where a renamed record is mastered
// here, the rename is this replica's own change (captured: a new row
// version) and replicates like any edit; elsewhere the import applies the
// same rename to the incoming or stored image without a new version
// (provisional) until the master's renamed image arrives, and exports the
// master's value, not the rename, so provisional renames never travel. If
// the collision goes away before the master renamed (the other record was
// deleted or changed), a provisional rename is undone. So every replica
// ends with the same values, and no record is lost.
//
// A collision on a unique key with no text column cannot be renamed: the
// import fails with a *CollisionError and changes nothing.

// Collision is a unique-key collision an import settled; see
// hooks.Collision.
type Collision = hooks.Collision

// ErrCollision is wrapped by *CollisionError.
var ErrCollision = errors.New("multisite: unique key collision that cannot be renamed")

// CollisionError reports two records of a packet and this replica (or of
// one packet) with the same value of a unique key that has no text column
// to rename. The import changed nothing.
type CollisionError struct {
	Table   string
	Columns []string
	Value   []any
}

func (e *CollisionError) Error() string {
	return fmt.Sprintf("multisite: %s has two records with (%s) = (%s) created at different replicas, and the key has no text column to rename; change one of them at its master, then import again",
		e.Table, strings.Join(e.Columns, ", "), formatKey(e.Value))
}

// Unwrap returns ErrCollision.
func (e *CollisionError) Unwrap() error { return ErrCollision }

// CollisionID names a recorded collision. It is the same on every replica
// that settled the same collision.
type CollisionID string

// CollisionState is what became of a collision at one replica.
type CollisionState string

// The collision states.
const (
	// CollisionProvisional: renamed here on import; the renamed record's
	// master has not sent its own rename yet.
	CollisionProvisional CollisionState = "provisional"
	// CollisionRenamed: the rename is the renamed record's master's change.
	CollisionRenamed CollisionState = "renamed"
	// CollisionWithdrawn: the collision went away before the master
	// renamed (the other record was deleted or changed), and the
	// provisional rename was undone.
	CollisionWithdrawn CollisionState = "withdrawn"
	// CollisionResolved: an administrator settled it at the master.
	CollisionResolved CollisionState = "resolved"
)

// CollisionRecord is a collision as ms_collision records it.
type CollisionRecord struct {
	ID       CollisionID
	Table    string
	Columns  []string // the unique key's columns
	Value    []any    // the value both records had
	Key      []any    // primary key of the renamed record
	KeptKey  []any    // primary key of the record that kept the value
	Column   string   // the renamed column
	Original string   // its value before the rename
	Renamed  string   // its value after
	Winner   replica.ID
	Loser    replica.ID // creator of the renamed record
	State    CollisionState
	Version  uint64 // the renamed record's version the rename belongs to
	Detected time.Time
	Updated  time.Time
}

// uniqueKey is a unique key of a replicated table, resolved against its
// columns.
type uniqueKey struct {
	name string
	cols []dialect.Column
	text int // index in cols of the column to rename; -1 if none is text
}

func (u uniqueKey) names() []string {
	out := make([]string, len(u.cols))
	for i, c := range u.cols {
		out[i] = c.Name
	}
	return out
}

// lateState is what an import keeps for mastership requests and unique-key
// collisions (request.go, collision.go).
type lateState struct {
	uniques  map[string][]uniqueKey // per table, read once per import
	reqs     []RequestID            // requests to act on once the rows are applied
	restores []restore              // provisional renames to undo after the rows are applied
	found    []collisionFound       // collisions to report once the rows are applied
	retired  map[CollisionID]bool   // provisional renames a staged image superseded in this import
}

type restore struct {
	table    dialect.Table
	key      []any // portable
	col      dialect.Column
	original string
	id       CollisionID
}

type collisionFound struct {
	c   Collision
	rec CollisionRecord
}

// uniquesOf returns t's unique keys (the catalog is read once per import).
func (m *importer) uniquesOf(t dialect.Table) ([]uniqueKey, error) {
	if us, ok := m.late.uniques[t.Name]; ok {
		return us, nil
	}
	if m.late.uniques == nil {
		m.late.uniques = map[string][]uniqueKey{}
	}
	us, err := uniqueKeys(m.ctx, m.tx, m.d, t)
	if err != nil {
		return nil, err
	}
	m.late.uniques[t.Name] = us
	return us, nil
}

func uniqueKeys(ctx context.Context, q dialect.Querier, d dialect.Dialect, t dialect.Table) ([]uniqueKey, error) {
	raw, err := dialect.UniqueKeys(ctx, q, d, t.Name)
	if err != nil {
		return nil, err
	}
	var us []uniqueKey
	for _, r := range raw {
		u := uniqueKey{name: r.Name, text: -1}
		ok := true
		for _, n := range r.Columns {
			c, found := t.Column(n)
			if !found {
				ok = false // the mastership field or a column the library does not replicate
				break
			}
			if u.text < 0 && dialect.KindOf(c.Type) == dialect.KindText {
				u.text = len(u.cols)
			}
			u.cols = append(u.cols, c)
		}
		if ok && len(u.cols) > 0 {
			us = append(us, u)
		}
	}
	return us, nil
}

// member is one record holding (or claiming) a unique key's value.
type member struct {
	key     []any // portable
	keyText string
	creator string
	master  string
	version uint64
	seq     int64        // staged row: its ms_seq; 0 for a stored row
	prov    *provisional // a stored row renamed here provisionally
}

// claim is what the rule that picks the record keeping a value sees.
func (s *member) claim() mastership.Claim {
	return mastership.Claim{Creator: replica.ID(s.creator), Key: s.keyText}
}

type provisional struct {
	id       CollisionID
	key      []any
	keyJSON  string
	col      string
	original string
	renamed  string
	version  uint64
	cols     string // JSON of the unique key's columns
	done     bool   // superseded or restored during this merge
}

// settleCollisions runs in merge once it is decided which staged rows
// apply, before they are written: it finds every value of a unique key
// that two records would hold and renames all records but one, in the
// stage or in the table. Tables without unique keys cost one catalog read
// per import.
func (m *importer) settleCollisions() error {
	t := *m.cur
	us, err := m.uniquesOf(t)
	if err != nil || len(us) == 0 {
		return err
	}
	prov, err := m.loadProvisional(t)
	if err != nil {
		return err
	}
	for _, u := range us {
		if err := m.settleUnique(t, u, prov); err != nil {
			return err
		}
	}
	for _, u := range us {
		if err := m.freeFirst(t, u); err != nil {
			return err
		}
	}
	return nil
}

// freeFirst orders the stage so that a staged image that changes a stored
// row's value of u is written before a staged image that takes that value
// (the renamed record and the record that keeps the name often arrive in
// one packet): the databases check a unique key row by row, and MySQL's
// upsert would even take the second image for an update of the first row.
// Images that swap values among themselves within one batch are not
// reordered (a cycle has no such order).
func (m *importer) freeFirst(t dialect.Table, u uniqueKey) error {
	d := m.d
	S, T := d.Quote(dialect.StageName(d, t.Name)), d.Quote(t.Name)
	var match []string
	for _, c := range u.cols {
		match = append(match, "t."+d.Quote(c.Name)+" = s."+d.Quote(c.Name))
	}
	q := fmt.Sprintf(`SELECT DISTINCT %s FROM %s s JOIN %s t ON %s WHERE s.ms_apply = 1 AND s.ms_deleted = 0 AND NOT (%s)`,
		keyCols(d, t, "t."), S, T, strings.Join(match, " AND "), keyMatch(d, t, "t.", "s."))
	rows, err := m.tx.QueryContext(m.ctx, q)
	if err != nil {
		return fmt.Errorf("multisite: order the rows of %s: %w", t.Name, err)
	}
	var keys [][]any
	for rows.Next() {
		k := make([]any, len(t.Keys()))
		dest := make([]any, len(k))
		for i := range k {
			dest[i] = &k[i]
		}
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return err
		}
		keys = append(keys, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	// The stored row holding the value is replaced by a staged image (or
	// the final state would collide, which settleUnique has ruled out):
	// move that image ahead of every other staged row.
	mv := d.Rebind(fmt.Sprintf("UPDATE %s SET ms_seq = ms_seq - ? WHERE %s AND ms_apply = 1 AND ms_deleted = 0 AND ms_seq > 0", S, keyWhere(d, t, "")))
	for _, k := range keys {
		if _, err := m.tx.ExecContext(m.ctx, mv, append([]any{int64(1) << 40}, k...)...); err != nil {
			return fmt.Errorf("multisite: order the rows of %s: %w", t.Name, err)
		}
	}
	return nil
}

// loadProvisional reads the provisional renames of t and retires those
// whose row the stage replaces: the master's new image supersedes them (if
// it still collides, it is renamed again below).
func (m *importer) loadProvisional(t dialect.Table) ([]*provisional, error) {
	rows, err := m.tx.QueryContext(m.ctx, m.d.Rebind(`SELECT id, row_key, col, original, renamed, version, cols FROM ms_collision WHERE tbl = ? AND state = ?`),
		t.Name, string(CollisionProvisional))
	if err != nil {
		return nil, fmt.Errorf("multisite: read collisions of %s: %w", t.Name, err)
	}
	var out []*provisional
	for rows.Next() {
		p := &provisional{}
		var id string
		if err := rows.Scan(&id, &p.keyJSON, &p.col, &p.original, &p.renamed, &p.version, &p.cols); err != nil {
			rows.Close()
			return nil, err
		}
		p.id = CollisionID(id)
		if p.key, err = decodeKey(p.keyJSON); err != nil {
			rows.Close()
			return nil, fmt.Errorf("multisite: ms_collision %s: %w", id, err)
		}
		out = append(out, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	S := m.d.Quote(dialect.StageName(m.d, t.Name))
	for _, p := range out {
		var val sql.NullString
		var deleted int
		err := m.tx.QueryRowContext(m.ctx, m.d.Rebind(fmt.Sprintf("SELECT %s, ms_deleted FROM %s WHERE %s AND ms_apply = 1",
			m.d.Quote(p.col), S, keyWhere(m.d, t, ""))), argKey(m.d, t, p.key)...).Scan(&val, &deleted)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, err
		}
		p.done = true
		if m.late.retired == nil {
			m.late.retired = map[CollisionID]bool{}
		}
		m.late.retired[p.id] = true
		state := CollisionWithdrawn
		if deleted == 0 && val.Valid && val.String == p.renamed {
			state = CollisionRenamed // the master's own rename arrived
		}
		if err := m.setCollisionState(p.id, state); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (m *importer) setCollisionState(id CollisionID, s CollisionState) error {
	_, err := m.tx.ExecContext(m.ctx, m.d.Rebind(`UPDATE ms_collision SET state = ?, updated = ? WHERE id = ?`), string(s), nowText(), string(id))
	return err
}

// settleUnique settles the collisions of one unique key.
func (m *importer) settleUnique(t dialect.Table, u uniqueKey, prov []*provisional) error {
	d := m.d
	S, T := d.Quote(dialect.StageName(d, t.Name)), d.Quote(t.Name)
	var ucols, match, notNull []string
	for _, c := range u.cols {
		ucols = append(ucols, d.Raw("s."+d.Quote(c.Name)))
		match = append(match, "t."+d.Quote(c.Name)+" = s."+d.Quote(c.Name))
		notNull = append(notNull, "s."+d.Quote(c.Name)+" IS NOT NULL")
	}
	// Values a staged row shares with another stored row or another
	// staged row. Each query names the stage once (MySQL cannot open a
	// temporary table twice in one statement).
	queries := []string{
		fmt.Sprintf(`SELECT DISTINCT %s FROM %s s JOIN %s t ON %s WHERE s.ms_apply = 1 AND s.ms_deleted = 0 AND NOT (%s)`,
			strings.Join(ucols, ", "), S, T, strings.Join(match, " AND "), keyMatch(d, t, "t.", "s.")),
		fmt.Sprintf(`SELECT %s FROM %s s WHERE s.ms_apply = 1 AND s.ms_deleted = 0 AND %s GROUP BY %s HAVING count(*) > 1`,
			strings.Join(ucols, ", "), S, strings.Join(notNull, " AND "), strings.Join(ucols, ", ")),
	}
	seen := map[string]bool{}
	var values [][]any
	add := func(v []any) {
		k := formatKey(v)
		if !seen[k] {
			seen[k] = true
			values = append(values, v)
		}
	}
	for _, q := range queries {
		rows, err := m.tx.QueryContext(m.ctx, q)
		if err != nil {
			return fmt.Errorf("multisite: find collisions in %s: %w", t.Name, err)
		}
		for rows.Next() {
			v := make([]any, len(u.cols))
			dest := make([]any, len(v))
			for i := range v {
				dest[i] = &v[i]
			}
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return err
			}
			if err := portable(d, u.cols, v); err != nil {
				rows.Close()
				return err
			}
			add(v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	// Values provisionally renamed away: the collision may have gone.
	mine := m.provisionalOf(u, prov)
	for _, p := range mine {
		v, ok, err := m.claimed(t, u, p)
		if err != nil {
			return err
		}
		if ok {
			add(v)
		}
	}
	for _, v := range values {
		if err := m.settleValue(t, u, v, mine); err != nil {
			return err
		}
	}
	return nil
}

// provisionalOf returns the live provisional renames of u.
func (m *importer) provisionalOf(u uniqueKey, prov []*provisional) []*provisional {
	cols, _ := json.Marshal(u.names())
	var out []*provisional
	for _, p := range prov {
		if !p.done && p.cols == string(cols) {
			out = append(out, p)
		}
	}
	return out
}

// claimed returns the value of u a provisionally renamed row claims: its
// stored value with the original in place of the rename. ok is false if
// the row is gone.
func (m *importer) claimed(t dialect.Table, u uniqueKey, p *provisional) ([]any, bool, error) {
	d := m.d
	var sel []string
	for _, c := range u.cols {
		sel = append(sel, d.Raw(d.Quote(c.Name)))
	}
	v := make([]any, len(u.cols))
	dest := make([]any, len(v))
	for i := range v {
		dest[i] = &v[i]
	}
	err := m.tx.QueryRowContext(m.ctx, d.Rebind(fmt.Sprintf("SELECT %s FROM %s WHERE %s", strings.Join(sel, ", "), d.Quote(t.Name), keyWhere(d, t, ""))),
		argKey(d, t, p.key)...).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		p.done = true
		return nil, false, m.setCollisionState(p.id, CollisionWithdrawn)
	}
	if err != nil {
		return nil, false, err
	}
	if err := portable(d, u.cols, v); err != nil {
		return nil, false, err
	}
	for i, c := range u.cols {
		if c.Name == p.col {
			v[i] = p.original
		}
	}
	return v, true, nil
}

// settleValue settles the records that hold or claim value v of u.
func (m *importer) settleValue(t dialect.Table, u uniqueKey, v []any, prov []*provisional) error {
	d := m.d
	S, T, R := d.Quote(dialect.StageName(d, t.Name)), d.Quote(t.Name), d.Quote(dialect.Shadow(d, t.Name))
	var where []string
	args := make([]any, 0, len(v))
	for i, c := range u.cols {
		where = append(where, "%s"+d.Quote(c.Name)+" = ?")
		args = append(args, d.Arg(c, v[i]))
	}
	cond := func(alias string) string {
		parts := make([]string, len(where))
		for i, w := range where {
			parts[i] = fmt.Sprintf(w, alias)
		}
		return strings.Join(parts, " AND ")
	}
	var members []*member
	isProv := map[string]*provisional{}
	for _, p := range prov {
		isProv[formatKey(p.key)] = p
	}
	// Stored rows holding v that the stage does not replace.
	q := fmt.Sprintf("SELECT %s, r.ms_creator, r.ms_master, r.ms_version FROM %s t JOIN %s r ON %s WHERE %s",
		keyCols(d, t, "t."), T, R, keyMatch(d, t, "r.", "t."), cond("t."))
	stored, err := m.members(t, d.Rebind(q), args, false)
	if err != nil {
		return err
	}
	for _, s := range stored {
		var n int
		if err := m.tx.QueryRowContext(m.ctx, d.Rebind(fmt.Sprintf("SELECT count(*) FROM %s WHERE %s AND ms_apply = 1", S, keyWhere(d, t, ""))),
			argKey(d, t, s.key)...).Scan(&n); err != nil {
			return err
		}
		if n == 0 && isProv[s.keyText] == nil {
			members = append(members, s)
		}
	}
	// Stored rows renamed here provisionally that claim v.
	for _, p := range prov {
		if p.done {
			continue
		}
		cv, ok, err := m.claimed(t, u, p)
		if err != nil {
			return err
		}
		if !ok || formatKey(cv) != formatKey(v) {
			continue
		}
		var s member
		err = m.tx.QueryRowContext(m.ctx, d.Rebind(fmt.Sprintf("SELECT ms_creator, ms_master, ms_version FROM %s WHERE %s", R, keyWhere(d, t, ""))),
			argKey(d, t, p.key)...).Scan(&s.creator, &s.master, &s.version)
		if err != nil {
			return err
		}
		s.key, s.keyText, s.prov = p.key, formatKey(p.key), p
		members = append(members, &s)
	}
	// Staged rows holding v.
	q = fmt.Sprintf("SELECT %s, ms_creator, ms_master, ms_version, ms_seq FROM %s s WHERE s.ms_apply = 1 AND s.ms_deleted = 0 AND %s",
		keyCols(d, t, "s."), S, cond("s."))
	staged, err := m.members(t, d.Rebind(q), args, true)
	if err != nil {
		return err
	}
	members = append(members, staged...)
	if len(members) == 0 {
		return nil
	}
	sort.Slice(members, func(a, b int) bool { return members[a].claim().Before(members[b].claim()) })
	winner := members[0]
	if winner.prov != nil {
		// The collision that renamed it is gone: undo the rename once the
		// rows are written (the value may still be held by a row the
		// stage replaces).
		col, _ := t.Column(winner.prov.col)
		m.late.restores = append(m.late.restores, restore{table: t, key: winner.key, col: col, original: winner.prov.original, id: winner.prov.id})
		winner.prov.done = true
	}
	if len(members) == 1 {
		return nil
	}
	if u.text < 0 {
		return &CollisionError{Table: t.Name, Columns: u.names(), Value: v}
	}
	taken := map[string]bool{}
	for _, l := range members[1:] {
		if l.prov != nil {
			continue // renamed already
		}
		if err := m.rename(t, u, v, winner, l, taken); err != nil {
			return err
		}
	}
	return nil
}

// members scans key columns then creator, master, version (and ms_seq for
// staged rows).
func (m *importer) members(t dialect.Table, q string, args []any, staged bool) ([]*member, error) {
	rows, err := m.tx.QueryContext(m.ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("multisite: read colliding records of %s: %w", t.Name, err)
	}
	defer rows.Close()
	ks := t.Keys()
	var out []*member
	for rows.Next() {
		s := &member{key: make([]any, len(ks))}
		dest := make([]any, 0, len(ks)+4)
		for i := range s.key {
			dest = append(dest, &s.key[i])
		}
		dest = append(dest, &s.creator, &s.master, &s.version)
		if staged {
			dest = append(dest, &s.seq)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		if err := portable(m.d, ks, s.key); err != nil {
			return nil, err
		}
		s.keyText = formatKey(s.key)
		out = append(out, s)
	}
	return out, rows.Err()
}

// rename gives loser l a new value of u's text column, NAME<site>, in the
// stage or the table, as the master's own change if this replica masters
// it, and records the collision.
func (m *importer) rename(t dialect.Table, u uniqueKey, v []any, winner, l *member, taken map[string]bool) error {
	d := m.d
	col := u.cols[u.text]
	original, _ := v[u.text].(string)
	site := string(l.creator)
	if i, ok := m.reg[replica.ID(l.creator)]; ok {
		site = i.Name
	}
	var renamed string
	for attempt := 1; ; attempt++ {
		renamed = keysiteName(original, site, col.Type, attempt)
		if taken[renamed] {
			continue
		}
		free, err := m.valueFree(t, u, v, renamed)
		if err != nil {
			return err
		}
		if free {
			break
		}
		if attempt > 1000 {
			return fmt.Errorf("multisite: no free name for %s.%s %q", t.Name, col.Name, original)
		}
	}
	taken[renamed] = true
	local := replica.ID(l.master) == m.ctl.Local
	version := l.version
	S, T, R := d.Quote(dialect.StageName(d, t.Name)), d.Quote(t.Name), d.Quote(dialect.Shadow(d, t.Name))
	var stmts []string
	var args [][]any
	if l.seq != 0 {
		set := d.Quote(col.Name) + " = ?"
		if local {
			// The image makes this replica the master (a transfer): the
			// rename is its own next version, sealed with its next epoch.
			set += ", ms_version = ms_version + 1, ms_origin = ?, ms_epoch = NULL"
		}
		a := []any{d.Arg(col, renamed)}
		if local {
			a = append(a, string(m.ctl.Local))
		}
		stmts = append(stmts, d.Rebind(fmt.Sprintf("UPDATE %s SET %s WHERE ms_seq = ?", S, set)))
		args = append(args, append(a, l.seq))
	} else {
		stmts = append(stmts, d.Rebind(fmt.Sprintf("UPDATE %s SET %s = ? WHERE %s", T, d.Quote(col.Name), keyWhere(d, t, ""))))
		args = append(args, append([]any{d.Arg(col, renamed)}, argKey(d, t, l.key)...))
		if local {
			// What the capture trigger would record for this update.
			stmts = append(stmts, d.Rebind(fmt.Sprintf("UPDATE %s SET ms_version = ms_version + 1, ms_origin = ?, ms_epoch = NULL WHERE %s", R, keyWhere(d, t, ""))))
			args = append(args, append([]any{string(m.ctl.Local)}, argKey(d, t, l.key)...))
		}
		// The renamed row's fingerprint (refuse.go), which the triggers,
		// standing aside, do not take.
		stmts = append(stmts, d.Rebind(rehashSQL(d, t, keyWhere(d, t, ""))))
		args = append(args, argKey(d, t, l.key))
	}
	for i, s := range stmts {
		if _, err := m.tx.ExecContext(m.ctx, s, args[i]...); err != nil {
			return fmt.Errorf("multisite: rename colliding %s[%s]: %w", t.Name, l.keyText, err)
		}
	}
	state := CollisionProvisional
	if local {
		state, version = CollisionRenamed, version+1
	}
	newVal := append([]any{}, v...)
	newVal[u.text] = renamed
	rec := CollisionRecord{
		Table: t.Name, Columns: u.names(), Value: v, Key: l.key, KeptKey: winner.key, Column: col.Name,
		Original: original, Renamed: renamed, Winner: replica.ID(winner.creator), Loser: replica.ID(l.creator),
		State: state, Version: version,
	}
	rec.ID = collisionID(rec)
	isNew, err := m.putCollision(rec)
	if err != nil {
		return err
	}
	if isNew {
		m.late.found = append(m.late.found, collisionFound{rec: rec, c: Collision{
			Table: t.Name, Columns: rec.Columns, Value: v, KeptKey: winner.key, Key: l.key, Renamed: newVal,
			Creators: [2]replica.ID{rec.Winner, rec.Loser},
		}})
	}
	return nil
}

// valueFree reports whether v with renamed in u's text column is held by
// no stored row and no applying staged row.
func (m *importer) valueFree(t dialect.Table, u uniqueKey, v []any, renamed string) (bool, error) {
	d := m.d
	var where []string
	var args []any
	for i, c := range u.cols {
		where = append(where, d.Quote(c.Name)+" = ?")
		val := v[i]
		if i == u.text {
			val = renamed
		}
		args = append(args, d.Arg(c, val))
	}
	w := strings.Join(where, " AND ")
	var n, k int
	if err := m.tx.QueryRowContext(m.ctx, d.Rebind(fmt.Sprintf("SELECT count(*) FROM %s WHERE %s", d.Quote(t.Name), w)), args...).Scan(&n); err != nil {
		return false, err
	}
	if err := m.tx.QueryRowContext(m.ctx, d.Rebind(fmt.Sprintf("SELECT count(*) FROM %s WHERE ms_apply = 1 AND ms_deleted = 0 AND %s", d.Quote(dialect.StageName(d, t.Name)), w)), args...).Scan(&k); err != nil {
		return false, err
	}
	return n+k == 0, nil
}

// putCollision records rec; isNew is false if this replica had recorded
// the same collision already (and it was not withdrawn or resolved).
func (m *importer) putCollision(rec CollisionRecord) (isNew bool, err error) {
	var state string
	err = m.tx.QueryRowContext(m.ctx, m.d.Rebind(`SELECT state FROM ms_collision WHERE id = ?`), string(rec.ID)).Scan(&state)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		isNew = true
	case err != nil:
		return false, err
	default:
		// Renamed again after the master's next image superseded the
		// provisional rename is the same collision, not news.
		isNew = (state == string(CollisionWithdrawn) || state == string(CollisionResolved)) && !m.late.retired[rec.ID]
		if _, err := m.tx.ExecContext(m.ctx, m.d.Rebind(`DELETE FROM ms_collision WHERE id = ?`), string(rec.ID)); err != nil {
			return false, err
		}
	}
	cols, _ := json.Marshal(rec.Columns)
	value, err := encodeKey(rec.Value)
	if err != nil {
		return false, err
	}
	key, err := encodeKey(rec.Key)
	if err != nil {
		return false, err
	}
	kept, err := encodeKey(rec.KeptKey)
	if err != nil {
		return false, err
	}
	now := nowText()
	_, err = m.tx.ExecContext(m.ctx, m.d.Rebind(`INSERT INTO ms_collision (id, tbl, cols, value, row_key, kept_key, col, original, renamed, winner, loser, state, version, detected, updated)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		string(rec.ID), rec.Table, string(cols), value, key, kept, rec.Column, rec.Original, rec.Renamed,
		string(rec.Winner), string(rec.Loser), string(rec.State), rec.Version, now, now)
	if err != nil {
		return false, fmt.Errorf("multisite: record collision in %s: %w", rec.Table, err)
	}
	return isNew, nil
}

// collisionsApplied runs in merge after the rows are written: it undoes
// provisional renames whose collision went away, then reports the new
// collisions in the import report and to the OnCollision hook.
func (m *importer) collisionsApplied() error {
	d := m.d
	for _, r := range m.late.restores {
		q := d.Rebind(fmt.Sprintf("UPDATE %s SET %s = ? WHERE %s", d.Quote(r.table.Name), d.Quote(r.col.Name), keyWhere(d, r.table, "")))
		if _, err := m.tx.ExecContext(m.ctx, q, append([]any{d.Arg(r.col, r.original)}, argKey(d, r.table, r.key)...)...); err != nil {
			return fmt.Errorf("multisite: undo the provisional rename of %s[%s]: %w", r.table.Name, formatKey(r.key), err)
		}
		if _, err := m.tx.ExecContext(m.ctx, d.Rebind(rehashSQL(d, r.table, keyWhere(d, r.table, ""))), argKey(d, r.table, r.key)...); err != nil {
			return fmt.Errorf("multisite: fingerprint of %s[%s]: %w", r.table.Name, formatKey(r.key), err)
		}
		if err := m.setCollisionState(r.id, CollisionWithdrawn); err != nil {
			return err
		}
	}
	m.late.restores = m.late.restores[:0]
	found := m.late.found
	m.late.found = nil
	for _, f := range found {
		m.rep.Collisions = append(m.rep.Collisions, f.c)
		if err := m.hooks.onCollision(m.ctx, f.c); err != nil {
			return err
		}
	}
	return nil
}

// keysiteName is original renamed for site: NAME<site>, then NAME<site>2,
// NAME<site>3 ... if that is taken too. A declared length (VARCHAR(n),
// CHAR(n)) is kept by shortening NAME.
func keysiteName(original, site, typ string, attempt int) string {
	suffix := "<" + site + ">"
	if attempt > 1 {
		suffix += strconv.Itoa(attempt)
	}
	if n := declaredLength(typ); n > 0 {
		base := []rune(original)
		room := n - len([]rune(suffix))
		if room < 0 {
			room = 0
		}
		if len(base) > room {
			base = base[:room]
		}
		s := []rune(string(base) + suffix)
		if len(s) > n {
			s = s[len(s)-n:]
		}
		return string(s)
	}
	return original + suffix
}

// declaredLength is n of a CHAR(n) or VARCHAR(n) type, else 0.
func declaredLength(typ string) int {
	up := strings.ToUpper(typ)
	i, j := strings.IndexByte(up, '('), strings.IndexByte(up, ')')
	if i < 0 || j < i || !strings.Contains(up[:i], "CHAR") {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(up[i+1 : j]))
	if err != nil {
		return 0
	}
	return n
}

// collisionID is the same on every replica that settles the same
// collision: a digest of the table, the key's columns, the renamed
// record's key and the value.
func collisionID(r CollisionRecord) CollisionID {
	h := sha256.New()
	key, _ := encodeKey(r.Key)
	value, _ := encodeKey(r.Value)
	fmt.Fprintf(h, "%q %q %s %s", r.Table, strings.Join(r.Columns, ","), key, value)
	return CollisionID(hex.EncodeToString(h.Sum(nil))[:16])
}

// keyWhere is "k1 = ? AND k2 = ?" over t's key, columns prefixed.
func keyWhere(d dialect.Dialect, t dialect.Table, prefix string) string {
	var conds []string
	for _, k := range t.Keys() {
		conds = append(conds, prefix+d.Quote(k.Name)+" = ?")
	}
	return strings.Join(conds, " AND ")
}

func nowText() string { return time.Now().UTC().Format(time.RFC3339Nano) }

// overlay holds the provisional renames of one table for an export: the
// export sends the master's value, never a rename made here on import.
type overlay struct {
	t       dialect.Table
	byKey   map[string]provisional
	colIdx  map[string]int
	keyIdxs []int
}

// loadOverlay reads t's provisional renames; a nil overlay (no renames,
// the common case) costs nothing per row.
func loadOverlay(ctx context.Context, q dialect.Querier, d dialect.Dialect, t dialect.Table) (*overlay, error) {
	rows, err := q.QueryContext(ctx, d.Rebind(`SELECT row_key, col, original, version FROM ms_collision WHERE tbl = ? AND state = ?`), t.Name, string(CollisionProvisional))
	if err != nil {
		return nil, fmt.Errorf("multisite: read collisions of %s: %w", t.Name, err)
	}
	defer rows.Close()
	var o *overlay
	for rows.Next() {
		var p provisional
		if err := rows.Scan(&p.keyJSON, &p.col, &p.original, &p.version); err != nil {
			return nil, err
		}
		key, err := decodeKey(p.keyJSON)
		if err != nil {
			return nil, err
		}
		if o == nil {
			o = &overlay{t: t, byKey: map[string]provisional{}, colIdx: map[string]int{}}
			for i, c := range t.Columns {
				o.colIdx[c.Name] = i
			}
			for _, k := range t.Keys() {
				o.keyIdxs = append(o.keyIdxs, o.colIdx[k.Name])
			}
		}
		o.byKey[formatKey(key)] = p
	}
	return o, rows.Err()
}

// restore puts the master's value back into a row image about to be
// exported (portable values in t's column order) if it was renamed here
// provisionally at that version.
func (o *overlay) restore(vals []any, version uint64) {
	if o == nil {
		return
	}
	key := make([]any, len(o.keyIdxs))
	for i, j := range o.keyIdxs {
		key[i] = vals[j]
	}
	p, ok := o.byKey[formatKey(key)]
	if !ok || p.version != version {
		return
	}
	if i, ok := o.colIdx[p.col]; ok && vals[i] != nil {
		vals[i] = p.original
	}
}

// Collisions lists the collisions recorded at this replica, newest first.
func Collisions(ctx context.Context, db *sql.DB, d dialect.Dialect, f CollisionFilter) ([]CollisionRecord, error) {
	if _, err := LoadCtl(ctx, db, d); err != nil {
		return nil, err
	}
	if err := ensureLateMeta(ctx, db, d); err != nil {
		return nil, err
	}
	return readCollisions(ctx, db, d, f)
}

// CollisionFilter selects collisions; the zero value selects all.
type CollisionFilter struct {
	Table  string
	States []CollisionState
	ID     CollisionID
}

func readCollisions(ctx context.Context, q dialect.Querier, d dialect.Dialect, f CollisionFilter) ([]CollisionRecord, error) {
	where := []string{"1 = 1"}
	var args []any
	if f.Table != "" {
		where, args = append(where, "tbl = ?"), append(args, f.Table)
	}
	if f.ID != "" {
		where, args = append(where, "id = ?"), append(args, string(f.ID))
	}
	if len(f.States) > 0 {
		ph := make([]string, len(f.States))
		for i, s := range f.States {
			ph[i] = "?"
			args = append(args, string(s))
		}
		where = append(where, "state IN ("+strings.Join(ph, ", ")+")")
	}
	rows, err := q.QueryContext(ctx, d.Rebind(`SELECT id, tbl, cols, value, row_key, kept_key, col, original, renamed, winner, loser, state, version, detected, updated
		FROM ms_collision WHERE `+strings.Join(where, " AND ")+` ORDER BY detected DESC, id`), args...)
	if err != nil {
		return nil, fmt.Errorf("multisite: read collisions: %w", err)
	}
	defer rows.Close()
	var out []CollisionRecord
	for rows.Next() {
		var r CollisionRecord
		var id, cols, value, key, kept, winner, loser, state, detected, updated string
		if err := rows.Scan(&id, &r.Table, &cols, &value, &key, &kept, &r.Column, &r.Original, &r.Renamed, &winner, &loser, &state, &r.Version, &detected, &updated); err != nil {
			return nil, err
		}
		r.ID, r.Winner, r.Loser, r.State = CollisionID(id), replica.ID(winner), replica.ID(loser), CollisionState(state)
		if err := json.Unmarshal([]byte(cols), &r.Columns); err != nil {
			return nil, fmt.Errorf("multisite: ms_collision %s: %w", id, err)
		}
		for _, p := range []struct {
			s   string
			dst *[]any
		}{{value, &r.Value}, {key, &r.Key}, {kept, &r.KeptKey}} {
			if *p.dst, err = decodeKey(p.s); err != nil {
				return nil, fmt.Errorf("multisite: ms_collision %s: %w", id, err)
			}
		}
		r.Detected, _ = time.Parse(time.RFC3339Nano, detected)
		r.Updated, _ = time.Parse(time.RFC3339Nano, updated)
		out = append(out, r)
	}
	return out, rows.Err()
}

// ErrNoCollision is returned for a collision ID this replica has not
// recorded.
var ErrNoCollision = errors.New("multisite: no such collision")

// ResolveCollision settles a recorded collision at the renamed record's
// master. With value "" the rename stays; otherwise the renamed column is
// set to value as an ordinary local write (captured, so it replicates; a
// value another record holds fails with the driver's unique-constraint
// error and changes nothing). The record is marked resolved.
func ResolveCollision(ctx context.Context, db *sql.DB, d dialect.Dialect, id CollisionID, value string) (CollisionRecord, error) {
	if _, err := LoadCtl(ctx, db, d); err != nil {
		return CollisionRecord{}, err
	}
	if err := ensureLateMeta(ctx, db, d); err != nil {
		return CollisionRecord{}, err
	}
	var out CollisionRecord
	err := inTx(ctx, db, d, func(tx *sql.Tx) error {
		c, err := LoadCtl(ctx, tx, d)
		if err != nil {
			return err
		}
		rs, err := readCollisions(ctx, tx, d, CollisionFilter{ID: id})
		if err != nil {
			return err
		}
		if len(rs) == 0 {
			return fmt.Errorf("%w: %s", ErrNoCollision, id)
		}
		r := rs[0]
		t, err := findTable(ctx, tx, r.Table)
		if err != nil {
			return err
		}
		var master string
		err = tx.QueryRowContext(ctx, d.Rebind(fmt.Sprintf("SELECT %s FROM %s WHERE %s", dialect.MasterColumn, d.Quote(t.Name), keyWhere(d, t, ""))),
			argKey(d, t, r.Key)...).Scan(&master)
		if errors.Is(err, sql.ErrNoRows) {
			return &NoRowError{Table: t.Name, Key: formatKey(r.Key)}
		}
		if err != nil {
			return err
		}
		if replica.ID(master) != c.Local {
			return &mastership.NotMasterError{Table: t.Name, Key: formatKey(r.Key), Master: replica.ID(master), By: c.Local}
		}
		if value != "" {
			col, ok := t.Column(r.Column)
			if !ok {
				return fmt.Errorf("multisite: %s has no column %s any more", t.Name, r.Column)
			}
			q := d.Rebind(fmt.Sprintf("UPDATE %s SET %s = ? WHERE %s", d.Quote(t.Name), d.Quote(col.Name), keyWhere(d, t, "")))
			if _, err := tx.ExecContext(ctx, q, append([]any{d.Arg(col, value)}, argKey(d, t, r.Key)...)...); err != nil {
				return fmt.Errorf("multisite: resolve collision %s: %w", id, mastership.FromDriver(err))
			}
		}
		r.State, r.Updated = CollisionResolved, time.Now().UTC()
		if _, err := tx.ExecContext(ctx, d.Rebind(`UPDATE ms_collision SET state = ?, updated = ? WHERE id = ?`),
			string(r.State), r.Updated.Format(time.RFC3339Nano), string(id)); err != nil {
			return err
		}
		out = r
		return nil
	})
	return out, err
}
