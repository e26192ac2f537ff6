package multisite

import (
	"context"
	"database/sql"

	"github.com/multisite-go/multisite/internal/engine"
	"github.com/multisite-go/multisite/replica"
)

// MasteryOptions controls Mastered. The zero value counts every replicated
// table's rows per master and lists no rows.
type MasteryOptions struct {
	Dialect Dialect
	// Tables limits the report to these replicated tables; nil means all.
	// An unknown name is a *schema.UnknownTableError.
	Tables []string
	// Rows, if set, lists the keys of the rows this replica masters, at
	// most Limit of them (0 means 1000); MasteredRows streams them all.
	Rows  replica.ID
	Limit int
}

// MasteryReport says who masters what, as one replica sees it: rows per
// table per master, the rows one replica masters, and the transfers and
// requests in flight.
type MasteryReport = engine.MasteryReport

// MasteredRow is one row and its master.
type MasteredRow = engine.MasteredRow

// TransferInFlight is a mastership transfer whose new master has not
// acknowledged it yet, as far as the reporting replica knows.
type TransferInFlight = engine.TransferInFlight

// RequestInFlight is a mastership request not settled yet.
type RequestInFlight = engine.RequestInFlight

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
	return engine.ListMastery(ctx, db, d, engine.MasteryOptions{Tables: opt.Tables, Rows: opt.Rows, Limit: opt.Limit})
}

// MasteredRows calls fn for every row of the named replicated tables (nil:
// all) that master masters, table by table, from one snapshot, without
// holding them all in memory. An error from fn stops it and is returned.
func MasteredRows(ctx context.Context, db *sql.DB, master replica.ID, tables []string, fn func(MasteredRow) error) error {
	d, err := ready(ctx, db, "")
	if err != nil {
		return err
	}
	return engine.MasteredRows(ctx, db, d, master, tables, fn)
}
