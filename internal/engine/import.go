package engine

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/multisite-go/multisite/codepage"
	"github.com/multisite-go/multisite/hooks"
	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/schema"
	"github.com/multisite-go/multisite/syncpkt"
)

// ImportOptions controls Import. The zero value imports with no packet size
// limit, the reader's default record limits, and logs nothing.
type ImportOptions struct {
	Logger        *slog.Logger // nil means silent
	MaxPacketSize int64        // 0 means no limit
	MaxRowSize    int64        // largest record in bytes; 0 means syncpkt.DefaultMaxFrame
	// MaxRecords and MaxMeta bound the records other than rows and
	// transfers, in number and in bytes (syncpkt.ReaderOptions); 0 means
	// the reader's default, negative no limit.
	MaxRecords, MaxMeta int64
	Hooks               *hooks.Hooks // AfterImportChange, AfterImportPacket, OnCollision, OnRequest; nil runs none
	// Progress, if set, is told the packet bytes read so far and the
	// packet's size (0 unless the reader is a regular file or has Len),
	// about every 256 KiB and at the end.
	Progress func(read, size int64)
	// OnProgress, if set, is told the rows applied and the bytes of the
	// uncompressed stream decoded (see ImportProgress), on the goroutine
	// that applies the packet, then once more when the commit begins.
	OnProgress func(ImportProgress)
}

// Phases of an import or a creation, in ImportProgress.Phase.
const (
	PhaseRead   = "read"   // the packet is read, decoded and applied
	PhaseCommit = "commit" // the packet is read; what is left is final checks and the commit
)

// ImportProgress is how far an import or a creation has come. Counts are
// for the whole import: every part of a split export.
type ImportProgress struct {
	Phase       string // PhaseRead, then PhaseCommit once
	PacketBytes int64  // bytes of the packet read
	PacketSize  int64  // the packet's size, if the reader tells it, else 0
	Bytes       int64  // bytes of the uncompressed stream decoded
	Rows        int    // row images applied
}

// progress tells opt's OnProgress how far an import has come.
type progress struct {
	fn   func(ImportProgress)
	p    ImportProgress
	base ImportProgress // the parts already read
	told int64          // p.Bytes when fn was last told
}

// startStream begins counting a packet (or a part) read through cr.
func (g *progress) startStream(cr *countReader) {
	if g == nil {
		return
	}
	g.base = g.p
	g.p.PacketSize = g.base.PacketSize + cr.size
}

// applied counts a record applied; pf tells how far the packet was read.
func (g *progress) applied(rec syncpkt.Record, pf *prefetch) {
	if g == nil || g.fn == nil {
		return
	}
	if _, ok := rec.(*syncpkt.Row); ok {
		g.p.Rows++
	}
	g.p.PacketBytes = g.base.PacketBytes + pf.read
	g.p.Bytes = g.base.Bytes + pf.decoded
	if g.p.Bytes-g.told >= progressEvery {
		g.tell()
	}
}

// endStream reports a packet read to its end, cr counting its bytes.
func (g *progress) endStream(cr *countReader, pf *prefetch) {
	if g == nil || g.fn == nil {
		return
	}
	g.p.PacketBytes = g.base.PacketBytes + cr.n
	g.p.Bytes = g.base.Bytes + pf.pr.N()
	g.tell()
}

// commit reports the commit phase.
func (g *progress) commit() {
	if g == nil || g.fn == nil {
		return
	}
	g.p.Phase = PhaseCommit
	g.fn(g.p)
}

func (g *progress) tell() {
	g.told = g.p.Bytes
	g.p.Phase = PhaseRead
	g.fn(g.p)
}

// TableCounts counts what an import did to one table.
type TableCounts struct {
	Inserted, Updated, Deleted int
	Unchanged                  int // images not newer than what was held
}

// Conflict is a creation conflict: two replicas created a row with the same
// key independently. The winner's record stays in the table; the loser's is
// kept in ms_conflict.
type Conflict struct {
	Table   string
	Key     string
	Winner  replica.ID // creator whose record stays in the table
	Loser   replica.ID // creator whose record was moved to ms_conflict
	Version uint64
}

// ImportReport describes an imported packet.
type ImportReport struct {
	Origin    replica.ID
	Kind      string
	Epochs    map[replica.ID][2]uint64 // per origin: (first, last] epochs the packet covers
	Tables    map[string]*TableCounts
	Transfers int
	Conflicts []Conflict
	Duplicate bool // the packet brought no epoch, registry entry, migration or code page change this replica did not have
	// RefusedKeys lists replicas whose registry entries no rule could
	// check here; they were left out (registry_auth.go).
	RefusedKeys []replica.ID
	// Part is the part number of a part of a split export (0 for a whole
	// packet); Parts the number of parts, once the last has come. Held
	// says the part is kept until the parts in Missing come too (a part
	// number above every one held is missing too while Parts is 0);
	// then the export applies as one packet.
	Part, Parts int
	Held        bool
	Missing     []int
	// Restored is set when this import completed a restore from backup:
	// every member has sent what the replica lost, and it is active again.
	Restored bool
	// CodePage is set when the packet changed the family's data code page.
	CodePage string
	// Migrated lists the application migrations (by version) the packet
	// brought and this import applied before its rows.
	Migrated []int64
	Bytes    int64

	// Collisions lists the unique-key collisions (not the primary key)
	// this import settled by renaming a record (see collision.go).
	Collisions []Collision
}

// batchRows is how many rows go into one multi-row INSERT; mergeRows is how
// many staged rows are merged at once (bounds the staging table).
const mergeRows = 8192

// stageBatch is how many rows one INSERT into a staging table carries, at
// most (fewer where the dialect's placeholder limit says so).
const stageBatch = 500

// Import applies a sync packet in one transaction: every check passes and
// the whole packet applies, or nothing does. An acknowledgement packet
// (syncpkt.KindAck) records what its origin holds and the gaps it found;
// a part of a split export is held until every part has come (parts.go).
func Import(ctx context.Context, db *sql.DB, d dialect.Dialect, r io.Reader, opt ImportOptions) (*ImportReport, error) {
	if _, err := LoadCtl(ctx, db, d); err != nil {
		return nil, err
	}
	if err := ensureLateMeta(ctx, db, d); err != nil { // request and collision tables (request.go)
		return nil, err
	}
	// A look at the header first: a part is held, not applied.
	size := newCountReader(r, func(int64, int64) {}).size
	var head bytes.Buffer
	h, herr := syncpkt.NewReader(io.TeeReader(r, &head), readerOptions(nil, nil, opt)).Header()
	r = &replayReader{Reader: io.MultiReader(&head, r), size: size}
	if herr == nil && h.Part > 0 {
		return importPart(ctx, db, d, r, h, opt)
	}
	return importStreams(ctx, db, d, []io.Reader{r}, opt)
}

