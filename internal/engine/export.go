package engine

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"time"

	"github.com/multisite-go/multisite/hooks"
	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/internal/edbatch"
	"github.com/multisite-go/multisite/mastership"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/syncpkt"
)

// ExportOptions controls Export. The zero value exports every change the
// target lacks, logs nothing and reports no progress.
type ExportOptions struct {
	Logger   *slog.Logger          // nil means silent
	Progress func(done, total int) // rows written so far, rows in all; nil means no callbacks
	// Recover, if set, replaces what this replica believes the target
	// holds: per origin it names, the packet resends everything after its
	// epoch; of every other origin, everything after what the target last
	// acknowledged (so an empty vector resends exactly what was sent but
	// not acknowledged). Pruned history is never resent; the target
	// acknowledged it.
	Recover replica.Vector
	// Uncompressed writes the packet without zstd compression, which is
	// otherwise on: rows of text shrink to about a third.
	Uncompressed bool
	// Policy, if set, decides the master of changed rows before they are
	// sealed (see mastership.Policy); its transfers travel in this packet.
	Policy mastership.Policy
	// Hooks, if set, runs BeforeExport in the seal's transaction, before
	// the pending changes are sealed (see prepareExport).
	Hooks *hooks.Hooks
	// ResendAfter, if positive, sends again what was sent to the target
	// this long ago or longer and is still not acknowledged. Zero resends
	// only what the target reports missing (a gap).
	ResendAfter time.Duration
	// MaxSize, if positive, splits the packet into parts of at most this
	// many bytes before compression (see packetOut); the first part goes
	// to w, part n ≥ 2 to the writer NextPart(n) returns.
	MaxSize  int64
	NextPart func(n int) (io.Writer, error)
}

// ExportStats describes a written packet.
type ExportStats struct {
	Target    replica.ID
	Epoch     uint64         // the origin's newest epoch, which the packet brings the target up to
	Rows      int            // row images, tombstones included
	Deletes   int            // tombstones
	Transfers int            // mastership transfers
	Tables    map[string]int // row images per table
	Bytes     int64          // every part's bytes
	Parts     int            // parts written with MaxSize; 0 for a whole packet
	// Base holds, per origin, the epoch after which the packet carries
	// changes: what the target acknowledged or was sent before.
	Base replica.Vector
}

