package codepage

import (
	"unicode"
	"unicode/utf8"
)

// Universal reports whether c admits every Unicode scalar value, as UTF-8
// and GB18030 do. Strings then only need to be valid UTF-8; there is no
// character to refuse.
func (c *CodePage) Universal() bool {
	if c.kind == kindUTF8 {
		return true
	}
	rt := c.RangeTable()
	return len(rt.R16) == 2 && rt.R16[0] == unicode.Range16{Lo: 0, Hi: 0xD7FF, Stride: 1} &&
		rt.R16[1] == unicode.Range16{Lo: 0xE000, Hi: 0xFFFF, Stride: 1} &&
		len(rt.R32) == 1 && rt.R32[0] == unicode.Range32{Lo: 0x10000, Hi: utf8.MaxRune, Stride: 1}
}

// RangeTable returns the repertoire of c: exactly the runes
// [CodePage.Contains] reports, as ranges of stride 1 in ascending order,
// with the runes of the Basic Multilingual Plane in R16 and the rest in
// R32. It is what a database needs to enforce c by itself, for example as
// a character class of a regular expression.
//
// The table is computed on first use (for Big5, whose supplementary runes
// are probed one by one, that takes some tens of milliseconds) and shared
// afterwards: callers must not change it.
func (c *CodePage) RangeTable() *unicode.RangeTable {
	c.rangesOnce.Do(func() { c.ranges = c.rangeTable() })
	return c.ranges
}

func (c *CodePage) rangeTable() *unicode.RangeTable {
	rt := &unicode.RangeTable{}
	in := func(r rune) bool {
		if c.kind == kindUTF8 {
			return utf8.ValidRune(r)
		}
		return c.Contains(r)
	}
	var lo rune = -1
	flush := func(hi rune) {
		if lo < 0 {
			return
		}
		switch {
		case hi < 0x10000:
			rt.R16 = append(rt.R16, unicode.Range16{Lo: uint16(lo), Hi: uint16(hi), Stride: 1})
		case lo >= 0x10000:
			rt.R32 = append(rt.R32, unicode.Range32{Lo: uint32(lo), Hi: uint32(hi), Stride: 1})
		default: // never: the scan splits at 0x10000
			panic("codepage: range spans the BMP boundary")
		}
		lo = -1
	}
	// Scan the planes separately so that no range straddles 0x10000.
	for _, plane := range [][2]rune{{0, 0xFFFF}, {0x10000, utf8.MaxRune}} {
		if plane[0] == 0x10000 && c.kind != kindUTF8 && c.supp == suppNone {
			break
		}
		for r := plane[0]; r <= plane[1]; r++ {
			if in(r) {
				if lo < 0 {
					lo = r
				}
				continue
			}
			flush(r - 1)
		}
		flush(plane[1])
	}
	for _, r := range rt.R16 {
		if r.Hi <= unicode.MaxLatin1 {
			rt.LatinOffset++
		}
	}
	return rt
}
