package workload

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/replica"
)

// The server dialects a [Server] measures on.
const (
	Postgres = "postgres" // PostgreSQL through github.com/jackc/pgx/v5/stdlib
	MySQL    = "mysql"    // MariaDB or MySQL through github.com/go-sql-driver/mysql
)

// Server is a PostgreSQL or MariaDB/MySQL server the benchmarks measure
// on. Every site and every reference gets a database of its own, created
// by [Server.Open] under the server's prefix and dropped by [Server.Drop]
// or, for any still left, by [Server.Close]. It is the benchmark's small
// equivalent of internal/testdb, which a program cannot import.
//
// A Server is safe for use by one goroutine at a time.
type Server struct {
	Dialect string // Postgres or MySQL
	Version string // what the server calls itself, e.g. "PostgreSQL 15.20 ..."
	Prefix  string // every database this Server creates is named Prefix + a number + "_" + the site

	pg    *pgx.ConnConfig
	my    *mysql.Config
	admin *sql.DB

	mu   sync.Mutex
	seq  int
	made map[*sql.DB]string // open database → its name on the server

	bulkMethod string // how Load and Copy load rows on MariaDB, once known
}

// PostgreSQL and MariaDB both take the table below; integer keys are
// BIGINT because activation refuses 32-bit keys on the servers (other
// replicas allocate keys from 2^40).
var serverSchemas = map[string]string{
	Postgres: `CREATE TABLE defect (
	id BIGINT PRIMARY KEY,
	title TEXT NOT NULL,
	body TEXT,
	severity DOUBLE PRECISION,
	updated TEXT,
	attachment BYTEA,
	owner TEXT,
	closed TEXT
)`,
	MySQL: `CREATE TABLE defect (
	id BIGINT PRIMARY KEY,
	title TEXT NOT NULL,
	body TEXT,
	severity DOUBLE,
	updated TEXT,
	attachment LONGBLOB,
	owner TEXT,
	closed TEXT
)`,
}

var safePrefix = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// OpenServer connects to the server dsn names, as a user who may create
// and drop databases. dialect is [Postgres] (a pgx DSN, URL or key=value
// form) or [MySQL] (a go-sql-driver DSN). prefix names the databases it
// will create ("" means "ms_bench_" and a random tag, so that runs side by
// side do not meet); it must be lower case letters, digits and '_'.
func OpenServer(ctx context.Context, dialect, dsn, prefix string) (*Server, error) {
	if prefix == "" {
		var b [4]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		prefix = "ms_bench_" + hex.EncodeToString(b[:]) + "_"
	}
	if !safePrefix.MatchString(prefix) || len(prefix) > 40 {
		return nil, fmt.Errorf("workload: database prefix %q: want at most 40 of a-z, 0-9 and _, starting with a letter", prefix)
	}
	s := &Server{Dialect: dialect, Prefix: prefix, made: map[*sql.DB]string{}}
	switch dialect {
	case Postgres:
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return nil, fmt.Errorf("workload: PostgreSQL DSN: %w", err)
		}
		s.pg = cfg
		s.admin = stdlib.OpenDB(*cfg)
	case MySQL:
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			return nil, fmt.Errorf("workload: MySQL DSN: %w", err)
		}
		s.my = cfg
		if s.admin, err = sql.Open("mysql", cfg.FormatDSN()); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("workload: unknown server dialect %q (want %q or %q)", dialect, Postgres, MySQL)
	}
	if err := s.admin.QueryRowContext(ctx, "SELECT version()").Scan(&s.Version); err != nil {
		s.admin.Close()
		return nil, fmt.Errorf("workload: connect to %s: %w", dialect, err)
	}
	return s, nil
}

// Close drops every database s created that is still there and closes
// its connections. It drops even when ctx is done.
func (s *Server) Close() error {
	s.mu.Lock()
	var open []*sql.DB
	for db := range s.made {
		open = append(open, db)
	}
	s.mu.Unlock()
	var errs []error
	for _, db := range open {
		errs = append(errs, s.Drop(db))
	}
	errs = append(errs, s.admin.Close())
	return errors.Join(errs...)
}

