package multisite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log"
	"os"
	"sort"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/hooks"
	"github.com/multisite-go/multisite/mastership"
	"github.com/multisite-go/multisite/replica"
)

// exampleFamily activates boston over a defect table and creates an
// active bangalore replica from it, both in dir.
func exampleFamily(ctx context.Context, dir string) (boston, bangalore *sql.DB, blr replica.Info) {
	boston = openExample(dir, "boston")
	boston.Exec(`CREATE TABLE defect (id INTEGER PRIMARY KEY, owner TEXT)`)
	boston.Exec(`INSERT INTO defect VALUES (1, 'alice'), (2, 'bob'), (3, 'alice')`)
	if _, err := multisite.Activate(ctx, boston, multisite.ActivateOptions{Name: "boston"}); err != nil {
		log.Fatal(err)
	}
	var pkt bytes.Buffer
	blr, _, err := multisite.Replicate(ctx, boston, "bangalore", &pkt, multisite.ReplicateOptions{})
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
	return boston, bangalore, blr
}

// Write through the library: a write to a row another replica masters
// comes back as a *mastership.NotMasterError, and an OnRefusedWrite hook
// hears of it (to log it, or to file a mastership request).
func ExampleWrite() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "multisite-example")
	defer os.RemoveAll(dir)
	boston, bangalore, _ := exampleFamily(ctx, dir)
	defer boston.Close()
	defer bangalore.Close()

	opt := multisite.WriteOptions{Hooks: &hooks.Hooks{
		OnRefusedWrite: func(ctx context.Context, err error) { fmt.Println("hook: refused") },
	}}
	err := multisite.Write(ctx, bangalore, opt, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE defect SET owner = 'bob' WHERE id = 1`)
		return err
	})
	var nm *mastership.NotMasterError
	if errors.As(err, &nm) {
		st, _ := multisite.ReadStatus(ctx, bangalore)
		for _, r := range st.Replicas {
			if r.ID == nm.Master {
				fmt.Printf("that %s is mastered by %s\n", nm.Table, r.Name)
			}
		}
	}
	// Output:
	// hook: refused
	// that defect is mastered by boston
}

// List who masters what: rows per table per master, and the transfers
// whose new master has not acknowledged them yet.
func ExampleMastered() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "multisite-example")
	defer os.RemoveAll(dir)
	boston, bangalore, blr := exampleFamily(ctx, dir)
	defer boston.Close()
	defer bangalore.Close()

	if _, err := multisite.TransferMastership(ctx, boston, "defect", blr.ID, []any{2}); err != nil {
		log.Fatal(err)
	}
	rep, err := multisite.Mastered(ctx, boston, multisite.MasteryOptions{Rows: blr.ID})
	if err != nil {
		log.Fatal(err)
	}
	var lines []string
	for table, counts := range rep.Counts {
		for id, n := range counts {
			lines = append(lines, fmt.Sprintf("%s: %d mastered by %s", table, n, rep.Names[id]))
		}
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
	for _, r := range rep.Rows {
		fmt.Println("bangalore masters", r.Table, r.Key)
	}
	for _, x := range rep.Transfers {
		fmt.Printf("in flight: %s%v %s -> %s\n", x.Table, x.Key, rep.Names[x.From], rep.Names[x.To])
	}
	// Output:
	// defect: 1 mastered by bangalore
	// defect: 2 mastered by boston
	// bangalore masters defect [2]
	// in flight: defect[2] boston -> bangalore
}
