package engine

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"

	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/syncpkt"
)

// Authority over family settings and epoch claims (issue 18). A code page
// change, a migration and a hand-over of schema mastership count only with
// the proof of the replica entitled to make them (the schema master of the
// time; for a hand-over, the master handing over); an epoch claim about a
// replica other than the packet's sender counts only as far as that
// replica's own signed statement (syncpkt.Sealed) vouches for it.
var (
	// ErrAuthority is returned for a packet record made by a replica
	// without the right to make it: a row image whose origin was not the
	// row's master at that version, a transfer from a replica that did not
	// master the row, a setting (code page, migration, schema hand-over)
	// without the proof of the replica entitled to make it.
	ErrAuthority = errors.New("multisite: change made by a replica without the right to make it")
	// ErrEpochClaim is returned for a packet whose header claims epochs no
	// replica sealed: epochs of the receiver beyond what it sealed, or
	// values that no epoch can reach.
	ErrEpochClaim = errors.New("multisite: epoch claim beyond what its replica sealed")
)

// MaxEpoch bounds every epoch a packet may name: epochs are counters that
// never come near it, and every metadata column holds it (a signed 64-bit
// integer, a float-free SQLite integer).
const MaxEpoch = 1 << 62

// checkEpochRange refuses a header naming an epoch no replica can reach.
func checkEpochRange(h *syncpkt.Header) error {
	for name, v := range map[string]map[string]uint64{"Base": h.Base, "Upto": h.Upto, "Gaps": h.Gaps} {
		for o, e := range v {
			if e >= MaxEpoch {
				return fmt.Errorf("%w: %w: %s[%s] = %d is beyond any epoch", ErrPacket, ErrEpochClaim, name, o, e)
			}
		}
	}
	return nil
}

// verifyProof checks that signer's key in reg made proof over msg.
func verifyProof(reg map[replica.ID]replica.Info, signer string, msg, proof []byte) bool {
	i, ok := reg[replica.ID(signer)]
	return ok && len(proof) == ed25519.SignatureSize && len(i.PublicKey) == ed25519.PublicKeySize &&
		ed25519.Verify(i.PublicKey, msg, proof)
}

// checkSetting refuses a setting that is not proven by want.
func checkSetting(reg map[replica.ID]replica.Info, family string, s *syncpkt.Setting, want, what string) error {
	if s.Signer != want {
		return fmt.Errorf("%w: %s is signed by %q, only %s may make it", ErrAuthority, what, s.Signer, want)
	}
	if !verifyProof(reg, s.Signer, syncpkt.SettingMessage(family, s), s.Proof) {
		return fmt.Errorf("%w: %s: the proof of %s does not verify", ErrAuthority, what, s.Signer)
	}
	return nil
}

// proveSetting gives s the proof of signer: made now if signer is the
// local replica, else the one stored under name (ms_proof) if it proves
// s; without either, s travels unproven (a receiver that lacks it then
// refuses it, one that has it ignores it).
func proveSetting(ctx context.Context, q dialect.Querier, d dialect.Dialect, c *Ctl, reg map[replica.ID]replica.Info, s *syncpkt.Setting, name, signer string) error {
	s.Signer, s.Proof = "", nil
	if signer == string(c.Local) {
		s.Signer = signer
		s.Proof = ed25519.Sign(c.PrivateKey, syncpkt.SettingMessage(c.Family, s))
		return nil
	}
	st, proof, ok, err := loadProof(ctx, q, d, name)
	if err != nil || !ok || st != signer {
		return err
	}
	p := *s
	p.Signer, p.Proof = signer, proof
	if verifyProof(reg, signer, syncpkt.SettingMessage(c.Family, &p), proof) {
		*s = p
	}
	return nil
}

// Names of proofs in ms_proof.
const proofCodePage = "code_page"

func proofMigration(version int64) string { return fmt.Sprintf("migration %d", version) }

