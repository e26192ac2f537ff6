package workload

import (
	"bytes"
	"fmt"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// SQLite's session extension is the reference for the packet: a changeset
// is SQLite's own compact record of row changes, and applying one is the
// fastest way SQLite knows to replay them. zombiezen.com/go/sqlite exposes
// it over the same modernc.org/sqlite C translation the library runs on,
// through its own connection (not database/sql).

func openConn(path string) (*sqlite.Conn, error) {
	c, err := sqlite.OpenConn(path, sqlite.OpenReadWrite, sqlite.OpenCreate, sqlite.OpenWAL)
	if err != nil {
		return nil, fmt.Errorf("workload: open %s: %w", path, err)
	}
	for _, q := range []string{"PRAGMA busy_timeout = 20000", "PRAGMA foreign_keys = ON"} {
		if err := sqlitex.ExecuteTransient(c, q, nil); err != nil {
			c.Close()
			return nil, fmt.Errorf("workload: %s: %w", q, err)
		}
	}
	return c, nil
}

// Changeset records a session changeset of inserting rows into a fresh
// benchmark table at path. It returns the changeset and how long recording
// took: the inserts under the session, the commit and writing the
// changeset out.
func Changeset(path string, rows [][]any) ([]byte, time.Duration, error) {
	c, err := openConn(path)
	if err != nil {
		return nil, 0, err
	}
	defer c.Close()
	if err := sqlitex.ExecuteTransient(c, Schema, nil); err != nil {
		return nil, 0, fmt.Errorf("workload: create table: %w", err)
	}
	start := time.Now()
	s, err := c.CreateSession("")
	if err != nil {
		return nil, 0, err
	}
	defer s.Delete()
	if err := s.Attach(Table); err != nil {
		return nil, 0, err
	}
	if err := sqlitex.ExecuteTransient(c, "BEGIN", nil); err != nil {
		return nil, 0, err
	}
	stmt, err := c.Prepare(insertSQL)
	if err != nil {
		return nil, 0, err
	}
	for _, r := range rows {
		if err := bind(stmt, r); err != nil {
			return nil, 0, err
		}
		if _, err := stmt.Step(); err != nil {
			return nil, 0, fmt.Errorf("workload: insert row %v: %w", r[0], err)
		}
		if err := stmt.Reset(); err != nil {
			return nil, 0, err
		}
	}
	if err := sqlitex.ExecuteTransient(c, "COMMIT", nil); err != nil {
		return nil, 0, err
	}
	var buf bytes.Buffer
	if err := s.WriteChangeset(&buf); err != nil {
		return nil, 0, err
	}
	return buf.Bytes(), time.Since(start), nil
}

// ApplyChangeset applies cs to a fresh benchmark table at path (one
// transaction, as sqlite3changeset_apply does) and returns how long it
// took. Any conflict aborts: the table is empty, so there must be none.
func ApplyChangeset(path string, cs []byte) (time.Duration, error) {
	c, err := openConn(path)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if err := sqlitex.ExecuteTransient(c, Schema, nil); err != nil {
		return 0, fmt.Errorf("workload: create table: %w", err)
	}
	start := time.Now()
	err = c.ApplyChangeset(bytes.NewReader(cs), nil, func(sqlite.ConflictType, *sqlite.ChangesetIterator) sqlite.ConflictAction {
		return sqlite.ChangesetAbort
	})
	if err != nil {
		return 0, fmt.Errorf("workload: apply changeset: %w", err)
	}
	return time.Since(start), nil
}

func bind(stmt *sqlite.Stmt, row []any) error {
	for i, v := range row {
		p := i + 1
		switch x := v.(type) {
		case nil:
			stmt.BindNull(p)
		case int64:
			stmt.BindInt64(p, x)
		case float64:
			stmt.BindFloat(p, x)
		case string:
			stmt.BindText(p, x)
		case []byte:
			stmt.BindBytes(p, x)
		default:
			return fmt.Errorf("workload: cannot bind %T", v)
		}
	}
	return nil
}
