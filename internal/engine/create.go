package engine

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/internal/schemaplan"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/schema"
	"github.com/multisite-go/multisite/syncpkt"
)

// ReplicateOptions controls Replicate. The zero value logs nothing and
// reports no progress.
type ReplicateOptions struct {
	Logger       *slog.Logger
	Progress     func(done, total int)
	Uncompressed bool // write the packet without zstd compression
}

// Replicate registers a new replica called name and writes its creation
// packet to w: schema, every row with its version and master, the transfer
// log, the registry, and a one-time secret with which the new replica
// enrols its own key (no packet carries a private key). The new replica is
// receive-only until it is made active. Writers on db are not blocked: the
// rows are read from one snapshot after a short registration transaction.
func Replicate(ctx context.Context, db *sql.DB, d dialect.Dialect, name string, w io.Writer, opt ReplicateOptions) (replica.Info, ExportStats, error) {
	var st ExportStats
	if strings.TrimSpace(name) == "" {
		return replica.Info{}, st, fmt.Errorf("multisite: the new replica needs a name")
	}
	c, err := LoadCtl(ctx, db, d)
	if err != nil {
		return replica.Info{}, st, err
	}
	if c.State != replica.Active {
		return replica.Info{}, st, fmt.Errorf("%w: only an active replica creates replicas", replica.ErrReceiveOnly)
	}
	if _, err := Seal(ctx, db, d); err != nil {
		return replica.Info{}, st, err
	}
	id, err := NewID()
	if err != nil {
		return replica.Info{}, st, err
	}
	// No packet carries a private key: the new replica makes its own key
	// pair and enrols with the one-time secret the packet carries
	// (registry_auth.go). Only the secret's hash is kept here.
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return replica.Info{}, st, err
	}
	info := replica.Info{ID: replica.ID(id), Name: name, PublicKey: ed25519.PublicKey{}, State: replica.ReceiveOnly, Version: 1}
	err = inTx(ctx, db, d, func(tx *sql.Tx) error {
		reg, err := Registry(ctx, tx)
		if err != nil {
			return err
		}
		for _, i := range reg {
			if i.Name == name {
				return fmt.Errorf("multisite: the family already has a replica named %q (%s)", name, i.ID)
			}
			if i.Number >= info.Number {
				info.Number = i.Number + 1
			}
		}
		if err := putReplica(ctx, tx, d, info, false); err != nil {
			return err
		}
		if err := putAuth(ctx, tx, d, info.ID, &auth{Signer: c.Local, Invite: enrolKey(secret)}); err != nil {
			return err
		}
		// What the new replica will hold is what this one holds now; the
		// snapshot below can only hold more, which later packets resend.
		v, err := LoadVector(ctx, tx, d, c.Local)
		if err != nil {
			return err
		}
		return raiseVector(ctx, tx, d, info.ID, v)
	})
	if err != nil {
		return replica.Info{}, st, err
	}
	st.Target = info.ID
	st.Tables = map[string]int{}
	err = readTx(ctx, db, d, func(tx *sql.Tx) error {
		c, err := LoadCtl(ctx, tx, d)
		if err != nil {
			return err
		}
		reg, err := Registry(ctx, tx)
		if err != nil {
			return err
		}
		upto, err := LoadVector(ctx, tx, d, c.Local)
		if err != nil {
			return err
		}
		st.Epoch = upto[c.Local]
		h := syncpkt.Header{Kind: syncpkt.KindCreation, Family: c.Family, Origin: string(c.Local), Target: id,
			SchemaVersion: c.SchemaVersion, CodePage: c.CodePage, Created: time.Now().UTC(),
			Base: map[string]uint64{}, Upto: toMap(upto, nil)}
		cw := &countWriter{w: w}
		pw, err := syncpkt.NewWriter(cw, h, syncpkt.WriterOptions{Sign: signer(c.PrivateKey), Compress: !opt.Uncompressed})
		if err != nil {
			return err
		}
		if err := pw.Write(&syncpkt.Invite{Secret: secret}); err != nil {
			return err
		}
		if err := writeSchemaSettings(ctx, tx, d, c, pw); err != nil { // migrate.go: the chain, the code page, the migrations, proven
			return err
		}
		fks, err := foreignKeySettings(ctx, tx, d)
		if err != nil {
			return err
		}
		for _, v := range fks {
			if err := pw.Write(&syncpkt.Setting{Key: settingForeignKey, Value: v}); err != nil {
				return err
			}
		}
		uniques, err := uniqueSettings(ctx, tx, d) // unique.go
		if err != nil {
			return err
		}
		for _, v := range uniques {
			if err := pw.Write(&syncpkt.Setting{Key: settingUnique, Value: v}); err != nil {
				return err
			}
		}
		if err := writeRegistry(ctx, tx, pw, c, reg, info.ID, true); err != nil { // registry_auth.go
			return err
		}
		if err := writeSealed(ctx, tx, c, upto, pw); err != nil { // authority.go: what vouches for the vector the new replica takes
			return err
		}
		if err := writeChanges(ctx, tx, d, c, pw, nil, &st, opt.Progress); err != nil {
			return err
		}
		if err := pw.Close(); err != nil {
			return err
		}
		st.Bytes = cw.n
		return nil
	})
	if err != nil {
		return replica.Info{}, st, err
	}
	if opt.Logger != nil {
		opt.Logger.InfoContext(ctx, "multisite: wrote creation packet", "replica", info.String(), "rows", st.Rows, "bytes", st.Bytes)
	}
	return info, st, nil
}

