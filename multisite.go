package multisite

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/multisite-go/multisite/codepage"
	"github.com/multisite-go/multisite/hooks"
	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/internal/engine"
	"github.com/multisite-go/multisite/mastership"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/schema"
	"github.com/multisite-go/multisite/syncpkt"
)

// Dialect names a database vendor. The zero value means: detect it from the
// *sql.DB's driver.
type Dialect string

// The supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres" // PostgreSQL 12+ through github.com/jackc/pgx/v5/stdlib
	MySQL    Dialect = "mysql"    // MariaDB 10.5+ or MySQL 8.0+ through github.com/go-sql-driver/mysql
)

func dialectOf(db *sql.DB, d Dialect) (dialect.Dialect, error) {
	if db == nil {
		return nil, errors.New("multisite: nil *sql.DB")
	}
	if d != "" {
		return withPublicError(dialect.ByName(dialect.Name(d)))
	}
	return withPublicError(dialect.Detect(db))
}

// Errors returned by the façade. Packet-format errors come from syncpkt,
// replica errors (unknown replica, gap, receive-only) from replica,
// mastership errors from mastership and schema errors from schema; all can
// be tested with errors.Is.
var (
	// ErrNotActivated is returned for a database that is no replica.
	ErrNotActivated = engine.ErrNotActivated
	// ErrActivated is returned when activating or creating into a
	// database that already is a replica.
	ErrActivated = engine.ErrActivated
	// ErrFamily is returned for a packet of another family (in a
	// *MismatchError).
	ErrFamily = engine.ErrFamily
	// ErrTarget is returned for a packet made for another replica (in a
	// *MismatchError).
	ErrTarget = engine.ErrTarget
	// ErrKind is returned for a creation packet given to ImportPacket or a
	// sync packet given to CreateReplica (in a *MismatchError).
	ErrKind = engine.ErrKind
	// ErrSchemaVersion is returned for a packet made at another schema
	// version (in a *MismatchError).
	ErrSchemaVersion = engine.ErrSchemaVersion
	// ErrCodePage is returned for a packet made under another data code
	// page (in a *MismatchError).
	ErrCodePage = engine.ErrCodePage
	// ErrPacket is returned for a packet whose content breaks the rules
	// beyond what syncpkt checks: a row before its table, a record that
	// does not belong in this kind of packet, a duplicate key.
	ErrPacket = engine.ErrPacket
	// ErrTableExists is returned when a creation packet would create a
	// table the database already has.
	ErrTableExists = engine.ErrTableExists
	// ErrKeyRange is returned when a replica's integer key range is used
	// up or an existing key lies outside the first replica's range.
	ErrKeyRange = engine.ErrKeyRange
	// ErrState is returned for a lifecycle change that is not allowed.
	ErrState = engine.ErrState
	// ErrProof is returned by ImportPacket for a packet carrying a row
	// image or a transfer whose proof is not the signature of the replica
	// that made it (the row's origin, the transfer's From) by the key in
	// the local registry, or that lacks a proof where it would change
	// something. The packet is refused whole; nothing is written.
	ErrProof = engine.ErrProof
	// ErrCharset is returned for a string outside the family's data code
	// page (in a *CharsetError).
	ErrCharset = engine.ErrCharset
)

// CharsetError names the first string of a packet, or of a write the
// database refused (see [CharsetFromDriver]), that does not fit the
// family's data code page, or the character set of the column that would
// store it. It matches ErrCharset.
type CharsetError struct {
	CodePage string // the family's data code page, e.g. "windows-1252"
	Table    string // the table of the row holding the string
	Key      string // the row's primary key, formatted
	Column   string // the column holding the string
	Offset   int    // byte offset of the character in the value
	Rune     rune   // the character; utf8.RuneError for invalid UTF-8
	Char     string // the character (or raw byte) as it appears in the value
	// Storage is set when the character fits the code page but not the
	// local column: its MariaDB character set, such as "utf8mb3", which
	// holds no character beyond U+FFFF.
	Storage string
}

func (e *CharsetError) Error() string { return engineCharsetError(e).Error() }

// Unwrap returns ErrCharset.
func (e *CharsetError) Unwrap() error { return ErrCharset }

// MismatchError reports a packet header field that does not match the
// receiving replica (family, target, kind, schema version, code page).
type MismatchError struct {
	Field string // the header field, e.g. "family" or "schema version"
	Want  string // what the receiving replica expects
	Got   string // what the packet says
	Err   error  // the sentinel: ErrFamily, ErrTarget, ErrSchemaVersion, ErrCodePage or ErrKind
}

func (e *MismatchError) Error() string { return engineMismatchError(e).Error() }

// Unwrap returns the sentinel in Err.
func (e *MismatchError) Unwrap() error { return e.Err }

// Errors about the database itself. ErrUnsupported matches a driver the
// library does not know and a *ServerVersionError; ErrUnreachable matches
// a server that cannot be reached when Activate or CreateReplica starts.
var (
	// ErrUnsupported is returned for a driver or server the library
	// cannot work with (and wrapped by *ServerVersionError).
	ErrUnsupported = dialect.ErrUnsupported
	// ErrUnreachable is returned when the server cannot be reached.
	ErrUnreachable = dialect.ErrUnreachable
)

