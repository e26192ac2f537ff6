package multisite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/multisite-go/multisite/mastership"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/schema"
	"github.com/multisite-go/multisite/syncpkt"
	"github.com/stretchr/testify/require"
)

var ctx = context.Background()

// The tests in this file run on every configured dialect through
// testdb.ForEach (SQLite always; PostgreSQL and MariaDB when
// MULTISITE_TEST_POSTGRES and MULTISITE_TEST_MYSQL are set), each site in a
// database of its own that is dropped when the subtest ends.

func TestActivate_RefusesTablesWithoutPrimaryKey(t *testing.T) {
	testdb.ForEachParallel(t, testActivateRefusesTablesWithoutPrimaryKey)
}

func testActivateRefusesTablesWithoutPrimaryKey(t *testing.T, open func(string) *sql.DB) {
	db := open("boston")
	seedTracker(t, db, 3)
	testdb.Exec(t, db, `CREATE TABLE audit (at TEXT, what TEXT)`, `CREATE TABLE notes (body TEXT)`)
	before, catalog := dump(t, db), catalogOf(t, db)

	_, err := multisite.Activate(ctx, db, multisite.ActivateOptions{Name: "boston"})
	var nopk *schema.NoPrimaryKeyError
	if !errors.As(err, &nopk) || !errors.Is(err, schema.ErrNoPrimaryKey) {
		t.Fatalf("Activate error = %v, want *schema.NoPrimaryKeyError", err)
	}
	if diff := cmp.Diff([]string{"audit", "notes"}, nopk.Tables); diff != "" {
		t.Errorf("tables named (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, dump(t, db)); diff != "" {
		t.Errorf("database changed by a refused activation (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(catalog, catalogOf(t, db)); diff != "" {
		t.Errorf("refused activation changed the schema (-before +after):\n%s", diff)
	}

	// Excluding them works, and they stay plain tables.
	info, err := multisite.Activate(ctx, db, multisite.ActivateOptions{Name: "boston", Exclude: []string{"audit", "notes"}})
	require.NoError(t, err)
	st, err := multisite.ReadStatus(ctx, db)
	require.NoError(t, err)
	if diff := cmp.Diff([]string{"defect", "defect_tag", "project"}, st.Tables); diff != "" {
		t.Errorf("replicated tables (-want +got):\n%s", diff)
	}
	mustExec(t, db, `INSERT INTO audit VALUES ('now', 'not replicated')`)
	if m := queryString(t, db, `SELECT ms_master FROM defect WHERE id = 1`); m != string(info.ID) {
		t.Errorf("existing row mastered by %q, want %q", m, info.ID)
	}
	if _, err := multisite.Activate(ctx, db, multisite.ActivateOptions{Name: "again"}); !errors.Is(err, multisite.ErrActivated) {
		t.Errorf("second Activate error = %v, want ErrActivated", err)
	}
}

func TestPlanActivation_IsReadableAndChangesNothing(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		db := open("boston")
		seedTracker(t, db, 2)
		catalog := catalogOf(t, db)
		plan, err := multisite.PlanActivation(ctx, db, multisite.ActivateOptions{Name: "boston"})
		require.NoError(t, err)
		text := plan.String()
		d := dialectOf(t, db)
		desc, ok, err := d.Describe(ctx, db, "defect")
		require.NoError(t, err)
		require.True(t, ok)
		wants := []string{"CREATE TABLE ms_ctl", "ALTER TABLE " + d.Quote("defect") + " ADD COLUMN ms_master"}
		for _, trig := range d.TriggerNames(desc) {
			wants = append(wants, "CREATE TRIGGER "+d.Quote(trig))
		}
		for _, want := range wants {
			if !strings.Contains(text, want) {
				t.Errorf("plan lacks %q:\n%s", want, text)
			}
		}
		if diff := cmp.Diff(catalog, catalogOf(t, db)); diff != "" {
			t.Errorf("planning changed the schema (-before +after):\n%s", diff)
		}
	})
}

func TestReplicate_NewReplicaIsReceiveOnlyUntilActive(t *testing.T) {
	testdb.ForEachParallel(t, testReplicateNewReplicaIsReceiveOnlyUntilActive)
}