// CreateOptions controls CreateReplica.
type CreateOptions struct {
	Logger *slog.Logger
	// OriginKey, if set, is the public key the creating replica must have
	// signed with. Without it the packet is checked against the key it
	// carries for its origin, which proves it is intact but not who made it.
	OriginKey     ed25519.PublicKey
	MaxPacketSize int64 // 0 means no limit
	// MaxRowSize, MaxRecords and MaxMeta are as in ImportOptions.
	MaxRowSize, MaxRecords, MaxMeta int64
	// Progress, if set, is told the packet bytes read so far and the
	// packet's size (0 unless the reader is a regular file or has Len),
	// about every 256 KiB and at the end. It is called on the goroutine
	// that reads the packet, never twice at once.
	Progress func(read, size int64)
	// OnProgress, if set, is told the rows created and the bytes of the
	// uncompressed stream decoded, then once more when the commit begins
	// (see ImportProgress).
	OnProgress func(ImportProgress)
}

// CreateReplica brings a new replica to life in an empty database from a
// creation packet, in one transaction. The replica starts receive-only.
func CreateReplica(ctx context.Context, db *sql.DB, d dialect.Dialect, r io.Reader, opt CreateOptions) (*ImportReport, error) {
	if err := d.Setup(ctx, db); err != nil {
		return nil, err
	}
	rep := &ImportReport{Tables: map[string]*TableCounts{}, Epochs: map[replica.ID][2]uint64{}, Kind: syncpkt.KindCreation.String()}
	var cr *creator
	err := creationTx(ctx, db, d, func(tx *sql.Tx) error {
		if _, err := LoadCtl(ctx, tx, d); err == nil {
			return ErrActivated
		} else if err != ErrNotActivated {
			return err
		}
		cr = &creator{stmts: stmtCache{tx: tx}, ctx: ctx, tx: tx, d: d, rep: rep, reg: map[replica.ID]replica.Info{}, auths: map[replica.ID]*auth{}, opt: opt}
		counted := newCountReader(r, opt.Progress)
		prog := &progress{fn: opt.OnProgress}
		prog.startStream(counted)
		// Records come only once their chunk verified: with the key the
		// caller pinned, or else with the key the packet's first chunk
		// carries for its origin (creator.creationKey).
		pf := newPrefetch(counted, syncpkt.ReaderOptions{PublicKey: cr.publicKey, Successor: cr.creationKey, MaxPacket: opt.MaxPacketSize,
			MaxFrame: opt.MaxRowSize, MaxRecords: opt.MaxRecords, MaxMeta: opt.MaxMeta})
		h, err := pf.pr.Header()
		if err != nil {
			return err
		}
		cr.h = h // before start: the prefetcher's first chunk asks creationKey, which reads it
		pf.start()
		defer pf.stop()
		if h.Kind != syncpkt.KindCreation {
			return &MismatchError{Field: "kind", Want: syncpkt.KindCreation.String(), Got: h.Kind.String(), Err: ErrKind}
		}
		for {
			rec, err := pf.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			if err := cr.record(rec); err != nil {
				return damaged(pf, err)
			}
			prog.applied(rec, pf)
		}
		prog.endStream(counted, pf)
		prog.commit()
		if err := cr.finish(); err != nil {
			return err
		}
		rep.Origin = replica.ID(h.Origin)
		rep.Bytes = counted.n
		counted.done()
		return nil
	})
	if err != nil {
		if cr != nil && !d.TransactionalDDL() {
			cr.undo(ctx, db)
		}
		return nil, err
	}
	return rep, nil
}

