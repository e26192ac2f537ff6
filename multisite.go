package multisite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/multisite-go/multisite/codepage"
	"github.com/multisite-go/multisite/hooks"
	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/internal/engine"
	"github.com/multisite-go/multisite/mastership"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/schema"
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
		return dialect.ByName(dialect.Name(d))
	}
	return dialect.Detect(db)
}

// Errors returned by the façade. Packet-format errors come from syncpkt,
// replica errors (unknown replica, gap, receive-only) from replica,
// mastership errors from mastership and schema errors from schema; all can
// be tested with errors.Is.
var (
	ErrNotActivated  = engine.ErrNotActivated
	ErrActivated     = engine.ErrActivated
	ErrFamily        = engine.ErrFamily
	ErrTarget        = engine.ErrTarget
	ErrKind          = engine.ErrKind
	ErrSchemaVersion = engine.ErrSchemaVersion
	ErrCodePage      = engine.ErrCodePage
	ErrPacket        = engine.ErrPacket
	ErrTableExists   = engine.ErrTableExists
	ErrKeyRange      = engine.ErrKeyRange
	ErrState         = engine.ErrState
	ErrCharset       = engine.ErrCharset
)

// CharsetError names a string in a packet that does not fit the family's
// data code page.
type CharsetError = engine.CharsetError

// MismatchError reports a packet header field that does not match the
// receiving replica (family, target, kind, schema version, code page).
type MismatchError = engine.MismatchError

// Errors about the database itself. ErrUnsupported matches a driver the
// library does not know and a *ServerVersionError; ErrUnreachable matches
// a server that cannot be reached when Activate or CreateReplica starts.
var (
	ErrUnsupported = dialect.ErrUnsupported
	ErrUnreachable = dialect.ErrUnreachable
)

// ServerVersionError reports a database server older than the library
// supports (PostgreSQL 12, MariaDB 10.5, MySQL 8.0).
type ServerVersionError = dialect.ServerVersionError

// ActivateOptions configures Activate. Name is required; the zero value of
// the rest replicates every table under the UTF-8 code page.
type ActivateOptions struct {
	Name     string   // name of the first replica, e.g. "boston"
	CodePage string   // data code page by name or number ("UTF-8", "1252"); "" means UTF-8
	Exclude  []string // tables not to replicate
	Dialect  Dialect  // "" detects it
	Logger   *slog.Logger
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
		return replica.Info{}, err
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
	return plan, err
}

// ReplicateOptions controls Replicate. The zero value logs nothing and
// reports no progress.
type ReplicateOptions struct {
	Dialect  Dialect
	Logger   *slog.Logger
	Progress func(done, total int) // rows written, rows in all
	// Uncompressed turns off the zstd compression of the packet body.
	Uncompressed bool
}

// ExportStats describes a written packet.
type ExportStats = engine.ExportStats

// Replicate registers a new replica called name in db's family and writes
// its replica-creation packet to w. Writers on db are not blocked while the
// packet is written. Carry the packet to the new site and give it to
// CreateReplica there. The packet holds the whole database and the new
// replica's private signing key: protect it like a backup.
func Replicate(ctx context.Context, db *sql.DB, name string, w io.Writer, opt ReplicateOptions) (replica.Info, ExportStats, error) {
	d, err := ready(ctx, db, opt.Dialect)
	if err != nil {
		return replica.Info{}, ExportStats{}, err
	}
	return engine.Replicate(ctx, db, d, name, w, engine.ReplicateOptions{Logger: opt.Logger, Progress: opt.Progress, Uncompressed: opt.Uncompressed})
}

// ImportReport describes an imported packet: rows inserted, updated and
// deleted per table, the origin, the epochs covered, and creation
// conflicts.
type ImportReport = engine.ImportReport

// TableCounts counts what an import did to one table.
type TableCounts = engine.TableCounts

// Conflict is a creation conflict settled during an import.
type Conflict = engine.Conflict

// CreateOptions controls CreateReplica. The zero value checks the packet
// against the key it carries for its origin.
type CreateOptions = engine.CreateOptions

