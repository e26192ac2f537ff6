package multisite_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/hooks"
	"github.com/multisite-go/multisite/internal/engine"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/syncpkt"
	"github.com/stretchr/testify/require"
)

// Hostile tests of the registry's rules (issue 18 items 1 and 3, issue 20
// item 4): a member holding a real key tries to rewrite, invent or bring
// back registry entries, to use a retired key, to enrol with a stolen
// invitation; each refusal is typed, leaves the database as it was, runs
// no hook, and the genuine members still sync afterwards.

func privateKeyOf(t testing.TB, s *site) (ed25519.PrivateKey, string) {
	t.Helper()
	var key []byte
	var family string
	require.NoError(t, s.db.QueryRow(`SELECT private_key, family FROM ms_ctl`).Scan(&key, &family))
	return ed25519.PrivateKey(key), family
}

// entryAt returns s's registry entry of id as a packet record, unsigned.
func entryAt(t testing.TB, s *site, id replica.ID) *syncpkt.Replica {
	t.Helper()
	st, err := multisite.ReadStatus(ctx, s.db)
	require.NoError(t, err)
	for _, r := range st.Replicas {
		if r.ID == id {
			return &syncpkt.Replica{ID: string(r.ID), Name: r.Name, Number: r.Number, PublicKey: r.PublicKey,
				State: string(r.State), Version: r.Version, KeySig: r.KeySig, Incarnation: r.Incarnation}
		}
	}
	t.Fatalf("%s does not know %s", s.name, id)
	return nil
}

// signedAs returns r with Signer signer and a proof made by key.
func signedAs(family string, r *syncpkt.Replica, signer replica.ID, key ed25519.PrivateKey) *syncpkt.Replica {
	c := *r
	c.Signer, c.Proof = string(signer), nil
	c.Proof = ed25519.Sign(key, syncpkt.ReplicaMessage(family, &c))
	return &c
}

// endorsement is a KeySig as SPEC.md defines it: the date, then prev's
// signature over the rotation message.
func endorsement(prev ed25519.PrivateKey, id string, version uint64, at time.Time, pub ed25519.PublicKey) []byte {
	ms, epoch := at.UnixMilli(), uint64(1)
	m := []byte("multisite key rotation v3\x00")
	m = append(m, id...)
	m = append(m, 0)
	m = binary.BigEndian.AppendUint64(m, version)
	m = binary.BigEndian.AppendUint64(m, uint64(ms))
	m = binary.BigEndian.AppendUint64(m, epoch)
	m = append(m, pub...)
	sig := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, uint64(ms)), epoch)
	return append(sig, ed25519.Sign(prev, m)...)
}

// packetBy writes a sync packet from origin to target, dated created,
// signed by key, holding recs.
func packetBy(t testing.TB, key ed25519.PrivateKey, origin replica.ID, target *site, created time.Time, recs ...syncpkt.Record) []byte {
	t.Helper()
	_, family := privateKeyOf(t, target)
	st, err := multisite.ReadStatus(ctx, target.db)
	require.NoError(t, err)
	h := syncpkt.Header{Kind: syncpkt.KindSync, Family: family, Origin: string(origin), Target: string(target.id),
		CodePage: st.CodePage, Created: created, Base: map[string]uint64{}, Upto: map[string]uint64{}}
	var buf bytes.Buffer
	w, err := syncpkt.NewWriter(&buf, h, syncpkt.WriterOptions{Sign: syncpkt.Ed25519Signer(key)})
	require.NoError(t, err)
	for _, r := range recs {
		require.NoError(t, w.Write(r))
	}
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// registryDump is dump plus the registry and the epoch matrix.
func registryDump(t testing.TB, db *sql.DB) map[string][]map[string]any {
	t.Helper()
	out := dump(t, db)
	for _, q := range []string{
		`SELECT id, name, number, public_key, state, version, key_sig, incarnation, signer, proof, chain, invite FROM ms_replica ORDER BY id`,
		`SELECT holder, origin, epoch FROM ms_vector ORDER BY holder, origin`,
	} {
		rows, err := db.Query(q)
		require.NoError(t, err)
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			m := map[string]any{}
			for i, c := range cols {
				m[c] = fmt.Sprintf("%v", vals[i])
			}
			out[q] = append(out[q], m)
		}
		require.NoError(t, rows.Err())
		rows.Close()
	}
	return out
}

