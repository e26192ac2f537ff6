// Package testdb opens real databases for tests: SQLite files in
// t.TempDir() always, and PostgreSQL and MariaDB databases through DSNs in
// MULTISITE_TEST_POSTGRES and MULTISITE_TEST_MYSQL, one database per test
// site, dropped when the test ends (so tests may run in parallel and a
// failed run leaves nothing behind that breaks the next). ForEach runs a
// test body once per dialect; Clone copies a database, as a backup would.
package testdb

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // the embedded default
)

// SQLiteDSN returns the DSN the library's tests and examples use for a
// SQLite file: a busy timeout so writers wait for each other, and foreign
// keys enforced. The path is a URI's, so '%', '?' and '#' in it are
// escaped (as examples/internal/location does): t.TempDir keeps '#' from a
// repeated subtest's name ("postgres#01"), and unescaped it ended the path
// there, so such subtests shared one file in the system's temporary
// directory.
func SQLiteDSN(path string) string {
	return "file:" + uriPath.Replace(path) + "?_pragma=busy_timeout(20000)&_pragma=foreign_keys(1)"
}

var uriPath = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")

// SQLite opens (creating) the SQLite file name in a fresh temporary
// directory of t and closes it when t ends.
func SQLite(t testing.TB, name string) *sql.DB {
	t.Helper()
	return SQLiteAt(t, filepath.Join(t.TempDir(), name+".db"))
}

// SQLiteAt opens the SQLite file at path and closes it when t ends.
func SQLiteAt(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", SQLiteDSN(path))
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Ping(); err != nil {
		t.Fatalf("ping %s: %v", path, err)
	}
	remember(t, db, origin{dialect: "sqlite", path: path})
	return db
}

// Exec runs statements, failing t on the first error.
func Exec(t testing.TB, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("exec %q: %v", s, err)
		}
	}
}