// ServerVersionError reports a database server older than the library
// supports (PostgreSQL 12, MariaDB 10.5, MySQL 8.0). It matches
// ErrUnsupported.
type ServerVersionError struct {
	Dialect Dialect // the server's dialect
	Version string  // the server's version as it reports it
	Min     string  // the oldest supported, e.g. "12" or "MariaDB 10.5"
}

func (e *ServerVersionError) Error() string {
	return (&dialect.ServerVersionError{Dialect: dialect.Name(e.Dialect), Version: e.Version, Min: e.Min}).Error()
}

// Unwrap returns ErrUnsupported.
func (e *ServerVersionError) Unwrap() error { return ErrUnsupported }

// ErrInexact matches an *InexactError: a value a replica cannot hold
// exactly (a timestamp finer than its column keeps, a date MySQL cannot
// store), refused by CreateReplica and ImportPacket rather than stored
// altered.
var ErrInexact = dialect.ErrInexact

// InexactError names the table, column and value a replica cannot hold
// exactly, and why. It matches ErrInexact.
type InexactError struct {
	Dialect Dialect // the vendor of the replica that cannot hold the value
	Table   string  // the table
	Column  string  // the column
	Type    string  // the column's declared type on that replica
	Value   string  // the value, as the packet carries it
	Reason  string  // why it cannot be held exactly
}

func (e *InexactError) Error() string {
	return (&dialect.InexactError{Dialect: dialect.Name(e.Dialect), Table: e.Table, Column: e.Column, Type: e.Type, Value: e.Value, Reason: e.Reason}).Error()
}

// Unwrap returns ErrInexact.
func (e *InexactError) Unwrap() error { return ErrInexact }

// ErrName matches a *NameError: a table or column name the vendor of a
// replica being created cannot hold (PostgreSQL keeps 63 bytes, MySQL 64
// characters, without a trailing space or characters beyond U+FFFF).
var ErrName = dialect.ErrName

// NameError names a name a replica's vendor cannot hold, and why. It
// matches ErrName.
type NameError struct {
	Dialect Dialect // the vendor that cannot hold the name
	Name    string  // the table or column name
	Reason  string  // why
}

func (e *NameError) Error() string {
	return (&dialect.NameError{Dialect: dialect.Name(e.Dialect), Name: e.Name, Reason: e.Reason}).Error()
}

// Unwrap returns ErrName.
func (e *NameError) Unwrap() error { return ErrName }

// ActivateOptions configures Activate. Name is required; the zero value of
// the rest replicates every table under the UTF-8 code page.
type ActivateOptions struct {
	Name     string       // name of the first replica, e.g. "boston"
	CodePage string       // data code page by name or number ("UTF-8", "1252"); "" means UTF-8
	Exclude  []string     // tables not to replicate
	Dialect  Dialect      // "" detects it
	Logger   *slog.Logger // nil means silent
}

// Activate makes db, an existing database with tables and rows, the first
// replica of a new family. Every table (but the excluded) gets the
// mastership field, a shadow table of row versions, a transfer log, and
// capture and enforcement triggers; the replica masters every existing row.
// It is one transaction: on error, db is as it was. Tables without a
// primary key are refused together with a *schema.NoPrimaryKeyError.
func Activate(ctx context.Context, db *sql.DB, opt ActivateOptions) (replica.Info, error) {
	d, err := dialectOf(db, opt.Dialect)
	if err != nil {
		return replica.Info{}, err
	}
	info, family, err := engine.Activate(ctx, db, d, engine.ActivateOptions{Name: opt.Name, CodePage: opt.CodePage, Exclude: opt.Exclude})
	if err != nil {
		return replica.Info{}, publicError(err)
	}
	if opt.Logger != nil {
		opt.Logger.InfoContext(ctx, "multisite: activated", "replica", info.String(), "family", family)
	}
	return info, nil
}

// PlanActivation returns, without changing anything, the statements
// Activate would run, for an administrator to read first.
func PlanActivation(ctx context.Context, db *sql.DB, opt ActivateOptions) (schema.Plan, error) {
	d, err := dialectOf(db, opt.Dialect)
	if err != nil {
		return schema.Plan{}, err
	}
	plan, _, err := engine.PlanActivation(ctx, db, d, engine.ActivateOptions{Name: opt.Name, CodePage: opt.CodePage, Exclude: opt.Exclude}, "REPLICA-ID")
	return plan, publicError(err)
}

// ReplicateOptions controls Replicate. The zero value logs nothing and
// reports no progress.
type ReplicateOptions struct {
	Dialect  Dialect               // "" detects it
	Logger   *slog.Logger          // nil means silent
	Progress func(done, total int) // rows written, rows in all
	// Uncompressed turns off the zstd compression of the packet body.
	Uncompressed bool
}

// ExportStats describes a packet ExportPacket, RecoverPacket or Replicate
// wrote.
type ExportStats struct {
	Target replica.ID // the replica the packet is for
	// Epoch is the origin's newest epoch, which the packet brings the
	// target up to.
	Epoch     uint64
	Rows      int            // row images, tombstones included
	Deletes   int            // tombstones (deleted rows)
	Transfers int            // mastership transfers
	Tables    map[string]int // row images per table
	Bytes     int64          // bytes written, every part's
	Parts     int            // parts written with MaxSize; 0 for a whole packet
	// Base holds, per origin, the epoch after which the packet carries
	// changes: what the target acknowledged or was sent before.
	Base replica.Vector
}

