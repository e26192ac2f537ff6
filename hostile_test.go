package multisite_test

import (
	"bytes"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/multisite-go/multisite/mastership"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/schema"
	"github.com/multisite-go/multisite/syncpkt"
	"github.com/stretchr/testify/require"
)

// forge writes a packet signed with s's own key, as a hostile member of the
// family could, holding whatever records it likes.
func forge(t *testing.T, s, target *site, recs ...syncpkt.Record) []byte {
	t.Helper()
	var key []byte
	var family string
	require.NoError(t, s.db.QueryRow(`SELECT private_key, family FROM ms_ctl`).Scan(&key, &family))
	st, err := multisite.ReadStatus(ctx, s.db)
	require.NoError(t, err)
	upto := map[string]uint64{}
	for o, e := range st.Matrix[s.id] {
		upto[string(o)] = e
	}
	h := syncpkt.Header{Kind: syncpkt.KindSync, Family: family, Origin: string(s.id), Target: string(target.id),
		CodePage: st.CodePage, Created: time.Now(), Base: map[string]uint64{}, Upto: upto}
	var buf bytes.Buffer
	w, err := syncpkt.NewWriter(&buf, h, syncpkt.WriterOptions{Sign: syncpkt.Ed25519Signer(ed25519.PrivateKey(key))})
	require.NoError(t, err)
	for _, r := range recs {
		require.NoError(t, w.Write(r))
	}
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// resignWithOtherKey writes pkt's header and records again, signed by a
// key of no member.
func resignWithOtherKey(t *testing.T, pkt []byte) []byte {
	t.Helper()
	_, other, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	h, err := syncpkt.NewReader(bytes.NewReader(pkt), syncpkt.ReaderOptions{}).Header()
	require.NoError(t, err)
	var buf bytes.Buffer
	w, err := syncpkt.NewWriter(&buf, *h, syncpkt.WriterOptions{Sign: syncpkt.Ed25519Signer(other)})
	require.NoError(t, err)
	for _, rec := range records(t, pkt) {
		require.NoError(t, w.Write(rec))
	}
	require.NoError(t, w.Close())
	return buf.Bytes()
}

func projectTable() *syncpkt.Table {
	return &syncpkt.Table{Name: "project", Columns: []syncpkt.Column{
		{Name: "code", Type: "TEXT", Key: 1},
		{Name: "title", Type: "TEXT", NotNull: true},
	}}
}

func TestImport_HostileMemberCannotChangeRowsItDoesNotMaster(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 3, "boston", "bangalore")
		boston, blr := sites[0], sites[1]
		before := dump(t, boston.db)
		hostile := string(blr.id)
		tests := []struct {
			name string
			recs []syncpkt.Record
			want error
		}{
			{"update of a row boston masters", []syncpkt.Record{projectTable(),
				&syncpkt.Row{Version: 99, Master: hostile, Origin: hostile, Creator: string(boston.id), Epoch: 1,
					Values: []syncpkt.Value{syncpkt.Text("CORE"), syncpkt.Text("stolen")}}}, mastership.ErrNotMaster},
			{"delete of a row boston masters", []syncpkt.Record{projectTable(),
				&syncpkt.Row{Version: 99, Master: string(boston.id), Origin: hostile, Creator: string(boston.id), Epoch: 1, Deleted: true,
					Values: []syncpkt.Value{syncpkt.Text("UI"), syncpkt.Null()}}}, mastership.ErrNotMaster},
			{"forged transfer chain", []syncpkt.Record{projectTable(),
				// A transfer "from" someone who is not the master does not make
				// the forger master: without its From's proof it is refused
				// (proof_test.go has the signed forgeries).
				&syncpkt.Transfer{Table: "project", Key: []syncpkt.Value{syncpkt.Text("CORE")}, Version: 5, From: hostile, To: hostile, Epoch: 1},
				&syncpkt.Row{Version: 6, Master: hostile, Origin: hostile, Creator: string(boston.id), Epoch: 1,
					Values: []syncpkt.Value{syncpkt.Text("CORE"), syncpkt.Text("stolen")}}}, multisite.ErrProof},
			{"table not in the schema", []syncpkt.Record{&syncpkt.Table{Name: "defect; DROP TABLE defect", Columns: []syncpkt.Column{{Name: "id", Key: 1}}}}, schema.ErrUnknownTable},
			{"quoted table name", []syncpkt.Record{&syncpkt.Table{Name: `project"`, Columns: projectTable().Columns}}, schema.ErrUnknownTable},
			{"look-alike table name", []syncpkt.Record{&syncpkt.Table{Name: "prоject", Columns: projectTable().Columns}}, schema.ErrUnknownTable}, // Cyrillic о
			{"unknown column", []syncpkt.Record{&syncpkt.Table{Name: "project", Columns: []syncpkt.Column{
				{Name: "code", Type: "TEXT", Key: 1}, {Name: "title`; DROP TABLE project; --", Type: "TEXT"}}}}, schema.ErrUnknownTable},
			{"row mastered by an unknown replica", []syncpkt.Record{projectTable(),
				&syncpkt.Row{Version: 1, Master: "ghost", Origin: hostile, Creator: hostile, Epoch: 1,
					Values: []syncpkt.Value{syncpkt.Text("NEW"), syncpkt.Text("x")}}}, replica.ErrUnknown},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				pkt := forge(t, blr, boston, tt.recs...)
				_, err := multisite.ImportPacket(ctx, boston.db, bytes.NewReader(pkt), multisite.ImportOptions{})
				if !errors.Is(err, tt.want) {
					t.Fatalf("ImportPacket error = %v, want %v", err, tt.want)
				}
				if diff := cmp.Diff(before, dump(t, boston.db)); diff != "" {
					t.Errorf("hostile packet changed data (-before +after):\n%s", diff)
				}
			})
		}
		// The tables are all still there.
		for _, table := range []string{"project", "defect", "defect_tag"} {
			queryString(t, boston.db, "SELECT count(*) FROM "+table)
		}
	})
}

