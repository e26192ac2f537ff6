package workload

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// The bulk paths are each server's fastest way to load rows it is given,
// the fair reference for an import into a replica that lacks every row and
// for copying a database: PostgreSQL's COPY (binary, through pgx's
// CopyFrom) and MariaDB's LOAD DATA LOCAL INFILE (tab-separated text from
// an io.Reader the driver streams). A MariaDB server started with
// local_infile off refuses the latter; then the rows go in multi-row
// INSERTs of multiRowBatch rows, and [Server.BulkMethod] says so.

// multiRowBatch is the rows per statement of the multi-row INSERT
// fallback: 8 placeholders a row stays well under MariaDB's 65,535.
const multiRowBatch = 1000

// Bulk method names, as [Server.Load] and [Server.Copy] return them.
const (
	MethodCopy     = "COPY (pgx CopyFrom, binary)"
	MethodLoadData = "LOAD DATA LOCAL INFILE"
	methodMultiRow = "multi-row INSERT, 1000 rows a statement"
)

var readerSeq atomic.Int64

// BulkMethod names how Load and Copy load rows on s: [MethodCopy],
// [MethodLoadData], or the multi-row INSERT fallback with the reason
// MariaDB gave for refusing LOAD DATA LOCAL. It is "" on MariaDB until the
// first Load or Copy has tried.
func (s *Server) BulkMethod() string {
	if s.Dialect == Postgres {
		return MethodCopy
	}
	return s.bulkMethod
}

// Load inserts rows into db's empty benchmark table by the server's bulk
// path, in one transaction, and returns how long it took and the method.
func (s *Server) Load(ctx context.Context, db *sql.DB, rows [][]any) (time.Duration, string, error) {
	i := 0
	next := func() ([]any, error) {
		if i == len(rows) {
			return nil, nil
		}
		i++
		return rows[i-1], nil
	}
	start := time.Now()
	method, err := s.bulk(ctx, db, next)
	if err != nil {
		return 0, method, err
	}
	if i != len(rows) {
		return 0, method, fmt.Errorf("workload: %s read %d rows of %d", method, i, len(rows))
	}
	return time.Since(start), method, nil
}

// Copy copies src's benchmark table into dst by the bulk path, as a dump
// and restore would: it creates the table in dst, the empty database, then
// streams every row of a SELECT on src into the bulk loader. It returns
// how long that took, the method, and the rows copied.
func (s *Server) Copy(ctx context.Context, src, dst *sql.DB) (time.Duration, string, int, error) {
	start := time.Now()
	if _, err := dst.ExecContext(ctx, serverSchemas[s.Dialect]); err != nil {
		return 0, "", 0, fmt.Errorf("workload: create table: %w", err)
	}
	rows, err := src.QueryContext(ctx, "SELECT "+strings.Join(Columns, ", ")+" FROM defect")
	if err != nil {
		return 0, "", 0, err
	}
	defer rows.Close()
	n := 0
	next := func() ([]any, error) {
		if !rows.Next() {
			return nil, rows.Err()
		}
		r := make([]any, len(Columns))
		ptrs := make([]any, len(r))
		for i := range r {
			ptrs[i] = &r[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		n++
		return r, nil
	}
	method, err := s.bulk(ctx, dst, next)
	if err != nil {
		return 0, method, n, err
	}
	return time.Since(start), method, n, nil
}

// bulk loads the rows next gives (nil at the end) into db's benchmark
// table.
func (s *Server) bulk(ctx context.Context, db *sql.DB, next func() ([]any, error)) (string, error) {
	switch {
	case s.Dialect == Postgres:
		return MethodCopy, copyFrom(ctx, db, next)
	case s.bulkMethod == MethodLoadData:
		_, err := loadData(ctx, db, next)
		return s.bulkMethod, err
	case s.bulkMethod != "":
		return s.bulkMethod, multiRow(ctx, db, next)
	}
	// The first load on MariaDB: try LOAD DATA LOCAL; if the server
	// refuses it (before reading any row), say why and use multi-row
	// INSERTs from then on.
	refused, err := loadData(ctx, db, next)
	switch {
	case err == nil:
		s.bulkMethod = MethodLoadData
	case refused:
		s.bulkMethod = fmt.Sprintf("%s (the server refused LOAD DATA LOCAL INFILE: %v)", methodMultiRow, err)
		return s.bulkMethod, multiRow(ctx, db, next)
	}
	return MethodLoadData, err
}

// copyFrom runs pgx's CopyFrom on one of db's connections.
func copyFrom(ctx context.Context, db *sql.DB, next func() ([]any, error)) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("workload: COPY needs a pgx stdlib connection, not %T", dc)
		}
		_, err := sc.Conn().CopyFrom(ctx, pgx.Identifier{Table}, Columns, pgx.CopyFromFunc(next))
		return err
	})
}

