package multisite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/mastership"
	"github.com/multisite-go/multisite/replica"
	_ "modernc.org/sqlite"
)

// openExample opens a SQLite database in dir the way the library
// recommends: with a busy timeout, so concurrent writers wait.
func openExample(dir, name string) *sql.DB {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, name+".db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		log.Fatal(err)
	}
	return db
}

// Activate an existing tracker database, replicate it to a second site,
// and synchronize a change.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "multisite-example")
	defer os.RemoveAll(dir)

	boston := openExample(dir, "boston")
	defer boston.Close()
	boston.Exec(`CREATE TABLE defect (id INTEGER PRIMARY KEY, headline TEXT NOT NULL)`)
	boston.Exec(`INSERT INTO defect VALUES (1, 'crash on save')`)
	if _, err := multisite.Activate(ctx, boston, multisite.ActivateOptions{Name: "boston"}); err != nil {
		log.Fatal(err)
	}

	// The creation packet could go by file, e-mail or USB stick.
	var pkt bytes.Buffer
	blr, _, err := multisite.Replicate(ctx, boston, "bangalore", &pkt, multisite.ReplicateOptions{})
	if err != nil {
		log.Fatal(err)
	}
	bangalore := openExample(dir, "bangalore")
	defer bangalore.Close()
	if _, err := multisite.CreateReplica(ctx, bangalore, &pkt, multisite.CreateOptions{}); err != nil {
		log.Fatal(err)
	}
	if err := multisite.SetState(ctx, bangalore, replica.Active); err != nil {
		log.Fatal(err)
	}

	// Boston edits its record; bangalore may not.
	boston.Exec(`UPDATE defect SET headline = 'crash on save (fixed)' WHERE id = 1`)
	_, err = bangalore.Exec(`UPDATE defect SET headline = 'mine' WHERE id = 1`)
	fmt.Println("bangalore's write refused:", errors.Is(mastership.FromDriver(err), mastership.ErrNotMaster))

	var sync bytes.Buffer
	if _, err := multisite.ExportPacket(ctx, boston, blr.ID, &sync, multisite.ExportOptions{}); err != nil {
		log.Fatal(err)
	}
	rep, err := multisite.ImportPacket(ctx, bangalore, &sync, multisite.ImportOptions{})
	if err != nil {
		log.Fatal(err)
	}
	var headline string
	bangalore.QueryRow(`SELECT headline FROM defect WHERE id = 1`).Scan(&headline)
	fmt.Println("updated:", rep.Tables["defect"].Updated, "headline:", headline)
	// Output:
	// bangalore's write refused: true
	// updated: 1 headline: crash on save (fixed)
}

// Transfer a record to another site: the transfer travels in the next
// packet, after which only the new master may change it.
func ExampleTransferMastership() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "multisite-example")
	defer os.RemoveAll(dir)
	boston := openExample(dir, "boston")
	defer boston.Close()
	boston.Exec(`CREATE TABLE defect (id INTEGER PRIMARY KEY, owner TEXT)`)
	boston.Exec(`INSERT INTO defect VALUES (7, 'alice')`)
	multisite.Activate(ctx, boston, multisite.ActivateOptions{Name: "boston"})
	var pkt bytes.Buffer
	dublin, _, _ := multisite.Replicate(ctx, boston, "dublin", &pkt, multisite.ReplicateOptions{})

	n, err := multisite.TransferMastership(ctx, boston, "defect", dublin.ID, []any{7})
	fmt.Println(n, err)
	_, err = boston.Exec(`UPDATE defect SET owner = 'bob' WHERE id = 7`)
	var nm *mastership.NotMasterError
	fmt.Println(errors.As(mastership.FromDriver(err), &nm) && nm.Master == dublin.ID)
	// Output:
	// 1 <nil>
	// true
}

// Validate stored text against a data code page before activation.
func ExampleValidateCharset() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "multisite-example")
	defer os.RemoveAll(dir)
	db := openExample(dir, "boston")
	defer db.Close()
	db.Exec(`CREATE TABLE defect (id INTEGER PRIMARY KEY, owner TEXT)`)
	db.Exec(`INSERT INTO defect VALUES (1, 'Zoë'), (2, 'Łukasz')`)
	rep, err := multisite.ValidateCharset(ctx, db, "windows-1252", multisite.CharsetOptions{})
	if err != nil {
		log.Fatal(err)
	}
	for _, v := range rep.Violations {
		fmt.Println(v)
	}
	// Output:
	// defect[2].owner: U+0141 "Ł" at byte 0
}
