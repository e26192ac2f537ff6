package multisite_test

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/multisite-go/multisite/mastership"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/schema"
	"github.com/stretchr/testify/require"
)

// ownerBypass runs stmts on one connection of s with the library's
// triggers stood aside the way an owner who read the library's source can
// (SQLite: temp.ms_applying on that connection; PostgreSQL: the
// transaction-local multisite.applying; MariaDB: @ms_applying), for tests
// that forge what only a bypass makes.
func ownerBypass(t testing.TB, s *dsite, stmts ...string) {
	t.Helper()
	conn, err := s.db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback()
	on, off := map[dialect.Name]string{
		dialect.SQLite:   `CREATE TEMP TABLE ms_applying (id INTEGER)`,
		dialect.Postgres: `SET LOCAL multisite.applying = 'on'`,
		dialect.MySQL:    `SET @ms_applying = 1`,
	}, map[dialect.Name]string{
		dialect.SQLite: `DROP TABLE temp.ms_applying`,
		dialect.MySQL:  `SET @ms_applying = NULL`,
	}
	require.NoError(t, exec1(tx, on[s.d.Name()]))
	for _, q := range stmts {
		require.NoError(t, exec1(tx, q), q)
	}
	require.NoError(t, exec1(tx, off[s.d.Name()]))
	require.NoError(t, tx.Commit())
}

func exec1(tx *sql.Tx, q string) error {
	if q == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, q)
	return err
}

// findings lists a row report as "table[key] issue local" lines.
func findings(r *schema.RowReport) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, fmt.Sprintf("%s[%s] %s local=%v", f.Table, f.Key, f.Issue, f.Local))
	}
	return out
}

func verify(t testing.TB, s *dsite) *schema.RowReport {
	t.Helper()
	r, err := multisite.VerifyRows(ctx, s.db)
	require.NoError(t, err)
	return r
}

// TestBypass_SwitchRefused: the switch the library's imports use lives
// where only their own transaction or connection sees it. The old flag in
// ms_ctl, set in a writer's own transaction, switches nothing off; neither
// does PostgreSQL's session_replication_role.
func TestBypass_SwitchRefused(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		boston := newDSite(t, open("boston"), "boston")
		seedPortable(t, boston, 3)
		info, err := multisite.Activate(ctx, boston.db, multisite.ActivateOptions{Name: "boston"})
		require.NoError(t, err)
		boston.id = info.ID
		blr := replicateTo(t, boston, open("bangalore"), "bangalore")
		before := stateOf(t, blr)

		attempts := map[string][]string{
			"ms_ctl.applying in the writer's transaction": {`UPDATE ms_ctl SET applying = 1`, `UPDATE defect SET headline = 'mine now' WHERE id = 1`},
		}
		if blr.d.Name() == dialect.Postgres {
			attempts["session_replication_role = replica"] = []string{`SET LOCAL session_replication_role = replica`, `UPDATE defect SET headline = 'mine now' WHERE id = 1`}
		}
		for name, stmts := range attempts {
			tx, err := blr.db.BeginTx(ctx, nil)
			require.NoError(t, err)
			var last error
			for _, q := range stmts {
				if _, last = tx.ExecContext(ctx, q); last != nil {
					break
				}
			}
			_ = tx.Rollback()
			var nm *mastership.NotMasterError
			if !errors.As(mastership.FromDriver(last), &nm) || nm.Master != boston.id {
				t.Errorf("%s: update of boston's defect 1 at bangalore = %v, want *NotMasterError naming boston", name, last)
			}
		}
		requireUnchanged(t, before, blr)
		if r := verify(t, blr); !r.Clean() {
			t.Errorf("rows after refused writes:\n%s", r)
		}
		// Ordinary writes keep every fingerprint current, here and where
		// they arrive.
		id, err := multisite.NextID(ctx, boston.db, nil, "defect")
		require.NoError(t, err)
		boston.mustExec(t, `INSERT INTO defect (id, project, headline) VALUES (?, 'UI', 'new')`, id)
		boston.mustExec(t, `UPDATE defect SET headline = 'changed', owner = NULL WHERE id = 2`)
		boston.mustExec(t, `DELETE FROM defect WHERE id = 3`)
		dsync(t, boston, blr)
		for _, s := range []*dsite{boston, blr} {
			if r := verify(t, s); !r.Clean() || r.Rows == 0 {
				t.Errorf("%s after ordinary writes: %d rows, findings %v", s.name, r.Rows, findings(r))
			}
		}
	})
}

