package multisite_test

import (
	"bytes"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/stretchr/testify/require"
)

// fkSchema has a child table that sorts before its parent, so a sync
// packet (tables in name order) carries children first, and a parent that
// references itself.
const fkSchema = `CREATE TABLE zdefect (id BIGINT PRIMARY KEY, title VARCHAR(100) NOT NULL, parent BIGINT,
	CONSTRAINT zdefect_parent FOREIGN KEY (parent) REFERENCES zdefect (id));
CREATE TABLE acomment (id BIGINT PRIMARY KEY, defect_id BIGINT NOT NULL, body VARCHAR(200),
	CONSTRAINT acomment_defect FOREIGN KEY (defect_id) REFERENCES zdefect (id))`

func execAll(t testing.TB, s *dsite, script string) {
	t.Helper()
	for _, stmt := range strings.Split(script, ";") {
		if strings.TrimSpace(stmt) != "" {
			s.mustExec(t, stmt)
		}
	}
}

func foreignKeys(t testing.TB, s *dsite) []dialect.ForeignKey {
	t.Helper()
	var all []dialect.ForeignKey
	for _, table := range []string{"acomment", "zdefect"} {
		fks, err := dialect.ForeignKeys(ctx, s.db, s.d, table)
		require.NoError(t, err)
		all = append(all, fks...)
	}
	return all
}

func nextID(t testing.TB, s *dsite, table string) int64 {
	t.Helper()
	id, err := multisite.NextID(ctx, s.db, nil, table)
	require.NoError(t, err)
	return id
}

func TestForeignKeys_ReplicateInAnyOrder(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		boston := newDSite(t, open("boston"), "boston")
		execAll(t, boston, fkSchema)
		boston.mustExec(t, `INSERT INTO zdefect (id, title) VALUES (1, 'root')`)
		boston.mustExec(t, `INSERT INTO acomment (id, defect_id, body) VALUES (1, 1, 'first')`)
		before := foreignKeys(t, boston)
		require.Len(t, before, 2)

		plan, err := multisite.PlanActivation(ctx, boston.db, multisite.ActivateOptions{Name: "boston"})
		require.NoError(t, err)
		if got := strings.Contains(plan.String(), "DEFERRABLE"); got != (boston.d.Name() == dialect.Postgres) {
			t.Errorf("activation plan mentions DEFERRABLE: %v; want it on PostgreSQL only:\n%s", got, plan)
		}
		info, err := multisite.Activate(ctx, boston.db, multisite.ActivateOptions{Name: "boston"})
		require.NoError(t, err)
		boston.id = info.ID

		// The replica gets the constraints from the creation packet.
		dublin := replicateTo(t, boston, open("dublin"), "dublin")
		strip := func(fks []dialect.ForeignKey) []dialect.ForeignKey {
			out := append([]dialect.ForeignKey(nil), fks...)
			for i := range out {
				out[i].Marked, out[i].Deferrable = false, false
			}
			return out
		}
		if diff := cmp.Diff(strip(foreignKeys(t, boston)), strip(foreignKeys(t, dublin))); diff != "" {
			t.Errorf("foreign keys of the replica differ from the original's (-boston +dublin):\n%s", diff)
		}
		dsync(t, dublin, boston)

		// Parents and children created, linked and deleted at dublin apply
		// at boston although the packet carries the children first.
		a, b := nextID(t, dublin, "zdefect"), int64(0)
		dublin.mustExec(t, `INSERT INTO zdefect (id, title) VALUES (?, 'a')`, a)
		b = nextID(t, dublin, "zdefect")
		dublin.mustExec(t, `INSERT INTO zdefect (id, title, parent) VALUES (?, 'b', ?)`, b, a)
		dublin.mustExec(t, `UPDATE zdefect SET parent = ? WHERE id = ?`, b, a) // a cycle: a -> b -> a
		c := nextID(t, dublin, "acomment")
		dublin.mustExec(t, `INSERT INTO acomment (id, defect_id, body) VALUES (?, ?, 'on b')`, c, b)
		rep := dsync(t, dublin, boston)
		require.Equal(t, 1, rep.Tables["acomment"].Inserted)
		dconverged(t, boston, dublin)

		dublin.mustExec(t, `DELETE FROM acomment WHERE id = ?`, c)
		dublin.mustExec(t, `UPDATE zdefect SET parent = NULL WHERE id = ?`, a)
		dublin.mustExec(t, `DELETE FROM zdefect WHERE id = ?`, b)
		dublin.mustExec(t, `DELETE FROM zdefect WHERE id = ?`, a)
		dsync(t, dublin, boston)
		dconverged(t, boston, dublin)

		// A packet that would leave a row without its parent is refused,
		// naming the row, and boston is unchanged.
		dublin.mustExec(t, `INSERT INTO acomment (id, defect_id, body) VALUES (?, 1, 'on root')`, nextID(t, dublin, "acomment"))
		pkt := dexport(t, dublin, boston)
		boston.mustExec(t, `DELETE FROM acomment WHERE id = 1`)
		boston.mustExec(t, `DELETE FROM zdefect WHERE id = 1`)
		hash := contentHash(t, &boston.site)
		_, err = multisite.ImportPacket(ctx, boston.db, bytes.NewReader(pkt), multisite.ImportOptions{})
		var fkErr *multisite.ForeignKeyError
		if !errors.As(err, &fkErr) || !errors.Is(err, multisite.ErrForeignKey) {
			t.Fatalf("import of an orphan: %v, want *ForeignKeyError", err)
		}
		if fkErr.Table != "acomment" || fkErr.RefTable != "zdefect" || len(fkErr.Values) != 1 {
			t.Errorf("ForeignKeyError = %+v, want acomment -> zdefect with the missing value", fkErr)
		}
		if got := contentHash(t, &boston.site); got != hash {
			t.Error("a refused import changed boston")
		}
		// The import's relaxed checks did not leak into the pool.
		for range 3 {
			if err := boston.exec(t, `INSERT INTO acomment (id, defect_id) VALUES (?, 424242)`, nextID(t, boston, "acomment")); err == nil {
				t.Fatal("an orphan insert at boston succeeded after the import: foreign key checks were left off")
			}
		}

		// Deactivation gives back the constraints as they were.
		require.NoError(t, multisite.Deactivate(ctx, boston.db))
		if diff := cmp.Diff(before, foreignKeys(t, boston)); diff != "" {
			t.Errorf("foreign keys after deactivation differ from before activation:\n%s", diff)
		}
	})
}

