package engine

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/syncpkt"
)

func infoOf(r *syncpkt.Replica) replica.Info {
	return replica.Info{ID: replica.ID(r.ID), Name: r.Name, Number: r.Number, PublicKey: ed25519.PublicKey(r.PublicKey),
		State: replica.State(r.State), Version: r.Version, KeySig: r.KeySig, Incarnation: r.Incarnation}
}

// RotateKey replaces the local replica's signing key. The new public key,
// endorsed by the old key with the rotation's date, goes into the
// registry and travels in every packet, with the chain of rotations
// before it; receivers that know the old key take the new one, and from
// then on accept the old key only on packets dated before the rotation.
func RotateKey(ctx context.Context, db *sql.DB, d dialect.Dialect) (replica.Info, error) {
	var info replica.Info
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
		a, err := loadAuth(ctx, tx, c.Local)
		if err != nil {
			return err
		}
		info = reg[c.Local]
		if len(a.Chain) == 0 {
			// The key in force enters the chain, so that packets dated
			// before the rotation still verify (keyAt).
			a.Chain = []*syncpkt.Replica{signEntry(c.Family, replicaRecord(info), c.Local, c.PrivateKey)}
		}
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		info.Version++
		info.PublicKey = pub
		// Dated at the next millisecond, and committed after it: a packet
		// made before the rotation is dated before it, and one made after
		// is not.
		at := time.Now().Truncate(time.Millisecond).Add(time.Millisecond)
		info.KeySig = endorse(c.PrivateKey, info, at, c.Epoch) // epochs up to c.Epoch were sealed under the old key
		link := signEntry(c.Family, replicaRecord(info), c.Local, priv)
		a.Chain = append(a.Chain, link)
		if len(a.Invite) == 0 {
			a.Signer, a.Proof = c.Local, link.Proof
		} // else Signer names the creator the replica still has to enrol with
		if _, err := tx.ExecContext(ctx, d.Rebind(`UPDATE ms_ctl SET private_key = ?`), []byte(priv)); err != nil {
			return fmt.Errorf("multisite: store new key: %w", err)
		}
		if err := putReplica(ctx, tx, d, info, true); err != nil {
			return err
		}
		if err := putAuth(ctx, tx, d, c.Local, a); err != nil {
			return err
		}
		time.Sleep(time.Until(at))
		return nil
	})
	return info, err
}

// NextID returns a new integer key of table from the local replica's key
// range, taken from the table's key generator (dialect.SetupKeys), so two
// callers never get the same key, whatever their transactions do. q is
// the caller's transaction or, for nil, db. On PostgreSQL and MariaDB the
// key comes from a sequence and no transaction waits for another here; on
// SQLite the counter row is written in q's transaction (or a short one of
// its own, which takes the write lock first).
func NextID(ctx context.Context, db *sql.DB, tx *sql.Tx, d dialect.Dialect, table string) (int64, error) {
	var id int64
	take := func(q dialect.Querier) error {
		if tx != nil {
			// SQLite: the counter is written below; take the lock before
			// reading, so that a caller's transaction that has not read yet
			// waits for it rather than failing to upgrade.
			if err := LockForWrite(ctx, tx, d); err != nil {
				return err
			}
		}
		c, err := LoadCtl(ctx, q, d)
		if err != nil {
			return err
		}
		t, err := findTable(ctx, q, table)
		if err != nil {
			return err
		}
		if !t.IntegerKey() {
			return fmt.Errorf("multisite: %s has no single integer primary key; its keys are the application's", table)
		}
		id, err = dialect.NextKey(ctx, q, d, t, c.KeyLo, c.KeyHi)
		if err != nil {
			if errors.Is(err, dialect.ErrNoKeyGenerator) {
				return fmt.Errorf("%w: %s has no key generator (activated by an older version): %w", ErrKeyRange, table, err)
			}
			if m := err.Error(); strings.Contains(m, "maximum value") || strings.Contains(m, "run out") { // PostgreSQL, MariaDB
				return fmt.Errorf("%w: %s has used every key up to %d: %w", ErrKeyRange, table, c.KeyHi, err)
			}
			return fmt.Errorf("multisite: next key of %s: %w", table, err)
		}
		if id < c.KeyLo || id > c.KeyHi {
			return fmt.Errorf("%w: the next key of %s, %d, is outside [%d, %d]", ErrKeyRange, table, id, c.KeyLo, c.KeyHi)
		}
		return nil
	}
	own := func() error {
		if d.Name() == dialect.SQLite {
			return inTx(ctx, db, d, func(tx *sql.Tx) error { return take(tx) })
		}
		return take(db) // a sequence needs no transaction
	}
	if tx != nil {
		return id, take(tx)
	}
	err := own()
	if errors.Is(err, dialect.ErrNoKeyGenerator) {
		// A database activated by an older version: set the generators
		// up, in a transaction of their own, and try again.
		if err := ensureKeys(ctx, db, d); err != nil {
			return 0, err
		}
		err = own()
	}
	return id, err
}

// ensureKeys sets up the key generator of every replicated table with an
// integer key that has none (a database activated by an older version).
// Repair and NextID call it.
func ensureKeys(ctx context.Context, db *sql.DB, d dialect.Dialect) error {
	return inTx(ctx, db, d, func(tx *sql.Tx) error { return ensureKeysIn(ctx, tx, d) })
}

// ensureKeysIn is ensureKeys in the caller's transaction q (Upgrade's,
// whose new triggers use the generators).
func ensureKeysIn(ctx context.Context, q dialect.Querier, d dialect.Dialect) error {
	c, err := LoadCtl(ctx, q, d)
	if err != nil {
		return err
	}
	tables, err := Tables(ctx, q)
	if err != nil {
		return err
	}
	var missing []dialect.Table
	for _, t := range tables {
		if !t.IntegerKey() {
			continue
		}
		ok, err := dialect.HasKeyGenerator(ctx, q, d, t)
		if err != nil {
			return err
		}
		if !ok {
			missing = append(missing, t)
		}
	}
	return setupKeys(ctx, q, d, missing, c)
}

// setupKeys sets up the key generator of every table in tables with an
// integer key, confined to the local replica's range, to start past the
// largest key of the range the table's shadow holds (an activated
// database's existing rows; none for a new replica).
func setupKeys(ctx context.Context, q dialect.Querier, d dialect.Dialect, tables []dialect.Table, c *Ctl) error {
	for _, t := range tables {
		if !t.IntegerKey() {
			continue
		}
		k := d.Quote(t.Keys()[0].Name)
		var next int64
		if err := q.QueryRowContext(ctx, d.Rebind(fmt.Sprintf("SELECT coalesce(max(%s), ?) + 1 FROM %s WHERE %s BETWEEN ? AND ?", k, d.Quote(dialect.Shadow(d, t.Name)), k)),
			c.KeyLo-1, c.KeyLo, c.KeyHi).Scan(&next); err != nil {
			return fmt.Errorf("multisite: largest key of %s: %w", t.Name, err)
		}
		if err := dialect.SetupKeys(ctx, q, d, t, c.KeyLo, c.KeyHi, next); err != nil {
			return err
		}
	}
	return nil
}
