package multisite_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/hooks"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/schema"
	"github.com/multisite-go/multisite/syncpkt"
	"github.com/stretchr/testify/require"
)

// Hostile members on settings and epoch claims (issue 18): a member holding
// its own real key forges what only the schema master, or another replica,
// may say. Each forgery is refused whole with a typed error, changes
// nothing (data, catalog and metadata compared before and after), calls no
// hook, and the genuine members still sync afterwards.

// memberKey reads s's family and private key, as the member holding them can.
func memberKey(t *testing.T, s *site) (string, ed25519.PrivateKey) {
	t.Helper()
	var key []byte
	var family string
	require.NoError(t, s.db.QueryRow(`SELECT private_key, family FROM ms_ctl`).Scan(&key, &family))
	return family, ed25519.PrivateKey(key)
}

// forgeHeader is forge with the header changed by edit before it is
// written.
func forgeHeader(t *testing.T, s, target *site, edit func(h *syncpkt.Header), recs ...syncpkt.Record) []byte {
	t.Helper()
	family, key := memberKey(t, s)
	st, err := multisite.ReadStatus(ctx, s.db)
	require.NoError(t, err)
	upto := map[string]uint64{}
	for o, e := range st.Matrix[s.id] {
		upto[string(o)] = e
	}
	var sv int64
	require.NoError(t, s.db.QueryRow(`SELECT schema_version FROM ms_ctl`).Scan(&sv))
	h := syncpkt.Header{Kind: syncpkt.KindSync, Family: family, Origin: string(s.id), Target: string(target.id),
		SchemaVersion: sv, CodePage: st.CodePage, Created: time.Now(), Base: map[string]uint64{}, Upto: upto, Gaps: map[string]uint64{}}
	if edit != nil {
		edit(&h)
	}
	var buf bytes.Buffer
	w, err := syncpkt.NewWriter(&buf, h, syncpkt.WriterOptions{Sign: syncpkt.Ed25519Signer(key)})
	require.NoError(t, err)
	for _, r := range recs {
		require.NoError(t, w.Write(r))
	}
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// signSetting gives s the proof of signer's key.
func signSetting(family string, key ed25519.PrivateKey, signer replica.ID, s *syncpkt.Setting) *syncpkt.Setting {
	s.Signer = string(signer)
	s.Proof = ed25519.Sign(key, syncpkt.SettingMessage(family, s))
	return s
}

// metaState is what a refused packet must leave as it was besides the
// data: the catalog, the control row, the epoch matrix, the schema chain,
// migrations, sealed statements and stored proofs.
func metaState(t *testing.T, db *sql.DB) map[string]string {
	t.Helper()
	out := catalogOf(t, db)
	for _, q := range []string{
		`SELECT code_page, code_page_version, schema_version, epoch, state FROM ms_ctl`,
		`SELECT holder, origin, epoch FROM ms_vector ORDER BY holder, origin`,
		`SELECT chain FROM ms_schema`,
		`SELECT version, checksum, body FROM ms_migration ORDER BY version`,
		`SELECT replica, epoch, proof FROM ms_sealed ORDER BY replica`,
		`SELECT name, signer, proof FROM ms_proof ORDER BY name`,
		`SELECT target, origin, epoch FROM ms_sent ORDER BY target, origin`,
		`SELECT peer, origin, epoch FROM ms_gap ORDER BY peer, origin`,
	} {
		rows, err := db.Query(q)
		require.NoError(t, err, q)
		cols, _ := rows.Columns()
		var lines []string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			var f []string
			for _, v := range vals {
				if b, ok := v.([]byte); ok {
					v = string(b)
				}
				f = append(f, fmt.Sprint(v))
			}
			lines = append(lines, strings.Join(f, "|"))
		}
		require.NoError(t, rows.Err())
		rows.Close()
		out[q] = strings.Join(lines, "\n")
	}
	return out
}

// countingHooks counts every import hook call.
func countingHooks(n *int) *hooks.Hooks {
	return &hooks.Hooks{
		AfterImportChange: func(context.Context, hooks.Tx, hooks.Change) error { *n++; return nil },
		AfterImportPacket: func(context.Context, hooks.Tx, hooks.Packet) error { *n++; return nil },
	}
}

