package multisite_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/hooks"
	"github.com/multisite-go/multisite/replica"
)

// requestSites makes boston (which masters every row of setup's tables)
// and bangalore, and returns their databases and IDs.
func requestSites(ctx context.Context, dir string, setup ...string) (boston, bangalore *sql.DB, bos, blr replica.ID) {
	boston = openExample(dir, "boston")
	for _, s := range setup {
		if _, err := boston.Exec(s); err != nil {
			log.Fatal(err)
		}
	}
	bi, err := multisite.Activate(ctx, boston, multisite.ActivateOptions{Name: "boston"})
	if err != nil {
		log.Fatal(err)
	}
	var pkt bytes.Buffer
	li, _, err := multisite.Replicate(ctx, boston, "bangalore", &pkt, multisite.ReplicateOptions{})
	if err != nil {
		log.Fatal(err)
	}
	bangalore = openExample(dir, "bangalore")
	if _, err := multisite.CreateReplica(ctx, bangalore, &pkt, multisite.CreateOptions{}); err != nil {
		log.Fatal(err)
	}
	if err := multisite.SetState(ctx, bangalore, replica.Active); err != nil {
		log.Fatal(err)
	}
	return boston, bangalore, bi.ID, li.ID
}

// exampleSync sends one packet from -> to (the target's ID) and imports it
// with opt.
func exampleSync(ctx context.Context, from, to *sql.DB, target replica.ID, opt multisite.ImportOptions) *multisite.ImportReport {
	var pkt bytes.Buffer
	if _, err := multisite.ExportPacket(ctx, from, target, &pkt, multisite.ExportOptions{}); err != nil {
		log.Fatal(err)
	}
	rep, err := multisite.ImportPacket(ctx, to, &pkt, opt)
	if err != nil {
		log.Fatal(err)
	}
	return rep
}

// Bangalore asks for a defect boston masters; boston's OnRequest hook
// grants requests for defects assigned to someone at the requesting site,
// and the answer travels back with the transfer.
func ExampleRequestMastership() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "multisite-example")
	defer os.RemoveAll(dir)
	boston, bangalore, bos, blr := requestSites(ctx, dir,
		`CREATE TABLE defect (id INTEGER PRIMARY KEY, owner TEXT)`,
		`INSERT INTO defect VALUES (1, 'ravi@bangalore'), (2, 'alice@boston')`)
	defer boston.Close()
	defer bangalore.Close()

	id, err := multisite.RequestMastership(ctx, bangalore, "defect", []any{1}, "ravi works on it")
	if err != nil {
		log.Fatal(err)
	}
	exampleSync(ctx, bangalore, boston, bos, multisite.ImportOptions{Hooks: &hooks.Hooks{
		OnRequest: func(ctx context.Context, tx hooks.Tx, r hooks.Request) (hooks.Decision, string, error) {
			var owner string
			rows, err := tx.QueryContext(ctx, `SELECT owner FROM defect WHERE id = ?`, r.Key...)
			if err != nil {
				return hooks.Defer, "", err
			}
			defer rows.Close()
			for rows.Next() {
				if err := rows.Scan(&owner); err != nil {
					return hooks.Defer, "", err
				}
			}
			from, _ := tx.Replica(string(r.From))
			if owner == "ravi@"+from.Name {
				return hooks.Grant, "the owner works there", nil
			}
			return hooks.Deny, "the owner is not at " + from.Name, nil
		},
	}})
	exampleSync(ctx, boston, bangalore, blr, multisite.ImportOptions{})

	rs, err := multisite.Requests(ctx, bangalore, multisite.RequestFilter{ID: id})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %s\n", rs[0].State, rs[0].Answer)
	_, err = bangalore.Exec(`UPDATE defect SET owner = 'ravi@bangalore (fixing)' WHERE id = 1`)
	fmt.Println("bangalore may edit defect 1:", err == nil)
	// Output:
	// granted: the owner works there
	// bangalore may edit defect 1: true
}

// Without a hook a request waits at the master for an administrator.
func ExampleGrantRequest() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "multisite-example")
	defer os.RemoveAll(dir)
	boston, bangalore, bos, blr := requestSites(ctx, dir,
		`CREATE TABLE defect (id INTEGER PRIMARY KEY, owner TEXT)`,
		`INSERT INTO defect VALUES (1, 'ravi'), (2, 'alice')`)
	defer boston.Close()
	defer bangalore.Close()

	first, _ := multisite.RequestMastership(ctx, bangalore, "defect", []any{1}, "")
	second, _ := multisite.RequestMastership(ctx, bangalore, "defect", []any{2}, "")
	exampleSync(ctx, bangalore, boston, bos, multisite.ImportOptions{})

	pending, _ := multisite.Requests(ctx, boston, multisite.RequestFilter{States: []multisite.RequestState{multisite.RequestPending}})
	fmt.Println("pending at boston:", len(pending))
	if _, err := multisite.GrantRequest(ctx, boston, first); err != nil {
		log.Fatal(err)
	}
	if _, err := multisite.DenyRequest(ctx, boston, second, "alice stays in boston"); err != nil {
		log.Fatal(err)
	}
	exampleSync(ctx, boston, bangalore, blr, multisite.ImportOptions{})
	for _, id := range []multisite.RequestID{first, second} {
		rs, _ := multisite.Requests(ctx, bangalore, multisite.RequestFilter{ID: id})
		fmt.Printf("defect %v: %s %q\n", rs[0].Key[0], rs[0].State, rs[0].Answer)
	}
	// Output:
	// pending at boston: 2
	// defect 1: granted ""
	// defect 2: denied "alice stays in boston"
}

// Two sites create a team with the same unique name. Both records are
// kept; the one created by the replica with the larger ID is renamed
// NAME<site> the same way everywhere, and the import reports it.
func ExampleCollisions() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "multisite-example")
	defer os.RemoveAll(dir)
	boston, bangalore, bos, blr := requestSites(ctx, dir,
		`CREATE TABLE team (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)`)
	defer boston.Close()
	defer bangalore.Close()

	for _, db := range []*sql.DB{boston, bangalore} {
		id, _ := multisite.NextID(ctx, db, nil, "team")
		if _, err := db.Exec(`INSERT INTO team (id, name) VALUES (?, 'qa')`, id); err != nil {
			log.Fatal(err)
		}
	}
	r1 := exampleSync(ctx, boston, bangalore, blr, multisite.ImportOptions{})
	exampleSync(ctx, bangalore, boston, bos, multisite.ImportOptions{})
	// Each replica that renames a record reports it: bangalore, and boston
	// too if its own record is the one renamed.
	fmt.Println("collision reported:", len(r1.Collisions) > 0)

	renamed := "qa<bangalore>"
	if blr < bos {
		renamed = "qa<boston>"
	}
	for _, db := range []*sql.DB{boston, bangalore} {
		var n int
		db.QueryRow(`SELECT count(*) FROM team WHERE name IN ('qa', ?)`, renamed).Scan(&n)
		fmt.Println("teams qa and its renamed twin:", n)
	}
	hb, _ := multisite.ContentHash(ctx, boston)
	hl, _ := multisite.ContentHash(ctx, bangalore)
	fmt.Println("same data:", hb == hl)
	// Output:
	// collision reported: true
	// teams qa and its renamed twin: 2
	// teams qa and its renamed twin: 2
	// same data: true
}