// loadProof reads the proof stored under name.
func loadProof(ctx context.Context, q dialect.Querier, d dialect.Dialect, name string) (signer string, proof []byte, ok bool, err error) {
	err = q.QueryRowContext(ctx, d.Rebind(`SELECT signer, proof FROM ms_proof WHERE name = ?`), name).Scan(&signer, &proof)
	if err == sql.ErrNoRows {
		return "", nil, false, nil
	}
	if err != nil {
		return "", nil, false, fmt.Errorf("multisite: read proof of %s: %w", name, err)
	}
	return signer, proof, true, nil
}

// saveProof stores (replaces) the proof under name.
func saveProof(ctx context.Context, q dialect.Querier, d dialect.Dialect, name, signer string, proof []byte) error {
	if _, err := q.ExecContext(ctx, d.Rebind(`DELETE FROM ms_proof WHERE name = ?`), name); err != nil {
		return fmt.Errorf("multisite: store proof of %s: %w", name, err)
	}
	if _, err := q.ExecContext(ctx, d.Rebind(`INSERT INTO ms_proof (name, signer, proof) VALUES (?, ?, ?)`), name, signer, proof); err != nil {
		return fmt.Errorf("multisite: store proof of %s: %w", name, err)
	}
	return nil
}

// sealedStmt is a stored syncpkt.Sealed: a replica's signed statement.
type sealedStmt struct {
	Epoch uint64
	Proof []byte
}

// loadSealed reads the newest statement of every replica kept here.
func loadSealed(ctx context.Context, q dialect.Querier) (map[replica.ID]sealedStmt, error) {
	rows, err := q.QueryContext(ctx, `SELECT replica, epoch, proof FROM ms_sealed`)
	if err != nil {
		return nil, fmt.Errorf("multisite: read sealed statements: %w", err)
	}
	defer rows.Close()
	out := map[replica.ID]sealedStmt{}
	for rows.Next() {
		var id string
		var s sealedStmt
		if err := rows.Scan(&id, &s.Epoch, &s.Proof); err != nil {
			return nil, err
		}
		out[replica.ID(id)] = s
	}
	return out, rows.Err()
}

// storeSealed keeps s if it is newer than the statement held of its
// replica. s is verified.
func storeSealed(ctx context.Context, q dialect.Querier, d dialect.Dialect, held map[replica.ID]sealedStmt, s *syncpkt.Sealed) error {
	id := replica.ID(s.Replica)
	old, ok := held[id]
	if ok && old.Epoch >= s.Epoch {
		return nil
	}
	var err error
	if ok {
		_, err = q.ExecContext(ctx, d.Rebind(`UPDATE ms_sealed SET epoch = ?, proof = ? WHERE replica = ?`), s.Epoch, s.Proof, s.Replica)
	} else {
		_, err = q.ExecContext(ctx, d.Rebind(`INSERT INTO ms_sealed (replica, epoch, proof) VALUES (?, ?, ?)`), s.Replica, s.Epoch, s.Proof)
	}
	if err != nil {
		return fmt.Errorf("multisite: store the sealed statement of %s: %w", s.Replica, err)
	}
	held[id] = sealedStmt{Epoch: s.Epoch, Proof: s.Proof}
	return nil
}

// writeSealed writes the local replica's statement that it sealed its
// epochs up to upto[local], signed now, and the newest statement held of
// every other replica, after the registry entries (whose keys verify
// them) and before any table.
func writeSealed(ctx context.Context, q dialect.Querier, c *Ctl, upto replica.Vector, pw recordWriter) error {
	own := &syncpkt.Sealed{Replica: string(c.Local), Epoch: upto[c.Local]}
	own.Proof = ed25519.Sign(c.PrivateKey, syncpkt.SealedMessage(c.Family, own))
	if err := pw.Write(own); err != nil {
		return err
	}
	held, err := loadSealed(ctx, q)
	if err != nil {
		return err
	}
	ids := make(replica.Vector, len(held))
	for id, s := range held {
		ids[id] = s.Epoch
	}
	for _, id := range ids.Origins() {
		if id == c.Local {
			continue
		}
		s := held[id]
		if err := pw.Write(&syncpkt.Sealed{Replica: string(id), Epoch: s.Epoch, Proof: s.Proof}); err != nil {
			return err
		}
	}
	return nil
}

