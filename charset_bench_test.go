package multisite_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/multisite-go/multisite"
	"github.com/stretchr/testify/require"
)

// BenchmarkValidateCharset reports MB/s of text validated against
// windows-1252 and, as the reference measured in the same run, a plain
// read of the same rows; x-plain-read is validation time over read time.
func BenchmarkValidateCharset(b *testing.B) {
	db := openNew(b, "charset")
	mustExec(b, db, `CREATE TABLE defect (id INTEGER PRIMARY KEY, headline TEXT, body TEXT, owner TEXT)`)
	tx, err := db.Begin()
	require.NoError(b, err)
	body := strings.Repeat("Crash on save when the résumé upload is “large”. ", 11) // ~600 bytes
	const rows = 20000
	for i := 0; i < rows; i++ {
		_, err := tx.Exec(`INSERT INTO defect VALUES (?, ?, ?, ?)`, i, fmt.Sprintf("defect %d", i), body, "Zoë")
		require.NoError(b, err)
	}
	require.NoError(b, tx.Commit())

	plainRead := func() int64 {
		r, err := db.Query(`SELECT id, headline, body, owner FROM defect`)
		require.NoError(b, err)
		defer r.Close()
		var n int64
		var id int64
		var h, bo, o string
		for r.Next() {
			require.NoError(b, r.Scan(&id, &h, &bo, &o))
			n += int64(len(h) + len(bo) + len(o))
		}
		return n
	}
	var readNS, valNS int64
	var bytes int64
	for i := 0; i < b.N; i++ {
		b.StartTimer()
		start := nowNS()
		bytes = plainRead()
		readNS += nowNS() - start
		start = nowNS()
		rep, err := multisite.ValidateCharset(ctx, db, "windows-1252", multisite.CharsetOptions{})
		valNS += nowNS() - start
		require.NoError(b, err)
		if len(rep.Violations) != 0 {
			b.Fatalf("unexpected violations: %v", rep.Violations[:1])
		}
	}
	b.ReportMetric(float64(bytes*int64(b.N))/(float64(valNS)/1e9)/1e6, "MB/s-validate")
	b.ReportMetric(float64(bytes*int64(b.N))/(float64(readNS)/1e9)/1e6, "MB/s-plain-read")
	b.ReportMetric(float64(valNS)/float64(readNS), "x-plain-read")
}
