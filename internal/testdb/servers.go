package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// The environment variables naming the test servers. Each is a DSN of a
// database the tests may connect to as a user who can create and drop
// databases; every test site gets a database of its own, dropped when it
// ends.
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

// dbName returns a fresh database name for a test database called name:
// ms_test_, the time in hexadecimal Unix seconds (for sweep), 6 random hex
// digits, and name.
func dbName(name string) string {
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	n := unsafeName.ReplaceAllString(strings.ToLower(name), "_")
	if len(n) > 24 {
		n = n[:24]
	}
	return fmt.Sprintf("ms_test_%08x%s_%s", time.Now().Unix(), hex.EncodeToString(b[:]), n)
}

// staleAfter is the age past which a test database is taken to be left
// over from a run that was killed before its cleanups ran.
const staleAfter = 24 * time.Hour

var sweepOnce sync.Map // dialect -> *sync.Once

// sweep drops, once per process and server, the test databases older than
// staleAfter: a killed run (a timeout, ^C) leaves its databases behind.
func sweep(dialect string, admin *sql.DB, drop string) {
	once, _ := sweepOnce.LoadOrStore(dialect, new(sync.Once))
	once.(*sync.Once).Do(func() {
		q := `SELECT datname FROM pg_database WHERE datname LIKE 'ms\_test\_%'`
		if dialect == "mysql" {
			q = `SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'ms\_test\_%'`
		}
		rows, err := admin.Query(q)
		if err != nil {
			return
		}
		var old []string
		for rows.Next() {
			var n string
			if rows.Scan(&n) != nil || len(n) < 16 {
				continue
			}
			if sec, err := strconv.ParseInt(n[8:16], 16, 64); err == nil && time.Since(time.Unix(sec, 0)) > staleAfter {
				old = append(old, n)
			}
		}
		rows.Close()
		for _, n := range old {
			admin.Exec(fmt.Sprintf(drop, n))
		}
	})
}

// origin records where a database this package opened lives, so that
// Clone can copy it.
type origin struct {
	dialect string
	path    string // the SQLite file
	name    string // the database on the server
}

var (
	madeMu sync.Mutex
	made   = map[*sql.DB]origin{}
)

func remember(t testing.TB, db *sql.DB, o origin) {
	madeMu.Lock()
	made[db] = o
	madeMu.Unlock()
	t.Cleanup(func() { forget(db) })
}

func forget(db *sql.DB) {
	madeMu.Lock()
	delete(made, db)
	madeMu.Unlock()
}

// Available reports whether databases of dialect can be opened, and if
// not, why (the environment variable to set).
func Available(dialect string) (ok bool, reason string) {
	switch dialect {
	case "sqlite":
		return true, ""
	case "postgres":
		if os.Getenv(PostgresEnv) == "" {
			return false, fmt.Sprintf("PostgreSQL tests skipped: set %s to a DSN, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable", PostgresEnv)
		}
		return true, ""
	case "mysql":
		if os.Getenv(MySQLEnv) == "" {
			return false, fmt.Sprintf("MariaDB/MySQL tests skipped: set %s to a DSN, e.g. root@tcp(127.0.0.1:3306)/test", MySQLEnv)
		}
		return true, ""
	}
	return false, fmt.Sprintf("testdb: unknown dialect %q", dialect)
}

func skipUnless(t testing.TB, dialect string) {
	t.Helper()
	if ok, reason := Available(dialect); !ok {
		t.Skip(reason)
	}
}

func postgresConfig(t testing.TB) *pgx.ConnConfig {
	t.Helper()
	skipUnless(t, "postgres")
	cfg, err := pgx.ParseConfig(os.Getenv(PostgresEnv))
	if err != nil {
		t.Fatalf("%s: %v", PostgresEnv, err)
	}
	return cfg
}

func mysqlConfig(t testing.TB) *mysql.Config {
	t.Helper()
	skipUnless(t, "mysql")
	cfg, err := mysql.ParseDSN(os.Getenv(MySQLEnv))
	if err != nil {
		t.Fatalf("%s: %v", MySQLEnv, err)
	}
	return cfg
}

// Postgres creates a fresh PostgreSQL database for a test site called
// name, opens it through pgx and drops it when t ends. It skips t if
// MULTISITE_TEST_POSTGRES is unset.
func Postgres(t testing.TB, name string) *sql.DB {
	t.Helper()
	db, _ := Temp(t, "postgres", name)
	return db
}

// MySQL creates a fresh MariaDB or MySQL database for a test site called
// name, opens it and drops it when t ends. It skips t if
// MULTISITE_TEST_MYSQL is unset.
func MySQL(t testing.TB, name string) *sql.DB {
	t.Helper()
	db, _ := Temp(t, "mysql", name)
	return db
}

