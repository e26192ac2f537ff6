package engine

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/multisite-go/multisite/mastership"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/syncpkt"
	"github.com/stretchr/testify/require"
)

// The import decides set-based, in SQL, which staged images apply (merge's
// UPDATE ... SET ms_apply), which creation conflicts to keep aside
// (conflicts) and which images are suspect (checkMasters), and decides in
// Go on its fast path which new rows are dead. The rules they implement
// are mastership.Decide and mastership.MayChange. TestMerge_AgreesWithRules
// generates random held and incoming images, transfer logs and a prune
// horizon, runs them through the import's own code on a real database, and
// checks that what the database then holds is what the rules say.

// mergeCase is one row: what the replica holds of it, what a packet
// brings, and the row's transfer log.
type mergeCase struct {
	key  int
	held mastership.Image // zero: nothing held
	in   mastership.Image
	log  []mastership.Transfer
}

// rowOutcome is what a replica holds of one row after an import: its
// shadow entry, its table row and the losing record of a creation
// conflict, if any.
type rowOutcome struct {
	Shadow *mergeStamp
	Row    *mergeRow
	Loser  *mergeLoser
}

type mergeStamp struct {
	Version                 uint64
	Master, Origin, Creator string
	Epoch                   int64
	Deleted                 bool
}

type mergeRow struct{ Body, Master string }

type mergeLoser struct {
	Creator, Winner string
	Version         uint64
}

func stampOf(i mastership.Image) *mergeStamp {
	return &mergeStamp{Version: i.Version, Master: string(i.Master), Origin: string(i.Origin), Creator: string(i.Creator), Epoch: int64(i.Epoch), Deleted: i.Deleted}
}

// held and incoming bodies tell which image the table holds.
func heldBody(k int) string { return "held " + strconv.Itoa(k) }
func inBody(k int) string   { return "in " + strconv.Itoa(k) }

// ruled is the outcome the rules give for c, or the refusal.
func (c mergeCase) ruled(pruned replica.Vector) (rowOutcome, *mastership.NotMasterError) {
	o := mastership.Decide(c.held, c.in, pruned)
	if master, ok := mastership.Entitled(c.held, c.in, pruned, c.log); !ok {
		return rowOutcome{}, &mastership.NotMasterError{Master: master, By: c.in.Origin}
	}
	var out rowOutcome
	now, body := c.held, heldBody(c.key)
	if o.Applies() {
		now, body = c.in, inBody(c.key)
	}
	if !now.IsZero() {
		out.Shadow = stampOf(now)
		if !now.Deleted {
			out.Row = &mergeRow{Body: body, Master: string(now.Master)}
		}
	}
	switch o {
	case mastership.Won:
		out.Loser = &mergeLoser{Creator: string(c.held.Creator), Winner: string(c.in.Creator), Version: c.held.Version}
	case mastership.Lost:
		out.Loser = &mergeLoser{Creator: string(c.in.Creator), Winner: string(c.held.Creator), Version: c.in.Version}
	}
	return out, nil
}

