// Package location reads a database location as the example programs take
// it (multiutil's --db, the status page's -db): a SQLite file, or a
// database on a server:
//
//	boston.db                                   SQLite (modernc.org/sqlite)
//	postgres://user@host:5432/dbname            PostgreSQL (pgx); also postgresql://
//	mysql://user@tcp(host:3306)/dbname          MySQL/MariaDB: go-sql-driver's DSN after mysql://
//
// so that every tool reads a location alike.
package location

import "strings"

// Server returns the driver name and DSN of a location naming a server
// database; ok is false for a SQLite file.
func Server(db string) (driver, dsn string, ok bool) {
	switch {
	case strings.HasPrefix(db, "postgres://"), strings.HasPrefix(db, "postgresql://"):
		return "pgx", db, true
	case strings.HasPrefix(db, "mysql://"):
		return "mysql", strings.TrimPrefix(db, "mysql://"), true
	}
	return "", "", false
}

// Display is a location as messages and pages show it: without a password.
func Display(db string) string {
	if _, _, ok := Server(db); !ok {
		return db
	}
	scheme, rest, _ := strings.Cut(db, "://")
	end := len(rest)
	if i := strings.LastIndex(rest, "/"); i >= 0 {
		end = i
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		return db
	}
	if colon := strings.IndexByte(rest[:at], ':'); colon >= 0 {
		return scheme + "://" + rest[:colon] + ":***" + rest[at:]
	}
	return db
}

// SQLiteDSN is the modernc.org/sqlite data source name for a database
// file: the path escaped, a busy timeout and foreign keys on.
func SQLiteDSN(path string) string {
	return "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path) + "?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)"
}