// refusedWhole imports pkt into s, wants an error matching want, and checks
// that nothing changed and no hook ran.
func refusedWhole(t *testing.T, s *site, pkt []byte, want ...error) {
	t.Helper()
	before := registryDump(t, s.db)
	called := 0
	opt := multisite.ImportOptions{Hooks: &hooks.Hooks{
		AfterImportChange: func(context.Context, hooks.Tx, hooks.Change) error { called++; return nil },
		AfterImportPacket: func(context.Context, hooks.Tx, hooks.Packet) error { called++; return nil },
	}}
	_, err := multisite.ImportPacket(ctx, s.db, bytes.NewReader(pkt), opt)
	for _, w := range want {
		if !errors.Is(err, w) {
			t.Fatalf("ImportPacket into %s: error = %v, want %v", s.name, err, w)
		}
	}
	if called != 0 {
		t.Errorf("%d hooks ran for a refused packet", called)
	}
	if diff := cmp.Diff(before, registryDump(t, s.db)); diff != "" {
		t.Errorf("refused packet changed %s (-before +after):\n%s", s.name, diff)
	}
}

func TestRegistry_HostileEntriesAreRefused(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 3, "boston", "bangalore", "dublin")
		boston, blr, dub := sites[0], sites[1], sites[2]
		hostileKey, family := privateKeyOf(t, dub) // dublin, a member gone rogue
		real := entryAt(t, boston, blr.id)
		removed := *real
		removed.State, removed.Version = string(replica.Removed), real.Version+1000
		otherPub, otherPriv, err := ed25519.GenerateKey(nil)
		require.NoError(t, err)
		madeUp := &syncpkt.Replica{ID: "c0ffee0000000001", Name: "ghost", Number: 77, PublicKey: otherPub,
			State: string(replica.ReceiveOnly), Version: 1}
		newKey := *real
		newKey.Version++
		newKey.PublicKey = otherPub
		newKey.KeySig = endorsement(hostileKey, real.ID, newKey.Version, time.Now(), otherPub)
		renamed := *real
		renamed.Version++
		renamed.Name = "bengaluru"

		tests := []struct {
			name string
			rec  *syncpkt.Replica
		}{
			{"another member's entry removed, signed by the rogue", signedAs(family, &removed, dub.id, hostileKey)},
			{"another member's entry removed, claimed as its own", signedAs(family, &removed, blr.id, hostileKey)},
			{"another member's entry, unsigned", &removed},
			{"a made-up member claimed as created by boston", signedAs(family, madeUp, boston.id, hostileKey)},
			{"a new key endorsed by the rogue's key", signedAs(family, &newKey, blr.id, otherPriv)},
			{"a new name, claimed as the member's own", signedAs(family, &renamed, blr.id, hostileKey)},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				refusedWhole(t, boston, forge(t, dub, boston, tt.rec), multisite.ErrRegistryProof)
			})
		}
		// A member made up with its own signature proves nothing: it is
		// left out, and its packets are refused as from a stranger.
		selfMade := signedAs(family, madeUp, replica.ID(madeUp.ID), otherPriv)
		rep := importInto(t, boston, forge(t, dub, boston, selfMade))
		require.Equal(t, []replica.ID{replica.ID(madeUp.ID)}, rep.RefusedKeys)
		refusedWhole(t, boston, packetBy(t, otherPriv, replica.ID(madeUp.ID), boston, time.Now(), selfMade), replica.ErrUnknown)

		// The genuine members still sync, both ways, and bangalore is
		// still active at boston.
		mustExec(t, blr.db, `INSERT INTO project (code, title) VALUES ('BLR', 'after the attack')`)
		syncPair(t, blr, boston)
		syncPair(t, boston, blr)
		syncPair(t, boston, dub)
		require.Equal(t, string(replica.Active), entryAt(t, boston, blr.id).State)
		requireConverged(t, boston, blr, dub)
	})
}