// genCases makes n cases over the replicas ids, keys from first on. About
// a third hold nothing, most of the rest are on the incoming image's chain
// with versions around the held one, and half of those have a transfer
// chain from the held master to the incoming origin; every log has noise
// transfers, some not made by the master.
func genCases(r *rand.Rand, ids []replica.ID, first, n int) []mergeCase {
	pick := func() replica.ID { return ids[r.IntN(len(ids))] }
	var cs []mergeCase
	for k := first; k < first+n; k++ {
		c := mergeCase{key: k}
		if r.IntN(10) >= 3 {
			c.held = mastership.Image{Version: uint64(1 + r.IntN(6)), Creator: pick(), Master: pick(), Origin: pick(), Epoch: uint64(1 + r.IntN(5)), Deleted: r.IntN(4) == 0}
		}
		c.in = mastership.Image{Creator: pick(), Master: pick(), Origin: pick(), Epoch: uint64(1 + r.IntN(6)), Deleted: r.IntN(4) == 0}
		if !c.held.IsZero() && r.IntN(4) != 0 {
			c.in.Creator = c.held.Creator
		}
		c.in.Version = uint64(max(1, int(c.held.Version)+r.IntN(6)-2))
		if !c.held.IsZero() && r.IntN(2) == 0 {
			c.in.Origin = c.held.Master
		}
		used := map[uint64]bool{}
		if r.IntN(2) == 0 && c.in.Version > c.held.Version+1 {
			from, v := c.held.Master, c.held.Version+1
			for hops := 1 + r.IntN(2); hops > 0 && v < c.in.Version; hops-- {
				to := pick()
				if hops == 1 || v == c.in.Version-1 {
					to = c.in.Origin
				}
				c.log = append(c.log, mastership.Transfer{Version: v, From: from, To: to})
				used[v] = true
				from, v = to, v+1
			}
		}
		for j := r.IntN(3); j > 0; j-- {
			if v := uint64(1 + r.IntN(int(c.in.Version)+2)); !used[v] {
				c.log = append(c.log, mastership.Transfer{Version: v, From: pick(), To: pick()})
				used[v] = true
			}
		}
		slices.SortFunc(c.log, func(a, b mastership.Transfer) int { return int(a.Version) - int(b.Version) })
		cs = append(cs, c)
	}
	return cs
}

// mergeTable is one replicated table of the test: an integer key (rows
// new here take the fast path) or a text key (every row is staged).
type mergeTable struct {
	name    string
	key     func(k int) any
	keyText func(k int) string
	packet  syncpkt.Column
}

var mergeTables = []mergeTable{
	{"mr_int", func(k int) any { return int64(k) }, strconv.Itoa, syncpkt.Column{Name: "id", Type: "BIGINT", Key: 1}},
	{"mr_text", func(k int) any { return fmt.Sprintf("k%05d", k) }, func(k int) string { return fmt.Sprintf("k%05d", k) }, syncpkt.Column{Name: "id", Type: "VARCHAR(32)", Key: 1}},
}

