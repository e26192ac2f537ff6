// Command hooks shows mastership automated with a policy and Go hooks,
// the way ClearQuest MultiSite sites did it with Perl hooks: a defect is
// mastered at the site of its owner.
//
//	go run ./examples/hooks
//
// Three SQLite replicas (boston, bangalore, dublin) share a replicated
// users table, which says at which site each user works, and a defect
// table with an owner column. A mastership.Field policy gives every new
// defect to its owner's site; a BeforeExport hook moves a defect when it
// is reassigned to a user of another site, so mastership follows the
// owner with the next packet. An AfterImportChange hook reports the
// defects that arrive mastered by the importing site, and an
// OnRefusedWrite hook the writes the library refuses. It prints what
// happens and exits non-zero if anything goes wrong or the sites diverge.
package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/hooks"
	"github.com/multisite-go/multisite/mastership"
	"github.com/multisite-go/multisite/replica"
	_ "modernc.org/sqlite"
)

func main() {
	dir, err := os.MkdirTemp("", "multisite-hooks")
	if err != nil {
		fmt.Fprintln(os.Stderr, "hooks:", err)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	if _, err := run(context.Background(), dir, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "hooks:", err)
		os.Exit(1)
	}
}

// site is one replica.
type site struct {
	name string
	db   *sql.DB
	id   replica.ID
}

// result is what run ends with, for the test: per site, the master's name
// of every defect, and the refused writes.
type result struct {
	Masters map[string]map[int64]string // site -> defect -> master's name
	Refused []string
}

// ownerSite is the policy for new defects: the site of the owner, by the
// replicated users table.
var ownerSite = mastership.Field{Table: "defect", Column: "owner", Map: "users", MapKey: "login", MapReplica: "site"}

