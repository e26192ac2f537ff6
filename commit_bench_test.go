package multisite_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/internal/testdb"
)

// commitWorkload is the application workload of BenchmarkActivatedCommits:
// writers goroutines, each committing count small transactions (update a
// defect, add a tag), and the time it took.
func commitWorkload(b *testing.B, db *sql.DB, writers, count int, run int) time.Duration {
	ctx := context.Background()
	d := dialectOf(b, db)
	upd := d.Rebind(`UPDATE defect SET severity = severity + 1 WHERE id = ?`)
	ins := d.Rebind(`INSERT INTO defect_tag (defect_id, tag) VALUES (?, ?)`)
	var failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range count {
				id := 1 + (w*count+i)%benchRows
				err := func() error {
					tx, err := db.BeginTx(ctx, nil)
					if err != nil {
						return err
					}
					defer tx.Rollback()
					if _, err := tx.ExecContext(ctx, upd, id); err != nil {
						return err
					}
					if _, err := tx.ExecContext(ctx, ins, id, fmt.Sprintf("r%d-w%d-%d", run, w, i)); err != nil {
						return err
					}
					return tx.Commit()
				}()
				if err != nil && failed.Add(1) == 1 {
					b.Errorf("run %d, writer %d, commit %d after %v: %v", run, w, i, time.Since(start), err)
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

const (
	benchRows   = 1000
	exportPause = 50 * time.Millisecond // between two exports, 20 a second at most
)

// BenchmarkActivatedCommits measures what activation costs an
// application's writers: the same concurrent workload (8 writers, small
// transactions) on a database before and after Activate, the activated
// one with exports to another replica running all the time (one every
// 50 ms, far more often than any sync schedule). It reports
// commits per second of each and their ratio, activated/plain (issue 17
// aims at 0.6 or more), and, to tell the capture triggers' cost from the
// exports', the ratio of the activated database with no export running
// (no-export/plain). Run one dialect with -bench
// 'ActivatedCommits/postgres'; the servers run when their DSN variables
// are set.
func BenchmarkActivatedCommits(b *testing.B) {
	const writers, count = 8, 150
	for _, dn := range testdb.Dialects {
		b.Run(dn, func(b *testing.B) {
			if ok, reason := testdb.Available(dn); !ok {
				b.Skip(reason)
			}
			ctx := context.Background()
			open := func(name string) *sql.DB {
				db := testdb.Open(b, dn, name)
				if dn != "sqlite" {
					return db
				}
				// SQLite as the README advises: WAL, and transactions that
				// take the write lock when they begin.
				driver, dsn := testdb.DSN(b, db, "&_pragma=journal_mode(WAL)&_txlock=immediate")
				app, err := sql.Open(driver, dsn)
				require.NoError(b, err)
				b.Cleanup(func() { app.Close() })
				return app
			}
			plain, act := open("plain"), open("activated")
			for _, db := range []*sql.DB{plain, act} {
				seedTracker(b, db, benchRows)
			}
			_, err := multisite.Activate(ctx, act, multisite.ActivateOptions{Name: "boston"})
			require.NoError(b, err)
			target, _, err := multisite.Replicate(ctx, act, "bangalore", io.Discard, multisite.ReplicateOptions{})
			require.NoError(b, err)

			var plainTime, idleTime, actTime time.Duration
			var exports atomic.Int64
			b.ResetTimer()
			for i := range b.N {
				plainTime += commitWorkload(b, plain, writers, count, i)
				idleTime += commitWorkload(b, act, writers, count, -1-i)
				stop := make(chan struct{})
				done := make(chan struct{})
				go func() {
					defer close(done)
					for {
						select {
						case <-stop:
							return
						default:
						}
						if _, err := multisite.ExportPacket(ctx, act, target.ID, io.Discard, multisite.ExportOptions{}); err != nil {
							b.Errorf("export: %v", err)
							return
						}
						exports.Add(1)
						time.Sleep(exportPause)
					}
				}()
				actTime += commitWorkload(b, act, writers, count, i)
				close(stop)
				<-done
			}
			b.StopTimer()
			commits := float64(writers * count * b.N)
			p, a := commits/plainTime.Seconds(), commits/actTime.Seconds()
			b.ReportMetric(p, "commits/s-plain")
			b.ReportMetric(a, "commits/s-activated")
			b.ReportMetric(a/p, "activated/plain")
			b.ReportMetric(commits/idleTime.Seconds()/p, "no-export/plain")
			b.ReportMetric(float64(exports.Load())/float64(b.N), "exports/op")
		})
	}
}