func TestRegistry_RemovedReplicaNeverComesBack(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 3, "boston", "bangalore", "dublin")
		boston, blr, dub := sites[0], sites[1], sites[2]
		blrKey, family := privateKeyOf(t, blr)
		hostileKey, _ := privateKeyOf(t, dub)
		_, err := multisite.RemoveReplica(ctx, blr.db, multisite.RemoveOptions{TransferTo: boston.id})
		require.NoError(t, err)
		syncPair(t, blr, boston) // its last packet: boston takes the rows and the removal
		gone := entryAt(t, boston, blr.id)
		require.Equal(t, string(replica.Removed), gone.State)

		back := *gone
		back.State, back.Version = string(replica.Active), gone.Version+1
		reborn := back
		reborn.Incarnation++
		for name, rec := range map[string]*syncpkt.Replica{
			"signed by the rogue":                   signedAs(family, &back, dub.id, hostileKey),
			"signed with the removed replica's key": signedAs(family, &back, blr.id, blrKey),
			"as a restore, with its key":            signedAs(family, &reborn, blr.id, blrKey),
		} {
			t.Run(name, func(t *testing.T) {
				refusedWhole(t, boston, forge(t, dub, boston, rec), multisite.ErrRegistryProof, replica.ErrRemoved)
			})
		}
		// The removed replica's own packets stay refused.
		refusedWhole(t, boston, packetBy(t, blrKey, blr.id, boston, time.Now(), signedAs(family, &back, blr.id, blrKey)), replica.ErrRemoved)
		syncPair(t, boston, dub)
		syncPair(t, dub, boston)
	})
}

func TestRegistry_RetiredKey(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 3, "boston", "bangalore", "dublin")
		boston, blr, dub := sites[0], sites[1], sites[2]
		oldKey, family := privateKeyOf(t, blr)
		mustExec(t, blr.db, `INSERT INTO project (code, title) VALUES ('B1', 'before rotation')`)
		beforeBoston := export(t, blr, boston) // made and signed before the rotation
		beforeDublin := export(t, blr, dub)

		rotatedAt := time.Now()
		info, err := multisite.RotateKey(ctx, blr.db)
		require.NoError(t, err)
		mustExec(t, blr.db, `INSERT INTO project (code, title) VALUES ('B2', 'after rotation')`)
		rep := recoverPair(t, blr, boston) // carries the rotation, signed with the new key
		require.Empty(t, rep.RefusedKeys)
		require.Equal(t, []byte(info.PublicKey), entryAt(t, boston, blr.id).PublicKey)

		// At a member that knows the rotation, the retired key signs
		// nothing dated after it...
		cur := entryAt(t, boston, blr.id)
		refusedWhole(t, boston, packetBy(t, oldKey, blr.id, boston, time.Now(), signedAs(family, cur, blr.id, oldKey)), syncpkt.ErrSignature)
		// ...and endorses no other successor, whatever the date it claims.
		thiefPub, thiefPriv, err := ed25519.GenerateKey(nil)
		require.NoError(t, err)
		for name, at := range map[string]time.Time{"dated after": time.Now(), "backdated": rotatedAt.Add(-time.Hour)} {
			t.Run("fork "+name, func(t *testing.T) {
				fork := *cur
				fork.Version += 5
				fork.PublicKey = thiefPub
				fork.KeySig = endorsement(oldKey, fork.ID, fork.Version, at, thiefPub)
				refusedWhole(t, boston, forge(t, dub, boston, signedAs(family, &fork, blr.id, thiefPriv)), multisite.ErrRegistryProof)
			})
		}
		// A packet dated before the rotation is still bangalore's: it
		// arrives late and is taken (it brings nothing new by now).
		rep = importInto(t, boston, beforeBoston)
		require.True(t, rep.Duplicate)

		// Order does not matter: dublin gets the rotation first, the
		// packet made before it afterwards, and takes both.
		recoverPair(t, blr, dub)
		importInto(t, dub, beforeDublin)
		requireConverged(t, boston, blr, dub)
	})
}