// Open creates a fresh, empty database for a site called site (lower case
// letters, digits and '_') and opens it.
func (s *Server) Open(ctx context.Context, site string) (*sql.DB, error) {
	s.mu.Lock()
	s.seq++
	name := fmt.Sprintf("%s%d_%s", s.Prefix, s.seq, site)
	s.mu.Unlock()
	if !safePrefix.MatchString(name) || len(name) > 63 {
		return nil, fmt.Errorf("workload: site %q makes the database name %q: use a-z, 0-9 and _", site, name)
	}
	q := "CREATE DATABASE " + name
	if s.Dialect == MySQL {
		q += " CHARACTER SET utf8mb4"
	}
	if _, err := s.admin.ExecContext(ctx, q); err != nil {
		return nil, fmt.Errorf("workload: %s: %w", q, err)
	}
	var db *sql.DB
	switch s.Dialect {
	case Postgres:
		own := s.pg.Copy()
		own.Database = name
		db = stdlib.OpenDB(*own)
	case MySQL:
		own := s.my.Clone()
		own.DBName = name
		var err error
		if db, err = sql.Open("mysql", own.FormatDSN()); err != nil {
			s.dropName(name)
			return nil, err
		}
	}
	s.mu.Lock()
	s.made[db] = name
	s.mu.Unlock()
	if err := db.PingContext(ctx); err != nil {
		s.Drop(db)
		return nil, fmt.Errorf("workload: connect to %s: %w", name, err)
	}
	return db, nil
}

// OpenWithTable is Open with the benchmark table created in the database.
func (s *Server) OpenWithTable(ctx context.Context, site string) (*sql.DB, error) {
	db, err := s.Open(ctx, site)
	if err != nil {
		return nil, err
	}
	if _, err := db.ExecContext(ctx, serverSchemas[s.Dialect]); err != nil {
		s.Drop(db)
		return nil, fmt.Errorf("workload: create table: %w", err)
	}
	return db, nil
}

// Drop closes db, which Open made, and drops its database. Dropping a
// database twice, or one Open did not make, does nothing.
func (s *Server) Drop(db *sql.DB) error {
	s.mu.Lock()
	name, ok := s.made[db]
	delete(s.made, db)
	s.mu.Unlock()
	if !ok {
		return nil
	}
	db.Close()
	return s.dropName(name)
}

func (s *Server) dropName(name string) error {
	q := "DROP DATABASE IF EXISTS " + name
	if s.Dialect == Postgres {
		q += " WITH (FORCE)" // PostgreSQL 13+: ends sessions still connected
	}
	// Drop even when the benchmark's context was cancelled (Ctrl-C).
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.admin.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("workload: %s: %w", q, err)
	}
	return nil
}

