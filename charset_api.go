package multisite

import (
	"context"
	"database/sql"

	"github.com/multisite-go/multisite/internal/engine"
)

// CharsetFromDriver returns a *CharsetError (errors.Is ErrCharset) for an
// error a database raised when it refused a write of a string outside the
// family's data code page, naming table, key, column, character and byte
// offset; any other error is returned unchanged. Use it on errors from
// plain SQL writes to replicated tables, as mastership.FromDriver for
// writes to rows another replica masters.
func CharsetFromDriver(err error) error { return publicError(engine.CharsetFromDriver(err)) }

// NarrowColumn is a text column whose storage cannot hold every character
// of the data code page (a MariaDB or MySQL column in utf8mb3 when the
// code page is UTF-8): an import refuses such characters for it with a
// *CharsetError whose Storage names the column's character set.
type NarrowColumn struct {
	Table   string `json:"table"`   // the table holding the column
	Column  string `json:"column"`  // the column
	Charset string `json:"charset"` // the column's character set as the server names it: "utf8mb3"
}

// CharsetStatus says how a replica enforces its family's data code page:
// whether its database refuses writes outside it by itself (and on which
// tables), and which columns cannot store all of it.
//
// The code page is enforced in three places, so that a string it cannot
// represent never enters a replica:
//
//   - In the database, by triggers on every replicated table, on all three
//     dialects: an INSERT or UPDATE by any client, plain SQL included, that
//     puts such a string into a text column fails (PostgreSQL and MySQL
//     with SQLSTATE 22021, character_not_in_repertoire), naming table, key,
//     column and character; [CharsetFromDriver] makes a *CharsetError of
//     it. The triggers check exactly the library's repertoire, not the
//     server's conversion tables, which differ from it. They follow
//     [ChangeCodePage], and the import of a change made elsewhere, in the
//     same transaction, and migrations. Cost per character written, against
//     a UTF-8 family (nothing to check), measured by
//     BenchmarkCharsetTriggers: single-byte code pages well under 1 µs on
//     all three; Shift_JIS and the other large East Asian code pages about
//     1 µs on PostgreSQL, 10 to 30 µs on MariaDB and 50 µs on SQLite, whose GLOB
//     scans the whole character class for every character. On SQLite,
//     malformed UTF-8 (which only SQLite stores) may pass the triggers.
//   - On import, whatever the origin's database let through: every string
//     of a packet is checked before anything is applied, and so is the
//     storage of the local column (a MariaDB utf8mb3 column holds nothing
//     beyond U+FFFF; see [NarrowColumn]).
//   - Before activation and before a change of code page: [ValidateCharset]
//     and [CleanCharset].
type CharsetStatus struct {
	CodePage string // the family's data code page
	// InDatabase is set when the database refuses, by itself, writes of
	// strings outside CodePage by any client: ms_charset holds CodePage and
	// every replicated table with text columns has its triggers.
	InDatabase bool
	// Enforced is the code page the triggers enforce ("" if ms_charset is
	// missing); it differs from CodePage only if the metadata was changed
	// by hand.
	Enforced string
	// Tables lists the replicated tables whose text columns the triggers
	// check.
	Tables []string
	// Missing lists the replicated tables that should have charset
	// triggers and do not ([EnforceCharset] installs them).
	Missing []string
	// Columns lists text columns whose storage cannot hold every character
	// of CodePage (MariaDB utf8mb3 columns under UTF-8): imports refuse
	// such strings for them with a *CharsetError.
	Columns []NarrowColumn
}

// ReadCharsetStatus reports how db's replica enforces the family's data
// code page.
func ReadCharsetStatus(ctx context.Context, db *sql.DB) (*CharsetStatus, error) {
	d, err := ready(ctx, db, "")
	if err != nil {
		return nil, err
	}
	st, err := engine.ReadCharsetStatus(ctx, db, d)
	return charsetStatus(st), publicError(err)
}

// EnforceCharset (re)installs the triggers by which db refuses writes of
// strings outside the family's data code page, for every replicated table:
// for a replica activated by an older version of the library, or after a
// table's columns changed. Activate, CreateReplica and ChangeCodePage do
// this by themselves. One transaction on SQLite and PostgreSQL; MySQL
// commits each DDL statement by itself.
func EnforceCharset(ctx context.Context, db *sql.DB) error {
	d, err := ready(ctx, db, "")
	if err != nil {
		return err
	}
	return publicError(engine.EnforceCharset(ctx, db, d))
}
