package engine

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/internal/schemaplan"
	"github.com/multisite-go/multisite/schema"
)

// upgradeAndLoad is LoadCtl for metadata of format f, not FormatVersion:
// given a *sql.DB it upgrades an older database in place and reads ms_ctl
// again; in a transaction, or for a newer database, it returns a
// *schema.VersionError naming both formats (the multisite package
// upgrades before it opens any transaction).
func upgradeAndLoad(ctx context.Context, q dialect.Querier, d dialect.Dialect, f int) (*Ctl, error) {
	db, ok := q.(*sql.DB)
	if f > FormatVersion || !ok {
		return nil, &schema.VersionError{Have: f, Want: FormatVersion}
	}
	if _, _, err := Upgrade(ctx, db, d); err != nil {
		return nil, err
	}
	return LoadCtl(ctx, q, d)
}

// readFormat reads ms_ctl.format; ok is false for a database that is no
// replica.
func readFormat(ctx context.Context, q dialect.Querier, d dialect.Dialect) (f int, ok bool, err error) {
	if exists, err := dialect.TableExists(ctx, q, d, "ms_ctl"); err != nil || !exists {
		return 0, false, err
	}
	err = q.QueryRowContext(ctx, `SELECT format FROM ms_ctl`).Scan(&f)
	if err == sql.ErrNoRows {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("multisite: read ms_ctl: %w", err)
	}
	return f, true, nil
}

// PlanUpgrade returns the statements that bring the metadata tables of a
// replica up to FormatVersion, and the format it has now. The plan is empty
// for a database at FormatVersion; a newer database is refused with a
// *schema.VersionError, and one that is no replica with ErrNotActivated.
func PlanUpgrade(ctx context.Context, q dialect.Querier, d dialect.Dialect) (schema.Plan, int, error) {
	f, ok, err := readFormat(ctx, q, d)
	if err != nil {
		return schema.Plan{}, 0, err
	}
	if !ok {
		return schema.Plan{}, 0, ErrNotActivated
	}
	if f > FormatVersion {
		return schema.Plan{}, f, &schema.VersionError{Have: f, Want: FormatVersion}
	}
	plan, err := schemaplan.Upgrade(d, f, func(table, column string) (bool, error) {
		if column == "" {
			return dialect.TableExists(ctx, q, d, table)
		}
		return dialect.HasColumn(ctx, q, d, table, column)
	})
	if err != nil || f >= FormatVersion {
		return plan, f, err
	}
	tables, err := Tables(ctx, q)
	if err != nil {
		return schema.Plan{}, f, err
	}
	var steps []schema.Step
	add := func(what string, stmts ...string) {
		for _, s := range stmts {
			steps = append(steps, schema.Step{Comment: what, SQL: s})
		}
	}
	// Format 7: every shadow and transfer log gets ms_proof, the origin's
	// signature over what it holds (export.go, import.go). What is held
	// keeps a NULL proof: this replica's own rows are signed again at
	// every export; rows of other origins held without a proof are sent
	// without one, which a receiver takes only where it changes nothing
	// (see the Proofs section of syncpkt/SPEC.md). After the steps of
	// older formats, so the columns come in a new replica's order.
	proofSteps := func() error {
		for _, t := range tables {
			for _, name := range []string{dialect.Shadow(d, t.Name), dialect.Xfer(d, t.Name)} {
				has, err := dialect.HasColumn(ctx, q, d, name, "ms_proof")
				if err != nil {
					return err
				}
				if !has {
					add(fmt.Sprintf("metadata format %d to 7: proof column of %s", f, name), dialect.AddProofColumn(d, name))
				}
			}
		}
		return nil
	}
	if f >= 6 {
		if err := proofSteps(); err != nil {
			return schema.Plan{}, f, err
		}
		n := len(plan.Steps) - 1 // the stamp of the format stays last
		plan.Steps = append(plan.Steps[:n], append(steps, plan.Steps[n:]...)...)
		return plan, f, nil
	}
	if sd, ok := d.(dialect.SQLiteDialect); ok && f < 3 {
		// Format 3 on SQLite: the epoch index of every shadow holds sealed
		// changes only.
		for _, t := range tables {
			add("metadata format 2 to 3: epoch index of "+t.Name+" holds sealed changes only",
				"DROP INDEX IF EXISTS "+sd.Quote(dialect.LegacyShadowIndex(sd, t.Name, "epoch")), sd.EpochIndex(t))
		}
	}
	// Format 4 (ms_sent, ms_gap, ms_part) is metadata tables alone.
	// Format 5 (SQLite: triggers with literal messages, which SQLite parses
	// from 3.31 on) and format 6 (every dialect: the triggers stand aside
	// for the library's own transaction alone, capture a fingerprint of
	// each row image in its shadow entry, and refuse a write whose shadow
	// entry is gone): every table's triggers are made again, and its
	// shadow gets ms_hash, filled from the rows as they are. Upgrade then
	// sets up the key generators the new triggers use, where missing.
	for _, t := range tables {
		what := fmt.Sprintf("metadata format %d to 6: triggers and row fingerprints of %s", f, t.Name)
		has, err := dialect.HasColumn(ctx, q, d, dialect.Shadow(d, t.Name), "ms_hash")
		if err != nil {
			return schema.Plan{}, f, err
		}
		if !has {
			add(what, dialect.AddHashColumn(d, t))
		}
		add(what, rehashSQL(d, t, "ms_deleted = 0"))
		add(what, dialect.DropTriggers(d, t)...)
		add(what, d.Triggers(t)...)
		if e, ok := d.(dialect.CharsetEnforcer); ok && len(e.CharsetTriggers(t)) > 0 {
			has, err := e.CharsetTriggersExist(ctx, q, t)
			if err != nil {
				return schema.Plan{}, f, err
			}
			if has {
				add(what, e.DropCharset(t)...)
				add(what, e.CharsetTriggers(t)...)
			}
		}
	}
	if err := proofSteps(); err != nil {
		return schema.Plan{}, f, err
	}
	n := len(plan.Steps) - 1 // the stamp of the format stays last
	plan.Steps = append(plan.Steps[:n], append(steps, plan.Steps[n:]...)...)
	return plan, f, nil
}

