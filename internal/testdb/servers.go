package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// The environment variables naming the test servers. Each is a DSN of a
// database the tests may connect to as a user who can create and drop
// databases; every test gets a database of its own, dropped when it ends.
//
//	MULTISITE_TEST_POSTGRES='postgres://postgres@127.0.0.1:5432/test?sslmode=disable'
//	MULTISITE_TEST_MYSQL='root@tcp(127.0.0.1:3306)/test'
//
// The library needs no DSN parameter of its own on either server (parseTime
// may be on or off; multiStatements is not used).
const (
	PostgresEnv = "MULTISITE_TEST_POSTGRES"
	MySQLEnv    = "MULTISITE_TEST_MYSQL"
)

// Dialects are the names ForEach runs its body under, in order.
var Dialects = []string{"sqlite", "postgres", "mysql"}

var unsafeName = regexp.MustCompile(`[^a-z0-9_]+`)

// dbName returns a fresh database name for a test database called name.
func dbName(name string) string {
	var b [5]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	n := unsafeName.ReplaceAllString(strings.ToLower(name), "_")
	if len(n) > 24 {
		n = n[:24]
	}
	return "ms_test_" + hex.EncodeToString(b[:]) + "_" + n
}

// Postgres creates a fresh PostgreSQL database for a test site called
// name, opens it through pgx and drops it when t ends. It skips t if
// MULTISITE_TEST_POSTGRES is unset.
func Postgres(t testing.TB, name string) *sql.DB {
	t.Helper()
	dsn := os.Getenv(PostgresEnv)
	if dsn == "" {
		t.Skipf("PostgreSQL tests skipped: set %s to a DSN, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable", PostgresEnv)
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("%s: %v", PostgresEnv, err)
	}
	admin := stdlib.OpenDB(*cfg)
	defer admin.Close()
	db := dbName(name)
	if _, err := admin.Exec("CREATE DATABASE " + db); err != nil {
		t.Fatalf("create database %s: %v", db, err)
	}
	t.Cleanup(func() {
		admin := stdlib.OpenDB(*cfg)
		defer admin.Close()
		if _, err := admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", db, err)
		}
	})
	own := cfg.Copy()
	own.Database = db
	conn := stdlib.OpenDB(*own)
	t.Cleanup(func() { conn.Close() })
	if err := conn.Ping(); err != nil {
		t.Fatalf("ping %s: %v", db, err)
	}
	return conn
}

// MySQL creates a fresh MariaDB or MySQL database for a test site called
// name, opens it and drops it when t ends. It skips t if
// MULTISITE_TEST_MYSQL is unset.
func MySQL(t testing.TB, name string) *sql.DB {
	t.Helper()
	dsn := os.Getenv(MySQLEnv)
	if dsn == "" {
		t.Skipf("MariaDB/MySQL tests skipped: set %s to a DSN, e.g. root@tcp(127.0.0.1:3306)/test", MySQLEnv)
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("%s: %v", MySQLEnv, err)
	}
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatalf("%s: %v", MySQLEnv, err)
	}
	defer admin.Close()
	db := dbName(name)
	if _, err := admin.Exec("CREATE DATABASE " + db + " CHARACTER SET utf8mb4"); err != nil {
		t.Fatalf("create database %s: %v", db, err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("mysql", cfg.FormatDSN())
		if err != nil {
			t.Errorf("drop database %s: %v", db, err)
			return
		}
		defer admin.Close()
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + db); err != nil {
			t.Errorf("drop database %s: %v", db, err)
		}
	})
	own := cfg.Clone()
	own.DBName = db
	conn, err := sql.Open("mysql", own.FormatDSN())
	if err != nil {
		t.Fatalf("open %s: %v", db, err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.Ping(); err != nil {
		t.Fatalf("ping %s: %v", db, err)
	}
	return conn
}

// Open opens a fresh database called name of the given dialect ("sqlite",
// "postgres" or "mysql"), skipping t if that server is not configured.
func Open(t testing.TB, dialect, name string) *sql.DB {
	t.Helper()
	switch dialect {
	case "sqlite":
		return SQLite(t, name)
	case "postgres":
		return Postgres(t, name)
	case "mysql":
		return MySQL(t, name)
	}
	t.Fatalf("testdb: unknown dialect %q", dialect)
	return nil
}

// ForEach runs body once per dialect as a subtest named after it: on
// SQLite always, on PostgreSQL and MariaDB/MySQL when their DSN variable is
// set (the subtest is skipped, naming the variable, otherwise). open
// returns a fresh database of the subtest's dialect on every call, so a
// body opens one per site.
func ForEach(t *testing.T, body func(t *testing.T, open func(name string) *sql.DB)) {
	t.Helper()
	for _, d := range Dialects {
		t.Run(d, func(t *testing.T) {
			if env := map[string]string{"postgres": PostgresEnv, "mysql": MySQLEnv}[d]; env != "" && os.Getenv(env) == "" {
				t.Skipf("%s tests skipped: %s is not set", d, env)
			}
			body(t, func(name string) *sql.DB {
				t.Helper()
				return Open(t, d, name)
			})
		})
	}
}