// TestBypass_DetectedAndRepaired: every way an owner can still get past
// the triggers (the switch set by hand, a trigger dropped or disabled, a
// shadow entry deleted) is found by VerifyRows and SchemaStatus, and after
// Repair (and, for a row mastered elsewhere, its master's RecoverPacket)
// the replicas converge again and packets flow.
func TestBypass_DetectedAndRepaired(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		boston := newDSite(t, open("boston"), "boston")
		seedPortable(t, boston, 6)
		info, err := multisite.Activate(ctx, boston.db, multisite.ActivateOptions{Name: "boston"})
		require.NoError(t, err)
		boston.id = info.ID
		blr := replicateTo(t, boston, open("bangalore"), "bangalore")
		dsync(t, blr, boston)
		dsync(t, boston, blr)
		for _, s := range []*dsite{boston, blr} {
			if r := verify(t, s); !r.Clean() || r.Rows == 0 {
				t.Fatalf("%s fresh: %d rows checked, findings %v", s.name, r.Rows, findings(r))
			}
		}
		epochOf := func(s *dsite, id int) uint64 {
			var e uint64
			require.NoError(t, s.db.QueryRowContext(ctx, fmt.Sprintf(`SELECT ms_epoch FROM ms_row_defect WHERE id = %d`, id)).Scan(&e))
			return e
		}
		// A shadow entry deleted by hand: the next local write of the row
		// is refused rather than lost.
		boston.mustExec(t, `DELETE FROM ms_row_defect WHERE id = 1`)
		if err := boston.exec(t, `UPDATE defect SET headline = 'lost?' WHERE id = 1`); err == nil || !strings.Contains(err.Error(), "no shadow entry") {
			t.Errorf("update of a row without its shadow entry = %v, want refused", err)
		}
		// The switch set by hand at boston (its own row 2) and at
		// bangalore (boston's row 3).
		ownerBypass(t, boston, `UPDATE defect SET headline = 'quietly' WHERE id = 2`)
		e3 := epochOf(blr, 3)
		ownerBypass(t, blr, `UPDATE defect SET headline = 'stolen' WHERE id = 3`)
		// boston's row 4 deleted with the switch set, and a capture trigger
		// dropped: a new row inserted unseen.
		ownerBypass(t, boston, `DELETE FROM defect WHERE id = 4`)
		dropped := dropTrigger(t, boston, "defect")
		unseen, err := multisite.NextID(ctx, boston.db, nil, "defect")
		require.NoError(t, err)
		boston.mustExec(t, `INSERT INTO defect (id, project, headline) VALUES (?, 'CORE', 'unseen')`, unseen)
		// PostgreSQL: the enforcement trigger disabled at bangalore, and
		// boston's row 5 changed.
		e5 := epochOf(blr, 5)
		if blr.d.Name() == dialect.Postgres {
			blr.mustExec(t, `ALTER TABLE defect DISABLE TRIGGER USER`)
			blr.mustExec(t, `UPDATE defect SET headline = 'while disabled' WHERE id = 5`)
		}

		want := map[string][]string{
			"boston":    {"defect[1] unrecorded local=true", "defect[2] altered local=true", "defect[4] vanished local=true", fmt.Sprintf("defect[%d] unrecorded local=true", unseen)},
			"bangalore": {"defect[3] altered local=false"},
		}
		if blr.d.Name() == dialect.Postgres {
			want["bangalore"] = []string{"defect[3] altered local=false", "defect[5] altered local=false"}
		}
		for _, s := range []*dsite{boston, blr} {
			r := verify(t, s)
			got := findings(r)
			if diff := cmp.Diff(want[s.name], got); diff != "" {
				t.Errorf("VerifyRows at %s (-want +got):\n%s", s.name, diff)
			}
			st, err := multisite.SchemaStatus(ctx, s.db)
			require.NoError(t, err)
			if st.Clean() {
				t.Errorf("SchemaStatus at %s is clean after the bypasses:\n%s", s.name, st)
			}
		}
		st, err := multisite.SchemaStatus(ctx, boston.db)
		require.NoError(t, err)
		if triggerState(t, st, "defect", dropped) != schema.TriggerMissing {
			t.Errorf("dropped %s not reported missing:\n%s", dropped, st)
		}

		for _, s := range []*dsite{boston, blr} {
			if _, err := multisite.Repair(ctx, s.db); err != nil {
				t.Fatalf("Repair at %s: %v", s.name, err)
			}
		}
		// Boston's rows travel as its changes; bangalore's forged ones wait
		// for boston to send them again.
		if got := findings(verify(t, boston)); len(got) != 0 {
			t.Errorf("boston after Repair: %v", got)
		}
		var refetch []string
		for _, f := range verify(t, blr).Findings {
			if f.Issue != schema.RowRefetch {
				t.Errorf("bangalore after Repair: %s[%s] %s", f.Table, f.Key, f.Issue)
			}
			refetch = append(refetch, f.Key)
		}
		if len(refetch) != len(want["bangalore"]) {
			t.Errorf("bangalore set aside %v, want %d rows", refetch, len(want["bangalore"]))
		}
		dsync(t, boston, blr)
		dsync(t, blr, boston)
		since := min(e3, e5)
		if since > 0 {
			since--
		}
		var buf bytes.Buffer
		_, err = multisite.RecoverPacket(ctx, boston.db, blr.id, replica.Vector{boston.id: since}, &buf, multisite.ExportOptions{})
		require.NoError(t, err)
		_, err = multisite.ImportPacket(ctx, blr.db, &buf, multisite.ImportOptions{})
		require.NoError(t, err)
		for _, s := range []*dsite{boston, blr} {
			if r := verify(t, s); !r.Clean() {
				t.Errorf("%s after the master's packet: %v", s.name, findings(r))
			}
			if st, err := multisite.SchemaStatus(ctx, s.db); err != nil || !st.Clean() {
				t.Errorf("SchemaStatus at %s after Repair: %v\n%s", s.name, err, st)
			}
		}
		dconverged(t, boston, blr)
		if got := blr.query(t, `SELECT headline FROM defect WHERE id = 2`); got != "quietly" {
			t.Errorf("boston's re-recorded change of defect 2 at bangalore: %q", got)
		}
		if got := blr.query(t, `SELECT count(*) FROM defect WHERE id = 4`); got != "0" {
			t.Errorf("boston's unseen delete of defect 4 did not reach bangalore")
		}
		if got := blr.query(t, `SELECT headline FROM defect WHERE id = ?`, unseen); got != "unseen" {
			t.Errorf("boston's unseen insert reached bangalore as %q", got)
		}
		// Packets flow both ways again, and enforcement is back.
		boston.mustExec(t, `UPDATE defect SET headline = 'after repair' WHERE id = 1`)
		if err := blr.exec(t, `UPDATE defect SET headline = 'again' WHERE id = 5`); err == nil {
			t.Errorf("bangalore changed boston's defect 5 after Repair")
		}
		dsync(t, boston, blr)
		dsync(t, blr, boston)
		dconverged(t, boston, blr)
	})
}
