// Package workload is the data and the reference paths the multisite
// benchmarks share: examples/bench (the program that prints the figures)
// and the root package's bench_test.go (go test -bench).
//
// Every measurement here times one path over the same rows of about 600
// bytes, so a caller can divide it by a reference measured in the same run:
// absolute figures on a shared machine are noise, ratios are not. Nothing
// here prints; the callers do.
package workload

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the embedded default
)

// Table is the benchmark table's name.
const Table = "defect"

// Schema creates the benchmark table: an integer key and seven columns of
// mixed types, about 600 bytes a row.
const Schema = `CREATE TABLE defect (
	id INTEGER PRIMARY KEY,
	title TEXT NOT NULL,
	body TEXT,
	severity REAL,
	updated TEXT,
	attachment BLOB,
	owner TEXT,
	closed TEXT
)`

// Columns are the benchmark table's columns in Schema's order.
var Columns = []string{"id", "title", "body", "severity", "updated", "attachment", "owner", "closed"}

const insertSQL = `INSERT INTO defect (id, title, body, severity, updated, attachment, owner, closed) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

const upsertSQL = insertSQL + ` ON CONFLICT (id) DO UPDATE SET title = excluded.title, body = excluded.body,
	severity = excluded.severity, updated = excluded.updated, attachment = excluded.attachment,
	owner = excluded.owner, closed = excluded.closed`

// words make bodies that compress like prose rather than like one repeated
// sentence, so the packet compression figures mean something.
var words = strings.Fields(`the a an of to and in on for with when after before while save open edit close crash
	hang form page field value record defect report user admin site replica server client window dialog button
	upload download export import sync packet login logout session timeout error warning message stack trace null
	pointer index bounds memory leak slow query lock deadlock retry cache stale refresh button menu click scroll
	resize font color unicode résumé naïve encoding build release version patch regression test fails passes
	sometimes always never reproduce steps expected actual result attached screenshot log file`)

// Row returns the column values of row i (key i+1), deterministic in i:
// about 600 bytes, of which a 48-byte blob, a float and a NULL.
func Row(i int) []any {
	r := rand.New(rand.NewPCG(uint64(i), 0x6d756c7469736974))
	var b strings.Builder
	b.Grow(480)
	for b.Len() < 440 {
		b.WriteString(words[r.IntN(len(words))])
		b.WriteByte(' ')
	}
	blob := make([]byte, 48)
	for j := range blob {
		blob[j] = byte(r.Uint32())
	}
	return []any{
		int64(i + 1),
		fmt.Sprintf("defect %d: %s %s when saving a large form", i+1, words[r.IntN(len(words))], words[r.IntN(len(words))]),
		b.String(),
		float64(i%5) + 0.5,
		time.Date(2025, 11, 26, 12, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second).Format(time.RFC3339Nano),
		blob,
		[]string{"alice", "bob", "chandra", "dmitri"}[i%4],
		nil,
	}
}

// Rows returns rows 0..n-1 (keys 1..n) and their total payload bytes.
func Rows(n int) ([][]any, int64) {
	rows := make([][]any, n)
	var size int64
	for i := range rows {
		rows[i] = Row(i)
		size += RowBytes(rows[i])
	}
	return rows, size
}

// RowBytes is the payload size of a row: the bytes of its text and blob
// values, 8 for a number, 0 for NULL. It is what MB/s figures count.
func RowBytes(row []any) int64 {
	var n int64
	for _, v := range row {
		switch x := v.(type) {
		case string:
			n += int64(len(x))
		case []byte:
			n += int64(len(x))
		case int64, float64:
			n += 8
		}
	}
	return n
}

// DSN is the modernc.org/sqlite DSN every benchmark database is opened
// with, the same the library's tests use.
func DSN(path string) string {
	return "file:" + path + "?_pragma=busy_timeout(20000)&_pragma=foreign_keys(1)"
}

// Open opens (creating) the SQLite file at path in WAL mode, the mode the
// library puts every replica in, so references and replicas write alike.
func Open(ctx context.Context, path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", DSN(path))
	if err != nil {
		return nil, err
	}
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode); err != nil {
		db.Close()
		return nil, fmt.Errorf("workload: WAL on %s: %w", path, err)
	}
	return db, nil
}

// OpenWithTable opens path and creates the benchmark table in it.
func OpenWithTable(ctx context.Context, path string) (*sql.DB, error) {
	db, err := Open(ctx, path)
	if err != nil {
		return nil, err
	}
	if _, err := db.ExecContext(ctx, Schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("workload: create table in %s: %w", path, err)
	}
	return db, nil
}

// Insert inserts rows with one prepared INSERT in one transaction and
// returns how long it took, commit included.
func Insert(ctx context.Context, db *sql.DB, rows [][]any) (time.Duration, error) {
	return loop(ctx, db, insertSQL, rows)
}

// Upsert is Insert with ON CONFLICT DO UPDATE: the plain way to apply row
// images, the reference for an import.
func Upsert(ctx context.Context, db *sql.DB, rows [][]any) (time.Duration, error) {
	return loop(ctx, db, upsertSQL, rows)
}

func loop(ctx context.Context, db *sql.DB, q string, rows [][]any) (time.Duration, error) {
	start := time.Now()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, q)
	if err != nil {
		return 0, err
	}
	for _, r := range rows {
		if _, err := stmt.ExecContext(ctx, r...); err != nil {
			return 0, fmt.Errorf("workload: row %v: %w", r[0], err)
		}
	}
	if err := stmt.Close(); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// InsertGenerated inserts rows lo..hi-1 generated on the fly, in
// transactions of 50,000 rows, for building large databases whose rows do
// not fit in memory at once. It is set-up, not a measurement.
func InsertGenerated(ctx context.Context, db *sql.DB, lo, hi int) error {
	const batch = 50_000
	for lo < hi {
		n := min(batch, hi-lo)
		rows := make([][]any, n)
		for i := range rows {
			rows[i] = Row(lo + i)
		}
		if _, err := Insert(ctx, db, rows); err != nil {
			return err
		}
		lo += n
	}
	return nil
}

// VacuumInto copies db to the file dst with VACUUM INTO: the reference for
// replica creation.
func VacuumInto(ctx context.Context, db *sql.DB, dst string) (time.Duration, error) {
	start := time.Now()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", dst); err != nil {
		return 0, fmt.Errorf("workload: vacuum into %s: %w", dst, err)
	}
	return time.Since(start), nil
}