// Export seals pending local changes, then writes a sync packet holding
// every change the target lacks according to what this replica knows of
// it: what the target acknowledged or, if later, what was sent to it
// before (sent.go), so each change travels once. It reads from one
// snapshot, so writers are not blocked meanwhile, and records what it sent
// once the packet is written.
func Export(ctx context.Context, db *sql.DB, d dialect.Dialect, target replica.ID, w io.Writer, opt ExportOptions) (ExportStats, error) {
	st := ExportStats{Target: target, Tables: map[string]int{}}
	c, err := LoadCtl(ctx, db, d)
	if err != nil {
		return st, err
	}
	if c.State == replica.ReceiveOnly {
		return st, fmt.Errorf("%w: %s exports nothing until it is made active", replica.ErrReceiveOnly, c.Local)
	}
	reg, err := Registry(ctx, db)
	if err != nil {
		return st, err
	}
	ti, ok := reg[target]
	if !ok || target == c.Local {
		return st, &replica.UnknownError{ID: target}
	}
	if ti.State == replica.Removed {
		return st, fmt.Errorf("%w: %s", replica.ErrRemoved, ti)
	}
	if _, err := sealWith(ctx, db, d, prepareExport(ctx, d, target, opt)); err != nil {
		return st, err
	}
	now := time.Now().UTC()
	var base, sentUpto, sentAcked replica.Vector
	var resent map[replica.ID]bool
	err = readTx(ctx, db, d, func(tx *sql.Tx) error {
		c, err := LoadCtl(ctx, tx, d)
		if err != nil {
			return err
		}
		reg, err := Registry(ctx, tx)
		if err != nil {
			return err
		}
		upto, err := LoadVector(ctx, tx, d, c.Local)
		if err != nil {
			return err
		}
		acked, err := LoadVector(ctx, tx, d, target)
		if err != nil {
			return err
		}
		sent, err := loadSent(ctx, tx, d, target)
		if err != nil {
			return err
		}
		base, resent = exportBase(acked, sent, now, opt.ResendAfter)
		if opt.Recover != nil {
			pruned, err := LoadVector(ctx, tx, d, prunedHolder)
			if err != nil {
				return err
			}
			// The target's last acknowledgement, except for the origins
			// the caller names; pruned history is never resent.
			base = acked.Clone()
			for o, e := range opt.Recover {
				base[o] = e
			}
			base.Merge(pruned)
		}
		if err := checkPruned(ctx, tx, d, target, base); err != nil {
			return err
		}
		gaps, err := loadGaps(ctx, tx, d, target)
		if err != nil {
			return err
		}
		st.Epoch = upto[c.Local]
		h := syncpkt.Header{Kind: syncpkt.KindSync, Family: c.Family, Origin: string(c.Local), Target: string(target),
			SchemaVersion: c.SchemaVersion, CodePage: c.CodePage, Created: now,
			Base: toMap(base, upto), Upto: toMap(upto, nil), Gaps: toMap(gaps, nil)}
		pw, err := newPacketOut(w, h, syncpkt.WriterOptions{Sign: signer(c.PrivateKey), Compress: !opt.Uncompressed}, opt.MaxSize, opt.NextPart)
		if err != nil {
			return err
		}
		if err := writeSchemaSettings(ctx, tx, d, c, pw); err != nil { // migrate.go: the chain, the code page, the migrations, proven; before any row
			return err
		}
		if err := writeRegistry(ctx, tx, pw, c, reg, target, false); err != nil { // registry_auth.go
			return err
		}
		if err := writeSealed(ctx, tx, c, upto, pw); err != nil { // authority.go: after the registry, before any table
			return err
		}
		if err := writeRequests(ctx, tx, d, c, pw, replica.Lacks(upto, base)); err != nil { // request.go
			return err
		}
		if err := writeChanges(ctx, tx, d, c, pw, replica.Lacks(upto, base), &st, opt.Progress); err != nil {
			return err
		}
		if err := pw.Close(); err != nil {
			return err
		}
		st.Bytes, st.Parts, st.Base, sentUpto, sentAcked = pw.bytes, pw.Parts(), base, upto, acked
		return nil
	})
	if err != nil {
		return st, err
	}
	// The packet is written: remember what it carried, so the next export
	// sends only what is newer (sent.go).
	if err := inTx(ctx, db, d, func(tx *sql.Tx) error {
		return recordSent(ctx, tx, d, target, base, sentUpto, sentAcked, resent, now)
	}); err != nil {
		return st, err
	}
	if opt.Logger != nil {
		opt.Logger.InfoContext(ctx, "multisite: exported packet", "target", target, "epoch", st.Epoch, "rows", st.Rows, "transfers", st.Transfers, "bytes", st.Bytes)
	}
	return st, nil
}

// toMap converts a vector to the packet's form. With limit, only origins of
// limit are kept.
func toMap(v, limit replica.Vector) map[string]uint64 {
	m := map[string]uint64{}
	for o, e := range v {
		if limit != nil {
			if _, ok := limit[o]; !ok {
				continue
			}
		}
		m[string(o)] = e
	}
	return m
}

func signer(key ed25519.PrivateKey) func([]byte) ([]byte, error) {
	return func(digest []byte) ([]byte, error) { return ed25519.Sign(key, digest), nil }
}

func replicaRecord(i replica.Info) *syncpkt.Replica {
	return &syncpkt.Replica{ID: string(i.ID), Name: i.Name, Number: i.Number, PublicKey: []byte(i.PublicKey), State: string(i.State), Version: i.Version, KeySig: i.KeySig, Incarnation: i.Incarnation}
}

// changeFilter is the WHERE clause selecting stamped changes after the
// given epoch of each origin; a nil map selects every stamped change.
func changeFilter(d dialect.Dialect, alias, originCol string, after map[replica.ID]uint64) (string, []any) {
	if after == nil {
		return alias + "ms_epoch IS NOT NULL", nil
	}
	var parts []string
	var args []any
	for _, o := range replica.Vector(after).Origins() {
		parts = append(parts, fmt.Sprintf("(%s%s = ? AND %sms_epoch > ?)", alias, originCol, alias))
		args = append(args, string(o), after[o])
	}
	return "(" + strings.Join(parts, " OR ") + ")", args
}

