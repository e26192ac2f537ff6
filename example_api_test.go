package multisite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/codepage"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/syncpkt"
)

// apiFamily activates a one-table tracker at boston and creates an
// active replica called dublin from it. It returns both databases and
// dublin's registry entry; cleanup closes and removes them.
func apiFamily(ctx context.Context) (boston, dublin *sql.DB, dublinInfo replica.Info, cleanup func()) {
	dir, err := os.MkdirTemp("", "multisite-example")
	if err != nil {
		log.Fatal(err)
	}
	boston = openExample(dir, "boston")
	boston.Exec(`CREATE TABLE defect (id INTEGER PRIMARY KEY, headline TEXT NOT NULL)`)
	boston.Exec(`INSERT INTO defect VALUES (1, 'crash on save'), (2, 'slow start')`)
	if _, err := multisite.Activate(ctx, boston, multisite.ActivateOptions{Name: "boston"}); err != nil {
		log.Fatal(err)
	}
	var pkt bytes.Buffer
	dublinInfo, _, err = multisite.Replicate(ctx, boston, "dublin", &pkt, multisite.ReplicateOptions{})
	if err != nil {
		log.Fatal(err)
	}
	dublin = openExample(dir, "dublin")
	if _, err := multisite.CreateReplica(ctx, dublin, &pkt, multisite.CreateOptions{}); err != nil {
		log.Fatal(err)
	}
	if err := multisite.SetState(ctx, dublin, replica.Active); err != nil {
		log.Fatal(err)
	}
	return boston, dublin, dublinInfo, func() {
		boston.Close()
		dublin.Close()
		os.RemoveAll(dir)
	}
}

// apiSync sends from's changes for target to the database at.
func apiSync(ctx context.Context, from *sql.DB, target replica.ID, at *sql.DB) *multisite.ImportReport {
	var buf bytes.Buffer
	if _, err := multisite.ExportPacket(ctx, from, target, &buf, multisite.ExportOptions{}); err != nil {
		log.Fatal(err)
	}
	rep, err := multisite.ImportPacket(ctx, at, &buf, multisite.ImportOptions{})
	if err != nil {
		log.Fatal(err)
	}
	return rep
}

// Read the activation plan first: the exact SQL, in order, that Activate
// applies.
func ExamplePlanActivation() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "multisite-example")
	defer os.RemoveAll(dir)
	db := openExample(dir, "boston")
	defer db.Close()
	db.Exec(`CREATE TABLE defect (id INTEGER PRIMARY KEY, headline TEXT)`)
	plan, err := multisite.PlanActivation(ctx, db, multisite.ActivateOptions{Name: "boston"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(plan.Steps) > 0, plan.Steps[len(plan.Steps)-1].SQL != "")
	// Output:
	// true true
}

// Make an existing database the first replica of a family, with a data
// code page.
func ExampleActivate() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "multisite-example")
	defer os.RemoveAll(dir)
	db := openExample(dir, "boston")
	defer db.Close()
	db.Exec(`CREATE TABLE defect (id INTEGER PRIMARY KEY, headline TEXT)`)
	info, err := multisite.Activate(ctx, db, multisite.ActivateOptions{Name: "boston", CodePage: "1252"})
	if err != nil {
		log.Fatal(err)
	}
	st, _ := multisite.ReadStatus(ctx, db)
	fmt.Println(info.Name, info.State, st.CodePage, st.Tables)
	// Output:
	// boston active windows-1252 [defect]
}

// Bring a new site to life from a creation packet: it starts receive-only
// and becomes active once validated.
func ExampleCreateReplica() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "multisite-example")
	defer os.RemoveAll(dir)
	boston := openExample(dir, "boston")
	defer boston.Close()
	boston.Exec(`CREATE TABLE defect (id INTEGER PRIMARY KEY, headline TEXT)`)
	boston.Exec(`INSERT INTO defect VALUES (1, 'crash on save')`)
	bostonInfo, _ := multisite.Activate(ctx, boston, multisite.ActivateOptions{Name: "boston"})

	var pkt bytes.Buffer // a file, an e-mail attachment, a USB stick
	if _, _, err := multisite.Replicate(ctx, boston, "dublin", &pkt, multisite.ReplicateOptions{}); err != nil {
		log.Fatal(err)
	}
	dublin := openExample(dir, "dublin")
	defer dublin.Close()
	// Pinning the origin's key checks the packet against what boston's
	// administrator sent by another channel.
	rep, err := multisite.CreateReplica(ctx, dublin, &pkt, multisite.CreateOptions{OriginKey: bostonInfo.PublicKey})
	if err != nil {
		log.Fatal(err)
	}
	st, _ := multisite.ReadStatus(ctx, dublin)
	fmt.Println(rep.Tables["defect"].Inserted, st.Local.State)
	_, err = dublin.Exec(`UPDATE defect SET headline = 'x' WHERE id = 1`)
	fmt.Println("write refused while receive-only:", err != nil)
	fmt.Println(multisite.SetState(ctx, dublin, replica.Active))
	// Output:
	// 1 receive-only
	// write refused while receive-only: true
	// <nil>
}

