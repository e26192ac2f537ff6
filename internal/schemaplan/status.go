package schemaplan

import (
	"context"
	"fmt"
	"sort"

	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/schema"
)

// Check compares the catalog with what replication needs: for every table
// of the catalog and every replicated table (with its version), whether it
// is replicated, has the mastership field, its shadow and transfer log,
// and its capture and enforcement triggers as the library creates them.
// Triggers are compared by definition, so one dropped, edited or disabled
// by hand shows.
func Check(ctx context.Context, q dialect.Querier, d dialect.Dialect, replicated []dialect.Table, versions map[string]int64) ([]schema.TableStatus, error) {
	names, err := d.Tables(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("schema: list tables: %w", err)
	}
	rep := map[string]dialect.Table{}
	for _, t := range replicated {
		rep[t.Name] = t
	}
	all := map[string]bool{}
	for _, n := range names {
		all[n] = true
	}
	for n := range rep {
		all[n] = true
	}
	sorted := make([]string, 0, len(all))
	for n := range all {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	var out []schema.TableStatus
	for _, n := range sorted {
		t, isRep := rep[n]
		st := schema.TableStatus{Table: n, Replicated: isRep, Version: versions[n]}
		cur, exists, err := d.Describe(ctx, q, n)
		if err != nil {
			return nil, fmt.Errorf("schema: describe %s: %w", n, err)
		}
		st.Exists = exists
		if !isRep || !exists {
			out = append(out, st)
			continue
		}
		if st.MasterField, err = dialect.HasColumn(ctx, q, d, n, dialect.MasterColumn); err != nil {
			return nil, err
		}
		_, shadow, err := d.Describe(ctx, q, dialect.Shadow(d, n))
		if err != nil {
			return nil, err
		}
		_, xfer, err := d.Describe(ctx, q, dialect.Xfer(d, n))
		if err != nil {
			return nil, err
		}
		st.Shadow = shadow && xfer
		have, err := dialect.HaveTriggers(ctx, q, d, t)
		if err != nil {
			return nil, err
		}
		for _, w := range dialect.WantTriggers(d, t) {
			ts := schema.TriggerStatus{Name: w.Name, Kind: string(w.Kind), State: schema.TriggerOK}
			if def, ok := have[w.Name]; !ok {
				ts.State = schema.TriggerMissing
			} else if def != w.Def {
				ts.State = schema.TriggerAltered
			}
			st.Triggers = append(st.Triggers, ts)
		}
		for _, c := range cur.Columns {
			if _, ok := t.Column(c.Name); !ok {
				st.Unrecorded = append(st.Unrecorded, c.Name)
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// Repair plans the re-creation of the triggers of every replicated table
// whose triggers are missing or altered: each such table's triggers are
// dropped (what is left of them) and created as the library creates them.
// Tables that lost their mastership field, shadow or transfer log cannot be
// repaired in place (the row versions are gone) and are left out: re-create
// such a replica from a creation packet. tables are the replicated tables.
func Repair(d dialect.Dialect, status []schema.TableStatus, tables []dialect.Table) schema.Plan {
	byName := map[string]dialect.Table{}
	for _, t := range tables {
		byName[t.Name] = t
	}
	p := schema.Plan{Dialect: string(d.Name())}
	for _, s := range status {
		if !s.Repairable() {
			continue
		}
		broken := false
		for _, t := range s.Triggers {
			broken = broken || t.State != schema.TriggerOK
		}
		if !broken {
			continue
		}
		t := byName[s.Table]
		add(&p, "table "+t.Name+": drop what is left of the triggers", dialect.DropTriggers(d, t)...)
		add(&p, "table "+t.Name+": capture and enforcement triggers", d.Triggers(t)...)
	}
	return p
}
