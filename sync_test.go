package multisite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/syncpkt"
	"github.com/stretchr/testify/require"
)

// editRound makes n edits at s: each updates a distinct defect that s
// masters (the defects seeded at the first site; n ≤ 10, and rounds edit
// different defects), so every edit is one row
// image to send.
func editRound(t testing.TB, s *site, round, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		mustExec(t, s.db, `UPDATE defect SET headline = ?, severity = ? WHERE id = ?`, fmt.Sprintf("round %d edit %d", round, i), round, (round*10+i-1)%40+1)
	}
}

// exportStats writes a packet from -> to and returns it with its stats.
func exportStats(t testing.TB, from, to *site, opt multisite.ExportOptions) ([]byte, multisite.ExportStats) {
	t.Helper()
	var buf bytes.Buffer
	st, err := multisite.ExportPacket(context.Background(), from.db, to.id, &buf, opt)
	require.NoError(t, err)
	return buf.Bytes(), st
}

// TestSync_OneWayEachChangeTravelsOnce runs the seed's unidirectional
// sync: the new site sends nothing back, yet each export carries only the
// edits made since the previous one.
func TestSync_OneWayEachChangeTravelsOnce(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 40, "boston", "bangalore")
		boston, blr := sites[0], sites[1]
		const rounds, edits = 30, 10
		var got []int
		total := 0
		for r := 0; r < rounds; r++ {
			editRound(t, boston, r, edits)
			pkt, st := exportStats(t, boston, blr, multisite.ExportOptions{})
			importInto(t, blr, pkt)
			got = append(got, st.Rows)
			total += st.Rows
		}
		want := make([]int, rounds)
		for i := range want {
			want[i] = edits
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("row images per export (-want +got):\n%s", diff)
		}
		if total != rounds*edits {
			t.Errorf("%d rounds of %d edits carried %d row images, want %d", rounds, edits, total, rounds*edits)
		}
		requireConverged(t, boston, blr)
	})
}

// lossyLink drops packets with a fixed probability, deterministically.
type lossyLink struct {
	rng     *rand.Rand
	p       float64
	dropped int
}

func (l *lossyLink) lost() bool {
	if l.rng.Float64() < l.p {
		l.dropped++
		return true
	}
	return false
}

// deliver imports pkt into s unless the link loses it; a packet refused
// for a gap counts, any other error fails the test.
func (l *lossyLink) deliver(t testing.TB, s *site, pkt []byte, gaps *int) {
	t.Helper()
	if l.lost() {
		return
	}
	_, err := multisite.ImportPacket(context.Background(), s.db, bytes.NewReader(pkt), multisite.ImportOptions{})
	if errors.Is(err, replica.ErrGap) {
		*gaps++
		return
	}
	require.NoError(t, err, "import into %s", s.name)
}

