package dialect

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ErrUnreachable is returned when the database server cannot be reached
// (or refuses the connection).
var ErrUnreachable = errors.New("dialect: database unreachable")

// UnreachableError reports a database that could not be reached. It
// matches ErrUnreachable and the driver's own error.
type UnreachableError struct {
	Dialect Name
	Err     error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("dialect: cannot reach the %s database: %v", e.Dialect, e.Err)
}

// Unwrap returns ErrUnreachable and the driver's error.
func (e *UnreachableError) Unwrap() []error { return []error{ErrUnreachable, e.Err} }

// ServerVersionError reports a database server older than the library
// supports. It matches ErrUnsupported.
type ServerVersionError struct {
	Dialect Name
	Version string // as the server reports it
	Min     string // the oldest supported, e.g. "12" or "MariaDB 10.5"
}

func (e *ServerVersionError) Error() string {
	return fmt.Sprintf("dialect: %s server %s is too old; %s or later is required", e.Dialect, e.Version, e.Min)
}

// Unwrap returns ErrUnsupported.
func (e *ServerVersionError) Unwrap() error { return ErrUnsupported }

// insertRows returns a multi-row INSERT of cols into table with '?'
// placeholders.
func insertRows(quote func(string) string, table string, cols []string, rows int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO ")
	b.WriteString(quote(table))
	b.WriteString(" (")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quote(c))
	}
	b.WriteString(") VALUES ")
	row := "(" + strings.Repeat("?, ", len(cols)-1) + "?)"
	for i := 0; i < rows; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

var metaColumn = regexp.MustCompile(`(?m)^(\t)(\w+) (INTEGER|TEXT|BLOB)\b`)

// translateMeta derives a server's metadata DDL from SQLite's, so the
// three stay the same tables: colType maps each column's SQLite type,
// reserved names are quoted, and suffix (table options) is appended.
func translateMeta(colType func(name, typ string) string, reserved map[string]bool, suffix string) []string {
	var out []string
	for _, s := range (SQLiteDialect{}).Meta() {
		s = metaColumn.ReplaceAllStringFunc(s, func(m string) string {
			p := metaColumn.FindStringSubmatch(m)
			name := p[2]
			if reserved[name] {
				name = "`" + name + "`"
			}
			return p[1] + name + " " + colType(p[2], p[3])
		})
		for r := range reserved {
			s = regexp.MustCompile(`([(,] *)`+r+`\b`).ReplaceAllString(s, "${1}`"+r+"`")
		}
		out = append(out, s+suffix)
	}
	return out
}
