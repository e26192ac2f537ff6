package engine

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/internal/schemaplan"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/schema"
)

// masterLink is one schema master of the family's chain: Replica masters
// the schema for versions above From.
type masterLink struct {
	Replica string `json:"replica"`
	From    int64  `json:"from"`
	// CP is the code page version in force at the hand-over: Replica
	// decides code page versions above it (see masterForCodePage).
	CP uint64 `json:"cp,omitempty"`
	// Sig is the proof of the hand-over, by the previous link's replica,
	// over the chain up to this link (see chainSetting). Kept here, never
	// in the chain's value on the wire; empty for the first link.
	Sig []byte `json:"sig,omitempty"`
}

// same reports whether l and o are the same hand-over (proofs aside).
func (l masterLink) same(o masterLink) bool {
	return l.Replica == o.Replica && l.From == o.From && l.CP == o.CP
}

// masterForCodePage returns the replica entitled to make code page
// version v: the schema master when the family went beyond v-1. Links of
// a chain recorded before hand-overs noted the code page (CP 0) give the
// later master every version.
func masterForCodePage(chain []masterLink, v uint64) string {
	m := chain[0].Replica
	for _, l := range chain[1:] {
		if v > l.CP {
			m = l.Replica
		}
	}
	return m
}

// loadChain reads the chain of schema masters. Until the schema was handed
// on, the chain is the replica that activated the family (number 0).
func loadChain(ctx context.Context, q dialect.Querier) ([]masterLink, error) {
	var raw string
	err := q.QueryRowContext(ctx, `SELECT chain FROM ms_schema WHERE id = 1`).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		var first string
		if err := q.QueryRowContext(ctx, `SELECT id FROM ms_replica WHERE number = 0`).Scan(&first); err != nil {
			return nil, fmt.Errorf("multisite: find the first replica: %w", err)
		}
		return []masterLink{{Replica: first}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("multisite: read schema master: %w", err)
	}
	var chain []masterLink
	if err := json.Unmarshal([]byte(raw), &chain); err != nil || len(chain) == 0 {
		return nil, fmt.Errorf("multisite: ms_schema holds an invalid chain %q", raw)
	}
	return chain, nil
}

// saveChain stores the chain of schema masters.
func saveChain(ctx context.Context, q dialect.Querier, d dialect.Dialect, chain []masterLink) error {
	b, err := json.Marshal(chain)
	if err != nil {
		return err
	}
	if _, err := q.ExecContext(ctx, `DELETE FROM ms_schema`); err != nil {
		return fmt.Errorf("multisite: write schema master: %w", err)
	}
	if _, err := q.ExecContext(ctx, d.Rebind(`INSERT INTO ms_schema (id, chain) VALUES (1, ?)`), string(b)); err != nil {
		return fmt.Errorf("multisite: write schema master: %w", err)
	}
	return nil
}

// masterFor returns the replica that mastered the schema when migration
// version was applied.
func masterFor(chain []masterLink, version int64) string {
	m := chain[0].Replica
	for _, l := range chain[1:] {
		if version > l.From {
			m = l.Replica
		}
	}
	return m
}

// SchemaMaster returns the family's schema master as this replica knows it.
func SchemaMaster(ctx context.Context, q dialect.Querier) (replica.ID, error) {
	chain, err := loadChain(ctx, q)
	if err != nil {
		return "", err
	}
	return replica.ID(chain[len(chain)-1].Replica), nil
}

