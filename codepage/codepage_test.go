package codepage

import (
	"os"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/text/encoding/charmap"
)

// oracle asks x/text directly whether c's encoding can represent r, through
// its public API rather than the bitmap.
func oracle(t *testing.T, c *CodePage) func(r rune) bool {
	t.Helper()
	switch c.kind {
	case kindUTF8:
		return utf8.ValidRune
	case kindASCII:
		return func(r rune) bool { return r >= 0 && r < utf8.RuneSelf }
	case kindCharmap:
		cm := c.enc.(*charmap.Charmap)
		return func(r rune) bool { _, ok := cm.EncodeRune(r); return ok }
	}
	e := c.enc.NewEncoder() // String resets it before each use
	return func(r rune) bool {
		_, err := e.String(string(r))
		return err == nil
	}
}

// TestRepertoire compares Contains with x/text for every rune of the Basic
// Multilingual Plane and, outside -short, every supplementary rune too.
func TestRepertoire(t *testing.T) {
	step := rune(1)
	if testing.Short() {
		step = 61
	}
	for _, c := range pages.all {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			want := oracle(t, c)
			for r := rune(0); r < utf8.RuneSelf; r++ {
				if !c.Contains(r) {
					t.Errorf("Contains(%U) = false; every code page must contain ASCII", r)
				}
			}
			for _, r := range []rune{-1, 0xD800, 0xDBFF, 0xDC00, 0xDFFF, utf8.MaxRune + 1} {
				if c.Contains(r) {
					t.Errorf("Contains(%U) = true for a non-character", r)
				}
			}
			bad := 0
			check := func(r rune) {
				if got, w := c.Contains(r), want(r); got != w && bad < 10 {
					t.Errorf("Contains(%U %q) = %v, x/text says %v", r, r, got, w)
					bad++
				}
			}
			for r := rune(0); r < 0x10000; r++ {
				if r < 0xD800 || r > 0xDFFF {
					check(r)
				}
			}
			s := step
			if c.kind != kindMultibyte {
				s = 61 // charmaps have no supplementary runes; sample them
			}
			for r := rune(0x10000); r <= utf8.MaxRune; r += s {
				check(r)
			}
			check(utf8.MaxRune)
		})
	}
}

// TestConcurrentFirstUse races many goroutines on pages nobody has used
// yet, so that -race sees the bitmap being built and the probe lock.
func TestConcurrentFirstUse(t *testing.T) {
	data, err := os.ReadFile("testdata/multilingual.txt")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	fresh := newIndex(defs())
	for i, c := range fresh.all {
		shared := pages.all[i]
		want := shared.Check(text)
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					if diff := cmp.Diff(want, c.Check(text)); diff != "" {
						t.Errorf("concurrent Check mismatch (-want +got):\n%s", diff)
					}
					c.Valid(text)
					c.Contains('😀')
					c.Contains('𠀡')
				})
			}
			wg.Wait()
		})
	}
}

func TestNewIndex_rejectsDuplicates(t *testing.T) {
	for name, ds := range map[string][]def{
		"key":    {{name: "A", enc: charmap.ISO8859_1}, {name: "a", enc: charmap.ISO8859_2}},
		"number": {{name: "A", numbers: []int{1}, enc: charmap.ISO8859_1}, {name: "B", numbers: []int{1}, enc: charmap.ISO8859_2}},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("newIndex accepted a duplicate %s", name)
				}
			}()
			newIndex(ds)
		})
	}
}

func TestZeroCodePage(t *testing.T) {
	var c CodePage
	if c.Name() != "" || c.Number() != 0 || c.Aliases() != nil {
		t.Errorf("zero CodePage = %q %d %q", c.Name(), c.Number(), c.Aliases())
	}
	if !c.Valid("日本") || c.Valid("\xff") || !c.Contains('😀') {
		t.Errorf("zero CodePage does not behave like UTF-8")
	}
	if got, changed := c.Clean("a\xffb", CleanOptions{}); got != "a?b" || !changed {
		t.Errorf("zero CodePage Clean = %q, %v", got, changed)
	}
}

func TestKey(t *testing.T) {
	for in, want := range map[string]string{
		"Windows-1252":    "windows1252",
		" ISO_8859-1 ":    "iso88591",
		"Shift JIS":       "shiftjis",
		"ANSI_X3.4-1968":  "ansix3.41968",
		"ISO_8859-1:1987": "iso88591:1987",
		"":                "",
		"Ü-8":             "Ü8",
	} {
		if got := key(in); got != want {
			t.Errorf("key(%q) = %q, want %q", in, got, want)
		}
	}
	if got := distance("windows1525", "windows1255"); got != 1 {
		t.Errorf("distance with a transposition = %d, want 1", got)
	}
	if got := distance(strings.Repeat("a", 100), "a"); got != 100 {
		t.Errorf("distance of a long name = %d, want 100", got)
	}
}
