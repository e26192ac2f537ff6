package multisite_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/hooks"
	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/multisite-go/multisite/mastership"
	"github.com/stretchr/testify/require"
)

// teamFamily makes three sites, a (boston), b (bangalore) and c (dublin),
// replicating a table of teams whose name is a UNIQUE business key and
// whose code is another, integer, one. The creation packets carry the
// unique indexes to b and c (checked here).
func teamFamily(t *testing.T, open func(string) *sql.DB) (a, b, c *dsite) {
	t.Helper()
	a = newDSite(t, open("boston"), "boston")
	a.mustExec(t, `CREATE TABLE team (id BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL, code INTEGER, note TEXT)`)
	a.mustExec(t, `CREATE UNIQUE INDEX team_name ON team (name)`)
	a.mustExec(t, `CREATE UNIQUE INDEX team_code ON team (code)`)
	a.mustExec(t, `INSERT INTO team (id, name, code) VALUES (1, 'core', 1)`)
	info, err := multisite.Activate(ctx, a.db, multisite.ActivateOptions{Name: "boston"})
	require.NoError(t, err)
	a.id = info.ID
	b = replicateTo(t, a, open("bangalore"), "bangalore")
	c = replicateTo(t, a, open("dublin"), "dublin")
	want, err := dialect.UniqueKeys(ctx, a.db, a.d, "team")
	require.NoError(t, err)
	for _, s := range []*dsite{b, c} {
		got, err := dialect.UniqueKeys(ctx, s.db, s.d, "team")
		require.NoError(t, err)
		require.Equal(t, want, got, "unique keys of team at %s", s.name)
	}
	for _, s := range []*dsite{b, c} {
		dsync(t, s, a)
	}
	for _, s := range []*dsite{b, c} {
		dsync(t, a, s)
	}
	return a, b, c
}

// newTeam inserts a team with a key from s's range and returns the key.
func (s *dsite) newTeam(t testing.TB, name string, code any) int64 {
	t.Helper()
	id, err := multisite.NextID(ctx, s.db, nil, "team")
	require.NoError(t, err)
	s.mustExec(t, `INSERT INTO team (id, name, code, note) VALUES (?, ?, ?, ?)`, id, name, code, "made at "+s.name)
	return id
}

// teams returns the name of every team by key.
func teams(t testing.TB, s *dsite) map[int64]string {
	t.Helper()
	rows, err := s.db.Query(`SELECT id, name FROM team`)
	require.NoError(t, err)
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var name string
		require.NoError(t, rows.Scan(&id, &name))
		out[id] = name
	}
	require.NoError(t, rows.Err())
	return out
}

// collide has a and b each create a team called "qa"; it returns the keys
// of the record that keeps the name and of the one that is renamed, and
// the name the latter gets.
func collide(t *testing.T, a, b *dsite) (kept, renamed int64, newName string) {
	t.Helper()
	ka := a.newTeam(t, "qa", nil)
	kb := b.newTeam(t, "qa", nil)
	// The record of the creator with the smaller replica ID keeps the name.
	if a.id < b.id {
		return ka, kb, "qa<" + b.name + ">"
	}
	return kb, ka, "qa<" + a.name + ">"
}

// syncEverything exchanges packets between every pair, twice over, and
// returns the collisions the imports reported.
func syncEverything(t *testing.T, opt multisite.ImportOptions, sites ...*dsite) []multisite.Collision {
	t.Helper()
	var out []multisite.Collision
	for round := 0; round < 2; round++ {
		for _, from := range sites {
			for _, to := range sites {
				if from != to {
					rep, err := importWith(to, dexport(t, from, to), opt)
					require.NoError(t, err, "%s -> %s", from.name, to.name)
					out = append(out, rep.Collisions...)
				}
			}
		}
	}
	return out
}