// Replicate registers a new replica called name in db's family and writes
// its replica-creation packet to w. Writers on db are not blocked while the
// packet is written. Carry the packet to the new site and give it to
// CreateReplica there. The packet holds the whole database and a one-time
// secret, never a private key: the new replica makes its own key pair and
// enrols it with its creator by its first packet to db's replica (an
// export once active, or WriteAck while receive-only), which uses the
// secret up; until then the returned Info has no public key and no other
// member knows the new replica. Protect the packet like a backup until
// the new replica has enrolled.
func Replicate(ctx context.Context, db *sql.DB, name string, w io.Writer, opt ReplicateOptions) (replica.Info, ExportStats, error) {
	d, err := ready(ctx, db, opt.Dialect)
	if err != nil {
		return replica.Info{}, ExportStats{}, err
	}
	info, st, err := engine.Replicate(ctx, db, d, name, w, engine.ReplicateOptions{Logger: opt.Logger, Progress: opt.Progress, Uncompressed: opt.Uncompressed})
	return info, exportStats(st), publicError(err)
}

// ImportReport describes an imported packet: rows inserted, updated and
// deleted per table, the origin, the epochs covered, and creation
// conflicts. [ImportReport.String] summarizes it for a log line.
type ImportReport struct {
	Origin replica.ID // the replica that wrote the packet
	Kind   string     // "sync" or "creation"
	// Epochs holds, per origin whose changes the packet carried, the
	// (first, last] epochs it covers.
	Epochs map[replica.ID][2]uint64
	// Tables counts, per table, what the import did to its rows.
	Tables    map[string]*TableCounts
	Transfers int // mastership transfers applied
	// Conflicts lists the creation conflicts the import settled: rows two
	// replicas created with the same primary key.
	Conflicts []Conflict
	// Duplicate is set when the packet brought no epoch, registry entry,
	// migration or code page change this replica did not have.
	Duplicate bool
	// RefusedKeys lists replicas whose registry entries in the packet no
	// rule could check here (self-signed entries of a replica never heard
	// of, or created by a replica unknown or removed here): they were left
	// out. An entry that breaks a rule refuses the packet instead, with
	// ErrRegistryProof.
	RefusedKeys []replica.ID
	// Part is the part number of a part of a split export (0 for a whole
	// packet); Parts the number of parts, once the last has come.
	Part, Parts int
	// Held says the part is kept until the parts in Missing come too;
	// then the export applies as one packet.
	Held bool
	// Missing lists the part numbers not yet held (a part number above
	// every one held is missing too while Parts is 0).
	Missing []int
	// Restored is set when this import completed a restore from backup:
	// every member has sent what the replica lost, and it is active again.
	Restored bool
	// CodePage is set when the packet changed the family's data code page.
	CodePage string
	// Migrated lists the application migrations (by version) the packet
	// brought and this import applied before its rows.
	Migrated []int64
	Bytes    int64 // packet bytes read
	// Collisions lists the unique-key collisions (not the primary key)
	// this import settled by renaming a record; see [Collision].
	Collisions []Collision
}

// TableCounts counts what an import did to one table's rows.
type TableCounts struct {
	Inserted  int // rows created
	Updated   int // rows changed
	Deleted   int // rows deleted
	Unchanged int // row images not newer than what the replica held
}

// Conflict is a creation conflict an import settled: two replicas created
// a row with the same primary key independently. The winner's record
// stays in the table; the loser's is kept in ms_conflict.
type Conflict struct {
	Table   string     // the table of the row
	Key     string     // the primary key, formatted
	Winner  replica.ID // creator whose record stays in the table
	Loser   replica.ID // creator whose record was moved to ms_conflict
	Version uint64     // the row version the winner's record has
}

// CreateOptions controls CreateReplica. The zero value checks the packet
// against the key it carries for its origin, accepts a packet of up to
// DefaultMaxCreationSize bytes, logs nothing and reports no progress.
type CreateOptions struct {
	Logger *slog.Logger // nil means silent
	// OriginKey, if set, is the public key the creating replica must have
	// signed with. Without it the packet is checked against the key it
	// carries for its origin, which proves it is intact but not who made it.
	OriginKey ed25519.PublicKey
	// MaxPacketSize is the largest packet accepted, in bytes of the
	// uncompressed stream; a larger one fails with syncpkt.ErrTooLarge and
	// changes nothing. 0 means DefaultMaxCreationSize; a negative value
	// means no limit.
	MaxPacketSize int64
	// MaxRowSize, MaxRecords and MaxMeta are as in ImportOptions, with the
	// same defaults.
	MaxRowSize, MaxRecords, MaxMeta int64
	// Progress, if set, is told the packet bytes read so far and the
	// packet's size (0 unless the reader is a regular file or has Len),
	// about every 256 KiB and at the end. It is called on the goroutine
	// that reads the packet, never twice at once.
	Progress func(read, size int64)
	// OnProgress, if set, is told the rows created and the bytes of the
	// uncompressed stream decoded about every 256 KiB, then once, with
	// Phase ProgressCommit, when the rest is the transaction's commit. It
	// is called on the goroutine that calls CreateReplica.
	OnProgress func(ImportProgress)
}

