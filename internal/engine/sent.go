package engine

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/syncpkt"
)

// What a replica has sent each target (ms_sent) and which packets it
// refused for a gap (ms_gap). ms_vector keeps what a target acknowledged;
// an export sends what is newer than the larger of the two, so each change
// travels once on a healthy link. A lost packet comes back two ways: the
// target refuses the next packet for its gap and says so in its next
// packet or acknowledgement (the gap lowers the sent vector to what the
// target holds), or a resend timeout lowers it to the acknowledged vector.

// sentMark is what was sent to a target of one origin: the newest epoch,
// and when the oldest send still unacknowledged was made (Unix
// nanoseconds).
type sentMark struct {
	Epoch uint64
	Since int64
}

// loadSent reads what this replica has sent target, per origin.
func loadSent(ctx context.Context, q dialect.Querier, d dialect.Dialect, target replica.ID) (map[replica.ID]sentMark, error) {
	rows, err := q.QueryContext(ctx, d.Rebind(`SELECT origin, epoch, since FROM ms_sent WHERE target = ?`), string(target))
	if err != nil {
		return nil, fmt.Errorf("multisite: read what was sent to %s: %w", target, err)
	}
	defer rows.Close()
	m := map[replica.ID]sentMark{}
	for rows.Next() {
		var o string
		var s sentMark
		if err := rows.Scan(&o, &s.Epoch, &s.Since); err != nil {
			return nil, err
		}
		m[replica.ID(o)] = s
	}
	return m, rows.Err()
}

// exportBase is where an export to a target starts, per origin: after what
// the target acknowledged or, if later, what was sent to it, unless that
// send has waited for its acknowledgement longer than resendAfter (> 0).
// resent lists the origins sent again for the timeout.
func exportBase(acked replica.Vector, sent map[replica.ID]sentMark, now time.Time, resendAfter time.Duration) (base replica.Vector, resent map[replica.ID]bool) {
	base, resent = acked.Clone(), map[replica.ID]bool{}
	for o, s := range sent {
		if s.Epoch <= acked[o] {
			continue
		}
		if resendAfter > 0 && s.Since != 0 && now.Sub(time.Unix(0, s.Since)) >= resendAfter {
			resent[o] = true
			continue
		}
		base[o] = s.Epoch
	}
	return base, resent
}

// recordSent notes that a packet to target carried, of each origin o with
// upto[o] > base[o], every epoch up to upto[o]. The time an
// acknowledgement has been awaited since is kept while an earlier send
// is still unacknowledged (and was not just sent again).
func recordSent(ctx context.Context, q dialect.Querier, d dialect.Dialect, target replica.ID, base, upto, acked replica.Vector, resent map[replica.ID]bool, now time.Time) error {
	old, err := loadSent(ctx, q, d, target)
	if err != nil {
		return err
	}
	for _, o := range upto.Origins() {
		if upto[o] <= base[o] {
			continue
		}
		since := now.UnixNano()
		prev, ok := old[o]
		if ok && prev.Epoch > acked[o] && !resent[o] && prev.Since != 0 {
			since = prev.Since
		}
		if ok {
			_, err = q.ExecContext(ctx, d.Rebind(`UPDATE ms_sent SET epoch = ?, since = ? WHERE target = ? AND origin = ?`), upto[o], since, string(target), string(o))
		} else {
			_, err = q.ExecContext(ctx, d.Rebind(`INSERT INTO ms_sent (target, origin, epoch, since) VALUES (?, ?, ?, ?)`), string(target), string(o), upto[o], since)
		}
		if err != nil {
			return fmt.Errorf("multisite: record what was sent to %s: %w", target, err)
		}
	}
	return nil
}

