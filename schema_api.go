package multisite

import (
	"context"
	"database/sql"
	"log/slog"

	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/internal/engine"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/schema"
)

// ready returns db's dialect after bringing the metadata tables of a
// replica written by an older library up to this library's format: every
// operation on a replica starts here, so a newer library opens an older
// database transparently. A database of a newer library is refused with a
// *schema.VersionError (errors.Is(err, schema.ErrNewerFormat)).
func ready(ctx context.Context, db *sql.DB, d Dialect) (dialect.Dialect, error) {
	dd, err := dialectOf(db, d)
	if err != nil {
		return nil, err
	}
	if _, _, err := engine.Upgrade(ctx, db, dd); err != nil {
		return nil, publicError(err)
	}
	return dd, nil
}

// MetadataFormat is the format of the metadata tables this library
// writes. Each release that changes them adds a step from the previous
// format, run in place by UpgradeMetadata.
const MetadataFormat = schema.LatestFormat

// PlanUpgrade returns, without changing anything, the statements that
// UpgradeMetadata would run on db, and db's metadata format now. The plan
// is empty for a database at MetadataFormat.
func PlanUpgrade(ctx context.Context, db *sql.DB) (schema.Plan, int, error) {
	d, err := dialectOf(db, "")
	if err != nil {
		return schema.Plan{}, 0, err
	}
	plan, format, err := engine.PlanUpgrade(ctx, db, d)
	return plan, format, publicError(err)
}

// UpgradeMetadata migrates the library's metadata tables in db forward to
// MetadataFormat and returns the formats before and after. Every other
// function of this package does it by itself first; call it to upgrade at
// a time of your choosing. A database written by a newer library is
// refused with a *schema.VersionError naming both formats.
func UpgradeMetadata(ctx context.Context, db *sql.DB) (from, to int, err error) {
	d, err := dialectOf(db, "")
	if err != nil {
		return 0, 0, err
	}
	from, to, err = engine.Upgrade(ctx, db, d)
	if err == nil && from == 0 {
		return 0, 0, ErrNotActivated
	}
	return from, to, publicError(err)
}

// MigrateOptions controls Migrate. The zero value applies every pending
// migration and logs nothing.
type MigrateOptions struct {
	// To applies migrations up to this version, which must be one of the
	// migrations; 0 means all.
	To int64
	// DryRun plans only: on SQLite and PostgreSQL everything runs and is
	// rolled back; on MySQL, where DDL cannot be rolled back, only the
	// migrations' SQL is listed.
	DryRun bool
	Logger *slog.Logger // nil means silent
}

// MigrateReport tells what Migrate did, or would do in a dry run.
type MigrateReport struct {
	From int64 // schema version before
	To   int64 // schema version after
	// Applied lists the migrations applied, in order (Func left out).
	Applied    []schema.Migration
	Replicated []string // tables the migrations created, now replicated
	Changed    []string // replicated tables whose columns changed
	Dropped    []string // replicated tables the migrations dropped
	// Plan holds every statement run, in order: the migrations' SQL and
	// the replication set-up that followed. In a dry run on MySQL, where
	// DDL cannot be rolled back, only the migrations' SQL.
	Plan schema.Plan
}

// MigrationStatus is one migration's state at a replica (see Migrations):
// applied or pending, and whether an applied one's text changed since.
type MigrationStatus struct {
	Version   int64  // the migration's version
	Name      string // the migration's name
	Applied   bool   // applied at this replica
	AppliedAt string // when, as RFC 3339 text in UTC; "" if pending
	AppliedBy string // the ID of the replica that applied it here; "" if pending
	Changed   bool   // applied with another checksum than its text has now
	Missing   bool   // applied here, not among the migrations given
}

// Migrate applies the application migrations of migs that db's replica
// has not applied yet, in version order. db's replica must be the family's
// schema master (*schema.NotSchemaMasterError otherwise; the replica that
// activated the family, until TransferSchemaMaster). After each migration
// the tables and columns it added are replicated without re-creating any
// replica: a new table gets the mastership field (its rows are the schema
// master's), shadow, transfer log and triggers; a changed table its
// triggers anew. Each migration is recorded (ms_migration: version, name,
// checksum, when, by whom) and raises the schema version; it then travels
// in every packet to every replica, which applies it before the packet's
// rows.
//
// A migration applied before whose text changed is refused with a
// *schema.ChecksumError, opt.To naming no migration with a
// *schema.UnknownVersionError; in both cases, and on any failure, nothing
// changes (on MySQL/MariaDB, where DDL commits by itself, the statements of
// the failing migration that ran stay, listed in the *schema.ApplyError).
// opt.DryRun returns the exact statements without keeping them.
func Migrate(ctx context.Context, db *sql.DB, migs []schema.Migration, opt MigrateOptions) (*MigrateReport, error) {
	d, err := ready(ctx, db, "")
	if err != nil {
		return nil, err
	}
	rep, err := engine.Migrate(ctx, db, d, migs, engine.MigrateOptions{To: opt.To, DryRun: opt.DryRun, Logger: opt.Logger})
	return migrateReport(rep), publicError(err)
}

