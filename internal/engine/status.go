package engine

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/replica"
)

// Status is what a replica knows of itself and its family.
type Status struct {
	Family   string
	Local    replica.Info
	CodePage string
	Epoch    uint64                        // the local replica's newest sealed epoch
	Replicas []replica.Info                // the registry, by number
	Matrix   map[replica.ID]replica.Vector // what each replica holds (or is believed to hold) of each origin
	KeyRange [2]int64                      // the local replica's integer key range
	Tables   []string                      // replicated tables
	Pending  map[string]int                // per table: captured changes not yet sealed into an epoch
}

// ReadStatus reads the replica's status from one snapshot.
func ReadStatus(ctx context.Context, db *sql.DB, d dialect.Dialect) (*Status, error) {
	var st Status
	err := readTx(ctx, db, d, func(tx *sql.Tx) error {
		c, err := LoadCtl(ctx, tx, d)
		if err != nil {
			return err
		}
		reg, err := Registry(ctx, tx)
		if err != nil {
			return err
		}
		m, err := Matrix(ctx, tx)
		if err != nil {
			return err
		}
		ts, err := Tables(ctx, tx)
		if err != nil {
			return err
		}
		v := m[c.Local]
		st = Status{Family: c.Family, Local: reg[c.Local], CodePage: c.CodePage, Epoch: v[c.Local],
			Replicas: SortedRegistry(reg), Matrix: m, KeyRange: [2]int64{c.KeyLo, c.KeyHi}, Pending: map[string]int{}}
		for _, t := range ts {
			st.Tables = append(st.Tables, t.Name)
			var n int
			if err := tx.QueryRowContext(ctx, fmt.Sprintf("SELECT count(*) FROM %s WHERE ms_epoch IS NULL", d.Quote(dialect.Shadow(d, t.Name)))).Scan(&n); err != nil {
				return err
			}
			st.Pending[t.Name] = n
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &st, nil
}
