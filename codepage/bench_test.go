package codepage_test

import (
	"strings"
	"testing"
	"time"

	"github.com/multisite-go/multisite/codepage"
)

// row repeats text, separated by ASCII field-like filler, to about 600
// bytes: the size of a typical row of a few text columns.
func row(text string) string {
	var b strings.Builder
	for b.Len() < 600 {
		b.WriteString("id=4711; status=open; note=")
		b.WriteString(text)
		b.WriteString("; ")
	}
	return b.String()
}

// countHigh is the reference: the least any checker must do, one pass over
// the bytes.
func countHigh(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			n++
		}
	}
	return n
}

var sink int

// BenchmarkCheck reports Check's throughput on rows that fit, and its
// time relative to countHigh over the same bytes (x-ref; lower is better).
func BenchmarkCheck(b *testing.B) {
	benchmarks := []struct{ name, page, text string }{
		{"ascii/US-ASCII", "US-ASCII", "The quick brown fox jumps over the lazy dog"},
		{"latin/windows-1252", "windows-1252", french + " " + german},
		{"cyrillic/windows-1251", "windows-1251", russian},
		{"japanese/Shift_JIS", "Shift_JIS", japanese + " 東京都千代田区"},
		{"chinese/GBK", "GBK", simplifed},
		{"korean/EUC-KR", "EUC-KR", korean},
		{"mixed/UTF-8", "UTF-8", french + russian + japanese + korean + arabic + "👍🏽"},
		{"mixed/GB18030", "GB18030", french + russian + japanese + korean + arabic + "👍🏽"},
		{"violations/windows-1252", "windows-1252", japanese},
	}
	for _, bm := range benchmarks {
		b.Run(bm.name, func(b *testing.B) {
			c := mustLookup(b, bm.page)
			s := row(bm.text)
			c.Check(s) // build the page's table outside the timing

			start := time.Now()
			for range b.N {
				sink += countHigh(s)
			}
			ref := time.Since(start)

			b.SetBytes(int64(len(s)))
			b.ResetTimer()
			start = time.Now()
			for range b.N {
				sink += len(c.Check(s))
			}
			got := time.Since(start)
			b.ReportMetric(float64(got)/float64(max(ref, 1)), "x-ref")
		})
	}
}

// BenchmarkClean measures Transliterate on a row where most characters
// need work, the slow path.
func BenchmarkClean(b *testing.B) {
	c := mustLookup(b, "US-ASCII")
	s := row("Zażółć gęślą jaźń “Größe” – Tiếng Việt 東京")
	b.SetBytes(int64(len(s)))
	for range b.N {
		out, _ := c.Clean(s, codepage.CleanOptions{Strategy: codepage.Transliterate})
		sink += len(out)
	}
}