func TestImport_PacketSignedByAnotherKeyIsRefused(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 3, "boston", "bangalore")
		boston, blr := sites[0], sites[1]
		mustExec(t, blr.db, `INSERT INTO project (code, title) VALUES ('B', 'bangalore project')`)
		pkt := export(t, blr, boston)
		// Re-sign the same content with another key: the origin's registry key
		// no longer matches.
		resigned := resignWithOtherKey(t, pkt)
		before := dump(t, boston.db)
		if _, err := multisite.ImportPacket(ctx, boston.db, bytes.NewReader(resigned), multisite.ImportOptions{}); !errors.Is(err, syncpkt.ErrSignature) {
			t.Fatalf("error = %v, want ErrSignature", err)
		}
		if diff := cmp.Diff(before, dump(t, boston.db)); diff != "" {
			t.Errorf("data changed:\n%s", diff)
		}
		importInto(t, boston, pkt) // the genuine one applies
	})
}

func TestImport_MaxPacketSize(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 200, "boston", "bangalore")
		boston, blr := sites[0], sites[1]
		mustExec(t, boston.db, `UPDATE defect SET headline = 'edited, and so in the packet'`)
		pkt := export(t, boston, blr)
		before := contentHash(t, blr)
		_, err := multisite.ImportPacket(ctx, blr.db, bytes.NewReader(pkt), multisite.ImportOptions{MaxPacketSize: int64(len(pkt) / 2)})
		if !errors.Is(err, syncpkt.ErrTooLarge) {
			t.Fatalf("error = %v, want ErrTooLarge", err)
		}
		if contentHash(t, blr) != before {
			t.Errorf("oversize packet changed data")
		}
	})
}

func TestImport_MaxRowSize(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 3, "boston", "bangalore")
		boston, blr := sites[0], sites[1]
		mustExec(t, boston.db, `UPDATE defect SET attachment = ? WHERE id = 1`, make([]byte, 100000))
		pkt := export(t, boston, blr)
		before := contentHash(t, blr)
		_, err := multisite.ImportPacket(ctx, blr.db, bytes.NewReader(pkt), multisite.ImportOptions{MaxRowSize: 10000})
		if !errors.Is(err, syncpkt.ErrTooLarge) {
			t.Fatalf("error = %v, want ErrTooLarge", err)
		}
		if contentHash(t, blr) != before {
			t.Errorf("oversize row changed data")
		}
		importInto(t, blr, pkt)
	})
}

