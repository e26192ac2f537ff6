package multisite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"github.com/multisite-go/multisite/internal/dialect"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/hooks"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/multisite-go/multisite/mastership"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/schema"
	"github.com/stretchr/testify/require"
)

// These tests cover mastership policies, hooks, non-row mastership and
// listing with three replicas on every configured dialect.

// trio is a family of three sites over the tracker schema plus a
// replicated users table (login -> site), a group table and an audit
// table with a text key.
type trio struct {
	boston, blr, paris *dsite
}

func (tr *trio) all() []*dsite { return []*dsite{tr.boston, tr.blr, tr.paris} }

func newTrio(t *testing.T, open func(string) *sql.DB) *trio {
	t.Helper()
	boston := newDSite(t, open("boston"), "boston")
	seedPortable(t, boston, 6)
	boston.mustExec(t, `CREATE TABLE users (login VARCHAR(32) PRIMARY KEY, site VARCHAR(64), fullname TEXT)`)
	boston.mustExec(t, `CREATE TABLE user_group (name VARCHAR(32) PRIMARY KEY, description TEXT)`)
	boston.mustExec(t, `CREATE TABLE audit (id VARCHAR(64) PRIMARY KEY, what TEXT)`)
	boston.mustExec(t, `INSERT INTO users (login, site, fullname) VALUES ('alice', 'boston', 'Alice'), ('bob', 'bangalore', 'Bob'), ('carol', 'paris', 'Carol')`)
	boston.mustExec(t, `INSERT INTO user_group (name, description) VALUES ('triage', 'first look at new defects')`)
	info, err := multisite.Activate(ctx, boston.db, multisite.ActivateOptions{Name: "boston"})
	require.NoError(t, err)
	boston.id = info.ID
	tr := &trio{boston: boston}
	tr.blr = replicateTo(t, boston, open("bangalore"), "bangalore")
	tr.paris = replicateTo(t, boston, open("paris"), "paris")
	// dave's site is given by replica ID rather than name.
	boston.mustExec(t, `INSERT INTO users (login, site, fullname) VALUES ('dave', ?, 'Dave')`, string(tr.paris.id))
	tr.syncAll(t)
	dconverged(t, tr.all()...)
	return tr
}

// syncAll sends one packet between every ordered pair of sites.
func (tr *trio) syncAll(t testing.TB) {
	t.Helper()
	for _, from := range tr.all() {
		for _, to := range tr.all() {
			if from != to {
				dsync(t, from, to)
			}
		}
	}
}

// exportWith exports from -> to with options.
func exportWith(from, to *dsite, opt multisite.ExportOptions) ([]byte, error) {
	var buf bytes.Buffer
	_, err := multisite.ExportPacket(ctx, from.db, to.id, &buf, opt)
	return buf.Bytes(), err
}

func importWith(s *dsite, pkt []byte, opt multisite.ImportOptions) (*multisite.ImportReport, error) {
	return multisite.ImportPacket(ctx, s.db, bytes.NewReader(pkt), opt)
}

// masterOf returns the master of a defect.
func (s *dsite) masterOf(t testing.TB, table, keyCol string, key any) replica.ID {
	t.Helper()
	return replica.ID(s.query(t, fmt.Sprintf(`SELECT ms_master FROM %s WHERE %s = ?`, table, keyCol), key))
}

// newDefect inserts a defect with a key from the site's range.
func (s *dsite) newDefect(t testing.TB, headline, owner string) int64 {
	t.Helper()
	id, err := multisite.NextID(ctx, s.db, nil, "defect")
	require.NoError(t, err)
	s.mustExec(t, `INSERT INTO defect (id, project, headline, owner) VALUES (?, 'CORE', ?, ?)`, id, headline, owner)
	return id
}

// state is everything an aborted operation must leave as it was.
type state struct {
	Hash    string
	Rows    map[string][]map[string]any
	Epoch   uint64
	Matrix  map[replica.ID]replica.Vector
	Pending map[string]int
}

func stateOf(t testing.TB, s *dsite) state {
	t.Helper()
	st, err := multisite.ReadStatus(ctx, s.db)
	require.NoError(t, err)
	return state{Hash: contentHash(t, &s.site), Rows: dumpPortable(t, s), Epoch: st.Epoch, Matrix: st.Matrix, Pending: st.Pending}
}