// TestSync_LossyLinkConverges drops 10% of packets (and acknowledgements)
// with a fixed seed. Every lost packet is detected as a gap by the next one,
// reported back and resent, and the sites converge with a bounded number
// of row images.
func TestSync_LossyLinkConverges(t *testing.T) {
	tests := []struct {
		name   string
		twoWay bool // bangalore edits and sends packets; else it sends acknowledgements
	}{
		{"one way with acknowledgements", false},
		{"two way", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
				sites := familyOn(t, open, 40, "boston", "bangalore")
				boston, blr := sites[0], sites[1]
				link := &lossyLink{rng: rand.New(rand.NewPCG(20, 26)), p: 0.10}
				// 30 rounds with MULTISITE_LONG set; the default's 20 lose
				// packets and see gaps with this seed (checked below).
				const edits = 10
				rounds := 20
				if os.Getenv("MULTISITE_LONG") != "" {
					rounds = 30
				}
				rows, changes, gaps := 0, 0, 0
				round := func(r int, l *lossyLink) {
					editRound(t, boston, r, edits)
					changes += edits
					pkt, st := exportStats(t, boston, blr, multisite.ExportOptions{})
					rows += st.Rows
					l.deliver(t, blr, pkt, &gaps)
					if tt.twoWay {
						mustExec(t, blr.db, `INSERT INTO project (code, title) VALUES (?, 'from bangalore')`, fmt.Sprintf("B%d", r))
						changes++
						pkt, st := exportStats(t, blr, boston, multisite.ExportOptions{})
						rows += st.Rows
						l.deliver(t, boston, pkt, &gaps)
						return
					}
					var ack bytes.Buffer
					_, err := multisite.WriteAck(ctx, blr.db, boston.id, &ack)
					require.NoError(t, err)
					l.deliver(t, boston, ack.Bytes(), &gaps)
				}
				for r := 0; r < rounds; r++ {
					round(r, link)
				}
				if link.dropped == 0 || gaps == 0 {
					t.Fatalf("the seed lost %d packets and %d gaps were seen; the test needs both", link.dropped, gaps)
				}
				// Then a healthy link: a lost packet's gap is reported and
				// filled within a few rounds.
				healthy := &lossyLink{rng: rand.New(rand.NewPCG(1, 2)), p: 0}
				for r := rounds; r < rounds+3; r++ {
					round(r, healthy)
				}
				requireConverged(t, boston, blr)
				// Each lost packet costs at most a resend of what it and the
				// packets refused after it carried; far below resending
				// everything since the start every time (rounds² / 2 · edits).
				if limit := 3 * changes; rows > limit {
					t.Errorf("%d changes took %d row images over a lossy link (%d packets lost), want at most %d", changes, rows, link.dropped, limit)
				}
				t.Logf("%d changes, %d row images, %d packets lost, %d gaps reported", changes, rows, link.dropped, gaps)
			})
		})
	}
}

// TestSync_ResendTimeout: a lost packet whose acknowledgement is overdue is
// sent again by the next export with ResendAfter, without any gap report.
func TestSync_ResendTimeout(t *testing.T) {
	sites := newFamily(t, 40, "boston", "bangalore")
	boston, blr := sites[0], sites[1]
	editRound(t, boston, 1, 4)
	exportStats(t, boston, blr, multisite.ExportOptions{}) // lost
	editRound(t, boston, 2, 3)

	// Without a timeout the next packet starts after the lost one.
	pkt, st := exportStats(t, boston, blr, multisite.ExportOptions{})
	if st.Rows != 3 {
		t.Fatalf("export after a lost one carried %d rows, want the 3 new ones", st.Rows)
	}
	before := contentHash(t, blr)
	if _, err := multisite.ImportPacket(ctx, blr.db, bytes.NewReader(pkt), multisite.ImportOptions{}); !errors.Is(err, replica.ErrGap) {
		t.Fatalf("packet after a lost one: error = %v, want ErrGap", err)
	}
	if contentHash(t, blr) != before {
		t.Fatal("the refused packet changed bangalore")
	}

	time.Sleep(5 * time.Millisecond)
	pkt, st = exportStats(t, boston, blr, multisite.ExportOptions{ResendAfter: time.Millisecond})
	if st.Rows != 7 {
		t.Errorf("export after the timeout carried %d rows, want all 7 unacknowledged", st.Rows)
	}
	importInto(t, blr, pkt)
	requireConverged(t, boston, blr)
}

