package codepage_test

import (
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/multisite-go/multisite/codepage"
)

// TestRangeTable checks that the range table of every code page holds
// exactly the runes Contains reports, in ascending, disjoint, non-adjacent
// ranges (so that a character class built from it is as short as it can be).
func TestRangeTable(t *testing.T) {
	for _, c := range codepage.All() {
		t.Run(c.Name(), func(t *testing.T) {
			t.Parallel()
			rt := c.RangeTable()
			if rt != c.RangeTable() {
				t.Errorf("RangeTable is computed again on the second call")
			}
			bad := 0
			check := func(r rune) {
				if got, want := unicode.Is(rt, r), c.Contains(r); got != want && bad < 10 {
					t.Errorf("range table has %U = %v, Contains says %v", r, got, want)
					bad++
				}
			}
			for r := rune(0); r < 0x10000; r++ {
				check(r)
			}
			step := rune(1)
			if testing.Short() {
				step = 61
			}
			for r := rune(0x10000); r <= utf8.MaxRune; r += step {
				check(r)
			}
			var prev rune = -2
			for _, r := range rt.R16 {
				if rune(r.Lo) <= prev+1 || r.Hi < r.Lo || r.Stride != 1 {
					t.Errorf("R16 range %+v after %U is not ascending, disjoint and apart", r, prev)
				}
				prev = rune(r.Hi)
			}
			for _, r := range rt.R32 {
				if rune(r.Lo) <= prev+1 && prev >= 0x10000 || r.Lo < 0x10000 || r.Hi < r.Lo || r.Stride != 1 {
					t.Errorf("R32 range %+v after %U is not ascending, disjoint and apart", r, prev)
				}
				prev = rune(r.Hi)
			}
		})
	}
}

func TestUniversal(t *testing.T) {
	for _, c := range codepage.All() {
		want := c.Name() == "UTF-8" || c.Name() == "GB18030"
		if got := c.Universal(); got != want {
			t.Errorf("%s: Universal() = %v, want %v", c.Name(), got, want)
		}
	}
	var zero codepage.CodePage
	if !zero.Universal() {
		t.Errorf("the zero CodePage behaves like UTF-8, so it is universal")
	}
}
