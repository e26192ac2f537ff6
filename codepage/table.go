package codepage

import (
	"fmt"
	"slices"
	"strings"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/encoding/unicode"
)

// def describes one supported code page.
type def struct {
	name    string
	numbers []int
	aliases []string
	enc     encoding.Encoding
	supp    supp
	extra   []encoding.Encoding
}

// defs lists every supported code page. Numbers are Windows code page
// identifiers; aliases are the spellings people and other systems use that
// x/text's IANA index does not already cover.
func defs() []def {
	cm := func(name string, n int, c *charmap.Charmap, aliases ...string) def {
		return def{name: name, numbers: []int{n}, aliases: aliases, enc: c}
	}
	return []def{
		{name: "UTF-8", numbers: []int{65001}, aliases: []string{"cp65001", "unicode-1-1-utf-8"}, enc: unicode.UTF8, supp: suppAll},
		{name: "US-ASCII", numbers: []int{20127}, aliases: []string{"ascii", "us", "ANSI_X3.4-1968", "ISO646-US", "cp367", "IBM367", "csASCII", "iso-ir-6"}, enc: asciiEncoding()},

		cm("windows-874", 874, charmap.Windows874, "cp874", "ms874", "x-windows-874"),
		cm("windows-1250", 1250, charmap.Windows1250, "cp1250", "x-cp1250"),
		cm("windows-1251", 1251, charmap.Windows1251, "cp1251", "x-cp1251"),
		cm("windows-1252", 1252, charmap.Windows1252, "cp1252", "x-cp1252"),
		cm("windows-1253", 1253, charmap.Windows1253, "cp1253", "x-cp1253"),
		cm("windows-1254", 1254, charmap.Windows1254, "cp1254", "x-cp1254"),
		cm("windows-1255", 1255, charmap.Windows1255, "cp1255", "x-cp1255"),
		cm("windows-1256", 1256, charmap.Windows1256, "cp1256", "x-cp1256"),
		cm("windows-1257", 1257, charmap.Windows1257, "cp1257", "x-cp1257"),
		cm("windows-1258", 1258, charmap.Windows1258, "cp1258", "x-cp1258"),

		cm("IBM037", 37, charmap.CodePage037, "cp037", "ebcdic-cp-us", "ebcdic-cp-ca", "ebcdic-cp-nl", "ebcdic-cp-wt"),
		cm("IBM437", 437, charmap.CodePage437, "cp437", "csPC8CodePage437"),
		cm("IBM850", 850, charmap.CodePage850, "cp850", "csPC850Multilingual"),
		cm("IBM852", 852, charmap.CodePage852, "cp852", "csPCp852"),
		cm("IBM855", 855, charmap.CodePage855, "cp855", "csIBM855"),
		cm("IBM00858", 858, charmap.CodePage858, "IBM858", "cp858", "CCSID00858", "PC-Multilingual-850+euro"),
		cm("IBM860", 860, charmap.CodePage860, "cp860", "csIBM860"),
		cm("IBM862", 862, charmap.CodePage862, "cp862", "csPC862LatinHebrew"),
		cm("IBM863", 863, charmap.CodePage863, "cp863", "csIBM863"),
		cm("IBM865", 865, charmap.CodePage865, "cp865", "csIBM865"),
		cm("IBM866", 866, charmap.CodePage866, "cp866", "csIBM866"),
		cm("IBM1047", 1047, charmap.CodePage1047, "cp1047"),
		cm("IBM01140", 1140, charmap.CodePage1140, "IBM1140", "cp1140", "ebcdic-us-37+euro"),

		cm("KOI8-R", 20866, charmap.KOI8R, "koi8", "csKOI8R"),
		cm("KOI8-U", 21866, charmap.KOI8U, "koi8-ru"),
		cm("macintosh", 10000, charmap.Macintosh, "mac", "macroman", "x-mac-roman", "csMacintosh"),
		cm("x-mac-cyrillic", 10007, charmap.MacintoshCyrillic, "maccyrillic"),

		cm("ISO-8859-1", 28591, charmap.ISO8859_1, "latin1", "l1", "iso-ir-100", "IBM819", "cp819", "csISOLatin1"),
		cm("ISO-8859-2", 28592, charmap.ISO8859_2, "latin2", "l2", "iso-ir-101", "csISOLatin2"),
		cm("ISO-8859-3", 28593, charmap.ISO8859_3, "latin3", "l3", "iso-ir-109", "csISOLatin3"),
		cm("ISO-8859-4", 28594, charmap.ISO8859_4, "latin4", "l4", "iso-ir-110", "csISOLatin4"),
		cm("ISO-8859-5", 28595, charmap.ISO8859_5, "cyrillic", "iso-ir-144", "csISOLatinCyrillic"),
		{
			name: "ISO-8859-6", numbers: []int{28596, 708}, enc: charmap.ISO8859_6,
			aliases: []string{"arabic", "iso-ir-127", "ECMA-114", "ASMO-708", "csISOLatinArabic", "ISO-8859-6-E", "ISO-8859-6-I"},
			extra:   []encoding.Encoding{charmap.ISO8859_6E, charmap.ISO8859_6I},
		},
		cm("ISO-8859-7", 28597, charmap.ISO8859_7, "greek", "greek8", "ELOT_928", "ECMA-118", "iso-ir-126", "csISOLatinGreek"),
		{
			name: "ISO-8859-8", numbers: []int{28598, 38598}, enc: charmap.ISO8859_8,
			aliases: []string{"hebrew", "iso-ir-138", "csISOLatinHebrew", "ISO-8859-8-E", "ISO-8859-8-I"},
			extra:   []encoding.Encoding{charmap.ISO8859_8E, charmap.ISO8859_8I},
		},
		cm("ISO-8859-9", 28599, charmap.ISO8859_9, "latin5", "l5", "iso-ir-148", "csISOLatin5"),
		cm("ISO-8859-10", 28600, charmap.ISO8859_10, "latin6", "l6", "iso-ir-157", "csISOLatin6"),
		cm("ISO-8859-13", 28603, charmap.ISO8859_13, "latin7", "csISO885913"),
		cm("ISO-8859-14", 28604, charmap.ISO8859_14, "latin8", "l8", "iso-celtic", "iso-ir-199"),
		cm("ISO-8859-15", 28605, charmap.ISO8859_15, "latin9", "l9", "csISO885915"),
		cm("ISO-8859-16", 28606, charmap.ISO8859_16, "latin10", "l10", "iso-ir-226"),

		{name: "Shift_JIS", numbers: []int{932}, aliases: []string{"sjis", "MS_Kanji", "csShiftJIS", "windows-31j", "cp932", "ms932", "x-sjis"}, enc: japanese.ShiftJIS},
		{name: "EUC-JP", numbers: []int{51932, 20932}, aliases: []string{"x-euc-jp", "Extended_UNIX_Code_Packed_Format_for_Japanese", "csEUCPkdFmtJapanese"}, enc: japanese.EUCJP},
		{name: "ISO-2022-JP", numbers: []int{50220}, aliases: []string{"csISO2022JP"}, enc: japanese.ISO2022JP},
		{name: "EUC-KR", numbers: []int{949}, aliases: []string{"cp949", "windows-949", "uhc", "ks_c_5601-1987", "ks_c_5601-1989", "ksc5601", "korean", "csEUCKR", "csKSC56011987", "iso-ir-149"}, enc: korean.EUCKR},
		{name: "GBK", numbers: []int{936}, aliases: []string{"cp936", "ms936", "windows-936", "csGBK"}, enc: simplifiedchinese.GBK},
		{name: "GB18030", numbers: []int{54936}, aliases: []string{"csGB18030"}, enc: simplifiedchinese.GB18030, supp: suppAll},
		{name: "HZ-GB-2312", numbers: []int{52936}, aliases: []string{"hz"}, enc: simplifiedchinese.HZGB2312},
		{name: "Big5", numbers: []int{950}, aliases: []string{"cp950", "ms950", "windows-950", "csBig5", "x-x-big5", "Big5-HKSCS"}, enc: traditionalchinese.Big5, supp: suppProbe},
	}
}

