package multisite_test

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/multisite-go/multisite/mastership"
	"github.com/multisite-go/multisite/syncpkt"
	"github.com/stretchr/testify/require"
)

// insertDefects writes n new defects at s in one transaction, keys from
// near the start of s's key range.
func insertDefects(t *testing.T, s *site, n int) {
	t.Helper()
	var lo int64
	require.NoError(t, s.db.QueryRow(`SELECT key_lo FROM ms_ctl`).Scan(&lo))
	tx, err := s.db.Begin()
	require.NoError(t, err)
	defer tx.Rollback()
	for i := 0; i < n; i += 100 {
		var args []any
		m := min(100, n-i)
		for j := range m {
			id := lo + 1000 + int64(i+j) // past the seeded defects
			args = append(args, id, "CORE", fmt.Sprintf("imported defect %d", id), int64(j%5))
		}
		q := `INSERT INTO defect (id, project, headline, severity) VALUES ` + strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?), ", m), ", ")
		_, err := tx.Exec(rebind(t, s.db, q), args...)
		require.NoError(t, err)
	}
	require.NoError(t, tx.Commit())
}

// requireTriggersBack checks, after what, that s's schema status is clean
// and that its capture and enforcement triggers work: s may not change
// defect 1, which another site masters.
func requireTriggersBack(t *testing.T, s *site, after string) {
	t.Helper()
	st, err := multisite.SchemaStatus(ctx, s.db)
	require.NoError(t, err)
	if !st.Clean() {
		t.Errorf("schema after %s is not clean:\n%s", after, st)
	}
	err = sqlExec(t, s.db, `UPDATE defect SET headline = 'not mine' WHERE id = 1`)
	if !errors.Is(mastership.FromDriver(err), mastership.ErrNotMaster) {
		t.Errorf("write to a row mastered elsewhere after %s: %v, want ErrNotMaster", after, err)
	}
}

// TestImport_ManyNewRowsAndChangesInOnePacket imports a packet that
// brings more new rows than one merge window together with an update and
// a delete of rows the replica holds: new rows take the fast path (and,
// on SQLite, the library's triggers are suspended for them), the others
// the stage. Afterwards the replicas agree, the report counts right, the
// library's triggers are back and enforce mastership, the user's own
// trigger fired for every imported row, and a second import is a no-op.
func TestImport_ManyNewRowsAndChangesInOnePacket(t *testing.T) {
	const n = 10000 // more than mergeRows (8192): the window turns over
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 3, "boston", "bangalore")
		boston, blr := sites[0], sites[1]
		sqlite := dialectOf(t, blr.db).Name() == dialect.SQLite
		if sqlite {
			mustExec(t, blr.db, `CREATE TABLE audit (defect_id INTEGER)`)
			mustExec(t, blr.db, `CREATE TRIGGER user_audit AFTER INSERT ON defect BEGIN INSERT INTO audit VALUES (NEW.id); END`)
		}
		insertDefects(t, boston, n)
		mustExec(t, boston.db, `UPDATE defect SET headline = 'changed at boston' WHERE id = 1`)
		mustExec(t, boston.db, `DELETE FROM defect WHERE id = 3`)

		rep := importInto(t, blr, export(t, boston, blr))
		want := multisite.TableCounts{Inserted: n, Updated: 1, Deleted: 1}
		if diff := cmp.Diff(want, *rep.Tables["defect"]); diff != "" {
			t.Errorf("defect counts (-want +got):\n%s", diff)
		}
		requireConverged(t, boston, blr)
		requireTriggersBack(t, blr, "the import")
		if sqlite {
			if got := queryString(t, blr.db, `SELECT count(*) FROM audit`); got != fmt.Sprint(n) {
				t.Errorf("the user's trigger fired %s times, want %d", got, n)
			}
		}
		before := dump(t, blr.db)
		again := importInto(t, blr, export(t, boston, blr))
		if !again.Duplicate {
			t.Errorf("second import of the same changes is not reported Duplicate: %+v", again)
		}
		if diff := cmp.Diff(before, dump(t, blr.db)); diff != "" {
			t.Errorf("second import changed data (-before +after):\n%s", diff)
		}
	})
}

