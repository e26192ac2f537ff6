package schemaplan

import (
	"github.com/multisite-go/multisite/codepage"
	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/schema"
)

// Charset plans the enforcement of the data code page cp in the database
// itself: the ms_charset table holding cp's repertoire in the dialect's
// form, and for each table with text columns the triggers that refuse an
// INSERT or UPDATE, by any client, of a string holding a character cp
// cannot represent (the error names table, key, column and character; see
// multisite.CharsetFromDriver). The triggers read the code page from
// ms_charset, so a later change of the code page is an update of that row,
// not new DDL. A dialect without such triggers gets an empty plan.
func Charset(d dialect.Dialect, tables []dialect.Table, cp *codepage.CodePage) schema.Plan {
	p := schema.Plan{Dialect: string(d.Name())}
	e, ok := d.(dialect.CharsetEnforcer)
	if !ok {
		return p
	}
	add(&p, "data code page "+cp.Name()+": the repertoire the charset triggers enforce", e.CharsetMeta()...)
	add(&p, "data code page "+cp.Name()+": the repertoire the charset triggers enforce", e.CharsetSet(e.Charset(cp.Name(), cp.RangeTable(), cp.Universal()))...)
	for _, t := range tables {
		if s := e.CharsetTriggers(t); len(s) > 0 {
			add(&p, "table "+t.Name+": charset triggers (refuse text outside the data code page)", s...)
		}
	}
	return p
}

// CharsetRemoval plans the removal of everything [Charset] added: the
// triggers (whether they exist or not) and the ms_charset table.
func CharsetRemoval(d dialect.Dialect, tables []dialect.Table) schema.Plan {
	p := schema.Plan{Dialect: string(d.Name())}
	e, ok := d.(dialect.CharsetEnforcer)
	if !ok {
		return p
	}
	for _, t := range tables {
		add(&p, "table "+t.Name+": remove charset triggers", e.DropCharset(t)...)
	}
	add(&p, "remove the data code page table", e.CharsetMetaDrop()...)
	return p
}