// undo drops what a failed creation made, where DDL committed by itself
// (MySQL), so the database is as empty as it was. Errors are ignored: the
// creation's own error is the one to report.
func (c *creator) undo(ctx context.Context, db *sql.DB) {
	var stmts []string
	for i := len(c.created) - 1; i >= 0; i-- {
		n := c.created[i]
		for _, name := range []string{dialect.Xfer(c.d, n), dialect.Shadow(c.d, n), n} {
			stmts = append(stmts, "DROP TABLE IF EXISTS "+c.d.Quote(name))
		}
		stmts = append(stmts, "DROP SEQUENCE IF EXISTS "+c.d.Quote(dialect.KeySequence(c.d, n)))
	}
	if c.metaStarted {
		stmts = append(stmts, dialect.DropMetaFormat()...) // format 2 and later
		stmts = append(stmts, c.d.DropMeta()...)
		stmts = append(stmts, dialect.DropCharsetMeta()...)
	}
	for _, s := range stmts {
		_, _ = db.ExecContext(ctx, s)
	}
}

type creator struct {
	ctx    context.Context
	tx     *sql.Tx
	d      dialect.Dialect
	rep    *ImportReport
	opt    CreateOptions
	h      *syncpkt.Header
	reg    map[replica.ID]replica.Info
	auths  map[replica.ID]*auth // proofs and chains of the packet's entries
	secret []byte               // the invitation's one-time secret

	cpVer    uint64 // the family code page's version and name
	cpName   string
	settings []*syncpkt.Setting // other settings, taken once the metadata exists
	sealed   []*syncpkt.Sealed  // sealed statements, kept once the metadata exists (authority.go)
	metaDone bool
	// What this creation made, for undoing it where DDL commits by itself.
	metaStarted bool
	created     []string
	tables      []dialect.Table
	cur         *dialect.Table
	local       []dialect.Column     // the columns of cur as this replica's catalog has them
	fks         []dialect.ForeignKey // foreign keys the packet carries
	uniques     []uniqueSetting      // unique keys the packet carries (unique.go)
	rows        [][]any              // pending table rows
	shadow      [][]any              // pending shadow rows
	stmts       stmtCache            // the multi-row INSERTs, prepared once
}

// publicKey is OriginKey if the caller pinned one. Without it there is no
// key before the packet: the first chunk brings it (creator.creationKey).
func (c *creator) publicKey(h *syncpkt.Header) (ed25519.PublicKey, error) {
	if c.opt.OriginKey != nil {
		return c.opt.OriginKey, nil
	}
	return nil, nil
}

// creationKey is the key a creation packet is checked with when the caller
// pinned none: the one the packet's first chunk carries in its origin's
// registry entry. That proves the packet intact, not who made it (a key
// the packet brings vouches for itself); CreateOptions.OriginKey does.
// With a key pinned, only a rotation it endorses is taken.
func (c *creator) creationKey(cur ed25519.PublicKey, first []syncpkt.Record) ed25519.PublicKey {
	entries := originEntries(first, replica.ID(c.h.Origin))
	if cur != nil {
		return endorsedKey(cur, entries)
	}
	if len(entries) > 0 {
		return ed25519.PublicKey(entries[0].(*syncpkt.Replica).PublicKey)
	}
	return nil
}

