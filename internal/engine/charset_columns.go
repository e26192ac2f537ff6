package engine

import (
	"context"
	"strings"

	"github.com/multisite-go/multisite/codepage"
	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/syncpkt"
)

// NarrowColumn is a text column whose storage cannot hold every character
// of the data code page: on MariaDB and MySQL a column in utf8mb3 (also
// called utf8) or ucs2 holds no character beyond U+FFFF, which UTF-8,
// GB18030 and Big5 (HKSCS) have. An import refuses such a character for
// it with a *CharsetError naming the column's character set (Storage),
// instead of letting the server fail the import or, without strict mode,
// store "?" in its place.
type NarrowColumn struct {
	Table   string `json:"table"`
	Column  string `json:"column"`
	Charset string `json:"charset"` // as the server names it: "utf8mb3"
}

// columnCharsetter is implemented by dialects whose text columns each
// have a character set of their own (MySQL).
type columnCharsetter interface {
	ColumnCharsets(ctx context.Context, q dialect.Querier, table string) (map[string]string, error)
}

// bmpOnly reports whether a MySQL character set holds only the Basic
// Multilingual Plane.
func bmpOnly(charset string) bool {
	switch strings.ToLower(charset) {
	case "utf8mb3", "utf8", "ucs2":
		return true
	}
	return false
}

// hasSupplementary reports whether cp has a character beyond U+FFFF.
func hasSupplementary(cp *codepage.CodePage) bool { return len(cp.RangeTable().R32) > 0 }

// narrowStorage returns, per column of t (by index), the character set of
// a column that cannot hold every character of cp, or "".
func narrowStorage(ctx context.Context, q dialect.Querier, d dialect.Dialect, t dialect.Table, cp *codepage.CodePage) ([]string, error) {
	cc, ok := d.(columnCharsetter)
	if !ok || !hasSupplementary(cp) {
		return nil, nil
	}
	sets, err := cc.ColumnCharsets(ctx, q, t.Name)
	if err != nil {
		return nil, err
	}
	var out []string
	for i, c := range t.Columns {
		if set := sets[c.Name]; bmpOnly(set) {
			if out == nil {
				out = make([]string, len(t.Columns))
			}
			out[i] = set
		}
	}
	return out, nil
}

// narrowColumns lists the columns of tables that cannot hold every
// character of cp.
func narrowColumns(ctx context.Context, q dialect.Querier, d dialect.Dialect, tables []dialect.Table, cp *codepage.CodePage) ([]NarrowColumn, error) {
	var out []NarrowColumn
	for _, t := range tables {
		sets, err := narrowStorage(ctx, q, d, t, cp)
		if err != nil {
			return nil, err
		}
		for i, set := range sets {
			if set != "" {
				out = append(out, NarrowColumn{Table: t.Name, Column: t.Columns[i].Name, Charset: set})
			}
		}
	}
	return out, nil
}

// checkText returns a *CharsetError if s, the packet's value of local
// column j of t, does not fit the family's code page or the column's
// storage. vals are the row's packet values, for naming its key.
func (m *importer) checkText(t *dialect.Table, j int, vals []syncpkt.Value, s string) error {
	if !m.cp.Valid(s) {
		bad := m.cp.Check(s)[0]
		return &CharsetError{CodePage: m.cp.Name(), Table: t.Name, Key: rowKeyOf(*t, m.order, vals), Column: t.Columns[j].Name,
			Offset: bad.Offset, Rune: bad.Rune, Char: bad.Bytes}
	}
	if m.narrow == nil {
		m.narrow = map[string][]string{}
	}
	sets, ok := m.narrow[t.Name]
	if !ok {
		var err error
		if sets, err = narrowStorage(m.ctx, m.tx, m.d, *t, m.cp); err != nil {
			return err
		}
		m.narrow[t.Name] = sets
	}
	if sets == nil || sets[j] == "" {
		return nil
	}
	for off, r := range s {
		if r > 0xFFFF {
			return &CharsetError{CodePage: m.cp.Name(), Table: t.Name, Key: rowKeyOf(*t, m.order, vals), Column: t.Columns[j].Name,
				Offset: off, Rune: r, Char: string(r), Storage: sets[j]}
		}
	}
	return nil
}
