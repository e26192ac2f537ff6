package workload_test

import (
	"context"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite/examples/bench/workload"
	"github.com/stretchr/testify/require"
)

// serverEnv names the DSN variable of each server dialect.
var serverEnv = map[string]string{
	workload.Postgres: "MULTISITE_TEST_POSTGRES",
	workload.MySQL:    "MULTISITE_TEST_MYSQL",
}

// forEachServer runs body once per server whose DSN variable is set, and
// checks afterwards that the Server dropped every database it made.
func forEachServer(t *testing.T, body func(t *testing.T, srv *workload.Server)) {
	for _, d := range []string{workload.Postgres, workload.MySQL} {
		t.Run(d, func(t *testing.T) {
			dsn := os.Getenv(serverEnv[d])
			if dsn == "" {
				t.Skipf("%s benchmarks skipped: set %s to a DSN of a user who may create databases", d, serverEnv[d])
			}
			ctx := context.Background()
			srv, err := workload.OpenServer(ctx, d, dsn, "")
			require.NoError(t, err)
			body(t, srv)
			if err := srv.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			check, err := workload.OpenServer(ctx, d, dsn, srv.Prefix)
			require.NoError(t, err)
			defer check.Close()
			left, err := check.Databases(ctx)
			require.NoError(t, err)
			if len(left) > 0 {
				t.Errorf("databases left on the server after Close: %v", left)
			}
		})
	}
}

// awkward is a row whose text needs every escape of the bulk loaders'
// text form, next to an empty string that must not become NULL.
func awkward(key int64) []any {
	return []any{key, "tab\there\nnew\\line \\N", "carriage\rreturn", nil, "", []byte{0, '\t', '\n', '\\', 'N', 0xff},
		"résumé naïve", `\N`}
}

// TestServerPathsAgree is TestPathsAgree on the servers: every path and
// reference the server figures time leaves the same rows, so no ratio
// compares with a path that did less (a LOAD DATA that skipped or mangled
// rows would only warn).
func TestServerPathsAgree(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *workload.Server) {
		ctx := context.Background()
		rows, _ := workload.Rows(50)
		rows = append(rows, awkward(51))
		fam, err := srv.Family(ctx)
		require.NoError(t, err)
		defer fam.Close()
		_, err = srv.Insert(ctx, fam.Origin, rows)
		require.NoError(t, err)
		pkt, _, err := workload.Export(ctx, fam.Origin, fam.ReplicaID, 0)
		require.NoError(t, err)
		if _, err := workload.Import(ctx, fam.Replica, pkt, len(rows)); err != nil {
			t.Fatalf("Import: %v", err)
		}
		want, err := workload.Dump(ctx, fam.Origin)
		require.NoError(t, err)
		require.Len(t, want, len(rows))
		check := func(what string, got [][]any, err error) {
			t.Helper()
			require.NoError(t, err, what)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s differs from the origin (-want +got):\n%s", what, diff)
			}
		}
		got, err := workload.Dump(ctx, fam.Replica)
		check("replica after ImportPacket", got, err)

		up, err := srv.OpenWithTable(ctx, "upsert")
		require.NoError(t, err)
		for range 2 { // the second pass updates every row
			_, err = srv.Upsert(ctx, up, rows)
			require.NoError(t, err)
		}
		got, err = workload.Dump(ctx, up)
		check("upsert target", got, err)

		bulk, err := srv.OpenWithTable(ctx, "bulk")
		require.NoError(t, err)
		_, method, err := srv.Load(ctx, bulk, rows)
		require.NoError(t, err)
		if method != srv.BulkMethod() || method == "" {
			t.Errorf("Load used %q, BulkMethod says %q", method, srv.BulkMethod())
		}
		got, err = workload.Dump(ctx, bulk)
		check("bulk load ("+method+")", got, err)

		cp, err := srv.Open(ctx, "copy")
		require.NoError(t, err)
		_, _, n, err := srv.Copy(ctx, fam.Origin, cp)
		require.NoError(t, err)
		if n != len(rows) {
			t.Errorf("Copy copied %d rows, want %d", n, len(rows))
		}
		got, err = workload.Dump(ctx, cp)
		check("bulk copy", got, err)

		c, dublin, err := srv.CreateReplica(ctx, fam.Origin, "dublin", t.TempDir())
		require.NoError(t, err)
		if c.Bytes == 0 || c.Total() <= 0 {
			t.Errorf("CreateReplica reports %+v", c)
		}
		got, err = workload.Dump(ctx, dublin)
		check("created replica", got, err)

		// Dropping is once: a second Drop does nothing, and the database
		// is gone.
		require.NoError(t, srv.Drop(up))
		require.NoError(t, srv.Drop(up))
		if _, err := workload.Dump(ctx, up); err == nil {
			t.Errorf("Dump of a dropped database succeeded")
		}
	})
}

func TestServerIncrementalCarriesOnlyTheChangedRows(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *workload.Server) {
		ctx := context.Background()
		db, far, err := srv.Large(ctx, "large", 300)
		require.NoError(t, err)
		defer srv.Drop(db)
		// Incremental fails unless every export carries exactly the 10 rows.
		ds, err := srv.Incremental(ctx, db, far, 300, 10, 2)
		if err != nil {
			t.Fatalf("Incremental: %v", err)
		}
		if len(ds) != 2 {
			t.Errorf("Incremental timed %d exports, want 2", len(ds))
		}
	})
}

func TestOpenServerRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ dialect, dsn, prefix string }{
		{"oracle", "x", ""},
		{workload.Postgres, "postgres://u@h/db", "Robert'); DROP"},
		{workload.MySQL, "not a dsn at all", ""},
	} {
		if srv, err := workload.OpenServer(ctx, tc.dialect, tc.dsn, tc.prefix); err == nil {
			srv.Close()
			t.Errorf("OpenServer(%q, %q, %q) = nil error", tc.dialect, tc.dsn, tc.prefix)
		}
	}
}

func TestTextBytes(t *testing.T) {
	rows, size := workload.Rows(20)
	n, err := workload.TextBytes(rows)
	require.NoError(t, err)
	// Text adds separators and doubles the 48-byte blob (hex); it must
	// stay near the payload.
	if n < size || n > size+int64(len(rows))*120 {
		t.Errorf("TextBytes = %d for %d payload bytes", n, size)
	}
	if _, err := workload.TextBytes([][]any{{int64(1)}}); err == nil {
		t.Errorf("TextBytes of a short row: nil error")
	}
}
