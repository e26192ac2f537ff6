package workload_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/multisite-go/multisite/examples/bench/workload"
	"github.com/stretchr/testify/require"
)

// The benchmarks below compare the library with the path a user would
// otherwise take, both measured in the same iteration over the same rows of
// about 600 bytes, and report only the ratio (ns/op is suppressed: on a
// shared machine it is noise). Run them with
//
//	go test -bench . -run '^$'
//
// and the full-size figures with go run ./examples/bench -rows 100000.
// A ratio named x-REF is subject speed ÷ REF speed unless its doc says
// otherwise: above 1 the library is faster.

// benchRows is the row count of every benchmark: small enough for
// go test -bench to finish in seconds, large enough that per-packet
// overheads do not dominate.
const benchRows = 5000

// benchData returns the rows and a size hint for a packet of them.
func benchData(b *testing.B) ([][]any, int) {
	b.Helper()
	rows, size := workload.Rows(benchRows)
	return rows, workload.PacketSizeHint(len(rows), size)
}

// reportRatio replaces ns/op with one ratio per metric.
func reportRatio(b *testing.B, metrics map[string]float64) {
	b.Helper()
	b.ReportMetric(0, "ns/op")
	for unit, v := range metrics {
		b.ReportMetric(v, unit)
	}
}

// benchFamily builds a family whose origin holds rows its replica lacks.
func benchFamily(b *testing.B, ctx context.Context, rows [][]any) *workload.Family {
	b.Helper()
	fam, err := workload.NewFamily(ctx, b.TempDir())
	require.NoError(b, err)
	b.Cleanup(func() { fam.Close() })
	_, err = workload.Insert(ctx, fam.Origin, rows)
	require.NoError(b, err)
	return fam
}

func openTable(b *testing.B, ctx context.Context, name string) *sql.DB {
	b.Helper()
	db, err := workload.OpenWithTable(ctx, filepath.Join(b.TempDir(), name))
	require.NoError(b, err)
	b.Cleanup(func() { db.Close() })
	return db
}

// BenchmarkCapture: x-capture-off is the speed of an INSERT loop into an
// activated table (change capture on) ÷ the same loop into the same table
// not activated. Target ≥ 0.6.
func BenchmarkCapture(b *testing.B) {
	ctx := context.Background()
	rows, _ := benchData(b)
	var on, off time.Duration
	for range b.N {
		d, err := workload.Insert(ctx, openTable(b, ctx, "off.db"), rows)
		require.NoError(b, err)
		off += d
		fam, err := workload.NewFamily(ctx, b.TempDir())
		require.NoError(b, err)
		d, err = workload.Insert(ctx, fam.Origin, rows)
		fam.Close()
		require.NoError(b, err)
		on += d
	}
	reportRatio(b, map[string]float64{"x-capture-off": off.Seconds() / on.Seconds()})
}

// BenchmarkExport: x-import is the speed of ExportPacket of every row ÷
// the speed of ImportPacket of that packet. Target ≥ 3.
func BenchmarkExport(b *testing.B) {
	ctx := context.Background()
	rows, hint := benchData(b)
	var exp, imp time.Duration
	for range b.N {
		fam := benchFamily(b, ctx, rows)
		pkt, d, err := workload.Export(ctx, fam.Origin, fam.ReplicaID, hint)
		require.NoError(b, err)
		exp += d
		d, err = workload.Import(ctx, fam.Replica, pkt, len(rows))
		require.NoError(b, err)
		imp += d
	}
	reportRatio(b, map[string]float64{"x-import": imp.Seconds() / exp.Seconds()})
}