func TestCollision_EveryArrivalOrderConverges(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		type step struct{ from, to string }
		orders := []struct {
			name  string
			steps []step
		}{
			{"dublin gets boston first", []step{{"a", "c"}, {"b", "c"}, {"a", "b"}, {"b", "a"}}},
			{"dublin gets bangalore first", []step{{"b", "c"}, {"a", "c"}, {"b", "a"}, {"a", "b"}}},
			{"boston and bangalore first", []step{{"a", "b"}, {"b", "a"}, {"a", "c"}, {"b", "c"}}},
			{"bangalore's renamed record reaches dublin before boston's", []step{{"b", "a"}, {"a", "b"}, {"b", "c"}, {"a", "c"}}},
			{"both records in one packet to dublin", []step{{"b", "a"}, {"a", "c"}}},
			{"both records in one packet to boston", []step{{"a", "c"}, {"c", "b"}, {"b", "a"}}},
		}
		// SQLite runs every order; the servers run three by default (a
		// collision found at a third site with the kept record first, one
		// found between the creators with the renamed record reaching the
		// third site first, both records in one packet) and every order
		// with MULTISITE_LONG set (.ci/run's long run), so that each order
		// runs on SQLite in every run and on every vendor in CI.
		long := os.Getenv("MULTISITE_LONG") != ""
		onSQLite := strings.HasSuffix(t.Name(), "/"+string(dialect.SQLite))
		serverDefault := map[string]bool{
			"dublin gets boston first":                                  true,
			"bangalore's renamed record reaches dublin before boston's": true,
			"both records in one packet to boston":                      true,
		}
		for _, o := range orders {
			t.Run(o.name, func(t *testing.T) {
				if !long && !serverDefault[o.name] && !onSQLite {
					t.Skip("the servers run this arrival order with MULTISITE_LONG=1 (SQLite runs it always)")
				}
				a, b, c := teamFamily(t, open)
				by := map[string]*dsite{"a": a, "b": b, "c": c}
				kept, renamed, newName := collide(t, a, b)
				var reported []multisite.Collision
				opt := multisite.ImportOptions{Hooks: &hooks.Hooks{OnCollision: func(_ context.Context, _ hooks.Tx, c hooks.Collision) error {
					reported = append(reported, c)
					return nil
				}}}
				var fromReports []multisite.Collision
				for _, s := range o.steps {
					// No import fails, whatever the order.
					rep, err := importWith(by[s.to], dexport(t, by[s.from], by[s.to]), opt)
					require.NoError(t, err, "%s -> %s", s.from, s.to)
					fromReports = append(fromReports, rep.Collisions...)
				}
				fromReports = append(fromReports, syncEverything(t, opt, a, b, c)...)
				dconverged(t, a, b, c)
				want := map[int64]string{1: "core", kept: "qa", renamed: newName}
				for _, s := range []*dsite{a, b, c} {
					if diff := cmp.Diff(want, teams(t, s)); diff != "" {
						t.Errorf("%s's teams (-want +got):\n%s", s.name, diff)
					}
				}
				if len(reported) == 0 || len(fromReports) != len(reported) {
					t.Fatalf("hook told of %d collisions, import reports list %d; want the same, at least one", len(reported), len(fromReports))
				}
				for _, c := range reported {
					if c.Table != "team" || !cmp.Equal(c.Columns, []string{"name"}) || !cmp.Equal(c.Value, []any{"qa"}) ||
						!cmp.Equal(c.Key, []any{renamed}) || !cmp.Equal(c.KeptKey, []any{kept}) || !cmp.Equal(c.Renamed, []any{newName}) {
						t.Errorf("collision reported as %+v", c)
					}
				}
				// The renamed record's master made the rename its own change and
				// recorded it; the others know it as the master's rename.
				for _, s := range []*dsite{a, b, c} {
					cs, err := multisite.Collisions(ctx, s.db, multisite.CollisionFilter{})
					require.NoError(t, err)
					for _, rec := range cs {
						if rec.State == multisite.CollisionProvisional {
							t.Errorf("%s still has a provisional rename after everything was exchanged: %+v", s.name, rec)
						}
					}
				}
				loserMaster := a
				if b.id > a.id {
					loserMaster = b
				}
				cs, err := multisite.Collisions(ctx, loserMaster.db, multisite.CollisionFilter{States: []multisite.CollisionState{multisite.CollisionRenamed}})
				require.NoError(t, err)
				if len(cs) != 1 || cs[0].Renamed != newName || cs[0].Original != "qa" || !cmp.Equal(cs[0].Key, []any{renamed}) {
					t.Errorf("%s recorded %+v, want one renamed collision of %d to %q", loserMaster.name, cs, renamed, newName)
				}
			})
		}
	})
}

