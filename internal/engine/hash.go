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
// and master). Replicas that hold the same replicated data have the same
// hash, whatever order changes reached them in and whatever database each
// runs on: values are compared in their portable, canonical form
// (dialect.Canonical: a boolean is 0 or 1, DECIMAL 12.50 equals REAL 12.5,
// timestamps in one text form), and rows are combined in an order-free way
// (the sum of per-row digests), since vendors sort text keys by different
// collations.
func ContentHash(ctx context.Context, q dialect.Querier, d dialect.Dialect) (string, error) {
	tables, err := Tables(ctx, q)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	master := dialect.Column{Name: dialect.MasterColumn, Type: "TEXT"}
	for _, t := range tables {
		fmt.Fprintf(h, "table %q\n", t.Name)
		var sel []string
		cols := append(append([]dialect.Column{}, t.Columns...), master)
		for _, c := range t.Columns {
			sel = append(sel, d.Raw(d.Quote(c.Name)))
		}
		sel = append(sel, dialect.MasterColumn)
		rows, err := q.QueryContext(ctx, fmt.Sprintf("SELECT %s FROM %s", strings.Join(sel, ", "), d.Quote(t.Name)))
		if err != nil {
			return "", fmt.Errorf("multisite: hash %s: %w", t.Name, err)
		}
		vals := make([]any, len(sel))
		dest := make([]any, len(sel))
		for i := range vals {
			dest[i] = &vals[i]
		}
		var sum [sha256.Size]byte
		var n uint64
		var buf [9]byte
		rh := sha256.New()
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return "", err
			}
			if err := portable(d, cols, vals); err != nil {
				rows.Close()
				return "", fmt.Errorf("multisite: hash %s: %w", t.Name, err)
			}
			rh.Reset()
			for i, v := range vals {
				switch x := dialect.Canonical(cols[i].Type, v).(type) {
				case nil:
					rh.Write([]byte{0})
				case int64:
					buf[0] = 1
					binary.BigEndian.PutUint64(buf[1:], uint64(x))
					rh.Write(buf[:])
				case float64:
					buf[0] = 2
					binary.BigEndian.PutUint64(buf[1:], math.Float64bits(x))
					rh.Write(buf[:])
				case string:
					writeBytes(rh, 3, []byte(x))
				case []byte:
					writeBytes(rh, 4, x)
				default:
					writeBytes(rh, 5, []byte(fmt.Sprint(x)))
				}
			}
			addDigest(&sum, rh.Sum(nil))
			n++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return "", err
		}
		binary.BigEndian.PutUint64(buf[1:], n)
		h.Write(buf[1:])
		h.Write(sum[:])
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// addDigest adds d to sum as 256-bit big-endian numbers, modulo 2^256: a
// commutative combination, so the row order does not matter.
func addDigest(sum *[sha256.Size]byte, d []byte) {
	carry := 0
	for i := len(sum) - 1; i >= 0; i-- {
		v := int(sum[i]) + int(d[i]) + carry
		sum[i] = byte(v)
		carry = v >> 8
	}
}

func writeBytes(h interface{ Write([]byte) (int, error) }, kind byte, b []byte) {
	var hdr [9]byte
	hdr[0] = kind
	binary.BigEndian.PutUint64(hdr[1:], uint64(len(b)))
	h.Write(hdr[:])
	h.Write(b)
}
