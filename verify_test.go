package multisite_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/hooks"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/multisite-go/multisite/syncpkt"
	"github.com/stretchr/testify/require"
)

// dumpState returns the replicated tables and the library's bookkeeping
// of db (control row, epoch vectors, registry), for
// checking that a refused packet left it exactly as it was.
func dumpState(t testing.TB, db *sql.DB) map[string][]map[string]any {
	t.Helper()
	out := dump(t, db)
	for _, table := range []string{"ms_ctl", "ms_vector", "ms_replica"} {
		rows, err := db.Query(fmt.Sprintf("SELECT * FROM %s", table))
		require.NoError(t, err)
		cols, _ := rows.Columns()
		var lines []string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			lines = append(lines, fmt.Sprintf("%v", vals))
		}
		require.NoError(t, rows.Err())
		rows.Close()
		out[table] = []map[string]any{{"rows": strings.Join(sortedStrings(lines), "\n")}}
	}
	return out
}

func sortedStrings(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// rewrite writes pkt's header and records again, as the origin wrote
// them, except that sign makes the signature of the n-th checkpoint or
// trailer (from 1). It returns the packet, its records, and for each
// signature the number of records before it.
func rewrite(t *testing.T, pkt []byte, sign func(n int, msg []byte) []byte) ([]byte, []syncpkt.Record, []int) {
	t.Helper()
	h, err := syncpkt.NewReader(bytes.NewReader(pkt), syncpkt.ReaderOptions{}).Header()
	require.NoError(t, err)
	var ends []int
	written := 0
	var buf bytes.Buffer
	w, err := syncpkt.NewWriter(&buf, *h, syncpkt.WriterOptions{Compress: true, Sign: func(msg []byte) ([]byte, error) {
		ends = append(ends, written)
		return sign(len(ends), msg), nil
	}})
	require.NoError(t, err)
	recs := records(t, pkt)
	for _, rec := range recs {
		require.NoError(t, w.Write(rec))
		written++
	}
	require.NoError(t, w.Close())
	return buf.Bytes(), recs, ends
}

// text returns a key value as a string, whatever the driver scanned.
func text(v any) string {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return fmt.Sprint(v)
}

// TestImport_ForgedChunkChangesNothing: a multi-chunk packet one of whose
// chunks is not signed by its origin (its checkpoint's signature is another
// key's) is refused with syncpkt.ErrSignature and the database is exactly
// as it was. No hook ever sees a row of the forged chunk or after it: with
// the first chunk forged, none runs at all, though that chunk holds more
// rows than an import merges at once (8192), so an importer that applied
// rows before checking their signature would have run hooks for them.
// The genuine packet then applies, and the hooks run.
func TestImport_ForgedChunkChangesNothing(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 3, "boston", "bangalore")
		boston, blr := sites[0], sites[1]
		// 9,000 small rows (the first chunk), then about 3 MiB of large
		// ones: three chunks or more.
		tx, err := blr.db.Begin()
		require.NoError(t, err)
		insert := rebind(t, blr.db, `INSERT INTO project (code, title) VALUES (?, ?)`)
		for i := range 9000 {
			_, err := tx.Exec(insert, fmt.Sprintf("A%05d", i), "small")
			require.NoError(t, err)
		}
		title := strings.Repeat("chunked ", 1250) // 10,000 bytes
		for i := range 300 {
			_, err := tx.Exec(insert, fmt.Sprintf("C%03d", i), title)
			require.NoError(t, err)
		}
		require.NoError(t, tx.Commit())
		pkt := export(t, blr, boston)

		var key []byte
		require.NoError(t, blr.db.QueryRow(`SELECT private_key FROM ms_ctl`).Scan(&key))
		// The chunk rule is the format's: the records before each
		// signature are known from the writer, whatever the dialect.
		priv := ed25519.PrivateKey(key)
		_, other, err := ed25519.GenerateKey(nil)
		require.NoError(t, err)
		genuine, recs, ends := rewrite(t, pkt, func(_ int, msg []byte) []byte { return ed25519.Sign(priv, msg) })
		if len(ends) < 4 {
			t.Fatalf("packet has %d signatures, want 3 checkpoints and the trailer at least", len(ends))
		}
		var hooked []string
		opt := multisite.ImportOptions{Hooks: &hooks.Hooks{
			AfterImportChange: func(_ context.Context, _ hooks.Tx, c hooks.Change) error {
				hooked = append(hooked, text(c.Key[0]))
				return nil
			},
			AfterImportPacket: func(context.Context, hooks.Tx, hooks.Packet) error {
				hooked = append(hooked, "packet")
				return nil
			},
		}}
		// The first chunk, one in the middle, the last checkpoint.
		for _, forge := range []int{1, 2, len(ends) - 1} {
			forged, _, _ := rewrite(t, pkt, func(n int, msg []byte) []byte {
				if n == forge {
					return ed25519.Sign(other, msg)
				}
				return ed25519.Sign(priv, msg)
			})
			// The rows of the chunks before the forged one verified; an
			// import may merge them, and run their hooks, in its
			// transaction before it meets the forged chunk.
			verified := map[string]bool{}
			for _, rec := range recs[:ends[forge-1]] {
				if r, ok := rec.(*syncpkt.Row); ok {
					verified[r.Values[0].Text] = true
				}
			}
			hooked = nil
			before := dumpState(t, boston.db)
			_, err = multisite.ImportPacket(ctx, boston.db, bytes.NewReader(forged), opt)
			if !errors.Is(err, syncpkt.ErrSignature) {
				t.Fatalf("chunk %d forged: error = %v, want ErrSignature", forge, err)
			}
			for _, k := range hooked {
				if !verified[k] {
					t.Fatalf("chunk %d forged: a hook ran for %q, which no verified chunk holds", forge, k)
				}
			}
			if forge == 1 && len(hooked) != 0 {
				t.Errorf("first chunk forged: %d hook calls, want none", len(hooked))
			}
			if diff := cmp.Diff(before, dumpState(t, boston.db)); diff != "" {
				t.Errorf("chunk %d forged: the database changed:\n%s", forge, diff)
			}
		}

		hooked = nil
		_, err = multisite.ImportPacket(ctx, boston.db, bytes.NewReader(genuine), opt)
		require.NoError(t, err)
		if len(hooked) != 9300+1 {
			t.Errorf("genuine packet: %d hook calls, want 9,300 rows and the packet", len(hooked))
		}
		requireConverged(t, boston, blr)
	})
}

