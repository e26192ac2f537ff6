package multisite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"testing"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/multisite-go/multisite/mastership"
	"github.com/multisite-go/multisite/schema"
	"github.com/multisite-go/multisite/syncpkt"
	"github.com/stretchr/testify/require"
)

// Regression tests for library bugs found by the simulation and fuzzing.

// NextID must never hand out a key whose row once existed and was deleted
// at another replica: the tombstone is mastered there, so the insert was
// refused, and since NextID kept returning the same key the replica could
// never create a row in that table again. Found by TestSimulation; fixed.
func TestBug_NextIDReusesKeyDeletedElsewhere(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		ctx := context.Background()
		sites := familyOn(t, open, 5, "boston", "bangalore")
		boston, blr := sites[0], sites[1]
		id, err := multisite.NextID(ctx, boston.db, nil, "defect")
		require.NoError(t, err)
		mustExec(t, boston.db, `INSERT INTO defect (id, project, headline) VALUES (?, 'CORE', 'newest')`, id)
		_, err = multisite.TransferMastership(ctx, boston.db, "defect", blr.id, []any{id})
		require.NoError(t, err)
		syncPair(t, boston, blr)
		mustExec(t, blr.db, `DELETE FROM defect WHERE id = ?`, id)
		syncPair(t, blr, boston)

		next, err := multisite.NextID(ctx, boston.db, nil, "defect")
		require.NoError(t, err)
		if next == id {
			t.Errorf("NextID = %d again, the key of a row deleted at bangalore", next)
		}
		if err := sqlExec(t, boston.db, `INSERT INTO defect (id, project, headline) VALUES (?, 'CORE', 'after')`, next); err != nil {
			t.Errorf("insert with the key NextID gave: %v (ErrNotMaster: %v)", err, errors.Is(mastership.FromDriver(err), mastership.ErrNotMaster))
		}
	})
}

// A bit flipped in the zstd frame header of a compressed packet (the
// content-checksum flag, say) left every record and the trailer readable,
// and only the reader's end-of-stream check after the trailer failed, with
// an untyped "syncpkt: read: invalid input: ..." error: a damaged packet
// was refused without ErrChecksum, and a caller could not tell damage from
// an I/O failure. Found by TestSimulation (seed 112); fixed in syncpkt's
// Reader.finish. SQLite alone: the packet reader meets the damage before
// any SQL runs.
func TestBug_DamagedCompressedFrameIsUntypedError(t *testing.T) {
	ctx := context.Background()
	sites := newFamily(t, 5, "boston", "bangalore")
	boston, blr := sites[0], sites[1]
	mustExec(t, boston.db, `UPDATE defect SET state = 'fixed' WHERE id <= 3`)
	pkt := export(t, boston, blr)
	typed := func(err error) bool {
		for _, e := range simRefusals {
			if errors.Is(err, e) {
				return true
			}
		}
		return false
	}
	// Every single-bit flip, through the packet reader alone (cheap).
	for i := range pkt {
		for bit := range 8 {
			bad := bytes.Clone(pkt)
			bad[i] ^= 1 << bit
			r := syncpkt.NewReader(bytes.NewReader(bad), syncpkt.ReaderOptions{})
			var err error
			for err == nil {
				_, err = r.Next()
			}
			if err != io.EOF && !typed(err) {
				t.Errorf("bit %d of byte %d of %d flipped: reader error %v, want a syncpkt sentinel", bit, i, len(pkt), err)
			}
		}
	}
	// The flips in the preamble and frame header, through ImportPacket.
	// Some (in zstd's window descriptor, say) change no decoded byte: the
	// packet still verifies and applies, as the genuine one would.
	before, accepted := contentHash(t, blr), 0
	for i := range min(len(pkt), 32) {
		for bit := range 8 {
			bad := bytes.Clone(pkt)
			bad[i] ^= 1 << bit
			_, err := multisite.ImportPacket(ctx, blr.db, bytes.NewReader(bad), multisite.ImportOptions{})
			switch {
			case err == nil:
				accepted++
			case !typed(err):
				t.Errorf("bit %d of byte %d flipped: import error %v, want a typed refusal", bit, i, err)
			}
		}
	}
	if h := contentHash(t, blr); accepted == 0 && h != before {
		t.Fatal("a refused packet changed data")
	}
	importInto(t, blr, pkt)
	requireConverged(t, boston, blr)
}