func requireUnchanged(t testing.TB, before state, s *dsite) {
	t.Helper()
	if diff := cmp.Diff(before, stateOf(t, s)); diff != "" {
		t.Fatalf("%s changed by a failed operation (-before +after):\n%s", s.name, diff)
	}
}

var ownerPolicy = mastership.Field{Table: "defect", Column: "owner", Map: "users", MapKey: "login", MapReplica: "site"}

func TestPolicyField(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		tr := newTrio(t, open)
		b := tr.boston
		forBob := b.newDefect(t, "login fails", "bob")       // bob is at bangalore, by name
		forDave := b.newDefect(t, "report is slow", "dave")  // dave is at paris, by ID
		forAlice := b.newDefect(t, "typo in title", "alice") // alice is at boston
		forNobody := b.newDefect(t, "no owner yet", "zed")   // zed is in no site
		b.mustExec(t, `UPDATE defect SET owner = 'carol' WHERE id = 2`)

		pkt, err := exportWith(b, tr.blr, multisite.ExportOptions{Policy: ownerPolicy})
		require.NoError(t, err)
		rep, err := importWith(tr.blr, pkt, multisite.ImportOptions{})
		require.NoError(t, err)
		if rep.Transfers != 2 {
			t.Errorf("packet carried %d transfers, want 2 (bob's and dave's new defects)", rep.Transfers)
		}
		want := map[int64]replica.ID{forBob: tr.blr.id, forDave: tr.paris.id, forAlice: b.id, forNobody: b.id, 2: b.id}
		for _, s := range []*dsite{b, tr.blr} {
			for id, m := range want {
				if got := s.masterOf(t, "defect", "id", id); got != m {
					t.Errorf("at %s defect %d is mastered by %s, want %s", s.name, id, got, m)
				}
			}
		}
		// Bangalore now edits bob's defect; Boston may not.
		tr.blr.mustExec(t, `UPDATE defect SET state = 'fixed' WHERE id = ?`, forBob)
		err = b.exec(t, `UPDATE defect SET state = 'wontfix' WHERE id = ?`, forBob)
		if !errors.Is(mastership.FromDriver(err), mastership.ErrNotMaster) {
			t.Errorf("boston's update of a defect the policy gave bangalore: %v, want ErrNotMaster", err)
		}

		// Without OnChange a reassignment stays; with it, the row follows
		// its new owner with the next packet.
		b.mustExec(t, `UPDATE defect SET owner = 'carol' WHERE id = 3`)
		onChange := ownerPolicy
		onChange.OnChange = true
		pkt, err = exportWith(b, tr.paris, multisite.ExportOptions{Policy: onChange})
		require.NoError(t, err)
		_, err = importWith(tr.paris, pkt, multisite.ImportOptions{})
		require.NoError(t, err)
		if got := tr.paris.masterOf(t, "defect", "id", 3); got != tr.paris.id {
			t.Errorf("reassigned defect 3 mastered by %s at paris, want paris", got)
		}
		tr.paris.mustExec(t, `UPDATE defect SET state = 'fixed' WHERE id = 3`)
		tr.syncAll(t)
		tr.syncAll(t)
		dconverged(t, tr.all()...)
	})
}

func TestPolicyPerTableAndCombined(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		tr := newTrio(t, open)
		b := tr.boston
		// A tag of an existing defect is a new row of defect_tag.
		b.mustExec(t, `INSERT INTO defect_tag (defect_id, tag, note) VALUES (4, 'ux', NULL)`)
		alice := b.newDefect(t, "for alice", "alice")
		nobody := b.newDefect(t, "for nobody", "zed")
		b.mustExec(t, `UPDATE defect SET headline = 'edited' WHERE id = 5`) // not new: left alone
		policy := mastership.Policies{
			ownerPolicy,
			mastership.PerTable{"defect": "bangalore", "defect_tag": string(tr.paris.id)},
			mastership.Creator{},
		}
		pkt, err := exportWith(b, tr.paris, multisite.ExportOptions{Policy: policy})
		require.NoError(t, err)
		_, err = importWith(tr.paris, pkt, multisite.ImportOptions{})
		require.NoError(t, err)
		tests := []struct {
			name  string
			table string
			col   string
			key   any
			want  replica.ID
		}{
			{"field decides: owner at boston", "defect", "id", alice, b.id},
			{"owner in no site: per table", "defect", "id", nobody, tr.blr.id},
			{"old row untouched", "defect", "id", 5, b.id},
			{"per table by replica ID", "defect_tag", "tag", "ux", tr.paris.id},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				for _, s := range []*dsite{b, tr.paris} {
					if got := s.masterOf(t, tt.table, tt.col, tt.key); got != tt.want {
						t.Errorf("at %s: master %s, want %s", s.name, got, tt.want)
					}
				}
			})
		}
		tr.syncAll(t)
		dconverged(t, tr.all()...)
	})
}

