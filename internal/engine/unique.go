package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/multisite-go/multisite/internal/dialect"
)

// settingUnique is the key of a creation packet's setting that carries one
// unique constraint or unique index of a replicated table (other than its
// primary key), so a new replica enforces the same business keys and
// settles the same collisions (collision.go).
const settingUnique = "ms.unique"

// uniqueSetting is the JSON value of an "ms.unique" setting.
type uniqueSetting struct {
	Table   string   `json:"table"`
	Name    string   `json:"name"`
	Columns []string `json:"columns"`
}

// uniqueSettings returns the settings that carry the unique keys of the
// replicated tables in a creation packet.
func uniqueSettings(ctx context.Context, q dialect.Querier, d dialect.Dialect) ([]string, error) {
	tables, err := Tables(ctx, q)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range tables {
		us, err := dialect.UniqueKeys(ctx, q, d, t.Name)
		if err != nil {
			return nil, err
		}
		for _, u := range us {
			b, err := json.Marshal(uniqueSetting{Table: t.Name, Name: u.Name, Columns: u.Columns})
			if err != nil {
				return nil, err
			}
			out = append(out, string(b))
		}
	}
	return out, nil
}

// parseUnique reads an "ms.unique" setting, checking every name in it.
func parseUnique(v string) (uniqueSetting, error) {
	var u uniqueSetting
	if err := json.Unmarshal([]byte(v), &u); err != nil {
		return u, fmt.Errorf("%w: unique key setting: %v", ErrPacket, err)
	}
	ok := validName(u.Table) && len(u.Columns) > 0 && u.Name != "" && !strings.ContainsRune(u.Name, 0)
	for _, c := range u.Columns {
		ok = ok && validName(c)
	}
	if !ok {
		return u, fmt.Errorf("%w: unique key setting %q names invalid tables or columns", ErrPacket, v)
	}
	return u, nil
}

// createUniques adds the packet's unique keys to the tables it created,
// once their rows are in. An index keeps its name unless the name is
// reserved here (SQLite's sqlite_autoindex_ names for UNIQUE constraints,
// the library's ms_ prefix), when it becomes <table>_<columns>_key.
func createUniques(ctx context.Context, q dialect.Querier, d dialect.Dialect, us []uniqueSetting, tables []dialect.Table) error {
	byName := map[string]dialect.Table{}
	for _, t := range tables {
		byName[t.Name] = t
	}
	for _, u := range us {
		t, ok := byName[u.Table]
		if !ok {
			return fmt.Errorf("%w: unique key %s of %s: the packet does not create the table", ErrPacket, u.Name, u.Table)
		}
		cols := make([]string, len(u.Columns))
		for i, c := range u.Columns {
			if _, ok := t.Column(c); !ok {
				return fmt.Errorf("%w: unique key %s of %s names unknown column %s", ErrPacket, u.Name, u.Table, c)
			}
			cols[i] = d.Quote(c)
		}
		name := u.Name
		if !validName(name) {
			name = d.Object("", u.Table+"_"+strings.Join(u.Columns, "_"), "_key")
		}
		stmt := fmt.Sprintf("CREATE UNIQUE INDEX %s ON %s (%s)", d.Quote(name), d.Quote(u.Table), strings.Join(cols, ", "))
		if _, err := q.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("multisite: add unique key %s of %s: %w", name, u.Table, err)
		}
	}
	return nil
}