// replayReader is a packet whose first bytes were read to look at its
// header; Len gives the packet's size, if known, to progress reports.
type replayReader struct {
	io.Reader
	size int64
}

// Len returns the size of the packet, or 0 if unknown.
func (r *replayReader) Len() int { return int(r.size) }

// importStreams applies the packets in rs, in order, as one packet in one
// transaction: one whole packet, or every part of a split export.
func importStreams(ctx context.Context, db *sql.DB, d dialect.Dialect, rs []io.Reader, opt ImportOptions) (*ImportReport, error) {
	rep := &ImportReport{Tables: map[string]*TableCounts{}, Epochs: map[replica.ID][2]uint64{}, Kind: syncpkt.KindSync.String()}
	first, migrated, done, err := prepareImport(ctx, db, d, rs[0], opt) // MySQL: migrations before the transaction (migrate.go)
	if err != nil {
		return nil, err
	}
	defer done()
	rs = append([]io.Reader{first}, rs[1:]...)
	rep.Migrated = migrated
	var imp *importer
	err = importTx(ctx, db, d, func(tx *sql.Tx) error {
		// The first statement writes, so the transaction holds the write
		// lock from the start and no local write interleaves.
		if _, err := tx.ExecContext(ctx, d.SetApplying(true)); err != nil {
			return fmt.Errorf("multisite: begin import: %w", err)
		}
		defer clearApplying(ctx, tx, d) // on every path out, failures included
		if _, err := tx.ExecContext(ctx, d.DeferForeignKeys()); err != nil {
			return err
		}
		imp, err = newImporter(ctx, tx, d, rep)
		if err != nil {
			return err
		}
		imp.hooks = newHookRunner(tx, d, imp.ctl, opt.Hooks, true)
		imp.progress = &progress{fn: opt.OnProgress}
		for i, r := range rs {
			if err := imp.stream(r, i+1, opt); err != nil {
				return err
			}
		}
		imp.progress.commit()
		if imp.h.Kind == syncpkt.KindSync {
			if err := imp.checkClaims(); err != nil { // authority.go: a packet without tables, before any request is acted on
				return err
			}
		}
		if err := imp.flush(); err != nil {
			return err
		}
		if imp.h.Kind == syncpkt.KindAck {
			return imp.finishAck()
		}
		if err := imp.actOnRequests(); err != nil { // mastership requests addressed here (request.go)
			return err
		}
		if err := imp.checkCodePage(); err != nil {
			return err
		}
		if err := imp.finish(); err != nil {
			return err
		}
		if err := imp.importHooksPacket(); err != nil {
			return err
		}
		if err := checkForeignKeys(ctx, tx, d, rep); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, d.SetApplying(false))
		return err
	})
	if err != nil {
		if imp != nil && imp.proven && imp.h.Kind == syncpkt.KindSync && !forged(err) {
			// The origin's own packet, refused: for a gap or for any other
			// reason (a schema version behind, a hook's veto). Noted, so
			// this replica's next packet or acknowledgement tells the
			// origin to send it again.
			if gerr := noteGap(ctx, db, d, imp.h, imp.refused(), imp.gapped != nil); gerr != nil {
				return nil, errors.Join(err, gerr)
			}
		}
		return nil, err
	}
	if len(rep.Migrated) > 0 || rep.CodePage != "" {
		rep.Duplicate = false // a migration or a code page change is news too
	}
	if opt.Logger != nil {
		opt.Logger.InfoContext(ctx, "multisite: imported packet", "origin", rep.Origin, "kind", rep.Kind, "duplicate", rep.Duplicate, "conflicts", len(rep.Conflicts))
	}
	return rep, nil
}

// stream reads one packet (part n of a split export if split) and applies
// its records.
func (m *importer) stream(r io.Reader, n int, opt ImportOptions) error {
	cr := newCountReader(r, opt.Progress)
	m.progress.startStream(cr)
	m.seen, m.seenSettings = nil, nil // every part starts its tables again
	// The reader looks the origin's key up in the local registry when the
	// first record is asked for, after header() has checked family, target
	// and origin (so those get their own errors), and returns a record only
	// once the chunk it came in has verified: nothing of the packet is
	// written, and no hook runs, before the bytes are authenticated.
	pf := newPrefetch(cr, readerOptions(m.publicKey, m.successor, opt))
	// Every row image's and transfer's proof is checked before it is
	// applied (proofcheck.go), against the registry as built so far.
	pf.proofs = newProofCheck(m.ctl.Family, m.proofKeys) // registry_auth.go
	if n == 1 {
		if err := m.header(pf.pr); err != nil {
			if m.gapped != nil {
				// Refused for a gap; read on to the signature, so the gap
				// and what the packet says of its origin may be noted.
				pf.start()
				defer pf.stop()
				m.proven = damaged(pf, err) == err
			}
			return err
		}
	} else if err := m.nextPart(pf.pr, n); err != nil {
		return err
	}
	pf.start()
	defer pf.stop()
	for {
		rec, err := pf.Next()
		if err == io.EOF {
			if err := m.signerHeld(pf.pr.Key()); err != nil {
				return err
			}
			m.proven = true
			break
		}
		if err != nil {
			if _, ok := m.reg[replica.ID(m.h.Origin)]; !ok && errors.Is(err, syncpkt.ErrSignature) {
				// No key: an origin never heard of, and the packet proves
				// no creation entry of it (successor).
				return fmt.Errorf("%w (%w)", &replica.UnknownError{ID: replica.ID(m.h.Origin)}, err)
			}
			return err
		}
		err = pf.bad // a proof that does not hold
		if err == nil {
			err = m.record(rec)
		}
		if err != nil {
			derr := damaged(pf, err)
			m.proven = derr == err
			return derr
		}
		m.progress.applied(rec, pf)
	}
	m.rep.Bytes += cr.n
	cr.done()
	m.progress.endStream(cr, pf)
	return nil
}

