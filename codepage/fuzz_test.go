package codepage_test

import (
	"bufio"
	"os"
	"testing"

	"github.com/multisite-go/multisite/codepage"
)

// FuzzCheck feeds arbitrary bytes to every code page. Any panic is a bug;
// so is any disagreement between Check, Valid, Validate and Clean.
func FuzzCheck(f *testing.F) {
	addTestdataSeeds(f)
	pages := codepage.All()
	f.Fuzz(func(t *testing.T, s string, page uint8, repl string) {
		c := pages[int(page)%len(pages)]
		vs := c.Check(s)
		if valid := c.Valid(s); valid != (len(vs) == 0) {
			t.Fatalf("%s: Valid = %v but Check found %d violations", c, valid, len(vs))
		}
		if err := c.Validate(s); (err == nil) != (len(vs) == 0) {
			t.Fatalf("%s: Validate = %v but Check found %d violations", c, err, len(vs))
		}
		end := 0
		for _, v := range vs {
			if v.Offset < end || v.Offset+len(v.Bytes) > len(s) || s[v.Offset:v.Offset+len(v.Bytes)] != v.Bytes {
				t.Fatalf("%s: violation %+v does not match the input", c, v)
			}
			end = v.Offset + len(v.Bytes)
			_ = v.String()
		}
		for _, st := range []codepage.Strategy{codepage.Replace, codepage.Transliterate, codepage.Drop} {
			out, changed := c.Clean(s, codepage.CleanOptions{Strategy: st, Replacement: repl})
			if !c.Valid(out) {
				t.Fatalf("%s: Clean(%q, %v, %q) = %q, which does not fit", c, s, st, repl, out)
			}
			if changed != (len(vs) > 0) || (!changed && out != s) {
				t.Fatalf("%s: Clean(%q, %v) = %q, changed %v, with %d violations", c, s, st, out, changed, len(vs))
			}
		}
	})
}

// addTestdataSeeds seeds the corpus with each line of the multilingual
// sample, against a few code pages each.
func addTestdataSeeds(f *testing.F) {
	file, err := os.Open("testdata/multilingual.txt")
	if err != nil {
		f.Fatal(err)
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	for i := 0; sc.Scan(); i++ {
		for _, page := range []uint8{0, 7, 23, 41} {
			f.Add(sc.Text(), page+uint8(i), "")
		}
	}
	if err := sc.Err(); err != nil {
		f.Fatal(err)
	}
	f.Add("e\u0301\u0323 ǅ ｶﾅ", uint8(3), "¿")
	f.Add("\xed\xa0\x80\xff", uint8(0), "\xff")
}
