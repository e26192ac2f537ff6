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
	"github.com/multisite-go/multisite/syncpkt"
)

// Authority on import. A row image counts only if its Origin signed it
// (checked before it is applied, proofcheck.go) and the Origin was
// entitled to make it: the row's master just before the image's version,
// as this replica can tell from what it holds and the transfer log
// (mastership.MayChange). For a row held here that starts from the held
// image; for a row new here (or on another creation chain) from its
// creation, which its creator masters. A transfer counts only if its From
// signed it and, as far as this replica can tell, mastered the row at
// that version. Every transfer in the log was proven by its From, so a
// member cannot make itself master of another's row by a transfer it
// writes.
//
// A record without a proof (held by its sender since before metadata
// format 7, when proofs were not kept) is taken only where it changes
// nothing here: an image not newer than the one held, a transfer the log
// has. Anything else needs its maker's proof, whoever sends it.

// proofArg is a proof as an SQL argument: NULL for none.
func proofArg(p []byte) any {
	if len(p) == 0 {
		return nil
	}
	return p
}

func unprovenError(table, key, origin string) error {
	return fmt.Errorf("%w: the image of %s[%s] made by %s carries no proof, and this replica lacks it; only %s can send it again", ErrProof, table, key, origin, origin)
}

// notMaster is the refusal of a change by a replica that did not master
// the row: ErrAuthority and mastership.ErrNotMaster both match it.
func (m *importer) notMaster(table, key string, master, by replica.ID) error {
	return fmt.Errorf("multisite: import from %s refused: %w: %w", m.h.Origin, ErrAuthority,
		&mastership.NotMasterError{Table: table, Key: key, Master: master, By: by})
}

// checkMasters refuses the packet if it brings a row image whose origin
// was not the row's master just before the image's version. Only images
// where that takes more than a look at the stamp are read back: on a
// held row, those not made by the held master or with a logged transfer
// since the held version; on a row new here, those not made by their
// creator or with a logged transfer.
func (m *importer) checkMasters() error {
	t := m.cur
	d := m.d
	S, R, X := d.Quote(dialect.StageName(d, t.Name)), d.Quote(dialect.Shadow(d, t.Name)), d.Quote(dialect.Xfer(d, t.Name))
	type suspect struct {
		key  []any
		held mastership.Image // the stamp the rule needs: master and version
		in   mastership.Image // origin and version
	}
	var sus []suspect
	nk := len(t.Keys())
	read := func(q string, creation bool) error {
		rows, err := m.tx.QueryContext(m.ctx, q)
		if err != nil {
			return fmt.Errorf("multisite: check masters of %s: %w", t.Name, err)
		}
		defer rows.Close()
		for rows.Next() {
			s := suspect{key: make([]any, nk)}
			dest := make([]any, 0, nk+4)
			for i := range s.key {
				dest = append(dest, &s.key[i])
			}
			var master string
			var version uint64
			var epoch uint64
			var present int
			dest = append(dest, &s.in.Version, &s.in.Origin, &master, &version, &epoch, &present)
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			s.held.Master = replica.ID(master)
			if !creation {
				s.held.Version = version
			} else if present == 0 && replica.Vector(m.pruned).Holds(s.in.Origin, epoch) {
				continue // dead here (mastership.Decide): it changes nothing
			}
			sus = append(sus, s)
		}
		return rows.Err()
	}
	logged := func(lo string) string {
		return fmt.Sprintf("EXISTS (SELECT 1 FROM %s x WHERE %s AND x.ms_version > %s AND x.ms_version < s.ms_version)", X, keyMatch(d, *t, "x.", "s."), lo)
	}
	held := fmt.Sprintf(`SELECT %s, s.ms_version, s.ms_origin, r.ms_master, r.ms_version, s.ms_epoch, 1 FROM %s s JOIN %s r ON %s
WHERE r.ms_creator = s.ms_creator AND s.ms_version > r.ms_version AND (r.ms_master <> s.ms_origin OR %s)`,
		keyCols(d, *t, "s."), S, R, keyMatch(d, *t, "r.", "s."), logged("r.ms_version"))
	if err := read(held, false); err != nil {
		return err
	}
	// New here, or of another creation chain than the one held: the
	// chain starts at the creator.
	fresh := fmt.Sprintf(`SELECT %s, s.ms_version, s.ms_origin, s.ms_creator, 0, s.ms_epoch,
	CASE WHEN EXISTS (SELECT 1 FROM %s r WHERE %s) THEN 1 ELSE 0 END FROM %s s
WHERE NOT EXISTS (SELECT 1 FROM %s r WHERE %s AND r.ms_creator = s.ms_creator) AND (s.ms_origin <> s.ms_creator OR %s)`,
		keyCols(d, *t, "s."), R, keyMatch(d, *t, "r.", "s."), S, R, keyMatch(d, *t, "r.", "s."), logged("0"))
	if err := read(fresh, true); err != nil {
		return err
	}
	for _, s := range sus {
		log, err := m.transferLog(*t, s.key)
		if err != nil {
			return err
		}
		// mastership.Entitled, for the images the queries selected: the
		// chain from the held image, or from the creator.
		if master, ok := mastership.MayChange(s.held, s.in, log); !ok {
			key := append([]any{}, s.key...)
			if err := portable(d, t.Keys(), key); err != nil {
				return err
			}
			return m.notMaster(t.Name, formatKey(key), master, s.in.Origin)
		}
	}
	return nil
}