// Upgrade migrates the metadata tables of db forward in place to
// FormatVersion and returns the formats before and after. It does nothing
// (but one read) for a database at FormatVersion or one that is no
// replica, and refuses a newer database with a *schema.VersionError. On
// SQLite and PostgreSQL it is one transaction; on MySQL, where DDL commits
// by itself, a failed upgrade is completed by the next one, which plans
// only what is missing.
func Upgrade(ctx context.Context, db *sql.DB, d dialect.Dialect) (from, to int, err error) {
	f, ok, err := readFormat(ctx, db, d)
	if err != nil || !ok {
		return 0, 0, err
	}
	if f == FormatVersion {
		return f, f, nil
	}
	if f > FormatVersion {
		return f, f, &schema.VersionError{Have: f, Want: FormatVersion}
	}
	if !d.TransactionalDDL() {
		plan, f, err := PlanUpgrade(ctx, db, d)
		if err != nil {
			return f, f, err
		}
		if err := schema.Apply(ctx, db, plan); err != nil {
			return f, f, fmt.Errorf("multisite: upgrade metadata from format %d: %w", f, err)
		}
		// The key triggers (format 6 makes every trigger again) take keys
		// from the generators, which databases of older versions lack.
		if err := ensureKeys(ctx, db, d); err != nil { // keys.go
			return f, f, err
		}
		return f, FormatVersion, nil
	}
	err = inTx(ctx, db, d, func(tx *sql.Tx) error {
		// Take the write lock first, then look again: another process may
		// have upgraded meanwhile.
		if _, err := tx.ExecContext(ctx, `UPDATE ms_ctl SET format = format`); err != nil {
			return fmt.Errorf("multisite: lock ms_ctl: %w", err)
		}
		var plan schema.Plan
		plan, f, err = PlanUpgrade(ctx, tx, d)
		if err != nil {
			return err
		}
		if err := schema.Apply(ctx, tx, plan); err != nil {
			return fmt.Errorf("multisite: upgrade metadata from format %d: %w", f, err)
		}
		if len(plan.Steps) > 0 {
			// The key triggers (format 6 makes every trigger again) take
			// keys from the generators, which older databases lack.
			if err := ensureKeysIn(ctx, tx, d); err != nil { // keys.go
				return err
			}
		}
		return syncRefusals(ctx, tx, d) // refuse.go
	})
	if err != nil {
		return f, f, err
	}
	return f, FormatVersion, nil
}