func TestPolicyUnknownReplica(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		tr := newTrio(t, open)
		b := tr.boston
		b.mustExec(t, `INSERT INTO users (login, site, fullname) VALUES ('eve', 'atlantis', 'Eve')`)
		b.newDefect(t, "for eve", "eve")
		b.newDefect(t, "for bob", "bob")
		tests := []struct {
			name    string
			policy  mastership.Policy
			unknown replica.ID
		}{
			{"per table names no replica", mastership.PerTable{"project": "tokyo"}, "tokyo"},
			{"user mapped to no replica", ownerPolicy, "atlantis"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := stateOf(t, b)
				_, err := exportWith(b, tr.blr, multisite.ExportOptions{Policy: tt.policy})
				var ue *replica.UnknownError
				if !errors.As(err, &ue) || ue.ID != tt.unknown || !errors.Is(err, replica.ErrUnknown) {
					t.Fatalf("export with %T: %v, want *replica.UnknownError for %s", tt.policy, err, tt.unknown)
				}
				requireUnchanged(t, before, b)
			})
		}
		// A policy naming a table or column that does not exist.
		before := stateOf(t, b)
		bad := ownerPolicy
		bad.MapReplica = "nosuchcolumn"
		_, err := exportWith(b, tr.blr, multisite.ExportOptions{Policy: bad})
		var ute *schema.UnknownTableError
		if !errors.As(err, &ute) || ute.Column != "nosuchcolumn" {
			t.Fatalf("export with a bad column: %v, want *schema.UnknownTableError", err)
		}
		requireUnchanged(t, before, b)
	})
}

// changeLine summarizes a hook change for comparison.
func changeLine(c hooks.Change) string {
	return fmt.Sprintf("%s %v %s master=%v", c.Table, c.Key, c.Op, c.Master)
}

