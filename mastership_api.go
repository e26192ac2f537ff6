package multisite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/multisite-go/multisite/internal/engine"
	"github.com/multisite-go/multisite/replica"
)

// MasteryOptions controls Mastered. The zero value counts every replicated
// table's rows per master and lists no rows.
type MasteryOptions struct {
	Dialect Dialect // "" detects it
	// Tables limits the report to these replicated tables; nil means all.
	// An unknown name is a *schema.UnknownTableError.
	Tables []string
	// Rows, if set, lists the keys of the rows this replica masters, at
	// most Limit of them (0 means 1000); MasteredRows streams them all.
	Rows  replica.ID
	Limit int // most rows listed for Rows; 0 means 1000
}

// MasteryReport says who masters what, as one replica sees it: rows per
// table per master, the rows one replica masters, and the transfers and
// requests in flight.
type MasteryReport struct {
	Local replica.ID // the reporting replica
	// Names maps every registry member to its name.
	Names map[replica.ID]string
	// Counts is, per table, the number of rows each replica masters.
	// Deleted rows are not counted.
	Counts map[string]map[replica.ID]int
	// Rows lists rows MasteryOptions.Rows masters, table by table, at most
	// MasteryOptions.Limit of them; Truncated is set if there are more.
	Rows      []MasteredRow
	Truncated bool // more rows than MasteryOptions.Limit
	// Transfers lists the mastership transfers in flight: made here and
	// not sealed into an epoch yet, or carried by an epoch their new
	// master has not acknowledged yet (as far as this replica knows from
	// the vectors in the packets it received).
	Transfers []TransferInFlight
	// Requests lists the mastership requests in flight: not settled yet,
	// or settled but the answer may not have reached the requester.
	Requests []RequestInFlight
}

// MasteredRow is one row and its master.
type MasteredRow struct {
	Table  string     // the replicated table
	Key    []any      // primary key values in portable form, in key column order
	Master replica.ID // the row's master
}

// TransferInFlight is a mastership transfer whose new master has not
// acknowledged it yet, as far as the reporting replica knows.
type TransferInFlight struct {
	Table   string     // the replicated table
	Key     []any      // primary key values in portable form
	Version uint64     // the row version the transfer produced
	From    replica.ID // the row's master before
	To      replica.ID // the row's new master
	Epoch   uint64     // the epoch of From that carries it; 0 if not sealed yet
}

// RequestInFlight is a mastership request not settled yet, or settled
// but its answer may not have reached the requester.
type RequestInFlight struct {
	ID     RequestID    // the request's ID, the same at every replica
	Table  string       // the replicated table of the row
	Key    []any        // primary key values in portable form
	From   replica.ID   // the replica asking
	Master replica.ID   // the replica asked
	State  RequestState // where the request stands
}

// Mastered reports who masters what in db's replica: per replicated table
// (metadata tables such as users and groups are ordinary replicated tables
// and have masters too), the number of rows each replica masters; the
// keys of the rows opt.Rows masters; and the transfers in flight, made
// here or seen in packets, whose new master has not acknowledged the
// epoch that carries them. It reads one snapshot and changes nothing.
func Mastered(ctx context.Context, db *sql.DB, opt MasteryOptions) (*MasteryReport, error) {
	d, err := ready(ctx, db, opt.Dialect)
	if err != nil {
		return nil, err
	}
	rep, err := engine.ListMastery(ctx, db, d, engine.MasteryOptions{Tables: opt.Tables, Rows: opt.Rows, Limit: opt.Limit})
	return masteryReport(rep), publicError(err)
}

// MasteredRows calls fn for every row of the named replicated tables (nil:
// all) that master masters, table by table, from one snapshot, without
// holding them all in memory. An error from fn stops it and is returned.
func MasteredRows(ctx context.Context, db *sql.DB, master replica.ID, tables []string, fn func(MasteredRow) error) error {
	d, err := ready(ctx, db, "")
	if err != nil {
		return err
	}
	if fn == nil {
		return errors.New("multisite: MasteredRows needs a function")
	}
	return publicError(engine.MasteredRows(ctx, db, d, master, tables, func(r engine.MasteredRow) error { return fn(masteredRow(r)) }))
}