// CreateReplica brings a new replica to life in db, which must hold no
// tables the packet creates, from a creation packet made by Replicate. The
// replica starts receive-only: it imports packets but refuses local writes
// and exports nothing until SetState makes it active. One transaction.
func CreateReplica(ctx context.Context, db *sql.DB, r io.Reader, opt CreateOptions) (*ImportReport, error) {
	d, err := dialectOf(db, "")
	if err != nil {
		return nil, err
	}
	return engine.CreateReplica(ctx, db, d, r, opt)
}

// ExportOptions controls ExportPacket. The zero value exports every change
// the target lacks, logs nothing and reports no progress.
type ExportOptions struct {
	Dialect  Dialect
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
}

// ExportPacket writes to w a packet with every change target lacks, by what
// db knows of target's epoch vector (learned from target's own packets; a
// packet that is lost is simply covered again by the next one). Pending
// local changes are sealed into a new epoch first.
func ExportPacket(ctx context.Context, db *sql.DB, target replica.ID, w io.Writer, opt ExportOptions) (ExportStats, error) {
	d, err := ready(ctx, db, opt.Dialect)
	if err != nil {
		return ExportStats{}, err
	}
	return engine.Export(ctx, db, d, target, w, engine.ExportOptions{Logger: opt.Logger, Progress: opt.Progress, Uncompressed: opt.Uncompressed, Policy: opt.Policy, Hooks: opt.Hooks})
}

// ImportOptions controls ImportPacket. The zero value sets no size limit.
type ImportOptions struct {
	Dialect       Dialect
	Logger        *slog.Logger
	MaxPacketSize int64 // bytes; 0 means no limit
	MaxRowSize    int64 // largest single row (record) in bytes; 0 means 64 MiB
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
}

// ImportPacket applies a sync packet in one transaction. It checks the
// format, family, target, origin, schema version, code page, the origin's
// signature and its right to change every row it changes; any failure
// returns a typed error and leaves db exactly as it was. Importing the same
// packet again, or packets out of order, changes nothing more.
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
	return engine.Import(ctx, db, d, r, engine.ImportOptions{Logger: opt.Logger, MaxPacketSize: opt.MaxPacketSize, MaxRowSize: opt.MaxRowSize, Hooks: opt.Hooks, Progress: opt.Progress})
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
	return engine.Transfer(ctx, db, d, table, to, keys)
}

// SetState changes the local replica's lifecycle state: a new replica goes
// from replica.ReceiveOnly to replica.Active once validated.
func SetState(ctx context.Context, db *sql.DB, state replica.State) error {
	d, err := ready(ctx, db, "")
	if err != nil {
		return err
	}
	return engine.SetState(ctx, db, d, state)
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
	return engine.NextID(ctx, db, tx, d, table)
}

// ContentHash returns a hash of every replicated table's rows and masters.
// Replicas holding the same replicated data have the same hash.
func ContentHash(ctx context.Context, db *sql.DB) (string, error) {
	d, err := ready(ctx, db, "")
	if err != nil {
		return "", err
	}
	return engine.ContentHash(ctx, db, d)
}

// CharsetViolation is one stored character a code page cannot represent.
type CharsetViolation = engine.CharsetViolation

// CharsetReport is the result of ValidateCharset.
type CharsetReport = engine.CharsetReport

// CharsetOptions controls ValidateCharset.
type CharsetOptions = engine.CharsetOptions

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
	return engine.ValidateCharset(ctx, db, d, cp, opt)
}

// Status is what a replica knows of itself and its family.
type Status = engine.Status

// ReadStatus reads db's replica status.
func ReadStatus(ctx context.Context, db *sql.DB) (*Status, error) {
	d, err := ready(ctx, db, "")
	if err != nil {
		return nil, err
	}
	return engine.ReadStatus(ctx, db, d)
}