// Open opens a fresh database called name of the given dialect ("sqlite",
// "postgres" or "mysql"), skipping t if that server is not configured. It
// is dropped when t ends.
func Open(t testing.TB, dialect, name string) *sql.DB {
	t.Helper()
	db, _ := Temp(t, dialect, name)
	return db
}

// Temp is Open that also returns a function closing and dropping the
// database at once, for a test that makes many databases one after
// another (the simulation). Calling it twice is harmless; t's end calls it
// if the test has not.
func Temp(t testing.TB, dialect, name string) (db *sql.DB, drop func()) {
	t.Helper()
	return create(t, dialect, name, nil)
}

// Clone returns a fresh database called name holding a copy of src, which
// this package opened: its tables with their rows, indexes and triggers
// (and PostgreSQL functions), as a backup restored elsewhere would. src
// must be quiet while it is copied. On SQLite the copy is VACUUM INTO; on
// PostgreSQL CREATE DATABASE ... TEMPLATE (which closes src's idle
// connections, as no session may use a template); on MariaDB/MySQL each
// table is created LIKE its original and filled from it, then the
// triggers are created again (foreign keys are not copied). Like Temp it
// returns the function that drops the copy.
func Clone(t testing.TB, src *sql.DB, name string) (db *sql.DB, drop func()) {
	t.Helper()
	madeMu.Lock()
	o, ok := made[src]
	madeMu.Unlock()
	if !ok {
		t.Fatalf("testdb.Clone: the source database was not opened by testdb")
	}
	return create(t, o.dialect, name, &cloneSource{db: src, origin: o})
}

type cloneSource struct {
	db *sql.DB
	origin
}

func create(t testing.TB, dialect, name string, from *cloneSource) (*sql.DB, func()) {
	t.Helper()
	var (
		db   *sql.DB
		drop func() error
	)
	switch dialect {
	case "sqlite":
		path := filepath.Join(t.TempDir(), name+".db")
		if from != nil {
			if _, err := from.db.Exec(`VACUUM INTO ?`, path); err != nil {
				t.Fatalf("testdb: copy %s to %s: %v", from.path, path, err)
			}
		}
		db = SQLiteAt(t, path)
		drop = func() error {
			db.Close()
			for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
				os.Remove(path + suffix)
			}
			return nil
		}
	case "postgres":
		db, drop = createPostgres(t, name, from)
	case "mysql":
		db, drop = createMySQL(t, name, from)
	default:
		t.Fatalf("testdb: unknown dialect %q", dialect)
	}
	var once sync.Once
	dropOnce := func() {
		once.Do(func() {
			forget(db)
			if err := drop(); err != nil {
				t.Errorf("testdb: drop %s database %s: %v", dialect, name, err)
			}
		})
	}
	t.Cleanup(dropOnce)
	return db, dropOnce
}

func createPostgres(t testing.TB, name string, from *cloneSource) (*sql.DB, func() error) {
	t.Helper()
	cfg := postgresConfig(t)
	admin := stdlib.OpenDB(*cfg)
	defer admin.Close()
	sweep("postgres", admin, "DROP DATABASE IF EXISTS %s WITH (FORCE)")
	db := dbName(name)
	q := "CREATE DATABASE " + db
	if from != nil {
		// No session may be connected to a template: close src's idle
		// connections (the server waits a few seconds for them to go).
		from.db.SetMaxIdleConns(0)
		defer from.db.SetMaxIdleConns(2)
		q += " TEMPLATE " + from.name
	}
	if _, err := admin.Exec(q); err != nil {
		t.Fatalf("testdb: %s: %v", q, err)
	}
	own := cfg.Copy()
	own.Database = db
	conn := stdlib.OpenDB(*own)
	drop := func() error {
		conn.Close()
		admin := stdlib.OpenDB(*cfg)
		defer admin.Close()
		_, err := admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)")
		return err
	}
	if err := conn.Ping(); err != nil {
		drop()
		t.Fatalf("testdb: ping %s: %v", db, err)
	}
	remember(t, conn, origin{dialect: "postgres", name: db})
	return conn, drop
}