func (c *creator) record(rec syncpkt.Record) error {
	switch r := rec.(type) {
	case *syncpkt.Setting:
		if r.Key == settingCodePage {
			ver, cp, err := parseCodePageSetting(r.Value)
			if err != nil {
				return err
			}
			c.cpVer, c.cpName = ver, cp.Name()
		}
		c.settings = append(c.settings, r) // migrate.go takes its own (and the code page's proof)
		if r.Key == settingForeignKey {
			fk, err := parseForeignKey(r.Value)
			if err != nil {
				return err
			}
			if err := checkActions(c.d, []dialect.ForeignKey{fk}); err != nil {
				return err
			}
			c.fks = append(c.fks, fk)
		}
		if r.Key == settingUnique {
			u, err := parseUnique(r.Value)
			if err != nil {
				return err
			}
			c.uniques = append(c.uniques, u)
		}
	case *syncpkt.Sealed:
		c.sealed = append(c.sealed, r)
	case *syncpkt.Invite:
		c.secret = r.Secret
	case *syncpkt.Replica:
		i := infoOf(r)
		invited := i.ID == replica.ID(c.h.Target) && len(i.PublicKey) == 0
		if i.ID.IsZero() || !i.State.Valid() || (len(i.PublicKey) != ed25519.PublicKeySize && !invited) {
			return fmt.Errorf("%w: registry entry %q is invalid", ErrPacket, r.ID)
		}
		// An entry comes with the chain proving its key (creation entry,
		// rotations), oldest first, then as it is now.
		a := c.auths[i.ID]
		if a == nil {
			a = &auth{}
			c.auths[i.ID] = a
		}
		if len(r.Proof) > 0 && (len(a.Chain) == 0 || replica.ID(r.Signer) != i.ID || len(r.KeySig) > 0) {
			a.Chain = append(a.Chain, r)
		}
		if old, ok := c.reg[i.ID]; !ok || replica.Newer(i, old) {
			c.reg[i.ID] = i
			a.Signer, a.Proof = replica.ID(r.Signer), r.Proof
		}
	case *syncpkt.Table:
		if err := c.flush(); err != nil {
			return err
		}
		return c.startTable(r)
	case *syncpkt.Transfer:
		return c.transfer(r)
	case *syncpkt.Row:
		return c.row(r)
	default:
		return fmt.Errorf("%w: %T record in a creation packet", ErrPacket, rec)
	}
	return nil
}

func (c *creator) meta() error {
	if c.metaDone {
		return nil
	}
	self, ok := c.reg[replica.ID(c.h.Target)]
	if !ok || len(c.secret) == 0 || len(self.PublicKey) != 0 {
		return fmt.Errorf("%w: creation packet lacks the new replica's invitation (its registry entry and one-time secret)", ErrPacket)
	}
	if _, ok := c.reg[replica.ID(c.h.Origin)]; !ok {
		return &replica.UnknownError{ID: replica.ID(c.h.Origin)}
	}
	// The new replica makes its own key pair; its first packet to its
	// creator enrols the public key with the secret (registry_auth.go).
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	self.PublicKey = pub
	c.reg[self.ID] = self
	c.auths[self.ID] = &auth{Signer: replica.ID(c.h.Origin), Invite: enrolKey(c.secret)}
	c.metaStarted = true
	if err := schema.Apply(c.ctx, c.tx, schemaplan.Metadata(c.d)); err != nil {
		return err
	}
	lo, hi := replica.KeyRange(self.Number)
	ctl := &Ctl{Format: FormatVersion, Family: c.h.Family, Local: self.ID, State: replica.ReceiveOnly,
		KeyLo: lo, KeyHi: hi, CodePage: c.h.CodePage, CodePageVer: c.cpVer, SchemaVersion: c.h.SchemaVersion, PrivateKey: priv}
	if err := insertCtl(c.ctx, c.tx, c.d, ctl); err != nil {
		return err
	}
	for _, i := range SortedRegistry(c.reg) {
		if err := putReplica(c.ctx, c.tx, c.d, i, false); err != nil {
			return err
		}
		if a := c.auths[i.ID]; a != nil {
			if err := putAuth(c.ctx, c.tx, c.d, i.ID, a); err != nil {
				return err
			}
		}
	}
	if err := takeCreationSettings(c.ctx, c.tx, c.d, c.h.Family, self.ID, c.reg, c.settings, c.sealed); err != nil { // migrate.go
		return err
	}
	c.metaDone = true
	return nil
}

// validName refuses names the library reserves or that no catalog holds.
func validName(n string) bool {
	return n != "" && !strings.ContainsRune(n, 0) && !strings.HasPrefix(strings.ToLower(n), "ms_") && !strings.HasPrefix(strings.ToLower(n), "sqlite_")
}

func columnNames(t dialect.Table) []string {
	ns := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		ns[i] = c.Name
	}
	return ns
}

