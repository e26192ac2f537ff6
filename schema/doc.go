// Package schema holds the vocabulary of every change the library makes to
// a database's schema (the metadata tables, the injected mastership field,
// the shadow and transfer-log tables, and the change-capture and
// enforcement triggers, per dialect): the [Plan] a change is before it
// runs, the application's migrations, the schema status of a replica, and
// the hook and mastership-check templates. The plans themselves are made
// by package multisite (PlanActivation, PlanDeactivation, PlanUpgrade,
// PlanRepair) for the database it is given; this package takes no database
// dialect and never opens a database.
//
// # Plans
//
// A change is first a [Plan]: the exact statements, in order, that an
// administrator can read (Plan.String) before the library runs them
// unchanged in one transaction ([Apply] runs a plan's statements). The same holds for taking a database out of its family
// (multisite.PlanDeactivation), which removes everything activation added
// and leaves the user's tables and rows as they were.
//
//	opt := multisite.ActivateOptions{Name: "boston", Exclude: []string{"audit"}}
//	plan, err := multisite.PlanActivation(ctx, db, opt)
//	fmt.Print(plan)                               // review
//	info, err := multisite.Activate(ctx, db, opt) // then apply
//
// # Metadata format
//
// The library's own tables carry a format ([LatestFormat]). A newer library
// upgrades an older database in place, the first time any operation opens
// it (multisite.PlanUpgrade plans it; multisite.UpgradeMetadata runs it on
// demand); an
// older library refuses a newer database with a *[VersionError] naming both
// formats. A new replica is created at LatestFormat by the same statements
// an upgrade runs, so new and upgraded databases are alike.
//
// # Migrations
//
// A [Migration] is a versioned change of the application's schema: SQL for
// every dialect (Up) or per dialect (SQL), optionally a Go function. Write
// them in Go, or as files read by [FromFS] with goose's names
// (0003_add_priority.sql, 0003_add_priority.postgres.sql; goose's
// "-- +goose Up" sections and StatementBegin/End blocks are understood):
//
//	//go:embed migrations/*.sql
//	var files embed.FS
//
//	migs, err := schema.FromFS(files, "migrations")
//	report, err := multisite.Migrate(ctx, db, migs, multisite.MigrateOptions{DryRun: true}) // read report.Plan
//	report, err = multisite.Migrate(ctx, db, migs, multisite.MigrateOptions{})
//
// Only the family's schema master applies migrations: the replica that
// activated the family, until it hands the schema on
// (multisite.TransferSchemaMaster); elsewhere Migrate fails with a
// *[NotSchemaMasterError]. Each applied migration is recorded with its
// [Migration.Checksum] and signed by the master, raises the schema version,
// and travels in every packet, before any row, to every replica, which
// applies it in the same order: tables and columns it adds are replicated
// there without re-creating the replica. A packet from a replica at another
// schema version is refused with a *[NeedVersionError] that names the
// replica that is behind and the version it needs; its changes are sent
// again once it caught up (a refused packet acknowledges nothing), so
// nothing is lost. An applied migration whose text changed is refused with
// a *[ChecksumError], here or at any replica.
//
// Rules for migration SQL: it runs at every replica with change capture and
// enforcement off, so it must do the same everywhere (DDL, and data fixes
// that depend on the row alone). Rows a migration puts into a new table
// belong to the schema master. Data that only the master can compute goes
// in Func, which runs at the master only, as an ordinary write that
// replicates. The primary key of a replicated table cannot change. On
// MySQL/MariaDB, DDL commits by itself: a migration is applied statement by
// statement (data statements in transactions of their own with capture off)
// and, at a receiving replica, before the import's transaction, once the
// packet's signature is verified; a failed migration there leaves the
// statements that ran.
//
// Why not pressly/goose: goose records versions in a table of each
// database and applies files where it runs. Here a migration must be
// applied at one replica only, travel signed in the packet stream, be
// ordered with the data, come in per-dialect variants, and be followed by
// the library's own re-activation of what it changed; goose's Provider
// offers none of these hooks, and its SQL parser is internal. The file
// naming, annotations, status ([AppliedMigration], multisite.Migrations)
// and dry run follow goose.
//
// # Status and repair
//
// multisite.SchemaStatus compares the catalog with what replication needs,
// per table ([Report], [TableStatus]):
// replicated or not, mastership field, shadow and transfer log, and each
// capture and enforcement trigger compared with the definition the library
// creates today (sqlite_master.sql, pg_trigger with pg_proc.prosrc,
// information_schema.TRIGGERS), so a trigger dropped, edited or disabled by
// hand shows as missing or altered. multisite.PlanRepair plans their
// re-creation and multisite.Repair runs it.
//
// # Templates
//
// [GenerateHooks] writes a Go skeleton of every hook of package hooks;
// [GenerateMastershipCheck] writes, per dialect, triggers that refuse writes
// to a user's table unless the local replica masters the row (or its parent
// row), in a form that can be a migration's SQL.
package schema
