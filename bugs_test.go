package multisite_test

import (
	"context"
	"errors"
	"testing"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/mastership"
	"github.com/stretchr/testify/require"
)

// Regression tests for library bugs found by the simulation and fuzzing.

// NextID must never hand out a key whose row once existed and was deleted
// at another replica: the tombstone is mastered there, so the insert was
// refused, and since NextID kept returning the same key the replica could
// never create a row in that table again. Found by TestSimulation; fixed.
func TestBug_NextIDReusesKeyDeletedElsewhere(t *testing.T) {
	ctx := context.Background()
	sites := newFamily(t, 5, "boston", "bangalore")
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
	if _, err := boston.db.Exec(`INSERT INTO defect (id, project, headline) VALUES (?, 'CORE', 'after')`, next); err != nil {
		t.Errorf("insert with the key NextID gave: %v (ErrNotMaster: %v)", err, errors.Is(mastership.FromDriver(err), mastership.ErrNotMaster))
	}
}