// requireRefused imports pkt into s and checks it is refused with want,
// leaving data and metadata as they were and calling no hook.
func requireRefused(t *testing.T, s *site, pkt []byte, want ...error) {
	t.Helper()
	data, meta := dump(t, s.db), metaState(t, s.db)
	calls := 0
	_, err := multisite.ImportPacket(ctx, s.db, bytes.NewReader(pkt), multisite.ImportOptions{Hooks: countingHooks(&calls)})
	for _, w := range want {
		if !errors.Is(err, w) {
			t.Fatalf("ImportPacket error = %v, want %v", err, w)
		}
	}
	if diff := cmp.Diff(data, dump(t, s.db)); diff != "" {
		t.Errorf("refused packet changed data (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(meta, metaState(t, s.db)); diff != "" {
		t.Errorf("refused packet changed metadata or catalog (-before +after):\n%s", diff)
	}
	if calls != 0 {
		t.Errorf("refused packet called %d hooks", calls)
	}
}

// genuineSyncStillWorks makes a change at each of from and to, syncs both
// ways and checks they converge.
func genuineSyncStillWorks(t *testing.T, a, b *site) {
	t.Helper()
	mustExec(t, a.db, `INSERT INTO project (code, title) VALUES (?, ?)`, "A"+a.name[:3], "after the attack, at "+a.name)
	mustExec(t, b.db, `INSERT INTO project (code, title) VALUES (?, ?)`, "B"+b.name[:3], "after the attack, at "+b.name)
	syncPair(t, a, b)
	syncPair(t, b, a)
	requireConverged(t, a, b)
}

// migrationValue is an ms.migration value by by, with the inner signature
// of key (SPEC: "multisite migration" 0x00 version 0x00 prev 0x00 checksum
// 0x00 by).
func migrationValue(t *testing.T, m schema.Migration, prev int64, by replica.ID, key ed25519.PrivateKey) string {
	t.Helper()
	sum := m.Checksum()
	msg := fmt.Appendf(nil, "multisite migration\x00%d\x00%d\x00%s\x00%s", m.Version, prev, sum, by)
	v, err := json.Marshal(map[string]any{"version": m.Version, "prev": prev, "name": m.Name, "checksum": sum, "up": m.Up, "by": string(by), "sig": ed25519.Sign(key, msg)})
	require.NoError(t, err)
	return string(v)
}

func TestAuthority_HostileSettingsRefused(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 3, "boston", "bangalore")
		boston, blr := sites[0], sites[1]
		family, key := memberKey(t, blr)
		hostile := blr.id
		drop := schema.Migration{Version: 1, Name: "drop", Up: "DROP TABLE defect_tag"}
		chainValue := func(links ...replica.ID) string {
			var l []map[string]any
			for _, id := range links {
				l = append(l, map[string]any{"replica": string(id), "from": 0})
			}
			b, err := json.Marshal(l)
			require.NoError(t, err)
			return string(b)
		}
		tests := []struct {
			name string
			recs []syncpkt.Record
			edit func(h *syncpkt.Header)
		}{
			{"migration signed by a member", []syncpkt.Record{
				signSetting(family, key, hostile, &syncpkt.Setting{Key: "ms.migration", Value: migrationValue(t, drop, 0, hostile, key)}),
			}, func(h *syncpkt.Header) { h.SchemaVersion = 1 }},
			{"migration claiming the schema master, signed by a member", []syncpkt.Record{
				signSetting(family, key, hostile, &syncpkt.Setting{Key: "ms.migration", Value: migrationValue(t, drop, 0, boston.id, key)}),
			}, func(h *syncpkt.Header) { h.SchemaVersion = 1 }},
			{"member appends itself to the schema-master chain", []syncpkt.Record{
				signSetting(family, key, hostile, &syncpkt.Setting{Key: "ms.schema_master", Value: chainValue(boston.id, hostile)}),
			}, nil},
			{"member appends itself to the chain, unsigned", []syncpkt.Record{
				&syncpkt.Setting{Key: "ms.schema_master", Value: chainValue(boston.id, hostile)},
			}, nil},
			{"member appends itself to the chain and ships a migration", []syncpkt.Record{
				signSetting(family, key, hostile, &syncpkt.Setting{Key: "ms.schema_master", Value: chainValue(boston.id, hostile)}),
				signSetting(family, key, hostile, &syncpkt.Setting{Key: "ms.migration", Value: migrationValue(t, drop, 0, hostile, key)}),
			}, func(h *syncpkt.Header) { h.SchemaVersion = 1 }},
			{"chain skipping a hand-over", []syncpkt.Record{
				signSetting(family, key, hostile, &syncpkt.Setting{Key: "ms.schema_master", Value: chainValue(boston.id, hostile, hostile)}),
			}, nil},
			{"code page switched by a member", []syncpkt.Record{
				signSetting(family, key, hostile, &syncpkt.Setting{Key: "code_page", Value: "5 US-ASCII"}),
			}, func(h *syncpkt.Header) { h.CodePage = "US-ASCII" }},
			{"code page switched, unsigned", []syncpkt.Record{
				&syncpkt.Setting{Key: "code_page", Value: "5 US-ASCII"},
			}, func(h *syncpkt.Header) { h.CodePage = "US-ASCII" }},
			{"code page switched, claiming the schema master", []syncpkt.Record{
				signSetting(family, key, boston.id, &syncpkt.Setting{Key: "code_page", Value: "5 US-ASCII"}),
			}, func(h *syncpkt.Header) { h.CodePage = "US-ASCII" }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				requireRefused(t, boston, forgeHeader(t, blr, boston, tt.edit, tt.recs...), multisite.ErrAuthority)
			})
		}
		// Boston's users still write (the code page did not narrow), the
		// schema master is still boston and its migration still reaches
		// bangalore.
		mustExec(t, boston.db, `INSERT INTO project (code, title) VALUES ('UTF', 'Zürich – 東京')`)
		r, err := multisite.SchemaStatus(ctx, boston.db)
		require.NoError(t, err)
		require.Equal(t, string(boston.id), r.SchemaMaster)
		genuineSyncStillWorks(t, boston, blr)
		_, err = multisite.Migrate(ctx, boston.db, []schema.Migration{{Version: 1, Name: "note", Up: "ALTER TABLE project ADD COLUMN note VARCHAR(40)"}}, multisite.MigrateOptions{})
		require.NoError(t, err)
		syncPair(t, boston, blr)
		require.Equal(t, "1", queryString(t, blr.db, `SELECT schema_version FROM ms_ctl`))
		genuineSyncStillWorks(t, blr, boston)
	})
}