func TestHooksBeforeExport(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		tr := newTrio(t, open)
		b := tr.boston
		id := b.newDefect(t, "new one", "alice")
		b.mustExec(t, `UPDATE defect SET owner = 'bob' WHERE id = 2`)
		b.mustExec(t, `DELETE FROM defect WHERE id = 3`)

		// A failing hook changes nothing, even what it did before failing.
		boom := errors.New("boom")
		before := stateOf(t, b)
		_, err := exportWith(b, tr.blr, multisite.ExportOptions{Hooks: &hooks.Hooks{
			BeforeExport: func(ctx context.Context, tx hooks.Tx, e hooks.Export) error {
				if err := tx.Transfer(ctx, "defect", []any{int64(2)}, e.Target); err != nil {
					return err
				}
				return boom
			},
		}})
		var he *hooks.Error
		if !errors.As(err, &he) || he.Point != hooks.BeforeExport || !errors.Is(err, hooks.ErrHook) || !errors.Is(err, boom) {
			t.Fatalf("export with a failing hook: %v, want *hooks.Error at before-export wrapping boom", err)
		}
		requireUnchanged(t, before, b)

		// The hook sees the pending changes; its transfer of a reassigned
		// row travels in the same packet.
		var seen []string
		var local replica.ID
		var target replica.Info
		var notMaster error
		pkt, err := exportWith(b, tr.blr, multisite.ExportOptions{Hooks: &hooks.Hooks{
			BeforeExport: func(ctx context.Context, tx hooks.Tx, e hooks.Export) error {
				local = tx.Local()
				target, _ = tx.Replica("bangalore")
				for _, c := range e.Changes {
					seen = append(seen, changeLine(c))
					if c.Table == "defect" && c.Op == hooks.Update && c.Values["owner"] == "bob" {
						if err := tx.Transfer(ctx, c.Table, c.Key, e.Target); err != nil {
							return err
						}
					}
				}
				// A row mastered elsewhere cannot be transferred from here.
				notMaster = tx.Transfer(ctx, "users", []any{"nobody-here"}, e.Target)
				return nil
			},
		}})
		require.NoError(t, err)
		sort.Strings(seen)
		wantSeen := []string{
			fmt.Sprintf("defect [2] update master=%s", b.id),
			fmt.Sprintf("defect [3] delete master=%s", b.id),
			fmt.Sprintf("defect [%d] insert master=%s", id, b.id),
		}
		sort.Strings(wantSeen)
		if diff := cmp.Diff(wantSeen, seen); diff != "" {
			t.Errorf("BeforeExport changes (-want +got):\n%s", diff)
		}
		if local != b.id || target.ID != tr.blr.id {
			t.Errorf("Tx.Local = %s, Tx.Replica(bangalore) = %v; want %s and %s", local, target, b.id, tr.blr.id)
		}
		if !errors.Is(notMaster, mastership.ErrNoRow) {
			t.Errorf("transfer of a missing row: %v, want ErrNoRow", notMaster)
		}
		rep, err := importWith(tr.blr, pkt, multisite.ImportOptions{})
		require.NoError(t, err)
		if rep.Transfers != 1 || tr.blr.masterOf(t, "defect", "id", 2) != tr.blr.id {
			t.Errorf("bangalore got %d transfers, defect 2 mastered by %s; want 1 and bangalore", rep.Transfers, tr.blr.masterOf(t, "defect", "id", 2))
		}

		// At bangalore, a hook that transfers a row boston masters gets a
		// *NotMasterError; returned, it aborts the export.
		tr.blr.mustExec(t, `UPDATE defect SET state = 'fixed' WHERE id = 2`)
		before = stateOf(t, tr.blr)
		_, err = exportWith(tr.blr, tr.paris, multisite.ExportOptions{Hooks: &hooks.Hooks{
			BeforeExport: func(ctx context.Context, tx hooks.Tx, e hooks.Export) error {
				return tx.Transfer(ctx, "defect", []any{int64(1)}, e.Target)
			},
		}})
		var nm *mastership.NotMasterError
		if !errors.As(err, &nm) || nm.Master != b.id || nm.By != tr.blr.id || !errors.As(err, &he) {
			t.Fatalf("hook transfer of a row mastered elsewhere: %v, want *hooks.Error wrapping *NotMasterError", err)
		}
		requireUnchanged(t, before, tr.blr)
		tr.syncAll(t)
		tr.syncAll(t)
		dconverged(t, tr.all()...)
	})
}

