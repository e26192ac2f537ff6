package engine

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/internal/edbatch"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/syncpkt"
)

// Registry entries carry proof of who made them (packet format 3,
// syncpkt.Replica.Signer and Proof, over syncpkt.ReplicaMessage). The
// rules, applied by every member to every entry a packet brings, however
// many hubs it went through:
//
//   - A replica's first entry, its creation entry, is signed by its
//     creator, which must be a member known here and not removed. It is
//     the only entry a member takes for a replica it has never heard of;
//     chains of creators are followed as long as each link is in the
//     packet (entries travel creators first).
//   - Every later entry is signed by the replica it describes, with its
//     current key. A replica's state (receive-only, active, restoring,
//     removed) and key change only by its own hand: RemoveReplica removes
//     the local replica only.
//   - A new key is taken only if the replica's current key endorsed it
//     (KeySig, dated); a retired key endorses nothing more, so a second,
//     different successor of a retired key (a fork by whoever stole it) is
//     refused, and a packet signed with a retired key is accepted only if
//     it is dated before its successor.
//   - A removed replica never comes back.
//   - Name and number never change.
//
// A packet with an entry that breaks a rule is refused whole with
// ErrRegistryProof. An entry that cannot be checked here (its creator is
// unknown or removed) is left out, and noted in ImportReport.RefusedKeys.

// ErrRegistryProof is returned for a packet carrying a registry entry
// (or an enrolment) that is not proven by the replica entitled to make
// it: another member's entry rewritten, a member made up under another's
// name, a removed replica brought back, a key not endorsed by the
// replica's current key, a second enrolment with a used secret.
var ErrRegistryProof = errors.New("multisite: registry entry not proven by the replica entitled to make it")

// settingEnrol is the setting a new replica's packets to its creator
// carry until the creator has enrolled it: its public key and an
// HMAC-SHA256, keyed by the hash of the creation packet's one-time
// secret, over the creation entry it asks for (enrolMessage).
const settingEnrol = "ms.enrol"

// auth is what the registry keeps of an entry beyond replica.Info: the
// proof it travels with, the chain of entries proving its key, and an
// invitation's secret hash.
type auth struct {
	Signer replica.ID
	Proof  []byte
	Chain  []*syncpkt.Replica // creation entry, then every rotation, oldest first
	Invite []byte             // hash of the creation packet's secret, until enrolment
}

