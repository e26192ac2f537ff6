package multisite_test

import (
	"bytes"
	"database/sql"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/multisite-go/multisite/replica"
	"github.com/stretchr/testify/require"
)

func TestRemoveReplica(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 5, "boston", "bangalore", "dublin")
		boston, blr, dub := sites[0], sites[1], sites[2]
		id, err := multisite.NextID(ctx, dub.db, nil, "defect")
		require.NoError(t, err)
		mustExec(t, dub.db, `INSERT INTO defect (id, project, headline) VALUES (?, 'CORE', 'dublin defect')`, id)
		mustExec(t, dub.db, `INSERT INTO project (code, title) VALUES ('D', 'dublin project'), ('D2', 'gone')`)
		mustExec(t, dub.db, `DELETE FROM project WHERE code = 'D2'`)

		before := dump(t, dub.db)
		_, err = multisite.RemoveReplica(ctx, dub.db, multisite.RemoveOptions{})
		var mr *multisite.MastersRowsError
		if !errors.As(err, &mr) || !errors.Is(err, multisite.ErrMastersRows) {
			t.Fatalf("error = %v, want *MastersRowsError", err)
		}
		if diff := cmp.Diff(map[string]int{"defect": 1, "project": 1}, mr.Tables); diff != "" {
			t.Errorf("listed (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(before, dump(t, dub.db)); diff != "" {
			t.Errorf("refused removal changed data:\n%s", diff)
		}
		if _, err := multisite.RemoveReplica(ctx, dub.db, multisite.RemoveOptions{TransferTo: "nobody"}); !errors.Is(err, replica.ErrUnknown) {
			t.Errorf("transfer to unknown: %v", err)
		}

		info, err := multisite.RemoveReplica(ctx, dub.db, multisite.RemoveOptions{TransferTo: boston.id})
		require.NoError(t, err)
		if info.State != replica.Removed {
			t.Errorf("state = %s", info.State)
		}
		if err := sqlExec(t, dub.db, `INSERT INTO project (code, title) VALUES ('X', 'x')`); err == nil {
			t.Error("a removed replica accepted a write")
		}
		// The last packets tell the family and carry the transfers.
		syncPair(t, dub, boston)
		syncPair(t, boston, blr)
		mustExec(t, boston.db, `UPDATE defect SET state = 'taken over' WHERE id = ?`, id)
		mustExec(t, boston.db, `INSERT INTO project (code, title) VALUES ('D2', 'the deleted key is boston''s now')`)
		syncPair(t, boston, blr)
		requireConverged(t, boston, blr)
		// From now on the family neither sends to it nor takes its packets.
		if _, err := multisite.ExportPacket(ctx, boston.db, dub.id, &bytes.Buffer{}, multisite.ExportOptions{}); !errors.Is(err, replica.ErrRemoved) {
			t.Errorf("export to removed replica: %v", err)
		}
		late := export(t, dub, blr)
		if _, err := multisite.ImportPacket(ctx, blr.db, bytes.NewReader(late), multisite.ImportOptions{}); !errors.Is(err, replica.ErrRemoved) {
			t.Errorf("packet from removed replica: %v", err)
		}
	})
}

func TestPrune(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 20, "boston", "bangalore", "dublin")
		boston, blr, dub := sites[0], sites[1], sites[2]
		mustExec(t, boston.db, `DELETE FROM defect WHERE id <= 5`)
		_, err := multisite.TransferMastership(ctx, boston.db, "defect", blr.id, []any{6})
		require.NoError(t, err)
		allToAll := func() {
			for _, a := range sites {
				for _, b := range sites {
					if a != b {
						syncPair(t, a, b)
					}
				}
			}
		}
		// Before everyone acknowledged, nothing goes.
		syncPair(t, boston, blr)
		st, err := multisite.Prune(ctx, boston.db)
		require.NoError(t, err)
		if st.Tombstones != 0 || st.Transfers != 0 {
			t.Fatalf("pruned %+v before dublin acknowledged", st)
		}
		allToAll()
		allToAll()
		st, err = multisite.Prune(ctx, boston.db)
		require.NoError(t, err)
		if st.Tombstones != 5 || st.Transfers != 1 {
			t.Errorf("pruned %d tombstones, %d transfers; want 5 and 1", st.Tombstones, st.Transfers)
		}
		if n := queryString(t, boston.db, `SELECT count(*) FROM ms_row_defect WHERE ms_deleted = 1`); n != "0" {
			t.Errorf("%s tombstones left", n)
		}
		// Replaying an old packet that still has the rows does not bring them back.
		for _, s := range sites[1:] {
			_, err := multisite.Prune(ctx, s.db)
			require.NoError(t, err)
		}
		mustExec(t, blr.db, `UPDATE defect SET state = 'x' WHERE id = 6`)
		allToAll()
		requireConverged(t, boston, blr, dub)
		// A full resend is clamped at the prune horizon and applies cleanly.
		var buf bytes.Buffer
		_, err = multisite.RecoverPacket(ctx, boston.db, dub.id, nil, &buf, multisite.ExportOptions{})
		require.NoError(t, err)
		rep := importInto(t, dub, buf.Bytes())
		if got := rep.Tables["defect"]; got != nil && got.Inserted+got.Updated+got.Deleted != 0 {
			t.Errorf("recover packet changed %+v", got)
		}
		requireConverged(t, boston, blr, dub)
	})
}

func TestPrune_ReplicaBehindTheHorizonGetsAClearError(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 5, "boston", "bangalore")
		boston, blr := sites[0], sites[1]
		backup, _ := testdb.Clone(t, blr.db, "bangalore-backup")
		mustExec(t, boston.db, `DELETE FROM defect WHERE id = 1`)
		syncPair(t, boston, blr)
		syncPair(t, blr, boston)
		st, err := multisite.Prune(ctx, boston.db)
		require.NoError(t, err)
		require.Equal(t, int64(1), st.Tombstones)

		// Bangalore comes back from a backup older than the pruned deletion.
		old := &site{name: "bangalore", db: backup, id: blr.id}
		_, err = multisite.RestoreReplica(ctx, old.db)
		require.NoError(t, err)
		syncPair(t, old, boston)
		_, err = multisite.ExportPacket(ctx, boston.db, old.id, &bytes.Buffer{}, multisite.ExportOptions{})
		var pe *multisite.PrunedError
		if !errors.As(err, &pe) || !errors.Is(err, multisite.ErrPruned) || pe.Origin != boston.id {
			t.Fatalf("error = %v, want *PrunedError for boston's history", err)
		}
	})
}
