package schemaplan

import (
	"fmt"

	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/schema"
)

// Metadata plans the metadata tables of a new replica at LatestFormat: the
// tables of format 1 and every format step since, the same statements an
// upgrade runs, so a new and an upgraded database are alike.
func Metadata(d dialect.Dialect) schema.Plan {
	p := schema.Plan{Dialect: string(d.Name())}
	add(&p, "metadata tables", d.Meta()...)
	for f := 1; f < schema.LatestFormat; f++ {
		for _, s := range dialect.MetaFormat(d, f) {
			if !s.Stamp {
				add(&p, fmt.Sprintf("metadata format %d", f+1), s.SQL)
			}
		}
	}
	return p
}

// Upgrade plans the upgrade of metadata tables from format from to
// LatestFormat. has reports whether a table (column "") or a column of a
// metadata table exists already; its statement is then left out, so an
// upgrade that stopped half way (where DDL commits by itself) is planned
// again without what already ran. A nil has plans every statement.
func Upgrade(d dialect.Dialect, from int, has func(table, column string) (bool, error)) (schema.Plan, error) {
	p := schema.Plan{Dialect: string(d.Name())}
	for f := from; f < schema.LatestFormat; f++ {
		for _, s := range dialect.MetaFormat(d, f) {
			if has != nil && !s.Stamp {
				ok, err := has(s.Table, s.Column)
				if err != nil {
					return schema.Plan{}, err
				}
				if ok {
					continue
				}
			}
			add(&p, fmt.Sprintf("metadata format %d to %d", f, f+1), s.SQL)
		}
	}
	return p, nil
}
