package engine

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"

	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/syncpkt"
)

// ErrNoNextPart reports ExportOptions.MaxSize without NextPart: the export
// has nowhere to write its second part.
var ErrNoNextPart = errors.New("multisite: MaxSize needs NextPart to write the parts after the first")

// partsReserve is what a part keeps free for its trailer and the ms.parts
// setting of a last part.
const partsReserve = syncpkt.MaxTrailerSize + 64

// packetOut writes an export's records as one packet or, with max > 0, as
// numbered parts of at most max bytes before compression, each a packet of
// its own (own header with Part, own trailer and signature). A part that
// continues a table's rows starts with that table's record again.
type packetOut struct {
	h    syncpkt.Header
	wopt syncpkt.WriterOptions
	max  int64
	next func(n int) (io.Writer, error)

	pw      *syncpkt.Writer
	cw      *countWriter
	records int // records in the current part
	table   *syncpkt.Table
	bytes   int64 // bytes of closed parts
}

func newPacketOut(w io.Writer, h syncpkt.Header, wopt syncpkt.WriterOptions, max int64, next func(int) (io.Writer, error)) (*packetOut, error) {
	o := &packetOut{h: h, wopt: wopt, max: max, next: next}
	if max > 0 {
		o.h.Part = 1
	}
	return o, o.open(w)
}

func (o *packetOut) open(w io.Writer) error {
	o.cw = &countWriter{w: w}
	pw, err := syncpkt.NewWriter(o.cw, o.h, o.wopt)
	if err != nil {
		return err
	}
	o.pw, o.records = pw, 0
	return nil
}

// Write adds rec, first closing the part and opening the next if rec does
// not fit. A part holds at least one record, so only a record larger than
// max on its own makes a part larger than max.
func (o *packetOut) Write(rec syncpkt.Record) error {
	if t, ok := rec.(*syncpkt.Table); ok {
		o.table = t
	}
	if o.max > 0 && o.records > 0 {
		n, err := o.pw.Size(rec)
		if err != nil {
			return err
		}
		if o.pw.N()+n+partsReserve > o.max {
			if err := o.cut(rec); err != nil {
				return err
			}
		}
	}
	o.records++
	return o.pw.Write(rec)
}

// cut closes the current part and opens the next; rec is the record that
// did not fit.
func (o *packetOut) cut(rec syncpkt.Record) error {
	if o.next == nil {
		return ErrNoNextPart
	}
	if err := o.close(); err != nil {
		return err
	}
	o.h.Part++
	w, err := o.next(int(o.h.Part))
	if err != nil {
		return fmt.Errorf("multisite: open part %d: %w", o.h.Part, err)
	}
	if err := o.open(w); err != nil {
		return err
	}
	if _, isTable := rec.(*syncpkt.Table); !isTable && o.table != nil {
		o.records++
		return o.pw.Write(o.table)
	}
	return nil
}

func (o *packetOut) close() error {
	if err := o.pw.Close(); err != nil {
		return err
	}
	o.bytes += o.cw.n
	return nil
}

// Close ends the packet; the last part of a split export says how many
// parts there are.
func (o *packetOut) Close() error {
	if o.max > 0 {
		if err := o.pw.Write(&syncpkt.Setting{Key: syncpkt.PartsSetting, Value: strconv.FormatUint(o.h.Part, 10)}); err != nil {
			return err
		}
	}
	return o.close()
}

// Parts is the number of parts written: 0 for a whole packet.
func (o *packetOut) Parts() int { return int(o.h.Part) }

// recordWriter is where an export writes its records: a [syncpkt.Writer]
// or a [packetOut] that splits them into parts.
type recordWriter interface {
	Write(syncpkt.Record) error
}

var (
	_ recordWriter = (*syncpkt.Writer)(nil)
	_ recordWriter = (*packetOut)(nil)
)