// TestImport_KeyTwiceInOnePacketIsRefused forges packets that carry one
// row twice: a row new to the receiver (next to the first copy, or
// hundreds of rows later) and a row it holds. Each is refused with
// ErrPacket and changes nothing.
func TestImport_KeyTwiceInOnePacketIsRefused(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 3, "boston", "bangalore")
		boston, blr := sites[0], sites[1]
		insertDefects(t, boston, 700)
		mustExec(t, boston.db, `UPDATE defect SET headline = 'changed at boston' WHERE id = 2`)
		recs := records(t, export(t, boston, blr))
		var table *syncpkt.Table
		var rows []*syncpkt.Row
		for _, r := range recs {
			switch r := r.(type) {
			case *syncpkt.Table:
				if r.Name == "defect" {
					table = r
				}
			case *syncpkt.Row:
				if table != nil && len(rows) < 1000 && len(r.Values) == len(table.Columns) {
					rows = append(rows, r)
				}
			}
		}
		require.NotNil(t, table)
		require.Len(t, rows, 701)
		existing := slices.IndexFunc(rows, func(r *syncpkt.Row) bool { return r.Values[0].Int == 2 })
		require.GreaterOrEqual(t, existing, 0)
		fresh := slices.IndexFunc(rows, func(r *syncpkt.Row) bool { return r.Values[0].Int != 2 })
		with := func(dups ...int) []syncpkt.Record {
			out := []syncpkt.Record{table}
			for _, r := range rows {
				out = append(out, r)
			}
			for _, i := range dups {
				c := *rows[i]
				c.Version++                   // a later image of the same row
				signRow(t, boston, table, &c) // with its origin's proof (proof_test.go)
				out = append(out, &c)
			}
			return out
		}
		before := dump(t, blr.db)
		for _, tc := range []struct {
			name string
			recs []syncpkt.Record
		}{
			{"new row twice, hundreds of rows apart", with(fresh)},
			{"held row twice", with(existing)},
			{"new row twice, side by side", []syncpkt.Record{table, rows[fresh], rows[fresh]}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := multisite.ImportPacket(ctx, blr.db, bytes.NewReader(forge(t, boston, blr, tc.recs...)), multisite.ImportOptions{})
				if !errors.Is(err, multisite.ErrPacket) {
					t.Fatalf("ImportPacket = %v, want ErrPacket", err)
				}
				if diff := cmp.Diff(before, dump(t, blr.db)); diff != "" {
					t.Errorf("refused packet changed data (-before +after):\n%s", diff)
				}
			})
		}
	})
}

// records decodes every record of a packet.
func records(t *testing.T, pkt []byte) []syncpkt.Record {
	t.Helper()
	r := syncpkt.NewReader(bytes.NewReader(pkt), syncpkt.ReaderOptions{})
	_, err := r.Header()
	require.NoError(t, err)
	var out []syncpkt.Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		out = append(out, rec)
	}
}

// TestImport_RowWithoutShadowEntryIsOverwritten: a row the replica holds
// without a shadow entry (written while someone had the triggers off) is
// taken for new by the import, and the packet's image replaces it, as the
// staged path did, rather than failing on the duplicate key.
func TestImport_RowWithoutShadowEntryIsOverwritten(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 3, "boston", "bangalore")
		boston, blr := sites[0], sites[1]
		mustExec(t, blr.db, `DELETE FROM ms_row_defect WHERE id = 1`)
		mustExec(t, boston.db, `UPDATE defect SET headline = 'changed at boston' WHERE id = 1`)
		rep := importInto(t, blr, export(t, boston, blr))
		if got := rep.Tables["defect"].Inserted + rep.Tables["defect"].Updated; got != 1 {
			t.Errorf("import applied %d defects, want 1: %+v", got, rep.Tables["defect"])
		}
		requireConverged(t, boston, blr)
	})
}

// TestImport_LargePacketRefusedAtItsTrailer applies more new rows than it
// takes for SQLite's triggers to be suspended, then fails at the trailer
// (the packet is signed by another key): the rollback takes back the rows
// and the suspension alike, so the triggers are there and enforce
// mastership, and the genuine packet applies afterwards.
func TestImport_LargePacketRefusedAtItsTrailer(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 3, "boston", "bangalore")
		boston, blr := sites[0], sites[1]
		insertDefects(t, boston, 9000)
		pkt := export(t, boston, blr)
		before := dump(t, blr.db)
		if _, err := multisite.ImportPacket(ctx, blr.db, bytes.NewReader(resignWithOtherKey(t, pkt)), multisite.ImportOptions{}); !errors.Is(err, syncpkt.ErrSignature) {
			t.Fatalf("ImportPacket = %v, want ErrSignature", err)
		}
		if diff := cmp.Diff(before, dump(t, blr.db)); diff != "" {
			t.Errorf("refused packet changed data (-before +after):\n%s", diff)
		}
		requireTriggersBack(t, blr, "the refused import")
		importInto(t, blr, pkt)
		requireConverged(t, boston, blr)
	})
}