func TestCreateReplica_Refusals(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		boston := &site{name: "boston", db: open("boston")}
		seedTracker(t, boston.db, 5)
		info, err := multisite.Activate(ctx, boston.db, multisite.ActivateOptions{Name: "boston"})
		require.NoError(t, err)
		var pkt bytes.Buffer
		_, _, err = multisite.Replicate(ctx, boston.db, "bangalore", &pkt, multisite.ReplicateOptions{})
		require.NoError(t, err)
		_, wrong, _ := ed25519.GenerateKey(nil)

		tests := []struct {
			name  string
			setup func(t *testing.T, s *site)
			pkt   []byte
			opt   multisite.CreateOptions
			want  error
		}{
			{"database has the table already", func(t *testing.T, s *site) {
				mustExec(t, s.db, `CREATE TABLE project (code VARCHAR(32) PRIMARY KEY, title TEXT)`)
			}, pkt.Bytes(), multisite.CreateOptions{}, multisite.ErrTableExists},
			{"database is a replica already", func(t *testing.T, s *site) {
				seedTracker(t, s.db, 1)
				_, err := multisite.Activate(ctx, s.db, multisite.ActivateOptions{Name: "x", Exclude: []string{"defect", "defect_tag", "project"}})
				require.NoError(t, err)
			}, pkt.Bytes(), multisite.CreateOptions{}, multisite.ErrActivated},
			{"pinned origin key differs", nil, pkt.Bytes(), multisite.CreateOptions{OriginKey: wrong.Public().(ed25519.PublicKey)}, syncpkt.ErrSignature},
			{"truncated", nil, pkt.Bytes()[:pkt.Len()-100], multisite.CreateOptions{}, syncpkt.ErrTruncated},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := &site{name: "bangalore", db: open("bangalore")}
				if tt.setup != nil {
					tt.setup(t, s)
				}
				before := catalogOf(t, s.db)
				_, err := multisite.CreateReplica(ctx, s.db, bytes.NewReader(tt.pkt), tt.opt)
				if !errors.Is(err, tt.want) {
					t.Fatalf("error = %v, want %v", err, tt.want)
				}
				if diff := cmp.Diff(before, catalogOf(t, s.db)); diff != "" {
					t.Errorf("schema changed by a refused creation (-before +after):\n%s", diff)
				}
			})
		}
		t.Run("pinned key matches", func(t *testing.T) {
			s := open("bangalore")
			_, err := multisite.CreateReplica(ctx, s, bytes.NewReader(pkt.Bytes()), multisite.CreateOptions{OriginKey: info.PublicKey})
			require.NoError(t, err)
		})
	})
}

func TestImport_RefusesStringsOutsideTheCodePage(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		boston := &site{name: "boston", db: open("boston")}
		seedTracker(t, boston.db, 2)
		info, err := multisite.Activate(ctx, boston.db, multisite.ActivateOptions{Name: "boston", CodePage: "windows-1252"})
		require.NoError(t, err)
		boston.id = info.ID
		var pkt bytes.Buffer
		bi, _, err := multisite.Replicate(ctx, boston.db, "tokyo", &pkt, multisite.ReplicateOptions{})
		require.NoError(t, err)
		tokyo := &site{name: "tokyo", db: open("tokyo"), id: bi.ID}
		_, err = multisite.CreateReplica(ctx, tokyo.db, &pkt, multisite.CreateOptions{})
		require.NoError(t, err)
		require.NoError(t, multisite.SetState(ctx, tokyo.db, replica.Active))
		// tokyo's database does not enforce the family's code page (its
		// charset triggers are gone, as on a replica of an older library),
		// so a user there stores Japanese text; the import at boston
		// refuses it, naming the spot.
		dropCharsetTriggers(t, tokyo.db, "project")
		mustExec(t, tokyo.db, `INSERT INTO project (code, title) VALUES ('JP', '東京のプロジェクト')`)
		before := dump(t, boston.db)
		_, err = multisite.ImportPacket(ctx, boston.db, bytes.NewReader(export(t, tokyo, boston)), multisite.ImportOptions{})
		var ce *multisite.CharsetError
		if !errors.As(err, &ce) || !errors.Is(err, multisite.ErrCharset) {
			t.Fatalf("error = %v, want *CharsetError", err)
		}
		want := multisite.CharsetError{CodePage: "windows-1252", Table: "project", Key: "JP", Column: "title", Offset: 0, Rune: '東', Char: "東"}
		if diff := cmp.Diff(want, *ce); diff != "" {
			t.Errorf("CharsetError (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(before, dump(t, boston.db)); diff != "" {
			t.Errorf("data changed:\n%s", diff)
		}
	})
}