func run(ctx context.Context, dir string, out io.Writer) (*result, error) {
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	res := &result{Masters: map[string]map[int64]string{}}

	boston, err := open(dir, "boston")
	if err != nil {
		return nil, err
	}
	defer boston.db.Close()
	for _, q := range []string{
		`CREATE TABLE users (login TEXT PRIMARY KEY, site TEXT NOT NULL, fullname TEXT)`,
		`CREATE TABLE defect (id INTEGER PRIMARY KEY, headline TEXT NOT NULL, owner TEXT, state TEXT NOT NULL DEFAULT 'open')`,
		`INSERT INTO users VALUES ('alice', 'boston', 'Alice'), ('bob', 'bangalore', 'Bob'), ('dana', 'dublin', 'Dana')`,
	} {
		if _, err := boston.db.ExecContext(ctx, q); err != nil {
			return nil, err
		}
	}
	info, err := multisite.Activate(ctx, boston.db, multisite.ActivateOptions{Name: "boston"})
	if err != nil {
		return nil, err
	}
	boston.id = info.ID
	sites := []*site{boston}
	for _, name := range []string{"bangalore", "dublin"} {
		s, err := replicate(ctx, dir, boston, name)
		if err != nil {
			return nil, err
		}
		defer s.db.Close()
		sites = append(sites, s)
	}
	names := map[replica.ID]string{}
	for _, s := range sites {
		names[s.id] = s.name
	}
	bangalore, dublin := sites[1], sites[2]
	say("three sites: boston, bangalore, dublin; users alice@boston, bob@bangalore, dana@dublin")

	// The hooks every site runs.
	hooksOf := func(s *site) *hooks.Hooks {
		return &hooks.Hooks{
			BeforeExport: func(ctx context.Context, tx hooks.Tx, e hooks.Export) error {
				return followOwner(ctx, tx, e, func(id any, owner, to string) {
					say("  %s: defect %v reassigned to %s, mastership goes to %s with this packet", s.name, id, owner, to)
				})
			},
			AfterImportChange: func(ctx context.Context, tx hooks.Tx, c hooks.Change) error {
				if c.Table == "defect" && c.Op != hooks.Delete && c.Master == tx.Local() {
					say("  %s: defect %v (owner %v) arrived from %s, mastered here now", s.name, c.Key[0], c.Values["owner"], names[c.Origin])
				}
				return nil
			},
			OnRefusedWrite: func(ctx context.Context, err error) {
				var nm *mastership.NotMasterError
				if errors.As(err, &nm) {
					// SQLite's refusal names table and master, not the key
					// (its triggers take only literal messages).
					res.Refused = append(res.Refused, fmt.Sprintf("%s: %s mastered by %s", s.name, nm.Table, names[nm.Master]))
					say("  %s: write refused, that %s is mastered by %s", s.name, nm.Table, names[nm.Master])
				}
			},
		}
	}
	syncAll := func() error {
		for _, from := range sites {
			for _, to := range sites {
				if from == to {
					continue
				}
				var pkt bytes.Buffer
				if _, err := multisite.ExportPacket(ctx, from.db, to.id, &pkt, multisite.ExportOptions{Policy: ownerSite, Hooks: hooksOf(from)}); err != nil {
					return fmt.Errorf("export %s to %s: %w", from.name, to.name, err)
				}
				if _, err := multisite.ImportPacket(ctx, to.db, &pkt, multisite.ImportOptions{Hooks: hooksOf(to)}); err != nil {
					return fmt.Errorf("import %s into %s: %w", from.name, to.name, err)
				}
			}
		}
		return nil
	}
	write := func(s *site, q string, args ...any) error {
		return multisite.Write(ctx, s.db, multisite.WriteOptions{Hooks: hooksOf(s)}, func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, q, args...)
			return err
		})
	}
	submit := func(s *site, headline, owner string) (int64, error) {
		var id int64
		err := multisite.Write(ctx, s.db, multisite.WriteOptions{}, func(ctx context.Context, tx *sql.Tx) error {
			var err error
			if id, err = multisite.NextID(ctx, s.db, tx, "defect"); err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO defect (id, headline, owner) VALUES (?, ?, ?)`, id, headline, owner)
			return err
		})
		return id, err
	}

	say("\nboston submits two defects: one for alice (boston), one for bob (bangalore)")
	forAlice, err := submit(boston, "crash on save", "alice")
	if err != nil {
		return nil, err
	}
	forBob, err := submit(boston, "login times out", "bob")
	if err != nil {
		return nil, err
	}
	say("synchronizing (the policy gives new defects to their owner's site)")
	if err := syncAll(); err != nil {
		return nil, err
	}

	say("\nboston tries to edit bob's defect; bangalore edits it")
	if err := write(boston, `UPDATE defect SET state = 'wontfix' WHERE id = ?`, forBob); err != nil && !errors.Is(err, mastership.ErrNotMaster) {
		return nil, err
	}
	if err := write(bangalore, `UPDATE defect SET state = 'analysed' WHERE id = ?`, forBob); err != nil {
		return nil, err
	}

	say("\nbangalore reassigns bob's defect to dana (dublin); boston reassigns alice's to bob")
	if err := write(bangalore, `UPDATE defect SET owner = 'dana' WHERE id = ?`, forBob); err != nil {
		return nil, err
	}
	if err := write(boston, `UPDATE defect SET owner = 'bob' WHERE id = ?`, forAlice); err != nil {
		return nil, err
	}
	say("synchronizing (the hook moves reassigned defects)")
	if err := syncAll(); err != nil {
		return nil, err
	}

	say("\ndublin fixes dana's defect; bangalore fixes bob's")
	if err := write(dublin, `UPDATE defect SET state = 'fixed' WHERE id = ?`, forBob); err != nil {
		return nil, err
	}
	if err := write(bangalore, `UPDATE defect SET state = 'fixed' WHERE id = ?`, forAlice); err != nil {
		return nil, err
	}
	if err := syncAll(); err != nil {
		return nil, err
	}

	say("\nwho masters what:")
	var hashes []string
	for _, s := range sites {
		rep, err := multisite.Mastered(ctx, s.db, multisite.MasteryOptions{Tables: []string{"defect"}})
		if err != nil {
			return nil, err
		}
		if len(rep.Transfers) > 0 {
			return nil, fmt.Errorf("%s still has %d transfers in flight", s.name, len(rep.Transfers))
		}
		res.Masters[s.name] = map[int64]string{}
		var parts []string
		for _, id := range sortedIDs(rep.Counts["defect"], rep.Names) {
			var rows []int64
			err := multisite.MasteredRows(ctx, s.db, id, []string{"defect"}, func(r multisite.MasteredRow) error {
				k, _ := r.Key[0].(int64)
				rows = append(rows, k)
				res.Masters[s.name][k] = rep.Names[id]
				return nil
			})
			if err != nil {
				return nil, err
			}
			parts = append(parts, fmt.Sprintf("%s masters %v", rep.Names[id], rows))
		}
		say("  at %s: %s", s.name, strings.Join(parts, ", "))
		h, err := multisite.ContentHash(ctx, s.db)
		if err != nil {
			return nil, err
		}
		hashes = append(hashes, h)
	}
	for _, h := range hashes[1:] {
		if h != hashes[0] {
			return nil, errors.New("the sites diverge")
		}
	}
	say("all three sites hold the same data")
	return res, nil
}

// followOwner is the BeforeExport hook: every defect this site masters
// whose pending change left it owned by a user of another site is
// transferred there, in the export's transaction, so the transfer travels
// in the packet being written.
func followOwner(ctx context.Context, tx hooks.Tx, e hooks.Export, told func(id any, owner, to string)) error {
	for _, c := range e.Changes {
		if c.Table != "defect" || c.Op != hooks.Update || c.Master != tx.Local() {
			continue
		}
		owner, _ := c.Values["owner"].(string)
		if owner == "" {
			continue
		}
		var siteName string
		err := tx.QueryRowContext(ctx, `SELECT site FROM users WHERE login = ?`, owner).Scan(&siteName)
		if errors.Is(err, sql.ErrNoRows) {
			continue // a user of no site: the defect stays
		}
		if err != nil {
			return err
		}
		to, ok := tx.Replica(siteName)
		if !ok {
			return fmt.Errorf("user %s works at %q, which is no replica", owner, siteName)
		}
		if to.ID == tx.Local() {
			continue
		}
		if err := tx.Transfer(ctx, c.Table, c.Key, to.ID); err != nil {
			return err
		}
		told(c.Key[0], owner, to.Name)
	}
	return nil
}

func open(dir, name string) (*site, error) {
	path := filepath.Join(dir, name+".db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, err
	}
	return &site{name: name, db: db}, nil
}

// replicate creates an active replica called name from first.
func replicate(ctx context.Context, dir string, first *site, name string) (*site, error) {
	var pkt bytes.Buffer
	info, _, err := multisite.Replicate(ctx, first.db, name, &pkt, multisite.ReplicateOptions{})
	if err != nil {
		return nil, err
	}
	s, err := open(dir, name)
	if err != nil {
		return nil, err
	}
	s.id = info.ID
	if _, err := multisite.CreateReplica(ctx, s.db, &pkt, multisite.CreateOptions{}); err != nil {
		return nil, err
	}
	// The new replica made its own key; its first packet to its creator
	// (an acknowledgement) enrols it, and first's packets then introduce
	// it to the family.
	var ack bytes.Buffer
	if _, err := multisite.WriteAck(ctx, s.db, first.id, &ack); err != nil {
		return nil, err
	}
	if _, err := multisite.ImportPacket(ctx, first.db, &ack, multisite.ImportOptions{}); err != nil {
		return nil, fmt.Errorf("enrol %s: %w", name, err)
	}
	if err := multisite.SetState(ctx, s.db, replica.Active); err != nil {
		return nil, err
	}
	return s, nil
}

// sortedIDs returns the replicas counted in m, by name.
func sortedIDs(m map[replica.ID]int, names map[replica.ID]string) []replica.ID {
	ids := make([]replica.ID, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return names[ids[i]] < names[ids[j]] })
	return ids
}