func testReplicateNewReplicaIsReceiveOnlyUntilActive(t *testing.T, open func(string) *sql.DB) {
	boston := &site{name: "boston", db: open("boston")}
	seedTracker(t, boston.db, 20)
	info, err := multisite.Activate(ctx, boston.db, multisite.ActivateOptions{Name: "boston"})
	require.NoError(t, err)
	boston.id = info.ID

	var pkt bytes.Buffer
	bi, st, err := multisite.Replicate(ctx, boston.db, "bangalore", &pkt, multisite.ReplicateOptions{})
	require.NoError(t, err)
	if st.Rows != 20+2+3 {
		t.Errorf("creation packet has %d rows, want 25", st.Rows)
	}
	blr := &site{name: "bangalore", db: open("bangalore"), id: bi.ID}
	rep, err := multisite.CreateReplica(ctx, blr.db, &pkt, multisite.CreateOptions{})
	require.NoError(t, err)
	if rep.Tables["defect"].Inserted != 20 {
		t.Errorf("created %d defects, want 20", rep.Tables["defect"].Inserted)
	}
	requireConverged(t, boston, blr)

	// Receive-only: users are kept out, whatever tool they use.
	if err := sqlExec(t, blr.db, `INSERT INTO project (code, title) VALUES ('X', 'x')`); err == nil {
		t.Fatal("insert at a receive-only replica succeeded")
	}
	if _, err := multisite.ExportPacket(ctx, blr.db, boston.id, io.Discard, multisite.ExportOptions{}); !errors.Is(err, replica.ErrReceiveOnly) {
		t.Errorf("export from receive-only = %v, want ErrReceiveOnly", err)
	}
	// ... but it receives (unidirectional sync).
	mustExec(t, boston.db, `UPDATE defect SET state = 'fixed' WHERE id = 3`)
	syncPair(t, boston, blr)
	requireConverged(t, boston, blr)

	require.NoError(t, multisite.SetState(ctx, blr.db, replica.Active))
	id, err := multisite.NextID(ctx, blr.db, nil, "defect")
	require.NoError(t, err)
	mustExec(t, blr.db, `INSERT INTO defect (id, project, headline) VALUES (?, 'CORE', 'found in Bangalore')`, id)
	syncPair(t, blr, boston)
	requireConverged(t, boston, blr)
	// Bangalore's activation reached Boston's registry.
	bst, err := multisite.ReadStatus(ctx, boston.db)
	require.NoError(t, err)
	for _, r := range bst.Replicas {
		if r.ID == blr.id && r.State != replica.Active {
			t.Errorf("boston sees bangalore as %s, want active", r.State)
		}
	}
}

func TestImport_PlainSQLWriteToForeignRowFailsNamingMaster(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 5, "boston", "bangalore")
		boston, blr := sites[0], sites[1]
		before := dump(t, blr.db)
		for _, q := range []string{
			`UPDATE defect SET state = 'closed' WHERE id = 1`,
			`DELETE FROM defect WHERE id = 2`,
			`UPDATE project SET title = 'mine now' WHERE code = 'CORE'`,
			`DELETE FROM defect_tag WHERE defect_id = 1`,
		} {
			err := sqlExec(t, blr.db, q)
			err = mastership.FromDriver(err)
			var nm *mastership.NotMasterError
			if !errors.As(err, &nm) {
				t.Fatalf("%s: error = %v, want *NotMasterError", q, err)
			}
			if nm.Master != boston.id || nm.By != blr.id {
				t.Errorf("%s: master %q by %q, want %q by %q", q, nm.Master, nm.By, boston.id, blr.id)
			}
			if !bytes.Contains([]byte(err.Error()), []byte(string(boston.id))) {
				t.Errorf("error does not name the master: %v", err)
			}
		}
		// A new row claiming another master is refused too.
		err := sqlExec(t, blr.db, `INSERT INTO project (code, title, ms_master) VALUES ('P', 'p', ?)`, string(boston.id))
		if !errors.Is(mastership.FromDriver(err), mastership.ErrNotMaster) {
			t.Errorf("insert mastered elsewhere: %v", err)
		}
		if diff := cmp.Diff(before, dump(t, blr.db)); diff != "" {
			t.Errorf("refused writes changed data (-before +after):\n%s", diff)
		}
	})
}

