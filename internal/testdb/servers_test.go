package testdb

import (
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
)

// TestSweepDropsStaleDatabases: a database named as a killed run would
// have left it, a day and more ago, goes at the next sweep; a fresh one
// stays.
func TestSweepDropsStaleDatabases(t *testing.T) {
	for _, d := range []string{"postgres", "mysql"} {
		t.Run(d, func(t *testing.T) {
			skipUnless(t, d)
			var admin *sql.DB
			var list, drop string
			switch d {
			case "postgres":
				admin = stdlib.OpenDB(*postgresConfig(t))
				list, drop = `SELECT count(*) FROM pg_database WHERE datname = $1`, "DROP DATABASE IF EXISTS %s WITH (FORCE)"
			case "mysql":
				var err error
				if admin, err = sql.Open("mysql", mysqlConfig(t).FormatDSN()); err != nil {
					t.Fatal(err)
				}
				list, drop = `SELECT count(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?`, "DROP DATABASE IF EXISTS %s"
			}
			t.Cleanup(func() { admin.Close() }) // after the drops below
			stale := fmt.Sprintf("ms_test_%08x000000_stale", time.Now().Add(-staleAfter-time.Hour).Unix())
			fresh := dbName("fresh")
			for _, n := range []string{stale, fresh} {
				if _, err := admin.Exec("CREATE DATABASE " + n); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { admin.Exec(fmt.Sprintf(drop, n)) })
			}
			sweepOnce.Delete(d)
			sweep(d, admin, drop)
			for n, want := range map[string]int{stale: 0, fresh: 1} {
				var got int
				if err := admin.QueryRow(list, n).Scan(&got); err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("%s: %d databases after the sweep, want %d", n, got, want)
				}
			}
		})
	}
}