func TestMerge_AgreesWithRules(t *testing.T) {
	seed := uint64(20261202)
	if s := os.Getenv("MULTISITE_RULES_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "MULTISITE_RULES_SEED")
		seed = n
	}
	const n = 600 // cases per table
	const maxRefused = 40
	testdb.ForEach(t, func(t *testing.T, open func(string) *sql.DB) {
		t.Logf("seed %d (set MULTISITE_RULES_SEED to vary)", seed)
		ctx := context.Background()
		db := open("merge_rules")
		d, err := dialect.Detect(db)
		require.NoError(t, err)
		testdb.Exec(t, db,
			"CREATE TABLE mr_int (id BIGINT PRIMARY KEY, body VARCHAR(40))",
			"CREATE TABLE mr_text (id VARCHAR(32) PRIMARY KEY, body VARCHAR(40))")
		self, _, err := Activate(ctx, db, d, ActivateOptions{Name: "here"})
		require.NoError(t, err)
		require.NoError(t, ensureLateMeta(ctx, db, d))
		// Replica IDs are 16 hex digits (NewID); the local one is among
		// them, as a hub may forward a replica's own images back.
		ids := []replica.ID{self.ID}
		for i := range 4 {
			raw, err := NewID()
			require.NoError(t, err)
			id := replica.ID(raw)
			pub, _, err := ed25519.GenerateKey(nil)
			require.NoError(t, err)
			require.NoError(t, putReplica(ctx, db, d, replica.Info{ID: id, Name: fmt.Sprintf("r%d", i), Number: int64(100 + i), PublicKey: pub, State: replica.Active, Version: 1}, false))
			ids = append(ids, id)
		}
		slices.Sort(ids)
		pruned := replica.Vector{ids[0]: 2, ids[3]: 4}
		for o, e := range pruned {
			_, err := db.ExecContext(ctx, d.Rebind(`INSERT INTO ms_vector (holder, origin, epoch) VALUES (?, ?, ?)`), prunedHolder, string(o), e)
			require.NoError(t, err)
		}
		r := rand.New(rand.NewPCG(seed, uint64(len(d.Name()))))
		for ti, mt := range mergeTables {
			t.Run(mt.name, func(t *testing.T) {
				cases := genCases(r, ids, 1+ti*10*n, n)
				mt.hold(t, ctx, db, d, cases)
				var ok, refused []mergeCase
				seen := map[mastership.Outcome]int{}
				for _, c := range cases {
					if _, nm := c.ruled(pruned); nm != nil {
						refused = append(refused, c)
					} else {
						ok = append(ok, c)
						seen[mastership.Decide(c.held, c.in, pruned)]++
					}
				}
				t.Logf("%d cases: %d refused by MayChange, the rest %v", len(cases), len(refused), seen)
				for o := mastership.Keep; o <= mastership.Lost; o++ {
					require.NotZero(t, seen[o], "the generator made no case of outcome %v", o)
				}
				require.NotEmpty(t, refused, "the generator made no case MayChange refuses")
				// A refused image fails its whole packet: one packet each.
				for _, c := range refused[:min(len(refused), maxRefused)] {
					_, want := c.ruled(pruned)
					want.Table, want.Key = mt.name, mt.keyText(c.key)
					err := mt.merge(ctx, db, d, []mergeCase{c})
					var got *mastership.NotMasterError
					if !errors.As(err, &got) {
						t.Errorf("key %d: held %+v, in %+v, log %+v: import = %v, the rules refuse it: %v", c.key, c.held, c.in, c.log, err, want)
						continue
					}
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("key %d: held %+v, in %+v, log %+v: refusal (-rules +sql):\n%s", c.key, c.held, c.in, c.log, diff)
					}
				}
				// The rest arrive in one packet.
				if err := mt.merge(ctx, db, d, ok); err != nil {
					t.Fatalf("import of the %d cases the rules accept: %v", len(ok), err)
				}
				got := mt.outcomes(t, ctx, db, d)
				want := map[string]rowOutcome{}
				for _, c := range cases {
					w, nm := c.ruled(pruned)
					if nm != nil { // not imported: the held state stays
						w, _ = mergeCase{key: c.key, held: c.held, in: c.held}.ruled(nil)
					}
					if w != (rowOutcome{}) {
						want[mt.keyText(c.key)] = w
					}
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("the import and the rules disagree (-rules +sql):\n%s", diff)
				}
			})
		}
	})
}

// hold writes what the replica holds of the cases, as earlier imports
// would have: table row, shadow entry and transfer log.
func (mt mergeTable) hold(t *testing.T, ctx context.Context, db *sql.DB, d dialect.Dialect, cases []mergeCase) {
	t.Helper()
	q := d.Quote
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, d.SetApplying(true))
	require.NoError(t, err)
	insRow := d.Rebind(fmt.Sprintf("INSERT INTO %s (id, body, %s) VALUES (?, ?, ?)", q(mt.name), dialect.MasterColumn))
	insShadow := d.Rebind(fmt.Sprintf("INSERT INTO %s (id, ms_version, ms_master, ms_origin, ms_creator, ms_epoch, ms_deleted) VALUES (?, ?, ?, ?, ?, ?, ?)", q(dialect.Shadow(d, mt.name))))
	insXfer := d.Rebind(fmt.Sprintf("INSERT INTO %s (id, ms_version, ms_from, ms_to, ms_epoch) VALUES (?, ?, ?, ?, 1)", q(dialect.Xfer(d, mt.name))))
	for _, c := range cases {
		k := mt.key(c.key)
		for _, x := range c.log {
			_, err := tx.ExecContext(ctx, insXfer, k, x.Version, string(x.From), string(x.To))
			require.NoError(t, err)
		}
		if c.held.IsZero() {
			continue
		}
		h := c.held
		deleted := 0
		if h.Deleted {
			deleted = 1
		} else {
			_, err := tx.ExecContext(ctx, insRow, k, heldBody(c.key), string(h.Master))
			require.NoError(t, err)
		}
		_, err := tx.ExecContext(ctx, insShadow, k, h.Version, string(h.Master), string(h.Origin), string(h.Creator), h.Epoch, deleted)
		require.NoError(t, err)
	}
	_, err = tx.ExecContext(ctx, d.SetApplying(false))
	require.NoError(t, err)
	require.NoError(t, tx.Commit())
}