func TestImport_TwiceIsNoOp(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 10, "boston", "bangalore")
		boston, blr := sites[0], sites[1]
		mustExec(t, boston.db, `UPDATE defect SET headline = 'changed' WHERE id = 4`)
		mustExec(t, boston.db, `DELETE FROM defect WHERE id = 5`)
		pkt := export(t, boston, blr)
		first := importInto(t, blr, pkt)
		after := dump(t, blr.db)
		second := importInto(t, blr, pkt)
		if diff := cmp.Diff(after, dump(t, blr.db)); diff != "" {
			t.Errorf("second import changed data:\n%s", diff)
		}
		if first.Tables["defect"].Updated != 1 || first.Tables["defect"].Deleted != 1 {
			t.Errorf("first import counts = %+v", first.Tables["defect"])
		}
		if got := second.Tables["defect"]; got.Updated+got.Inserted+got.Deleted != 0 || !second.Duplicate {
			t.Errorf("second import changed %+v, duplicate=%v", got, second.Duplicate)
		}
		requireConverged(t, boston, blr)
	})
}

func TestImport_OutOfOrderIsRefusedAsGapThenConverges(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 10, "boston", "bangalore")
		boston, blr := sites[0], sites[1]
		var pkts [][]byte
		for i := 0; i < 3; i++ {
			mustExec(t, boston.db, `UPDATE defect SET headline = ?, severity = ? WHERE id = 7`, fmt.Sprintf("edit %d", i), i)
			mustExec(t, boston.db, `INSERT INTO project (code, title) VALUES (?, 't')`, fmt.Sprintf("P%d", i))
			pkts = append(pkts, export(t, boston, blr))
		}
		mustExec(t, boston.db, `DELETE FROM project WHERE code = 'P0'`)
		pkts = append(pkts, export(t, boston, blr))
		// Each export carries only what the previous ones did not, so a
		// packet that comes before its predecessors leaves a gap: it is
		// refused whole (and the gap noted for boston), never applied in
		// part.
		before := contentHash(t, blr)
		for i := len(pkts) - 1; i >= 1; i-- {
			_, err := multisite.ImportPacket(ctx, blr.db, bytes.NewReader(pkts[i]), multisite.ImportOptions{})
			if !errors.Is(err, replica.ErrGap) {
				t.Fatalf("packet %d before packet 0: error = %v, want ErrGap", i, err)
			}
		}
		if got := contentHash(t, blr); got != before {
			t.Fatal("a refused packet changed the replica")
		}
		for i := range pkts {
			importInto(t, blr, pkts[i])
		}
		requireConverged(t, boston, blr)
		if h := queryString(t, blr.db, `SELECT headline FROM defect WHERE id = 7`); h != "edit 2" {
			t.Errorf("headline = %q, want the last edit", h)
		}
	})
}

func TestExport_CarriesExactlyTheChangedRows(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 10000, "boston", "bangalore")
		boston, blr := sites[0], sites[1]
		mustExec(t, boston.db, `UPDATE defect SET state = 'fixed' WHERE id IN (17, 4242, 9999)`)
		var buf bytes.Buffer
		st, err := multisite.ExportPacket(ctx, boston.db, blr.id, &buf, multisite.ExportOptions{})
		require.NoError(t, err)
		if diff := cmp.Diff(map[string]int{"defect": 3}, st.Tables); diff != "" {
			t.Errorf("packet rows per table (-want +got):\n%s", diff)
		}
		// Read the packet itself: exactly those keys.
		r := syncpkt.NewReader(bytes.NewReader(buf.Bytes()), syncpkt.ReaderOptions{})
		var keys []int64
		for {
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			if row, ok := rec.(*syncpkt.Row); ok {
				keys = append(keys, row.Values[0].Int)
			}
		}
		if diff := cmp.Diff([]int64{17, 4242, 9999}, keys); diff != "" {
			t.Errorf("keys in packet (-want +got):\n%s", diff)
		}
		rep := importInto(t, blr, buf.Bytes())
		if got := rep.Tables["defect"].Updated; got != 3 {
			t.Errorf("updated %d rows, want 3", got)
		}
		requireConverged(t, boston, blr)
	})
}