func TestAuthority_HostileEpochClaims(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 3, "boston", "bangalore", "dublin")
		boston, blr, dublin := sites[0], sites[1], sites[2]
		// Dublin makes a change that reaches boston directly: boston holds
		// dublin's statement that it sealed epoch e.
		mustExec(t, dublin.db, `INSERT INTO project (code, title) VALUES ('DUB', 'dublin')`)
		syncPair(t, dublin, boston)
		syncPair(t, boston, blr)
		st, err := multisite.ReadStatus(ctx, dublin.db)
		require.NoError(t, err)
		dublinSealed := st.Epoch
		require.NotZero(t, dublinSealed)
		bst, err := multisite.ReadStatus(ctx, boston.db)
		require.NoError(t, err)
		bostonSealed := bst.Epoch
		family, key := memberKey(t, blr)

		t.Run("huge claim on the receiver's own epochs", func(t *testing.T) {
			pkt := forgeHeader(t, blr, boston, func(h *syncpkt.Header) { h.Upto[string(boston.id)] = 1<<63 - 1 })
			requireRefused(t, boston, pkt, multisite.ErrEpochClaim, multisite.ErrPacket)
		})
		for name, field := range map[string]func(h *syncpkt.Header) map[string]uint64{
			"Base": func(h *syncpkt.Header) map[string]uint64 { return h.Base },
			"Gaps": func(h *syncpkt.Header) map[string]uint64 { return h.Gaps },
		} {
			t.Run("huge "+name, func(t *testing.T) {
				pkt := forgeHeader(t, blr, boston, func(h *syncpkt.Header) { field(h)[string(dublin.id)] = 1 << 62 })
				requireRefused(t, boston, pkt, multisite.ErrEpochClaim, multisite.ErrPacket)
			})
		}
		t.Run("huge claim in an acknowledgement", func(t *testing.T) {
			pkt := forgeHeader(t, blr, boston, func(h *syncpkt.Header) {
				h.Kind, h.Base = syncpkt.KindAck, map[string]uint64{}
				h.Upto[string(boston.id)] = 1<<63 - 1
			})
			requireRefused(t, boston, pkt, multisite.ErrEpochClaim, multisite.ErrPacket)
		})
		t.Run("acknowledgement claiming the receiver's own epochs beyond what it sealed is capped", func(t *testing.T) {
			pkt := forgeHeader(t, blr, boston, func(h *syncpkt.Header) {
				h.Kind, h.Base = syncpkt.KindAck, map[string]uint64{}
				h.Upto[string(boston.id)] = bostonSealed + 100
				h.Upto[string(dublin.id)] = 1000
			})
			importInto(t, boston, pkt)
			st, err := multisite.ReadStatus(ctx, boston.db)
			require.NoError(t, err)
			if got := st.Matrix[blr.id][boston.id]; got > bostonSealed {
				t.Errorf("boston believes bangalore holds its epoch %d; it sealed %d", got, bostonSealed)
			}
			if got := st.Matrix[blr.id][dublin.id]; got > dublinSealed {
				t.Errorf("boston believes bangalore holds dublin's epoch %d; dublin sealed %d", got, dublinSealed)
			}
		})
		t.Run("claim on the receiver's own epochs beyond what it sealed", func(t *testing.T) {
			pkt := forgeHeader(t, blr, boston, func(h *syncpkt.Header) { h.Upto[string(boston.id)] = bostonSealed + 100 })
			requireRefused(t, boston, pkt, multisite.ErrEpochClaim)
		})
		t.Run("sealed statement forged for the receiver", func(t *testing.T) {
			s := &syncpkt.Sealed{Replica: string(boston.id), Epoch: bostonSealed + 100}
			s.Proof = ed25519.Sign(key, syncpkt.SealedMessage(family, s))
			pkt := forgeHeader(t, blr, boston, func(h *syncpkt.Header) { h.Upto[string(boston.id)] = bostonSealed + 100 }, s)
			requireRefused(t, boston, pkt, multisite.ErrAuthority)
		})
		t.Run("sealed statement forged for a third replica", func(t *testing.T) {
			s := &syncpkt.Sealed{Replica: string(dublin.id), Epoch: 1000}
			s.Proof = ed25519.Sign(key, syncpkt.SealedMessage(family, s))
			pkt := forgeHeader(t, blr, boston, func(h *syncpkt.Header) { h.Upto[string(dublin.id)] = 1000 }, s)
			requireRefused(t, boston, pkt, multisite.ErrAuthority)
		})
		t.Run("claim for a third replica beyond its statement is not believed", func(t *testing.T) {
			pkt := forgeHeader(t, blr, boston, func(h *syncpkt.Header) {
				h.Upto[string(dublin.id)] = 1000
				h.Upto["no-such-replica"] = 7
			})
			calls := 0
			_, err := multisite.ImportPacket(ctx, boston.db, bytes.NewReader(pkt), multisite.ImportOptions{Hooks: countingHooks(&calls)})
			require.NoError(t, err)
			st, err := multisite.ReadStatus(ctx, boston.db)
			require.NoError(t, err)
			for _, holder := range []replica.ID{boston.id, blr.id} {
				if got := st.Matrix[holder][dublin.id]; got > dublinSealed {
					t.Errorf("boston believes %s holds dublin's epoch %d; dublin sealed %d", holder, got, dublinSealed)
				}
				if _, ok := st.Matrix[holder]["no-such-replica"]; ok {
					t.Errorf("boston took a claim on a replica no one knows")
				}
			}
			// What boston tells others of dublin stays what dublin vouched.
			h, err := syncpkt.NewReader(bytes.NewReader(export(t, boston, blr)), syncpkt.ReaderOptions{}).Header()
			require.NoError(t, err)
			if h.Upto[string(dublin.id)] > dublinSealed {
				t.Errorf("boston's export claims dublin's epoch %d; dublin sealed %d", h.Upto[string(dublin.id)], dublinSealed)
			}
		})
		t.Run("gap report cannot make the receiver forget an acknowledgement", func(t *testing.T) {
			before := queryString(t, boston.db, `SELECT count(*) FROM ms_sent WHERE epoch < (SELECT epoch FROM ms_vector v WHERE v.holder = ms_sent.target AND v.origin = ms_sent.origin)`)
			pkt := forgeHeader(t, blr, boston, func(h *syncpkt.Header) {
				h.Gaps[string(boston.id)] = 0
				h.Gaps[string(dublin.id)] = 0
			})
			importInto(t, boston, pkt)
			after := queryString(t, boston.db, `SELECT count(*) FROM ms_sent WHERE epoch < (SELECT epoch FROM ms_vector v WHERE v.holder = ms_sent.target AND v.origin = ms_sent.origin)`)
			require.Equal(t, before, after, "ms_sent lowered below what the target acknowledged")
		})
		// Boston still exports and seals; everyone still syncs.
		genuineSyncStillWorks(t, boston, blr)
		mustExec(t, dublin.db, `INSERT INTO project (code, title) VALUES ('DU2', 'dublin again')`)
		syncPair(t, dublin, boston)
		syncPair(t, boston, blr)
		syncPair(t, blr, boston)
		syncPair(t, boston, dublin)
		requireConverged(t, boston, blr, dublin)
	})
}