// TestSync_GapReportResendsFromWhatTheTargetHolds: the target's
// acknowledgement names the gap, and the next export starts there.
func TestSync_GapReportResendsFromWhatTheTargetHolds(t *testing.T) {
	sites := newFamily(t, 40, "boston", "bangalore")
	boston, blr := sites[0], sites[1]
	editRound(t, boston, 1, 4)
	exportStats(t, boston, blr, multisite.ExportOptions{}) // lost
	editRound(t, boston, 2, 3)
	pkt, _ := exportStats(t, boston, blr, multisite.ExportOptions{})
	if _, err := multisite.ImportPacket(ctx, blr.db, bytes.NewReader(pkt), multisite.ImportOptions{}); !errors.Is(err, replica.ErrGap) {
		t.Fatalf("error = %v, want ErrGap", err)
	}
	var ack bytes.Buffer
	if _, err := multisite.WriteAck(ctx, blr.db, boston.id, &ack); err != nil {
		t.Fatal(err)
	}
	rep := importInto(t, boston, ack.Bytes())
	if rep.Kind != syncpkt.KindAck.String() || rep.Origin != blr.id {
		t.Errorf("ack import report: kind %q origin %s", rep.Kind, rep.Origin)
	}
	pkt, st := exportStats(t, boston, blr, multisite.ExportOptions{})
	if st.Rows != 7 {
		t.Errorf("export after the gap report carried %d rows, want the 7 bangalore lacks", st.Rows)
	}
	importInto(t, blr, pkt)
	requireConverged(t, boston, blr)
	// Filled: the next acknowledgement reports no gap, and the next export
	// carries nothing again.
	ack.Reset()
	if _, err := multisite.WriteAck(ctx, blr.db, boston.id, &ack); err != nil {
		t.Fatal(err)
	}
	h, err := syncpkt.NewReader(bytes.NewReader(ack.Bytes()), syncpkt.ReaderOptions{}).Header()
	require.NoError(t, err)
	if len(h.Gaps) != 0 {
		t.Errorf("ack after the gap was filled still reports %v", h.Gaps)
	}
	importInto(t, boston, ack.Bytes())
	if _, st := exportStats(t, boston, blr, multisite.ExportOptions{}); st.Rows != 0 {
		t.Errorf("export with nothing new carried %d rows", st.Rows)
	}
}

// TestRecoverPacket_Exact: recovery resends what the target lacks and no
// more, per origin, from its last acknowledgement or its own request.
func TestRecoverPacket_Exact(t *testing.T) {
	sites := newFamily(t, 40, "boston", "bangalore", "dublin")
	boston, blr, dub := sites[0], sites[1], sites[2]
	// Dublin's changes reach bangalore through boston.
	mustExec(t, dub.db, `INSERT INTO project (code, title) VALUES ('D1', 'dublin'), ('D2', 'dublin')`)
	syncPair(t, dub, boston)
	syncPair(t, boston, blr)
	syncPair(t, blr, boston) // bangalore acknowledges everything so far
	editRound(t, boston, 1, 2)
	exportStats(t, boston, blr, multisite.ExportOptions{}) // a 2-row packet, lost

	recoverRows := func(since replica.Vector, opt multisite.ExportOptions) int {
		t.Helper()
		var buf bytes.Buffer
		st, err := multisite.RecoverPacket(ctx, boston.db, blr.id, since, &buf, opt)
		require.NoError(t, err)
		return st.Rows
	}
	var req bytes.Buffer
	if _, err := multisite.WriteAck(ctx, blr.db, boston.id, &req); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		since replica.Vector
		req   []byte
		want  int
	}{
		{"from the last acknowledgement", nil, nil, 2},
		{"from the target's request", nil, req.Bytes(), 2},
		{"one origin from the start, the others from the acknowledgement", replica.Vector{dub.id: 0}, nil, 2 + 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opt multisite.ExportOptions
			if tt.req != nil {
				opt.Request = bytes.NewReader(tt.req)
			}
			if got := recoverRows(tt.since, opt); got != tt.want {
				t.Errorf("recovery carried %d rows, want %d", got, tt.want)
			}
		})
	}
	var buf bytes.Buffer
	_, err := multisite.RecoverPacket(ctx, boston.db, blr.id, nil, &buf, multisite.ExportOptions{})
	require.NoError(t, err)
	importInto(t, blr, buf.Bytes())
	requireConverged(t, boston, blr)

	// A sync packet is no request.
	_, err = multisite.RecoverPacket(ctx, boston.db, blr.id, nil, io.Discard, multisite.ExportOptions{Request: bytes.NewReader(export(t, blr, boston))})
	if !errors.Is(err, multisite.ErrKind) {
		t.Errorf("sync packet as a request: error = %v, want ErrKind", err)
	}
	// A request from another replica is no request.
	var wrong bytes.Buffer
	if _, err := multisite.WriteAck(ctx, dub.db, boston.id, &wrong); err != nil {
		t.Fatal(err)
	}
	_, err = multisite.RecoverPacket(ctx, boston.db, blr.id, nil, io.Discard, multisite.ExportOptions{Request: bytes.NewReader(wrong.Bytes())})
	if !errors.Is(err, multisite.ErrPacket) && !errors.Is(err, syncpkt.ErrSignature) {
		t.Errorf("request from dublin for bangalore: error = %v, want ErrPacket or ErrSignature", err)
	}
}