func (c *creator) startTable(pt *syncpkt.Table) error {
	if err := c.meta(); err != nil {
		return err
	}
	t := dialect.Table{Name: pt.Name}
	if !validName(pt.Name) {
		return fmt.Errorf("%w: table name %q is reserved or empty", ErrPacket, pt.Name)
	}
	for _, pc := range pt.Columns {
		if !validName(pc.Name) || pc.Name == dialect.MasterColumn {
			return fmt.Errorf("%w: column name %q of %s is reserved or empty", ErrPacket, pc.Name, pt.Name)
		}
		if !dialect.ValidType(pc.Type) || !dialect.ValidDefault(pc.Default) {
			return fmt.Errorf("%w: column %q of %s has type %q, default %q: only plain types and literal defaults are accepted", ErrPacket, pc.Name, pt.Name, pc.Type, pc.Default)
		}
		if _, dup := t.Column(pc.Name); dup {
			return fmt.Errorf("%w: column %q of %s appears twice", ErrPacket, pc.Name, pt.Name)
		}
		t.Columns = append(t.Columns, dialect.Column{Name: pc.Name, Type: pc.Type, NotNull: pc.NotNull, Key: pc.Key, Default: pc.Default})
	}
	if len(t.Keys()) == 0 {
		return &schema.NoPrimaryKeyError{Tables: []string{t.Name}}
	}
	for _, n := range append([]string{t.Name}, columnNames(t)...) {
		if err := dialect.CheckName(c.d, n); err != nil {
			return fmt.Errorf("multisite: create replica: table %s: %w", t.Name, err)
		}
	}
	if _, exists, err := c.d.Describe(c.ctx, c.tx, t.Name); err != nil {
		return err
	} else if exists {
		return fmt.Errorf("%w: %s; create the replica in an empty database", ErrTableExists, t.Name)
	}
	c.created = append(c.created, t.Name)
	plan := schemaplan.Creation(c.d, []dialect.Table{t}, c.h.Target)
	plan.Steps = plan.Steps[len(schemaplan.Metadata(c.d).Steps):] // metadata tables exist already
	if dialect.ForeignKeysInCreate(c.d) {
		var own []dialect.ForeignKey
		for _, fk := range c.fks {
			if fk.Table == t.Name {
				own = append(own, fk)
			}
		}
		create := c.d.CreateTable(t, c.h.Target)
		for i := range plan.Steps {
			if plan.Steps[i].SQL == create {
				plan.Steps[i].SQL = dialect.WithForeignKeys(c.d, create, own)
			}
		}
	}
	if err := schema.Apply(c.ctx, c.tx, plan); err != nil {
		return err
	}
	if err := checkLooseKeys(c.ctx, c.tx, c.d, t); err != nil {
		return err
	}
	local, _, err := c.d.Describe(c.ctx, c.tx, t.Name)
	if err != nil {
		return err
	}
	if len(local.Columns) != len(t.Columns) {
		return fmt.Errorf("multisite: created table %s has %d columns, the packet %d", t.Name, len(local.Columns), len(t.Columns))
	}
	c.local = local.Columns
	if err := insertTable(c.ctx, c.tx, c.d, t); err != nil {
		return err
	}
	c.tables = append(c.tables, t)
	c.cur = &c.tables[len(c.tables)-1]
	c.rep.Tables[t.Name] = &TableCounts{}
	return nil
}

func (c *creator) transfer(x *syncpkt.Transfer) error {
	var t *dialect.Table
	for i := range c.tables {
		if c.tables[i].Name == x.Table {
			t = &c.tables[i]
		}
	}
	if t == nil {
		return &schema.UnknownTableError{Table: x.Table}
	}
	if err := logTransfer(c.ctx, c.tx, c.d, *t, x); err != nil {
		return err
	}
	c.rep.Transfers++
	return nil
}