// registryAuth reads the auth of every registry entry.
func registryAuth(ctx context.Context, q dialect.Querier) (map[replica.ID]*auth, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, signer, proof, chain, invite FROM ms_replica`)
	if err != nil {
		return nil, fmt.Errorf("multisite: read registry proofs: %w", err)
	}
	defer rows.Close()
	out := map[replica.ID]*auth{}
	for rows.Next() {
		var id string
		var signer, chain sql.NullString
		a := &auth{}
		if err := rows.Scan(&id, &signer, &a.Proof, &chain, &a.Invite); err != nil {
			return nil, err
		}
		a.Signer = replica.ID(signer.String)
		if chain.String != "" {
			if err := json.Unmarshal([]byte(chain.String), &a.Chain); err != nil {
				return nil, fmt.Errorf("multisite: registry chain of %s: %w", id, err)
			}
		}
		out[replica.ID(id)] = a
	}
	return out, rows.Err()
}

// putAuth writes the auth of id's entry.
func putAuth(ctx context.Context, q dialect.Querier, d dialect.Dialect, id replica.ID, a *auth) error {
	var chain any
	if len(a.Chain) > 0 {
		b, err := json.Marshal(a.Chain)
		if err != nil {
			return err
		}
		chain = string(b)
	}
	var signer, proof, invite any
	if a.Signer != "" {
		signer = string(a.Signer)
	}
	if len(a.Proof) > 0 {
		proof = a.Proof
	}
	if len(a.Invite) > 0 {
		invite = a.Invite
	}
	if _, err := q.ExecContext(ctx, d.Rebind(`UPDATE ms_replica SET signer = ?, proof = ?, chain = ?, invite = ? WHERE id = ?`),
		signer, proof, chain, invite, string(id)); err != nil {
		return fmt.Errorf("multisite: registry proof of %s: %w", id, err)
	}
	return nil
}

// loadAuth reads the auth of one entry (an empty one if it has none).
func loadAuth(ctx context.Context, q dialect.Querier, id replica.ID) (*auth, error) {
	all, err := registryAuth(ctx, q)
	if err != nil {
		return nil, err
	}
	if a, ok := all[id]; ok {
		return a, nil
	}
	return &auth{}, nil
}

// signEntry returns r signed by signer with key.
func signEntry(family string, r *syncpkt.Replica, signer replica.ID, key ed25519.PrivateKey) *syncpkt.Replica {
	s := *r
	s.Signer, s.Proof = string(signer), nil
	s.Proof = ed25519.Sign(key, syncpkt.ReplicaMessage(family, &s))
	return &s
}

// entryProven reports whether r's proof is its signer's signature by key.
func entryProven(family string, r *syncpkt.Replica, key ed25519.PublicKey) bool {
	return len(key) == ed25519.PublicKeySize && len(r.Proof) == ed25519.SignatureSize &&
		ed25519.Verify(key, syncpkt.ReplicaMessage(family, r), r.Proof)
}

// sameEntry reports whether a and b describe the same entry (proofs aside).
func sameEntry(a, b *syncpkt.Replica) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Number == b.Number && bytes.Equal(a.PublicKey, b.PublicKey) &&
		a.State == b.State && a.Version == b.Version && bytes.Equal(a.KeySig, b.KeySig) && a.Incarnation == b.Incarnation
}

// rotationMessage is what a replica's previous key signs to endorse its
// new one: a fixed context, the replica ID, the registry version that
// carries the new key, the rotation's date (Unix milliseconds) and epoch
// (the replica's last epoch sealed under the previous key), and the key
// itself (syncpkt/SPEC.md, Replica record).
func rotationMessage(id replica.ID, version uint64, at int64, epoch uint64, pub ed25519.PublicKey) []byte {
	m := []byte("multisite key rotation v3\x00")
	m = append(m, id...)
	m = append(m, 0)
	m = binary.BigEndian.AppendUint64(m, version)
	m = binary.BigEndian.AppendUint64(m, uint64(at))
	m = binary.BigEndian.AppendUint64(m, epoch)
	return append(m, pub...)
}

// legacyRotationMessage is what an endorsement made before metadata
// format 9 signed: no date, so it bounds nothing in time.
func legacyRotationMessage(id replica.ID, version uint64, pub ed25519.PublicKey) []byte {
	m := []byte("multisite key rotation\x00")
	m = append(m, id...)
	m = append(m, 0)
	m = binary.BigEndian.AppendUint64(m, version)
	return append(m, pub...)
}

// rotationSize is the size of a dated endorsement: the date (8 bytes,
// big-endian Unix milliseconds), the epoch (8 bytes, big-endian), then
// the previous key's signature.
const rotationSize = 16 + ed25519.SignatureSize

// endorse returns the KeySig by which prev endorses entry i's key, dated
// at, after epoch, the last epoch sealed under prev.
func endorse(prev ed25519.PrivateKey, i replica.Info, at time.Time, epoch uint64) []byte {
	ms := at.UnixMilli()
	sig := ed25519.Sign(prev, rotationMessage(i.ID, i.Version, ms, epoch, i.PublicKey))
	b := binary.BigEndian.AppendUint64(nil, uint64(ms))
	b = binary.BigEndian.AppendUint64(b, epoch)
	return append(b, sig...)
}

// rotatedAt returns the date of a dated endorsement, and false for none.
func rotatedAt(keySig []byte) (time.Time, bool) {
	if len(keySig) != rotationSize {
		return time.Time{}, false
	}
	return time.UnixMilli(int64(binary.BigEndian.Uint64(keySig))), true
}

// rotatedAfter returns the epoch of a dated endorsement: the replica's
// last epoch sealed under the previous key.
func rotatedAfter(keySig []byte) (uint64, bool) {
	if len(keySig) != rotationSize {
		return 0, false
	}
	return binary.BigEndian.Uint64(keySig[8:]), true
}

// KeyEndorsed reports whether entry's public key is endorsed by prev, the
// replica's key as the verifier knows it: a dated endorsement by prev of
// this entry's ID, version and key.
func KeyEndorsed(prev ed25519.PublicKey, entry replica.Info) bool {
	if len(prev) == ed25519.PublicKeySize && len(entry.KeySig) == ed25519.SignatureSize {
		// An undated endorsement, made before metadata format 9.
		return ed25519.Verify(prev, legacyRotationMessage(entry.ID, entry.Version, entry.PublicKey), entry.KeySig)
	}
	if len(prev) != ed25519.PublicKeySize || len(entry.KeySig) != rotationSize {
		return false
	}
	ms := int64(binary.BigEndian.Uint64(entry.KeySig))
	epoch := binary.BigEndian.Uint64(entry.KeySig[8:])
	return ed25519.Verify(prev, rotationMessage(entry.ID, entry.Version, ms, epoch, entry.PublicKey), entry.KeySig[16:])
}

// keyAt returns the key a replica signed with at t, by its chain: each
// rotation's key is valid from the rotation's date, so a retired key
// signs nothing dated after its successor. cur is the replica's entry.
func keyAt(cur replica.Info, chain []*syncpkt.Replica, t time.Time) ed25519.PublicKey {
	key := cur.PublicKey
	// Walk back from the newest rotation: while the key in force was
	// endorsed after t, the one before it was in force at t.
	for i := len(chain) - 1; i > 0; i-- {
		if !bytes.Equal(chain[i].PublicKey, key) {
			continue
		}
		at, ok := rotatedAt(chain[i].KeySig)
		if !ok || !at.After(t) {
			break
		}
		key = chain[i-1].PublicKey
	}
	return key
}

// KeysForEpoch returns the keys that may have signed what the replica
// made in epoch (a row or transfer proof kept and forwarded since): the
// key in force when it sealed the epoch, and every later key (the replica
// signs its own changes afresh with its current key when it exports
// them). A key retired before the epoch is never among them. cur is the
// replica's entry, chain its chain of rotations as registryAuth gives it.
func KeysForEpoch(cur replica.Info, chain []*syncpkt.Replica, epoch uint64) []ed25519.PublicKey {
	keys := []ed25519.PublicKey{cur.PublicKey}
	key := cur.PublicKey
	for i := len(chain) - 1; i > 0; i-- {
		if !bytes.Equal(chain[i].PublicKey, key) {
			continue
		}
		after, ok := rotatedAfter(chain[i].KeySig)
		if !ok || epoch > after {
			break
		}
		key = chain[i-1].PublicKey
		keys = append(keys, key)
	}
	return keys
}

// keyChain is what a proof check needs of a replica's keys: the key in
// force, and each retired key with the last epoch it sealed (a proof kept
// and forwarded since it was made).
type keyChain struct {
	cur ed25519.PublicKey
	old []epochKey
}

type epochKey struct {
	key  ed25519.PublicKey
	upto uint64
}

// proofKeys is a snapshot of every replica's keys, for proof checks on
// other goroutines.
type proofKeys map[replica.ID]keyChain

// verify reports whether sig over msg, made in epoch, is the replica's:
// by its key in force, or by a key it retired after that epoch.
func (k keyChain) verify(epoch uint64, msg, sig []byte) bool {
	if len(k.cur) == ed25519.PublicKeySize && ed25519.Verify(k.cur, msg, sig) {
		return true
	}
	for _, o := range k.old {
		if epoch <= o.upto && ed25519.Verify(o.key, msg, sig) {
			return true
		}
	}
	return false
}

// verifyProof is verify under internal/edbatch's acceptance rule (the
// cofactored equation, canonical encodings, no key or nonce of small
// order), the rule of row and transfer proofs: an import checks those in
// batches, and a proof's verdict must not depend on its batch, or a
// signer could make replicas disagree.
func (k keyChain) verifyProof(epoch uint64, msg, sig []byte) bool {
	if edbatch.Verify(k.cur, msg, sig) {
		return true
	}
	for _, o := range k.old {
		if epoch <= o.upto && edbatch.Verify(o.key, msg, sig) {
			return true
		}
	}
	return false
}

// chainKeys is cur's keyChain by its chain of rotations (KeysForEpoch's
// walk, for every epoch at once).
func chainKeys(cur replica.Info, chain []*syncpkt.Replica) keyChain {
	k := keyChain{cur: cur.PublicKey}
	key := cur.PublicKey
	for i := len(chain) - 1; i > 0; i-- {
		if !bytes.Equal(chain[i].PublicKey, key) {
			continue
		}
		after, ok := rotatedAfter(chain[i].KeySig)
		if !ok {
			break
		}
		key = chain[i-1].PublicKey
		k.old = append(k.old, epochKey{key: key, upto: after})
	}
	return k
}

// proofKeys snapshots the registry as the import holds it now, with each
// replica's retired keys (runs on the applying goroutine).
func (m *importer) proofKeys() proofKeys {
	auths, err := registryAuth(m.ctx, m.tx)
	out := make(proofKeys, len(m.reg))
	for id, i := range m.reg {
		var chain []*syncpkt.Replica
		if a := auths[id]; err == nil && a != nil {
			chain = a.Chain
		}
		out[id] = chainKeys(i, chain)
	}
	return out
}

// verifyMade reports whether proof over msg is signer's, made in epoch:
// by its key in force, or a key it retired after that epoch.
func (m *importer) verifyMade(signer string, epoch uint64, msg, proof []byte) bool {
	i, ok := m.reg[replica.ID(signer)]
	if !ok || len(proof) != ed25519.SignatureSize {
		return false
	}
	a, err := loadAuth(m.ctx, m.tx, i.ID)
	if err != nil {
		return false
	}
	return chainKeys(i, a.Chain).verify(epoch, msg, proof)
}

// enrolKey derives, from the one-time secret of a creation packet, the
// key of the HMAC by which the new replica enrols. The creator stores
// this hash, never the secret.
func enrolKey(secret []byte) []byte {
	h := sha256.New()
	h.Write([]byte("multisite enrol v3\x00"))
	h.Write(secret)
	return h.Sum(nil)
}

// enrolMAC is the HMAC-SHA256 with which a new replica asks its creator
// for creation entry r.
func enrolMAC(key []byte, family string, r *syncpkt.Replica) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(syncpkt.ReplicaMessage(family, r))
	return m.Sum(nil)
}

// creationEntry is the creation entry a creator signs for an invited
// replica once it enrolled with pub.
func creationEntry(i replica.Info, creator replica.ID, pub ed25519.PublicKey) *syncpkt.Replica {
	r := replicaRecord(i)
	r.PublicKey, r.KeySig, r.State, r.Version, r.Incarnation = pub, nil, string(replica.ReceiveOnly), 1, 0
	r.Signer = string(creator)
	return r
}

// enrolValue is the value of the enrolment setting: the new key, then
// the MAC, in hex.
func enrolValue(pub ed25519.PublicKey, mac []byte) string {
	return hex.EncodeToString(pub) + " " + hex.EncodeToString(mac)
}

func parseEnrol(v string) (ed25519.PublicKey, []byte, error) {
	k, m, ok := strings.Cut(v, " ")
	pub, err1 := hex.DecodeString(k)
	mac, err2 := hex.DecodeString(m)
	if !ok || err1 != nil || err2 != nil || len(pub) != ed25519.PublicKeySize || len(mac) != sha256.Size {
		return nil, nil, fmt.Errorf("%w: malformed enrolment", ErrPacket)
	}
	return pub, mac, nil
}

// writeRegistry writes the registry into a packet for target: per
// replica, in order of number (creators first), the chain proving its key
// and its current entry, each with its proof. The local replica's own
// entry is signed here (signatures are deterministic). Entries that have
// no proof (an invitation not yet enrolled; an entry kept from before
// format 9) are left out: no receiver could check them. A replica not
// yet enrolled by its creator sends its enrolment to the creator.
//
// A creation packet (creation) is taken whole by the new replica on the
// strength of its creator's signature: entries without proof go in
// unsigned, the new replica's own invitation among them.
func writeRegistry(ctx context.Context, q dialect.Querier, pw interface{ Write(syncpkt.Record) error }, c *Ctl, reg map[replica.ID]replica.Info, target replica.ID, creation bool) error {
	auths, err := registryAuth(ctx, q)
	if err != nil {
		return err
	}
	self := reg[c.Local]
	if a := auths[c.Local]; a != nil && len(a.Invite) > 0 && a.Signer == target && len(self.PublicKey) == ed25519.PublicKeySize {
		// Not yet enrolled: ask the creator for the creation entry.
		ce := creationEntry(self, a.Signer, self.PublicKey)
		s := &syncpkt.Setting{Key: settingEnrol, Value: enrolValue(self.PublicKey, enrolMAC(a.Invite, c.Family, ce))}
		if err := pw.Write(s); err != nil {
			return err
		}
	}
	for _, i := range SortedRegistry(reg) {
		if len(i.PublicKey) == 0 && !(creation && i.ID == target) {
			continue // invited, not enrolled: no one else knows it yet
		}
		a := auths[i.ID]
		if a == nil {
			a = &auth{}
		}
		cur := replicaRecord(i)
		var last *syncpkt.Replica
		for _, l := range a.Chain {
			if len(l.Proof) == 0 || (l.Signer == l.ID && len(l.KeySig) == 0) {
				// Unproven, or the key in force before a first rotation,
				// which only its replica vouches for: kept for keyAt.
				continue
			}
			if err := pw.Write(l); err != nil {
				return err
			}
			last = l
		}
		switch {
		case last != nil && sameEntry(last, cur):
			continue
		case i.ID == c.Local:
			// Its creation entry, as its creator signed it, while it is
			// unchanged; otherwise signed here.
			if a.Signer != "" && a.Signer != c.Local && len(a.Proof) > 0 {
				cur.Signer, cur.Proof = string(a.Signer), a.Proof
				if entrySignedBy(c.Family, cur, reg) {
					break
				}
			}
			cur = signEntry(c.Family, cur, c.Local, c.PrivateKey)
		case a.Signer != "" && len(a.Proof) > 0:
			cur.Signer, cur.Proof = string(a.Signer), a.Proof
		case creation:
		default:
			continue
		}
		if err := pw.Write(cur); err != nil {
			return err
		}
	}
	return nil
}

// entrySignedBy reports whether r's stored proof still verifies against
// its signer's key in reg (a local entry changed since is signed afresh).
func entrySignedBy(family string, r *syncpkt.Replica, reg map[replica.ID]replica.Info) bool {
	s, ok := reg[replica.ID(r.Signer)]
	return ok && entryProven(family, r, s.PublicKey)
}

// registryError is a refusal of a registry entry, wrapping
// ErrRegistryProof (and, for a removed replica, replica.ErrRemoved).
func registryError(r *syncpkt.Replica, format string, args ...any) error {
	return fmt.Errorf("%w: entry of %s (version %d) signed by %q: %s", ErrRegistryProof, r.ID, r.Version, r.Signer, fmt.Sprintf(format, args...))
}

// enrol takes a new replica's enrolment at its creator (the local
// replica): the MAC must be keyed by the invitation's secret hash and
// cover the creation entry for the key given; the invitation is then
// used up, and the creation entry, signed here, spreads to the family. A
// second enrolment is refused, unless it repeats the first (the new
// replica sends its enrolment until it sees its creation entry).
func (m *importer) enrol(s *syncpkt.Setting) error {
	id := replica.ID(m.h.Origin)
	i, ok := m.reg[id]
	if !ok {
		return &replica.UnknownError{ID: id}
	}
	pub, mac, err := parseEnrol(s.Value)
	if err != nil {
		return err
	}
	a, err := loadAuth(m.ctx, m.tx, id)
	if err != nil {
		return err
	}
	if len(a.Invite) == 0 {
		if bytes.Equal(i.PublicKey, pub) {
			return nil // enrolled already, with this key
		}
		return fmt.Errorf("%w: %s is enrolled already (or was not invited by %s): a second enrolment is refused", ErrRegistryProof, i, m.ctl.Local)
	}
	ce := creationEntry(i, m.ctl.Local, pub)
	if !hmac.Equal(mac, enrolMAC(a.Invite, m.ctl.Family, ce)) {
		return fmt.Errorf("%w: the enrolment of %s does not prove the creation packet's secret", ErrRegistryProof, i)
	}
	ce = signEntry(m.ctl.Family, ce, m.ctl.Local, m.ctl.PrivateKey)
	i = infoOf(ce)
	if err := putReplica(m.ctx, m.tx, m.d, i, true); err != nil {
		return err
	}
	if err := putAuth(m.ctx, m.tx, m.d, id, &auth{Signer: m.ctl.Local, Proof: ce.Proof, Chain: []*syncpkt.Replica{ce}}); err != nil {
		return err
	}
	m.reg[id] = i
	m.rep.Duplicate = false
	return nil
}

// enrolledKey checks, without changing anything, the enrolment s of the
// invited replica i (ReadAck reads a request from a replica not enrolled
// yet): the key it enrols, if its MAC proves the invitation's secret.
func enrolledKey(ctx context.Context, q dialect.Querier, c *Ctl, i replica.Info, s *syncpkt.Setting) (ed25519.PublicKey, error) {
	pub, mac, err := parseEnrol(s.Value)
	if err != nil {
		return nil, err
	}
	a, err := loadAuth(ctx, q, i.ID)
	if err != nil {
		return nil, err
	}
	if len(a.Invite) == 0 || a.Signer != c.Local || !hmac.Equal(mac, enrolMAC(a.Invite, c.Family, creationEntry(i, c.Local, pub))) {
		return nil, fmt.Errorf("%w: the enrolment of %s does not prove the creation packet's secret", ErrRegistryProof, i)
	}
	return pub, nil
}

// mergeReplica applies the registry rules (see the top of this file) to
// an entry the packet brings.
func (m *importer) mergeReplica(r *syncpkt.Replica) error {
	i := infoOf(r)
	if i.ID.IsZero() || !i.State.Valid() || len(i.PublicKey) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: registry entry %q is invalid", ErrPacket, r.ID)
	}
	if r.Signer == "" {
		return registryError(r, "the entry is unsigned")
	}
	if i.ID == m.ctl.Local {
		return m.ownEntry(r)
	}
	old, exists := m.reg[i.ID]
	if !exists {
		return m.newEntry(r, true)
	}
	if len(old.PublicKey) == 0 {
		// Invited, not enrolled here: only its enrolment is taken, or the
		// creation entry this replica signed on enrolling it (held by the
		// family, lost here by a restore from an older backup).
		return m.ownCreation(r, old)
	}
	if !replica.Newer(i, old) {
		return m.sameEntryProof(r, old)
	}
	if old.State == replica.Removed {
		return fmt.Errorf("%w: %w: a removed replica never comes back", registryError(r, "%s was removed", old), replica.ErrRemoved)
	}
	if replica.ID(r.Signer) != i.ID {
		return registryError(r, "only %s changes its own entry", old)
	}
	if i.Name != old.Name || i.Number != old.Number {
		return registryError(r, "name and number of %s never change", old)
	}
	a, err := loadAuth(m.ctx, m.tx, i.ID)
	if err != nil {
		return err
	}
	key := old.PublicKey
	rotated := !bytes.Equal(i.PublicKey, old.PublicKey)
	if rotated {
		// Only the key in force endorses its successor: a retired key
		// (a fork by whoever holds it) endorses nothing.
		if !KeyEndorsed(old.PublicKey, i) {
			return registryError(r, "its new key is not endorsed by the key in force")
		}
		key = i.PublicKey
	}
	if !entryProven(m.ctl.Family, r, key) {
		return registryError(r, "the proof does not verify")
	}
	if replica.Reincarnated(old, i) {
		// Restored from a backup: it holds less than it told us. Forget
		// what we believed, so the next export resends what it lost.
		if _, err := m.tx.ExecContext(m.ctx, m.d.Rebind(`DELETE FROM ms_vector WHERE holder = ?`), string(i.ID)); err != nil {
			return err
		}
		if err := forgetSent(m.ctx, m.tx, m.d, i.ID); err != nil {
			return err
		}
	}
	if err := putReplica(m.ctx, m.tx, m.d, i, true); err != nil {
		return err
	}
	if rotated {
		if len(a.Chain) == 0 {
			// Kept from before format 9: the old key enters the chain
			// unsigned, for keyAt, and is never forwarded.
			a.Chain = []*syncpkt.Replica{replicaRecord(old)}
		}
		a.Chain = append(a.Chain, r)
	}
	a.Signer, a.Proof = i.ID, r.Proof
	if err := putAuth(m.ctx, m.tx, m.d, i.ID, a); err != nil {
		return err
	}
	m.reg[i.ID] = i
	m.rep.Duplicate = false // a registry entry is news too
	return nil
}

// ownCreation takes, for a replica invited here, the creation entry the
// local replica signed when it enrolled it.
func (m *importer) ownCreation(r *syncpkt.Replica, invited replica.Info) error {
	self := m.reg[m.ctl.Local]
	if replica.ID(r.Signer) != m.ctl.Local || len(r.PublicKey) != ed25519.PublicKeySize ||
		!sameEntry(r, creationEntry(invited, m.ctl.Local, r.PublicKey)) || !entryProven(m.ctl.Family, r, self.PublicKey) {
		return nil
	}
	i := infoOf(r)
	if err := putReplica(m.ctx, m.tx, m.d, i, true); err != nil {
		return err
	}
	if err := putAuth(m.ctx, m.tx, m.d, i.ID, &auth{Signer: m.ctl.Local, Proof: r.Proof, Chain: []*syncpkt.Replica{r}}); err != nil {
		return err
	}
	m.reg[i.ID] = i
	m.rep.Duplicate = false
	return nil
}

// newEntry takes the creation entry of a replica this one has never
// heard of, signed by its creator, a member known here and not removed.
// An entry that cannot be checked (self-signed, or its creator unknown or
// removed) waits for the rest of the packet; if ready, a failed check is
// final.
func (m *importer) newEntry(r *syncpkt.Replica, wait bool) error {
	i := infoOf(r)
	creator, ok := m.reg[replica.ID(r.Signer)]
	if !ok || replica.ID(r.Signer) == i.ID || creator.State == replica.Removed || len(creator.PublicKey) == 0 {
		if wait {
			if len(m.unproven) >= maxUnproven {
				return fmt.Errorf("%w: more than %d registry entries no rule can check", ErrPacket, maxUnproven)
			}
			m.unproven = append(m.unproven, r)
		}
		return nil
	}
	if i.State != replica.ReceiveOnly || i.Incarnation != 0 || len(i.KeySig) != 0 {
		return registryError(r, "a creation entry describes a new, receive-only replica")
	}
	if !entryProven(m.ctl.Family, r, creator.PublicKey) {
		return registryError(r, "the creator's proof does not verify")
	}
	for _, o := range m.reg {
		if o.Name == i.Name || o.Number == i.Number {
			return registryError(r, "name %q or number %d is taken by %s", i.Name, i.Number, o)
		}
	}
	if err := putReplica(m.ctx, m.tx, m.d, i, false); err != nil {
		return err
	}
	if err := putAuth(m.ctx, m.tx, m.d, i.ID, &auth{Signer: creator.ID, Proof: r.Proof, Chain: []*syncpkt.Replica{r}}); err != nil {
		return err
	}
	m.reg[i.ID] = i
	m.rep.Duplicate = false
	// Entries that waited for this one may now be checked.
	return m.retryUnproven()
}

// maxUnproven bounds the registry entries a packet may carry that wait
// for their creator's (each pass over them costs a look-up each): far
// more than any family's registry.
const maxUnproven = 4096

// retryUnproven goes again over the entries that could not be checked
// yet, in packet order, until none more is taken.
func (m *importer) retryUnproven() error {
	for {
		pending := m.unproven
		m.unproven = nil
		for _, r := range pending {
			var err error
			if _, ok := m.reg[replica.ID(r.ID)]; ok {
				err = m.mergeReplica(r)
			} else {
				err = m.newEntry(r, true)
			}
			if err != nil {
				return err
			}
		}
		if len(m.unproven) == len(pending) {
			return nil
		}
	}
}

// unprovenLeft notes the entries no rule could check: they are left out.
func (m *importer) unprovenLeft() {
	seen := map[string]bool{}
	for _, r := range m.unproven {
		if _, ok := m.reg[replica.ID(r.ID)]; !ok && !seen[r.ID] {
			seen[r.ID] = true
			m.rep.RefusedKeys = append(m.rep.RefusedKeys, replica.ID(r.ID))
		}
	}
	m.unproven = nil
}

// sameEntryProof keeps the proof of an entry this replica holds already
// without one (kept from before format 9, or taken before its proof was
// known), if the packet's entry is the same and proven.
func (m *importer) sameEntryProof(r *syncpkt.Replica, old replica.Info) error {
	if !sameEntry(r, replicaRecord(old)) {
		return nil
	}
	a, err := loadAuth(m.ctx, m.tx, old.ID)
	if err != nil || len(a.Proof) > 0 {
		return err
	}
	var key ed25519.PublicKey
	switch s, ok := m.reg[replica.ID(r.Signer)]; {
	case replica.ID(r.Signer) == old.ID:
		key = old.PublicKey
	case ok && s.State != replica.Removed:
		key = s.PublicKey
	default:
		return nil
	}
	if !entryProven(m.ctl.Family, r, key) {
		return nil // not news; a bad proof of an entry held is ignored
	}
	a.Signer, a.Proof = replica.ID(r.Signer), r.Proof
	if replica.ID(r.Signer) != old.ID && len(a.Chain) == 0 {
		a.Chain = []*syncpkt.Replica{r}
	}
	return putAuth(m.ctx, m.tx, m.d, old.ID, a)
}

// ownEntry looks at the local replica's own entry in a packet. Its own
// entry is its own to change; but the creation entry its creator signed
// on its enrolment is kept, so that it can show it to members that never
// heard of it, and its enrolment is then complete.
func (m *importer) ownEntry(r *syncpkt.Replica) error {
	i := infoOf(r)
	// A restored replica has caught up with this origin once the origin's
	// packet shows it knows of the restore: it then sent all this replica
	// lost.
	if m.ctl.State == replica.Restoring && i.Incarnation == m.reg[m.ctl.Local].Incarnation {
		m.caughtUp = true
	}
	a, err := loadAuth(m.ctx, m.tx, m.ctl.Local)
	if err != nil {
		return err
	}
	self := m.reg[m.ctl.Local]
	if len(a.Invite) == 0 || replica.ID(r.Signer) != a.Signer || r.Version != 1 || !bytes.Equal(r.PublicKey, self.PublicKey) {
		return nil
	}
	creator, ok := m.reg[a.Signer]
	if !ok || !sameEntry(r, creationEntry(self, a.Signer, self.PublicKey)) || !entryProven(m.ctl.Family, r, creator.PublicKey) {
		return nil
	}
	a.Invite, a.Chain = nil, []*syncpkt.Replica{r}
	if self.Version == 1 {
		a.Proof = r.Proof
	} else {
		a.Signer, a.Proof = m.ctl.Local, nil
	}
	return putAuth(m.ctx, m.tx, m.d, m.ctl.Local, a)
}

// originKey is the key the packet's origin signed with: its key in force
// at the packet's date, by its chain (keyAt). An origin this replica
// never heard of is known by now if the packet carried its creation
// entry (see newEntry); otherwise it is refused with replica.ErrUnknown.
func (m *importer) originKey(h *syncpkt.Header) (ed25519.PublicKey, error) {
	i, ok := m.reg[replica.ID(h.Origin)]
	if !ok || len(i.PublicKey) != ed25519.PublicKeySize {
		return nil, &replica.UnknownError{ID: replica.ID(h.Origin)}
	}
	a, err := loadAuth(m.ctx, m.tx, i.ID)
	if err != nil {
		return nil, err
	}
	return keyAt(i, a.Chain, h.Created), nil
}
