package schema

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Dialect names understood in [Migration.SQL] and file names: the values of
// multisite.Dialect.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
	MySQL    = "mysql"
)

var dialects = []string{SQLite, Postgres, MySQL}

// Migration is one versioned change of the application's schema. The
// family's schema master applies it (multisite.Migrate); it then travels in
// every packet to every replica, which applies it before any data of the
// packet, so rows that need a new column never reach a replica without it.
//
// SQL runs at every replica, with change capture and mastership
// enforcement off: it is the same transformation everywhere, not a change
// to replicate. Func runs at the schema master only, after the SQL, as an
// ordinary local write: what it changes replicates like any edit (use it to
// fill a new column of rows the master masters). Func is not part of the
// checksum and does not travel.
//
// The zero value is not a valid migration: Version must be positive.
type Migration struct {
	Version int64  // order of application; unique, positive; gaps are fine
	Name    string // what it does, e.g. "add_priority"
	// Up is the SQL for every dialect: statements separated by ";". A
	// statement that contains ";" itself (a trigger body) goes between
	// "-- +multisite StatementBegin" and "-- +multisite StatementEnd" lines
	// (goose's "-- +goose StatementBegin" works too).
	Up string
	// SQL overrides Up for one dialect ("sqlite", "postgres", "mysql").
	SQL map[string]string
	// Func, if set, runs at the schema master in the migration's
	// transaction after the SQL (on MySQL/MariaDB, in a transaction of its
	// own, since DDL commits by itself there).
	Func func(ctx context.Context, tx *sql.Tx) error
}

// Text returns the SQL of m for dialect d: SQL[d], else Up. ok is false if
// m has SQL for other dialects only; a migration with no SQL at all (a
// Func alone) has the empty text everywhere.
func (m Migration) Text(d string) (text string, ok bool) {
	if s, ok := m.SQL[d]; ok {
		return s, true
	}
	if m.Up != "" || len(m.SQL) == 0 {
		return m.Up, true
	}
	return "", false
}