// Synchronize: export what the target lacks, import it in one
// transaction. Importing the same packet again changes nothing.
func ExampleImportPacket() {
	ctx := context.Background()
	boston, dublin, dublinInfo, cleanup := apiFamily(ctx)
	defer cleanup()

	id, _ := multisite.NextID(ctx, boston, nil, "defect")
	boston.Exec(`INSERT INTO defect (id, headline) VALUES (?, 'new at boston')`, id)
	var pkt bytes.Buffer
	st, err := multisite.ExportPacket(ctx, boston, dublinInfo.ID, &pkt, multisite.ExportOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("rows in packet:", st.Rows)
	data := pkt.Bytes()
	rep, err := multisite.ImportPacket(ctx, dublin, bytes.NewReader(data), multisite.ImportOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("inserted:", rep.Tables["defect"].Inserted)
	rep, _ = multisite.ImportPacket(ctx, dublin, bytes.NewReader(data), multisite.ImportOptions{})
	fmt.Println("again, duplicate:", rep.Duplicate)

	// A damaged packet is refused with a typed error; nothing changes.
	data[len(data)/2] ^= 0x40
	_, err = multisite.ImportPacket(ctx, dublin, bytes.NewReader(data), multisite.ImportOptions{})
	fmt.Println("damaged:", errors.Is(err, syncpkt.ErrFormat) || errors.Is(err, syncpkt.ErrChecksum) || errors.Is(err, syncpkt.ErrSignature))
	// Output:
	// rows in packet: 1
	// inserted: 1
	// again, duplicate: true
	// damaged: true
}

// Integer keys come from the replica's own range, so sites never collide.
func ExampleNextID() {
	ctx := context.Background()
	boston, dublin, _, cleanup := apiFamily(ctx)
	defer cleanup()
	a, _ := multisite.NextID(ctx, boston, nil, "defect")
	b, _ := multisite.NextID(ctx, dublin, nil, "defect")
	fmt.Println(a, b)
	// Output:
	// 3 1099511627777
}

// Change the code page of a live family once its data fits: the change
// travels in packets.
func ExampleChangeCodePage() {
	ctx := context.Background()
	boston, dublin, dublinInfo, cleanup := apiFamily(ctx)
	defer cleanup()
	if err := multisite.ChangeCodePage(ctx, boston, "windows-1252"); err != nil {
		log.Fatal(err)
	}
	rep := apiSync(ctx, boston, dublinInfo.ID, dublin)
	st, _ := multisite.ReadStatus(ctx, dublin)
	fmt.Println(rep.CodePage, st.CodePage)
	// Output:
	// windows-1252 windows-1252
}

// Clean text that does not fit a code page: a dry run first, then the
// change at each row's master as ordinary captured writes.
func ExampleCleanCharset() {
	ctx := context.Background()
	boston, _, _, cleanup := apiFamily(ctx)
	defer cleanup()
	boston.Exec(`UPDATE defect SET headline = 'ﬁx “quotes” → arrows' WHERE id = 1`)
	opt := multisite.CleanOptions{Strategy: codepage.Transliterate}
	rep, err := multisite.CleanCharset(ctx, boston, "US-ASCII", opt)
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range rep.Changes {
		fmt.Printf("%s[%s].%s: %q -> %q\n", c.Table, c.Key, c.Column, c.Before, c.After)
	}
	opt.Apply = true
	rep, _ = multisite.CleanCharset(ctx, boston, "US-ASCII", opt)
	fmt.Println("applied:", rep.Applied)
	// Output:
	// defect[1].headline: "ﬁx “quotes” → arrows" -> "fix \"quotes\" -> arrows"
	// applied: 1
}

// A replica restored from a backup of itself locks writes until every
// writing member has sent it what it lost.
func ExampleRestoreReplica() {
	ctx := context.Background()
	boston, dublin, dublinInfo, cleanup := apiFamily(ctx)
	defer cleanup()
	// (Here the database is the backup itself; in life it is the file
	// restored from tape.)
	info, err := multisite.RestoreReplica(ctx, dublin)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.State)
	// Boston learns of the restore from dublin's next packet, then sends
	// dublin what it lost.
	st, _ := multisite.ReadStatus(ctx, boston)
	apiSync(ctx, dublin, st.Local.ID, boston)
	apiSync(ctx, boston, dublinInfo.ID, dublin)
	st, _ = multisite.ReadStatus(ctx, dublin)
	fmt.Println(st.Local.State)
	// Output:
	// restoring
	// active
}

// A replica leaves the family; what it masters goes to another member
// first, and the family learns of it from its last packet.
func ExampleRemoveReplica() {
	ctx := context.Background()
	boston, dublin, _, cleanup := apiFamily(ctx)
	defer cleanup()
	st, _ := multisite.ReadStatus(ctx, boston)
	info, err := multisite.RemoveReplica(ctx, dublin, multisite.RemoveOptions{TransferTo: st.Local.ID})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Name, info.State)
	// Output:
	// dublin removed
}