func TestImport_DamagedPacketIsRefusedAndChangesNothing(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 50, "boston", "bangalore")
		boston, blr := sites[0], sites[1]
		mustExec(t, boston.db, `UPDATE defect SET state = 'fixed'`)
		pkt := export(t, boston, blr)
		before := dump(t, blr.db)
		beforeHash := contentHash(t, blr)

		flip := func(i int) []byte {
			b := bytes.Clone(pkt)
			b[i] ^= 0x10
			return b
		}
		tests := []struct {
			name string
			pkt  []byte
			want []error // any of
		}{
			{"truncated in the body", pkt[:len(pkt)/2], []error{syncpkt.ErrTruncated}},
			{"truncated trailer", pkt[:len(pkt)-10], []error{syncpkt.ErrTruncated}},
			{"empty", nil, []error{syncpkt.ErrTruncated, syncpkt.ErrMagic}},
			{"not a packet", []byte("hello, this is not a packet at all"), []error{syncpkt.ErrMagic}},
			{"bit flipped in a row", flip(len(pkt) / 2), []error{syncpkt.ErrChecksum, syncpkt.ErrFormat, syncpkt.ErrSignature}},
			{"bit flipped in the signature", flip(len(pkt) - 3), []error{syncpkt.ErrSignature, syncpkt.ErrChecksum}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := multisite.ImportPacket(ctx, blr.db, bytes.NewReader(tt.pkt), multisite.ImportOptions{})
				ok := false
				for _, w := range tt.want {
					ok = ok || errors.Is(err, w)
				}
				if !ok {
					t.Fatalf("ImportPacket error = %v, want one of %v", err, tt.want)
				}
				if diff := cmp.Diff(before, dump(t, blr.db)); diff != "" {
					t.Errorf("refused packet changed data:\n%s", diff)
				}
				if h := contentHash(t, blr); h != beforeHash {
					t.Errorf("content hash changed")
				}
			})
		}
		// The undamaged packet still applies.
		importInto(t, blr, pkt)
		requireConverged(t, boston, blr)
	})
}

func TestImport_RefusesPacketsThatDoNotBelong(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 5, "boston", "bangalore", "dublin")
		boston, blr, dub := sites[0], sites[1], sites[2]
		other := familyOn(t, open, 5, "paris")[0]
		mustExec(t, boston.db, `UPDATE defect SET state = 'x' WHERE id = 1`)

		toBangalore := export(t, boston, blr)

		tests := []struct {
			name string
			into *site
			pkt  []byte
			want error
		}{
			{"another target", dub, toBangalore, multisite.ErrTarget},
			{"another family", other, toBangalore, multisite.ErrFamily},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := dump(t, tt.into.db)
				_, err := multisite.ImportPacket(ctx, tt.into.db, bytes.NewReader(tt.pkt), multisite.ImportOptions{})
				if !errors.Is(err, tt.want) {
					t.Fatalf("error = %v, want %v", err, tt.want)
				}
				var me *multisite.MismatchError
				if !errors.As(err, &me) {
					t.Errorf("error %T is not a *MismatchError", err)
				}
				if diff := cmp.Diff(before, dump(t, tt.into.db)); diff != "" {
					t.Errorf("data changed:\n%s", diff)
				}
			})
		}
		t.Run("creation packet to ImportPacket", func(t *testing.T) {
			var buf bytes.Buffer
			_, _, err := multisite.Replicate(ctx, boston.db, "oslo", &buf, multisite.ReplicateOptions{})
			require.NoError(t, err)
			if _, err := multisite.ImportPacket(ctx, blr.db, &buf, multisite.ImportOptions{}); !errors.Is(err, multisite.ErrKind) {
				t.Errorf("error = %v, want ErrKind", err)
			}
		})
	})
}

func TestImport_UnknownOriginIsRefused(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 5, "boston", "bangalore")
		boston, blr := sites[0], sites[1]
		// Boston creates dublin; bangalore has not heard of it yet.
		var buf bytes.Buffer
		di, _, err := multisite.Replicate(ctx, boston.db, "dublin", &buf, multisite.ReplicateOptions{})
		require.NoError(t, err)
		dub := &site{name: "dublin", db: open("dublin"), id: di.ID}
		_, err = multisite.CreateReplica(ctx, dub.db, &buf, multisite.CreateOptions{})
		require.NoError(t, err)
		require.NoError(t, multisite.SetState(ctx, dub.db, replica.Active))
		// Dublin knows bangalore from its creation packet and can export to it.
		pkt := export(t, dub, blr)
		_, err = multisite.ImportPacket(ctx, blr.db, bytes.NewReader(pkt), multisite.ImportOptions{})
		var ue *replica.UnknownError
		if !errors.As(err, &ue) || ue.ID != dub.id {
			t.Fatalf("error = %v, want *replica.UnknownError for dublin", err)
		}
		// Once dublin has enrolled at boston (its first packet there), and
		// boston's packet introduces it, the same packet applies.
		enrol(t, boston.db, dub.db, dub.id)
		syncPair(t, boston, blr)
		importInto(t, blr, pkt)
	})
}