// Phases of an import or a creation, in ImportProgress.Phase.
const (
	// ProgressRead: the packet is being read, decoded and applied.
	ProgressRead = "read"
	// ProgressCommit: the packet has been read to its end; what is left
	// is final checks and the transaction's commit, which no count
	// measures.
	ProgressCommit = "commit"
)

// ImportProgress tells how far an import or a creation has come, to an
// OnProgress callback (ImportOptions, CreateOptions). Counts cover the
// whole import: every part of a split export.
type ImportProgress struct {
	Phase       string // ProgressRead, then ProgressCommit once, last
	PacketBytes int64  // bytes of the packet read (compressed, if it is)
	PacketSize  int64  // the packet's size if the reader tells it (a regular file, a Len method), else 0
	Bytes       int64  // bytes of the uncompressed stream decoded
	Rows        int    // row images applied (inserted, updated, deleted or unchanged)
}

// CreateReplica brings a new replica to life in db, which must hold no
// tables the packet creates, from a creation packet made by Replicate. The
// replica makes its own signing key pair, which its first packet to its
// creator enrols (see Replicate). The replica starts receive-only: it
// imports packets but refuses local writes and exports nothing until
// SetState makes it active. One transaction.
func CreateReplica(ctx context.Context, db *sql.DB, r io.Reader, opt CreateOptions) (*ImportReport, error) {
	d, err := dialectOf(db, "")
	if err != nil {
		return nil, err
	}
	rep, err := engine.CreateReplica(ctx, db, d, r, engineCreateOptions(opt))
	return importReport(rep), publicError(err)
}

// ExportOptions controls ExportPacket. The zero value exports every change
// the target lacks, logs nothing and reports no progress.
type ExportOptions struct {
	Dialect  Dialect               // "" detects it
	Logger   *slog.Logger          // nil means silent
	Progress func(done, total int) // nil means no callbacks
	// Uncompressed turns off the zstd compression of the packet body.
	Uncompressed bool
	// Policy, if set, decides before sealing which replica masters each
	// row this replica masters and changed (mastership.Field,
	// mastership.PerTable, ...); the transfers travel in this packet. Nil
	// keeps rows with their creator.
	Policy mastership.Policy
	// Hooks, if set, runs BeforeExport in the export's transaction; its
	// error aborts the export with a *hooks.Error and nothing changed.
	Hooks *hooks.Hooks
	// ResendAfter, if positive, sends again what was sent to the target at
	// least this long ago and is still not acknowledged. Zero resends only
	// what the target reports missing.
	ResendAfter time.Duration
	// MaxSize, if positive, splits the export into numbered parts of at
	// most MaxSize bytes before compression (compressed parts are
	// smaller; a part is larger only if one row on its own is). Each part
	// is a packet with its own header and signature; the receiver holds
	// parts until it has them all, in any order, then applies them as one
	// packet (ImportReport.Held, Missing). The first part goes to w,
	// part n ≥ 2 to the writer NextPart(n) returns, which MaxSize needs
	// (ErrNoNextPart otherwise). ExportStats.Parts counts them.
	MaxSize int64
	// NextPart returns the writer for part n ≥ 2 of an export split by
	// MaxSize; nil is fine while no export needs a second part.
	NextPart func(n int) (io.Writer, error)
	// Request, for RecoverPacket only, is an acknowledgement the target
	// wrote with WriteAck: its vector says exactly what the target holds.
	Request io.Reader
}

// ErrNoNextPart is returned by an export with MaxSize that needs a second
// part and has no ExportOptions.NextPart to write it to.
var ErrNoNextPart = engine.ErrNoNextPart

// ExportPacket writes to w a packet with every change target lacks, by what
// db knows of target: what target acknowledged (by its own packets or
// WriteAck) or, if later, what earlier exports sent it, so each change
// travels once. A lost packet is sent again when target reports the gap
// it leaves (its next packet or acknowledgement does) or, with
// opt.ResendAfter, when its acknowledgement is overdue. Pending local
// changes are sealed into a new epoch first.
func ExportPacket(ctx context.Context, db *sql.DB, target replica.ID, w io.Writer, opt ExportOptions) (ExportStats, error) {
	d, err := ready(ctx, db, opt.Dialect)
	if err != nil {
		return ExportStats{}, err
	}
	st, err := engine.Export(ctx, db, d, target, w, engineExportOptions(opt, nil))
	return exportStats(st), publicError(err)
}

// WriteAck writes to w an acknowledgement for target: a small signed
// packet with what db's replica holds of every origin and the gaps it
// found in target's packets, and no changes. Importing it at target
// confirms what arrived (so target sends only what is newer) and makes
// target resend what a gap shows lost. A receive-only replica may write
// one. Given to RecoverPacket (ExportOptions.Request) it is a request for
// exactly what db's replica lacks. It returns the vector it carries.
func WriteAck(ctx context.Context, db *sql.DB, target replica.ID, w io.Writer) (replica.Vector, error) {
	d, err := ready(ctx, db, "")
	if err != nil {
		return nil, err
	}
	v, err := engine.WriteAck(ctx, db, d, target, w)
	return v, publicError(err)
}