func TestForeignKeys_ActionsRefusedOnMySQL(t *testing.T) {
	s := newDSite(t, testdb.MySQL(t, "cascade"), "boston")
	s.mustExec(t, `CREATE TABLE zdefect (id BIGINT PRIMARY KEY, title VARCHAR(100))`)
	s.mustExec(t, `CREATE TABLE acomment (id BIGINT PRIMARY KEY, defect_id BIGINT,
		CONSTRAINT acomment_defect FOREIGN KEY (defect_id) REFERENCES zdefect (id) ON DELETE CASCADE)`)
	_, err := multisite.Activate(ctx, s.db, multisite.ActivateOptions{Name: "boston"})
	var fkErr *multisite.ForeignKeyError
	if !errors.As(err, &fkErr) || fkErr.Action != "ON DELETE CASCADE" || fkErr.Constraint != "acomment_defect" {
		t.Fatalf("Activate with ON DELETE CASCADE on MariaDB: %v, want *ForeignKeyError naming the action", err)
	}
	if got := s.query(t, `SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'ms\_%'`); got != "0" {
		t.Errorf("a refused activation left %s metadata tables", got)
	}
}

// A 32-bit integer key cannot hold the keys replicas other than the first
// allocate (from 2^40): activation says so instead of failing at the first
// import.
func TestActivate_NarrowIntegerKeyRefused(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		s := newDSite(t, open("narrow"), "boston")
		s.mustExec(t, `CREATE TABLE defect (id INTEGER PRIMARY KEY, title VARCHAR(10))`)
		_, err := multisite.Activate(ctx, s.db, multisite.ActivateOptions{Name: "boston"})
		if s.d.Name() == dialect.SQLite {
			require.NoError(t, err, "SQLite integers are 64-bit")
			return
		}
		if !errors.Is(err, multisite.ErrKeyRange) || !strings.Contains(err.Error(), "BIGINT") {
			t.Fatalf("Activate with an INTEGER key on %s: %v, want ErrKeyRange suggesting BIGINT", s.d.Name(), err)
		}
	})
}