// TestAuthority_GenuineSettingsThroughAHub: the schema master's migration,
// code page change and hand-over of the schema reach a replica that hears
// only from a hub, with the master's proofs forwarded and verified; the new
// schema master's migration travels back the same way.
func TestAuthority_GenuineSettingsThroughAHub(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 3, "boston", "bangalore", "dublin")
		a, hub, c := sites[0], sites[1], sites[2]
		migs := []schema.Migration{{Version: 1, Name: "note", Up: "ALTER TABLE project ADD COLUMN note VARCHAR(40)"}}
		_, err := multisite.Migrate(ctx, a.db, migs, multisite.MigrateOptions{})
		require.NoError(t, err)
		require.NoError(t, multisite.ChangeCodePage(ctx, a.db, "windows-1252"))
		// The master's genuine migration text (its inner signature holds)
		// forwarded without the master's proof of the setting is refused.
		hfamily, hkey := memberKey(t, hub)
		body := queryString(t, a.db, `SELECT body FROM ms_migration WHERE version = 1`)
		unproven := &syncpkt.Setting{Key: "ms.migration", Value: body, Signer: string(a.id)}
		unproven.Proof = ed25519.Sign(hkey, syncpkt.SettingMessage(hfamily, unproven))
		requireRefused(t, c, forgeHeader(t, hub, c, func(h *syncpkt.Header) { h.SchemaVersion = 1 }, unproven), multisite.ErrAuthority)
		syncPair(t, a, hub)
		rep := syncPair(t, hub, c)
		require.Equal(t, []int64{1}, rep.Migrated)
		require.Equal(t, "windows-1252", rep.CodePage)
		for _, s := range []*site{hub, c} {
			require.Equal(t, "1", queryString(t, s.db, `SELECT schema_version FROM ms_ctl`), s.name)
			require.Equal(t, "windows-1252", queryString(t, s.db, `SELECT code_page FROM ms_ctl`), s.name)
			require.Equal(t, "2", queryString(t, s.db, `SELECT count(*) FROM ms_proof`), s.name+": stored proofs")
		}
		// A replica the hub creates now keeps the proofs and the sealed
		// statements it was given, to forward them in turn.
		var buf bytes.Buffer
		info, _, err := multisite.Replicate(ctx, hub.db, "eton", &buf, multisite.ReplicateOptions{})
		require.NoError(t, err)
		eton := &site{name: "eton", db: open("eton"), id: info.ID}
		_, err = multisite.CreateReplica(ctx, eton.db, &buf, multisite.CreateOptions{})
		require.NoError(t, err)
		require.Equal(t, "2", queryString(t, eton.db, `SELECT count(*) FROM ms_proof`), "eton: stored proofs")
		require.NotEqual(t, "0", queryString(t, eton.db, `SELECT count(*) FROM ms_sealed`), "eton: sealed statements")
		// A member that is not the schema master may not change the code
		// page at all.
		var nsm *schema.NotSchemaMasterError
		require.ErrorAs(t, multisite.ChangeCodePage(ctx, c.db, "UTF-8"), &nsm)
		// The schema passes to dublin, which hears of it through the hub.
		require.NoError(t, multisite.TransferSchemaMaster(ctx, a.db, c.id))
		syncPair(t, a, hub)
		syncPair(t, hub, c)
		r, err := multisite.SchemaStatus(ctx, c.db)
		require.NoError(t, err)
		require.Equal(t, string(c.id), r.SchemaMaster)
		migs = append(migs, schema.Migration{Version: 2, Name: "owner", Up: "ALTER TABLE project ADD COLUMN owner VARCHAR(40)"})
		_, err = multisite.Migrate(ctx, c.db, migs, multisite.MigrateOptions{})
		require.NoError(t, err)
		require.NoError(t, multisite.ChangeCodePage(ctx, c.db, "UTF-8"))
		syncPair(t, c, hub)
		rep = syncPair(t, hub, a)
		require.Equal(t, []int64{2}, rep.Migrated)
		require.Equal(t, "UTF-8", queryString(t, a.db, `SELECT code_page FROM ms_ctl`))
		// The former master's code page change is refused now.
		family, key := memberKey(t, a)
		pkt := forgeHeader(t, a, hub, func(h *syncpkt.Header) { h.CodePage = "US-ASCII" },
			signSetting(family, key, a.id, &syncpkt.Setting{Key: "code_page", Value: "9 US-ASCII"}))
		requireRefused(t, hub, pkt, multisite.ErrAuthority)
		mustExec(t, a.db, `INSERT INTO project (code, title, note, owner) VALUES ('NEW', 'after', 'n', 'o')`)
		syncPair(t, a, hub)
		syncPair(t, hub, c)
		syncPair(t, c, hub)
		syncPair(t, hub, a)
		requireConverged(t, a, hub, c)
	})
}