// tableVersions reads ms_table.version by table.
func tableVersions(ctx context.Context, q dialect.Querier) (map[string]int64, error) {
	rows, err := q.QueryContext(ctx, `SELECT name, version FROM ms_table`)
	if err != nil {
		return nil, fmt.Errorf("multisite: read replicated tables: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var n string
		var v int64
		if err := rows.Scan(&n, &v); err != nil {
			return nil, err
		}
		out[n] = v
	}
	return out, rows.Err()
}

// AppliedMigrations reads ms_migration in version order.
func AppliedMigrations(ctx context.Context, q dialect.Querier) ([]schema.AppliedMigration, error) {
	rows, err := q.QueryContext(ctx, `SELECT version, name, checksum, applied_at, applied_by FROM ms_migration ORDER BY version`)
	if err != nil {
		return nil, fmt.Errorf("multisite: read applied migrations: %w", err)
	}
	defer rows.Close()
	var out []schema.AppliedMigration
	for rows.Next() {
		var a schema.AppliedMigration
		if err := rows.Scan(&a.Version, &a.Name, &a.Checksum, &a.AppliedAt, &a.AppliedBy); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// SchemaStatus reports the replica's metadata format, schema version and
// master, the migrations applied, and per table whether it is replicated
// and has its mastership field, shadow, transfer log and current triggers.
func SchemaStatus(ctx context.Context, db *sql.DB, d dialect.Dialect) (*schema.Report, error) {
	var r *schema.Report
	err := readTx(ctx, db, d, func(tx *sql.Tx) error {
		var err error
		r, err = schemaStatus(ctx, tx, d)
		return err
	})
	return r, err
}

func schemaStatus(ctx context.Context, q dialect.Querier, d dialect.Dialect) (*schema.Report, error) {
	c, err := LoadCtl(ctx, q, d)
	if err != nil {
		return nil, err
	}
	tables, err := Tables(ctx, q)
	if err != nil {
		return nil, err
	}
	versions, err := tableVersions(ctx, q)
	if err != nil {
		return nil, err
	}
	master, err := SchemaMaster(ctx, q)
	if err != nil {
		return nil, err
	}
	applied, err := AppliedMigrations(ctx, q)
	if err != nil {
		return nil, err
	}
	st, err := schemaplan.Check(ctx, q, d, tables, versions)
	if err != nil {
		return nil, err
	}
	r := &schema.Report{Dialect: string(d.Name()), Format: c.Format, SchemaVersion: c.SchemaVersion, SchemaMaster: string(master),
		Migrations: applied, Tables: st}
	if stale, _, err := refusalStale(ctx, q, d); err != nil {
		return nil, err
	} else if stale {
		r.Problems = append(r.Problems, "the refusal trigger ms_refuse_bi is missing or does not name every replica and table")
	}
	if r.Rows, err = verifyRows(ctx, q, d); err != nil { // rows.go
		return nil, err
	}
	return r, nil
}

// PlanRepair returns the statements that re-create every missing or
// altered trigger of the replicated tables (see schemaplan.Repair).
func PlanRepair(ctx context.Context, q dialect.Querier, d dialect.Dialect) (schema.Plan, error) {
	r, err := schemaStatus(ctx, q, d)
	if err != nil {
		return schema.Plan{}, err
	}
	tables, err := Tables(ctx, q)
	if err != nil {
		return schema.Plan{}, err
	}
	plan := schemaplan.Repair(d, r.Tables, tables)
	rows, _, err := PlanRowRepair(ctx, q, d) // rows.go
	if err != nil {
		return schema.Plan{}, err
	}
	plan.Steps = append(plan.Steps, rows.Steps...)
	return plan, nil
}

// Repair applies PlanRepair in one transaction (on MySQL, where DDL
// commits by itself, statement by statement) and returns what it ran.
func Repair(ctx context.Context, db *sql.DB, d dialect.Dialect) (schema.Plan, error) {
	if !d.TransactionalDDL() {
		plan, err := PlanRepair(ctx, db, d)
		if err != nil {
			return plan, err
		}
		if err := schema.Apply(ctx, db, plan); err != nil {
			return plan, err
		}
		return plan, ensureKeys(ctx, db, d) // keys.go
	}
	var plan schema.Plan
	err := inTx(ctx, db, d, func(tx *sql.Tx) error {
		var err error
		if plan, err = PlanRepair(ctx, tx, d); err != nil {
			return err
		}
		if err := schema.Apply(ctx, tx, plan); err != nil {
			return err
		}
		return syncRefusals(ctx, tx, d) // refuse.go
	})
	if err != nil {
		return plan, err
	}
	return plan, ensureKeys(ctx, db, d) // keys.go
}