// Checksum returns the SHA-256, in hex, of the migration's version, name
// and SQL (Up and every dialect's), which identifies its text across the
// family.
func (m Migration) Checksum() string {
	h := sha256.New()
	fmt.Fprintf(h, "multisite migration\x00%d\x00%s\x00up\x00%s\x00", m.Version, m.Name, m.Up)
	keys := make([]string, 0, len(m.SQL))
	for k := range m.SQL {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "%s\x00%s\x00", k, m.SQL[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Statements splits the SQL of m for dialect d into statements (see
// [SplitStatements]).
func (m Migration) Statements(d string) ([]string, error) {
	text, ok := m.Text(d)
	if !ok {
		return nil, &DialectError{Version: m.Version, Name: m.Name, Dialect: d}
	}
	stmts, err := SplitStatements(text)
	if err != nil {
		return nil, fmt.Errorf("%w: migration %d (%s): %w", ErrInvalidMigration, m.Version, m.Name, err)
	}
	return stmts, nil
}

// Sorted checks a list of migrations and returns it ordered by version:
// versions positive and unique, dialect keys known, SQL that splits.
func Sorted(migs []Migration) ([]Migration, error) {
	out := append([]Migration(nil), migs...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version <= 0 {
			return nil, fmt.Errorf("%w: version %d of %q is not positive", ErrInvalidMigration, m.Version, m.Name)
		}
		if i > 0 && out[i-1].Version == m.Version {
			return nil, fmt.Errorf("%w: version %d is used twice (%q and %q)", ErrInvalidMigration, m.Version, out[i-1].Name, m.Name)
		}
		for k := range m.SQL {
			if !knownDialect(k) {
				return nil, fmt.Errorf("%w: migration %d has SQL for unknown dialect %q (known: %s)", ErrInvalidMigration, m.Version, k, strings.Join(dialects, ", "))
			}
		}
		for _, d := range dialects {
			if text, ok := m.Text(d); ok {
				if _, err := SplitStatements(text); err != nil {
					return nil, fmt.Errorf("%w: migration %d (%s), %s: %w", ErrInvalidMigration, m.Version, m.Name, d, err)
				}
			}
		}
	}
	return out, nil
}

func knownDialect(d string) bool {
	for _, k := range dialects {
		if k == d {
			return true
		}
	}
	return false
}

// migrationFile is goose's file naming: VERSION_NAME.sql, with an optional
// dialect before the extension: 0003_add_priority.postgres.sql.
var migrationFile = regexp.MustCompile(`^([0-9]+)_([^.]+?)(?:\.(sqlite|postgres|mysql))?\.sql$`)

// FromFS reads migrations from the files of dir in fsys (an embed.FS,
// os.DirFS, fs.Sub): VERSION_NAME.sql holds Up, VERSION_NAME.DIALECT.sql
// (DIALECT one of sqlite, postgres, mysql) the SQL of one dialect. Other
// files are ignored. A file with goose's "-- +goose Up" / "-- +goose Down"
// sections (or "-- +multisite Up" / "Down") contributes its Up section
// only: migrations never go down, a new one undoes an old one.
func FromFS(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("schema: read migrations: %w", err)
	}
	byVersion := map[int64]*Migration{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		m := migrationFile.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		v, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%w: file %s: version %q", ErrInvalidMigration, e.Name(), m[1])
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("schema: read migration %s: %w", e.Name(), err)
		}
		up, err := upSection(string(b))
		if err != nil {
			return nil, fmt.Errorf("%w: file %s: %w", ErrInvalidMigration, e.Name(), err)
		}
		mig := byVersion[v]
		if mig == nil {
			mig = &Migration{Version: v, Name: m[2]}
			byVersion[v] = mig
		}
		if mig.Name != m[2] {
			return nil, fmt.Errorf("%w: version %d has two names, %q and %q", ErrInvalidMigration, v, mig.Name, m[2])
		}
		if m[3] == "" {
			mig.Up = up
			continue
		}
		if mig.SQL == nil {
			mig.SQL = map[string]string{}
		}
		mig.SQL[m[3]] = up
	}
	out := make([]Migration, 0, len(byVersion))
	for _, m := range byVersion {
		out = append(out, *m)
	}
	return Sorted(out)
}

var annotation = regexp.MustCompile(`(?i)^--\s*\+(?:goose|multisite)\s+(.*?)\s*$`)

// upSection returns the Up section of a file with Up/Down annotations, or
// the whole text if it has none.
func upSection(text string) (string, error) {
	lines := strings.SplitAfter(text, "\n")
	var up []string
	state := "" // "", "up", "down"
	annotated, sawUp := false, false
	for _, l := range lines {
		if a := annotation.FindStringSubmatch(strings.TrimSpace(l)); a != nil {
			switch strings.ToLower(a[1]) {
			case "up":
				state, annotated, sawUp = "up", true, true
				continue
			case "down":
				state, annotated = "down", true
				continue
			}
		}
		if state == "up" || state == "" {
			up = append(up, l)
		}
	}
	if annotated && !sawUp {
		return "", fmt.Errorf("annotations without an Up section")
	}
	return strings.TrimSpace(strings.Join(up, "")), nil
}

// SplitStatements splits SQL text into statements at every ";" outside
// quotes ('...', "...", `...`), comments (-- and /* */) and PostgreSQL
// dollar quotes ($$...$$, $tag$...$tag$). Lines between
// "-- +multisite StatementBegin" and "-- +multisite StatementEnd" (or
// goose's) form one statement, for trigger and function bodies. Empty
// statements and comments alone are dropped.
func SplitStatements(text string) ([]string, error) {
	var out []string
	var cur strings.Builder
	emit := func() {
		if s := strings.TrimSpace(cur.String()); s != "" && !onlyComments(s) {
			out = append(out, strings.TrimSuffix(s, ";"))
		}
		cur.Reset()
	}
	block := false // inside StatementBegin/End
	var pending strings.Builder
	flushPending := func() error {
		stmts, err := splitPlain(pending.String())
		pending.Reset()
		if err != nil {
			return err
		}
		for _, s := range stmts {
			cur.WriteString(s)
			emit()
		}
		return nil
	}
	for _, l := range strings.SplitAfter(text, "\n") {
		if a := annotation.FindStringSubmatch(strings.TrimSpace(l)); a != nil {
			switch strings.ToLower(a[1]) {
			case "statementbegin":
				if block {
					return nil, fmt.Errorf("StatementBegin inside a statement block")
				}
				if err := flushPending(); err != nil {
					return nil, err
				}
				block = true
				continue
			case "statementend":
				if !block {
					return nil, fmt.Errorf("StatementEnd without StatementBegin")
				}
				block = false
				emit()
				continue
			}
		}
		if block {
			cur.WriteString(l)
		} else {
			pending.WriteString(l)
		}
	}
	if block {
		return nil, fmt.Errorf("StatementBegin without StatementEnd")
	}
	if err := flushPending(); err != nil {
		return nil, err
	}
	return out, nil
}

var dollarTag = regexp.MustCompile(`^\$[A-Za-z_]*\$`)

// splitPlain splits text at top-level semicolons.
func splitPlain(text string) ([]string, error) {
	var out []string
	start := 0
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case c == '\'' || c == '"' || c == '`':
			j := i + 1
			for ; j < len(text); j++ {
				if text[j] == c {
					if j+1 < len(text) && text[j+1] == c { // doubled quote
						j++
						continue
					}
					break
				}
			}
			if j >= len(text) {
				return nil, fmt.Errorf("unterminated %c quote", c)
			}
			i = j
		case c == '-' && i+1 < len(text) && text[i+1] == '-':
			for i < len(text) && text[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(text) && text[i+1] == '*':
			end := strings.Index(text[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("unterminated /* comment")
			}
			i += end + 3
		case c == '$':
			tag := dollarTag.FindString(text[i:])
			if tag == "" {
				continue
			}
			end := strings.Index(text[i+len(tag):], tag)
			if end < 0 {
				return nil, fmt.Errorf("unterminated %s quote", tag)
			}
			i += len(tag) + end + len(tag) - 1
		case c == ';':
			out = append(out, text[start:i+1])
			start = i + 1
		}
	}
	return append(out, text[start:]), nil
}

// onlyComments reports whether s holds nothing but SQL comments.
func onlyComments(s string) bool {
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if l != "" && l != ";" && !strings.HasPrefix(l, "--") {
			return false
		}
	}
	return true
}
