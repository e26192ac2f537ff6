package multisite_test

import (
	"bytes"
	"database/sql"
	"errors"
	"testing"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/multisite-go/multisite/mastership"
	"github.com/multisite-go/multisite/replica"
	"github.com/stretchr/testify/require"
)

func TestRestoreReplica_FromBackupLosesNothingAndReusesNoEpoch(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 5, "boston", "bangalore", "dublin")
		boston, blr, dub := sites[0], sites[1], sites[2]
		mustExec(t, blr.db, `INSERT INTO project (code, title) VALUES ('B0', 'before the backup')`)
		syncPair(t, blr, boston)
		syncPair(t, blr, dub)

		// A backup: a copy of bangalore's database as it is now (testdb.Clone:
		// VACUUM INTO, CREATE DATABASE ... TEMPLATE, or a copy of every
		// table and trigger on MariaDB).
		backup, _ := testdb.Clone(t, blr.db, "bangalore-backup")

		// Life goes on after the backup: bangalore writes, and everyone has it.
		mustExec(t, blr.db, `INSERT INTO project (code, title) VALUES ('B1', 'after the backup')`)
		id, err := multisite.NextID(ctx, blr.db, nil, "defect")
		require.NoError(t, err)
		mustExec(t, blr.db, `INSERT INTO defect (id, project, headline) VALUES (?, 'B1', 'bangalore defect')`, id)
		syncPair(t, blr, boston)
		syncPair(t, blr, dub)
		mustExec(t, boston.db, `UPDATE defect SET state = 'fixed' WHERE id = 1`)
		syncPair(t, boston, blr)
		staleForBlr := export(t, boston, blr) // made for the pre-restore bangalore
		before, err := multisite.ReadStatus(ctx, blr.db)
		require.NoError(t, err)
		usedEpoch := before.Epoch

		// The disk dies; bangalore is restored from the backup.
		restored := &site{name: "bangalore", db: backup, id: blr.id}
		info, err := multisite.RestoreReplica(ctx, restored.db)
		require.NoError(t, err)
		if info.State != replica.Restoring || info.Incarnation != 1 {
			t.Fatalf("after RestoreReplica: %+v", info)
		}
		if n := queryString(t, restored.db, `SELECT count(*) FROM project WHERE code = 'B1'`); n != "0" {
			t.Fatalf("backup already has B1")
		}
		// Locked for writes until it has caught up.
		err = sqlExec(t, restored.db, `UPDATE project SET title = 'x' WHERE code = 'B0'`)
		if err == nil {
			t.Fatal("a restoring replica accepted a write")
		}
		// A packet made for its earlier incarnation is refused as a gap.
		if _, err := multisite.ImportPacket(ctx, restored.db, bytes.NewReader(staleForBlr), multisite.ImportOptions{}); !errors.Is(err, replica.ErrGap) {
			t.Fatalf("stale packet: error = %v, want ErrGap", err)
		}

		// It tells the family; the family resends what it lost.
		syncPair(t, restored, boston)
		syncPair(t, restored, dub)
		if rep := syncPair(t, boston, restored); rep.Restored {
			t.Fatal("restore finished before every member sent its packet")
		}
		rep := syncPair(t, dub, restored)
		if !rep.Restored {
			t.Fatal("restore did not finish after every member sent its packet")
		}
		if n := queryString(t, restored.db, `SELECT count(*) FROM project WHERE code = 'B1'`); n != "1" {
			t.Errorf("bangalore's own change after the backup did not come back")
		}
		requireConverged(t, boston, restored)

		// Active again, with an epoch counter past everything handed out before.
		mustExec(t, restored.db, `UPDATE project SET title = 'after the restore' WHERE code = 'B1'`)
		var buf bytes.Buffer
		st, err := multisite.ExportPacket(ctx, restored.db, boston.id, &buf, multisite.ExportOptions{})
		require.NoError(t, err)
		if st.Epoch <= usedEpoch {
			t.Errorf("restored replica sealed epoch %d, but epochs up to %d were already handed out", st.Epoch, usedEpoch)
		}
		importInto(t, boston, buf.Bytes())
		syncPair(t, boston, dub)
		requireConverged(t, boston, restored, dub)
		if got := queryString(t, dub.db, `SELECT title FROM project WHERE code = 'B1'`); got != "after the restore" {
			t.Errorf("dublin has %q", got)
		}
		// Mastership still holds.
		err = sqlExec(t, restored.db, `UPDATE defect SET state = 'x' WHERE id = 1`)
		if !errors.Is(mastership.FromDriver(err), mastership.ErrNotMaster) {
			t.Errorf("restored replica wrote a row it does not master: %v", err)
		}
	})
}

// TestRestoreReplica_PacketsInAnyOrder: after the restore, the restored
// replica's acknowledgements tell every member what it holds; the members'
// packets then connect whatever order they come in, and the last one
// reports the restore complete.
func TestRestoreReplica_PacketsInAnyOrder(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 5, "boston", "bangalore", "dublin")
		boston, blr, dub := sites[0], sites[1], sites[2]
		backup, _ := testdb.Clone(t, blr.db, "bangalore-backup")
		// After the backup: bangalore writes, boston and dublin write, all
		// exchange.
		mustExec(t, blr.db, `INSERT INTO project (code, title) VALUES ('B1', 'after the backup')`)
		mustExec(t, dub.db, `INSERT INTO project (code, title) VALUES ('D1', 'dublin after the backup')`)
		syncPair(t, blr, boston)
		syncPair(t, dub, boston)
		syncPair(t, boston, blr)
		syncPair(t, boston, dub)
		syncPair(t, blr, dub)
		mustExec(t, boston.db, `UPDATE defect SET state = 'fixed' WHERE id = 2`)

		restored := &site{name: "bangalore", db: backup, id: blr.id}
		_, err := multisite.RestoreReplica(ctx, restored.db)
		require.NoError(t, err)
		// A packet made before the members know of the restore is refused
		// for its gap, with nothing changed.
		stale := export(t, dub, restored)
		before := contentHash(t, restored)
		if _, err := multisite.ImportPacket(ctx, restored.db, bytes.NewReader(stale), multisite.ImportOptions{}); !errors.Is(err, replica.ErrGap) {
			t.Fatalf("packet made before the restore was known: %v, want ErrGap", err)
		}
		if contentHash(t, restored) != before {
			t.Fatal("the refused packet changed the restored replica")
		}
		// The restored replica acknowledges to every member...
		for _, m := range []*site{boston, dub} {
			var ack bytes.Buffer
			_, err := multisite.WriteAck(ctx, restored.db, m.id, &ack)
			require.NoError(t, err)
			importInto(t, m, ack.Bytes())
		}
		// ... and their packets come in any order: dublin's first.
		pb, pd := export(t, boston, restored), export(t, dub, restored)
		if rep := importInto(t, restored, pd); rep.Restored {
			t.Fatal("restore complete before boston's packet")
		}
		if rep := importInto(t, restored, pb); !rep.Restored {
			t.Fatal("restore not reported complete after every member's packet")
		}
		for _, code := range []string{"B1", "D1"} {
			if n := queryString(t, restored.db, `SELECT count(*) FROM project WHERE code = ?`, code); n != "1" {
				t.Errorf("%s did not come back", code)
			}
		}
		syncPair(t, boston, dub)
		requireConverged(t, boston, restored, dub)
		st, err := multisite.ReadStatus(ctx, restored.db)
		require.NoError(t, err)
		if st.Local.State != replica.Active {
			t.Errorf("restored replica is %s", st.Local.State)
		}
	})
}
