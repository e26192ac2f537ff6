package engine

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"fmt"

	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/syncpkt"
)

// rotationMessage is what a replica's previous key signs to endorse its new
// one: a fixed context, the replica ID, the registry version that carries
// the new key, and the key itself (syncpkt/SPEC.md, Replica record).
func rotationMessage(id replica.ID, version uint64, pub ed25519.PublicKey) []byte {
	m := []byte("multisite key rotation\x00")
	m = append(m, id...)
	m = append(m, 0)
	m = binary.BigEndian.AppendUint64(m, version)
	return append(m, pub...)
}

// KeyEndorsed reports whether entry's public key is endorsed by prev, the
// replica's key as the verifier knows it.
func KeyEndorsed(prev ed25519.PublicKey, entry replica.Info) bool {
	return len(prev) == ed25519.PublicKeySize && len(entry.KeySig) == ed25519.SignatureSize &&
		ed25519.Verify(prev, rotationMessage(entry.ID, entry.Version, entry.PublicKey), entry.KeySig)
}

func infoOf(r *syncpkt.Replica) replica.Info {
	return replica.Info{ID: replica.ID(r.ID), Name: r.Name, Number: r.Number, PublicKey: ed25519.PublicKey(r.PublicKey),
		State: replica.State(r.State), Version: r.Version, KeySig: r.KeySig, Incarnation: r.Incarnation}
}

// RotateKey replaces the local replica's signing key. The new public key,
// endorsed by the old key, goes into the registry and travels in every
// packet; receivers that know the old key take the new one, and from then
// on refuse packets signed with the old key.
func RotateKey(ctx context.Context, db *sql.DB, d dialect.Dialect) (replica.Info, error) {
	var info replica.Info
	err := inTx(ctx, db, func(tx *sql.Tx) error {
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
		info = reg[c.Local]
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		info.Version++
		info.PublicKey = pub
		info.KeySig = ed25519.Sign(c.PrivateKey, rotationMessage(info.ID, info.Version, pub))
		if _, err := tx.ExecContext(ctx, d.Rebind(`UPDATE ms_ctl SET private_key = ?`), []byte(priv)); err != nil {
			return fmt.Errorf("multisite: store new key: %w", err)
		}
		return putReplica(ctx, tx, d, info, true)
	})
	return info, err
}