// On MariaDB/MySQL a non-master's insert of a key whose row was deleted at
// its master (a tombstone mastered elsewhere) was refused by the key-range
// check, which ran first in the AFTER INSERT trigger, with an untyped
// "outside the key range" error; SQLite and PostgreSQL refuse it as
// ErrNotMaster, naming the master. Found when TestDeletesReplicateAsTombstones
// ran on every dialect; fixed by checking the tombstone first.
func TestBug_ResurrectionByNonMasterIsNotMasterOnEveryDialect(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 5, "boston", "bangalore")
		boston, blr := sites[0], sites[1]
		mustExec(t, boston.db, `DELETE FROM defect WHERE id = 4`)
		syncPair(t, boston, blr)
		before := contentHash(t, blr)
		err := mastership.FromDriver(sqlExec(t, blr.db, `INSERT INTO defect (id, project, headline) VALUES (4, 'UI', 'mine?')`))
		var nm *mastership.NotMasterError
		if !errors.As(err, &nm) || nm.Master != boston.id || nm.By != blr.id {
			t.Fatalf("resurrection of boston's deleted defect 4 at bangalore: %v, want *mastership.NotMasterError naming boston", err)
		}
		if h := contentHash(t, blr); h != before {
			t.Error("the refused insert changed data")
		}
	})
}

// A column added by hand at the schema master stayed out of replication
// until the next migration, which took it in at the master alone: every
// other replica then refused the master's packets ("packet has 4 columns
// for defect_tag, this replica 3"). A migration now replicates only what it
// added itself.
func TestBug_MigrationDoesNotReplicateColumnAddedByHand(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		m := newDSite(t, open("boston"), "boston")
		seedPortable(t, m, 4)
		info, err := multisite.Activate(ctx, m.db, multisite.ActivateOptions{Name: "boston"})
		require.NoError(t, err)
		m.id = info.ID
		a := replicateTo(t, m, open("bangalore"), "bangalore")
		dsync(t, a, m)

		m.mustExec(t, `ALTER TABLE defect ADD COLUMN local_note VARCHAR(20)`)
		_, err = multisite.Migrate(ctx, m.db, []schema.Migration{{Version: 1, Name: "milestone",
			Up: `CREATE TABLE milestone (id BIGINT PRIMARY KEY, title VARCHAR(100) NOT NULL)`}}, multisite.MigrateOptions{})
		require.NoError(t, err)
		m.mustExec(t, `UPDATE defect SET headline = 'after the migration' WHERE id = 1`)
		dsync(t, m, a) // refused before the fix
		if got := a.query(t, `SELECT headline FROM defect WHERE id = 1`); got != "after the migration" {
			t.Errorf("bangalore has headline %q", got)
		}
		rep, err := multisite.SchemaStatus(ctx, m.db)
		require.NoError(t, err)
		if rep.Clean() {
			t.Error("schema status at boston is clean; want the column added by hand reported")
		}
	})
}

// A packet that brought only a migration was reported as a duplicate
// although the import applied the migration.
func TestBug_MigrationOnlyPacketIsNoDuplicate(t *testing.T) {
	m := newDSite(t, testdb.SQLite(t, "boston"), "boston")
	seedPortable(t, m, 2)
	info, err := multisite.Activate(ctx, m.db, multisite.ActivateOptions{Name: "boston"})
	require.NoError(t, err)
	m.id = info.ID
	a := replicateTo(t, m, testdb.SQLite(t, "bangalore"), "bangalore")
	dsync(t, a, m)
	dsync(t, m, a)
	_, err = multisite.Migrate(ctx, m.db, []schema.Migration{{Version: 1, Name: "milestone",
		Up: `CREATE TABLE milestone (id BIGINT PRIMARY KEY, title VARCHAR(100) NOT NULL)`}}, multisite.MigrateOptions{})
	require.NoError(t, err)
	rep := dsync(t, m, a)
	if rep.Duplicate || len(rep.Migrated) != 1 {
		t.Errorf("import of a migration-only packet: Duplicate %v, Migrated %v; want false, [1]", rep.Duplicate, rep.Migrated)
	}
}