// Default size limits of ImportPacket and CreateReplica, so that a packet
// from a network peer (an HTTP request body, say) cannot make the importer
// read an endless or hostile stream: it is cut off at the limit with
// syncpkt.ErrTooLarge and nothing changes. Both count the decompressed
// stream, so a decompression bomb stops at the limit too.
const (
	// DefaultMaxPacketSize is the largest sync packet ImportPacket accepts
	// when ImportOptions.MaxPacketSize is 0: 1 GiB of uncompressed stream.
	DefaultMaxPacketSize int64 = 1 << 30
	// DefaultMaxRowSize is the largest single row (record) ImportPacket
	// and CreateReplica accept when MaxRowSize is 0: 2 MiB. A receiver
	// holds a few copies of a row while it applies it, and this keeps the
	// memory an import takes, whatever the packet, under 64 MiB.
	DefaultMaxRowSize int64 = 2 << 20
	// DefaultMaxRecords is how many records other than rows and transfers
	// (tables, registry entries, settings, sealed statements) a packet may
	// hold when MaxRecords is 0.
	DefaultMaxRecords int64 = syncpkt.DefaultMaxRecords
	// DefaultMaxMeta is how many bytes those records may take together
	// when MaxMeta is 0: 16 MiB.
	DefaultMaxMeta int64 = syncpkt.DefaultMaxMeta
	// DefaultMaxCreationSize is the largest creation packet CreateReplica
	// accepts when CreateOptions.MaxPacketSize is 0: 64 GiB, since a
	// creation packet holds the whole database.
	DefaultMaxCreationSize int64 = 64 << 30
)

// ImportOptions controls ImportPacket. The zero value accepts packets of
// up to DefaultMaxPacketSize bytes, rows of up to DefaultMaxRowSize and
// up to DefaultMaxRecords other records of DefaultMaxMeta bytes in all,
// logs nothing, runs no hook and reports no progress.
type ImportOptions struct {
	Dialect Dialect      // "" detects it
	Logger  *slog.Logger // nil means silent
	// MaxPacketSize is the largest packet accepted, in bytes of the
	// uncompressed stream; a larger one fails with syncpkt.ErrTooLarge and
	// changes nothing. 0 means DefaultMaxPacketSize; a negative value
	// (-1) means no limit, for packets from a trusted source only (the
	// first export after activation carries every row).
	MaxPacketSize int64
	// MaxRowSize is the largest single row (record) in bytes; 0 or less
	// means DefaultMaxRowSize.
	MaxRowSize int64
	// MaxRecords is the most records other than rows and transfers
	// (tables, registry entries, settings, sealed statements) a packet
	// may hold; one more fails with syncpkt.ErrTooLarge and changes
	// nothing. 0 means DefaultMaxRecords; negative means no limit.
	MaxRecords int64
	// MaxMeta is the most bytes those records may take together; 0 means
	// DefaultMaxMeta; negative means no limit.
	MaxMeta int64
	// Hooks, if set, runs AfterImportChange, AfterImportPacket,
	// OnCollision and OnRequest in the import's transaction; a hook error
	// aborts the import with a *hooks.Error and nothing changed.
	Hooks *hooks.Hooks
	// Progress, if set, is told the packet bytes read so far and the
	// packet's size (0 unless r is a regular file or has a Len method),
	// about every 256 KiB and at the end. The library prints nothing. It
	// is called on the goroutine that reads the packet, never twice at
	// once.
	Progress func(read, size int64)
	// OnProgress, if set, is told the rows applied and the bytes of the
	// uncompressed stream decoded about every 256 KiB and at the end of
	// the packet, then once, with Phase ProgressCommit, when what is left
	// is final checks and the commit. It is called on the goroutine that
	// calls ImportPacket. Progress and OnProgress may both be set.
	OnProgress func(ImportProgress)
}

// ImportPacket applies a sync packet in one transaction. It checks the
// format, family, target, origin, schema version, code page, the origin's
// signature and its right to change every row it changes; any failure
// returns a typed error and leaves db's data and epoch matrix as they were
// (a refused packet whose signature holds is noted for its sender, below).
// Importing the same
// packet again changes nothing more. A packet that starts after what db
// holds (one before it was lost, or comes later) is refused with
// replica.ErrGap, nothing changed, and the gap is noted: db's next packet
// or acknowledgement (WriteAck) to the sender reports it, and the sender
// resends from what db holds. An acknowledgement packet records what its
// sender holds; a part of a split export is held until every part has
// come (ImportReport.Held, Missing), then all apply as one packet.
//
// The packet is read and decoded on a goroutine of its own, a little ahead
// of the rows being applied, so that decompression and verification use
// another core; ImportPacket returns only once that goroutine has stopped
// reading r.
func ImportPacket(ctx context.Context, db *sql.DB, r io.Reader, opt ImportOptions) (*ImportReport, error) {
	d, err := ready(ctx, db, opt.Dialect)
	if err != nil {
		return nil, err
	}
	rep, err := engine.Import(ctx, db, d, r, engineImportOptions(opt))
	return importReport(rep), publicError(err)
}

