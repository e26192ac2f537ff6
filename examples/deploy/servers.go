package main

import (
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
)

// dropServerDBs drops the server databases the walk-through created.
var dropServerDBs []func()

// openServer creates a fresh database for site name on the server the DSN
// names (driver "pgx" or "mysql") and opens it. The database is dropped
// when the walk-through ends.
func openServer(driver, dsn, name string) *site {
	admin, err := sql.Open(driver, dsn)
	check(err, "open "+driver)
	dbName := fmt.Sprintf("ms_deploy_%s_%d", name, os.Getpid())
	_, err = admin.ExecContext(ctx, "CREATE DATABASE "+dbName)
	check(err, "create database "+dbName)
	dropServerDBs = append(dropServerDBs, func() {
		admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+dbName)
		admin.Close()
	})
	var siteDSN string
	switch driver {
	case "pgx":
		u, err := url.Parse(dsn)
		check(err, "parse PostgreSQL DSN (use the URL form postgres://user@host:port/db)")
		u.Path = "/" + dbName
		siteDSN = u.String()
	case "mysql":
		cfg, err := mysql.ParseDSN(dsn)
		check(err, "parse MySQL DSN")
		cfg.DBName = dbName
		siteDSN = cfg.FormatDSN()
	}
	db, err := sql.Open(driver, siteDSN)
	check(err, "open "+dbName)
	check(db.PingContext(ctx), "connect to "+dbName)
	return &site{name: name, db: db, vendor: strings.TrimSuffix(driver, "x")}
}
