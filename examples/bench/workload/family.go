package workload

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/replica"
)

// Family is an origin replica ("boston") holding the benchmark table and a
// receive-only replica ("bangalore") created from it while the table was
// still empty, so that every row written at the origin afterwards is a
// change the replica lacks.
type Family struct {
	Dir                 string
	Origin, Replica     *sql.DB
	OriginID, ReplicaID replica.ID

	close func() error // set by Server.Family: closes and drops both
}

// NewFamily builds a Family in dir: boston.db activated over an empty
// benchmark table, bangalore.db created from its creation packet.
func NewFamily(ctx context.Context, dir string) (*Family, error) {
	f := &Family{Dir: dir}
	var err error
	if f.Origin, err = OpenWithTable(ctx, filepath.Join(dir, "boston.db")); err != nil {
		return nil, err
	}
	if err := f.build(ctx, func() (*sql.DB, error) { return Open(ctx, filepath.Join(dir, "bangalore.db")) }); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// build activates f.Origin as "boston" and creates "bangalore" from its
// creation packet in the database openReplica opens, setting the rest of
// f. The caller closes f on error.
func (f *Family) build(ctx context.Context, openReplica func() (*sql.DB, error)) error {
	info, err := multisite.Activate(ctx, f.Origin, multisite.ActivateOptions{Name: "boston"})
	if err != nil {
		return err
	}
	f.OriginID = info.ID
	var pkt bytes.Buffer
	r, _, err := multisite.Replicate(ctx, f.Origin, "bangalore", &pkt, multisite.ReplicateOptions{})
	if err != nil {
		return err
	}
	f.ReplicaID = r.ID
	if f.Replica, err = openReplica(); err != nil {
		return err
	}
	_, err = multisite.CreateReplica(ctx, f.Replica, &pkt, multisite.CreateOptions{OriginKey: info.PublicKey})
	return err
}

// Close closes both databases (and drops them, for a family on a
// [Server]).
func (f *Family) Close() error {
	if f.close != nil {
		return f.close()
	}
	var err error
	for _, db := range []*sql.DB{f.Origin, f.Replica} {
		if db != nil {
			if e := db.Close(); e != nil && err == nil {
				err = e
			}
		}
	}
	return err
}

// Export writes the packet of everything target lacks from db and returns
// it with the time the export took (sealing included). It is
// RecoverPacket, the export of everything target has not acknowledged,
// so that exporting again (the uncompressed export, benchmark loops)
// carries the same rows: ExportPacket would send only what is newer
// than the packets before. sizeHint is the
// expected packet size: the buffer is allocated up front so that growing
// it is not timed as part of the export.
func Export(ctx context.Context, db *sql.DB, target replica.ID, sizeHint int) ([]byte, time.Duration, error) {
	var buf bytes.Buffer
	buf.Grow(sizeHint)
	pageIn(buf.AvailableBuffer()[:sizeHint])
	start := time.Now()
	if _, err := multisite.RecoverPacket(ctx, db, target, nil, &buf, multisite.ExportOptions{}); err != nil {
		return nil, 0, err
	}
	return buf.Bytes(), time.Since(start), nil
}

// ExportUncompressed is Export with the packet's zstd compression off.
func ExportUncompressed(ctx context.Context, db *sql.DB, target replica.ID, sizeHint int) ([]byte, time.Duration, error) {
	var buf bytes.Buffer
	buf.Grow(sizeHint)
	pageIn(buf.AvailableBuffer()[:sizeHint])
	start := time.Now()
	if _, err := multisite.RecoverPacket(ctx, db, target, nil, &buf, multisite.ExportOptions{Uncompressed: true}); err != nil {
		return nil, 0, err
	}
	return buf.Bytes(), time.Since(start), nil
}

// Import imports pkt into db and returns the time ImportPacket took. It
// checks that every row of the packet was inserted, so a benchmark cannot
// time an import that did nothing.
func Import(ctx context.Context, db *sql.DB, pkt []byte, want int) (time.Duration, error) {
	start := time.Now()
	rep, err := multisite.ImportPacket(ctx, db, bytes.NewReader(pkt), multisite.ImportOptions{})
	if err != nil {
		return 0, err
	}
	d := time.Since(start)
	if c := rep.Tables[Table]; c == nil || c.Inserted != want {
		return 0, fmt.Errorf("workload: import inserted %+v rows of %s, want %d", c, Table, want)
	}
	return d, nil
}

// Creation is the cost of bringing a new replica to life from db.
type Creation struct {
	Write, Create time.Duration // Replicate (packet to a file), CreateReplica (from it)
	Bytes         int64         // creation packet size
}

// Total is Write + Create.
func (c Creation) Total() time.Duration { return c.Write + c.Create }

// CreateReplica registers a replica called name at db, writes its creation
// packet to a file in dir and creates the replica from that file in a new
// database in dir, as two sites would.
func CreateReplica(ctx context.Context, db *sql.DB, name, dir string) (Creation, error) {
	var c Creation
	pktPath := filepath.Join(dir, name+".pkt")
	f, err := os.Create(pktPath)
	if err != nil {
		return c, err
	}
	start := time.Now()
	_, st, err := multisite.Replicate(ctx, db, name, f, multisite.ReplicateOptions{})
	if err == nil {
		err = f.Close()
	} else {
		f.Close()
	}
	if err != nil {
		return c, err
	}
	c.Write, c.Bytes = time.Since(start), st.Bytes
	ndb, err := Open(ctx, filepath.Join(dir, name+".db"))
	if err != nil {
		return c, err
	}
	defer ndb.Close()
	f, err = os.Open(pktPath)
	if err != nil {
		return c, err
	}
	defer f.Close()
	start = time.Now()
	if _, err := multisite.CreateReplica(ctx, ndb, f, multisite.CreateOptions{}); err != nil {
		return c, err
	}
	c.Create = time.Since(start)
	return c, os.Remove(pktPath)
}

// Large builds path as a replica holding rows 0..n-1 (inserted before
// activation, the fast way) and registers a replica "far" that is known to
// hold all of them, as if it had been created from that state. It returns
// the database and far's ID: exports to far then carry only what changes
// after this.
func Large(ctx context.Context, path string, n int) (*sql.DB, replica.ID, error) {
	db, err := OpenWithTable(ctx, path)
	if err != nil {
		return nil, "", err
	}
	if err := InsertGenerated(ctx, db, 0, n); err != nil {
		db.Close()
		return nil, "", err
	}
	if _, err := multisite.Activate(ctx, db, multisite.ActivateOptions{Name: "origin"}); err != nil {
		db.Close()
		return nil, "", err
	}
	far, _, err := multisite.Replicate(ctx, db, "far", io.Discard, multisite.ReplicateOptions{})
	if err != nil {
		db.Close()
		return nil, "", err
	}
	return db, far.ID, nil
}

// Touch updates changed rows spread evenly over keys 1..n (the same ones
// every call) in one transaction.
func Touch(ctx context.Context, db *sql.DB, n, changed int, round int) error {
	return touch(ctx, db, `UPDATE defect SET title = ?, updated = ? WHERE id = ?`, n, changed, round)
}

// touch is Touch with the UPDATE of a dialect: q takes the title, the
// time and the key.
func touch(ctx context.Context, db *sql.DB, q string, n, changed int, round int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, q)
	if err != nil {
		return err
	}
	step := max(1, n/changed)
	for k := 0; k < changed && k*step < n; k++ {
		id := int64(1 + k*step)
		if _, err := stmt.ExecContext(ctx, fmt.Sprintf("defect %d: edited in round %d", id, round), time.Now().UTC().Format(time.RFC3339Nano), id); err != nil {
			return err
		}
	}
	if err := stmt.Close(); err != nil {
		return err
	}
	return tx.Commit()
}