type importer struct {
	// exact holds the current table's columns as this replica's catalog
	// declares them, where values need checking against them
	// (dialect.Exact); nil where none do.
	exact []dialect.Column

	ctx    context.Context
	tx     *sql.Tx
	d      dialect.Dialect
	rep    *ImportReport
	ctl    *Ctl
	reg    map[replica.ID]replica.Info
	tables map[string]dialect.Table
	h      *syncpkt.Header
	ours   replica.Vector
	cp     *codepage.CodePage // the family's data code page

	narrow map[string][]string // per table: columns that cannot store all of cp (see checkText)

	hooks    *hookRunner // nil without hooks
	progress *progress   // never nil in an import's transaction

	unproven []*syncpkt.Replica // registry entries not yet checkable (registry_auth.go)

	gapped replica.Vector // per origin, what this replica holds where the packet starts later
	proven bool           // the packet was read to its trailer: its origin's signature holds

	cpChecked bool // the header's code page was compared with ours
	caughtUp  bool // a restoring replica got everything from this origin
	pruned    map[replica.ID]uint64
	late      lateState         // mastership requests and unique-key collisions (request.go, collision.go)
	suspects  []suspectTransfer // proven transfers from a replica that did not master the row (proof.go)
	auth      authState         // sealed statements and the epoch claims they bound (authority.go)

	cur     *dialect.Table // local table the current rows belong to
	order   []int          // packet column i -> local column order[i]
	staged  int
	pending [][]any // rows waiting for one multi-row INSERT
	// pendingBytes counts their text and blob bytes.
	pendingBytes int
	// seen holds the tables this stream (one packet, or one part) has
	// started: a table comes once per packet, so a repeated Table record
	// is refused rather than costing the catalog work again.
	seen map[string]bool
	// seenSettings holds a hash of each setting, and of each mastership
	// request's ID, this stream carried (see once).
	seenSettings map[uint64]struct{}
	seed         maphash.Seed
	fast         fastState // rows new to the replica skip the stage (fastpath.go)
	stmts        stmtCache
}

func newImporter(ctx context.Context, tx *sql.Tx, d dialect.Dialect, rep *ImportReport) (*importer, error) {
	c, err := LoadCtl(ctx, tx, d)
	if err != nil {
		return nil, err
	}
	reg, err := Registry(ctx, tx)
	if err != nil {
		return nil, err
	}
	ts, err := Tables(ctx, tx)
	if err != nil {
		return nil, err
	}
	tables := map[string]dialect.Table{}
	for _, t := range ts {
		tables[t.Name] = t
	}
	ours, err := LoadVector(ctx, tx, d, c.Local)
	if err != nil {
		return nil, err
	}
	cp, err := codepage.Lookup(c.CodePage)
	if err != nil {
		return nil, fmt.Errorf("multisite: the family's code page: %w", err)
	}
	pruned, err := LoadVector(ctx, tx, d, prunedHolder)
	if err != nil {
		return nil, err
	}
	return &importer{stmts: stmtCache{tx: tx}, ctx: ctx, tx: tx, d: d, rep: rep, ctl: c, reg: reg, tables: tables, ours: ours, cp: cp, pruned: pruned}, nil
}

// readerOptions are the options of a packet reader for an import: the
// key lookup, what may vouch for another key the first chunk brings
// (succ; nil means only a rotation the held key endorses, endorsedKey),
// and the import's limits.
func readerOptions(key func(*syncpkt.Header) (ed25519.PublicKey, error), succ func(ed25519.PublicKey, []syncpkt.Record) ed25519.PublicKey, opt ImportOptions) syncpkt.ReaderOptions {
	if succ == nil {
		succ = endorsedKey
	}
	return syncpkt.ReaderOptions{PublicKey: key, Successor: succ, MaxPacket: opt.MaxPacketSize, MaxFrame: opt.MaxRowSize,
		MaxRecords: opt.MaxRecords, MaxMeta: opt.MaxMeta}
}

// endorsedKey is the key of the first registry entry for a packet's
// origin in its first chunk, if the key the receiver holds endorses it (a
// rotation the packet carries, see KeyEndorsed): a packet its origin
// signed after rotating its key verifies at a replica that has not yet
// seen the rotation. Without a key held, nothing is endorsed.
func endorsedKey(cur ed25519.PublicKey, first []syncpkt.Record) ed25519.PublicKey {
	for _, rec := range first {
		if e, ok := rec.(*syncpkt.Replica); ok && cur != nil && KeyEndorsed(cur, infoOf(e)) {
			return ed25519.PublicKey(e.PublicKey)
		}
	}
	return nil
}

// publicKey is the key the origin must have signed with: the one in the
// local registry at the packet's date (registry_auth.go); nil, for an
// origin this replica holds no key of, lets the first chunk prove one
// (successor).
func (m *importer) publicKey(h *syncpkt.Header) (ed25519.PublicKey, error) {
	k, err := m.originKey(h)
	if err != nil && errors.Is(err, replica.ErrUnknown) {
		return nil, nil
	}
	return k, err
}

// successor is what may vouch, in a packet's first chunk, for a key of
// its origin other than the one this replica holds (see
// syncpkt.ReaderOptions.Successor); it runs before anything of the packet
// is applied, and what it vouches for must still be what the registry
// holds once the packet is applied (signerHeld). It vouches for:
//   - a key rotation the held key endorses;
//   - the key of an origin never heard of, whose creation entry its
//     creator signed, the creator a member known here or itself proven by
//     an earlier link of the same chunk (then its updates, signed by the
//     key so proven);
//   - the key an invited replica enrols with at its creator (this
//     replica), if the enrolment proves the invitation's secret.
func (m *importer) successor(cur ed25519.PublicKey, first []syncpkt.Record) ed25519.PublicKey {
	origin := replica.ID(m.h.Origin)
	if k := endorsedKey(cur, originEntries(first, origin)); k != nil {
		return k
	}
	if i, ok := m.reg[origin]; ok {
		if len(i.PublicKey) != 0 {
			return nil
		}
		for _, rec := range first {
			if s, ok := rec.(*syncpkt.Setting); ok && s.Key == settingEnrol {
				k, err := enrolledKey(m.ctx, m.tx, m.ctl, i, s)
				if err != nil {
					return nil
				}
				return k
			}
		}
		return nil
	}
	known := map[string]ed25519.PublicKey{}
	for id, i := range m.reg {
		if i.State != replica.Removed && len(i.PublicKey) == ed25519.PublicKeySize {
			known[string(id)] = i.PublicKey
		}
	}
	learned := map[string]bool{}
	for pass := 0; pass < 8; pass++ {
		changed := false
		for _, rec := range first {
			e, ok := rec.(*syncpkt.Replica)
			if !ok {
				continue
			}
			switch k, held := known[e.ID]; {
			case !held && e.Signer != e.ID && entryProven(m.ctl.Family, e, known[e.Signer]):
				known[e.ID], learned[e.ID], changed = ed25519.PublicKey(e.PublicKey), true, true
			case held && learned[e.ID] && e.Signer == e.ID && !bytes.Equal(k, e.PublicKey) &&
				KeyEndorsed(k, infoOf(e)) && entryProven(m.ctl.Family, e, e.PublicKey):
				known[e.ID], changed = ed25519.PublicKey(e.PublicKey), true
			}
		}
		if !changed {
			break
		}
	}
	if learned[string(origin)] {
		return known[string(origin)]
	}
	return nil
}