// importPart takes one part of a split export. It is verified alone
// (origin, family, target, signature), refused like a whole packet if it
// starts after what this replica holds, and held in ms_partdata; once every
// part has come, the parts are applied in order as one packet in one
// transaction, whatever order they came in.
func importPart(ctx context.Context, db *sql.DB, d dialect.Dialect, r io.Reader, h *syncpkt.Header, opt ImportOptions) (*ImportReport, error) {
	rep := &ImportReport{Tables: map[string]*TableCounts{}, Epochs: map[replica.ID][2]uint64{}, Kind: h.Kind.String(), Part: int(h.Part)}
	c, err := LoadCtl(ctx, db, d)
	if err != nil {
		return nil, err
	}
	reg, err := Registry(ctx, db)
	if err != nil {
		return nil, err
	}
	if err := checkBound(h, c, syncpkt.KindSync); err != nil {
		return nil, err
	}
	origin, ok := reg[replica.ID(h.Origin)]
	if !ok || origin.ID == c.Local {
		return nil, &replica.UnknownError{ID: replica.ID(h.Origin)}
	}
	if origin.State == replica.Removed {
		return nil, fmt.Errorf("%w: %s", replica.ErrRemoved, origin)
	}
	rep.Origin = origin.ID
	// The part is spooled to a file and verified from there, so a forged
	// or damaged part costs disk, not memory; only a verified part is read
	// in, to be held.
	src := r
	if opt.MaxPacketSize > 0 {
		src = io.LimitReader(r, opt.MaxPacketSize+1)
	}
	f, err := os.CreateTemp("", "multisite-part-*")
	if err != nil {
		return nil, fmt.Errorf("multisite: spool part %d: %w", h.Part, err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	size, err := io.Copy(f, src)
	if err != nil {
		return nil, fmt.Errorf("multisite: read part %d: %w", h.Part, err)
	}
	if opt.MaxPacketSize > 0 && size > opt.MaxPacketSize {
		return nil, fmt.Errorf("%w: part %d is larger than %d bytes", syncpkt.ErrTooLarge, h.Part, opt.MaxPacketSize)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	parts, err := verifyPart(f, origin.PublicKey, opt)
	if err != nil {
		return nil, err
	}
	rep.Bytes = size
	ours, err := LoadVector(ctx, db, d, c.Local)
	if err != nil {
		return nil, err
	}
	gapped := replica.Vector{}
	var gap error
	for _, o := range vectorOf(h.Base).Origins() {
		if have, b := ours[o], h.Base[string(o)]; b > have {
			gapped[o] = have
			if gap == nil {
				gap = &replica.GapError{Origin: o, Have: have, Base: b}
			}
		}
	}
	if gap != nil {
		if err := noteGap(ctx, db, d, h, gapped, true); err != nil { // the part is verified
			return nil, errors.Join(gap, err)
		}
		return nil, gap
	}
	rep.Duplicate = true
	for o, u := range h.Upto {
		if u > ours[replica.ID(o)] {
			rep.Duplicate = false
		}
	}
	if rep.Duplicate { // the whole export was applied already
		return rep, nil
	}
	created := h.Created.UnixNano()
	var have []int
	err = inTx(ctx, db, d, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, d.Rebind(`DELETE FROM ms_partdata WHERE origin = ? AND created = ? AND part = ?`), h.Origin, created, h.Part); err != nil {
			return err
		}
		if err := holdPart(ctx, tx, d, f, h, created, parts); err != nil {
			return fmt.Errorf("multisite: hold part %d: %w", h.Part, err)
		}
		have, parts, err = heldParts(ctx, tx, d, h.Origin, created)
		return err
	})
	if err != nil {
		return nil, err
	}
	rep.Parts, rep.Missing = parts, missingParts(have, parts)
	if parts == 0 || len(rep.Missing) > 0 {
		rep.Held = true
		return rep, nil
	}
	// Every part is here: apply them in order as one packet, each read
	// back piece by piece into a file of its own first.
	rs := make([]io.Reader, parts)
	for i := range rs {
		pf, err := spoolHeldPart(ctx, db, d, h.Origin, created, i+1)
		if err != nil {
			return nil, err
		}
		defer os.Remove(pf.Name())
		defer pf.Close()
		rs[i] = pf
	}
	whole, err := importStreams(ctx, db, d, rs, opt)
	var ge *replica.GapError
	if err != nil && !errors.As(err, &ge) {
		return nil, err // held: importing any part again tries again
	}
	// Applied, or refused for a gap (the sender resends from it): the
	// parts of this export, and of older ones from the origin, go.
	if _, derr := db.ExecContext(ctx, d.Rebind(`DELETE FROM ms_partdata WHERE origin = ? AND created <= ?`), h.Origin, created); derr != nil && err == nil {
		return nil, derr
	}
	if err != nil {
		return nil, err
	}
	whole.Part, whole.Parts = rep.Part, parts
	return whole, nil
}

// partPiece is the most bytes of a held part one row of ms_partdata holds.
const partPiece = 1 << 20

// holdPart stores the verified part in f (from its start) in ms_partdata,
// a piece at a time, so holding a part takes partPiece bytes of memory
// whatever its size.
func holdPart(ctx context.Context, tx *sql.Tx, d dialect.Dialect, f *os.File, h *syncpkt.Header, created int64, parts int) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	buf := make([]byte, partPiece)
	q := d.Rebind(`INSERT INTO ms_partdata (origin, created, part, seq, parts, data) VALUES (?, ?, ?, ?, ?, ?)`)
	for seq := 0; ; seq++ {
		n, err := io.ReadFull(f, buf)
		if n > 0 {
			if _, err := tx.ExecContext(ctx, q, h.Origin, created, h.Part, seq, parts, buf[:n]); err != nil {
				return err
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// spoolHeldPart writes held part of the export (origin, created) into a
// new temporary file, a piece at a time, and returns it positioned at its
// start; the caller removes it.
func spoolHeldPart(ctx context.Context, db *sql.DB, d dialect.Dialect, origin string, created int64, part int) (*os.File, error) {
	f, err := os.CreateTemp("", "multisite-held-*")
	if err != nil {
		return nil, fmt.Errorf("multisite: spool held part %d: %w", part, err)
	}
	fail := func(err error) (*os.File, error) {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("multisite: read held part %d: %w", part, err)
	}
	rows, err := db.QueryContext(ctx, d.Rebind(`SELECT data FROM ms_partdata WHERE origin = ? AND created = ? AND part = ? ORDER BY seq`), origin, created, part)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return fail(err)
		}
		if _, err := f.Write(b); err != nil {
			return fail(err)
		}
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fail(err)
	}
	return f, nil
}

// verifyPart reads a held part through, checking its signature, and
// returns the number of parts its ms.parts setting gives (0 if it is not
// the last part).
func verifyPart(r io.Reader, key ed25519.PublicKey, opt ImportOptions) (int, error) {
	pr := syncpkt.NewReader(r, readerOptions(syncpkt.StaticPublicKey(key), nil, opt))
	parts := 0
	for {
		rec, err := pr.Next()
		if err == io.EOF {
			return parts, nil
		}
		if err != nil {
			return 0, err
		}
		if s, ok := rec.(*syncpkt.Setting); ok && s.Key == syncpkt.PartsSetting {
			n, err := strconv.Atoi(s.Value)
			if err != nil || n < 1 {
				return 0, fmt.Errorf("%w: %s setting %q", ErrPacket, syncpkt.PartsSetting, s.Value)
			}
			parts = n
		}
	}
}

// heldParts returns the part numbers held of one export and its number
// of parts (0 while its last part has not come).
func heldParts(ctx context.Context, q dialect.Querier, d dialect.Dialect, origin string, created int64) ([]int, int, error) {
	rows, err := q.QueryContext(ctx, d.Rebind(`SELECT part, MAX(parts) FROM ms_partdata WHERE origin = ? AND created = ? GROUP BY part ORDER BY part`), origin, created)
	if err != nil {
		return nil, 0, fmt.Errorf("multisite: read held parts: %w", err)
	}
	defer rows.Close()
	var have []int
	total := 0
	for rows.Next() {
		var p, n int
		if err := rows.Scan(&p, &n); err != nil {
			return nil, 0, err
		}
		have = append(have, p)
		total = max(total, n)
	}
	return have, total, rows.Err()
}

// missingParts lists the parts not in have: of 1…parts, or while parts is
// unknown (0), those below the highest held.
func missingParts(have []int, parts int) []int {
	top := parts
	for _, p := range have {
		top = max(top, p)
	}
	held := map[int]bool{}
	for _, p := range have {
		held[p] = true
	}
	var miss []int
	for p := 1; p <= top; p++ {
		if !held[p] {
			miss = append(miss, p)
		}
	}
	return miss
}

// nextPart checks that part n of a split export belongs with the first:
// the same header but for Part.
func (m *importer) nextPart(pr *syncpkt.Reader, n int) error {
	h, err := pr.Header()
	if err != nil {
		return err
	}
	a, b := *m.h, *h
	a.Part, b.Part = 0, 0
	if h.Part != uint64(n) || !reflect.DeepEqual(a, b) {
		return fmt.Errorf("%w: part %d does not belong with part 1 of the export", ErrPacket, n)
	}
	return nil
}