func TestRegistry_ForkAtAMemberThatNeverSawTheRotation(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 3, "boston", "bangalore", "dublin")
		boston, blr, dub := sites[0], sites[1], sites[2]
		oldKey, family := privateKeyOf(t, blr)
		cur := entryAt(t, boston, blr.id)
		_, err := multisite.RotateKey(ctx, blr.db)
		require.NoError(t, err)
		// A thief with the retired key forks it before boston hears of
		// the rotation: boston cannot tell, and takes it.
		thiefPub, thiefPriv, err := ed25519.GenerateKey(nil)
		require.NoError(t, err)
		fork := *cur
		fork.Version++
		fork.PublicKey = thiefPub
		fork.KeySig = endorsement(oldKey, fork.ID, fork.Version, time.Now(), thiefPub)
		importInto(t, boston, forge(t, dub, boston, signedAs(family, &fork, blr.id, thiefPriv)))
		// The genuine rotation is then a second successor of the same key,
		// and bangalore's packets do not verify against the key boston
		// holds: refused, typed, nothing changed, for an administrator to
		// see (README, threat model).
		var buf bytes.Buffer
		_, err = multisite.RecoverPacket(ctx, blr.db, boston.id, nil, &buf, multisite.ExportOptions{})
		require.NoError(t, err)
		refusedWhole(t, boston, buf.Bytes(), syncpkt.ErrSignature)
	})
}

func TestRegistry_CreationPacketCarriesNoPrivateKey(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 3, "boston", "bangalore")
		boston, blr := sites[0], sites[1]
		var buf bytes.Buffer
		info, _, err := multisite.Replicate(ctx, boston.db, "dublin", &buf, multisite.ReplicateOptions{Uncompressed: true})
		require.NoError(t, err)
		require.Empty(t, info.PublicKey, "the creator knows no key of the new replica before it enrols")
		pkt := buf.Bytes()
		invites := 0
		for _, rec := range records(t, pkt) {
			switch r := rec.(type) {
			case *syncpkt.Invite:
				invites++
			case *syncpkt.Replica:
				if r.ID == string(info.ID) {
					require.Empty(t, r.PublicKey)
				}
			}
		}
		require.Equal(t, 1, invites)

		dub := &site{name: "dublin", db: open("dublin"), id: info.ID}
		_, err = multisite.CreateReplica(ctx, dub.db, bytes.NewReader(pkt), multisite.CreateOptions{})
		require.NoError(t, err)
		priv, _ := privateKeyOf(t, dub)
		require.False(t, bytes.Contains(pkt, priv.Seed()), "the packet holds the new replica's private key")
		// Whoever read the packet on its way makes a replica of it too.
		thief := &site{name: "thief", db: open("thief"), id: info.ID}
		_, err = multisite.CreateReplica(ctx, thief.db, bytes.NewReader(pkt), multisite.CreateOptions{})
		require.NoError(t, err)
		thiefKey, _ := privateKeyOf(t, thief)
		require.False(t, thiefKey.Equal(priv))

		// Dublin enrols with its first packet to boston (an
		// acknowledgement while it is receive-only); the secret is then
		// used up.
		var ack bytes.Buffer
		_, err = multisite.WriteAck(ctx, dub.db, boston.id, &ack)
		require.NoError(t, err)
		importInto(t, boston, ack.Bytes())
		require.Equal(t, []byte(priv.Public().(ed25519.PublicKey)), entryAt(t, boston, dub.id).PublicKey)
		importInto(t, boston, ack.Bytes()) // the same enrolment again changes nothing

		var stolen bytes.Buffer
		_, err = multisite.WriteAck(ctx, thief.db, boston.id, &stolen)
		require.NoError(t, err)
		// The thief's packet is signed by its own key, not the one dublin
		// enrolled: refused.
		refusedWhole(t, boston, stolen.Bytes(), syncpkt.ErrSignature)

		// The family learns of dublin from boston, and dublin syncs.
		syncPair(t, boston, dub)
		syncPair(t, boston, blr)
		require.NoError(t, multisite.SetState(ctx, dub.db, replica.Active))
		mustExec(t, dub.db, `INSERT INTO project (code, title) VALUES ('DUB', 'from dublin')`)
		syncPair(t, dub, boston)
		syncPair(t, dub, blr)
		syncPair(t, boston, blr)
		requireConverged(t, boston, blr, dub)
	})
}