// TransferMastership hands rows of table, named by their primary key
// values, to replica to. Every row must exist and be mastered by db's
// replica, or nothing changes (*mastership.NotMasterError,
// mastership.ErrNoRow). The transfer travels in the next packet; once
// to imports it, to may change the rows and db may not.
func TransferMastership(ctx context.Context, db *sql.DB, table string, to replica.ID, keys ...[]any) (int, error) {
	d, err := ready(ctx, db, "")
	if err != nil {
		return 0, err
	}
	if len(keys) == 0 {
		return 0, fmt.Errorf("mastership: no rows named")
	}
	return withPublicError(engine.Transfer(ctx, db, d, table, to, keys))
}

// SetState changes the local replica's lifecycle state: a new replica goes
// from replica.ReceiveOnly to replica.Active once validated.
func SetState(ctx context.Context, db *sql.DB, state replica.State) error {
	d, err := ready(ctx, db, "")
	if err != nil {
		return err
	}
	return publicError(engine.SetState(ctx, db, d, state))
}

// NextID returns a new integer key for table from the local replica's key
// range (see replica.KeyRange). Replicas never hand out the same key, so
// rows created at different sites never collide, and within a replica the
// key comes from the table's one atomic generator (a sequence on
// PostgreSQL and MariaDB, the ms_key counter on SQLite), which an INSERT
// that leaves the key out draws from too: concurrent callers, in any
// process, never get the same key, whether tx is the transaction that
// will insert the row or nil (the key is then taken on its own). A key
// taken and not used is skipped, never handed out again. On SQLite, pass
// the transaction before it reads anything, or open it with
// _txlock=immediate: NextID writes the counter and takes the write lock
// first. Errors: ErrKeyRange when the range is used up, or when tx is
// given and the table has no generator yet (a database activated by an
// older version; Repair sets them up). Safe for concurrent use.
func NextID(ctx context.Context, db *sql.DB, tx *sql.Tx, table string) (int64, error) {
	d, err := ready(ctx, db, "")
	if err != nil {
		return 0, err
	}
	return withPublicError(engine.NextID(ctx, db, tx, d, table))
}

// ContentHash returns a hash of every replicated table's rows and masters.
// Replicas holding the same replicated data have the same hash.
func ContentHash(ctx context.Context, db *sql.DB) (string, error) {
	d, err := ready(ctx, db, "")
	if err != nil {
		return "", err
	}
	return withPublicError(engine.ContentHash(ctx, db, d))
}

// CharsetViolation is one character stored in the database that a code
// page cannot represent.
type CharsetViolation struct {
	Table string `json:"table"` // the table holding the string
	// Key is the row's primary key, formatted, or "#n" (row n in scan
	// order) for a table without one.
	Key    string `json:"key"`
	Column string `json:"column"` // the column holding the string
	Offset int    `json:"offset"` // byte offset in the value
	Rune   rune   `json:"rune"`   // the character; utf8.RuneError for invalid UTF-8
	Char   string `json:"char"`   // the offending character (or raw byte)
}

// String formats the violation for a person:
// "table[key].column: U+00E9 "é" at byte 3".
func (v CharsetViolation) String() string { return engineCharsetViolation(v).String() }

// CharsetReport is the result of ValidateCharset.
type CharsetReport struct {
	CodePage   string             `json:"code_page"`  // the code page checked, by its name
	Tables     int                `json:"tables"`     // tables scanned
	Rows       int64              `json:"rows"`       // rows scanned
	Strings    int64              `json:"strings"`    // text values checked
	Bytes      int64              `json:"bytes"`      // bytes of text checked
	Violations []CharsetViolation `json:"violations"` // the characters found, at most CharsetOptions.Max
	Truncated  bool               `json:"truncated"`  // more violations than CharsetOptions.Max were found
	// Columns lists text columns whose storage cannot hold every character
	// of the code page (MariaDB utf8mb3 columns under UTF-8): none of their
	// values is a violation yet, but an import of such a character for them
	// will be refused. Convert them (to utf8mb4) before the family uses
	// such characters.
	Columns []NarrowColumn `json:"narrow_columns,omitempty"`
}

// CharsetOptions controls ValidateCharset. The zero value checks every
// table and keeps every violation.
type CharsetOptions struct {
	Tables []string // nil means every user table
	Max    int      // most violations kept in the report; 0 means all
	// OnViolation, if set, is called for each violation as it is found; a
	// non-nil error stops the scan and is returned.
	OnViolation func(CharsetViolation) error
}

// ValidateCharset reports every string in db's tables that does not fit the
// code page named codePage (by name, alias or number: "windows-1252",
// "1252", "Shift_JIS"): table, key, column, byte offset and character. It
// streams, so memory does not grow with the database. Run it before
// Activate and fix what it finds; an unknown code page is a
// *codepage.UnknownError.
func ValidateCharset(ctx context.Context, db *sql.DB, codePage string, opt CharsetOptions) (*CharsetReport, error) {
	d, err := ready(ctx, db, "")
	if err != nil {
		return nil, err
	}
	cp, err := codepage.Lookup(codePage)
	if err != nil {
		return nil, err
	}
	rep, err := engine.ValidateCharset(ctx, db, d, cp, engineCharsetOptions(opt))
	return charsetReport(rep), publicError(err)
}