func TestTransferMastership(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 5, "boston", "bangalore")
		boston, blr := sites[0], sites[1]

		// Only the master may transfer.
		_, err := multisite.TransferMastership(ctx, blr.db, "defect", boston.id, []any{1})
		if !errors.Is(err, mastership.ErrNotMaster) {
			t.Fatalf("transfer by non-master = %v, want ErrNotMaster", err)
		}
		if _, err := multisite.TransferMastership(ctx, boston.db, "defect", blr.id, []any{999}); !errors.Is(err, mastership.ErrNoRow) {
			t.Errorf("transfer of missing row = %v, want ErrNoRow", err)
		}
		if _, err := multisite.TransferMastership(ctx, boston.db, "defect", "nobody", []any{1}); !errors.Is(err, replica.ErrUnknown) {
			t.Errorf("transfer to unknown replica = %v, want ErrUnknown", err)
		}
		if _, err := multisite.TransferMastership(ctx, boston.db, "nosuch", blr.id, []any{1}); !errors.Is(err, schema.ErrUnknownTable) {
			t.Errorf("transfer in unknown table = %v, want ErrUnknownTable", err)
		}

		n, err := multisite.TransferMastership(ctx, boston.db, "defect", blr.id, []any{1}, []any{2})
		require.NoError(t, err)
		if n != 2 {
			t.Errorf("transferred %d rows, want 2", n)
		}
		// The old master can no longer write; the new one cannot yet (it has
		// not received the transfer).
		if err := sqlExec(t, boston.db, `UPDATE defect SET state = 'x' WHERE id = 1`); !errors.Is(mastership.FromDriver(err), mastership.ErrNotMaster) {
			t.Errorf("old master wrote after transfer: %v", err)
		}
		if err := sqlExec(t, blr.db, `UPDATE defect SET state = 'x' WHERE id = 1`); !errors.Is(mastership.FromDriver(err), mastership.ErrNotMaster) {
			t.Errorf("new master wrote before the transfer arrived: %v", err)
		}
		syncPair(t, boston, blr)
		mustExec(t, blr.db, `UPDATE defect SET state = 'assigned', owner = 'ravi' WHERE id = 1`)
		mustExec(t, blr.db, `DELETE FROM defect WHERE id = 2`)
		syncPair(t, blr, boston)
		requireConverged(t, boston, blr)
		if o := queryString(t, boston.db, `SELECT owner FROM defect WHERE id = 1`); o != "ravi" {
			t.Errorf("boston sees owner %q, want ravi", o)
		}
		if n := queryString(t, boston.db, `SELECT count(*) FROM defect WHERE id = 2`); n != "0" {
			t.Errorf("delete by the new master did not replicate")
		}
		// And back again.
		_, err = multisite.TransferMastership(ctx, blr.db, "defect", boston.id, []any{1})
		require.NoError(t, err)
		syncPair(t, blr, boston)
		mustExec(t, boston.db, `UPDATE defect SET state = 'closed' WHERE id = 1`)
		syncPair(t, boston, blr)
		requireConverged(t, boston, blr)
	})
}

func TestTransfer_ChainReachesThirdReplicaOutOfOrder(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		// Boston hands a row to bangalore; bangalore edits it and sends straight
		// to dublin, which has not heard from boston: bangalore's packet must
		// carry the transfer so dublin can check bangalore's right.
		sites := familyOn(t, open, 5, "boston", "bangalore", "dublin")
		boston, blr, dub := sites[0], sites[1], sites[2]
		_, err := multisite.TransferMastership(ctx, boston.db, "defect", blr.id, []any{3})
		require.NoError(t, err)
		syncPair(t, boston, blr)
		mustExec(t, blr.db, `UPDATE defect SET headline = 'bangalore owns this' WHERE id = 3`)
		syncPair(t, blr, dub)
		if h := queryString(t, dub.db, `SELECT headline FROM defect WHERE id = 3`); h != "bangalore owns this" {
			t.Errorf("dublin headline = %q", h)
		}
		syncPair(t, boston, dub)
		syncPair(t, dub, boston)
		syncPair(t, blr, boston)
		syncPair(t, boston, blr)
		requireConverged(t, boston, blr, dub)
	})
}