// originEntries are the registry entries of first that describe origin.
func originEntries(first []syncpkt.Record, origin replica.ID) []syncpkt.Record {
	var out []syncpkt.Record
	for _, rec := range first {
		if e, ok := rec.(*syncpkt.Replica); ok && replica.ID(e.ID) == origin {
			out = append(out, e)
		}
	}
	return out
}

// signerHeld checks, once a packet has been read and applied, that the
// key its chunks verified with is the one the registry, as the packet
// left it, holds for its origin at the packet's date: a key the first
// chunk vouched for (successor) counts only if the registry's rules took
// the entry that brings it. It also notes the entries no rule could
// check.
func (m *importer) signerHeld(key ed25519.PublicKey) error {
	m.unprovenLeft()
	want, err := m.originKey(m.h)
	if err != nil {
		return err
	}
	if !bytes.Equal(want, key) {
		return fmt.Errorf("%w: the packet from %s is signed by a key its registry entry does not hold at the packet's date", ErrRegistryProof, m.h.Origin)
	}
	return nil
}

func (m *importer) header(pr *syncpkt.Reader) error {
	h, err := pr.Header()
	if err != nil {
		return err
	}
	m.h = h
	c := m.ctl
	if err := checkBound(h, c, syncpkt.KindSync, syncpkt.KindAck); err != nil {
		return err
	}
	origin, ok := m.reg[replica.ID(h.Origin)]
	if replica.ID(h.Origin) == c.Local {
		return &replica.UnknownError{ID: replica.ID(h.Origin)}
	}
	// An origin never heard of is known by the trailer if the packet
	// carries its creation entry, signed by its creator (registry_auth.go);
	// its signature is checked against that key, or the packet is refused
	// with replica.ErrUnknown.
	if ok && origin.State == replica.Removed {
		return fmt.Errorf("%w: %s", replica.ErrRemoved, origin)
	}
	m.rep.Kind = h.Kind.String()
	m.rep.Origin = replica.ID(h.Origin)
	if err := checkEpochRange(h); err != nil { // authority.go
		return err
	}
	if h.Kind == syncpkt.KindAck {
		return nil
	}
	// A packet that starts after what this replica holds is refused whole
	// (import is atomic), and the gap is noted for the sender (sent.go):
	// it resends from what this replica holds, the refused epochs with
	// the lost ones.
	base := vectorOf(h.Base)
	if err := replica.CheckGap(m.ours, base); err != nil {
		m.gapped = replica.Vector{}
		for o, b := range base {
			if have := m.ours[o]; b > have {
				m.gapped[o] = have
			}
		}
		return err
	}
	m.rep.Epochs = replica.Brings(m.ours, base, vectorOf(h.Upto))
	m.rep.Duplicate = len(m.rep.Epochs) == 0
	return nil
}

// vectorOf converts a packet's vector to a replica.Vector.
func vectorOf(m map[string]uint64) replica.Vector {
	v := make(replica.Vector, len(m))
	for o, e := range m {
		v[replica.ID(o)] = e
	}
	return v
}

// checkCodePage refuses a packet made under another code page than the one
// this replica has, once any code page change the packet carries is taken.
func (m *importer) checkCodePage() error {
	if m.cpChecked {
		return nil
	}
	m.cpChecked = true
	if err := m.checkSchema(); err != nil { // migrate.go: after the packet's migrations
		return err
	}
	if m.h.CodePage != m.ctl.CodePage {
		return &MismatchError{Field: "code page", Want: m.ctl.CodePage, Got: m.h.CodePage, Err: ErrCodePage}
	}
	return nil
}

// setting takes a family setting from the packet if it is newer.
func (m *importer) setting(s *syncpkt.Setting) error {
	// A packet carries each setting once, and each mastership request once
	// (its current state): a repeat is refused before it costs the
	// database anything, so a small packet of many copies cannot make an
	// import work for seconds.
	if m.once(s.Key, s.Value) {
		return fmt.Errorf("%w: setting %s comes twice in one packet", ErrPacket, s.Key)
	}
	if ok, err := m.schemaSetting(s); ok { // migrate.go
		return err
	}
	if s.Key == settingEnrol {
		return m.enrol(s) // registry_auth.go
	}
	if s.Key == settingRequest || s.Key == settingResponse {
		r, _, err := parseRequestSetting(s)
		if err != nil {
			return err
		}
		if m.once("request", string(r.ID)) {
			return fmt.Errorf("%w: mastership request %s comes twice in one packet", ErrPacket, r.ID)
		}
		return m.requestSetting(s) // request.go
	}
	if s.Key != settingCodePage {
		return nil // settings of a newer library are not ours to apply
	}
	ver, cp, err := parseCodePageSetting(s.Value)
	if err != nil {
		return err
	}
	if ver < m.ctl.CodePageVer || (ver == m.ctl.CodePageVer && (s.Signer == "" || cp.Name() != m.ctl.CodePage)) {
		return nil
	}
	if err := m.codePageProof(s, ver); err != nil { // authority: the schema master's proof
		return err
	}
	if ver == m.ctl.CodePageVer {
		return nil
	}
	if _, err := checkLocalCharset(m.ctx, m.tx, m.d, cp); err != nil {
		return fmt.Errorf("multisite: the family changed its code page to %s but this replica's data does not fit it; clean it, then import again: %w", cp.Name(), err)
	}
	if _, err := m.tx.ExecContext(m.ctx, m.d.Rebind(`UPDATE ms_ctl SET code_page = ?, code_page_version = ?`), cp.Name(), ver); err != nil {
		return err
	}
	if err := setCharset(m.ctx, m.tx, m.d, cp); err != nil {
		return err
	}
	m.narrow = nil
	m.ctl.CodePage, m.ctl.CodePageVer, m.cp = cp.Name(), ver, cp
	m.rep.CodePage = cp.Name()
	return nil
}

func (m *importer) record(rec syncpkt.Record) error {
	if m.h.Kind == syncpkt.KindAck {
		if r, ok := rec.(*syncpkt.Replica); ok {
			return m.mergeReplica(r)
		}
		if s, ok := rec.(*syncpkt.Setting); ok && s.Key == settingEnrol {
			return m.enrol(s) // registry_auth.go
		}
		return fmt.Errorf("%w: %T record in an acknowledgement", ErrPacket, rec)
	}
	if s, ok := rec.(*syncpkt.Setting); ok {
		return m.setting(s)
	}
	if err := m.checkCodePage(); err != nil {
		return err
	}
	switch r := rec.(type) {
	case *syncpkt.Replica:
		return m.mergeReplica(r)
	case *syncpkt.Sealed:
		return m.sealed(r) // authority.go
	}
	if err := m.checkClaims(); err != nil { // authority.go: before the first table
		return err
	}
	switch r := rec.(type) {
	case *syncpkt.Table:
		if m.seen[r.Name] {
			return fmt.Errorf("%w: table %s comes twice in one packet", ErrPacket, r.Name)
		}
		if m.seen == nil {
			m.seen = map[string]bool{}
		}
		m.seen[r.Name] = true
		if err := m.flush(); err != nil {
			return err
		}
		return m.startTable(r)
	case *syncpkt.Transfer:
		return m.transfer(r)
	case *syncpkt.Row:
		return m.row(r)
	default:
		return fmt.Errorf("%w: %T record in a sync packet", ErrPacket, rec)
	}
}