// merge imports the cases' incoming images as one packet's rows of the
// table would be imported, through the importer's own row, route and
// flush (fast path, stage, merge, conflicts), and commits if that
// succeeds.
func (mt mergeTable) merge(ctx context.Context, db *sql.DB, d dialect.Dialect, cases []mergeCase) error {
	return importTx(ctx, db, d, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, d.SetApplying(true)); err != nil {
			return err
		}
		rep := &ImportReport{Tables: map[string]*TableCounts{}, Epochs: map[replica.ID][2]uint64{}}
		m, err := newImporter(ctx, tx, d, rep)
		if err != nil {
			return err
		}
		m.h = &syncpkt.Header{Origin: "sender"}
		err = m.startTable(&syncpkt.Table{Name: mt.name, Columns: []syncpkt.Column{mt.packet, {Name: "body", Type: "VARCHAR(40)"}}})
		if err != nil {
			return err
		}
		for _, c := range cases {
			key, err := syncpkt.ValueOf(mt.key(c.key))
			if err != nil {
				return err
			}
			body := syncpkt.Text(inBody(c.key))
			if c.in.Deleted {
				body = syncpkt.Null()
			}
			// Proofs are checked before a record reaches row
			// (proofcheck.go); here any proof stands for a valid one.
			if err := m.row(&syncpkt.Row{Version: c.in.Version, Master: string(c.in.Master), Origin: string(c.in.Origin),
				Creator: string(c.in.Creator), Epoch: c.in.Epoch, Deleted: c.in.Deleted, Values: []syncpkt.Value{key, body}, Proof: make([]byte, ed25519.SignatureSize)}); err != nil {
				return err
			}
		}
		if err := m.flush(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, d.SetApplying(false))
		return err
	})
}

// outcomes reads what the replica holds of every row of the table.
func (mt mergeTable) outcomes(t *testing.T, ctx context.Context, db *sql.DB, d dialect.Dialect) map[string]rowOutcome {
	t.Helper()
	q := d.Quote
	out := map[string]rowOutcome{}
	at := func(k string) rowOutcome { return out[k] }
	rows, err := db.QueryContext(ctx, fmt.Sprintf("SELECT id, ms_version, ms_master, ms_origin, ms_creator, ms_epoch, ms_deleted FROM %s", q(dialect.Shadow(d, mt.name))))
	require.NoError(t, err)
	for rows.Next() {
		var k string
		var s mergeStamp
		var epoch sql.NullInt64
		var deleted int
		require.NoError(t, rows.Scan(&k, &s.Version, &s.Master, &s.Origin, &s.Creator, &epoch, &deleted))
		s.Epoch, s.Deleted = epoch.Int64, deleted == 1
		o := at(k)
		o.Shadow = &s
		out[k] = o
	}
	require.NoError(t, rows.Err())
	rows.Close()
	rows, err = db.QueryContext(ctx, fmt.Sprintf("SELECT id, body, %s FROM %s", dialect.MasterColumn, q(mt.name)))
	require.NoError(t, err)
	for rows.Next() {
		var k string
		var r mergeRow
		require.NoError(t, rows.Scan(&k, &r.Body, &r.Master))
		o := at(k)
		o.Row = &r
		out[k] = o
	}
	require.NoError(t, rows.Err())
	rows.Close()
	rows, err = db.QueryContext(ctx, d.Rebind(`SELECT `+q("key")+`, creator, winner, version FROM ms_conflict WHERE tbl = ?`), mt.name)
	require.NoError(t, err)
	for rows.Next() {
		var k string
		var l mergeLoser
		require.NoError(t, rows.Scan(&k, &l.Creator, &l.Winner, &l.Version))
		o := at(k)
		o.Loser = &l
		out[k] = o
	}
	require.NoError(t, rows.Err())
	rows.Close()
	return out
}