func TestRegistry_MembershipSpreads(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 3, "boston", "bangalore")
		boston, blr := sites[0], sites[1]
		// newReplica creates name from creator and enrols it there; the
		// creator's next packet gives it its signed creation entry.
		newReplica := func(creator *site, name string) *site {
			var buf bytes.Buffer
			info, _, err := multisite.Replicate(ctx, creator.db, name, &buf, multisite.ReplicateOptions{})
			require.NoError(t, err)
			s := &site{name: name, db: open(name), id: info.ID}
			_, err = multisite.CreateReplica(ctx, s.db, &buf, multisite.CreateOptions{})
			require.NoError(t, err)
			require.NoError(t, multisite.SetState(ctx, s.db, replica.Active))
			syncPair(t, s, creator)
			return s
		}
		dub := newReplica(boston, "dublin")
		// Before dublin holds its creation entry as boston signed it, it
		// cannot show bangalore who it is.
		mustExec(t, dub.db, `INSERT INTO project (code, title) VALUES ('DUB', 'from dublin')`)
		refusedWhole(t, blr, export(t, dub, blr), replica.ErrUnknown)
		syncPair(t, boston, dub)

		// Chains of creators: edinburgh, created by dublin, reaches
		// bangalore, which has heard of neither: the packet carries
		// dublin's creation entry, signed by boston, and edinburgh's,
		// signed by dublin.
		edi := newReplica(dub, "edinburgh")
		syncPair(t, dub, edi)
		mustExec(t, edi.db, `INSERT INTO project (code, title) VALUES ('EDI', 'from edinburgh')`)
		rep := importInto(t, blr, export(t, edi, blr))
		require.Equal(t, edi.id, rep.Origin)
		require.Equal(t, 2, rep.Tables["project"].Inserted) // dublin's row, through edinburgh, and edinburgh's
		require.Equal(t, string(replica.Active), entryAt(t, blr, edi.id).State)
		require.Equal(t, string(replica.Active), entryAt(t, blr, dub.id).State, "dublin's own entry, forwarded by edinburgh")

		// Dublin's own packets are now taken too.
		rep = recoverPair(t, dub, blr)
		require.Equal(t, dub.id, rep.Origin)
		require.Equal(t, string(replica.Active), entryAt(t, blr, dub.id).State)
		syncPair(t, blr, boston)
		syncPair(t, boston, dub)
		syncPair(t, dub, edi)
		requireConverged(t, boston, blr, dub, edi)
	})
}

// FuzzRegistry_HostileEntry: a rogue member (dublin, with its real key)
// sends entries with fuzzed fields, signer and proof: the import fails or
// succeeds, but boston's and bangalore's entries at boston never change,
// and bangalore still syncs. SQLite only.
func FuzzRegistry_HostileEntry(f *testing.F) {
	sites := newFamily(f, 2, "boston", "bangalore", "dublin")
	boston, blr, dub := sites[0], sites[1], sites[2]
	hostileKey, family := privateKeyOf(f, dub)
	protected := func(t testing.TB) map[string]*syncpkt.Replica {
		return map[string]*syncpkt.Replica{"boston": entryAt(t, boston, boston.id), "bangalore": entryAt(t, boston, blr.id)}
	}
	want := protected(f)
	f.Add(uint8(1), "removed", uint64(1000), uint8(0), uint8(1), []byte(nil), uint64(0), "x")
	f.Add(uint8(2), "active", uint64(1), uint8(2), uint8(0), make([]byte, 72), uint64(1), "ghost")
	f.Add(uint8(0), "receive-only", uint64(0), uint8(3), uint8(2), []byte{1}, uint64(0), "")
	f.Fuzz(func(t *testing.T, who uint8, state string, dv uint64, signer uint8, key uint8, keySig []byte, inc uint64, name string) {
		ids := []replica.ID{boston.id, blr.id, dub.id, "c0ffee0000000002"}
		id := ids[int(who)%len(ids)]
		var r *syncpkt.Replica
		if id == "c0ffee0000000002" {
			pub, _, _ := ed25519.GenerateKey(nil)
			r = &syncpkt.Replica{ID: string(id), Name: name, Number: 99, PublicKey: pub, Version: 1}
		} else {
			r = entryAt(t, boston, id)
		}
		r.State, r.Version, r.Incarnation, r.KeySig = state, r.Version+dv%2000, r.Incarnation+inc%3, keySig
		if key%3 == 1 {
			r.PublicKey = hostileKey.Public().(ed25519.PublicKey)
		}
		s := ids[int(signer)%len(ids)]
		rec := signedAs(family, r, s, hostileKey)
		if key%3 == 2 {
			rec.Proof = make([]byte, ed25519.SignatureSize)
		}
		_, _ = multisite.ImportPacket(ctx, boston.db, bytes.NewReader(forge(t, dub, boston, rec)), multisite.ImportOptions{})
		if diff := cmp.Diff(want, protected(t)); diff != "" {
			t.Fatalf("a rogue's entry changed another member's (-want +got):\n%s", diff)
		}
	})
}

