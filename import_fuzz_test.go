package multisite_test

// Fuzz targets for the decoders above syncpkt: ImportPacket and
// CreateReplica, fed arbitrary bytes, and ImportPacket fed packets that are
// correctly signed by a member of the family but whose records were
// mutated (a buggy or hostile member). Errors are fine; a panic is a bug,
// and so is a refused packet that changed the database.
//
//	go test -run '^$' -fuzz FuzzImportPacket -fuzztime 60s -parallel 1 .

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/syncpkt"
	"github.com/stretchr/testify/require"
)

// fuzzFixture is a three-replica family whose receiver, bangalore, is
// restored from a template file whenever a packet applies, so that every
// input meets the same database.
type fuzzFixture struct {
	sites []*site           // boston, bangalore, dublin
	pkts  [][]byte          // real sync packets to bangalore
	keys  map[string][]byte // private key of each origin, by replica ID
	tmpl  []byte            // bangalore's file
	path  string            // where bangalore lives
	want  string            // bangalore's fingerprint
}

func newFuzzFixture(tb testing.TB) *fuzzFixture {
	sites := newFamily(tb, 4, "boston", "bangalore", "dublin")
	boston, blr, dub := sites[0], sites[1], sites[2]
	fx := &fuzzFixture{sites: sites, keys: map[string][]byte{}}
	for _, s := range []*site{boston, dub} {
		var key []byte
		require.NoError(tb, s.db.QueryRow(`SELECT private_key FROM ms_ctl`).Scan(&key))
		fx.keys[string(s.id)] = key
	}
	// Packets with every kind of record: inserts in all three tables,
	// updates, a delete, transfers, and a creation conflict.
	mustExec(tb, boston.db, `UPDATE defect SET headline = 'changed', attachment = x'0102' WHERE id = 2`)
	mustExec(tb, boston.db, `DELETE FROM defect WHERE id = 3`)
	mustExec(tb, boston.db, `INSERT INTO project (code, title) VALUES ('NEW', 'from boston')`)
	mustExec(tb, boston.db, `INSERT INTO defect_tag (defect_id, tag, note) VALUES (4, 'fuzz', 'é')`)
	_, err := multisite.TransferMastership(ctx, boston.db, "defect", dub.id, []any{int64(1)})
	require.NoError(tb, err)
	_, err = multisite.TransferMastership(ctx, boston.db, "defect_tag", blr.id, []any{int64(1), "crash"})
	require.NoError(tb, err)
	fx.pkts = append(fx.pkts, export(tb, boston, blr))
	mustExec(tb, dub.db, `INSERT INTO project (code, title) VALUES ('NEW', 'rival from dublin')`) // conflicts with boston's
	syncPair(tb, boston, dub)
	mustExec(tb, dub.db, `UPDATE defect SET owner = 'dora', score = 2.5 WHERE id = 1`)
	id, err := multisite.NextID(ctx, dub.db, nil, "defect")
	require.NoError(tb, err)
	mustExec(tb, dub.db, `INSERT INTO defect (id, project, headline) VALUES (?, 'UI', 'from dublin')`, id)
	fx.pkts = append(fx.pkts, export(tb, dub, blr))

	// bangalore's template: one file, WAL empty.
	dir := tb.TempDir()
	tmpl := filepath.Join(dir, "tmpl.db")
	_, err = blr.db.Exec(`VACUUM INTO ?`, tmpl)
	require.NoError(tb, err)
	fx.tmpl, err = os.ReadFile(tmpl)
	require.NoError(tb, err)
	fx.path = filepath.Join(dir, "bangalore.db")
	fx.restore(tb)
	fx.want = fx.fingerprint(tb)
	return fx
}

func (fx *fuzzFixture) blr() *site { return fx.sites[1] }

// restore puts bangalore back to the template.
func (fx *fuzzFixture) restore(tb testing.TB) {
	s := fx.blr()
	s.db.Close()
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(fx.path + suffix)
	}
	require.NoError(tb, os.WriteFile(fx.path, fx.tmpl, 0o600))
	db, err := sql.Open("sqlite", testdb.SQLiteDSN(fx.path)+"&_pragma=synchronous(OFF)")
	require.NoError(tb, err)
	s.db = db
}