// PlanDeactivation returns, without changing anything, the statements
// Deactivate would run.
func PlanDeactivation(ctx context.Context, db *sql.DB) (schema.Plan, error) {
	d, err := ready(ctx, db, "")
	if err != nil {
		return schema.Plan{}, err
	}
	return engine.PlanDeactivation(ctx, db, d)
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
	return engine.Deactivate(ctx, db, d)
}

// RotateKey replaces db's replica's signing key pair. The new public key is
// endorsed by the old one and reaches the family in the next packets; a
// replica that has taken it refuses packets signed with the old key.
// Rotate after creating a replica, since its creation packet carried its
// first private key.
func RotateKey(ctx context.Context, db *sql.DB) (replica.Info, error) {
	d, err := ready(ctx, db, "")
	if err != nil {
		return replica.Info{}, err
	}
	return engine.RotateKey(ctx, db, d)
}

// ChangeCodePage changes the data code page of db's family, by name or
// number. db's replicated data must fit the new page (else a
// *CharsetError names the first string to clean). The change travels in
// the next packets; every replica takes it once its own data fits, and
// until then refuses packets with a *CharsetError saying what to clean.
// No replica is re-created.
func ChangeCodePage(ctx context.Context, db *sql.DB, codePage string) error {
	d, err := ready(ctx, db, "")
	if err != nil {
		return err
	}
	_, err = engine.ChangeCodePage(ctx, db, d, codePage)
	return err
}

// CleanOptions controls CleanCharset; the zero value is a dry run that
// would replace each unrepresentable character with "?".
type CleanOptions = engine.CleanOptions

// CleanReport lists what CleanCharset changed or would change.
type CleanReport = engine.CleanReport

// CleanChange is one value CleanCharset changes or would change.
type CleanChange = engine.CleanChange

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
	return engine.CleanCharset(ctx, db, d, cp, opt)
}

// RestoreReplica brings back a replica whose database was restored from an
// older backup of itself. Run it on the restored database before anything
// else. The replica refuses local writes and hands out no epoch until every
// writing member has sent it a packet; those packets carry what it lost,
// including the changes it made after the backup that others already have,
// and it never reuses an epoch others have seen from it. It then becomes
// active again by itself (ImportReport.Restored). Packets made for it
// before the restore are refused with replica.ErrGap and are not needed.
func RestoreReplica(ctx context.Context, db *sql.DB) (replica.Info, error) {
	d, err := ready(ctx, db, "")
	if err != nil {
		return replica.Info{}, err
	}
	return engine.RestoreReplica(ctx, db, d)
}

// RemoveOptions controls RemoveReplica.
type RemoveOptions = engine.RemoveOptions

// MastersRowsError lists what a replica still masters when RemoveReplica
// refuses to remove it; errors.Is(err, ErrMastersRows).
type MastersRowsError = engine.MastersRowsError

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
	return engine.RemoveReplica(ctx, db, d, opt)
}

// PruneStats counts what Prune removed.
type PruneStats = engine.PruneStats

// PrunedError reports a replica further behind than what was pruned;
// errors.Is(err, ErrPruned). Re-create it from a creation packet.
type PrunedError = engine.PrunedError

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
	return engine.Prune(ctx, db, d)
}

// RecoverPacket writes a packet for target that resends every change after
// the epochs in since (nil or empty: everything), whatever db believes
// target holds — multiutil's recoverpacket, for a target that lost
// packets and cannot wait for its acknowledgements to travel. Ordinary
// exports already resend what was not acknowledged.
func RecoverPacket(ctx context.Context, db *sql.DB, target replica.ID, since replica.Vector, w io.Writer, opt ExportOptions) (ExportStats, error) {
	d, err := ready(ctx, db, opt.Dialect)
	if err != nil {
		return ExportStats{}, err
	}
	if since == nil {
		since = replica.Vector{}
	}
	return engine.Export(ctx, db, d, target, w, engine.ExportOptions{Logger: opt.Logger, Progress: opt.Progress, Recover: since, Uncompressed: opt.Uncompressed, Policy: opt.Policy, Hooks: opt.Hooks})
}