// Status is what a replica knows of itself and its family.
type Status struct {
	Family   string         // the family's ID
	Local    replica.Info   // the local replica's registry entry
	CodePage string         // the family's data code page
	Epoch    uint64         // the local replica's newest sealed epoch
	Replicas []replica.Info // the registry, by number; [FindReplica] looks one up by name
	// Matrix holds what each replica holds (or is believed to hold) of
	// each origin: the epoch vectors learned from packets.
	Matrix   map[replica.ID]replica.Vector
	KeyRange [2]int64 // the local replica's integer key range, inclusive
	Tables   []string // replicated tables
	// Pending counts, per table, the captured changes not yet sealed into
	// an epoch.
	Pending map[string]int
}

// ReadStatus reads db's replica status.
func ReadStatus(ctx context.Context, db *sql.DB) (*Status, error) {
	d, err := ready(ctx, db, "")
	if err != nil {
		return nil, err
	}
	st, err := engine.ReadStatus(ctx, db, d)
	return status(st), publicError(err)
}

// PlanDeactivation returns, without changing anything, the statements
// Deactivate would run.
func PlanDeactivation(ctx context.Context, db *sql.DB) (schema.Plan, error) {
	d, err := ready(ctx, db, "")
	if err != nil {
		return schema.Plan{}, err
	}
	return withPublicError(engine.PlanDeactivation(ctx, db, d))
}

// Deactivate removes everything the library added to db (triggers, shadow
// tables, transfer logs, the mastership field, metadata tables), leaving
// the user's tables and rows as they are. The replica leaves the family
// without telling it; remove it from the family first if it masters rows
// others need. One transaction.
func Deactivate(ctx context.Context, db *sql.DB) error {
	d, err := ready(ctx, db, "")
	if err != nil {
		return err
	}
	return publicError(engine.Deactivate(ctx, db, d))
}

// RotateKey replaces db's replica's signing key pair. The new public key is
// endorsed by the old one, with the rotation's date, and reaches the family
// in the next packets with the chain of earlier rotations; a replica that
// has taken it accepts the old key only on packets dated before the
// rotation, and no other successor of the old key. Rotate when a key may
// have leaked, and send the rotation to every member promptly: a member
// that has not seen it cannot know the old key is retired.
func RotateKey(ctx context.Context, db *sql.DB) (replica.Info, error) {
	d, err := ready(ctx, db, "")
	if err != nil {
		return replica.Info{}, err
	}
	return withPublicError(engine.RotateKey(ctx, db, d))
}

// ChangeCodePage changes the data code page of db's family, by name or
// number. db's replicated data must fit the new page (else a
// *CharsetError names the first string to clean). The change travels in
// the next packets; every replica takes it once its own data fits, and
// until then refuses packets with a *CharsetError saying what to clean.
// No replica is re-created. Only the family's schema master may change the
// code page (a *schema.NotSchemaMasterError elsewhere): the change travels
// with its proof, and a change without it is refused (ErrAuthority).
func ChangeCodePage(ctx context.Context, db *sql.DB, codePage string) error {
	d, err := ready(ctx, db, "")
	if err != nil {
		return err
	}
	_, err = engine.ChangeCodePage(ctx, db, d, codePage)
	return publicError(err)
}

// CleanOptions controls CleanCharset; the zero value is a dry run that
// would replace each unrepresentable character with "?".
type CleanOptions struct {
	Strategy    codepage.Strategy // codepage.Replace (the zero value), Transliterate or Drop
	Replacement string            // for codepage.Replace; "" means "?"
	Apply       bool              // false: report only (a dry run)
	// Tables limits the clean-up to these tables; nil means every
	// replicated table (every table before activation).
	Tables []string
}

// CleanReport lists what CleanCharset changed or would change.
type CleanReport struct {
	CodePage string        // the code page cleaned for, by its name
	Changes  []CleanChange // every value changed or to change
	Applied  int           // values changed here
	// Elsewhere counts values whose row another replica masters: clean
	// them there.
	Elsewhere int
}

// CleanChange is one value CleanCharset changes or would change.
type CleanChange struct {
	Table  string     // the table of the row
	Key    string     // the row's primary key, formatted
	Column string     // the column holding the value
	Before string     // the stored value
	After  string     // the value that fits the code page
	Master replica.ID // the row's master; "" for a table that is not replicated
	// Applied is set when the value was changed in the database (only at
	// the row's master, and only with CleanOptions.Apply).
	Applied bool
}

// CleanCharset makes stored strings fit the code page codePage by a
// strategy (codepage.Replace, Transliterate or Drop). Without opt.Apply it
// only reports, so an administrator can review the dry run first. With
// Apply it changes, in one transaction, the values of rows db's replica
// masters, as ordinary writes that replicate like any edit; values in rows
// mastered elsewhere are reported (CleanReport.Elsewhere) for their master
// to clean. Before activation every table is cleaned.
func CleanCharset(ctx context.Context, db *sql.DB, codePage string, opt CleanOptions) (*CleanReport, error) {
	d, err := ready(ctx, db, "")
	if err != nil {
		return nil, err
	}
	cp, err := codepage.Lookup(codePage)
	if err != nil {
		return nil, err
	}
	rep, err := engine.CleanCharset(ctx, db, d, cp, engineCleanOptions(opt))
	return cleanReport(rep), publicError(err)
}

