package main

import (
	"database/sql"
	"errors"
	"fmt"
	"os"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/examples/internal/location"
)

// A --db argument names a SQLite file, or a database on a server:
//
//	boston.db                                   SQLite (modernc.org/sqlite)
//	postgres://user@host:5432/dbname            PostgreSQL (pgx); also postgresql://
//	mysql://user@tcp(host:3306)/dbname          MySQL/MariaDB: go-sql-driver's DSN after mysql://
const dbKinds = " (a SQLite file, postgres://user@host/db or mysql://user@tcp(host:3306)/db)"

func isServer(db string) bool {
	_, _, ok := location.Server(db)
	return ok
}

// server, display and dsn read a --db as every example program does.
var (
	server  = location.Server
	display = location.Display
	dsn     = location.SQLiteDSN
)

// openDB opens an existing database. Opening a missing SQLite file would
// silently create it, so that is an error; a server database must exist.
func openDB(path string) (*sql.DB, error) {
	if !isServer(path) {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("database %s: %w", path, errors.Unwrap(err))
		}
	}
	return sqlOpen(path)
}

// sqlOpen opens a database, creating a SQLite file that does not exist.
func sqlOpen(path string) (*sql.DB, error) {
	driver, source, ok := server(path)
	if !ok {
		driver, source = "sqlite", dsn(path)
	}
	db, err := sql.Open(driver, source)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", display(path), err)
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("database %s: %w", display(path), err)
	}
	return db, nil
}

// openStatus opens the database at path and reads the replica's status:
// what most verbs need before they act. The caller closes db.
func openStatus(e *env, path string) (*sql.DB, *multisite.Status, error) {
	db, err := openDB(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := multisite.ReadStatus(e.ctx, db)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	e.who = names(st)
	return db, st, nil
}
