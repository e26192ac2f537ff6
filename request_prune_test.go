package multisite_test

import (
	"bytes"
	"database/sql"
	"testing"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/stretchr/testify/require"
)

// Settled mastership requests are history like tombstones: Prune drops
// them once every member holds their last change, and an old packet that
// still carries the request does not bring it back.
func TestPrune_SettledRequests(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		m := newDSite(t, open("boston"), "boston")
		seedPortable(t, m, 4)
		info, err := multisite.Activate(ctx, m.db, multisite.ActivateOptions{Name: "boston"})
		require.NoError(t, err)
		m.id = info.ID
		a := replicateTo(t, m, open("bangalore"), "bangalore")
		dsync(t, a, m)
		dsync(t, m, a)

		id, err := multisite.RequestMastership(ctx, a.db, "defect", []any{1}, "ravi works here")
		require.NoError(t, err)
		old := dexport(t, a, m) // carries the request while it is pending
		dsyncPkt(t, m, old)
		_, err = multisite.GrantRequest(ctx, m.db, id)
		require.NoError(t, err)
		for range 2 { // the grant travels; each side acknowledges the other
			dsync(t, m, a)
			dsync(t, a, m)
		}

		st, err := multisite.Prune(ctx, m.db)
		require.NoError(t, err)
		if st.Requests != 1 {
			t.Errorf("Prune dropped %d settled requests, want 1", st.Requests)
		}
		rs, err := multisite.Requests(ctx, m.db, multisite.RequestFilter{ID: id})
		require.NoError(t, err)
		require.Empty(t, rs, "the pruned request is still listed")

		// The old packet again: nothing comes back, and boston is unchanged.
		hash := contentHash(t, &m.site)
		_, err = multisite.ImportPacket(ctx, m.db, bytes.NewReader(old), multisite.ImportOptions{})
		require.NoError(t, err)
		rs, err = multisite.Requests(ctx, m.db, multisite.RequestFilter{ID: id})
		require.NoError(t, err)
		if len(rs) != 0 {
			t.Errorf("an old packet brought back the pruned request: %+v", rs)
		}
		if contentHash(t, &m.site) != hash {
			t.Error("re-importing an old packet changed boston")
		}
	})
}