func TestHooksImport(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		tr := newTrio(t, open)
		b, blr := tr.boston, tr.blr
		id := b.newDefect(t, "new one", "bob")
		b.mustExec(t, `UPDATE defect SET headline = 'renamed' WHERE id = 2`)
		b.mustExec(t, `DELETE FROM defect WHERE id = 3`)
		b.mustExec(t, `UPDATE users SET fullname = 'Alice A.' WHERE login = 'alice'`)
		pkt := dexport(t, b, blr)

		boom := errors.New("boom")
		tests := []struct {
			name  string
			hooks hooks.Hooks
			point hooks.Point
		}{
			{"per change", hooks.Hooks{AfterImportChange: func(ctx context.Context, tx hooks.Tx, c hooks.Change) error {
				if _, err := tx.ExecContext(ctx, `INSERT INTO audit (id, what) VALUES (?, ?)`, fmt.Sprint("x", c.Key), "seen"); err != nil {
					return err
				}
				if c.Op == hooks.Delete {
					return boom
				}
				return nil
			}}, hooks.AfterImportChange},
			{"per packet", hooks.Hooks{AfterImportPacket: func(ctx context.Context, tx hooks.Tx, p hooks.Packet) error {
				return boom
			}}, hooks.AfterImportPacket},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := stateOf(t, blr)
				_, err := importWith(blr, pkt, multisite.ImportOptions{Hooks: &tt.hooks})
				var he *hooks.Error
				if !errors.As(err, &he) || he.Point != tt.point || !errors.Is(err, boom) || !errors.Is(err, hooks.ErrHook) {
					t.Fatalf("import with a failing hook: %v, want *hooks.Error at %s", err, tt.point)
				}
				requireUnchanged(t, before, blr)
			})
		}

		var changes []string
		var packet hooks.Packet
		rep, err := importWith(blr, pkt, multisite.ImportOptions{Hooks: &hooks.Hooks{
			AfterImportChange: func(ctx context.Context, tx hooks.Tx, c hooks.Change) error {
				changes = append(changes, changeLine(c))
				if c.Origin != b.id {
					return fmt.Errorf("origin %s", c.Origin)
				}
				// The applied change is visible, and the hook's write is
				// an ordinary local write: captured and exported later.
				if c.Table == "defect" && c.Op == hooks.Insert {
					var headline string
					if err := tx.QueryRowContext(ctx, `SELECT headline FROM defect WHERE id = ?`, c.Key[0]).Scan(&headline); err != nil {
						return err
					}
					_, err := tx.ExecContext(ctx, `INSERT INTO audit (id, what) VALUES (?, ?)`, fmt.Sprintf("bangalore-%v", c.Key[0]), "imported "+headline)
					return err
				}
				return nil
			},
			AfterImportPacket: func(ctx context.Context, tx hooks.Tx, p hooks.Packet) error {
				packet = p
				return nil
			},
		}})
		require.NoError(t, err)
		sort.Strings(changes)
		want := []string{
			fmt.Sprintf("defect [2] update master=%s", b.id),
			fmt.Sprintf("defect [3] delete master=%s", b.id),
			fmt.Sprintf("defect [%d] insert master=%s", id, b.id),
			fmt.Sprintf("users [alice] update master=%s", b.id),
		}
		sort.Strings(want)
		if diff := cmp.Diff(want, changes); diff != "" {
			t.Errorf("AfterImportChange changes (-want +got):\n%s", diff)
		}
		wantPacket := hooks.Packet{Origin: b.id, Kind: "sync", Changes: 4, Tables: map[string]int{"defect": 3, "users": 1}}
		if diff := cmp.Diff(wantPacket, packet); diff != "" {
			t.Errorf("AfterImportPacket (-want +got):\n%s", diff)
		}
		if rep.Tables["defect"].Inserted != 1 {
			t.Errorf("import report: %+v", rep.Tables["defect"])
		}
		// The hook's audit row reaches paris, mastered by bangalore.
		dsync(t, blr, tr.paris)
		if got := tr.paris.query(t, `SELECT what FROM audit WHERE id = ?`, fmt.Sprintf("bangalore-%d", id)); got != "imported new one" {
			t.Errorf("paris has audit %q, want the hook's row", got)
		}
		if got := tr.paris.masterOf(t, "audit", "id", fmt.Sprintf("bangalore-%d", id)); got != blr.id {
			t.Errorf("hook's audit row mastered by %s, want bangalore", got)
		}
		tr.syncAll(t)
		dconverged(t, tr.all()...)
	})
}

// TestNonRowMastership: users and groups are replicated tables with
// masters, like ClearQuest's user and group mastership.
func TestNonRowMastership(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		tr := newTrio(t, open)
		b, blr := tr.boston, tr.blr
		var refused []error
		opt := multisite.WriteOptions{Hooks: &hooks.Hooks{OnRefusedWrite: func(ctx context.Context, err error) { refused = append(refused, err) }}}
		update := func(s *dsite, table, set, keyCol, key string) error {
			return multisite.Write(ctx, s.db, opt, func(ctx context.Context, tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, s.d.Rebind(fmt.Sprintf(`UPDATE %s SET %s WHERE %s = ?`, table, set, keyCol)), key)
				return err
			})
		}
		tests := []struct {
			table, set, keyCol, key string
		}{
			{"users", "fullname = 'Alice B.'", "login", "alice"},
			{"user_group", "description = 'changed'", "name", "triage"},
		}
		for _, tt := range tests {
			t.Run(tt.table, func(t *testing.T) {
				refused = nil
				before := stateOf(t, blr)
				err := update(blr, tt.table, tt.set, tt.keyCol, tt.key)
				var nm *mastership.NotMasterError
				wantKey := tt.key
				if blr.d.Name() == dialect.SQLite {
					wantKey = "" // SQLite's refusals are literals, without the key
				}
				if !errors.As(err, &nm) || nm.Table != tt.table || nm.Key != wantKey || nm.Master != b.id || nm.By != blr.id || nm.MasterName != "boston" {
					t.Fatalf("bangalore's write of %s[%s]: %v, want *NotMasterError naming boston", tt.table, tt.key, err)
				}
				if len(refused) != 1 || !errors.Is(refused[0], mastership.ErrNotMaster) {
					t.Errorf("OnRefusedWrite calls: %v, want the one refusal", refused)
				}
				requireUnchanged(t, before, blr)

				// Boston hands the record to bangalore; then bangalore
				// may change it and boston may not.
				n, err := multisite.TransferMastership(ctx, b.db, tt.table, blr.id, []any{tt.key})
				require.NoError(t, err)
				require.Equal(t, 1, n)
				dsync(t, b, blr)
				if err := update(blr, tt.table, tt.set, tt.keyCol, tt.key); err != nil {
					t.Fatalf("bangalore's write after the transfer: %v", err)
				}
				dsync(t, blr, b)
				err = update(b, tt.table, tt.set, tt.keyCol, tt.key)
				if !errors.As(err, &nm) || nm.Master != blr.id {
					t.Errorf("boston's write after the transfer: %v, want *NotMasterError naming bangalore", err)
				}
			})
		}
		// A plain Write that succeeds commits; an error from fn rolls back.
		oops := errors.New("oops")
		err := multisite.Write(ctx, b.db, multisite.WriteOptions{}, func(ctx context.Context, tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, b.d.Rebind(`UPDATE defect SET state = 'x' WHERE id = ?`), 1); err != nil {
				return err
			}
			return oops
		})
		if !errors.Is(err, oops) || b.query(t, `SELECT state FROM defect WHERE id = 1`) != "open" {
			t.Errorf("Write with a failing fn: %v, state %q; want oops and no change", err, b.query(t, `SELECT state FROM defect WHERE id = 1`))
		}
		rep, err := multisite.Mastered(ctx, b.db, multisite.MasteryOptions{Tables: []string{"users", "user_group"}})
		require.NoError(t, err)
		want := map[string]map[replica.ID]int{"users": {b.id: 3, blr.id: 1}, "user_group": {blr.id: 1}}
		if diff := cmp.Diff(want, rep.Counts); diff != "" {
			t.Errorf("Mastered counts (-want +got):\n%s", diff)
		}
		tr.syncAll(t)
		dconverged(t, tr.all()...)
	})
}