// TestCollision_WithdrawnWhenTheOtherRecordGoes: dublin renames
// bangalore's record on import, then boston deletes its record before
// bangalore ever saw it. Bangalore never renames; dublin must undo its
// rename to agree.
func TestCollision_WithdrawnWhenTheOtherRecordGoes(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		a, b, c := teamFamily(t, open)
		ka := a.newTeam(t, "qa", nil)
		kb := b.newTeam(t, "qa", nil)
		first, second := a, b // dublin sees the winner first, so the loser is renamed there
		if b.id < a.id {
			first, second = b, a
		}
		dsync(t, first, c)
		dsync(t, second, c)
		renamed := teams(t, c)
		if renamed[ka] == renamed[kb] {
			t.Fatalf("dublin holds two teams called %q", renamed[ka])
		}
		// The winner's record goes away before its loser's master hears of it.
		first.mustExec(t, `DELETE FROM team WHERE name = 'qa'`)
		dsync(t, first, c)
		syncEverything(t, multisite.ImportOptions{}, a, b, c)
		dconverged(t, a, b, c)
		left := ka
		if first == a {
			left = kb
		}
		for _, s := range []*dsite{a, b, c} {
			if got := teams(t, s); got[left] != "qa" || len(got) != 2 {
				t.Errorf("%s has teams %v, want %d called qa and core", s.name, got, left)
			}
		}
		cs, err := multisite.Collisions(ctx, c.db, multisite.CollisionFilter{})
		require.NoError(t, err)
		if len(cs) != 1 || cs[0].State != multisite.CollisionWithdrawn {
			t.Errorf("dublin recorded %+v, want one withdrawn collision", cs)
		}
	})
}

// TestCollision_ThreeCreators: all three sites create the same name; one
// keeps it, the other two get their own site's name.
func TestCollision_ThreeCreators(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		a, b, c := teamFamily(t, open)
		keys := map[*dsite]int64{a: a.newTeam(t, "qa", nil), b: b.newTeam(t, "qa", nil), c: c.newTeam(t, "qa", nil)}
		syncEverything(t, multisite.ImportOptions{}, c, b, a)
		dconverged(t, a, b, c)
		sites := []*dsite{a, b, c}
		sort.Slice(sites, func(i, j int) bool { return sites[i].id < sites[j].id })
		want := map[int64]string{1: "core", keys[sites[0]]: "qa"}
		for _, s := range sites[1:] {
			want[keys[s]] = "qa<" + s.name + ">"
		}
		if diff := cmp.Diff(want, teams(t, a)); diff != "" {
			t.Errorf("teams (-want +got):\n%s", diff)
		}
	})
}

// TestCollision_NonTextKeyFailsCleanly: a collision on the integer code
// cannot be renamed; the import fails with a *CollisionError and changes
// nothing.
func TestCollision_NonTextKeyFailsCleanly(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		a, b, _ := teamFamily(t, open)
		a.newTeam(t, "alpha", 7)
		b.newTeam(t, "beta", 7)
		pkt := dexport(t, a, b)
		before, beforeHash := dumpPortable(t, b), contentHash(t, &b.site)
		_, err := importWith(b, pkt, multisite.ImportOptions{})
		var ce *multisite.CollisionError
		if !errors.As(err, &ce) || !errors.Is(err, multisite.ErrCollision) {
			t.Fatalf("import = %v, want *CollisionError", err)
		}
		if ce.Table != "team" || !cmp.Equal(ce.Columns, []string{"code"}) || !cmp.Equal(ce.Value, []any{int64(7)}) {
			t.Errorf("CollisionError = %+v, want team (code) = (7)", ce)
		}
		if diff := cmp.Diff(before, dumpPortable(t, b)); diff != "" || contentHash(t, &b.site) != beforeHash {
			t.Errorf("failed import changed bangalore:\n%s", diff)
		}
		cs, err := multisite.Collisions(ctx, b.db, multisite.CollisionFilter{})
		require.NoError(t, err)
		if len(cs) != 0 {
			t.Errorf("failed import recorded collisions %+v", cs)
		}
	})
}

// TestCollision_HookErrorAbortsImport: an OnCollision hook that fails
// aborts the import with a *hooks.Error, nothing changed.
func TestCollision_HookErrorAbortsImport(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		a, b, _ := teamFamily(t, open)
		collide(t, a, b)
		pkt := dexport(t, a, b)
		before, beforeHash := dumpPortable(t, b), contentHash(t, &b.site)
		boom := errors.New("collisions need a human")
		_, err := importWith(b, pkt, multisite.ImportOptions{Hooks: &hooks.Hooks{
			OnCollision: func(context.Context, hooks.Tx, hooks.Collision) error { return boom },
		}})
		var he *hooks.Error
		if !errors.As(err, &he) || he.Point != hooks.OnCollision || !errors.Is(err, boom) {
			t.Fatalf("import = %v, want *hooks.Error at on-collision wrapping the hook's error", err)
		}
		if diff := cmp.Diff(before, dumpPortable(t, b)); diff != "" || contentHash(t, &b.site) != beforeHash {
			t.Errorf("aborted import changed bangalore:\n%s", diff)
		}
		cs, err := multisite.Collisions(ctx, b.db, multisite.CollisionFilter{})
		require.NoError(t, err)
		if len(cs) != 0 {
			t.Errorf("aborted import recorded collisions %+v", cs)
		}
		// Without the hook the same packet applies.
		_, err = importWith(b, pkt, multisite.ImportOptions{})
		require.NoError(t, err)
	})
}

