package engine

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"strings"

	"github.com/multisite-go/multisite/internal/dialect"
)

// ContentHash returns a SHA-256 over every replicated table's rows (values
// and master) in key order. Replicas that hold the same replicated data
// have the same hash, whatever order changes reached them in.
func ContentHash(ctx context.Context, q dialect.Querier, d dialect.Dialect) (string, error) {
	tables, err := Tables(ctx, q)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	var buf [9]byte
	for _, t := range tables {
		fmt.Fprintf(h, "table %q\n", t.Name)
		var sel, order []string
		for _, c := range t.Columns {
			sel = append(sel, d.Raw(d.Quote(c.Name)))
		}
		sel = append(sel, dialect.MasterColumn)
		for _, k := range t.Keys() {
			order = append(order, d.Quote(k.Name))
		}
		rows, err := q.QueryContext(ctx, fmt.Sprintf("SELECT %s FROM %s ORDER BY %s", strings.Join(sel, ", "), d.Quote(t.Name), strings.Join(order, ", ")))
		if err != nil {
			return "", fmt.Errorf("multisite: hash %s: %w", t.Name, err)
		}
		vals := make([]any, len(sel))
		dest := make([]any, len(sel))
		for i := range vals {
			dest[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return "", err
			}
			for _, v := range vals {
				switch x := v.(type) {
				case nil:
					h.Write([]byte{0})
				case int64:
					buf[0] = 1
					binary.BigEndian.PutUint64(buf[1:], uint64(x))
					h.Write(buf[:])
				case float64:
					buf[0] = 2
					binary.BigEndian.PutUint64(buf[1:], math.Float64bits(x))
					h.Write(buf[:])
				case string:
					writeBytes(h, 3, []byte(x))
				case []byte:
					writeBytes(h, 4, x)
				default:
					writeBytes(h, 5, []byte(fmt.Sprint(x)))
				}
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func writeBytes(h interface{ Write([]byte) (int, error) }, kind byte, b []byte) {
	var hdr [9]byte
	hdr[0] = kind
	binary.BigEndian.PutUint64(hdr[1:], uint64(len(b)))
	h.Write(hdr[:])
	h.Write(b)
}
