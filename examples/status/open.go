package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/examples/internal/location"
	_ "modernc.org/sqlite"
)

// A -db argument names a SQLite file, or a database on a server, as
// multiutil's --db does (both read it through examples/internal/location):
//
//	boston.db                                   SQLite (modernc.org/sqlite)
//	postgres://user@host:5432/dbname            PostgreSQL (pgx); also postgresql://
//	mysql://user@tcp(host:3306)/dbname          MySQL/MariaDB: go-sql-driver's DSN after mysql://
const dbKinds = "a SQLite file, postgres://user@host/db or mysql://user@tcp(host:3306)/db"

// server, display and dsn read a -db as every example program does.
var (
	server  = location.Server
	display = location.Display
	dsn     = location.SQLiteDSN
)

// Kinds of site, by the database they are on.
const (
	kindSQLite   = "sqlite"
	kindPostgres = "postgres"
	kindMySQL    = "mysql"
)

// kindOf says which database a location names.
func kindOf(location string) string {
	switch driver, _, _ := server(location); driver {
	case "pgx":
		return kindPostgres
	case "mysql":
		return kindMySQL
	}
	return kindSQLite
}

// openSite opens the database at location: a SQLite file or a server
// database. create says whether a missing SQLite file may be created
// (sql.Open would silently create one otherwise). The site's name is the
// file's base name without ".db", or the server database's location,
// until the replica's own name is read.
func openSite(location string, create bool) (*Site, error) {
	s := &Site{Name: siteName(location), Path: display(location), Kind: kindOf(location)}
	driver, source, ok := server(location)
	if !ok {
		if !create {
			if _, err := os.Stat(location); err != nil {
				return nil, fmt.Errorf("status: database %s: %w", location, err)
			}
		}
		driver, source = "sqlite", dsn(location)
	}
	db, err := sql.Open(driver, source)
	if err != nil {
		return nil, fmt.Errorf("status: database %s: %w", s.Path, err)
	}
	pctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("status: database %s: %w", s.Path, err)
	}
	s.DB = db
	return s, nil
}

// pingTimeout bounds the wait for a database server that does not answer:
// its site is then shown with the error and the others are shown.
const pingTimeout = 15 * time.Second

// siteName is what a site is called before its replica's name is known.
func siteName(location string) string {
	if _, _, ok := server(location); ok {
		return display(location)
	}
	return strings.TrimSuffix(filepath.Base(location), ".db")
}

// OpenSites opens the replica databases at locations (see dbKinds) as one
// family; the databases are only read. A database that cannot be opened
// or read, or that belongs to another family than the first one read, does
// not fail the whole: it stays in Sites with its error, which the page
// shows in place of its figures. Each open site takes its replica's name.
func OpenSites(ctx context.Context, locations []string) *Family {
	f := &Family{}
	var family, first string
	for _, loc := range locations {
		s, err := openSite(loc, false)
		if err != nil {
			f.Sites = append(f.Sites, &Site{Name: siteName(loc), Path: display(loc), Kind: kindOf(loc), Err: err})
			continue
		}
		f.Sites = append(f.Sites, s)
		st, err := multisite.ReadStatus(ctx, s.DB)
		if err != nil {
			s.Err = fmt.Errorf("status: %s: %w", s.Path, err)
			continue
		}
		s.ID = st.Local.ID
		switch {
		case family == "":
			family, first = st.Family, s.Path
		case st.Family != family:
			s.Err = fmt.Errorf("%w: %s is in family %s, %s is in family %s", ErrOtherFamily, s.Path, st.Family, first, family)
			continue
		}
		s.Name = st.Local.Name
	}
	f.dedupeNames()
	return f
}

// ErrOtherFamily marks a site whose database is of another family than
// the one shown (Site.Err).
var ErrOtherFamily = errors.New("status: a database of another family")

// dedupeNames makes the sites' names unique ("boston", "boston (2)"), so
// that Family.Site and the page tell them apart.
func (f *Family) dedupeNames() {
	seen := map[string]int{}
	for _, s := range f.Sites {
		seen[s.Name]++
		if n := seen[s.Name]; n > 1 {
			s.Name += " (" + strconv.Itoa(n) + ")"
		}
	}
}