// writeChanges writes, table by table, the transfers and row images
// stamped after the given epochs (all stamped ones if after is nil). What
// c's replica made it signs with its key; what it forwards carries the
// proof it stored when it took it (see writeRows).
func writeChanges(ctx context.Context, tx *sql.Tx, d dialect.Dialect, c *Ctl, pw recordWriter, after map[replica.ID]uint64, st *ExportStats, progress func(int, int)) error {
	if after != nil && len(after) == 0 {
		return nil
	}
	tables, err := Tables(ctx, tx)
	if err != nil {
		return err
	}
	if after == nil { // a creation packet: tables are created in packet order
		if tables, err = parentsFirst(ctx, tx, d, tables); err != nil {
			return err
		}
	}
	total := -1
	if progress != nil {
		total = 0
		for _, t := range tables {
			where, args := changeFilter(d, "", "ms_origin", after)
			var n int
			if err := tx.QueryRowContext(ctx, d.Rebind(fmt.Sprintf("SELECT count(*) FROM %s WHERE %s", d.Quote(dialect.Shadow(d, t.Name)), where)), args...).Scan(&n); err != nil {
				return err
			}
			total += n
		}
	}
	for _, t := range tables {
		started := false
		start := func() error {
			if started {
				return nil
			}
			started = true
			return pw.Write(tableRecord(t, after == nil))
		}
		if err := writeTransfers(ctx, tx, d, c, pw, t, after, st, start); err != nil {
			return err
		}
		if err := writeRows(ctx, tx, d, c, pw, t, after, st, start, progress, total); err != nil {
			return err
		}
		if after == nil && !started {
			if err := start(); err != nil { // creation packets carry empty tables too
				return err
			}
		}
	}
	return nil
}

func tableRecord(t dialect.Table, create bool) *syncpkt.Table {
	cols := make([]syncpkt.Column, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = syncpkt.Column{Name: c.Name, Type: c.Type, NotNull: c.NotNull, Key: c.Key, Default: c.Default}
	}
	return &syncpkt.Table{Name: t.Name, Columns: cols, Create: create}
}

func keyCols(d dialect.Dialect, t dialect.Table, alias string) string {
	var s []string
	for _, k := range t.Keys() {
		s = append(s, d.Raw(alias+d.Quote(k.Name)))
	}
	return strings.Join(s, ", ")
}

func keyMatch(d dialect.Dialect, t dialect.Table, a, b string) string {
	var s []string
	for _, k := range t.Keys() {
		s = append(s, a+d.Quote(k.Name)+" = "+b+d.Quote(k.Name))
	}
	return strings.Join(s, " AND ")
}

// writeTransfers writes t's transfers stamped after the given epochs. A
// transfer this replica made (From) it signs; one it forwards carries the
// proof it stored.
func writeTransfers(ctx context.Context, tx *sql.Tx, d dialect.Dialect, c *Ctl, pw recordWriter, t dialect.Table, after map[replica.ID]uint64, st *ExportStats, start func() error) error {
	where, args := changeFilter(d, "", "ms_from", after)
	q := fmt.Sprintf("SELECT %s, ms_version, ms_from, ms_to, ms_epoch, ms_proof FROM %s WHERE %s ORDER BY ms_version",
		keyCols(d, t, ""), d.Quote(dialect.Xfer(d, t.Name)), where)
	rows, err := tx.QueryContext(ctx, d.Rebind(q), args...)
	if err != nil {
		return fmt.Errorf("multisite: read transfers of %s: %w", t.Name, err)
	}
	defer rows.Close()
	nk := len(t.Keys())
	for rows.Next() {
		key := make([]any, nk)
		var x syncpkt.Transfer
		dest := make([]any, 0, nk+5)
		for i := range key {
			dest = append(dest, &key[i])
		}
		dest = append(dest, &x.Version, &x.From, &x.To, &x.Epoch, &x.Proof)
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		x.Table = t.Name
		if err := portable(d, t.Keys(), key); err != nil {
			return fmt.Errorf("multisite: %s: %w", t.Name, err)
		}
		if x.Key, err = values(key); err != nil {
			return err
		}
		if x.From == string(c.Local) {
			x.Proof = ed25519.Sign(c.PrivateKey, syncpkt.TransferMessage(c.Family, &x))
		}
		if err := start(); err != nil {
			return err
		}
		if err := pw.Write(&x); err != nil {
			return err
		}
		st.Transfers++
	}
	return rows.Err()
}