// startTable matches the packet's table and columns against the local
// catalog; only local names are used in SQL from here on.
func (m *importer) startTable(pt *syncpkt.Table) error {
	t, ok := m.tables[pt.Name]
	if !ok {
		return &schema.UnknownTableError{Table: pt.Name}
	}
	if len(pt.Columns) != len(t.Columns) {
		return fmt.Errorf("%w: packet has %d columns for %s, this replica %d", ErrSchemaVersion, len(pt.Columns), t.Name, len(t.Columns))
	}
	m.order = make([]int, len(pt.Columns))
	seen := map[int]bool{}
	for i, pc := range pt.Columns {
		j := -1
		for k, lc := range t.Columns {
			if lc.Name == pc.Name {
				j = k
			}
		}
		if j < 0 || seen[j] {
			return &schema.UnknownTableError{Table: t.Name, Column: pc.Name}
		}
		if (pc.Key > 0) != (t.Columns[j].Key > 0) {
			return fmt.Errorf("%w: primary key of %s differs", ErrSchemaVersion, t.Name)
		}
		seen[j] = true
		m.order[i] = j
	}
	m.cur = &t
	if err := m.exactColumns(t); err != nil {
		return err
	}
	if err := m.startFast(); err != nil {
		return err
	}
	for _, s := range m.d.Stage(t) {
		if _, err := m.tx.ExecContext(m.ctx, s); err != nil {
			return fmt.Errorf("multisite: stage %s: %w", t.Name, err)
		}
	}
	if m.rep.Tables[t.Name] == nil {
		m.rep.Tables[t.Name] = &TableCounts{}
	}
	return nil
}

func (m *importer) known(ids ...string) error {
	for _, id := range ids {
		if _, ok := m.reg[replica.ID(id)]; !ok {
			return &replica.UnknownError{ID: replica.ID(id)}
		}
	}
	return nil
}

func (m *importer) transfer(x *syncpkt.Transfer) error {
	t, ok := m.tables[x.Table]
	if !ok {
		return &schema.UnknownTableError{Table: x.Table}
	}
	if err := m.known(x.From, x.To); err != nil {
		return err
	}
	if len(x.Key) != len(t.Keys()) {
		return fmt.Errorf("%w: transfer of %s has %d key values, want %d", ErrPacket, t.Name, len(x.Key), len(t.Keys()))
	}
	if skip, err := m.checkTransfer(t, x); err != nil || skip { // proof.go
		return err
	}
	if err := logTransfer(m.ctx, m.tx, m.d, t, x); err != nil {
		return err
	}
	m.rep.Transfers++
	return nil
}

// logTransfer records a packet's transfer in t's transfer log, unless the
// log has it already.
func logTransfer(ctx context.Context, tx *sql.Tx, d dialect.Dialect, t dialect.Table, x *syncpkt.Transfer) error {
	keys := t.Keys()
	if len(x.Key) != len(keys) {
		return fmt.Errorf("%w: transfer of %s has %d key values, want %d", ErrPacket, t.Name, len(x.Key), len(keys))
	}
	cols := make([]string, 0, len(keys)+4)
	args := make([]any, 0, len(keys)+4)
	for i, k := range keys {
		cols = append(cols, k.Name)
		args = append(args, d.Arg(k, x.Key[i].Any()))
	}
	cols = append(cols, "ms_version", "ms_from", "ms_to", "ms_epoch", "ms_proof")
	args = append(args, x.Version, x.From, x.To, x.Epoch, proofArg(x.Proof))
	if _, err := tx.ExecContext(ctx, d.Rebind(d.InsertIgnore(dialect.Xfer(d, t.Name), cols, 1)), args...); err != nil {
		return fmt.Errorf("multisite: log transfer of %s: %w", t.Name, err)
	}
	return nil
}

func (m *importer) row(r *syncpkt.Row) error {
	if m.cur == nil {
		return fmt.Errorf("%w: row before any table", ErrPacket)
	}
	t := m.cur
	if len(r.Values) != len(t.Columns) {
		return fmt.Errorf("%w: row of %s has %d values, want %d", ErrPacket, t.Name, len(r.Values), len(t.Columns))
	}
	if r.Version == 0 || r.Epoch == 0 {
		return fmt.Errorf("%w: row of %s has version %d, epoch %d", ErrPacket, t.Name, r.Version, r.Epoch)
	}
	if err := m.known(r.Master, r.Origin, r.Creator); err != nil {
		return err
	}
	vals := make([]any, len(t.Columns)+7)
	for i, v := range r.Values {
		j := m.order[i]
		if t.Columns[j].Key > 0 && v.Kind == syncpkt.ValueNull {
			return fmt.Errorf("%w: row of %s has a NULL key", ErrPacket, t.Name)
		}
		if r.Deleted && t.Columns[j].Key == 0 {
			continue // a tombstone carries its key only
		}
		if v.Kind == syncpkt.ValueText {
			if err := m.checkText(t, j, r.Values, v.Text); err != nil {
				return err
			}
		}
		if m.exact != nil {
			if err := dialect.Exact(m.d, t.Name, m.exact[j], v.Any()); err != nil {
				return fmt.Errorf("multisite: import: %w", err)
			}
		}
		vals[j] = m.d.Arg(t.Columns[j], v.Any())
	}
	n := len(t.Columns)
	vals[n], vals[n+1], vals[n+2], vals[n+3], vals[n+4] = r.Master, r.Version, r.Origin, r.Creator, r.Epoch
	if r.Deleted {
		vals[n+5] = 1
	} else {
		vals[n+5] = 0
	}
	// Checked against the origin's key before this record came here
	// (proofcheck.go); stored so that this replica can forward the image.
	vals[n+6] = proofArg(r.Proof)
	m.pending = append(m.pending, vals)
	for _, v := range r.Values {
		m.pendingBytes += len(v.Text) + len(v.Blob)
	}
	if (len(m.pending)+1)*len(vals) > m.d.MaxParams() || len(m.pending) >= stageBatch || m.pendingBytes >= pendingBytes {
		m.pendingBytes = 0
		return m.route() // fastpath.go
	}
	return nil
}