// checkUnproven refuses the packet if a staged image that applies (after
// the merge's decision) carries no proof.
func (m *importer) checkUnproven() error {
	t := m.cur
	d := m.d
	q := fmt.Sprintf("SELECT %s, ms_origin FROM %s WHERE ms_apply = 1 AND ms_proof IS NULL", keyCols(d, *t, ""), d.Quote(dialect.StageName(d, t.Name)))
	rows, err := m.tx.QueryContext(m.ctx, q)
	if err != nil {
		return fmt.Errorf("multisite: check proofs of %s: %w", t.Name, err)
	}
	defer rows.Close()
	if !rows.Next() {
		return rows.Err()
	}
	key := make([]any, len(t.Keys()))
	var origin string
	dest := make([]any, 0, len(key)+1)
	for i := range key {
		dest = append(dest, &key[i])
	}
	if err := rows.Scan(append(dest, &origin)...); err != nil {
		return err
	}
	if err := portable(d, t.Keys(), key); err != nil {
		return err
	}
	return unprovenError(t.Name, formatKey(key), origin)
}

// transferLog is the transfer log of one row of t, sorted by version.
func (m *importer) transferLog(t dialect.Table, key []any) ([]mastership.Transfer, error) {
	d := m.d
	var conds []string
	for _, k := range t.Keys() {
		conds = append(conds, d.Quote(k.Name)+" = ?")
	}
	q := d.Rebind(fmt.Sprintf("SELECT ms_version, ms_from, ms_to FROM %s WHERE %s ORDER BY ms_version",
		d.Quote(dialect.Xfer(d, t.Name)), strings.Join(conds, " AND ")))
	rows, err := m.tx.QueryContext(m.ctx, q, key...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var log []mastership.Transfer
	for rows.Next() {
		var x mastership.Transfer
		var from, to string
		if err := rows.Scan(&x.Version, &from, &to); err != nil {
			return nil, err
		}
		x.From, x.To = replica.ID(from), replica.ID(to)
		log = append(log, x)
	}
	return log, rows.Err()
}

// suspectTransfer is a proven transfer whose From did not master the row
// as far as the held image and the log tell: refused unless the row turns
// out to be in a creation conflict (the transfer is then of the other
// chain, which the log of one key cannot tell apart).
type suspectTransfer struct {
	table, key string
	from       replica.ID
	master     replica.ID
}

// checkTransfer decides a packet's transfer before it is logged: skip is
// set for one without a proof that the log has already (it changes
// nothing). A transfer without a proof that the log lacks is refused; a
// proven one (its proof was checked, proofcheck.go) whose From did not
// master the row at its version is noted, and refused at the end of its
// table unless the row is in a creation conflict (checkSuspects).
func (m *importer) checkTransfer(t dialect.Table, x *syncpkt.Transfer) (skip bool, err error) {
	d := m.d
	keys := t.Keys()
	key := make([]any, len(keys))
	var conds []string
	for i, k := range keys {
		key[i] = d.Arg(k, x.Key[i].Any())
		conds = append(conds, d.Quote(k.Name)+" = ?")
	}
	where := strings.Join(conds, " AND ")
	if len(x.Proof) == 0 {
		var n int
		q := d.Rebind(fmt.Sprintf("SELECT count(*) FROM %s WHERE %s AND ms_version = ? AND ms_from = ? AND ms_to = ?", d.Quote(dialect.Xfer(d, t.Name)), where))
		if err := m.tx.QueryRowContext(m.ctx, q, append(key, x.Version, x.From, x.To)...).Scan(&n); err != nil {
			return false, fmt.Errorf("multisite: look up a transfer of %s: %w", t.Name, err)
		}
		if n > 0 {
			return true, nil
		}
		return false, fmt.Errorf("%w: a transfer of %s (version %d, %s to %s) carries no proof, and this replica lacks it", ErrProof, t.Name, x.Version, x.From, x.To)
	}
	var held mastership.Image
	var master string
	q := d.Rebind(fmt.Sprintf("SELECT ms_master, ms_version FROM %s WHERE %s", d.Quote(dialect.Shadow(d, t.Name)), where))
	switch err := m.tx.QueryRowContext(m.ctx, q, key...).Scan(&master, &held.Version); {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil // a row new here: its images follow the chain the log now holds
	case err != nil:
		return false, fmt.Errorf("multisite: look up the master of a transfer of %s: %w", t.Name, err)
	}
	if x.Version <= held.Version {
		return false, nil // of the past of what is held
	}
	held.Master = replica.ID(master)
	log, err := m.transferLog(t, key)
	if err != nil {
		return false, err
	}
	if at := mastership.Chain(held.Master, held.Version, x.Version, log); at != replica.ID(x.From) {
		kv := make([]any, len(x.Key))
		for i, v := range x.Key {
			kv[i] = v.Any()
		}
		m.suspects = append(m.suspects, suspectTransfer{table: t.Name, key: formatKey(kv), from: replica.ID(x.From), master: at})
	}
	return false, nil
}

// checkSuspects refuses the packet for a noted transfer whose row is in no
// creation conflict.
func (m *importer) checkSuspects() error {
	for _, s := range m.suspects {
		var n int
		if err := m.tx.QueryRowContext(m.ctx, m.d.Rebind(`SELECT count(*) FROM ms_conflict WHERE tbl = ? AND `+m.d.Quote("key")+` = ?`), s.table, s.key).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("multisite: import from %s refused: %w: %s handed on %s[%s], which %s masters here",
				m.h.Origin, ErrAuthority, s.from, s.table, s.key, s.master)
		}
	}
	m.suspects = nil
	return nil
}

// forgetForwardedProofs drops the proofs this replica holds of row images
// other replicas made, after a migration: its SQL may have changed the
// images (a column added with a default, a data fix), and a proof made
// over the image before no longer holds over it. Such images are then
// forwarded without a proof, which a receiver takes only where it changes
// nothing there; one that lacks the image gets it from its origin, which
// signs its own images again at every export. This replica's own images
// need nothing: they are signed at export.
func forgetForwardedProofs(ctx context.Context, q dialect.Querier, d dialect.Dialect, local replica.ID) error {
	tables, err := Tables(ctx, q)
	if err != nil {
		return err
	}
	for _, t := range tables {
		if _, err := q.ExecContext(ctx, d.Rebind(fmt.Sprintf("UPDATE %s SET ms_proof = NULL WHERE ms_origin <> ? AND ms_proof IS NOT NULL",
			d.Quote(dialect.Shadow(d, t.Name)))), string(local)); err != nil {
			return fmt.Errorf("multisite: forget the proofs of %s: %w", t.Name, err)
		}
	}
	return nil
}