// Migrations reports, for each of migs and each migration applied at db's
// replica, whether it is applied there, when and by whom, and whether its
// text changed since (goose's status).
func Migrations(ctx context.Context, db *sql.DB, migs []schema.Migration) ([]MigrationStatus, error) {
	d, err := ready(ctx, db, "")
	if err != nil {
		return nil, err
	}
	st, err := engine.Migrations(ctx, db, d, migs)
	return migrationStatuses(st), publicError(err)
}

// SchemaMaster returns the replica that masters the family's schema, as
// db's replica knows it.
func SchemaMaster(ctx context.Context, db *sql.DB) (replica.ID, error) {
	if _, err := ready(ctx, db, ""); err != nil {
		return "", err
	}
	return withPublicError(engine.SchemaMaster(ctx, db))
}

// TransferSchemaMaster hands mastership of the family's schema from db's
// replica, which must hold it, to the member to. The hand-over travels in
// the next packets; to then applies the migrations after the current
// schema version. Transfer it before removing the schema master from the
// family.
func TransferSchemaMaster(ctx context.Context, db *sql.DB, to replica.ID) error {
	d, err := ready(ctx, db, "")
	if err != nil {
		return err
	}
	return publicError(engine.TransferSchemaMaster(ctx, db, d, to))
}

// SchemaStatus reports db's replica's metadata format, schema version and
// master, the migrations applied, and for every table whether it is
// replicated, has its mastership field, shadow and transfer log, and
// capture and enforcement triggers as the library creates them (a trigger
// dropped, edited or disabled by hand shows as missing or altered), and
// the rows VerifyRows finds outside the rules (Report.Rows). It reads
// every replicated row once.
func SchemaStatus(ctx context.Context, db *sql.DB) (*schema.Report, error) {
	d, err := ready(ctx, db, "")
	if err != nil {
		return nil, err
	}
	return withPublicError(engine.SchemaStatus(ctx, db, d))
}

// VerifyRows compares every replicated row with its shadow entry and the
// fingerprint the entry keeps of the row's image, and lists the rows a
// bypass of the triggers left outside the rules: changed, inserted or
// deleted while triggers were dropped or disabled, or with the library's
// switch set by hand, or whose shadow entry was edited or deleted. Repair
// brings them back. It reads every replicated row once, in one snapshot.
func VerifyRows(ctx context.Context, db *sql.DB) (*schema.RowReport, error) {
	d, err := ready(ctx, db, "")
	if err != nil {
		return nil, err
	}
	return engine.VerifyRows(ctx, db, d)
}

// PlanRepair returns, without changing anything, the statements Repair
// would run: the triggers of every replicated table whose triggers are
// missing or altered, dropped and created again, then the rows VerifyRows
// finds brought back into the rules.
func PlanRepair(ctx context.Context, db *sql.DB) (schema.Plan, error) {
	d, err := ready(ctx, db, "")
	if err != nil {
		return schema.Plan{}, err
	}
	return withPublicError(engine.PlanRepair(ctx, db, d))
}

// Repair re-creates the missing or altered triggers SchemaStatus reports
// and brings the rows VerifyRows finds back into the rules, in one
// transaction (on MySQL, where DDL commits by itself, statement by
// statement), and returns the statements it ran. A row this replica
// masters is recorded again as a local change, so the next export sends
// it; a row another replica masters is set aside for its master to send
// again (RecoverPacket at the master, since the epoch VerifyRows names):
// any image of it from the master then applies. No packet of this replica
// carries a change it had no right to make.
func Repair(ctx context.Context, db *sql.DB) (schema.Plan, error) {
	d, err := ready(ctx, db, "")
	if err != nil {
		return schema.Plan{}, err
	}
	return withPublicError(engine.Repair(ctx, db, d))
}
