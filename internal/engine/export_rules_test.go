package engine

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/multisite-go/multisite/replica"
	"github.com/stretchr/testify/require"
)

// TestChangeFilter_AgreesWithRules checks the SQL an export selects
// changes with (changeFilter over replica.Lacks) against the vector rule:
// a sealed change stamped (origin, epoch) that the sender holds goes to
// the target exactly when the target does not hold it
// (!target.Holds(origin, epoch)); an unsealed change never goes. Random
// vectors and stamps, on every configured dialect.
func TestChangeFilter_AgreesWithRules(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, open func(string) *sql.DB) {
		ctx := context.Background()
		db := open("change_filter")
		d, err := dialect.Detect(db)
		require.NoError(t, err)
		testdb.Exec(t, db, "CREATE TABLE cf (id INTEGER PRIMARY KEY, ms_origin VARCHAR(20) NOT NULL, ms_epoch BIGINT)")
		r := rand.New(rand.NewPCG(7, uint64(len(d.Name()))))
		origins := []replica.ID{"0a", "3f", "9c", "b2", "e7"}
		vec := func(maxEpoch int) replica.Vector {
			v := replica.Vector{}
			for _, o := range origins {
				if r.IntN(4) != 0 {
					v[o] = uint64(r.IntN(maxEpoch + 1))
				}
			}
			return v
		}
		sent := 0 // rounds that send something: the test must not pass on empty selections
		for round := range 40 {
			have, target := vec(8), vec(8)
			// Stamps the sender holds: epochs up to what it has of each
			// origin, some unsealed (NULL).
			type stamp struct {
				origin replica.ID
				epoch  uint64 // 0: unsealed
			}
			var stamps []stamp
			tx, err := db.BeginTx(ctx, nil)
			require.NoError(t, err)
			_, err = tx.ExecContext(ctx, "DELETE FROM cf")
			require.NoError(t, err)
			for id := range 60 {
				o := origins[r.IntN(len(origins))]
				s := stamp{origin: o}
				var epoch any
				if have[o] > 0 && r.IntN(8) != 0 {
					s.epoch = uint64(1 + r.IntN(int(have[o])))
					epoch = s.epoch
				}
				stamps = append(stamps, s)
				_, err := tx.ExecContext(ctx, d.Rebind("INSERT INTO cf (id, ms_origin, ms_epoch) VALUES (?, ?, ?)"), id, string(o), epoch)
				require.NoError(t, err)
			}
			require.NoError(t, tx.Commit())
			var want []int
			for id, s := range stamps {
				if s.epoch > 0 && !target.Holds(s.origin, s.epoch) {
					want = append(want, id)
				}
			}
			var got []int
			if after := replica.Lacks(have, target); len(after) > 0 { // else writeChanges sends nothing
				where, args := changeFilter(d, "", "ms_origin", after)
				rows, err := db.QueryContext(ctx, d.Rebind("SELECT id FROM cf WHERE "+where+" ORDER BY id"), args...)
				require.NoError(t, err)
				for rows.Next() {
					var id int
					require.NoError(t, rows.Scan(&id))
					got = append(got, id)
				}
				require.NoError(t, rows.Err())
				rows.Close()
			}
			if len(want) > 0 {
				sent++
			}
			slices.Sort(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("round %d: have %v, target %v: selected changes (-rule +sql):\n%s", round, have, target, diff)
			}
		}
		require.Greater(t, sent, 20, "rounds that select changes")
	})
}
