package multisite_test

import (
	"database/sql"
	"fmt"
	"os"
	"testing"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/stretchr/testify/require"
)

// BenchmarkCharsetTriggers measures what the database's own check of the
// data code page costs a plain SQL write: rows inserted one statement at a
// time in one transaction, under a code page the triggers check
// (windows-1252 with French text, Shift_JIS with Japanese text), against
// the same rows in a UTF-8 family, where there is nothing to check, in the
// same run. x-utf8 is the time per row over the reference's; µs/char is
// the extra time per character of text written.
func BenchmarkCharsetTriggers(b *testing.B) {
	cases := []struct{ page, text string }{
		{"windows-1252", "Crème brûlée à l'Ærøskøbing, naïve façade — “quoted” 5 €, résumé déjà vu."}, // 72 characters
		{"Shift_JIS", "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。何でも薄暗いじめじめした所でニャーニャー泣いていた。"},
	}
	const rows = 50
	for _, dn := range testdb.Dialects {
		b.Run(dn, func(b *testing.B) {
			if env := map[string]string{"postgres": testdb.PostgresEnv, "mysql": testdb.MySQLEnv}[dn]; env != "" && os.Getenv(env) == "" {
				b.Skipf("%s is not set", env)
			}
			for _, c := range cases {
				b.Run(c.page, func(b *testing.B) {
					ref := charsetBenchReplica(b, dn, "UTF-8")
					chk := charsetBenchReplica(b, dn, c.page)
					insert := func(db *sql.DB, round int) int64 {
						start := nowNS()
						tx, err := db.Begin()
						require.NoError(b, err)
						for i := 0; i < rows; i++ {
							_, err := tx.Exec(rebind(b, db, `INSERT INTO project (code, title) VALUES (?, ?)`), fmt.Sprintf("P%d-%d", round, i), c.text)
							require.NoError(b, err)
						}
						require.NoError(b, tx.Commit())
						return nowNS() - start
					}
					var refNS, chkNS int64
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						refNS += insert(ref, i)
						chkNS += insert(chk, i)
					}
					n := float64(b.N * rows)
					b.ReportMetric(float64(chkNS)/float64(refNS), "x-utf8")
					b.ReportMetric(float64(chkNS-refNS)/n/1e3/float64(len([]rune(c.text))), "µs/char")
				})
			}
		})
	}
}

// charsetBenchReplica is an activated one-table replica under codePage.
func charsetBenchReplica(b *testing.B, dn, codePage string) *sql.DB {
	b.Helper()
	db := testdb.Open(b, dn, "bench_"+codePage)
	mustExec(b, db, `CREATE TABLE project (code VARCHAR(32) PRIMARY KEY, title TEXT NOT NULL)`)
	_, err := multisite.Activate(ctx, db, multisite.ActivateOptions{Name: "boston", CodePage: codePage})
	require.NoError(b, err)
	return db
}