// once reports whether the pair (a, b) came before in this stream, and
// notes it. It keeps 8 bytes per pair (a hash: a collision, one in 2^64,
// refuses a good packet, which its sender can send again).
func (m *importer) once(a, b string) bool {
	if m.seenSettings == nil {
		m.seenSettings = map[uint64]struct{}{}
		m.seed = maphash.MakeSeed()
	}
	var h maphash.Hash
	h.SetSeed(m.seed)
	h.WriteString(a)
	h.WriteByte(0)
	h.WriteString(b)
	k := h.Sum64()
	if _, ok := m.seenSettings[k]; ok {
		return true
	}
	m.seenSettings[k] = struct{}{}
	return false
}

// pendingBytes bounds the text and blob bytes of the rows held for one
// multi-row INSERT, so large rows are written a few at a time and memory
// stays bounded whatever their size.
const pendingBytes = 1 << 20

func stageCols(t *dialect.Table) []string {
	cols := make([]string, 0, len(t.Columns)+7)
	for _, c := range t.Columns {
		cols = append(cols, c.Name)
	}
	return append(cols, "ms_master", "ms_version", "ms_origin", "ms_creator", "ms_epoch", "ms_deleted", "ms_proof")
}

func (m *importer) insertPending() error {
	if len(m.pending) == 0 {
		return nil
	}
	t := m.cur
	args := make([]any, 0, len(m.pending)*len(m.pending[0]))
	for _, p := range m.pending {
		args = append(args, p...)
	}
	q := m.d.Rebind(m.d.Insert(dialect.StageName(m.d, t.Name), stageCols(t), len(m.pending)))
	var err error
	if len(m.pending) == stageBatch {
		// Full batches reuse one prepared statement per table.
		var st *sql.Stmt
		if st, err = m.stmts.prepare(m.ctx, q); err == nil {
			_, err = st.ExecContext(m.ctx, args...)
		}
	} else {
		_, err = m.tx.ExecContext(m.ctx, q, args...)
	}
	if err != nil {
		return fmt.Errorf("multisite: stage rows of %s: %w", t.Name, err)
	}
	m.staged += len(m.pending)
	m.pending = m.pending[:0]
	return nil
}

func (m *importer) flush() error {
	if m.cur == nil {
		return nil
	}
	if err := m.route(); err != nil {
		return err
	}
	if err := m.merge(); err != nil {
		return err
	}
	if err := m.checkSuspects(); err != nil { // proof.go
		return err
	}
	if err := m.restoreTriggers(); err != nil { // fastpath.go
		return err
	}
	_, err := m.tx.ExecContext(m.ctx, m.d.DropStage(*m.cur))
	m.cur = nil
	return err
}

// merge applies the staged rows set-based: check each origin's right to
// make its change, settle creation conflicts, then delete, upsert and
// record the new versions in the shadow.
func (m *importer) merge() error {
	if err := m.insertPending(); err != nil {
		return err
	}
	if m.staged == 0 {
		return nil
	}
	t := m.cur
	d, q := m.d, m.d.Quote
	S, R, T := q(dialect.StageName(d, t.Name)), q(dialect.Shadow(d, t.Name)), q(t.Name)
	if err := m.checkDuplicates(); err != nil {
		return err
	}
	if err := m.checkMasters(); err != nil {
		return err
	}
	// An image applies if its row is new here, newer on the same chain, or
	// from a chain that wins a creation conflict (the smaller creator ID).
	// A row absent here whose stamp lies within the prune horizon is an
	// old image of a row whose tombstone was pruned: it stays dead.
	pruned := "1 = 1"
	var pargs []any
	if len(m.pruned) > 0 {
		var parts []string
		for _, o := range replica.Vector(m.pruned).Origins() {
			parts = append(parts, "(ms_origin = ? AND ms_epoch <= ?)")
			pargs = append(pargs, string(o), m.pruned[o])
		}
		pruned = "NOT (" + strings.Join(parts, " OR ") + ")"
	}
	decide := fmt.Sprintf(`UPDATE %s SET ms_apply = 1 WHERE (NOT EXISTS (SELECT 1 FROM %s r WHERE %s) AND `+pruned+`)
	OR EXISTS (SELECT 1 FROM %s r WHERE %s AND ((r.ms_creator = %s.ms_creator AND %s.ms_version > r.ms_version)
		OR (r.ms_creator <> %s.ms_creator AND %s.ms_creator < r.ms_creator)))`,
		S, R, keyMatch(d, *t, "r.", S+"."), R, keyMatch(d, *t, "r.", S+"."), S, S, S, S)
	if _, err := m.tx.ExecContext(m.ctx, d.Rebind(decide), pargs...); err != nil {
		return fmt.Errorf("multisite: merge %s: %w", t.Name, err)
	}
	if err := m.checkUnproven(); err != nil { // proof.go
		return err
	}
	if err := m.conflicts(); err != nil {
		return err
	}
	if err := m.settleCollisions(); err != nil { // unique keys (collision.go)
		return err
	}
	counts := m.rep.Tables[t.Name]
	// One pass over the applying rows: tombstone or not, row present or not.
	count := fmt.Sprintf(`SELECT s.ms_deleted, CASE WHEN EXISTS (SELECT 1 FROM %s t WHERE %s) THEN 1 ELSE 0 END, count(*)
	FROM %s s WHERE s.ms_apply = 1 GROUP BY 1, 2`, T, keyMatch(d, *t, "t.", "s."), S)
	rows, err := m.tx.QueryContext(m.ctx, count)
	if err != nil {
		return fmt.Errorf("multisite: count %s: %w", t.Name, err)
	}
	applied := 0
	for rows.Next() {
		var deleted, present, n int
		if err := rows.Scan(&deleted, &present, &n); err != nil {
			rows.Close()
			return fmt.Errorf("multisite: count %s: %w", t.Name, err)
		}
		applied += n
		switch {
		case deleted == 0 && present == 0:
			counts.Inserted += n
		case deleted == 0:
			counts.Updated += n
		case present == 1:
			counts.Deleted += n
		}
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("multisite: count %s: %w", t.Name, err)
	}
	counts.Unchanged += m.staged - applied
	stmts := []string{
		// Driven from the stage: a correlated EXISTS would scan the stage
		// once per row of the table (quadratic; found by the benchmarks).
		fmt.Sprintf("DELETE FROM %s WHERE (%s) IN (SELECT %s FROM %s WHERE ms_apply = 1 AND ms_deleted = 1)", T, keyNames(d, *t), keyNames(d, *t), S),
	}
	cols := make([]string, 0, len(t.Columns)+1)
	for _, c := range t.Columns {
		cols = append(cols, c.Name)
	}
	cols = append(cols, dialect.MasterColumn)
	var sel []string
	for _, c := range cols {
		sel = append(sel, q(c))
	}
	stmts = append(stmts,
		d.Upsert(*t, cols, fmt.Sprintf("SELECT %s FROM %s WHERE ms_apply = 1 AND ms_deleted = 0 ORDER BY ms_seq", strings.Join(sel, ", "), S)),
		d.UpsertShadow(*t, fmt.Sprintf("SELECT %s, ms_version, ms_master, ms_origin, ms_creator, ms_epoch, ms_deleted, ms_proof FROM %s WHERE ms_apply = 1 ORDER BY ms_seq", keyCols(d, *t, ""), S)),
		// The fingerprints of the rows just applied (refuse.go).
		rehashSQL(d, *t, fmt.Sprintf("(%s) IN (SELECT %s FROM %s WHERE ms_apply = 1 AND ms_deleted = 0)", keyNames(d, *t), keyNames(d, *t), S)),
		fmt.Sprintf("DELETE FROM %s", S),
	)
	changes, err := m.stagedChanges() // for AfterImportChange hooks
	if err != nil {
		return err
	}
	for _, s := range stmts {
		if _, err := m.tx.ExecContext(m.ctx, s); err != nil {
			return fmt.Errorf("multisite: apply rows of %s: %w", t.Name, err)
		}
	}
	if err := m.collisionsApplied(); err != nil { // collision.go
		return err
	}
	if err := m.hooks.afterChanges(m.ctx, changes); err != nil {
		return err
	}
	m.staged = 0
	return nil
}

