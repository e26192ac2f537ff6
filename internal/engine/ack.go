package engine

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"fmt"
	"io"
	"time"

	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/syncpkt"
)

// WriteAck writes an acknowledgement packet for target: what this replica
// holds of every origin, the gaps it found in target's packets and the
// registry, signed, with no changes. Any replica may write one, a receive-only one too: it
// is how a replica that sends no changes confirms what it got, so that
// target's next export sends only what is newer, and it is the request a
// recovery reads (RecoverPacket): the target's vector, as lsepoch shows it.
func WriteAck(ctx context.Context, db *sql.DB, d dialect.Dialect, target replica.ID, w io.Writer) (replica.Vector, error) {
	var upto replica.Vector
	err := readTx(ctx, db, d, func(tx *sql.Tx) error {
		c, err := LoadCtl(ctx, tx, d)
		if err != nil {
			return err
		}
		reg, err := Registry(ctx, tx)
		if err != nil {
			return err
		}
		ti, ok := reg[target]
		if !ok || target == c.Local {
			return &replica.UnknownError{ID: target}
		}
		if ti.State == replica.Removed {
			return fmt.Errorf("%w: %s", replica.ErrRemoved, ti)
		}
		if upto, err = LoadVector(ctx, tx, d, c.Local); err != nil {
			return err
		}
		gaps, err := loadGaps(ctx, tx, d, target)
		if err != nil {
			return err
		}
		h := syncpkt.Header{Kind: syncpkt.KindAck, Family: c.Family, Origin: string(c.Local), Target: string(target),
			SchemaVersion: c.SchemaVersion, CodePage: c.CodePage, Created: time.Now().UTC(),
			Upto: toMap(upto, nil), Gaps: toMap(gaps, nil)}
		pw, err := syncpkt.NewWriter(w, h, syncpkt.WriterOptions{Sign: signer(c.PrivateKey)})
		if err != nil {
			return err
		}
		// The registry travels as in a sync packet: a restored replica's
		// new incarnation tells target to forget what it believed it
		// holds, and the vector above says what it does hold.
		if err := writeRegistry(ctx, tx, pw, c, reg, target, false); err != nil { // registry_auth.go
			return err
		}
		return pw.Close()
	})
	return upto, err
}

// ReadAck reads an acknowledgement that target wrote for this replica
// (WriteAck) and returns the vector it carries, once its family, target
// and target's signature are checked: per origin this replica knows, the
// epoch the target holds (0 for one it does not name). It changes nothing.
func ReadAck(ctx context.Context, db *sql.DB, d dialect.Dialect, target replica.ID, r io.Reader) (replica.Vector, error) {
	c, err := LoadCtl(ctx, db, d)
	if err != nil {
		return nil, err
	}
	reg, err := Registry(ctx, db)
	if err != nil {
		return nil, err
	}
	ti, ok := reg[target]
	if !ok || target == c.Local {
		return nil, &replica.UnknownError{ID: target}
	}
	opt := syncpkt.ReaderOptions{PublicKey: syncpkt.StaticPublicKey(ti.PublicKey), MaxPacket: 1 << 20, Successor: endorsedKey}
	var enrolled ed25519.PublicKey
	var enrolErr error
	if len(ti.PublicKey) == 0 {
		// Invited, not enrolled yet: its request carries its enrolment
		// (registry_auth.go) in its first chunk, whose key must have
		// signed it.
		opt.PublicKey = syncpkt.StaticPublicKey(nil)
		opt.Successor = func(_ ed25519.PublicKey, first []syncpkt.Record) ed25519.PublicKey {
			for _, rec := range first {
				if s, ok := rec.(*syncpkt.Setting); ok && s.Key == settingEnrol {
					enrolled, enrolErr = enrolledKey(ctx, db, c, ti, s)
					return enrolled
				}
			}
			enrolErr = &replica.UnknownError{ID: target}
			return nil
		}
	}
	pr := syncpkt.NewReader(r, opt)
	h, err := pr.Header()
	if err != nil {
		return nil, err
	}
	if err := checkBound(h, c, syncpkt.KindAck); err != nil {
		return nil, err
	}
	if h.Origin != string(target) {
		return nil, &MismatchError{Field: "origin", Want: string(target), Got: h.Origin, Err: ErrPacket}
	}
	if err := checkEpochRange(h); err != nil { // authority.go
		return nil, err
	}
	for {
		if _, err := pr.Next(); err == io.EOF {
			break
		} else if err != nil {
			if enrolErr != nil {
				return nil, fmt.Errorf("%w (%w)", err, enrolErr)
			}
			return nil, err
		}
	}
	// An origin the target does not name is one it holds nothing of.
	v := vectorOf(h.Upto)
	ours, err := LoadVector(ctx, db, d, c.Local)
	if err != nil {
		return nil, err
	}
	for o := range ours {
		if _, ok := v[o]; !ok {
			v[o] = 0
		}
	}
	return v, nil
}