func TestKeys_IntegerRangesNeverCollide(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 5, "boston", "bangalore", "dublin")
		seen := map[int64]string{}
		for _, s := range sites {
			for i := 0; i < 3; i++ {
				tx, err := s.db.Begin()
				require.NoError(t, err)
				id, err := multisite.NextID(ctx, s.db, tx, "defect")
				require.NoError(t, err)
				_, err = tx.Exec(rebind(t, s.db, `INSERT INTO defect (id, project, headline) VALUES (?, 'CORE', ?)`), id, "from "+s.name)
				require.NoError(t, err)
				require.NoError(t, tx.Commit())
				if other, dup := seen[id]; dup {
					t.Fatalf("key %d allocated by %s and %s", id, other, s.name)
				}
				seen[id] = s.name
			}
		}
		// A plain insert with a key from another replica's range is refused
		// with a message that says what to do.
		lo, _ := replica.KeyRange(2)
		err := sqlExec(t, sites[1].db, `INSERT INTO defect (id, project, headline) VALUES (?, 'CORE', 'stolen key')`, lo+100)
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte("NextID")) {
			t.Errorf("key from another range: %v", err)
		}
		for _, a := range sites {
			for _, b := range sites {
				if a != b {
					syncPair(t, a, b)
				}
			}
		}
		requireConverged(t, sites...)
		if n := queryString(t, sites[2].db, `SELECT count(*) FROM defect`); n != "14" {
			t.Errorf("dublin has %s defects, want 14", n)
		}
		// SQLite's own choice (largest key + 1) now lies in dublin's range, so
		// boston's plain auto-key insert is refused rather than colliding.
		// (Only SQLite makes up a key: the servers' BIGINT key has no
		// default.)
		if dialectOf(t, sites[0].db).Name() == dialect.SQLite {
			err = sqlExec(t, sites[0].db, `INSERT INTO defect (project, headline) VALUES ('CORE', 'auto id')`)
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte("NextID")) {
				t.Errorf("auto id outside range: %v", err)
			}
		}
	})
}

func TestKeys_TextKeyCreationConflictKeepsBoth(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 1, "boston", "bangalore", "dublin")
		boston, blr, dub := sites[0], sites[1], sites[2]
		mustExec(t, boston.db, `INSERT INTO project (code, title) VALUES ('NEW', 'made in boston')`)
		mustExec(t, blr.db, `INSERT INTO project (code, title) VALUES ('NEW', 'made in bangalore')`)
		// Bangalore edits its record before it hears of boston's.
		mustExec(t, blr.db, `UPDATE project SET title = 'made in bangalore, edited' WHERE code = 'NEW'`)
		var conflicts []multisite.Conflict
		for round := 0; round < 2; round++ {
			for _, a := range sites {
				for _, b := range sites {
					if a != b {
						conflicts = append(conflicts, syncPair(t, a, b).Conflicts...)
					}
				}
			}
		}
		requireConverged(t, boston, blr, dub)
		if len(conflicts) == 0 {
			t.Fatal("no conflict reported")
		}
		// Every replica keeps the same winner: the chain of the smaller
		// creator ID.
		winner, loser := boston, blr
		if blr.id < boston.id {
			winner, loser = blr, boston
		}
		wantTitle := map[*site]string{boston: "made in boston", blr: "made in bangalore, edited"}
		for _, s := range sites {
			if got := queryString(t, s.db, `SELECT title FROM project WHERE code = 'NEW'`); got != wantTitle[winner] {
				t.Errorf("%s keeps %q, want the winner's %q", s.name, got, wantTitle[winner])
			}
		}
		// The losing record is not lost: the site that made it keeps its last
		// version in ms_conflict, and the import that replaced it reported it.
		loserImage := queryString(t, loser.db, `SELECT image FROM ms_conflict WHERE tbl = 'project' AND `+quoteIdent(t, loser.db, "key")+` = 'NEW' AND creator = ?`, string(loser.id))
		if !bytes.Contains([]byte(loserImage), []byte(wantTitle[loser])) {
			t.Errorf("%s lost its record: ms_conflict has %q", loser.name, loserImage)
		}
		found := false
		for _, c := range conflicts {
			found = found || (c.Table == "project" && c.Key == "NEW" && c.Winner == winner.id && c.Loser == loser.id)
		}
		if !found {
			t.Errorf("conflicts reported %+v, want project[NEW] won by %s over %s", conflicts, winner.name, loser.name)
		}
	})
}

