package main

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"
)

// The environment variables that name the test servers, as the library's
// own tests read them.
const (
	postgresEnv = "MULTISITE_TEST_POSTGRES"
	mysqlEnv    = "MULTISITE_TEST_MYSQL"
)

// serverDB creates an empty database on the test server of vendor
// ("postgres" or "mysql"), drops it when t ends, and returns it as
// multiutil's --db takes it. It skips t when the server is not configured.
func serverDB(t *testing.T, vendor string) string {
	t.Helper()
	env := map[string]string{"postgres": postgresEnv, "mysql": mysqlEnv}[vendor]
	if os.Getenv(env) == "" {
		t.Skipf("%s tests skipped: set %s to a DSN", vendor, env)
	}
	var b [5]byte
	_, _ = rand.Read(b[:])
	name := "ms_multiutil_" + hex.EncodeToString(b[:])
	var driver, adminDSN, arg string
	switch vendor {
	case "postgres":
		driver, adminDSN = "pgx", os.Getenv(postgresEnv)
		u, err := url.Parse(adminDSN)
		require.NoError(t, err)
		u.Path = "/" + name
		arg = u.String()
	case "mysql":
		driver, adminDSN = "mysql", os.Getenv(mysqlEnv)
		cfg, err := mysql.ParseDSN(adminDSN)
		require.NoError(t, err)
		cfg.DBName = name
		arg = "mysql://" + cfg.FormatDSN()
	}
	admin, err := sql.Open(driver, adminDSN)
	require.NoError(t, err)
	_, err = admin.Exec("CREATE DATABASE " + name)
	require.NoError(t, err)
	t.Cleanup(func() {
		if vendor == "postgres" {
			admin.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
		}
		admin.Exec("DROP DATABASE IF EXISTS " + name)
		admin.Close()
	})
	return arg
}

// TestServerDatabases: --db takes a PostgreSQL or MySQL/MariaDB database,
// so a family mixes vendors from the command line as the workflow
// documents say.
func TestServerDatabases(t *testing.T) {
	for _, vendor := range []string{"postgres", "mysql"} {
		t.Run(vendor, func(t *testing.T) {
			db := serverDB(t, vendor)
			f := newFamily(t)
			pkt := filepath.Join(f.dir, "dublin.pkt")
			multiutil(t, exitOK, "mkreplica", "-export", "--db", f.boston, "--name", "dublin", "--out", pkt)
			multiutil(t, exitOK, "mkreplica", "-import", "--db", db, "--in", pkt)
			multiutil(t, exitOK, "chstate", "--db", db, "--state", "active")
			execTest(t, f.boston, `UPDATE defect SET headline = 'to the server' WHERE id = 1`)
			multiutil(t, exitOK, "syncreplica", "-export", "--db", f.boston, "--to", "dublin", "--bay", f.bay)
			var imp []importJSON
			jsonOut(t, &imp, "syncreplica", "-import", "--db", db, "--bay", f.bay, "--json")
			if len(imp) != 1 || imp[0].Status != "imported" || imp[0].Tables["defect"].Updated != 1 {
				t.Errorf("import on %s: %+v", vendor, imp)
			}
			var d struct {
				Local    replicaJSON `json:"local"`
				CodePage string      `json:"code_page"`
			}
			jsonOut(t, &d, "describe", "--db", db, "--json")
			if d.Local.Name != "dublin" || d.Local.State != "active" || d.CodePage != "windows-1252" {
				t.Errorf("describe on %s: %+v", vendor, d)
			}
			multiutil(t, exitOK, "syncreplica", "-export", "--db", db, "--to", "boston", "--bay", f.bay)
			multiutil(t, exitOK, "syncreplica", "-import", "--db", f.boston, "--bay", f.bay)
			var pr struct {
				Tombstones int64 `json:"tombstones"`
			}
			jsonOut(t, &pr, "prune", "--db", db, "--json")

			// A server that is not there: a clear message, exit 1, and no
			// password in it.
			bad := "postgres://postgres:hunter2@127.0.0.1:1/x?sslmode=disable&connect_timeout=5"
			if vendor == "mysql" {
				bad = "mysql://root:hunter2@tcp(127.0.0.1:1)/x?timeout=5s"
			}
			_, stderr := multiutil(t, exitFail, "describe", "--db", bad)
			if !strings.Contains(stderr, "database ") || strings.Contains(stderr, "hunter2") {
				t.Errorf("unreachable server: %q", stderr)
			}
		})
	}
}

func TestDisplay(t *testing.T) {
	for in, want := range map[string]string{
		"boston.db": "boston.db",
		"postgres://u:pw@h:5432/db?sslmode=disable":       "postgres://u:***@h:5432/db?sslmode=disable",
		"postgres://u@h/db":                               "postgres://u@h/db",
		"mysql://root:p@ss@tcp(127.0.0.1:3306)/test":      "mysql://root:***@tcp(127.0.0.1:3306)/test",
		"mysql://root@tcp(127.0.0.1:3306)/test?loc=a%40b": "mysql://root@tcp(127.0.0.1:3306)/test?loc=a%40b",
		"/srv/user:pw@host/boston.db":                     "/srv/user:pw@host/boston.db",
	} {
		if got := display(in); got != want {
			t.Errorf("display(%q) = %q, want %q", in, got, want)
		}
	}
}
