package codepage

import (
	"fmt"
	"slices"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
)

// kind says how a code page decides membership.
type kind uint8

const (
	// kindUTF8 is the zero kind, so that a zero CodePage admits every
	// scalar value rather than nothing.
	kindUTF8      kind = iota
	kindASCII          // bytes 0x00-0x7F
	kindCharmap        // a single-byte x/text charmap
	kindMultibyte      // any other x/text encoding, probed through its encoder
)

// supp says how a code page treats runes outside the Basic Multilingual
// Plane, which the per-page bitmap does not cover.
type supp uint8

const (
	suppNone  supp = iota // no supplementary rune fits
	suppAll               // every supplementary rune fits
	suppProbe             // ask the encoder, one rune at a time
)

// bmpSet has bit r set when a code page contains the rune r < 0x10000.
// At 8 KiB per page it is small enough to fill completely on first use,
// which keeps the hot path to one load and no atomics.
type bmpSet [0x10000 / 64]uint64

func (s *bmpSet) add(r rune)      { s[r>>6] |= 1 << (uint(r) & 63) }
func (s *bmpSet) has(r rune) bool { return s[r>>6]&(1<<(uint(r)&63)) != 0 }
func (s *bmpSet) addRange(lo, hi rune) {
	for r := lo; r <= hi; r++ {
		s.add(r)
	}
}

// CodePage is a named character set: the set of characters a data code page
// admits. Values are obtained from [Lookup], [LookupNumber], [All] or [UTF8];
// they are immutable and safe for concurrent use by multiple goroutines.
//
// A CodePage only classifies characters of UTF-8 strings; it never converts
// them. The zero CodePage has no name and behaves like [UTF8].
type CodePage struct {
	name    string
	numbers []int // numbers[0] is the primary number; may be empty
	aliases []string
	kind    kind
	supp    supp
	enc     encoding.Encoding
	extra   []encoding.Encoding // x/text variants with the same repertoire

	once sync.Once
	set  *bmpSet // written once under once, read-only afterwards

	rangesOnce sync.Once
	ranges     *unicode.RangeTable // written once under rangesOnce; see RangeTable

	// probe guards an encoder used for supplementary runes of pages with
	// suppProbe. The buffers live here so that probing does not allocate.
	probe struct {
		sync.Mutex
		enc *encoding.Encoder
		src [utf8.UTFMax]byte
		dst [32]byte
	}
}

var _ fmt.Stringer = (*CodePage)(nil)

// Name returns the canonical name of c, such as "UTF-8", "windows-1252",
// "Shift_JIS" or "US-ASCII". It is the IANA preferred MIME name where one
// exists, and it is what [Lookup] returns c for.
func (c *CodePage) Name() string { return c.name }

// String returns [CodePage.Name].
func (c *CodePage) String() string { return c.name }

// Number returns the Windows code page number of c as ClearQuest uses it,
// such as 65001, 1252, 932 or 20127, or 0 if c has none.
func (c *CodePage) Number() int {
	if len(c.numbers) == 0 {
		return 0
	}
	return c.numbers[0]
}

// Numbers returns every number [LookupNumber] resolves to c, the primary
// [CodePage.Number] first. For example EUC-JP answers to both 51932 and
// 20932. The slice is a copy and may be changed by the caller.
func (c *CodePage) Numbers() []int { return slices.Clone(c.numbers) }

// Aliases returns the other names [Lookup] accepts for c, not counting
// [CodePage.Name] and spelling variants that differ only in case, '-', '_'
// or spaces. Lookup also accepts every IANA alias x/text knows, and "cpNNN"
// or a plain number for each of [CodePage.Numbers]. The slice is a copy and
// may be changed by the caller.
func (c *CodePage) Aliases() []string { return slices.Clone(c.aliases) }

// Encoding returns the golang.org/x/text encoding whose repertoire defines c,
// for callers that also need to convert text to the legacy encoding.
func (c *CodePage) Encoding() encoding.Encoding { return c.enc }

// Contains reports whether r can be represented in c. Surrogate halves,
// negative values and values above [utf8.MaxRune] are never contained, as
// they are not characters.
func (c *CodePage) Contains(r rune) bool {
	if !utf8.ValidRune(r) {
		return false
	}
	if c.kind == kindUTF8 {
		return true
	}
	return c.has(c.bmp(), r)
}

// has reports whether the valid rune r is in c, given c's filled bitmap.
func (c *CodePage) has(set *bmpSet, r rune) bool {
	if r < 0x10000 {
		return set.has(r)
	}
	switch c.supp {
	case suppNone:
		return false
	case suppAll:
		return true
	}
	return c.probeRune(r)
}

// bmp returns c's bitmap, filling it on first use. UTF-8 pages never call it.
func (c *CodePage) bmp() *bmpSet {
	c.once.Do(c.fill)
	return c.set
}

func (c *CodePage) fill() {
	set := new(bmpSet)
	switch c.kind {
	case kindASCII:
		set.addRange(0, utf8.RuneSelf-1)
	case kindCharmap:
		// A charmap decodes each byte to one rune and encodes exactly the
		// runes it decodes to, so its 256 entries are its whole repertoire.
		// TestRepertoire checks this against EncodeRune for every rune.
		cm := c.enc.(*charmap.Charmap)
		for b := 0; b < 256; b++ {
			r := cm.DecodeByte(byte(b))
			if _, ok := cm.EncodeRune(r); ok && r < 0x10000 {
				set.add(r)
			}
		}
	case kindMultibyte:
		// About 1 ms for the whole plane, once per page and process.
		e := c.enc.NewEncoder()
		var src [utf8.UTFMax]byte
		var dst [32]byte
		for r := rune(0); r < 0x10000; r++ {
			if r >= 0xD800 && r <= 0xDFFF {
				continue
			}
			if encodes(e, src[:], dst[:], r) {
				set.add(r)
			}
		}
	}
	c.set = set
}

// probeRune asks the encoder about one supplementary rune. It holds a lock,
// but only Big5 needs it and only for runes outside the BMP.
func (c *CodePage) probeRune(r rune) bool {
	p := &c.probe
	p.Lock()
	defer p.Unlock()
	if p.enc == nil {
		p.enc = c.enc.NewEncoder()
	}
	return encodes(p.enc, p.src[:], p.dst[:], r)
}

// encodes reports whether e encodes the valid rune r without error.
// src must hold utf8.UTFMax bytes; dst must hold any single encoded rune
// including escape sequences of stateful encodings.
func encodes(e *encoding.Encoder, src, dst []byte, r rune) bool {
	n := utf8.EncodeRune(src, r)
	e.Reset()
	nDst, nSrc, err := e.Transform(dst, src[:n], true)
	return err == nil && nSrc == n && nDst > 0
}