func TestTransferNotMaster(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		tr := newTrio(t, open)
		blr := tr.blr
		before := stateOf(t, blr)
		tests := []struct {
			name  string
			table string
			to    replica.ID
			keys  [][]any
			check func(error) bool
		}{
			{"row mastered elsewhere", "defect", tr.paris.id, [][]any{{int64(1)}}, func(err error) bool {
				var nm *mastership.NotMasterError
				return errors.As(err, &nm) && nm.Master == tr.boston.id && nm.By == blr.id && nm.Table == "defect" && nm.Key == "1"
			}},
			{"no such row", "defect", tr.paris.id, [][]any{{int64(999)}}, func(err error) bool { return errors.Is(err, mastership.ErrNoRow) }},
			{"unknown replica", "defect", "tokyo", [][]any{{int64(1)}}, func(err error) bool {
				var ue *replica.UnknownError
				return errors.As(err, &ue) && ue.ID == "tokyo"
			}},
			{"unknown table", "nosuch", tr.paris.id, [][]any{{int64(1)}}, func(err error) bool { return errors.Is(err, schema.ErrUnknownTable) }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := multisite.TransferMastership(ctx, blr.db, tt.table, tt.to, tt.keys...)
				if !tt.check(err) {
					t.Fatalf("TransferMastership: %v", err)
				}
				requireUnchanged(t, before, blr)
			})
		}
	})
}