// lowerSent takes a gap report from target: of each origin it holds only
// gaps[o], so what was sent beyond is sent again. The report is bounded by
// what this replica sent target and what target acknowledged: it can only
// make this replica resend to target what it sent and target did not
// acknowledge, never forget an acknowledgement or touch what is sent to
// anyone else; a report on target's own epochs means nothing.
func lowerSent(ctx context.Context, q dialect.Querier, d dialect.Dialect, target replica.ID, gaps replica.Vector) error {
	if len(gaps) == 0 {
		return nil
	}
	acked, err := LoadVector(ctx, q, d, target)
	if err != nil {
		return err
	}
	for _, o := range gaps.Origins() {
		if o == target {
			continue
		}
		e := max(gaps[o], acked[o])
		if _, err := q.ExecContext(ctx, d.Rebind(`UPDATE ms_sent SET epoch = ?, since = 0 WHERE target = ? AND origin = ? AND epoch > ?`),
			e, string(target), string(o), e); err != nil {
			return fmt.Errorf("multisite: take the gap report of %s: %w", target, err)
		}
	}
	return nil
}

// forgetSent drops what was sent to target: it was restored from a backup
// and holds less than it acknowledged.
func forgetSent(ctx context.Context, q dialect.Querier, d dialect.Dialect, target replica.ID) error {
	_, err := q.ExecContext(ctx, d.Rebind(`DELETE FROM ms_sent WHERE target = ?`), string(target))
	return err
}

// loadGaps reads the gaps this replica found in packets from peer and has
// not seen filled: per origin, the epoch it held.
func loadGaps(ctx context.Context, q dialect.Querier, d dialect.Dialect, peer replica.ID) (replica.Vector, error) {
	v, err := queryVector(ctx, q, d, `SELECT origin, epoch FROM ms_gap WHERE peer = ?`, string(peer))
	if err != nil {
		return nil, fmt.Errorf("multisite: read gaps of %s: %w", peer, err)
	}
	return v, nil
}

// recordGaps notes that a packet from peer started after what this
// replica holds of the origins in have.
func recordGaps(ctx context.Context, q dialect.Querier, d dialect.Dialect, peer replica.ID, have replica.Vector) error {
	for _, o := range have.Origins() {
		if _, err := q.ExecContext(ctx, d.Rebind(`DELETE FROM ms_gap WHERE peer = ? AND origin = ?`), string(peer), string(o)); err != nil {
			return err
		}
		if _, err := q.ExecContext(ctx, d.Rebind(`INSERT INTO ms_gap (peer, origin, epoch) VALUES (?, ?, ?)`), string(peer), string(o), have[o]); err != nil {
			return fmt.Errorf("multisite: record the gap in a packet from %s: %w", peer, err)
		}
	}
	return nil
}

// clearGaps forgets the gaps found in packets from peer: a packet from it
// was just imported whole, so this replica holds everything peer holds.
func clearGaps(ctx context.Context, q dialect.Querier, d dialect.Dialect, peer replica.ID) error {
	_, err := q.ExecContext(ctx, d.Rebind(`DELETE FROM ms_gap WHERE peer = ?`), string(peer))
	return err
}

// noteGap records, in a transaction of its own (the refused packet's rolls
// back), what a signed packet that was refused still tells: the epochs
// this replica holds where it would have brought more, which its next
// packet or acknowledgement reports to the sender (ms_gap). A packet
// refused for a gap also hands on the gaps its sender found in this
// replica's packets: when both directions lost a packet, each side
// refuses the other's next one, and only what the refused packets say
// breaks the tie. Nothing else changes: not the data, not the epoch
// matrix. The packet's signature is checked before this is called.
func noteGap(ctx context.Context, db *sql.DB, d dialect.Dialect, h *syncpkt.Header, refused replica.Vector, gap bool) error {
	origin := replica.ID(h.Origin)
	return inTx(ctx, db, d, func(tx *sql.Tx) error {
		if err := recordGaps(ctx, tx, d, origin, refused); err != nil {
			return err
		}
		if !gap {
			return nil
		}
		return lowerSent(ctx, tx, d, origin, vectorOf(h.Gaps))
	})
}
