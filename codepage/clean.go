package codepage

import (
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Strategy says what [CodePage.Clean] does with a character that does not
// fit. The zero value is [Replace].
type Strategy int

const (
	// Replace puts [CleanOptions.Replacement] in place of each character
	// that does not fit.
	Replace Strategy = iota
	// Transliterate puts the nearest fitting spelling in place of each
	// character that does not fit, and the replacement where there is none.
	// It uses Unicode compatibility normalisation ("ﬁ" to "fi", "Ａ" to
	// "A"), drops accents the code page lacks while keeping those it has
	// ("ệ" to "ê" in windows-1252, "e" in US-ASCII), composes a base with a
	// following combining mark where the result fits, drops marks that
	// cannot be kept (Hebrew points outside ISO-8859-8), and spells a few
	// letters and symbols out in ASCII ("ß" to "ss", "“" to `"`, "€" to
	// "EUR"). Scripts are not romanised: Cyrillic in US-ASCII is replaced.
	Transliterate
	// Drop removes each character that does not fit.
	Drop
)

var _ fmt.Stringer = Replace

// String returns the name of the strategy, such as "Replace".
func (s Strategy) String() string {
	switch s {
	case Replace:
		return "Replace"
	case Transliterate:
		return "Transliterate"
	case Drop:
		return "Drop"
	}
	return "Strategy(" + strconv.Itoa(int(s)) + ")"
}

// CleanOptions controls [CodePage.Clean]. The zero value replaces each
// character that does not fit with "?".
type CleanOptions struct {
	// Strategy is what to do with a character that does not fit. Values
	// other than the defined constants behave like Replace.
	Strategy Strategy
	// Replacement stands in for a character Replace or Transliterate
	// cannot keep. "" means "?"; so does a replacement that does not itself
	// fit the code page, so that the result always fits.
	Replacement string
}

// Clean returns s transformed so that it fits c, and whether anything
// changed. Malformed UTF-8 is handled like a character that does not fit:
// each bad byte (or encoded surrogate) is replaced or dropped, never
// transliterated. When s already fits, Clean returns s itself without
// allocating. The result always satisfies [CodePage.Valid].
func (c *CodePage) Clean(s string, opt CleanOptions) (string, bool) {
	set := c.table()
	off, size, r := c.next(s, 0, set)
	if off < 0 {
		return s, false
	}
	repl := opt.Replacement
	if repl == "" || !c.Valid(repl) {
		repl = "?"
	}
	out := make([]byte, 0, len(s)+len(repl))
	i := 0
	for off >= 0 {
		out = append(out, s[i:off]...)
		switch {
		case opt.Strategy == Drop:
		case opt.Strategy == Transliterate && !(Violation{Rune: r, Bytes: s[off : off+size]}).Invalid():
			out = c.transliterate(out, r, repl, set)
		default:
			out = append(out, repl...)
		}
		i = off + size
		off, size, r = c.next(s, i, set)
	}
	out = append(out, s[i:]...)
	return string(out), true
}

// transliterate appends to out the nearest fitting spelling of r, which
// does not fit c, or repl.
func (c *CodePage) transliterate(out []byte, r rune, repl string, set *bmpSet) []byte {
	if isMark(r) {
		// "e\u0301" where é fits becomes "é"; otherwise the mark goes and
		// the base it sat on carries the meaning.
		prev, n := utf8.DecodeLastRune(out)
		if n > 0 && prev != utf8.RuneError && !isMark(prev) {
			if k, ok := c.compose(prev, r, set); ok {
				return append(out[:len(out)-n], k...)
			}
		}
		return out
	}
	if t, ok := c.fold(r, set); ok {
		return append(out, t...)
	}
	return append(out, repl...)
}

// fold returns a spelling of r from characters that fit c, if there is one.
func (c *CodePage) fold(r rune, set *bmpSet) (string, bool) {
	src := string(r)
	// Compatibility composition changes the least: "ﬁ", "Ａ", "™", "…".
	if k := norm.NFKC.String(src); k != src && c.fits(k, set) {
		return k, true
	}
	if t, ok := asciiFold(r); ok {
		return t, true // ASCII fits every code page
	}
	d := norm.NFKD.String(src)
	if d == src {
		return "", false
	}
	// Rebuild r from its decomposition: each base that fits or folds, then
	// each accent composed into the base where the result fits ("ệ" to "ê"
	// in windows-1252), kept as a combining mark where the mark itself fits
	// (windows-1258 has some), and dropped otherwise.
	var (
		out   []byte
		base  string // of the current cluster, already fitting
		marks []rune // combining marks kept after base
	)
	flush := func() {
		out = append(out, base...)
		for _, m := range marks {
			out = utf8.AppendRune(out, m)
		}
		base, marks = "", marks[:0]
	}
	for _, x := range d {
		if !isMark(x) {
			flush()
			if c.in(set, x) {
				base = string(x)
			} else if t, ok := asciiFold(x); ok {
				base = t
			} else {
				return "", false
			}
			continue
		}
		if prev, n := utf8.DecodeLastRuneInString(base); n > 0 && !blocked(marks, x) {
			if k, ok := c.compose(prev, x, set); ok {
				base = base[:len(base)-n] + k
				continue
			}
		}
		if c.in(set, x) {
			marks = append(marks, x)
		}
	}
	flush()
	return string(out), true
}

// compose returns the canonical composition of base and the combining mark
// m if it is a single character that fits c.
func (c *CodePage) compose(base, m rune, set *bmpSet) (string, bool) {
	k := norm.NFC.String(string(base) + string(m))
	r, size := utf8.DecodeRuneInString(k)
	if size != len(k) || !c.in(set, r) {
		return "", false
	}
	return k, true
}

// blocked reports whether a kept mark stands between the base and m in the
// Unicode sense: it has the same combining class, so composing m into the
// base would change which accent sits closest to it.
func blocked(kept []rune, m rune) bool {
	cc := norm.NFD.PropertiesString(string(m)).CCC()
	for _, k := range kept {
		if norm.NFD.PropertiesString(string(k)).CCC() == cc {
			return true
		}
	}
	return false
}

// in reports whether the valid rune r fits c; a nil set admits everything.
func (c *CodePage) in(set *bmpSet, r rune) bool {
	return set == nil || c.has(set, r)
}

// fits reports whether the valid UTF-8 string s fits c.
func (c *CodePage) fits(s string, set *bmpSet) bool {
	off, _, _ := c.next(s, 0, set)
	return off < 0
}

func isMark(r rune) bool { return unicode.Is(unicode.M, r) }

// asciiFold spells out in ASCII the letters and symbols that Unicode
// normalisation leaves alone. An empty result means the character is
// invisible formatting and can go.
func asciiFold(r rune) (string, bool) {
	switch r {
	case 'ß':
		return "ss", true
	case 'ẞ':
		return "SS", true
	case 'Æ':
		return "AE", true
	case 'æ':
		return "ae", true
	case 'Œ':
		return "OE", true
	case 'œ':
		return "oe", true
	case 'Ø':
		return "O", true
	case 'ø':
		return "o", true
	case 'Đ', 'Ð':
		return "D", true
	case 'đ', 'ð':
		return "d", true
	case 'Ħ':
		return "H", true
	case 'ħ':
		return "h", true
	case 'ı':
		return "i", true
	case 'Ł':
		return "L", true
	case 'ł':
		return "l", true
	case 'Þ':
		return "TH", true
	case 'þ':
		return "th", true
	case 'Ŧ':
		return "T", true
	case 'ŧ':
		return "t", true
	case 'Ŋ':
		return "N", true
	case 'ŋ':
		return "n", true
	case 'ƒ':
		return "f", true
	case '‘', '’', '‚', '‛', '′', 'ʹ', 'ʼ':
		return "'", true
	case '“', '”', '„', '‟', '″', 'ʺ':
		return `"`, true
	case '«':
		return "<<", true
	case '»':
		return ">>", true
	case '‹':
		return "<", true
	case '›':
		return ">", true
	case '‐', '‑', '‒', '–', '—', '―', '−', '⁃':
		return "-", true
	case '•', '∙':
		return "*", true
	case '·':
		return ".", true
	case '⁄', '∕', '÷':
		return "/", true
	case '×':
		return "x", true
	case '©':
		return "(C)", true
	case '®':
		return "(R)", true
	case '€':
		return "EUR", true
	case '¢':
		return "c", true
	case '¡':
		return "!", true
	case '¿':
		return "?", true
	case '±':
		return "+/-", true
	case '≤':
		return "<=", true
	case '≥':
		return ">=", true
	case '≠':
		return "!=", true
	case '→':
		return "->", true
	case '←':
		return "<-", true
	case '⇒':
		return "=>", true
	case '\u2028', '\u2029':
		return "\n", true
	case '\u00AD', '\u200B', '\u200C', '\u200D', '\u2060', '\uFEFF':
		return "", true
	}
	return "", false
}