// BenchmarkImport: x-changeset is the speed of ImportPacket into a replica
// that lacks every row ÷ applying a SQLite session changeset of the same
// inserts (target ≥ 0.8); x-upsert is the same ÷ a prepared upsert loop in
// one transaction.
func BenchmarkImport(b *testing.B) {
	ctx := context.Background()
	rows, hint := benchData(b)
	var imp, apply, ups time.Duration
	for range b.N {
		fam := benchFamily(b, ctx, rows)
		pkt, _, err := workload.Export(ctx, fam.Origin, fam.ReplicaID, hint)
		require.NoError(b, err)
		d, err := workload.Import(ctx, fam.Replica, pkt, len(rows))
		require.NoError(b, err)
		imp += d
		dir := b.TempDir()
		cs, _, err := workload.Changeset(filepath.Join(dir, "src.db"), rows)
		require.NoError(b, err)
		d, err = workload.ApplyChangeset(filepath.Join(dir, "dst.db"), cs)
		require.NoError(b, err)
		apply += d
		d, err = workload.Upsert(ctx, openTable(b, ctx, "upsert.db"), rows)
		require.NoError(b, err)
		ups += d
	}
	reportRatio(b, map[string]float64{
		"x-changeset": apply.Seconds() / imp.Seconds(),
		"x-upsert":    ups.Seconds() / imp.Seconds(),
	})
}

// BenchmarkReplicaCreation: x-vacuum-into is the time of Replicate plus
// CreateReplica through a file ÷ the time of VACUUM INTO of the same
// database (a time ratio: lower is better). Target ≤ 2.
func BenchmarkReplicaCreation(b *testing.B) {
	ctx := context.Background()
	rows, _ := benchData(b)
	var create, vacuum time.Duration
	for range b.N {
		fam := benchFamily(b, ctx, rows)
		dir := b.TempDir()
		c, err := workload.CreateReplica(ctx, fam.Origin, "dublin", dir)
		require.NoError(b, err)
		create += c.Total()
		d, err := workload.VacuumInto(ctx, fam.Origin, filepath.Join(dir, "copy.db"))
		require.NoError(b, err)
		vacuum += d
	}
	reportRatio(b, map[string]float64{"x-vacuum-into": create.Seconds() / vacuum.Seconds()})
}

// BenchmarkPacketSize reports sizes, not speeds: x-changeset-bytes is the
// sync packet's size ÷ the session changeset's for the same inserts
// (target ≤ 0.5), and x-changeset-bytes-zstd and -flate the same for the
// packet compressed by zstd and compress/flate at their default levels.
func BenchmarkPacketSize(b *testing.B) {
	ctx := context.Background()
	rows, hint := benchData(b)
	m := map[string]float64{}
	for range b.N {
		fam := benchFamily(b, ctx, rows)
		pkt, _, err := workload.Export(ctx, fam.Origin, fam.ReplicaID, hint)
		require.NoError(b, err)
		cs, _, err := workload.Changeset(filepath.Join(b.TempDir(), "cs.db"), rows)
		require.NoError(b, err)
		comps, err := workload.CompressorsOfPacket(pkt)
		require.NoError(b, err)
		cb := float64(len(cs))
		m["x-changeset-bytes"] = float64(len(pkt)) / cb
		for _, c := range comps {
			switch c.Name {
			case "zstd default":
				m["x-changeset-bytes-zstd"] = float64(c.Bytes) / cb
			case "flate default (stdlib)":
				m["x-changeset-bytes-flate"] = float64(c.Bytes) / cb
			}
		}
	}
	reportRatio(b, m)
}

// BenchmarkIncrementalExport: x-small-db is the time to export 100 changed
// rows from a database of 10 × benchRows rows ÷ the time to export the same
// 100 changed rows from a 1,000-row database (a time ratio: about 1 means
// an incremental export does not grow with the database).
func BenchmarkIncrementalExport(b *testing.B) {
	ctx := context.Background()
	const changed, rounds = 100, 3
	bigN, smallN := 10*benchRows, 10*changed
	dir := b.TempDir()
	big, bigFar, err := workload.Large(ctx, filepath.Join(dir, "big.db"), bigN)
	require.NoError(b, err)
	defer big.Close()
	small, smallFar, err := workload.Large(ctx, filepath.Join(dir, "small.db"), smallN)
	require.NoError(b, err)
	defer small.Close()
	var dBig, dSmall time.Duration
	b.ResetTimer()
	for range b.N {
		ds, err := workload.Incremental(ctx, big, bigFar, bigN, changed, rounds)
		require.NoError(b, err)
		for _, d := range ds {
			dBig += d
		}
		ds, err = workload.Incremental(ctx, small, smallFar, smallN, changed, rounds)
		require.NoError(b, err)
		for _, d := range ds {
			dSmall += d
		}
	}
	reportRatio(b, map[string]float64{"x-small-db": dBig.Seconds() / dSmall.Seconds()})
}
