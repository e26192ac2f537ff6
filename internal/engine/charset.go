package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/multisite-go/multisite/codepage"
	"github.com/multisite-go/multisite/internal/dialect"
)

// CharsetViolation is one character stored in the database that the code
// page cannot represent.
type CharsetViolation struct {
	Table  string `json:"table"`
	Key    string `json:"key"` // primary key, or "#n" (row n in scan order) for a table without one
	Column string `json:"column"`
	Offset int    `json:"offset"` // byte offset in the value
	Rune   rune   `json:"rune"`   // utf8.RuneError for invalid UTF-8
	Char   string `json:"char"`   // the offending character (or raw byte)
}

// String formats the violation for a person.
func (v CharsetViolation) String() string {
	return fmt.Sprintf("%s[%s].%s: U+%04X %q at byte %d", v.Table, v.Key, v.Column, v.Rune, v.Char, v.Offset)
}

// CharsetReport summarizes a validation.
type CharsetReport struct {
	CodePage   string             `json:"code_page"`
	Tables     int                `json:"tables"`
	Rows       int64              `json:"rows"`
	Strings    int64              `json:"strings"`
	Bytes      int64              `json:"bytes"`
	Violations []CharsetViolation `json:"violations"`
	Truncated  bool               `json:"truncated"` // more violations than Max were found
	// Columns lists text columns whose storage cannot hold every character
	// of the code page (MariaDB utf8mb3 columns under UTF-8): none of their
	// values is a violation yet, but an import of such a character for them
	// will be refused. Convert them (to utf8mb4) before the family uses
	// such characters.
	Columns []NarrowColumn `json:"narrow_columns,omitempty"`
}

// CharsetOptions controls ValidateCharset. The zero value checks every
// table and keeps every violation.
type CharsetOptions struct {
	Tables []string // nil means every user table
	Max    int      // most violations kept in the report; 0 means all
	// OnViolation, if set, is called for each violation as it is found; a
	// non-nil error stops the scan and is returned.
	OnViolation func(CharsetViolation) error
}

// ValidateCharset streams every string of every table (replicated or not)
// and reports each character cp cannot represent. Memory stays constant
// apart from the violations kept.
func ValidateCharset(ctx context.Context, q dialect.Querier, d dialect.Dialect, cp *codepage.CodePage, opt CharsetOptions) (*CharsetReport, error) {
	rep := &CharsetReport{CodePage: cp.Name()}
	names := opt.Tables
	if names == nil {
		var err error
		if names, err = d.Tables(ctx, q); err != nil {
			return nil, err
		}
	}
	for _, name := range names {
		t, ok, err := d.Describe(ctx, q, name)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("multisite: validate charset: table %q does not exist", name)
		}
		rep.Tables++
		if err := validateTable(ctx, q, d, cp, t, rep, opt); err != nil {
			return nil, err
		}
		narrow, err := narrowColumns(ctx, q, d, []dialect.Table{t}, cp)
		if err != nil {
			return nil, err
		}
		rep.Columns = append(rep.Columns, narrow...)
	}
	return rep, nil
}

func validateTable(ctx context.Context, q dialect.Querier, d dialect.Dialect, cp *codepage.CodePage, t dialect.Table, rep *CharsetReport, opt CharsetOptions) error {
	var sel []string
	for _, c := range t.Columns {
		sel = append(sel, d.Raw(d.Quote(c.Name)))
	}
	keys := t.Keys()
	rows, err := q.QueryContext(ctx, fmt.Sprintf("SELECT %s FROM %s", strings.Join(sel, ", "), d.Quote(t.Name)))
	if err != nil {
		return fmt.Errorf("multisite: validate charset of %s: %w", t.Name, err)
	}
	defer rows.Close()
	vals := make([]any, len(t.Columns))
	dest := make([]any, len(t.Columns))
	for i := range vals {
		dest[i] = &vals[i]
	}
	var n int64
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		n++
		rep.Rows++
		if err := portable(d, t.Columns, vals); err != nil {
			return err
		}
		var key string
		for i, c := range t.Columns {
			s, ok := vals[i].(string)
			if !ok {
				continue
			}
			rep.Strings++
			rep.Bytes += int64(len(s))
			if cp.Valid(s) {
				continue
			}
			if key == "" {
				key = rowKey(t, keys, vals, n)
			}
			for _, v := range cp.Check(s) {
				cv := CharsetViolation{Table: t.Name, Key: key, Column: c.Name, Offset: v.Offset, Rune: v.Rune, Char: v.Bytes}
				if opt.OnViolation != nil {
					if err := opt.OnViolation(cv); err != nil {
						return err
					}
				}
				if opt.Max > 0 && len(rep.Violations) >= opt.Max {
					rep.Truncated = true
					continue
				}
				rep.Violations = append(rep.Violations, cv)
			}
		}
	}
	return rows.Err()
}

func rowKey(t dialect.Table, keys []dialect.Column, vals []any, n int64) string {
	if len(keys) == 0 {
		return fmt.Sprintf("#%d", n)
	}
	var kv []any
	for _, k := range keys {
		for i, c := range t.Columns {
			if c.Name == k.Name {
				kv = append(kv, vals[i])
			}
		}
	}
	return formatKey(kv)
}