// TestRegistry_CreatorRestoredBeforeTheEnrolment: boston enrols dublin,
// then is restored from a backup taken before: the family gives it back
// the creation entry it signed, and dublin's packets are taken again.
func TestRegistry_CreatorRestoredBeforeTheEnrolment(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 3, "boston", "bangalore")
		boston, blr := sites[0], sites[1]
		var buf bytes.Buffer
		info, _, err := multisite.Replicate(ctx, boston.db, "dublin", &buf, multisite.ReplicateOptions{})
		require.NoError(t, err)
		dub := &site{name: "dublin", db: open("dublin"), id: info.ID}
		_, err = multisite.CreateReplica(ctx, dub.db, &buf, multisite.CreateOptions{})
		require.NoError(t, err)
		enrol(t, boston.db, dub.db, dub.id)
		syncPair(t, boston, blr) // bangalore learns of dublin
		// The restore, as far as the registry goes: dublin invited again.
		mustExec(t, boston.db, `UPDATE ms_replica SET public_key = ?, version = 1, signer = ?, proof = NULL, chain = NULL, invite = ? WHERE id = ?`,
			[]byte{}, string(boston.id), []byte("hash of the old invitation"), string(dub.id))
		syncPair(t, blr, boston)
		require.NotEmpty(t, entryAt(t, boston, dub.id).PublicKey, "boston took back the creation entry it signed")
		require.NoError(t, multisite.SetState(ctx, dub.db, replica.Active))
		syncPair(t, dub, boston)
	})
}

// TestRegistry_RetiredKeySignsNoLaterChange: once cork knows boston's
// rotation, a row image in boston's name of an epoch after it, signed
// with boston's retired key and forwarded by bangalore, is refused.
func TestRegistry_RetiredKeySignsNoLaterChange(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 3, "boston", "bangalore", "cork")
		boston, blr, cork := sites[0], sites[1], sites[2]
		oldKey, family := privateKeyOf(t, boston)
		st, err := multisite.ReadStatus(ctx, boston.db)
		require.NoError(t, err)
		retiredAfter := st.Matrix[boston.id][boston.id]
		_, err = multisite.RotateKey(ctx, boston.db)
		require.NoError(t, err)
		syncPair(t, boston, cork)
		b := string(boston.id)
		v, _ := shadowStamp(t, cork, "CORE")
		r := &syncpkt.Row{Version: v + 1, Master: b, Origin: b, Creator: b, Epoch: retiredAfter + 1,
			Values: []syncpkt.Value{syncpkt.Text("CORE"), syncpkt.Text("signed with a retired key")}}
		r.Proof = ed25519.Sign(oldKey, engine.RowMessage(family, projectTable().Name, projectTable().Columns, r))
		refusedWhole(t, cork, forge(t, blr, cork, projectTable(), r), multisite.ErrProof)
		syncPair(t, boston, cork)
		syncPair(t, blr, cork)
	})
}
