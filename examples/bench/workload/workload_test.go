package workload_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite/examples/bench/workload"
	"github.com/stretchr/testify/require"
)

// dump returns the benchmark table's rows in key order.
func dump(t *testing.T, db *sql.DB) [][]any {
	t.Helper()
	rows, err := db.Query(`SELECT id, title, body, severity, updated, attachment, owner, closed FROM defect ORDER BY id`)
	require.NoError(t, err)
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		r := make([]any, len(workload.Columns))
		ptrs := make([]any, len(r))
		for i := range r {
			ptrs[i] = &r[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return out
}

// TestPathsAgree checks that every path the benchmarks time does the same
// work: the rows written at the origin arrive unchanged through a packet,
// through a changeset and through an upsert loop, so no ratio compares an
// import with one that did less.
func TestPathsAgree(t *testing.T) {
	ctx := context.Background()
	rows, size := workload.Rows(50)
	if per := size / 50; per < 500 || per > 700 {
		t.Errorf("rows average %d payload bytes, want about 600", per)
	}
	dir := t.TempDir()
	fam, err := workload.NewFamily(ctx, dir)
	require.NoError(t, err)
	defer fam.Close()
	_, err = workload.Insert(ctx, fam.Origin, rows)
	require.NoError(t, err)
	pkt, _, err := workload.Export(ctx, fam.Origin, fam.ReplicaID, 0)
	require.NoError(t, err)
	if _, err := workload.Import(ctx, fam.Replica, pkt, len(rows)); err != nil {
		t.Fatalf("Import: %v", err)
	}
	want := dump(t, fam.Origin)
	if len(want) != len(rows) {
		t.Fatalf("origin holds %d rows, want %d", len(want), len(rows))
	}
	if diff := cmp.Diff(want, dump(t, fam.Replica)); diff != "" {
		t.Errorf("replica after ImportPacket differs from origin (-want +got):\n%s", diff)
	}

	cs, _, err := workload.Changeset(filepath.Join(dir, "cs-src.db"), rows)
	require.NoError(t, err)
	_, err = workload.ApplyChangeset(filepath.Join(dir, "cs-dst.db"), cs)
	require.NoError(t, err)
	csDB, err := workload.Open(ctx, filepath.Join(dir, "cs-dst.db"))
	require.NoError(t, err)
	defer csDB.Close()
	if diff := cmp.Diff(want, dump(t, csDB)); diff != "" {
		t.Errorf("changeset target differs from origin (-want +got):\n%s", diff)
	}

	up, err := workload.OpenWithTable(ctx, filepath.Join(dir, "upsert.db"))
	require.NoError(t, err)
	defer up.Close()
	_, err = workload.Upsert(ctx, up, rows)
	require.NoError(t, err)
	if diff := cmp.Diff(want, dump(t, up)); diff != "" {
		t.Errorf("upsert target differs from origin (-want +got):\n%s", diff)
	}

	c, err := workload.CreateReplica(ctx, fam.Origin, "dublin", dir)
	require.NoError(t, err)
	if c.Bytes == 0 {
		t.Errorf("CreateReplica reports an empty creation packet")
	}
	dublin, err := workload.Open(ctx, filepath.Join(dir, "dublin.db"))
	require.NoError(t, err)
	defer dublin.Close()
	if diff := cmp.Diff(want, dump(t, dublin)); diff != "" {
		t.Errorf("created replica differs from origin (-want +got):\n%s", diff)
	}
}

func TestIncrementalCarriesOnlyTheChangedRows(t *testing.T) {
	ctx := context.Background()
	db, far, err := workload.Large(ctx, filepath.Join(t.TempDir(), "large.db"), 300)
	require.NoError(t, err)
	defer db.Close()
	// Incremental fails unless every export carries exactly the 10 rows.
	ds, err := workload.Incremental(ctx, db, far, 300, 10, 2)
	if err != nil {
		t.Fatalf("Incremental: %v", err)
	}
	if len(ds) != 2 {
		t.Errorf("Incremental timed %d exports, want 2", len(ds))
	}
}

func TestCompressorsRoundTrip(t *testing.T) {
	rows, _ := workload.Rows(20)
	var data []byte
	for _, r := range rows {
		data = append(data, r[2].(string)...)
	}
	cs, err := workload.Compressors(data)
	if err != nil {
		t.Fatalf("Compressors: %v", err)
	}
	for _, c := range cs {
		if c.Bytes <= 0 || c.Bytes >= int64(len(data)) {
			t.Errorf("%s: %d bytes from %d, want fewer", c.Name, c.Bytes, len(data))
		}
	}
}
