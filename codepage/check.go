package codepage

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Violation is one character of a string that does not fit a code page.
type Violation struct {
	// Offset is the byte offset of the character in the checked string.
	Offset int
	// Rune is the offending character, or utf8.RuneError for malformed
	// UTF-8 (see [Violation.Invalid]).
	Rune rune
	// Bytes holds the raw bytes of the character: its UTF-8 encoding, the
	// single bad byte of malformed UTF-8, or the three bytes of an encoded
	// surrogate half.
	Bytes string
}

var _ fmt.Stringer = Violation{}

// Invalid reports whether v is malformed UTF-8 (a bad byte or an encoded
// surrogate) rather than a character the code page lacks. Malformed UTF-8
// fits no code page.
func (v Violation) Invalid() bool {
	return v.Rune == utf8.RuneError && v.Bytes != string(utf8.RuneError)
}

// String describes v for people: `U+00E9 'é' at byte 3`,
// `invalid UTF-8 byte 0xff at byte 5` or
// `invalid UTF-8 surrogate U+D800 (0xed 0xa0 0x80) at byte 5`.
func (v Violation) String() string {
	switch {
	case !v.Invalid():
		return fmt.Sprintf("%U %q at byte %d", v.Rune, v.Rune, v.Offset)
	case len(v.Bytes) == 3 && isSurrogate(v.Bytes):
		b := v.Bytes
		r := rune(b[0]&0x0f)<<12 | rune(b[1]&0x3f)<<6 | rune(b[2]&0x3f)
		return fmt.Sprintf("invalid UTF-8 surrogate %U (%#02x %#02x %#02x) at byte %d", r, b[0], b[1], b[2], v.Offset)
	case len(v.Bytes) == 1:
		return fmt.Sprintf("invalid UTF-8 byte %#02x at byte %d", v.Bytes[0], v.Offset)
	default: // not produced by Check, but Violation is a plain struct
		return fmt.Sprintf("invalid UTF-8 bytes %q at byte %d", v.Bytes, v.Offset)
	}
}

// Check returns every character of s that c cannot represent, in order, or
// nil when s fits. Bytes that are not valid UTF-8 are always violations,
// one per byte, reported with Rune utf8.RuneError; a surrogate half encoded
// as three bytes (WTF-8, CESU-8) is one violation holding all three.
//
// Check allocates only for the violations it returns. The first use of a
// code page other than UTF-8 builds its 8 KiB table of the Basic
// Multilingual Plane; for multi-byte pages that takes about a millisecond.
func (c *CodePage) Check(s string) []Violation {
	if c.kind == kindUTF8 && utf8.ValidString(s) {
		return nil
	}
	set := c.table()
	var vs []Violation
	for i := 0; ; {
		off, size, r := c.next(s, i, set)
		if off < 0 {
			return vs
		}
		// Clone so that a few violations do not pin a large string.
		vs = append(vs, Violation{Offset: off, Rune: r, Bytes: strings.Clone(s[off : off+size])})
		i = off + size
	}
}

// Valid reports whether s fits c: whether [CodePage.Check] would return
// nil. It does not allocate.
func (c *CodePage) Valid(s string) bool {
	if c.kind == kindUTF8 {
		return utf8.ValidString(s)
	}
	off, _, _ := c.next(s, 0, c.table())
	return off < 0
}

// Validate returns nil if s fits c, and otherwise a [*ViolationError]
// listing every violation, which wraps [ErrUnrepresentable].
func (c *CodePage) Validate(s string) error {
	vs := c.Check(s)
	if vs == nil {
		return nil
	}
	return &ViolationError{CodePage: c.name, Violations: vs}
}

// table returns the membership bitmap, or nil for UTF-8, which needs none.
func (c *CodePage) table() *bmpSet {
	if c.kind == kindUTF8 {
		return nil
	}
	return c.bmp()
}

// next finds the first violation in s at or after byte i. It returns its
// offset, length and rune (utf8.RuneError when malformed), or an offset of
// -1 if there is none. A nil set admits every valid rune.
func (c *CodePage) next(s string, i int, set *bmpSet) (off, size int, r rune) {
	for i < len(s) {
		b0 := s[i]
		if b0 < utf8.RuneSelf {
			i += asciiPrefix(s[i:])
			continue
		}
		// Two- and three-byte sequences cover the whole BMP and nearly all
		// text. Decoding them inline rather than through package utf8 saves
		// a call per character, which is most of the cost for Cyrillic or
		// CJK text. Everything else, including malformed input and
		// surrogates, takes the general path.
		switch {
		case b0 >= 0xC2 && b0 < 0xE0 && i+1 < len(s) && s[i+1]&0xC0 == 0x80:
			r, size = rune(b0&0x1F)<<6|rune(s[i+1]&0x3F), 2
		case b0&0xF0 == 0xE0 && i+2 < len(s) && s[i+1]&0xC0 == 0x80 && s[i+2]&0xC0 == 0x80:
			r, size = rune(b0&0x0F)<<12|rune(s[i+1]&0x3F)<<6|rune(s[i+2]&0x3F), 3
			if r >= 0x800 && (r < 0xD800 || r > 0xDFFF) {
				break
			}
			fallthrough // overlong or surrogate
		default:
			r, size = utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				if isSurrogate(s[i:]) {
					size = 3
				}
				return i, size, utf8.RuneError
			}
		}
		if set != nil {
			if r < 0x10000 {
				if set[r>>6]&(1<<(uint(r)&63)) == 0 {
					return i, size, r
				}
			} else if !c.has(set, r) {
				return i, size, r
			}
		}
		i += size
	}
	return -1, 0, 0
}

// asciiPrefix returns the length of the longest prefix of s that is ASCII.
// Every supported code page contains ASCII (TestRepertoire checks this), so
// such bytes need no lookup; eight at a time is several times faster than one.
func asciiPrefix(s string) int {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := s[i : i+8]
		if (w[0]|w[1]|w[2]|w[3]|w[4]|w[5]|w[6]|w[7])&0x80 != 0 {
			break
		}
	}
	for i < len(s) && s[i] < utf8.RuneSelf {
		i++
	}
	return i
}

// isSurrogate reports whether s starts with the generalised UTF-8 encoding
// of a surrogate half, U+D800 to U+DFFF: ED A0..BF 80..BF.
func isSurrogate(s string) bool {
	return len(s) >= 3 && s[0] == 0xED && s[1] >= 0xA0 && s[1] <= 0xBF && s[2] >= 0x80 && s[2] <= 0xBF
}