// RestoreReplica brings back a replica whose database was restored from an
// older backup of itself. Run it on the restored database before anything
// else. The replica refuses local writes and hands out no epoch until every
// writing member has sent it a packet; those packets carry what it lost,
// including the changes it made after the backup that others already have,
// and it never reuses an epoch others have seen from it. It then becomes
// active again by itself (ImportReport.Restored). Packets made for it
// before the restore are refused with replica.ErrGap and are not needed.
// To tell the members at once, write each an acknowledgement (WriteAck):
// it carries the new incarnation and what db holds, and their next packets
// then connect in any order.
func RestoreReplica(ctx context.Context, db *sql.DB) (replica.Info, error) {
	d, err := ready(ctx, db, "")
	if err != nil {
		return replica.Info{}, err
	}
	return withPublicError(engine.RestoreReplica(ctx, db, d))
}

// RemoveOptions controls RemoveReplica. The zero value refuses to remove a
// replica that masters anything.
type RemoveOptions struct {
	// TransferTo, if set, receives the mastership of every row (deleted
	// ones included) the replica masters before it leaves.
	TransferTo replica.ID
}

// MastersRowsError lists what a replica still masters when RemoveReplica
// refuses to remove it; errors.Is(err, ErrMastersRows).
type MastersRowsError struct {
	Replica replica.ID     // the replica asked to leave
	Tables  map[string]int // per table, the rows it masters
}

func (e *MastersRowsError) Error() string { return engineMastersRowsError(e).Error() }

// Unwrap returns ErrMastersRows.
func (e *MastersRowsError) Unwrap() error { return ErrMastersRows }

// ErrMastersRows is returned by RemoveReplica for a replica that still
// masters rows.
var ErrMastersRows = engine.ErrMastersRows

// RemoveReplica takes db's replica out of its family. It refuses while the
// replica masters rows (*MastersRowsError lists them) unless
// opt.TransferTo names the replica that takes them over. The replica is
// marked removed in the registry and refuses local writes; export to every
// member once more so the family learns it (and gets the transfers), then
// retire the database.
func RemoveReplica(ctx context.Context, db *sql.DB, opt RemoveOptions) (replica.Info, error) {
	d, err := ready(ctx, db, "")
	if err != nil {
		return replica.Info{}, err
	}
	info, err := engine.RemoveReplica(ctx, db, d, engine.RemoveOptions{TransferTo: opt.TransferTo})
	return info, publicError(err)
}

// PruneStats counts what Prune removed.
type PruneStats struct {
	Tombstones int64 // deleted rows' shadow entries
	Transfers  int64 // logged mastership transfers
	Requests   int64 // settled mastership requests (granted, denied, failed)
	// Horizon holds, per origin, the epoch up to which history is gone.
	Horizon replica.Vector
}

// PrunedError reports a replica further behind than what was pruned;
// errors.Is(err, ErrPruned). Re-create it from a creation packet.
type PrunedError struct {
	Target replica.ID // the replica the export was for
	Origin replica.ID // the origin whose pruned history Target lacks
	Has    uint64     // epoch of Origin the target holds
	Pruned uint64     // epoch of Origin up to which tombstones were pruned
}

func (e *PrunedError) Error() string { return enginePrunedError(e).Error() }

// Unwrap returns ErrPruned.
func (e *PrunedError) Unwrap() error { return ErrPruned }

// ErrPruned is returned when an export cannot bring a target up to date
// because history it lacks was pruned.
var ErrPruned = engine.ErrPruned

// Prune removes tombstones and logged mastership transfers every other
// member has acknowledged (by the vectors in the packets they sent), so the
// change log stays bounded. A member that does not acknowledge holds
// pruning back.
func Prune(ctx context.Context, db *sql.DB) (PruneStats, error) {
	d, err := ready(ctx, db, "")
	if err != nil {
		return PruneStats{}, err
	}
	st, err := engine.Prune(ctx, db, d)
	return pruneStats(st), publicError(err)
}

// RecoverPacket writes a packet for target that resends what target
// lacks, per origin: of each origin named in since, every change after its
// epoch; of every other origin, every change after what target last
// acknowledged (not what was sent it), so a nil since resends exactly what
// target has not confirmed. With opt.Request, an acknowledgement target
// wrote (WriteAck), target's own vector replaces the acknowledged one: the
// packet carries exactly what it lacks (like comparing lsepoch at both
// sites). History pruned since is never resent.
func RecoverPacket(ctx context.Context, db *sql.DB, target replica.ID, since replica.Vector, w io.Writer, opt ExportOptions) (ExportStats, error) {
	d, err := ready(ctx, db, opt.Dialect)
	if err != nil {
		return ExportStats{}, err
	}
	rec := replica.Vector{}
	if opt.Request != nil {
		if rec, err = engine.ReadAck(ctx, db, d, target, opt.Request); err != nil {
			return ExportStats{}, err
		}
	}
	for o, e := range since {
		rec[o] = e
	}
	st, err := engine.Export(ctx, db, d, target, w, engineExportOptions(opt, rec))
	return exportStats(st), publicError(err)
}
