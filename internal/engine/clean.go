package engine

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/multisite-go/multisite/codepage"
	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/replica"
)

// CleanOptions controls CleanCharset. The zero value is a dry run that
// replaces each unrepresentable character with "?".
type CleanOptions struct {
	Strategy    codepage.Strategy
	Replacement string   // for codepage.Replace; "" means "?"
	Apply       bool     // false: report only
	Tables      []string // nil: every replicated table (every table before activation)
}

// CleanChange is one value clean-up would change.
type CleanChange struct {
	Table, Key, Column string
	Before, After      string
	Master             replica.ID // "" for a table that is not replicated
	Applied            bool       // changed in the database (only at the row's master)
}

// CleanReport is the result of CleanCharset.
type CleanReport struct {
	CodePage  string
	Changes   []CleanChange
	Applied   int // values changed here
	Elsewhere int // values whose row another replica masters: clean them there
}

type pendingClean struct {
	t   dialect.Table
	key []any
	i   int // index in report.Changes
}

// CleanCharset finds every string that does not fit cp and computes its
// cleaned form. With Apply, it updates the values of rows this replica
// masters, in one transaction, as ordinary writes: the triggers capture
// them and the clean-up replicates like any edit. Rows mastered elsewhere
// are reported for their master to clean.
func CleanCharset(ctx context.Context, db *sql.DB, d dialect.Dialect, cp *codepage.CodePage, opt CleanOptions) (*CleanReport, error) {
	rep := &CleanReport{CodePage: cp.Name()}
	var local replica.ID
	var tables []dialect.Table
	c, err := LoadCtl(ctx, db, d)
	switch {
	case err == nil:
		local = c.Local
		if tables, err = Tables(ctx, db); err != nil {
			return nil, err
		}
	case err == ErrNotActivated:
		names, err := d.Tables(ctx, db)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			t, _, err := d.Describe(ctx, db, n)
			if err != nil {
				return nil, err
			}
			tables = append(tables, t)
		}
	default:
		return nil, err
	}
	if opt.Tables != nil {
		want := map[string]bool{}
		for _, n := range opt.Tables {
			want[n] = true
		}
		var sel []dialect.Table
		for _, t := range tables {
			if want[t.Name] {
				sel = append(sel, t)
				delete(want, t.Name)
			}
		}
		for n := range want {
			return nil, fmt.Errorf("multisite: clean charset: table %q is not known here", n)
		}
		tables = sel
	}
	var todo []pendingClean
	for _, t := range tables {
		if len(t.Keys()) == 0 {
			return nil, fmt.Errorf("multisite: clean charset: %s has no primary key, so its rows cannot be named; clean it by hand", t.Name)
		}
		p, err := findDirty(ctx, db, d, cp, t, local != "", opt, rep)
		if err != nil {
			return nil, err
		}
		todo = append(todo, p...)
	}
	if !opt.Apply {
		return rep, nil
	}
	err = inTx(ctx, db, d, func(tx *sql.Tx) error {
		for _, p := range todo {
			ch := &rep.Changes[p.i]
			if local != "" && ch.Master != local {
				continue
			}
			var conds []string
			for _, k := range p.t.Keys() {
				conds = append(conds, d.Quote(k.Name)+" = ?")
			}
			q := d.Rebind(fmt.Sprintf("UPDATE %s SET %s = ? WHERE %s", d.Quote(p.t.Name), d.Quote(ch.Column), strings.Join(conds, " AND ")))
			if _, err := tx.ExecContext(ctx, q, append([]any{ch.After}, p.key...)...); err != nil {
				return fmt.Errorf("multisite: clean %s[%s].%s: %w", ch.Table, ch.Key, ch.Column, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, p := range todo {
		ch := &rep.Changes[p.i]
		if local == "" || ch.Master == local {
			ch.Applied = true
			rep.Applied++
		} else {
			rep.Elsewhere++
		}
	}
	return rep, nil
}

func findDirty(ctx context.Context, db *sql.DB, d dialect.Dialect, cp *codepage.CodePage, t dialect.Table, replicated bool, opt CleanOptions, rep *CleanReport) ([]pendingClean, error) {
	var sel []string
	for _, c := range t.Columns {
		sel = append(sel, d.Raw(d.Quote(c.Name)))
	}
	if replicated {
		sel = append(sel, dialect.MasterColumn)
	}
	rows, err := db.QueryContext(ctx, fmt.Sprintf("SELECT %s FROM %s", strings.Join(sel, ", "), d.Quote(t.Name)))
	if err != nil {
		return nil, fmt.Errorf("multisite: clean charset of %s: %w", t.Name, err)
	}
	defer rows.Close()
	vals := make([]any, len(sel))
	dest := make([]any, len(sel))
	for i := range vals {
		dest[i] = &vals[i]
	}
	var out []pendingClean
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		if err := portable(d, t.Columns, vals[:len(t.Columns)]); err != nil {
			return nil, err
		}
		if replicated {
			if b, ok := vals[len(vals)-1].([]byte); ok { // MySQL returns text as bytes
				vals[len(vals)-1] = string(b)
			}
		}
		for i, c := range t.Columns {
			s, ok := vals[i].(string)
			if !ok || cp.Valid(s) {
				continue
			}
			if c.Key > 0 {
				return nil, fmt.Errorf("multisite: clean charset: key %s.%s %q does not fit %s; keys cannot be cleaned in place", t.Name, c.Name, s, cp.Name())
			}
			after, _ := cp.Clean(s, codepage.CleanOptions{Strategy: opt.Strategy, Replacement: opt.Replacement})
			var key []any
			for _, k := range t.Keys() {
				for j, cc := range t.Columns {
					if cc.Name == k.Name {
						key = append(key, vals[j])
					}
				}
			}
			ch := CleanChange{Table: t.Name, Key: formatKey(key), Column: c.Name, Before: s, After: after}
			if replicated {
				m, _ := vals[len(vals)-1].(string)
				ch.Master = replica.ID(m)
			}
			rep.Changes = append(rep.Changes, ch)
			out = append(out, pendingClean{t: t, key: key, i: len(rep.Changes) - 1})
		}
	}
	return out, rows.Err()
}