// Incremental changes the same changed rows of db rounds times and times
// each ExportPacket to target that follows (sealing included). Target
// never acknowledges, so every packet carries exactly those rows' newest
// images. n is the number of rows in db.
func Incremental(ctx context.Context, db *sql.DB, target replica.ID, n, changed, rounds int) ([]time.Duration, error) {
	return incremental(ctx, db, `UPDATE defect SET title = ?, updated = ? WHERE id = ?`, target, n, changed, rounds)
}

func incremental(ctx context.Context, db *sql.DB, touchSQL string, target replica.ID, n, changed, rounds int) ([]time.Duration, error) {
	var ds []time.Duration
	for r := range rounds {
		if err := touch(ctx, db, touchSQL, n, changed, r); err != nil {
			return nil, err
		}
		var cw countWriter
		start := time.Now()
		st, err := multisite.ExportPacket(ctx, db, target, &cw, multisite.ExportOptions{})
		if err != nil {
			return nil, err
		}
		ds = append(ds, time.Since(start))
		if want := min(changed, n); st.Rows != want {
			return nil, fmt.Errorf("workload: incremental export carried %d rows, want %d", st.Rows, want)
		}
	}
	return ds, nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// pageIn touches every page of b so the kernel's page faults are not
// timed either.
func pageIn(b []byte) {
	for i := 0; i < len(b); i += 4096 {
		b[i] = 0
	}
}

// PacketSizeHint is a generous guess at the size of a packet of rows rows
// of payload bytes, for [Export].
func PacketSizeHint(rows int, payload int64) int {
	return int(payload)*12/10 + rows*64 + 1<<16
}
