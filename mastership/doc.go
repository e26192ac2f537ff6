// Package mastership says who may change a replicated row and what a write
// that breaks the rule gets.
//
// Every replicated row has exactly one master replica, kept in the injected
// mastership field (column ms_master). Only the master changes the row; it
// hands the row to another replica by changing that field, which is an
// ordinary captured change on the row's own chain. Because such a change may
// reach a third replica after later edits by the new master, every transfer
// is also kept in a log, and an importing replica proves an origin's right to
// change a row by following that log ([Chain]).
//
// The rules of the replication model are functions over plain values
// here, table-tested without a database: which image of a row wins
// ([Decide]: the higher row version on the same chain; a creation
// conflict by [CreationWinner]; the prune horizon keeps pruned rows dead),
// whether an origin had the right to make an image ([MayChange], following
// the transfer log with [Chain]), which record keeps a contested unique
// value ([Claim], [Keeper]), and the mastership-request state machine
// ([RequestState.Move], [Route]). An import applies packets set-based in
// SQL for speed; a test generates random held and incoming images and
// transfer logs, runs them through the import on every supported
// database, and checks that the outcome is what these functions say.
// The package imports no database package.
//
// Writes refused by the database's enforcement triggers surface as driver
// errors whose text names the master; [FromDriver] turns them into a
// *[NotMasterError] so callers can use errors.Is and errors.As.
//
// Who masters a new row is decided by a [Policy], which the library asks at
// export time about every row the local replica masters and has changed:
// [Creator] (the default: the creating replica keeps it), [Field] (a column
// such as a record's owner maps to a site through a replicated table, like
// ClearQuest's user-to-site assignment), [PerTable], or several in order
// with [Policies]. When a policy names another replica, the row is
// transferred in the export's transaction and the transfer travels in the
// same packet. Requests for mastership, hooks and the listing of who
// masters what are in the multisite package and package hooks.
package mastership