func TestRotateKey(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 3, "boston", "bangalore", "dublin")
		boston, blr, dub := sites[0], sites[1], sites[2]
		mustExec(t, blr.db, `INSERT INTO project (code, title) VALUES ('B1', 'before rotation')`)
		old := export(t, blr, boston) // signed with the old key, not yet imported

		info, err := multisite.RotateKey(ctx, blr.db)
		require.NoError(t, err)
		mustExec(t, blr.db, `INSERT INTO project (code, title) VALUES ('B2', 'after rotation')`)
		rep := recoverPair(t, blr, boston) // signed with the new key, endorsed by the old; covers the old packet
		if len(rep.RefusedKeys) != 0 {
			t.Fatalf("endorsed key refused: %v", rep.RefusedKeys)
		}
		st, err := multisite.ReadStatus(ctx, boston.db)
		require.NoError(t, err)
		for _, r := range st.Replicas {
			if r.ID == blr.id && !r.PublicKey.Equal(info.PublicKey) {
				t.Errorf("boston did not take bangalore's new key")
			}
		}
		// The rotation travels on: dublin hears of it from boston.
		syncPair(t, boston, dub)
		syncPair(t, blr, dub)

		// A packet signed with the old key before the change is still
		// bangalore's (dated before the rotation): it brings nothing new.
		rep = importInto(t, boston, old)
		require.True(t, rep.Duplicate)
		// One signed with the old key after the change is refused
		// (registry_test.go, TestRegistry_RetiredKey).
	})
}

func TestRotateKey_ForgedRotationIsRefused(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 3, "boston", "bangalore", "dublin")
		boston, blr, dub := sites[0], sites[1], sites[2]
		// Dublin, hostile, claims bangalore has a new key (one dublin holds).
		pub, priv, err := ed25519.GenerateKey(nil)
		require.NoError(t, err)
		st, err := multisite.ReadStatus(ctx, dub.db)
		require.NoError(t, err)
		var entry replica.Info
		for _, r := range st.Replicas {
			if r.ID == blr.id {
				entry = r
			}
		}
		forged := &syncpkt.Replica{ID: string(blr.id), Name: entry.Name, Number: entry.Number, PublicKey: pub,
			State: string(entry.State), Version: entry.Version + 1, KeySig: ed25519.Sign(priv, []byte("anything"))}
		before := dump(t, boston.db)
		if _, err := multisite.ImportPacket(ctx, boston.db, bytes.NewReader(forge(t, dub, boston, forged)), multisite.ImportOptions{}); !errors.Is(err, multisite.ErrRegistryProof) {
			t.Fatalf("forged rotation: error = %v, want ErrRegistryProof", err)
		}
		if diff := cmp.Diff(before, dump(t, boston.db)); diff != "" {
			t.Errorf("data changed:\n%s", diff)
		}
		// Bangalore's genuine packets still verify; the forged key signs nothing.
		syncPair(t, blr, boston)
	})
}

// TestImport_DecompressionBombIsCutAtTheLimit runs on SQLite alone: the
// limit is the packet reader's, met before any row reaches the database,
// and the bomb costs 256 MiB of memory per run.
func TestImport_DecompressionBombIsCutAtTheLimit(t *testing.T) {
	sites := newFamily(t, 3, "boston", "bangalore")
	boston, blr := sites[0], sites[1]
	// A genuine, signed packet whose one row holds 256 MiB of zeros: a few
	// hundred KB on the wire once compressed.
	mustExec(t, blr.db, `INSERT INTO project (code, title) VALUES ('Z', 'z')`)
	var key []byte
	var family string
	require.NoError(t, blr.db.QueryRow(`SELECT private_key, family FROM ms_ctl`).Scan(&key, &family))
	h := syncpkt.Header{Kind: syncpkt.KindSync, Family: family, Origin: string(blr.id), Target: string(boston.id),
		CodePage: "UTF-8", Created: time.Now(), Base: map[string]uint64{}, Upto: map[string]uint64{}}
	var buf bytes.Buffer
	w, err := syncpkt.NewWriter(&buf, h, syncpkt.WriterOptions{Sign: syncpkt.Ed25519Signer(ed25519.PrivateKey(key)), Compress: true, MaxFrame: 1 << 30})
	require.NoError(t, err)
	require.NoError(t, w.Write(projectTable()))
	require.NoError(t, w.Write(&syncpkt.Row{Version: 1, Master: string(blr.id), Origin: string(blr.id), Creator: string(blr.id), Epoch: 1,
		Values: []syncpkt.Value{syncpkt.Text("BOMB"), syncpkt.Text(string(make([]byte, 256<<20)))}}))
	require.NoError(t, w.Close())
	if buf.Len() > 4<<20 {
		t.Fatalf("bomb is %d bytes compressed", buf.Len())
	}
	before := contentHash(t, boston)
	_, err = multisite.ImportPacket(ctx, boston.db, bytes.NewReader(buf.Bytes()), multisite.ImportOptions{MaxPacketSize: 16 << 20})
	if !errors.Is(err, syncpkt.ErrTooLarge) {
		t.Fatalf("error = %v, want ErrTooLarge", err)
	}
	if contentHash(t, boston) != before {
		t.Error("bomb changed data")
	}
}