func (c *creator) row(r *syncpkt.Row) error {
	t := c.cur
	if t == nil {
		return fmt.Errorf("%w: row before any table", ErrPacket)
	}
	if len(r.Values) != len(t.Columns) {
		return fmt.Errorf("%w: row of %s has %d values, want %d", ErrPacket, t.Name, len(r.Values), len(t.Columns))
	}
	for _, id := range []string{r.Master, r.Origin, r.Creator} {
		if _, ok := c.reg[replica.ID(id)]; !ok {
			return &replica.UnknownError{ID: replica.ID(id)}
		}
	}
	var key []any
	for _, k := range t.Keys() {
		for i, col := range t.Columns {
			if col.Name != k.Name {
				continue
			}
			if r.Values[i].Kind == syncpkt.ValueNull {
				return fmt.Errorf("%w: row of %s has a NULL key", ErrPacket, t.Name)
			}
			key = append(key, c.d.Arg(col, r.Values[i].Any()))
		}
	}
	deleted := 0
	if r.Deleted {
		deleted = 1
	} else {
		vals := make([]any, 0, len(t.Columns)+1)
		for i, v := range r.Values {
			// A value this replica cannot hold exactly is refused now,
			// naming the column, rather than stored altered.
			if err := dialect.Exact(c.d, t.Name, c.local[i], v.Any()); err != nil {
				return fmt.Errorf("multisite: create replica: %w", err)
			}
			vals = append(vals, c.d.Arg(t.Columns[i], v.Any()))
		}
		c.rows = append(c.rows, append(vals, r.Master))
		c.rep.Tables[t.Name].Inserted++
	}
	// The proof is stored as it came, for this replica to forward: the
	// packet's signer is the new replica's creator, whose registry it
	// takes, so checking proofs against that registry would add nothing.
	c.shadow = append(c.shadow, append(key, r.Version, r.Master, r.Origin, r.Creator, r.Epoch, deleted, proofArg(r.Proof)))
	if len(c.shadow) >= 400 {
		return c.flush()
	}
	return nil
}

func (c *creator) flush() error {
	t := c.cur
	if t == nil {
		return nil
	}
	cols := []string{}
	for _, col := range t.Columns {
		cols = append(cols, col.Name)
	}
	cols = append(cols, dialect.MasterColumn)
	if err := insertRows(c.ctx, &c.stmts, c.d, t.Name, cols, c.rows); err != nil {
		return err
	}
	var scols []string
	for _, k := range t.Keys() {
		scols = append(scols, k.Name)
	}
	scols = append(scols, "ms_version", "ms_master", "ms_origin", "ms_creator", "ms_epoch", "ms_deleted", "ms_proof")
	if err := insertRows(c.ctx, &c.stmts, c.d, dialect.Shadow(c.d, t.Name), scols, c.shadow); err != nil {
		return err
	}
	c.rows, c.shadow = c.rows[:0], c.shadow[:0]
	return nil
}

func (c *creator) finish() error {
	if err := c.flush(); err != nil {
		return err
	}
	if err := c.meta(); err != nil { // a family with no tables
		return err
	}
	if err := checkCreatedForeignKeys(c.fks, c.tables); err != nil {
		return err
	}
	if c.d.Name() != dialect.SQLite {
		// Added once the rows are in, which they are checked against.
		for _, fk := range c.fks {
			for _, s := range dialect.AddForeignKey(c.d, fk) {
				if _, err := c.tx.ExecContext(c.ctx, s); err != nil {
					return fmt.Errorf("multisite: add foreign key of %s: %w", fk.Table, err)
				}
			}
		}
	}
	if err := createUniques(c.ctx, c.tx, c.d, c.uniques, c.tables); err != nil {
		return err
	}
	for _, t := range c.tables {
		// The packet's rows went in without triggers: their fingerprints
		// (refuse.go) are taken here, in one pass per table.
		if _, err := c.tx.ExecContext(c.ctx, rehashSQL(c.d, t, "ms_deleted = 0")); err != nil {
			return fmt.Errorf("multisite: fingerprints of %s: %w", t.Name, err)
		}
	}
	// Every replica's keys come from its own generator, so that an
	// application's INSERT without the key works here as at the origin.
	ctl, err := LoadCtl(c.ctx, c.tx, c.d)
	if err != nil {
		return err
	}
	if err := setupKeys(c.ctx, c.tx, c.d, c.tables, ctl); err != nil { // keys.go
		return err
	}
	if err := schema.Apply(c.ctx, c.tx, schemaplan.Triggers(c.d, c.tables)); err != nil {
		return err
	}
	if err := applyCharset(c.ctx, c.tx, c.d, c.tables, c.cpName); err != nil {
		return err
	}
	upto := replica.Vector{}
	for o, e := range c.h.Upto {
		upto[replica.ID(o)] = e
	}
	self := replica.ID(c.h.Target)
	if _, ok := upto[self]; !ok {
		upto[self] = 0
	}
	if err := raiseVector(c.ctx, c.tx, c.d, self, upto); err != nil {
		return err
	}
	return raiseVector(c.ctx, c.tx, c.d, replica.ID(c.h.Origin), upto)
}
