// Package schema plans and applies every change the library makes to a
// database's schema: the metadata tables, the injected mastership field, the
// shadow and transfer-log tables, and the change-capture and enforcement
// triggers, per dialect.
//
// A change is first a [Plan]: the exact statements, in order, that an
// administrator can read (Plan.String) before [Apply] runs them unchanged in
// one transaction. The same holds for taking a database out of its family
// ([Deactivation]), which removes everything activation added and leaves the
// user's tables and rows as they were.
//
//	tables, err := schema.Inspect(ctx, db, d, schema.InspectOptions{Exclude: []string{"audit"}})
//	plan := schema.Activation(d, tables, local)
//	fmt.Print(plan)                 // review
//	err = schema.Apply(ctx, tx, plan) // then apply
package schema