func (m *importer) checkDuplicates() error {
	t := m.cur
	d := m.d
	var keys []string
	for _, k := range t.Keys() {
		keys = append(keys, d.Quote(k.Name))
	}
	var n int
	err := m.tx.QueryRowContext(m.ctx, fmt.Sprintf("SELECT count(*) FROM (SELECT 1 FROM %s GROUP BY %s HAVING count(*) > 1) x",
		d.Quote(dialect.StageName(d, t.Name)), strings.Join(keys, ", "))).Scan(&n)
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("%w: %d keys of %s appear more than once", ErrPacket, n, t.Name)
	}
	return nil
}

// conflicts keeps the losing record of every creation conflict in
// ms_conflict and reports it.
func (m *importer) conflicts() error {
	t := m.cur
	d := m.d
	S, R, T := d.Quote(dialect.StageName(d, t.Name)), d.Quote(dialect.Shadow(d, t.Name)), d.Quote(t.Name)
	var scols, tcols []string
	for _, c := range t.Columns {
		scols = append(scols, "s."+d.Quote(c.Name))
		tcols = append(tcols, d.Raw("t."+d.Quote(c.Name)))
	}
	q := fmt.Sprintf(`SELECT s.ms_apply, %s, s.ms_creator, s.ms_version, s.ms_deleted, %s, r.ms_creator, r.ms_version, r.ms_deleted
FROM %s s JOIN %s r ON %s LEFT JOIN %s t ON %s WHERE r.ms_creator <> s.ms_creator`,
		strings.Join(scols, ", "), strings.Join(tcols, ", "), S, R, keyMatch(d, *t, "r.", "s."), T, keyMatch(d, *t, "t.", "s."))
	rows, err := m.tx.QueryContext(m.ctx, q)
	if err != nil {
		return fmt.Errorf("multisite: find conflicts in %s: %w", t.Name, err)
	}
	type loser struct {
		key             string
		creator, winner string
		version         uint64
		image           map[string]any
	}
	var losers []loser
	n := len(t.Columns)
	for rows.Next() {
		var apply int
		in, local := make([]any, n), make([]any, n)
		var sc, rc string
		var sv, rv uint64
		var sd, rd int
		dest := []any{&apply}
		for i := range in {
			dest = append(dest, &in[i])
		}
		dest = append(dest, &sc, &sv, &sd)
		for i := range local {
			dest = append(dest, &local[i])
		}
		dest = append(dest, &rc, &rv, &rd)
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return err
		}
		if err := portable(d, t.Columns, in); err != nil {
			rows.Close()
			return err
		}
		if err := portable(d, t.Columns, local); err != nil {
			rows.Close()
			return err
		}
		var keyVals []any
		for _, k := range t.Keys() {
			for i, c := range t.Columns {
				if c.Name == k.Name {
					keyVals = append(keyVals, in[i])
				}
			}
		}
		l := loser{key: formatKey(keyVals), image: map[string]any{}}
		img := in
		if apply == 1 { // incoming wins; the local record loses
			l.creator, l.winner, l.version, img = rc, sc, rv, local
			if rd == 1 {
				img = nil
			}
		} else {
			l.creator, l.winner, l.version = sc, rc, sv
			if sd == 1 {
				img = nil
			}
		}
		for i, c := range t.Columns {
			if img != nil {
				l.image[c.Name] = jsonable(img[i])
			}
		}
		losers = append(losers, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, l := range losers {
		image, err := json.Marshal(l.image)
		if err != nil {
			return err
		}
		// Keep the newest version of the losing chain's record.
		if _, err := m.tx.ExecContext(m.ctx, d.Rebind(`DELETE FROM ms_conflict WHERE tbl = ? AND `+d.Quote("key")+` = ? AND creator = ? AND version < ?`), t.Name, l.key, l.creator, l.version); err != nil {
			return err
		}
		if _, err := m.tx.ExecContext(m.ctx, d.Rebind(d.InsertIgnore("ms_conflict", []string{"tbl", "key", "creator", "winner", "version", "image", "detected"}, 1)),
			t.Name, l.key, l.creator, l.winner, l.version, string(image), time.Now().UTC().Format(time.RFC3339)); err != nil {
			return err
		}
		m.rep.Conflicts = append(m.rep.Conflicts, Conflict{Table: t.Name, Key: l.key, Winner: replica.ID(l.winner), Loser: replica.ID(l.creator), Version: l.version})
	}
	return nil
}

// finish records what this replica now holds and what the origin holds.
func (m *importer) finish() error {
	if err := m.checkClaims(); err != nil { // authority.go
		return err
	}
	upto := m.auth.upto
	if err := raiseVector(m.ctx, m.tx, m.d, m.ctl.Local, upto); err != nil {
		return err
	}
	if err := raiseVector(m.ctx, m.tx, m.d, replica.ID(m.h.Origin), upto); err != nil {
		return err
	}
	// The packet connected with what this replica holds of every origin:
	// gaps found in the origin's packets are filled.
	if err := clearGaps(m.ctx, m.tx, m.d, replica.ID(m.h.Origin)); err != nil {
		return err
	}
	if err := lowerSent(m.ctx, m.tx, m.d, replica.ID(m.h.Origin), vectorOf(m.h.Gaps)); err != nil {
		return err
	}
	// Epochs are never reused: if others hold epochs of this replica
	// beyond its counter (it was restored from a backup), skip past them.
	if e := replica.Fence(m.ctl.Epoch, m.ctl.Local, upto); e != m.ctl.Epoch {
		if _, err := m.tx.ExecContext(m.ctx, m.d.Rebind(`UPDATE ms_ctl SET epoch = ?`), e); err != nil {
			return err
		}
	}
	if m.caughtUp {
		return m.restoreProgress()
	}
	return nil
}

// finishAck records an acknowledgement: what its origin holds, and the
// gaps it found in packets from this replica, which lower what this
// replica believes it sent there.
func (m *importer) finishAck() error {
	origin := replica.ID(m.h.Origin)
	held, err := loadSealed(m.ctx, m.tx)
	if err != nil {
		return err
	}
	upto, err := boundClaims(m.h, m.ctl, m.reg, m.ours, held, true) // authority.go
	if err != nil {
		return err
	}
	if err := raiseVector(m.ctx, m.tx, m.d, origin, upto); err != nil {
		return err
	}
	if err := lowerSent(m.ctx, m.tx, m.d, origin, vectorOf(m.h.Gaps)); err != nil {
		return err
	}
	_, err = m.tx.ExecContext(m.ctx, m.d.SetApplying(false))
	return err
}

// refused is what a refused packet would have brought: per origin, the
// epoch this replica holds, from which the origin sends again.
func (m *importer) refused() replica.Vector {
	if m.gapped != nil {
		return m.gapped
	}
	upto := vectorOf(m.h.Upto)
	if m.auth.checked {
		upto = m.auth.upto // as far as it is believed (authority.go)
	}
	v := replica.Vector{}
	for o, u := range upto {
		if have := m.ours[o]; u > have {
			v[o] = have
		}
	}
	return v
}

// restoreProgress records that the packet's origin has sent a restoring
// replica what it lost, and makes the replica active once every member
// that writes has.
func (m *importer) restoreProgress() error {
	if _, err := m.tx.ExecContext(m.ctx, m.d.Rebind(m.d.InsertIgnore("ms_restore", []string{"peer"}, 1)), m.h.Origin); err != nil {
		return err
	}
	var missing int
	err := m.tx.QueryRowContext(m.ctx, m.d.Rebind(`SELECT count(*) FROM ms_replica WHERE id <> ? AND state IN ('active', 'restoring')
		AND id NOT IN (SELECT peer FROM ms_restore)`), string(m.ctl.Local)).Scan(&missing)
	if err != nil || missing > 0 {
		return err
	}
	self := m.reg[m.ctl.Local]
	self.State = replica.Active
	self.Version++
	if err := putReplica(m.ctx, m.tx, m.d, self, true); err != nil {
		return err
	}
	if _, err := m.tx.ExecContext(m.ctx, `DELETE FROM ms_restore`); err != nil {
		return err
	}
	if _, err := m.tx.ExecContext(m.ctx, m.d.Rebind(`UPDATE ms_ctl SET state = ?`), string(replica.Active)); err != nil {
		return err
	}
	m.rep.Restored = true
	return nil
}

// rowKeyOf formats the key of a packet row whose column i is local column
// order[i].
func rowKeyOf(t dialect.Table, order []int, vals []syncpkt.Value) string {
	var kv []any
	for _, k := range t.Keys() {
		for i, j := range order {
			if t.Columns[j].Name == k.Name {
				kv = append(kv, vals[i].Any())
			}
		}
	}
	return formatKey(kv)
}

func formatKey(vals []any) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		switch x := v.(type) {
		case []byte:
			parts[i] = fmt.Sprintf("%x", x)
		case nil:
			parts[i] = "NULL"
		default:
			parts[i] = fmt.Sprint(x)
		}
	}
	return strings.Join(parts, ",")
}

