package engine

import (
	"context"
	"database/sql"

	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/internal/schemaplan"
	"github.com/multisite-go/multisite/schema"
)

// PlanDeactivation returns the plan that removes everything activation (or
// creation from a packet) added: triggers, shadow tables, transfer logs,
// the mastership field and the metadata tables.
func PlanDeactivation(ctx context.Context, q dialect.Querier, d dialect.Dialect) (schema.Plan, error) {
	if _, err := LoadCtl(ctx, q, d); err != nil {
		return schema.Plan{}, err
	}
	tables, err := Tables(ctx, q)
	if err != nil {
		return schema.Plan{}, err
	}
	plan := schemaplan.Deactivation(d, tables)
	if err := foreignKeyDeactivation(ctx, q, d, tables, &plan); err != nil {
		return schema.Plan{}, err
	}
	return plan, nil
}

// Deactivate takes the replica out of its family in one transaction,
// leaving the user's tables and rows as they are.
func Deactivate(ctx context.Context, db *sql.DB, d dialect.Dialect) error {
	return inTx(ctx, db, d, func(tx *sql.Tx) error {
		plan, err := PlanDeactivation(ctx, tx, d)
		if err != nil {
			return err
		}
		return schema.Apply(ctx, tx, plan)
	})
}