// fingerprint is bangalore's content hash plus the metadata an import
// changes: registry, vectors, conflicts, transfer logs.
func (fx *fuzzFixture) fingerprint(tb testing.TB) string {
	db := fx.blr().db
	h, err := multisite.ContentHash(ctx, db)
	if err != nil {
		tb.Fatalf("content hash: %v", err)
	}
	var meta sql.NullString
	err = db.QueryRow(`SELECT (SELECT group_concat(id || ':' || version || ':' || state, ',') FROM ms_replica)
		|| '|' || (SELECT group_concat(holder || ':' || origin || ':' || epoch, ',') FROM ms_vector)
		|| '|' || (SELECT count(*) FROM ms_conflict)
		|| '|' || (SELECT count(*) FROM ms_xfer_defect) || '|' || (SELECT count(*) FROM ms_xfer_defect_tag)
		|| '|' || (SELECT group_concat(ms_version || ms_master || ms_creator || ms_deleted, ',') FROM ms_row_defect)`).Scan(&meta)
	if err != nil {
		tb.Fatalf("fingerprint: %v", err)
	}
	return h + "|" + meta.String
}

// check imports b into bangalore: if it is refused nothing may have
// changed; if it applies, applying it again must change nothing more.
func (fx *fuzzFixture) check(t *testing.T, b []byte) error {
	ctxb := context.Background()
	_, err := multisite.ImportPacket(ctxb, fx.blr().db, bytes.NewReader(b), multisite.ImportOptions{MaxPacketSize: 1 << 20})
	if err != nil {
		if got := fx.fingerprint(t); got != fx.want {
			fx.restore(t)
			t.Fatalf("refused packet (%v) changed bangalore:\nbefore %s\nafter  %s", err, fx.want, got)
		}
		return err
	}
	defer fx.restore(t)
	once := fx.fingerprint(t)
	if _, err := multisite.ImportPacket(ctxb, fx.blr().db, bytes.NewReader(b), multisite.ImportOptions{}); err != nil {
		t.Fatalf("packet applied once but not twice: %v", err)
	}
	if twice := fx.fingerprint(t); twice != once {
		t.Fatalf("importing a packet twice changed bangalore again:\nonce  %s\ntwice %s", once, twice)
	}
	return nil
}

// FuzzImportPacket feeds arbitrary bytes, seeded with real packets, to
// ImportPacket.
func FuzzImportPacket(f *testing.F) {
	fx := newFuzzFixture(f)
	for _, p := range fx.pkts {
		f.Add(p)
	}
	f.Add([]byte{})
	f.Add([]byte("MSPK"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fx.check(t, b)
	})
}

// FuzzImportSignedRecords decodes a real packet, mutates its header and
// records as ops directs, and signs the result with the origin's own key,
// so the importer's checks beyond the signature are what is tested.
func FuzzImportSignedRecords(f *testing.F) {
	fx := newFuzzFixture(f)
	type decoded struct {
		h    syncpkt.Header
		recs []syncpkt.Record
	}
	var pkts []decoded
	for _, p := range fx.pkts {
		r := syncpkt.NewReader(bytes.NewReader(p), syncpkt.ReaderOptions{})
		h, err := r.Header()
		require.NoError(f, err)
		d := decoded{h: *h}
		for {
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			require.NoError(f, err)
			d.recs = append(d.recs, rec)
		}
		pkts = append(pkts, d)
	}
	ids := []string{"bogus"}
	for _, s := range fx.sites {
		ids = append(ids, string(s.id))
	}
	for i := range pkts {
		f.Add(uint8(i), []byte{})
		f.Add(uint8(i), []byte{0, 1, 200, 1, 2, 1, 5, 0, 0})
		f.Add(uint8(i), []byte{2, 3, 1, 13, 1, 0, 8, 0, 9})
	}
	f.Fuzz(func(t *testing.T, which uint8, ops []byte) {
		src := pkts[int(which)%len(pkts)]
		h := src.h
		h.Base, h.Upto = cloneVector(h.Base), cloneVector(h.Upto)
		recs := make([]syncpkt.Record, len(src.recs))
		for i, r := range src.recs {
			recs[i] = cloneRecord(r)
		}
		for k := 0; k+2 < len(ops) && k < 60; k += 3 {
			recs = mutate(&h, recs, ids, ops[k], int(ops[k+1]), ops[k+2])
		}
		var buf bytes.Buffer
		w, err := syncpkt.NewWriter(&buf, h, syncpkt.WriterOptions{Sign: syncpkt.Ed25519Signer(ed25519.PrivateKey(fx.keys[h.Origin]))})
		if err != nil {
			return
		}
		for _, r := range recs {
			if err := w.Write(r); err != nil {
				return // not encodable: syncpkt's business
			}
		}
		if err := w.Close(); err != nil {
			return
		}
		fx.check(t, buf.Bytes())
	})
}