// TestCollision_Resolve: the administrator at the renamed record's master
// chooses a value; it replicates like any edit. Elsewhere the collision
// cannot be resolved.
func TestCollision_Resolve(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		a, b, c := teamFamily(t, open)
		kept, renamed, _ := collide(t, a, b)
		master, winner := a, b
		if b.id > a.id {
			master, winner = b, a
		}
		// Dublin gets the record that keeps the name first, then the other
		// before its master renamed it: dublin renames it on import and
		// records the collision too.
		dsync(t, winner, c)
		dsync(t, master, c)
		syncEverything(t, multisite.ImportOptions{}, a, b, c)
		other := c
		cs, err := multisite.Collisions(ctx, master.db, multisite.CollisionFilter{Table: "team"})
		require.NoError(t, err)
		require.Len(t, cs, 1)
		id := cs[0].ID

		// Not the master: refused, nothing changed.
		beforeHash := contentHash(t, &other.site)
		ocs, err := multisite.Collisions(ctx, other.db, multisite.CollisionFilter{ID: id})
		require.NoError(t, err)
		require.Len(t, ocs, 1, "the same collision has the same ID everywhere")
		if _, err := multisite.ResolveCollision(ctx, other.db, id, "qa-2"); !errors.Is(err, mastership.ErrNotMaster) {
			t.Errorf("resolve at %s = %v, want ErrNotMaster", other.name, err)
		}
		if contentHash(t, &other.site) != beforeHash {
			t.Errorf("refused resolve changed %s", other.name)
		}
		// A value another record holds: the database refuses, nothing changed.
		beforeHash = contentHash(t, &master.site)
		if _, err := multisite.ResolveCollision(ctx, master.db, id, "core"); err == nil {
			t.Errorf("resolving to a taken name succeeded")
		}
		if contentHash(t, &master.site) != beforeHash {
			t.Errorf("refused resolve changed %s", master.name)
		}
		if _, err := multisite.ResolveCollision(ctx, master.db, "nosuch", ""); !errors.Is(err, multisite.ErrNoCollision) {
			t.Errorf("resolve unknown = %v, want ErrNoCollision", err)
		}

		rec, err := multisite.ResolveCollision(ctx, master.db, id, "qa-2")
		require.NoError(t, err)
		if rec.State != multisite.CollisionResolved {
			t.Errorf("state %q after resolve", rec.State)
		}
		syncEverything(t, multisite.ImportOptions{}, a, b, c)
		dconverged(t, a, b, c)
		want := map[int64]string{1: "core", kept: "qa", renamed: "qa-2"}
		if diff := cmp.Diff(want, teams(t, c)); diff != "" {
			t.Errorf("dublin's teams (-want +got):\n%s", diff)
		}
	})
}

// TestCollision_LocalRenameIsCaptured: the rename at the renamed record's
// master is an ordinary change: it is sealed into the next packet, and the
// master may edit the record afterwards.
func TestCollision_LocalRenameIsCaptured(t *testing.T) {
	a, b, c := teamFamily(t, sqliteOpen(t))
	_, renamed, newName := collide(t, a, b)
	loser, winner := a, b
	if b.id > a.id {
		loser, winner = b, a
	}
	dsync(t, winner, loser)
	st, err := multisite.ReadStatus(ctx, loser.db)
	require.NoError(t, err)
	if st.Pending["team"] == 0 {
		t.Errorf("%s's rename is not a pending local change", loser.name)
	}
	// dublin gets only the loser's packet: the renamed record, no collision.
	rep := dsync(t, loser, c)
	if len(rep.Collisions) != 0 {
		t.Errorf("dublin reports %+v for an already renamed record", rep.Collisions)
	}
	if got := teams(t, c)[renamed]; got != newName {
		t.Errorf("dublin has %q, want the master's rename %q", got, newName)
	}
	loser.mustExec(t, `UPDATE team SET note = 'edited after the rename' WHERE id = ?`, renamed)
	syncEverything(t, multisite.ImportOptions{}, a, b, c)
	dconverged(t, a, b, c)
}