// authState is what an import learned of epoch claims.
type authState struct {
	held    map[replica.ID]sealedStmt // ms_sealed, with the packet's statements taken
	checked bool                      // the header's claims were bounded (upto is set)
	upto    replica.Vector            // the header's Upto as far as it is believed
}

// sealed takes a replica's sealed statement from the packet: verified with
// the replica's key in the local registry, kept if newer. A statement of a
// replica this one does not know vouches for nothing; one whose proof does
// not verify refuses the packet.
func (m *importer) sealed(s *syncpkt.Sealed) error {
	if s.Epoch >= MaxEpoch {
		return fmt.Errorf("%w: %w: sealed statement of %s names epoch %d", ErrPacket, ErrEpochClaim, s.Replica, s.Epoch)
	}
	if m.auth.checked {
		return fmt.Errorf("%w: sealed statement after the packet's rows", ErrPacket)
	}
	if _, ok := m.reg[replica.ID(s.Replica)]; !ok {
		return nil
	}
	if !m.verifyMade(s.Replica, s.Epoch, syncpkt.SealedMessage(m.ctl.Family, s), s.Proof) { // registry_auth.go: a retired key for its epochs

		return fmt.Errorf("%w: the sealed statement of %s (epoch %d) is not its own", ErrAuthority, s.Replica, s.Epoch)
	}
	if err := m.loadHeld(); err != nil {
		return err
	}
	return storeSealed(m.ctx, m.tx, m.d, m.auth.held, s)
}

func (m *importer) loadHeld() error {
	if m.auth.held != nil {
		return nil
	}
	held, err := loadSealed(m.ctx, m.tx)
	if err != nil {
		return err
	}
	m.auth.held = held
	return nil
}

// checkClaims bounds the header's Upto, once, after the packet's registry
// entries and sealed statements and before its first table: the sender's
// own epochs count as it claims them (its signature vouches for the
// packet); a claim that this replica holds more of its own epochs than
// it sealed, or signed a statement of, refuses the packet; of any other
// replica, a claim counts up to what that replica's own statement (or
// what this replica holds already) vouches for.
func (m *importer) checkClaims() error {
	if m.auth.checked {
		return nil
	}
	if err := m.loadHeld(); err != nil {
		return err
	}
	upto, err := boundClaims(m.h, m.ctl, m.reg, m.ours, m.auth.held, false)
	if err != nil {
		return err
	}
	m.auth.upto, m.auth.checked = upto, true
	m.rep.Epochs = replica.Brings(m.ours, vectorOf(m.h.Base), upto)
	return nil
}

// boundClaims returns h.Upto as far as it is believed (see checkClaims).
// For an acknowledgement (lenient) a claim on the local replica's epochs
// is capped rather than refused: the claim is only what its sender holds.
func boundClaims(h *syncpkt.Header, c *Ctl, reg map[replica.ID]replica.Info, ours replica.Vector, held map[replica.ID]sealedStmt, lenient bool) (replica.Vector, error) {
	sender := replica.ID(h.Origin)
	out := replica.Vector{}
	for _, o := range vectorOf(h.Upto).Origins() {
		u := h.Upto[string(o)]
		switch o {
		case sender:
			out[o] = u
		case c.Local:
			limit := max(ours[o], c.Epoch, held[o].Epoch)
			if u > limit {
				if !lenient {
					return nil, fmt.Errorf("%w: %s claims this replica (%s) holds its epoch %d; it sealed %d", ErrEpochClaim, sender, o, u, limit)
				}
				u = limit
			}
			out[o] = u
		default:
			if _, ok := reg[o]; !ok {
				continue // a replica unknown here: nothing vouches for it
			}
			out[o] = min(u, max(held[o].Epoch, ours[o]))
		}
	}
	return out, nil
}

// forged tells a refusal for a record or claim its sender could not prove:
// such a packet is not the sender's own work refused for a reason a resend
// cures, so nothing of it is noted (noteGap).
func forged(err error) bool {
	return errors.Is(err, ErrAuthority) || errors.Is(err, ErrEpochClaim)
}