func cloneVector(v map[string]uint64) map[string]uint64 {
	out := map[string]uint64{}
	for k, e := range v {
		out[k] = e
	}
	return out
}

func cloneRecord(r syncpkt.Record) syncpkt.Record {
	switch x := r.(type) {
	case *syncpkt.Row:
		c := *x
		c.Values = slices.Clone(x.Values)
		return &c
	case *syncpkt.Transfer:
		c := *x
		c.Key = slices.Clone(x.Key)
		return &c
	case *syncpkt.Table:
		c := *x
		c.Columns = slices.Clone(x.Columns)
		return &c
	case *syncpkt.Replica:
		c := *x
		return &c
	}
	return r
}

// mutate applies one mutation, chosen by op, to record i (modulo the count)
// with argument v.
func mutate(h *syncpkt.Header, recs []syncpkt.Record, ids []string, op byte, i int, v byte) []syncpkt.Record {
	if len(recs) == 0 {
		return recs
	}
	i %= len(recs)
	id := ids[int(v)%len(ids)]
	values := []syncpkt.Value{syncpkt.Null(), syncpkt.Int(int64(v)), syncpkt.Int(-1), syncpkt.Text(string(rune(v))), syncpkt.Blob([]byte{v}), syncpkt.Float(float64(v) / 3), syncpkt.Text("NEW"), syncpkt.Int(1)}
	val := values[int(v)%len(values)]
	switch op % 16 {
	case 0: // row version
		if r, ok := recs[i].(*syncpkt.Row); ok {
			r.Version += uint64(int64(v) - 128)
		}
	case 1:
		if r, ok := recs[i].(*syncpkt.Row); ok {
			r.Master = id
		}
	case 2:
		if r, ok := recs[i].(*syncpkt.Row); ok {
			r.Origin = id
		}
	case 3:
		if r, ok := recs[i].(*syncpkt.Row); ok {
			r.Creator = id
		}
	case 4:
		if r, ok := recs[i].(*syncpkt.Row); ok {
			r.Epoch = uint64(v)
		}
	case 5:
		if r, ok := recs[i].(*syncpkt.Row); ok {
			r.Deleted = !r.Deleted
		}
	case 6: // a value, key columns included
		if r, ok := recs[i].(*syncpkt.Row); ok && len(r.Values) > 0 {
			r.Values[int(v>>4)%len(r.Values)] = val
		}
	case 7:
		if x, ok := recs[i].(*syncpkt.Transfer); ok {
			switch v % 4 {
			case 0:
				x.From = id
			case 1:
				x.To = id
			case 2:
				x.Version += uint64(int64(v) - 128)
			default:
				x.Key[0] = val
			}
		}
	case 8:
		h.Upto[ids[int(v)%len(ids)]] = uint64(i)
	case 9:
		h.Base[ids[int(v)%len(ids)]] = uint64(i)
	case 10: // drop a record
		return slices.Delete(recs, i, i+1)
	case 11: // duplicate a record
		return slices.Insert(recs, i, cloneRecord(recs[i]))
	case 12: // swap two records
		j := int(v) % len(recs)
		recs[i], recs[j] = recs[j], recs[i]
	case 13:
		if t, ok := recs[i].(*syncpkt.Table); ok && len(t.Columns) > 0 {
			c := &t.Columns[int(v)%len(t.Columns)]
			switch v % 3 {
			case 0:
				c.Name += "x"
			case 1:
				t.Name = []string{"defect", "project", "defect_tag", "ms_ctl", "ms_row_defect", "nosuch"}[int(v)%6]
			default:
				if c.Key == 0 {
					c.Key = len(t.Columns)
				} else {
					c.Key = 0
				}
			}
		}
	case 14:
		if r, ok := recs[i].(*syncpkt.Replica); ok {
			switch v % 4 {
			case 0:
				r.Version += uint64(v)
			case 1:
				r.State = []string{string(replica.Removed), string(replica.ReceiveOnly), "bogus"}[int(v)%3]
			case 2:
				r.Number = int64(v % 4)
			default:
				r.PublicKey = r.PublicKey[:int(v)%len(r.PublicKey)]
			}
		}
	case 15:
		h.Target = id
	}
	return recs
}