func TestDeletesReplicateAsTombstones(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 5, "boston", "bangalore", "dublin")
		boston, blr, dub := sites[0], sites[1], sites[2]
		mustExec(t, boston.db, `DELETE FROM defect_tag WHERE defect_id = 1 AND tag = 'ui'`)
		mustExec(t, boston.db, `DELETE FROM defect WHERE id = 5`)
		// Hub and spoke: dublin hears only through bangalore.
		syncPair(t, boston, blr)
		syncPair(t, blr, dub)
		requireConverged(t, boston, blr, dub)
		// Re-insert at the master continues the row's chain.
		mustExec(t, boston.db, `INSERT INTO defect (id, project, headline) VALUES (5, 'UI', 'back again')`)
		syncPair(t, boston, dub)
		syncPair(t, dub, blr)
		requireConverged(t, boston, blr, dub)
		// A non-master may not resurrect a deleted row either.
		mustExec(t, boston.db, `DELETE FROM defect WHERE id = 4`)
		syncPair(t, boston, blr)
		err := sqlExec(t, blr.db, `INSERT INTO defect (id, project, headline) VALUES (4, 'UI', 'mine?')`)
		if !errors.Is(mastership.FromDriver(err), mastership.ErrNotMaster) {
			t.Errorf("resurrection by non-master: %v", err)
		}
	})
}

func TestTopologies_Converge(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		edit := func(t *testing.T, s *site, round int) {
			id, err := multisite.NextID(ctx, s.db, nil, "defect")
			require.NoError(t, err)
			mustExec(t, s.db, `INSERT INTO defect (id, project, headline, owner) VALUES (?, 'CORE', ?, ?)`, id, fmt.Sprintf("%s round %d", s.name, round), s.name)
			mustExec(t, s.db, `UPDATE defect SET severity = ? WHERE ms_master = ?`, round, string(s.id))
		}
		tests := []struct {
			name  string
			round func(t *testing.T, s []*site)
		}{
			{"hub and spoke", func(t *testing.T, s []*site) {
				hub := s[0]
				for _, spoke := range s[1:] {
					syncPair(t, spoke, hub)
				}
				for _, spoke := range s[1:] {
					syncPair(t, hub, spoke)
				}
			}},
			{"all to all", func(t *testing.T, s []*site) {
				for _, a := range s {
					for _, b := range s {
						if a != b {
							syncPair(t, a, b)
						}
					}
				}
			}},
			{"ring", func(t *testing.T, s []*site) {
				for k := 0; k < 2; k++ {
					for i := range s {
						syncPair(t, s[i], s[(i+1)%len(s)])
					}
				}
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				sites := familyOn(t, open, 20, "boston", "bangalore", "dublin")
				_, err := multisite.TransferMastership(ctx, sites[0].db, "defect", sites[2].id, []any{7}, []any{8})
				require.NoError(t, err)
				for round := 0; round < 3; round++ {
					for _, s := range sites {
						edit(t, s, round)
					}
					tt.round(t, sites)
				}
				tt.round(t, sites)
				requireConverged(t, sites...)
				if n := queryString(t, sites[1].db, `SELECT count(*) FROM defect`); n != "29" {
					t.Errorf("bangalore has %s defects, want 29", n)
				}
			})
		}
	})
}