// writeRows writes t's row images stamped after the given epochs. Every
// image carries its origin's proof (syncpkt.RowMessage): the images this
// replica made it signs now (ed25519 is deterministic, so the proof is
// the one it would have stored), on a few goroutines while it reads on
// (rowSigner); the images it forwards carry the proof it stored when it
// imported them, or none if it holds none (taken before metadata format
// 7).
func writeRows(ctx context.Context, tx *sql.Tx, d dialect.Dialect, c *Ctl, pw recordWriter, t dialect.Table, after map[replica.ID]uint64, st *ExportStats, start func() error, progress func(int, int), total int) error {
	where, args := changeFilter(d, "r.", "ms_origin", after)
	// Key values come from the shadow (they outlive a delete), the rest
	// from the table; missing is NULL for a tombstone.
	var sel []string
	for _, c := range t.Columns {
		if c.Key > 0 {
			sel = append(sel, d.Raw("r."+d.Quote(c.Name)))
		} else {
			sel = append(sel, d.Raw("t."+d.Quote(c.Name)))
		}
	}
	q := fmt.Sprintf(`SELECT %s, r.ms_version, r.ms_master, r.ms_origin, r.ms_creator, r.ms_epoch, r.ms_deleted, r.ms_proof, t.%s IS NULL
FROM %s r LEFT JOIN %s t ON %s WHERE %s`,
		strings.Join(sel, ", "), d.Quote(t.Keys()[0].Name),
		d.Quote(dialect.Shadow(d, t.Name)), d.Quote(t.Name), keyMatch(d, t, "t.", "r."), where)
	ov, err := loadOverlay(ctx, tx, d, t) // provisional collision renames are not sent (collision.go)
	if err != nil {
		return err
	}
	rows, err := tx.QueryContext(ctx, d.Rebind(q), args...)
	if err != nil {
		return fmt.Errorf("multisite: read changes of %s: %w", t.Name, err)
	}
	defer rows.Close()
	sg := newRowSigner(c, t.Name, tableRecord(t, false).Columns, func(row *syncpkt.Row) error {
		if err := start(); err != nil {
			return err
		}
		if err := pw.Write(row); err != nil {
			return err
		}
		st.Rows++
		st.Tables[t.Name]++
		if row.Deleted {
			st.Deletes++
		}
		if progress != nil && st.Rows%1000 == 0 {
			progress(st.Rows, total)
		}
		return nil
	})
	defer sg.wait()
	n := len(t.Columns)
	raw := make([]any, n)
	var head syncpkt.Row
	var deleted, missing bool
	var proof []byte
	dest := make([]any, 0, n+8)
	for i := range raw {
		dest = append(dest, &raw[i])
	}
	dest = append(dest, &head.Version, &head.Master, &head.Origin, &head.Creator, &head.Epoch, &deleted, &proof, &missing)
	for rows.Next() {
		proof = nil
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if !deleted && missing {
			return fmt.Errorf("multisite: %s has a change record for a row that is gone without a delete; were the triggers dropped? run schema status and repair", t.Name)
		}
		row := head
		row.Deleted = deleted
		if err := portable(d, t.Columns, raw); err != nil {
			return fmt.Errorf("multisite: %s: %w", t.Name, err)
		}
		ov.restore(raw, row.Version)
		if row.Values, err = values(raw); err != nil {
			return fmt.Errorf("multisite: %s: %w", t.Name, err)
		}
		if row.Origin != string(c.Local) && len(proof) > 0 {
			row.Proof = proof
		}
		if err := sg.add(&row); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if err := sg.flush(); err != nil {
		return err
	}
	if progress != nil {
		progress(st.Rows, total)
	}
	return nil
}

// signBatchRows is how many row images one goroutine of a rowSigner signs
// at a time.
const signBatchRows = 256

// rowSigner signs the row images the local replica made (about 20 µs
// each) on a few goroutines, batch by batch, while the export reads on,
// and hands every image to write in the order it was added. At most
// GOMAXPROCS+1 batches are held, so memory stays bounded.
type rowSigner struct {
	family, table string
	cols          []syncpkt.Column
	key           ed25519.PrivateKey
	signer        *edbatch.Signer // key expanded, nil if it is not a key
	local         string
	write         func(*syncpkt.Row) error
	depth         int
	cur           *signBatch
	queue         []*signBatch
}

type signBatch struct {
	rows []*syncpkt.Row
	done chan struct{}
}

func newRowSigner(c *Ctl, table string, cols []syncpkt.Column, write func(*syncpkt.Row) error) *rowSigner {
	g, _ := edbatch.NewSigner(c.PrivateKey)
	return &rowSigner{family: c.Family, table: table, cols: cols, key: c.PrivateKey, signer: g, local: string(c.Local), write: write, depth: runtime.GOMAXPROCS(0) + 1}
}

// add queues r, to be signed if the local replica made it, and written.
func (s *rowSigner) add(r *syncpkt.Row) error {
	if s.cur == nil {
		s.cur = &signBatch{rows: make([]*syncpkt.Row, 0, signBatchRows)}
	}
	s.cur.rows = append(s.cur.rows, r)
	if len(s.cur.rows) < signBatchRows {
		return nil
	}
	return s.submit()
}

// submit starts signing the current batch, and writes the oldest batches
// while more than depth are held.
func (s *rowSigner) submit() error {
	b := s.cur
	s.cur = nil
	if b == nil {
		return nil
	}
	b.done = make(chan struct{})
	own := false
	for _, r := range b.rows {
		own = own || r.Origin == s.local
	}
	if own {
		go func() {
			defer close(b.done)
			if s.signer == nil {
				for _, r := range b.rows {
					if r.Origin == s.local {
						r.Proof = ed25519.Sign(s.key, RowMessage(s.family, s.table, s.cols, r))
					}
				}
				return
			}
			// The same signatures as ed25519.Sign, the batch's nonce
			// points encoded with one inversion (edbatch.Signer).
			var own []*syncpkt.Row
			var msgs [][]byte
			for _, r := range b.rows {
				if r.Origin == s.local {
					own = append(own, r)
					msgs = append(msgs, RowMessage(s.family, s.table, s.cols, r))
				}
			}
			for i, sig := range s.signer.Sign(msgs) {
				own[i].Proof = sig
			}
		}()
	} else {
		close(b.done)
	}
	s.queue = append(s.queue, b)
	for len(s.queue) > s.depth {
		if err := s.writeHead(); err != nil {
			return err
		}
	}
	return nil
}

func (s *rowSigner) writeHead() error {
	b := s.queue[0]
	s.queue[0] = nil
	s.queue = s.queue[1:]
	<-b.done
	for _, r := range b.rows {
		if err := s.write(r); err != nil {
			return err
		}
	}
	return nil
}

// flush signs and writes every image added.
func (s *rowSigner) flush() error {
	if err := s.submit(); err != nil {
		return err
	}
	for len(s.queue) > 0 {
		if err := s.writeHead(); err != nil {
			return err
		}
	}
	return nil
}

// wait lets the goroutines of batches left unwritten (after an error)
// finish, so none outlives the export.
func (s *rowSigner) wait() {
	for _, b := range s.queue {
		<-b.done
	}
	s.queue = nil
}

// portable turns the values scanned from cols, in place, into the
// portable forms packets carry (see dialect.Dialect.Value).
func portable(d dialect.Dialect, cols []dialect.Column, vals []any) error {
	for i, c := range cols {
		v, err := d.Value(c, vals[i])
		if err != nil {
			return fmt.Errorf("column %s: %w", c.Name, err)
		}
		vals[i] = v
	}
	return nil
}

func values(raw []any) ([]syncpkt.Value, error) {
	vs := make([]syncpkt.Value, len(raw))
	for i, x := range raw {
		v, err := syncpkt.ValueOf(x)
		if err != nil {
			return nil, err
		}
		vs[i] = v
	}
	return vs, nil
}

// readTx runs f in a transaction that only reads: one snapshot, which in
// SQLite's WAL mode (and on the servers) blocks no writer.
func readTx(ctx context.Context, db *sql.DB, d dialect.Dialect, f func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, d.SnapshotTx())
	if err != nil {
		return fmt.Errorf("multisite: begin: %w", err)
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