func jsonable(v any) any {
	if b, ok := v.([]byte); ok {
		return fmt.Sprintf("\\x%x", b)
	}
	return v
}

// damaged returns the reader's own error if the rest of the packet does not
// verify: a record that failed to apply may just be a damaged one, and
// the caller should hear that the packet is damaged, not what the damage
// happened to look like. Otherwise it returns err.
func damaged(pr interface {
	Next() (syncpkt.Record, error)
}, err error) error {
	for {
		_, rerr := pr.Next()
		if rerr == io.EOF {
			return err
		}
		if rerr != nil {
			return rerr
		}
	}
}

// countReader counts the packet bytes read and reports them to progress,
// if set, every progressEvery bytes and at the end.
type countReader struct {
	r        io.Reader
	n        int64
	size     int64 // the packet's size if r tells it, else 0
	progress func(read, size int64)
	told     int64
}

const progressEvery = 256 << 10

func newCountReader(r io.Reader, progress func(read, size int64)) *countReader {
	c := &countReader{r: r, progress: progress}
	switch x := r.(type) {
	case interface{ Stat() (os.FileInfo, error) }:
		if fi, err := x.Stat(); err == nil && fi.Mode().IsRegular() {
			c.size = fi.Size()
			if sk, ok := r.(io.Seeker); ok {
				if off, err := sk.Seek(0, io.SeekCurrent); err == nil {
					c.size -= off
				}
			}
		}
	case interface{ Len() int }:
		c.size = int64(x.Len())
	}
	return c
}

// done reports the last bytes read, if progress has not been told them.
func (c *countReader) done() {
	if c.progress != nil && c.n != c.told {
		c.told = c.n
		c.progress(c.n, c.size)
	}
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.progress != nil && (c.n-c.told >= progressEvery || (err == io.EOF && c.n != c.told)) {
		c.told = c.n
		c.progress(c.n, c.size)
	}
	return n, err
}

// keyNames is the quoted key columns of t, in key order, for row values.
func keyNames(d dialect.Dialect, t dialect.Table) string {
	var s []string
	for _, k := range t.Keys() {
		s = append(s, d.Quote(k.Name))
	}
	return strings.Join(s, ", ")
}

// exactColumns reads, for a table with a column whose values the local
// vendor may not hold exactly (dates, times, booleans, decimals), its columns as
// the catalog declares them: ms_table records the types of the replica
// that activated the family, and a replica created from it may declare
// them otherwise (DATETIME(6) for DATETIME).
func (m *importer) exactColumns(t dialect.Table) error {
	m.exact = nil
	if m.d.Name() == dialect.SQLite {
		return nil
	}
	check := false
	for _, c := range t.Columns {
		switch dialect.KindOf(c.Type) {
		case dialect.KindBool, dialect.KindDecimal, dialect.KindTimestamp, dialect.KindTimestampTZ, dialect.KindDate, dialect.KindTime:
			check = true
		}
	}
	if !check {
		return nil
	}
	local, ok, err := m.d.Describe(m.ctx, m.tx, t.Name)
	if err != nil || !ok {
		return err
	}
	m.exact = make([]dialect.Column, len(t.Columns))
	for i, c := range t.Columns {
		m.exact[i] = c
		if lc, ok := local.Column(c.Name); ok {
			m.exact[i] = lc
		}
	}
	return nil
}