// TestImport_PacketBringingAnUnendorsedKeyIsRefused: a packet that claims
// to come from bangalore, signed with a key of its maker's and carrying, in
// its first chunk, a registry entry that gives bangalore that key (with an
// endorsement bangalore's key did not make), is refused with
// syncpkt.ErrSignature: the receiver tries a key a packet brings only if
// the key it holds endorses it. Nothing changes; bangalore's own packets
// still apply.
func TestImport_PacketBringingAnUnendorsedKeyIsRefused(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := familyOn(t, open, 3, "boston", "bangalore")
		boston, blr := sites[0], sites[1]
		pub, priv, err := ed25519.GenerateKey(nil)
		require.NoError(t, err)
		genuine := export(t, blr, boston)
		h, err := syncpkt.NewReader(bytes.NewReader(genuine), syncpkt.ReaderOptions{}).Header()
		require.NoError(t, err)
		var entry *syncpkt.Replica
		for _, rec := range records(t, genuine) {
			if r, ok := rec.(*syncpkt.Replica); ok && r.ID == string(blr.id) {
				entry = r
			}
		}
		require.NotNil(t, entry)
		forged := *entry
		forged.PublicKey, forged.Version = pub, entry.Version+1
		forged.KeySig = ed25519.Sign(priv, []byte("not bangalore's endorsement"))
		var buf bytes.Buffer
		w, err := syncpkt.NewWriter(&buf, *h, syncpkt.WriterOptions{Sign: syncpkt.Ed25519Signer(priv)})
		require.NoError(t, err)
		require.NoError(t, w.Write(&forged))
		require.NoError(t, w.Write(projectTable()))
		require.NoError(t, w.Write(&syncpkt.Row{Version: 1, Master: string(blr.id), Origin: string(blr.id), Creator: string(blr.id), Epoch: 1,
			Values: []syncpkt.Value{syncpkt.Text("FORGED"), syncpkt.Text("by a key bangalore never had")}}))
		require.NoError(t, w.Close())

		before := dumpState(t, boston.db)
		if _, err := multisite.ImportPacket(ctx, boston.db, bytes.NewReader(buf.Bytes()), multisite.ImportOptions{}); !errors.Is(err, syncpkt.ErrSignature) {
			t.Fatalf("error = %v, want ErrSignature", err)
		}
		if diff := cmp.Diff(before, dumpState(t, boston.db)); diff != "" {
			t.Errorf("the database changed:\n%s", diff)
		}
		importInto(t, boston, genuine)
	})
}