// Databases lists the databases on the server whose names start with
// s.Prefix: after Close, none should be left.
func (s *Server) Databases(ctx context.Context) ([]string, error) {
	q := `SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY datname`
	if s.Dialect == MySQL {
		q = `SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE LEFT(SCHEMA_NAME, CHAR_LENGTH(?)) = ? ORDER BY SCHEMA_NAME`
	}
	args := []any{s.Prefix}
	if s.Dialect == MySQL {
		args = append(args, s.Prefix)
	}
	rows, err := s.admin.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// param is the n-th (from 1) placeholder of the server's dialect.
func (s *Server) param(n int) string {
	if s.Dialect == Postgres {
		return fmt.Sprintf("$%d", n)
	}
	return "?"
}

func (s *Server) insertSQL() string {
	ps := make([]string, len(Columns))
	for i := range ps {
		ps[i] = s.param(i + 1)
	}
	return "INSERT INTO defect (" + strings.Join(Columns, ", ") + ") VALUES (" + strings.Join(ps, ", ") + ")"
}

// Insert inserts rows with one prepared INSERT in one transaction, as
// [Insert] does on SQLite.
func (s *Server) Insert(ctx context.Context, db *sql.DB, rows [][]any) (time.Duration, error) {
	return loop(ctx, db, s.insertSQL(), rows)
}

// UpsertStatement names the statement [Server.Upsert] prepares.
func (s *Server) UpsertStatement() string {
	if s.Dialect == Postgres {
		return "INSERT ... ON CONFLICT (id) DO UPDATE"
	}
	return "INSERT ... ON DUPLICATE KEY UPDATE"
}

// Upsert applies rows with one prepared upsert in one transaction:
// INSERT ... ON CONFLICT DO UPDATE on PostgreSQL, INSERT ... ON DUPLICATE
// KEY UPDATE on MariaDB. It is the plain way to apply row images.
func (s *Server) Upsert(ctx context.Context, db *sql.DB, rows [][]any) (time.Duration, error) {
	var set []string
	for _, c := range Columns[1:] {
		if s.Dialect == Postgres {
			set = append(set, c+" = excluded."+c)
		} else {
			set = append(set, c+" = VALUES("+c+")")
		}
	}
	q := s.insertSQL()
	if s.Dialect == Postgres {
		q += " ON CONFLICT (id) DO UPDATE SET " + strings.Join(set, ", ")
	} else {
		q += " ON DUPLICATE KEY UPDATE " + strings.Join(set, ", ")
	}
	return loop(ctx, db, q, rows)
}

// touchSQL is Touch's UPDATE in the server's dialect.
func (s *Server) touchSQL() string {
	return fmt.Sprintf("UPDATE defect SET title = %s, updated = %s WHERE id = %s", s.param(1), s.param(2), s.param(3))
}

// Family builds a [Family] on the server: an origin "boston" activated
// over an empty benchmark table and a receive-only replica "bangalore"
// created from it, each in a database of its own. Its Close drops both.
func (s *Server) Family(ctx context.Context) (*Family, error) {
	origin, err := s.OpenWithTable(ctx, "boston")
	if err != nil {
		return nil, err
	}
	f := &Family{Origin: origin}
	f.close = func() error {
		return errors.Join(s.Drop(f.Origin), s.Drop(f.Replica))
	}
	if err := f.build(ctx, func() (*sql.DB, error) { return s.Open(ctx, "bangalore") }); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// CreateReplica registers a replica called name at db, writes its creation
// packet to a file in dir and creates the replica from that file in a new
// database on the server, as [CreateReplica] does on SQLite. It returns
// the new replica's database; the caller drops it.
func (s *Server) CreateReplica(ctx context.Context, db *sql.DB, name, dir string) (Creation, *sql.DB, error) {
	var c Creation
	pktPath := filepath.Join(dir, name+".pkt")
	f, err := os.Create(pktPath)
	if err != nil {
		return c, nil, err
	}
	defer os.Remove(pktPath)
	start := time.Now()
	_, st, err := multisite.Replicate(ctx, db, name, f, multisite.ReplicateOptions{})
	if err == nil {
		err = f.Close()
	} else {
		f.Close()
	}
	if err != nil {
		return c, nil, err
	}
	c.Write, c.Bytes = time.Since(start), st.Bytes
	ndb, err := s.Open(ctx, name)
	if err != nil {
		return c, nil, err
	}
	f, err = os.Open(pktPath)
	if err != nil {
		s.Drop(ndb)
		return c, nil, err
	}
	defer f.Close()
	start = time.Now()
	if _, err := multisite.CreateReplica(ctx, ndb, f, multisite.CreateOptions{}); err != nil {
		s.Drop(ndb)
		return c, nil, err
	}
	c.Create = time.Since(start)
	return c, ndb, nil
}

// Large builds a database on the server holding rows 0..n-1 (bulk-loaded
// before activation, the fast way), activates it and registers a replica
// "far" known to hold all of them, as [Large] does on SQLite. The caller
// drops the database.
func (s *Server) Large(ctx context.Context, site string, n int) (*sql.DB, replica.ID, error) {
	db, err := s.OpenWithTable(ctx, site)
	if err != nil {
		return nil, "", err
	}
	const batch = 50_000
	for lo := 0; lo < n; lo += batch {
		rows := make([][]any, min(batch, n-lo))
		for i := range rows {
			rows[i] = Row(lo + i)
		}
		if _, _, err := s.Load(ctx, db, rows); err != nil {
			s.Drop(db)
			return nil, "", err
		}
	}
	if _, err := multisite.Activate(ctx, db, multisite.ActivateOptions{Name: "origin"}); err != nil {
		s.Drop(db)
		return nil, "", err
	}
	far, _, err := multisite.Replicate(ctx, db, "far", io.Discard, multisite.ReplicateOptions{})
	if err != nil {
		s.Drop(db)
		return nil, "", err
	}
	return db, far.ID, nil
}

// Incremental is [Incremental] on the server: it changes the same changed
// rows of db rounds times and times each ExportPacket to target after.
func (s *Server) Incremental(ctx context.Context, db *sql.DB, target replica.ID, n, changed, rounds int) ([]time.Duration, error) {
	return incremental(ctx, db, s.touchSQL(), target, n, changed, rounds)
}

// Dump returns the benchmark table's rows of db in key order, each value
// as the driver gives it (numbers may come back as text on MariaDB), for
// comparing two databases on the same server.
func Dump(ctx context.Context, db *sql.DB) ([][]any, error) {
	rows, err := db.QueryContext(ctx, "SELECT "+strings.Join(Columns, ", ")+" FROM defect ORDER BY id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		r := make([]any, len(Columns))
		ptrs := make([]any, len(r))
		for i := range r {
			ptrs[i] = &r[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i, v := range r {
			if b, ok := v.([]byte); ok && Columns[i] != "attachment" {
				r[i] = string(b) // MariaDB's text protocol gives text as bytes
			}
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// TextBytes is the size of rows in the text form the bulk loaders read
// (tab-separated, backslash escapes, \N for NULL, the blob in hex): what a
// dump of the table would hold, the reference for the packet's size.
func TextBytes(rows [][]any) (int64, error) {
	var cw countWriter
	var buf bytes.Buffer
	for _, r := range rows {
		buf.Reset()
		if err := appendText(&buf, r); err != nil {
			return 0, err
		}
		cw.Write(buf.Bytes())
	}
	return cw.n, nil
}