// hintDefs maps folded names that are not supported to a close, supported
// superset; they only ever appear as suggestions in an [UnknownError].
func hintDefs() map[string]string {
	return map[string]string{
		"gb2312":    "GBK",
		"euccn":     "GBK",
		"cp20936":   "GBK",
		"tis620":    "windows-874",
		"iso885911": "windows-874",
		"cp28601":   "windows-874",
		"utf16":     "UTF-8",
		"utf16le":   "UTF-8",
		"utf16be":   "UTF-8",
		"ucs2":      "UTF-8",
		"unicode":   "UTF-8",
		"eucjpms":   "EUC-JP",
		"cp51949":   "EUC-KR",
		"iso2022kr": "EUC-KR",
		"iso2022cn": "GBK",
	}
}

// index holds the supported code pages and the keys that find them. It is
// built once at package initialisation and never changed afterwards.
type index struct {
	all      []*CodePage // sorted by name, ignoring case
	byKey    map[string]*CodePage
	byNumber map[int]*CodePage
	hints    map[string]*CodePage
}

var pages = newIndex(defs())

// UTF8 is the UTF-8 code page, which admits every Unicode scalar value.
// It is a convenience for the common case; do not reassign it.
var UTF8 = pages.byNumber[65001]

// newIndex builds the index. It panics on a duplicate key: that is a bug in
// defs, caught by every test run, never a property of input.
func newIndex(ds []def) *index {
	x := &index{
		byKey:    make(map[string]*CodePage),
		byNumber: make(map[int]*CodePage),
		hints:    make(map[string]*CodePage),
	}
	for _, d := range ds {
		c := &CodePage{
			name:    d.name,
			numbers: d.numbers,
			aliases: d.aliases,
			enc:     d.enc,
			extra:   d.extra,
			supp:    d.supp,
		}
		switch e := d.enc.(type) {
		case *charmap.Charmap:
			c.kind = kindCharmap
		default:
			switch {
			case e == unicode.UTF8:
				c.kind = kindUTF8
			case d.name == "US-ASCII":
				c.kind = kindASCII
			default:
				c.kind = kindMultibyte
			}
		}
		x.all = append(x.all, c)
		for _, name := range append([]string{d.name}, d.aliases...) {
			k := key(name)
			if old, ok := x.byKey[k]; ok && old != c {
				panic(fmt.Sprintf("codepage: key %q for both %s and %s", k, old.name, c.name))
			}
			x.byKey[k] = c
		}
		for _, n := range d.numbers {
			if old, ok := x.byNumber[n]; ok {
				panic(fmt.Sprintf("codepage: number %d for both %s and %s", n, old.name, c.name))
			}
			x.byNumber[n] = c
		}
	}
	for k, name := range hintDefs() {
		x.hints[k] = x.byKey[key(name)]
	}
	slices.SortFunc(x.all, func(a, b *CodePage) int {
		if c := strings.Compare(strings.ToLower(a.name), strings.ToLower(b.name)); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	return x
}

// asciiEncoding returns x/text's US-ASCII encoding, which only the IANA
// index exports.
func asciiEncoding() encoding.Encoding {
	e, _ := ianaindex.IANA.Encoding("US-ASCII")
	return e
}