func TestReplicate_DoesNotBlockWriters(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		boston := &site{name: "boston", db: open("boston")}
		seedTracker(t, boston.db, 20000)
		_, err := multisite.Activate(ctx, boston.db, multisite.ActivateOptions{Name: "boston"})
		require.NoError(t, err)

		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			_, _, err := multisite.Replicate(ctx, boston.db, "bangalore", pw, multisite.ReplicateOptions{})
			pw.CloseWithError(err)
			done <- err
		}()
		// Read the first bytes: the packet is being written from its snapshot,
		// and stays stuck mid-stream while nobody reads.
		head := make([]byte, 64*1024)
		_, err = io.ReadFull(pr, head)
		require.NoError(t, err)

		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		tx, err := boston.db.BeginTx(wctx, nil)
		require.NoError(t, err)
		_, err = tx.ExecContext(wctx, `UPDATE defect SET state = 'busy' WHERE id = 1`)
		if err == nil {
			_, err = tx.ExecContext(wctx, `INSERT INTO project (code, title) VALUES ('W', 'written during mkreplica')`)
		}
		if err == nil {
			err = tx.Commit()
		}
		if err != nil {
			t.Fatalf("a writer was blocked or failed while the creation packet was being written: %v", err)
		}
		rest, err := io.ReadAll(pr)
		require.NoError(t, err)
		require.NoError(t, <-done)

		// The packet is the snapshot from before the write; the write follows
		// in the next sync.
		blr := &site{name: "bangalore", db: open("bangalore")}
		_, err = multisite.CreateReplica(ctx, blr.db, io.MultiReader(bytes.NewReader(head), bytes.NewReader(rest)), multisite.CreateOptions{})
		require.NoError(t, err)
		if n := queryString(t, blr.db, `SELECT count(*) FROM project WHERE code = 'W'`); n != "0" {
			t.Errorf("creation packet is not a snapshot: it has the later write")
		}
		st, err := multisite.ReadStatus(ctx, blr.db)
		require.NoError(t, err)
		blr.id = st.Local.ID
		syncPair(t, boston, blr)
		requireConverged(t, boston, blr)
	})
}

func TestValidateCharset(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		db := open("boston")
		seedTracker(t, db, 3)
		mustExec(t, db, `UPDATE defect SET headline = 'naïve café' WHERE id = 2`)
		mustExec(t, db, `UPDATE defect SET owner = 'Łukasz' WHERE id = 3`)
		rep, err := multisite.ValidateCharset(ctx, db, "1252", multisite.CharsetOptions{})
		require.NoError(t, err)
		want := []multisite.CharsetViolation{{Table: "defect", Key: "3", Column: "owner", Offset: 0, Rune: 'Ł', Char: "Ł"}}
		if diff := cmp.Diff(want, rep.Violations); diff != "" {
			t.Errorf("windows-1252 violations (-want +got):\n%s", diff)
		}
		rep, err = multisite.ValidateCharset(ctx, db, "US-ASCII", multisite.CharsetOptions{})
		require.NoError(t, err)
		if len(rep.Violations) != 3 { // ï, é, Ł
			t.Errorf("ASCII violations = %v, want 3", rep.Violations)
		}
		if _, err := multisite.ValidateCharset(ctx, db, "windows-1525", multisite.CharsetOptions{}); err == nil {
			t.Errorf("unknown code page accepted")
		}
	})
}

func TestDeactivate_RestoresOriginalSchemaAndData(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		s := &site{name: "boston", db: open("boston")}
		seedTracker(t, s.db, 10)
		schemaBefore, dataBefore := catalogOf(t, s.db), dump(t, s.db)
		_, err := multisite.Activate(ctx, s.db, multisite.ActivateOptions{Name: "boston"})
		require.NoError(t, err)
		mustExec(t, s.db, `UPDATE defect SET state = 'fixed' WHERE id = 3`)
		plan, err := multisite.PlanDeactivation(ctx, s.db)
		require.NoError(t, err)
		if len(plan.Steps) == 0 {
			t.Fatal("empty deactivation plan")
		}
		require.NoError(t, multisite.Deactivate(ctx, s.db))
		after := catalogOf(t, s.db)
		if dialectOf(t, s.db).Name() == dialect.MySQL {
			// Documented (MySQLDialect, Uninject): text key columns keep the
			// binary NO PAD collation activation gave them, so that keys that
			// differ only in case, accents or trailing spaces stay apart.
			for k, v := range after {
				after[k] = strings.NewReplacer(" CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL", " NOT NULL", // MariaDB
					" CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_bin NOT NULL", " NOT NULL").Replace(v) // MySQL
			}
		}
		if diff := cmp.Diff(schemaBefore, after); diff != "" {
			t.Errorf("schema after deactivation (-original +after):\n%s", diff)
		}
		mustExec(t, s.db, `UPDATE defect SET state = 'open' WHERE id = 3`)
		if diff := cmp.Diff(dataBefore, dump(t, s.db)); diff != "" {
			t.Errorf("data after deactivation (-original +after):\n%s", diff)
		}
		if _, err := multisite.ReadStatus(ctx, s.db); !errors.Is(err, multisite.ErrNotActivated) {
			t.Errorf("ReadStatus after deactivation = %v, want ErrNotActivated", err)
		}
	})
}