// TestExport_MaxSizeSplitsIntoPartsImportableInAnyOrder checks that parts
// are bounded, each verifies alone, are held until all came in any order,
// the report names the missing ones, and the whole applies once.
func TestExport_MaxSizeSplitsIntoPartsImportableInAnyOrder(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 40, "boston", "bangalore")
		boston, blr := sites[0], sites[1]
		for i := 1; i <= 40; i++ {
			mustExec(t, boston.db, `UPDATE defect SET headline = ? WHERE id = ?`, fmt.Sprintf("a longer headline to fill the parts, number %d of forty", i), i)
		}
		const maxSize = 2048
		var parts []*bytes.Buffer
		next := func(n int) (io.Writer, error) {
			if n != len(parts)+1 {
				return nil, fmt.Errorf("asked for part %d after %d", n, len(parts))
			}
			b := &bytes.Buffer{}
			parts = append(parts, b)
			return b, nil
		}
		parts = append(parts, &bytes.Buffer{})
		st, err := multisite.ExportPacket(ctx, boston.db, blr.id, parts[0], multisite.ExportOptions{MaxSize: maxSize, NextPart: next, Uncompressed: true})
		require.NoError(t, err)
		if st.Parts < 3 || st.Parts != len(parts) || st.Rows != 40 {
			t.Fatalf("export: %d parts (%d written), %d rows; want at least 3 parts and 40 rows", st.Parts, len(parts), st.Rows)
		}
		status, err := multisite.ReadStatus(ctx, boston.db)
		require.NoError(t, err)
		for i, p := range parts {
			if p.Len() > maxSize {
				t.Errorf("part %d is %d bytes, more than MaxSize %d", i+1, p.Len(), maxSize)
			}
			// Each part verifies alone with the origin's key.
			pr := syncpkt.NewReader(bytes.NewReader(p.Bytes()), syncpkt.ReaderOptions{PublicKey: syncpkt.StaticPublicKey(status.Local.PublicKey)})
			h, err := pr.Header()
			require.NoError(t, err)
			if h.Part != uint64(i+1) {
				t.Errorf("part %d has Part %d", i+1, h.Part)
			}
			for err == nil {
				_, err = pr.Next()
			}
			if err != io.EOF {
				t.Errorf("part %d does not verify alone: %v", i+1, err)
			}
		}

		// A damaged part is refused and nothing is held.
		bad := bytes.Clone(parts[1].Bytes())
		bad[len(bad)-70] ^= 0xff
		before := contentHash(t, blr)
		if _, err := multisite.ImportPacket(ctx, blr.db, bytes.NewReader(bad), multisite.ImportOptions{}); !errors.Is(err, syncpkt.ErrChecksum) && !errors.Is(err, syncpkt.ErrSignature) {
			t.Fatalf("damaged part: error = %v, want ErrChecksum or ErrSignature", err)
		}

		// Any order: the last first, then the rest backwards, the first last.
		n := len(parts)
		order := []int{n}
		for i := n - 1; i >= 1; i-- {
			order = append(order, i)
		}
		for k, p := range order {
			rep, err := multisite.ImportPacket(ctx, blr.db, bytes.NewReader(parts[p-1].Bytes()), multisite.ImportOptions{})
			require.NoError(t, err, "part %d", p)
			if k < len(order)-1 {
				var want []int
				for q := 1; q <= n; q++ {
					held := false
					for _, o := range order[:k+1] {
						held = held || o == q
					}
					if !held {
						want = append(want, q)
					}
				}
				if !rep.Held || rep.Parts != n || !cmp.Equal(want, rep.Missing) {
					t.Errorf("after part %d: held %v, parts %d, missing %v; want held, %d, %v", p, rep.Held, rep.Parts, rep.Missing, n, want)
				}
				if contentHash(t, blr) != before {
					t.Fatalf("a held part changed bangalore")
				}
				continue
			}
			if rep.Held || len(rep.Missing) != 0 || rep.Parts != n || rep.Tables["defect"].Updated != 40 {
				t.Errorf("last part: held %v, missing %v, parts %d, defect %+v; want the export applied", rep.Held, rep.Missing, rep.Parts, rep.Tables["defect"])
			}
		}
		requireConverged(t, boston, blr)
		// A part that comes again is a duplicate and changes nothing.
		rep, err := multisite.ImportPacket(ctx, blr.db, bytes.NewReader(parts[0].Bytes()), multisite.ImportOptions{})
		require.NoError(t, err)
		if !rep.Duplicate || rep.Held {
			t.Errorf("part again: duplicate %v held %v", rep.Duplicate, rep.Held)
		}
	})
}