func TestMastered(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		tr := newTrio(t, open)
		b, blr, paris := tr.boston, tr.blr, tr.paris
		_, err := multisite.TransferMastership(ctx, b.db, "defect", blr.id, []any{int64(1)}, []any{int64(2)})
		require.NoError(t, err)

		inFlight := func(s *dsite) []string {
			t.Helper()
			rep, err := multisite.Mastered(ctx, s.db, multisite.MasteryOptions{})
			require.NoError(t, err)
			var out []string
			for _, x := range rep.Transfers {
				out = append(out, fmt.Sprintf("%s %v %s->%s sealed=%v", x.Table, x.Key, rep.Names[x.From], rep.Names[x.To], x.Epoch > 0))
			}
			return out
		}
		wantFlight := func(sealed bool) []string {
			return []string{
				fmt.Sprintf("defect [1] boston->bangalore sealed=%v", sealed),
				fmt.Sprintf("defect [2] boston->bangalore sealed=%v", sealed),
			}
		}
		steps := []struct {
			name string
			do   func()
			at   *dsite
			want []string
		}{
			{"made, not sealed", func() {}, b, wantFlight(false)},
			{"sealed, not imported", func() { dexport(t, b, blr) }, b, wantFlight(true)},
			{"seen at paris, bangalore's ack unknown there", func() { dsync(t, b, paris) }, paris, wantFlight(true)},
			{"imported by the new master", func() { drecover(t, b, blr) }, blr, nil}, // the packet above never arrived
			{"still in flight at boston until bangalore acknowledges", func() {}, b, wantFlight(true)},
			{"acknowledged to boston", func() { dsync(t, blr, b) }, b, nil},
			{"acknowledged to paris", func() { dsync(t, blr, paris) }, paris, nil},
		}
		for _, st := range steps {
			st.do()
			if diff := cmp.Diff(st.want, inFlight(st.at)); diff != "" {
				t.Errorf("%s: transfers in flight at %s (-want +got):\n%s", st.name, st.at.name, diff)
			}
		}

		rep, err := multisite.Mastered(ctx, paris.db, multisite.MasteryOptions{Rows: blr.id})
		require.NoError(t, err)
		wantCounts := map[string]map[replica.ID]int{
			"audit": {}, "defect": {b.id: 4, blr.id: 2}, "defect_tag": {b.id: 3}, "project": {b.id: 2},
			"user_group": {b.id: 1}, "users": {b.id: 4},
		}
		if diff := cmp.Diff(wantCounts, rep.Counts); diff != "" {
			t.Errorf("counts at paris (-want +got):\n%s", diff)
		}
		wantRows := []multisite.MasteredRow{{Table: "defect", Key: []any{int64(1)}, Master: blr.id}, {Table: "defect", Key: []any{int64(2)}, Master: blr.id}}
		if diff := cmp.Diff(wantRows, rep.Rows); diff != "" || rep.Truncated || rep.Local != paris.id {
			t.Errorf("rows bangalore masters, seen at paris (-want +got):\n%s truncated=%v local=%s", diff, rep.Truncated, rep.Local)
		}
		rep, err = multisite.Mastered(ctx, paris.db, multisite.MasteryOptions{Rows: blr.id, Limit: 1})
		require.NoError(t, err)
		if diff := cmp.Diff(wantRows[:1], rep.Rows); diff != "" || !rep.Truncated {
			t.Errorf("limited rows (-want +got):\n%s truncated=%v", diff, rep.Truncated)
		}
		var streamed []multisite.MasteredRow
		require.NoError(t, multisite.MasteredRows(ctx, paris.db, b.id, []string{"project", "users"}, func(r multisite.MasteredRow) error {
			streamed = append(streamed, r)
			return nil
		}))
		if len(streamed) != 6 || streamed[0].Table != "project" || streamed[5].Table != "users" {
			t.Errorf("streamed %v, want 2 projects then 4 users", streamed)
		}
		stop := errors.New("stop")
		if err := multisite.MasteredRows(ctx, paris.db, b.id, nil, func(multisite.MasteredRow) error { return stop }); !errors.Is(err, stop) {
			t.Errorf("MasteredRows with a failing callback: %v, want stop", err)
		}
		// A mastership request is in flight from when it is made until
		// its requester holds the answer.
		reqID, err := multisite.RequestMastership(ctx, paris.db, "defect", []any{int64(3)}, "paris fixes it")
		require.NoError(t, err)
		requests := func(s *dsite) []string {
			t.Helper()
			rep, err := multisite.Mastered(ctx, s.db, multisite.MasteryOptions{})
			require.NoError(t, err)
			var out []string
			for _, r := range rep.Requests {
				out = append(out, fmt.Sprintf("%s %s %v %s->%s", r.ID, r.Table, r.Key, rep.Names[r.From], rep.Names[r.Master]))
			}
			return out
		}
		wantReq := []string{fmt.Sprintf("%s defect [3] paris->boston", reqID)}
		if diff := cmp.Diff(wantReq, requests(paris)); diff != "" {
			t.Errorf("requests in flight at paris (-want +got):\n%s", diff)
		}
		dsync(t, paris, b)
		if diff := cmp.Diff(wantReq, requests(b)); diff != "" {
			t.Errorf("requests in flight at boston once it arrived (-want +got):\n%s", diff)
		}
		if _, err := multisite.Mastered(ctx, paris.db, multisite.MasteryOptions{Tables: []string{"nosuch"}}); !errors.Is(err, schema.ErrUnknownTable) {
			t.Errorf("Mastered of an unknown table: %v, want schema.ErrUnknownTable", err)
		}
	})
}