// Pruning drops tombstones every member has acknowledged.
func ExamplePrune() {
	ctx := context.Background()
	boston, dublin, dublinInfo, cleanup := apiFamily(ctx)
	defer cleanup()
	bostonID := func() replica.ID { st, _ := multisite.ReadStatus(ctx, boston); return st.Local.ID }()
	boston.Exec(`DELETE FROM defect WHERE id = 2`)
	apiSync(ctx, boston, dublinInfo.ID, dublin)
	apiSync(ctx, dublin, bostonID, boston) // dublin acknowledges
	st, err := multisite.Prune(ctx, boston)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("tombstones pruned:", st.Tombstones)
	// Output:
	// tombstones pruned: 1
}

// Resend everything a target should have, for instance after it lost
// packets beyond what the automatic resend covers.
func ExampleRecoverPacket() {
	ctx := context.Background()
	boston, dublin, dublinInfo, cleanup := apiFamily(ctx)
	defer cleanup()
	var lost bytes.Buffer
	boston.Exec(`UPDATE defect SET headline = 'edited' WHERE id = 1`)
	multisite.ExportPacket(ctx, boston, dublinInfo.ID, &lost, multisite.ExportOptions{}) // never arrives
	var pkt bytes.Buffer
	if _, err := multisite.RecoverPacket(ctx, boston, dublinInfo.ID, replica.Vector{}, &pkt, multisite.ExportOptions{}); err != nil {
		log.Fatal(err)
	}
	rep, _ := multisite.ImportPacket(ctx, dublin, &pkt, multisite.ImportOptions{})
	fmt.Println("updated:", rep.Tables["defect"].Updated)
	// Output:
	// updated: 1
}

// Rotate a replica's signing key: the new key is endorsed by the old one
// and travels in the first packet it signs.
func ExampleRotateKey() {
	ctx := context.Background()
	boston, dublin, dublinInfo, cleanup := apiFamily(ctx)
	defer cleanup()
	before, _ := multisite.ReadStatus(ctx, boston)
	after, err := multisite.RotateKey(ctx, boston)
	if err != nil {
		log.Fatal(err)
	}
	rep := apiSync(ctx, boston, dublinInfo.ID, dublin)
	fmt.Println(!bytes.Equal(before.Local.PublicKey, after.PublicKey), len(rep.RefusedKeys))
	// Output:
	// true 0
}

// Two replicas hold the same data when their content hashes are equal.
func ExampleContentHash() {
	ctx := context.Background()
	boston, dublin, _, cleanup := apiFamily(ctx)
	defer cleanup()
	a, _ := multisite.ContentHash(ctx, boston)
	b, _ := multisite.ContentHash(ctx, dublin)
	fmt.Println(a == b)
	// Output:
	// true
}

// Take a replica out of its family: the user's tables and rows stay as
// they were.
func ExampleDeactivate() {
	ctx := context.Background()
	boston, _, _, cleanup := apiFamily(ctx)
	defer cleanup()
	if err := multisite.Deactivate(ctx, boston); err != nil {
		log.Fatal(err)
	}
	var n int
	boston.QueryRow(`SELECT count(*) FROM defect`).Scan(&n)
	_, err := multisite.ReadStatus(ctx, boston)
	fmt.Println(n, errors.Is(err, multisite.ErrNotActivated))
	// Output:
	// 2 true
}