func createMySQL(t testing.TB, name string, from *cloneSource) (*sql.DB, func() error) {
	t.Helper()
	cfg := mysqlConfig(t)
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatalf("%s: %v", MySQLEnv, err)
	}
	defer admin.Close()
	sweep("mysql", admin, "DROP DATABASE IF EXISTS %s")
	db := dbName(name)
	if _, err := admin.Exec("CREATE DATABASE " + db + " CHARACTER SET utf8mb4"); err != nil {
		t.Fatalf("testdb: create database %s: %v", db, err)
	}
	own := cfg.Clone()
	own.DBName = db
	conn, err := sql.Open("mysql", own.FormatDSN())
	if err != nil {
		t.Fatalf("testdb: open %s: %v", db, err)
	}
	drop := func() error {
		conn.Close()
		admin, err := sql.Open("mysql", cfg.FormatDSN())
		if err != nil {
			return err
		}
		defer admin.Close()
		_, err = admin.Exec("DROP DATABASE IF EXISTS " + db)
		return err
	}
	if err := conn.Ping(); err != nil {
		drop()
		t.Fatalf("testdb: ping %s: %v", db, err)
	}
	if from != nil {
		if err := copyMySQL(conn, from.name, db); err != nil {
			drop()
			t.Fatalf("testdb: copy %s to %s: %v", from.name, db, err)
		}
	}
	remember(t, conn, origin{dialect: "mysql", name: db})
	return conn, drop
}

// copyMySQL copies the tables, rows and triggers of database src into the
// empty database dst, through db (connected to dst).
func copyMySQL(db *sql.DB, src, dst string) error {
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	names := func(q string, args ...any) ([]string, error) {
		rows, err := conn.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, rows.Err()
	}
	quote := func(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
	tables, err := names(`SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME`, src)
	if err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, "SET FOREIGN_KEY_CHECKS = 0"); err != nil {
		return err
	}
	defer conn.ExecContext(ctx, "SET FOREIGN_KEY_CHECKS = 1")
	for _, tb := range tables {
		for _, q := range []string{
			fmt.Sprintf("CREATE TABLE %s.%s LIKE %s.%s", quote(dst), quote(tb), quote(src), quote(tb)),
			fmt.Sprintf("INSERT INTO %s.%s SELECT * FROM %s.%s", quote(dst), quote(tb), quote(src), quote(tb)),
		} {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
	}
	triggers, err := names(`SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?
		ORDER BY EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER`, src)
	if err != nil {
		return err
	}
	for _, tr := range triggers {
		rows, err := conn.QueryContext(ctx, fmt.Sprintf("SHOW CREATE TRIGGER %s.%s", quote(src), quote(tr)))
		if err != nil {
			return err
		}
		cols, err := rows.Columns()
		if err != nil {
			rows.Close()
			return err
		}
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		var stmt string
		if rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return err
			}
			for i, c := range cols {
				if c == "SQL Original Statement" {
					stmt = string(vals[i])
				}
			}
		}
		rows.Close()
		if stmt == "" {
			return fmt.Errorf("SHOW CREATE TRIGGER %s: no statement", tr)
		}
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("create trigger %s: %w", tr, err)
		}
	}
	return nil
}

// ForEach runs body once per dialect as a subtest named after it: on
// SQLite always, on PostgreSQL and MariaDB/MySQL when their DSN variable is
// set (the subtest is skipped, naming the variable, otherwise). open
// returns a fresh database of the subtest's dialect on every call, so a
// body opens one per site; each is dropped when the subtest ends.
func ForEach(t *testing.T, body func(t *testing.T, open func(name string) *sql.DB)) {
	t.Helper()
	forEach(t, false, body)
}

// ForEachParallel is ForEach with the server subtests run in parallel with
// each other (t.Parallel), after the SQLite one: they mostly wait for their
// servers, and every site has a database of its own. The body must share
// no mutable state between dialects.
func ForEachParallel(t *testing.T, body func(t *testing.T, open func(name string) *sql.DB)) {
	t.Helper()
	forEach(t, true, body)
}

func forEach(t *testing.T, parallel bool, body func(t *testing.T, open func(name string) *sql.DB)) {
	t.Helper()
	for _, d := range Dialects {
		t.Run(d, func(t *testing.T) {
			skipUnless(t, d)
			if parallel && d != "sqlite" {
				t.Parallel()
			}
			body(t, func(name string) *sql.DB {
				t.Helper()
				return Open(t, d, name)
			})
		})
	}
}

// DSN returns a DSN that opens db, a database this package made, from
// another process (a test that runs a second writer). The driver names
// are "sqlite", "pgx" and "mysql". For SQLite it adds extra, DSN query
// parameters such as "&_txlock=immediate".
func DSN(t testing.TB, db *sql.DB, extra string) (driver, dsn string) {
	t.Helper()
	madeMu.Lock()
	o, ok := made[db]
	madeMu.Unlock()
	if !ok {
		t.Fatalf("testdb: DSN of a database testdb did not make")
	}
	switch o.dialect {
	case "postgres":
		u, err := url.Parse(os.Getenv(PostgresEnv))
		if err != nil {
			t.Fatalf("%s: %v", PostgresEnv, err)
		}
		u.Path = "/" + o.name
		return "pgx", u.String()
	case "mysql":
		cfg := mysqlConfig(t)
		cfg.DBName = o.name
		return "mysql", cfg.FormatDSN()
	}
	return "sqlite", SQLiteDSN(o.path) + extra
}