// TestExport_MaxSizeWithoutNextPart is refused with a typed error when a
// second part is needed.
func TestExport_MaxSizeWithoutNextPart(t *testing.T) {
	sites := newFamily(t, 40, "boston", "bangalore")
	boston, blr := sites[0], sites[1]
	editRound(t, boston, 1, 20)
	_, err := multisite.ExportPacket(ctx, boston.db, blr.id, io.Discard, multisite.ExportOptions{MaxSize: 1024})
	if !errors.Is(err, multisite.ErrNoNextPart) {
		t.Fatalf("error = %v, want ErrNoNextPart", err)
	}
	// Nothing counts as sent: the next export carries the 20 rows.
	if _, st := exportStats(t, boston, blr, multisite.ExportOptions{}); st.Rows != 20 {
		t.Errorf("export after the failed one carried %d rows, want 20", st.Rows)
	}
}

// TestWriteAck_ReceiveOnly: a receive-only replica exports nothing but
// acknowledges, and its acknowledgement confirms what it got: the origin's
// export then carries only what is newer, even after a resend timeout.
func TestWriteAck_ReceiveOnly(t *testing.T) {
	boston := newFamily(t, 40, "boston")[0]
	var pkt bytes.Buffer
	info, _, err := multisite.Replicate(ctx, boston.db, "tokyo", &pkt, multisite.ReplicateOptions{})
	require.NoError(t, err)
	tokyo := &site{name: "tokyo", db: testdb.SQLite(t, "tokyo"), id: info.ID}
	_, err = multisite.CreateReplica(ctx, tokyo.db, &pkt, multisite.CreateOptions{})
	require.NoError(t, err)
	if _, err := multisite.ExportPacket(ctx, tokyo.db, boston.id, io.Discard, multisite.ExportOptions{}); !errors.Is(err, replica.ErrReceiveOnly) {
		t.Fatalf("receive-only export: %v, want ErrReceiveOnly", err)
	}
	editRound(t, boston, 1, 5)
	p, st := exportStats(t, boston, tokyo, multisite.ExportOptions{})
	importInto(t, tokyo, p)
	var ack bytes.Buffer
	if _, err := multisite.WriteAck(ctx, tokyo.db, boston.id, &ack); err != nil {
		t.Fatalf("receive-only WriteAck: %v", err)
	}
	importInto(t, boston, ack.Bytes())
	s, err := multisite.ReadStatus(ctx, boston.db)
	require.NoError(t, err)
	if got := s.Matrix[tokyo.id][boston.id]; got != st.Epoch {
		t.Errorf("boston believes tokyo holds its epoch %d, want %d", got, st.Epoch)
	}
	editRound(t, boston, 2, 3)
	time.Sleep(2 * time.Millisecond)
	if _, st := exportStats(t, boston, tokyo, multisite.ExportOptions{ResendAfter: time.Millisecond}); st.Rows != 3 {
		t.Errorf("export after the acknowledgement carried %d rows, want the 3 new ones", st.Rows)
	}
}
