// Package multisite runs one record-keeping SQL database at several sites at
// once. Each site holds its own replica; every record has one master replica
// that alone may change it; changes travel between sites as signed,
// self-describing synchronization packets over any channel a file can take.
//
// The package is a thin façade: it checks arguments, finds the dialect of
// the *sql.DB the caller opened, and delegates to the replica, mastership,
// schema, codepage and syncpkt packages. It never opens a database, never
// registers a driver and prints nothing.
//
// # Lifecycle
//
//	Activate(ctx, db, ActivateOptions{Name: "boston"})      // first replica of a new family
//	Replicate(ctx, db, "bangalore", w, ReplicateOptions{})   // creation packet for a new site
//	CreateReplica(ctx, newDB, r, CreateOptions{})            // at the new site: receive-only
//	SetState(ctx, newDB, replica.Active)                     // validated: bidirectional
//	ExportPacket(ctx, db, target, w, ExportOptions{})        // what target lacks
//	ImportPacket(ctx, db, r, ImportOptions{})                // all or nothing
//	TransferMastership(ctx, db, "defect", to, []any{17})     // travels in the next packet
//
// # Writes
//
// Once activated, any tool may write the replicated tables with plain SQL.
// Triggers capture every change and refuse a change to a row another
// replica masters with an error that names the master; [mastership.FromDriver]
// turns that driver error into a *[mastership.NotMasterError]. New rows of a
// table with an integer key take keys from the replica's own range
// ([NextID]); text and composite keys are the application's, and two
// replicas that create the same key are reconciled deterministically with the
// losing record kept in ms_conflict.
//
// # Beyond the lifecycle
//
// Mastership policies (ExportOptions.Policy), mastership requests
// (RequestMastership, GrantRequest, DenyRequest) and Go hooks
// (package hooks, in ExportOptions and ImportOptions) automate who masters
// what; Mastered lists it. Unique business keys created at two sites are
// settled on import (Collisions, ResolveCollision). Application schema
// changes replicate (Migrate at the schema master; SchemaStatus and Repair
// for triggers changed by hand). The family's data code page is enforced by
// the database, by Write and by every import (ValidateCharset, CleanCharset,
// ChangeCodePage). RestoreReplica, RemoveReplica, RecoverPacket and Prune
// cover backups, departures, lost packets and a bounded log. ReadStatus and
// FindReplica (a member by name) tell who is in the family;
// ImportReport.String summarizes an import for a log line.
//
// # Over a network
//
// Packets move through io.Writer and io.Reader, so an HTTP handler can pass
// a request body straight to ImportPacket: its default limits
// (DefaultMaxPacketSize, DefaultMaxRowSize) stop an endless or hostile
// stream. The package's httpSyncEndpoint example shows the two routes an
// existing admin tool adds to its own mux.
//
// # Concurrency
//
// All functions are safe for concurrent use on the same *sql.DB. For SQLite,
// open the database with a busy timeout (modernc.org/sqlite:
// "file:x.db?_pragma=busy_timeout(5000)") so writers wait for each other.
package multisite
