package multisite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/multisite-go/multisite/replica"
)

// syncRun is what a run of rounds carried.
type syncRun struct {
	changes, rows int
	bytes         int64
	lost          int
}

// runSync runs rounds of 10 edits (or inserts: new rows) at boston, each followed by a packet to
// bangalore and, if twoWay, an insert at bangalore and a packet back, or
// with acks an acknowledgement back (else nothing goes back). A fraction loss of
// packets is lost, by a fixed seed; three loss-free rounds end the run,
// which must converge. With reference, boston sends what it did before
// acknowledgement tracking: everything bangalore has not acknowledged.
func runSync(tb testing.TB, open func(string) *sql.DB, rounds int, loss float64, twoWay, acks, inserts, reference bool) syncRun {
	tb.Helper()
	sites := familyOn(tb, open, 40, "boston", "bangalore")
	boston, blr := sites[0], sites[1]
	rng := rand.New(rand.NewPCG(20, 26))
	var run syncRun
	deliver := func(to *site, pkt []byte, lossy bool) {
		if lossy && rng.Float64() < loss {
			run.lost++
			return
		}
		_, err := multisite.ImportPacket(context.Background(), to.db, bytes.NewReader(pkt), multisite.ImportOptions{})
		if err != nil && !errors.Is(err, replica.ErrGap) {
			tb.Fatalf("import into %s: %v", to.name, err)
		}
	}
	send := func(from, to *site, lossy bool) {
		var buf bytes.Buffer
		var st multisite.ExportStats
		var err error
		if reference && from == boston {
			st, err = multisite.RecoverPacket(context.Background(), from.db, to.id, nil, &buf, multisite.ExportOptions{})
		} else {
			st, err = multisite.ExportPacket(context.Background(), from.db, to.id, &buf, multisite.ExportOptions{})
		}
		if err != nil {
			tb.Fatal(err)
		}
		run.rows += st.Rows
		run.bytes += st.Bytes
		deliver(to, buf.Bytes(), lossy)
	}
	for r := 0; r < rounds+3; r++ {
		lossy := r < rounds
		if inserts {
			for i := range 10 {
				mustExec(tb, boston.db, `INSERT INTO project (code, title) VALUES (?, 'new in boston')`, fmt.Sprintf("P%d-%d", r, i))
			}
		} else {
			editRound(tb, boston, r, 10)
		}
		run.changes += 10
		send(boston, blr, lossy)
		switch {
		case twoWay:
			mustExec(tb, blr.db, `INSERT INTO project (code, title) VALUES (?, 'from bangalore')`, fmt.Sprintf("B%d", r))
			run.changes++
			send(blr, boston, lossy)
		case acks:
			var ack bytes.Buffer
			if _, err := multisite.WriteAck(context.Background(), blr.db, boston.id, &ack); err != nil {
				tb.Fatal(err)
			}
			run.bytes += int64(ack.Len())
			deliver(boston, ack.Bytes(), lossy)
		}
	}
	requireConverged(tb, boston, blr)
	return run
}

// BenchmarkSync measures row images and bytes per change over a long
// one-way run (bangalore sends nothing back) and over a two-way run
// losing 10% of packets, against the reference of sending everything not
// acknowledged (the export before per-target sent vectors). Metrics:
// rows/change and bytes/change of each, and their ratio.
func BenchmarkSync(b *testing.B) {
	cases := []struct {
		name         string
		rounds       int
		loss         float64
		twoWay, acks bool
		inserts      bool
	}{
		{name: "one-way-100-rounds", rounds: 100},
		{name: "one-way-100-rounds-inserts", rounds: 100, inserts: true},
		{name: "lossy-two-way-30-rounds", rounds: 30, loss: 0.10, twoWay: true},
		{name: "lossy-one-way-acks-30-rounds", rounds: 30, loss: 0.10, acks: true},
	}
	for _, d := range testdb.Dialects {
		for _, c := range cases {
			b.Run(d+"/"+c.name, func(b *testing.B) {
				if ok, reason := testdb.Available(d); !ok {
					b.Skip(reason)
				}
				open := func(name string) *sql.DB { return testdb.Open(b, d, name) }
				var got, ref syncRun
				for b.Loop() {
					got = runSync(b, open, c.rounds, c.loss, c.twoWay, c.acks, c.inserts, false)
					ref = runSync(b, open, c.rounds, c.loss, c.twoWay, c.acks, c.inserts, true)
				}
				b.ReportMetric(float64(got.rows)/float64(got.changes), "rows/change")
				b.ReportMetric(float64(got.bytes)/float64(got.changes), "bytes/change")
				b.ReportMetric(float64(ref.rows)/float64(ref.changes), "ref-rows/change")
				b.ReportMetric(float64(ref.bytes)/float64(got.bytes), "ref/bytes")
				b.ReportMetric(float64(got.lost), "lost")
			})
		}
	}
}
