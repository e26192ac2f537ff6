package engine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"

	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/schema"
)

// MasteryOptions controls Mastered. The zero value counts every replicated
// table's rows per master and lists no rows.
type MasteryOptions struct {
	// Tables limits the report to these tables; nil means every
	// replicated table.
	Tables []string
	// Rows, if set, lists the keys of the rows this replica masters (at
	// most Limit of them), in Report.Rows.
	Rows replica.ID
	// Limit caps Report.Rows; 0 means 1000. Use MasteredRows to stream
	// them all.
	Limit int
}

// MasteryReport says who masters what, as one replica sees it.
type MasteryReport struct {
	Local replica.ID
	// Names maps every registry member to its name.
	Names map[replica.ID]string
	// Counts is, per table, the number of rows each replica masters.
	// Deleted rows are not counted.
	Counts map[string]map[replica.ID]int
	// Rows lists rows Options.Rows masters, table by table, at most
	// Options.Limit of them; Truncated is set if there are more.
	Rows      []MasteredRow
	Truncated bool
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
	Table  string
	Key    []any // primary key values in portable form, in key column order
	Master replica.ID
}

// TransferInFlight is a logged transfer its new master may not hold yet.
type TransferInFlight struct {
	Table    string
	Key      []any
	Version  uint64 // the row version the transfer produced
	From, To replica.ID
	Epoch    uint64 // the epoch of From that carries it; 0 if not sealed yet
}

// RequestInFlight is a mastership request not settled yet.
type RequestInFlight struct {
	ID     string
	Table  string
	Key    []any
	From   replica.ID // the replica asking
	Master replica.ID // the replica asked
	State  string
}