// loadDataSQL reads the text appendText writes: the blob arrives in hex
// and is unhexed on the way in.
var loadDataSQL = func() string {
	cols := slices.Clone(Columns)
	cols[blobColumn] = "@" + Columns[blobColumn]
	return `LOAD DATA LOCAL INFILE 'Reader::%s' INTO TABLE defect CHARACTER SET utf8mb4
	FIELDS TERMINATED BY '\t' ESCAPED BY '\\' LINES TERMINATED BY '\n'
	(` + strings.Join(cols, ", ") + `) SET ` + Columns[blobColumn] + ` = UNHEX(@` + Columns[blobColumn] + `)`
}()

// blobColumn is the index of the benchmark table's blob column.
var blobColumn = slices.Index(Columns, "attachment")

// loadData streams the rows through LOAD DATA LOCAL INFILE in one
// transaction. refused reports that the server (or the driver) would not
// take a local file at all, as opposed to failing on the data.
func loadData(ctx context.Context, db *sql.DB, next func() ([]any, error)) (refused bool, err error) {
	name := fmt.Sprintf("multisite-bench-%d", readerSeq.Add(1))
	var done chan error // the encoder's result, once the driver asked for the file
	mysql.RegisterReaderHandler(name, func() io.Reader {
		// The driver calls this on the goroutine running the LOAD DATA,
		// when the server asks for the file.
		done = make(chan error, 1)
		pr, pw := io.Pipe()
		go func() { done <- encode(pw, next) }()
		return pr // the driver closes it, which stops encode if the load quits early
	})
	defer mysql.DeregisterReaderHandler(name)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, fmt.Sprintf(loadDataSQL, name))
	if done != nil {
		if encErr := <-done; encErr != nil && err == nil {
			err = encErr
		}
	}
	if err != nil {
		return done == nil && refusesLocalInfile(err), err
	}
	return false, tx.Commit()
}

// refusesLocalInfile reports whether err is the server refusing LOAD DATA
// LOCAL as such: 1148, "The used command is not allowed with this MariaDB
// version" (local_infile off), or MySQL 8's 3948/3950, "Loading local data
// is disabled".
func refusesLocalInfile(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1148 || me.Number == 3948 || me.Number == 3950)
}

// encode writes the rows next gives to pw as text and closes pw with the
// result.
func encode(pw *io.PipeWriter, next func() ([]any, error)) error {
	bw := bufio.NewWriterSize(pw, 1<<16)
	var line bytes.Buffer
	err := func() error {
		for {
			r, err := next()
			if err != nil {
				return err
			}
			if r == nil {
				return bw.Flush()
			}
			line.Reset()
			if err := appendText(&line, r); err != nil {
				return err
			}
			if _, err := bw.Write(line.Bytes()); err != nil {
				return err
			}
		}
	}()
	pw.CloseWithError(err)
	return err
}

// multiRow inserts the rows in multi-row INSERTs of multiRowBatch rows,
// in one transaction.
func multiRow(ctx context.Context, db *sql.DB, next func() ([]any, error)) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmts := map[int]*sql.Stmt{}
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(Columns)), ", ") + ")"
	var args []any
	flush := func(n int) error {
		if n == 0 {
			return nil
		}
		st := stmts[n]
		if st == nil {
			q := "INSERT INTO defect (" + strings.Join(Columns, ", ") + ") VALUES " + strings.TrimSuffix(strings.Repeat(one+", ", n), ", ")
			if st, err = tx.PrepareContext(ctx, q); err != nil {
				return err
			}
			stmts[n] = st
		}
		_, err := st.ExecContext(ctx, args...)
		args = args[:0]
		return err
	}
	n := 0
	for {
		r, err := next()
		if err != nil {
			return err
		}
		if r == nil {
			break
		}
		args = append(args, r...)
		if n++; n == multiRowBatch {
			if err := flush(n); err != nil {
				return err
			}
			n = 0
		}
	}
	if err := flush(n); err != nil {
		return err
	}
	return tx.Commit()
}

// appendText appends row to b as one line of the bulk loaders' text:
// fields separated by tabs, backslash escapes, \N for NULL, the blob
// column in hex.
func appendText(b *bytes.Buffer, row []any) error {
	if len(row) != len(Columns) {
		return fmt.Errorf("workload: row of %d values, want %d", len(row), len(Columns))
	}
	for i, v := range row {
		if i > 0 {
			b.WriteByte('\t')
		}
		switch x := v.(type) {
		case nil:
			b.WriteString(`\N`)
		case int64:
			b.Write(strconv.AppendInt(b.AvailableBuffer(), x, 10))
		case float64:
			b.Write(strconv.AppendFloat(b.AvailableBuffer(), x, 'g', -1, 64))
		case string:
			escapeText(b, x)
		case []byte:
			if i == blobColumn {
				b.Write(hex.AppendEncode(b.AvailableBuffer(), x))
			} else {
				escapeText(b, string(x)) // MariaDB's text protocol gives every value as bytes
			}
		default:
			return fmt.Errorf("workload: cannot write %T as text", v)
		}
	}
	b.WriteByte('\n')
	return nil
}

func escapeText[S string | []byte](b *bytes.Buffer, s S) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case 0:
			b.WriteString(`\0`)
		default:
			b.WriteByte(c)
		}
	}
}
