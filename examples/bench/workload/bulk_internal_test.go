package workload

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

func TestRefusesLocalInfile(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&mysql.MySQLError{Number: 1148, Message: "The used command is not allowed with this MariaDB version"}, true},
		{fmt.Errorf("load: %w", &mysql.MySQLError{Number: 3948}), true},
		{&mysql.MySQLError{Number: 1064, Message: "syntax"}, false},
		{errors.New("reader 'x' is not registered"), false},
	} {
		if got := refusesLocalInfile(tc.err); got != tc.want {
			t.Errorf("refusesLocalInfile(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// TestMultiRowFallback loads through the multi-row INSERT a MariaDB server
// that refuses LOAD DATA LOCAL would get (the test server accepts it, and
// turning local_infile off is a global change), in batches that leave a
// remainder, and checks that the rows arrive as the upsert loop writes them.
func TestMultiRowFallback(t *testing.T) {
	dsn := os.Getenv("MULTISITE_TEST_MYSQL")
	if dsn == "" {
		t.Skip("MariaDB benchmarks skipped: set MULTISITE_TEST_MYSQL to a DSN of a user who may create databases")
	}
	ctx := context.Background()
	srv, err := OpenServer(ctx, MySQL, dsn, "")
	require.NoError(t, err)
	defer srv.Close()
	rows, _ := Rows(multiRowBatch + 7)
	rows[3] = []any{int64(4), "tab\tand\nnewline \\N", "", nil, nil, []byte{0, 1}, "naïve", `\N`}
	ref, err := srv.OpenWithTable(ctx, "ref")
	require.NoError(t, err)
	_, err = srv.Upsert(ctx, ref, rows)
	require.NoError(t, err)
	want, err := Dump(ctx, ref)
	require.NoError(t, err)

	srv.bulkMethod = fmt.Sprintf("%s (refused for the test)", methodMultiRow)
	db, err := srv.OpenWithTable(ctx, "multirow")
	require.NoError(t, err)
	_, method, err := srv.Load(ctx, db, rows)
	require.NoError(t, err)
	if method != srv.bulkMethod {
		t.Errorf("Load used %q, want the fallback", method)
	}
	got, err := Dump(ctx, db)
	require.NoError(t, err)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("multi-row INSERT differs from the upsert loop (-want +got):\n%s", diff)
	}
}