// ListMastery reports, per table, how many rows each replica masters, the
// rows one replica masters, and the transfers and requests in flight. It reads one
// snapshot and changes nothing.
func ListMastery(ctx context.Context, db *sql.DB, d dialect.Dialect, opt MasteryOptions) (*MasteryReport, error) {
	rep := &MasteryReport{Names: map[replica.ID]string{}, Counts: map[string]map[replica.ID]int{}}
	err := readTx(ctx, db, d, func(tx *sql.Tx) error {
		c, err := LoadCtl(ctx, tx, d)
		if err != nil {
			return err
		}
		rep.Local = c.Local
		reg, err := Registry(ctx, tx)
		if err != nil {
			return err
		}
		for id, i := range reg {
			rep.Names[id] = i.Name
		}
		tables, err := listTables(ctx, tx, opt.Tables)
		if err != nil {
			return err
		}
		for _, t := range tables {
			counts, err := countMasters(ctx, tx, d, t)
			if err != nil {
				return err
			}
			rep.Counts[t.Name] = counts
		}
		if !opt.Rows.IsZero() {
			limit := opt.Limit
			if limit <= 0 {
				limit = 1000
			}
			err := eachMastered(ctx, tx, d, tables, opt.Rows, func(r MasteredRow) error {
				if len(rep.Rows) == limit {
					rep.Truncated = true
					return errStop
				}
				rep.Rows = append(rep.Rows, r)
				return nil
			})
			if err != nil && err != errStop {
				return err
			}
		}
		if rep.Transfers, err = transfersInFlight(ctx, tx, d, tables); err != nil {
			return err
		}
		rep.Requests, err = requestsInFlight(ctx, tx, d) // see request.go
		return err
	})
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// MasteredRows calls fn for every row of tables (nil: all) that master
// masters, table by table in name order, reading one snapshot; an error
// from fn stops it and is returned.
func MasteredRows(ctx context.Context, db *sql.DB, d dialect.Dialect, master replica.ID, tables []string, fn func(MasteredRow) error) error {
	return readTx(ctx, db, d, func(tx *sql.Tx) error {
		if _, err := LoadCtl(ctx, tx, d); err != nil {
			return err
		}
		ts, err := listTables(ctx, tx, tables)
		if err != nil {
			return err
		}
		return eachMastered(ctx, tx, d, ts, master, fn)
	})
}

var errStop = errors.New("stop")

// listTables returns the replicated tables named (all if names is nil),
// or a *schema.UnknownTableError for a name that is not one.
func listTables(ctx context.Context, q dialect.Querier, names []string) ([]dialect.Table, error) {
	all, err := Tables(ctx, q)
	if err != nil {
		return nil, err
	}
	if names == nil {
		return all, nil
	}
	byName := map[string]dialect.Table{}
	for _, t := range all {
		byName[t.Name] = t
	}
	var out []dialect.Table
	for _, n := range names {
		t, ok := byName[n]
		if !ok {
			return nil, &schema.UnknownTableError{Table: n}
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func countMasters(ctx context.Context, q dialect.Querier, d dialect.Dialect, t dialect.Table) (map[replica.ID]int, error) {
	rows, err := q.QueryContext(ctx, fmt.Sprintf("SELECT %s, count(*) FROM %s GROUP BY %s", dialect.MasterColumn, d.Quote(t.Name), dialect.MasterColumn))
	if err != nil {
		return nil, fmt.Errorf("multisite: count masters of %s: %w", t.Name, err)
	}
	defer rows.Close()
	m := map[replica.ID]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		m[replica.ID(id)] = n
	}
	return m, rows.Err()
}

func eachMastered(ctx context.Context, q dialect.Querier, d dialect.Dialect, tables []dialect.Table, master replica.ID, fn func(MasteredRow) error) error {
	for _, t := range tables {
		err := func() error {
			rows, err := q.QueryContext(ctx, d.Rebind(fmt.Sprintf("SELECT %s FROM %s WHERE %s = ? ORDER BY %s",
				keyCols(d, t, ""), d.Quote(t.Name), dialect.MasterColumn, keyNames(d, t))), string(master))
			if err != nil {
				return fmt.Errorf("multisite: list rows of %s: %w", t.Name, err)
			}
			defer rows.Close()
			ks := t.Keys()
			for rows.Next() {
				key := make([]any, len(ks))
				dest := make([]any, len(ks))
				for i := range key {
					dest[i] = &key[i]
				}
				if err := rows.Scan(dest...); err != nil {
					return err
				}
				if err := portable(d, ks, key); err != nil {
					return fmt.Errorf("multisite: %s: %w", t.Name, err)
				}
				if err := fn(MasteredRow{Table: t.Name, Key: key, Master: master}); err != nil {
					return err
				}
			}
			return rows.Err()
		}()
		if err != nil {
			return err
		}
	}
	return nil
}

// transfersInFlight lists the logged transfers whose new master has not
// acknowledged the epoch carrying them, by this replica's epoch matrix.
func transfersInFlight(ctx context.Context, q dialect.Querier, d dialect.Dialect, tables []dialect.Table) ([]TransferInFlight, error) {
	m, err := Matrix(ctx, q)
	if err != nil {
		return nil, err
	}
	var out []TransferInFlight
	for _, t := range tables {
		err := func() error {
			rows, err := q.QueryContext(ctx, fmt.Sprintf("SELECT %s, ms_version, ms_from, ms_to, ms_epoch FROM %s ORDER BY ms_version",
				keyCols(d, t, ""), d.Quote(dialect.Xfer(d, t.Name))))
			if err != nil {
				return fmt.Errorf("multisite: read transfers of %s: %w", t.Name, err)
			}
			defer rows.Close()
			ks := t.Keys()
			for rows.Next() {
				key := make([]any, len(ks))
				dest := make([]any, 0, len(ks)+4)
				for i := range key {
					dest = append(dest, &key[i])
				}
				var x TransferInFlight
				var from, to string
				var epoch sql.NullInt64
				dest = append(dest, &x.Version, &from, &to, &epoch)
				if err := rows.Scan(dest...); err != nil {
					return err
				}
				x.Table, x.From, x.To, x.Epoch = t.Name, replica.ID(from), replica.ID(to), uint64(epoch.Int64)
				if epoch.Valid && m[x.To][x.From] >= x.Epoch {
					continue // the new master holds it
				}
				if err := portable(d, ks, key); err != nil {
					return fmt.Errorf("multisite: %s: %w", t.Name, err)
				}
				x.Key = key
				out = append(out, x)
			}
			return rows.Err()
		}()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
