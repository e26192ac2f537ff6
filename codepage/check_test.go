package codepage_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/multisite-go/multisite/codepage"
)

// at is a violation by a character that the code page lacks.
func at(off int, r rune) codepage.Violation {
	return codepage.Violation{Offset: off, Rune: r, Bytes: string(r)}
}

// bad is a violation by malformed UTF-8.
func bad(off int, b string) codepage.Violation {
	return codepage.Violation{Offset: off, Rune: utf8.RuneError, Bytes: b}
}

func mustLookup(t testing.TB, name string) *codepage.CodePage {
	t.Helper()
	c, err := codepage.Lookup(name)
	if err != nil {
		t.Fatalf("Lookup(%q): %v", name, err)
	}
	return c
}

const (
	french    = "Voix ambiguë d'un cœur qui, au zéphyr, préfère les jattes de kiwis"
	german    = "Falsches Üben von Xylophonmusik quält jeden größeren Zwerg"
	russian   = "Съешь же ещё этих мягких французских булок, да выпей чаю."
	greek     = "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία"
	hebrew    = "עטלף אבק נס דרך מזגן שהתפוצץ כי חם"
	arabic    = "نص حكيم له سر قاطع وذو شأن عظيم"
	japanese  = "吾輩は猫である。名前はまだ無い。"
	simplifed = "我们在北京开会，讨论数据复制。"
	tradition = "中華民國，臺灣。資料庫複寫。"
	korean    = "대한민국 서울특별시. 데이터베이스 복제."
	surrogate = "\xed\xa0\x80" // U+D800 as WTF-8
)

func TestCheck(t *testing.T) {
	all := strings.Join([]string{french, german, russian, greek, hebrew, arabic, japanese, simplifed, tradition, korean, "👍🏽 😀 👨‍👩‍👧"}, "\n")
	tests := []struct {
		name, page, s string
		want          []codepage.Violation
	}{
		// UTF-8 admits every character but no malformed byte.
		{"utf8 every script", "UTF-8", all, nil},
		{"utf8 empty", "UTF-8", "", nil},
		{"utf8 replacement character is a character", "UTF-8", "\uFFFD", nil},
		{"utf8 invalid byte", "UTF-8", "a\xffb", []codepage.Violation{bad(1, "\xff")}},
		{"utf8 lone surrogate", "UTF-8", "x" + surrogate + "y", []codepage.Violation{bad(1, surrogate)}},
		{"utf8 surrogate pair in CESU-8", "UTF-8", "\xed\xa0\xbd\xed\xb8\x80", []codepage.Violation{bad(0, "\xed\xa0\xbd"), bad(3, "\xed\xb8\x80")}},
		{"utf8 truncated sequence", "UTF-8", "日\xe6\x9c", []codepage.Violation{bad(3, "\xe6"), bad(4, "\x9c")}},
		{"utf8 overlong slash", "UTF-8", "\xc0\xaf", []codepage.Violation{bad(0, "\xc0"), bad(1, "\xaf")}},
		{"utf8 beyond U+10FFFF", "UTF-8", "\xf4\x90\x80\x80", []codepage.Violation{bad(0, "\xf4"), bad(1, "\x90"), bad(2, "\x80"), bad(3, "\x80")}},

		{"ascii plain", "US-ASCII", "Hello, world!\r\n\t\x00\x7f", nil},
		{"ascii accent", "US-ASCII", "café", []codepage.Violation{at(3, 'é')}},
		{"ascii diaeresis", "US-ASCII", "naïve", []codepage.Violation{at(2, 'ï')}},
		{"ascii smart quotes", "US-ASCII", "“quoted”", []codepage.Violation{at(0, '“'), at(9, '”')}},
		{"ascii invalid byte", "US-ASCII", "a\x80", []codepage.Violation{bad(1, "\x80")}},

		{"1252 french", "windows-1252", french, nil},
		{"1252 german", "windows-1252", german, nil},
		{"1252 euro dash and quotes", "windows-1252", "€100 “smart” — ok", nil},
		{"1252 polish", "windows-1252", "Zażółć", []codepage.Violation{at(2, 'ż'), at(6, 'ł'), at(8, 'ć')}},
		{"1252 cyrillic", "windows-1252", "Москва", []codepage.Violation{at(0, 'М'), at(2, 'о'), at(4, 'с'), at(6, 'к'), at(8, 'в'), at(10, 'а')}},
		{"1252 kanji", "windows-1252", "東京", []codepage.Violation{at(0, '東'), at(3, '京')}},
		{"1252 emoji", "windows-1252", "ok 👍", []codepage.Violation{at(3, '👍')}},
		{"1252 greek omega", "windows-1252", "Ωmega", []codepage.Violation{at(0, 'Ω')}},
		{"1252 surrogate and bad byte", "windows-1252", surrogate + "é\xff", []codepage.Violation{bad(0, surrogate), bad(5, "\xff")}},

		{"1251 russian", "windows-1251", russian, nil},
		{"1251 ukrainian", "windows-1251", "Київ, Україна, ґанок", nil},
		{"1251 kazakh", "windows-1251", "Қазақстан", []codepage.Violation{at(0, 'Қ'), at(8, 'қ')}},
		{"1251 accent", "windows-1251", "café", []codepage.Violation{at(3, 'é')}},
		{"1251 greek", "windows-1251", "Αθήνα", []codepage.Violation{at(0, 'Α'), at(2, 'θ'), at(4, 'ή'), at(6, 'ν'), at(8, 'α')}},

		{"koi8-r russian", "KOI8-R", russian, nil},
		{"koi8-r ukrainian yi", "KOI8-R", "Київ", []codepage.Violation{at(4, 'ї')}},
		{"koi8-u ukrainian", "KOI8-U", "Київ", nil},
		{"koi8-r latin accent", "KOI8-R", "né", []codepage.Violation{at(1, 'é')}},

		{"8859-7 greek", "ISO-8859-7", greek, nil},
		{"8859-7 cyrillic", "ISO-8859-7", "Да", []codepage.Violation{at(0, 'Д'), at(2, 'а')}},
		{"8859-7 euro", "ISO-8859-7", "5€", nil},
		{"8859-8 hebrew", "ISO-8859-8", hebrew, nil},
		{"8859-8 niqqud", "ISO-8859-8", "שָׁלוֹם", []codepage.Violation{at(2, '\u05B8'), at(4, '\u05C1'), at(10, '\u05B9')}},
		{"8859-8 arabic", "ISO-8859-8", "نص", []codepage.Violation{at(0, 'ن'), at(2, 'ص')}},

		{"sjis japanese", "Shift_JIS", japanese, nil},
		{"sjis halfwidth katakana and NEC circled digits", "Shift_JIS", "ｶﾀｶﾅ①②", nil},
		{"sjis cyrillic and greek from JIS X 0208", "Shift_JIS", "Привет Αθηνα", nil},
		{"sjis greek tonos", "Shift_JIS", "Αθήνα", []codepage.Violation{at(4, 'ή')}},
		{"sjis simplified hua", "Shift_JIS", "中华", []codepage.Violation{at(3, '华')}},
		{"sjis hangul", "Shift_JIS", "한국어", []codepage.Violation{at(0, '한'), at(3, '국'), at(6, '어')}},
		{"sjis accent", "Shift_JIS", "café", []codepage.Violation{at(3, 'é')}},
		{"sjis emoji", "Shift_JIS", "猫🐱", []codepage.Violation{at(3, '🐱')}},
		{"sjis invalid", "Shift_JIS", "猫\x82\xa0", []codepage.Violation{bad(3, "\x82"), bad(4, "\xa0")}},

		{"gbk simplified", "GBK", simplifed, nil},
		{"gbk traditional", "GBK", tradition, nil},
		{"gbk euro", "GBK", "€", nil},
		{"gbk hangul", "GBK", "한국", []codepage.Violation{at(0, '한'), at(3, '국')}},
		{"gbk halfwidth katakana", "GBK", "ｶﾅ", []codepage.Violation{at(0, 'ｶ'), at(3, 'ﾅ')}},
		{"gbk emoji", "GBK", "😀", []codepage.Violation{at(0, '😀')}},

		{"big5 traditional", "Big5", tradition, nil},
		{"big5 simplified", "Big5", "们这说", []codepage.Violation{at(0, '们'), at(3, '这'), at(6, '说')}},
		{"big5 HKSCS hua and supplementary", "Big5", "华𠀡", nil},
		{"big5 supplementary outside HKSCS", "Big5", "𪚥", []codepage.Violation{at(0, '𪚥')}},
		{"big5 hangul", "Big5", "한", []codepage.Violation{at(0, '한')}},
		{"big5 emoji", "Big5", "😀", []codepage.Violation{at(0, '😀')}},

		{"euc-kr korean", "EUC-KR", korean, nil},
		{"euc-kr hanja", "EUC-KR", "日本", nil},
		{"euc-kr halfwidth katakana", "EUC-KR", "ｶ", []codepage.Violation{at(0, 'ｶ')}},
		{"euc-kr simplified", "EUC-KR", "中华", []codepage.Violation{at(3, '华')}},

		{"gb18030 every script", "GB18030", all, nil},
		{"gb18030 surrogate", "GB18030", surrogate, []codepage.Violation{bad(0, surrogate)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLookup(t, tt.page)
			got := c.Check(tt.s)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s.Check(%q) mismatch (-want +got):\n%s", c, tt.s, diff)
			}
			if valid := c.Valid(tt.s); valid != (len(tt.want) == 0) {
				t.Errorf("%s.Valid(%q) = %v, want %v", c, tt.s, valid, len(tt.want) == 0)
			}
		})
	}
}

func TestCheck_everyPageRejectsMalformed(t *testing.T) {
	for _, c := range codepage.All() {
		t.Run(c.Name(), func(t *testing.T) {
			want := []codepage.Violation{bad(1, "\xff"), bad(2, surrogate), bad(5, "\xc3")}
			if diff := cmp.Diff(want, c.Check("a\xff"+surrogate+"\xc3")); diff != "" {
				t.Errorf("Check mismatch (-want +got):\n%s", diff)
			}
			if !c.Valid("plain ASCII, as every code page has it\n") {
				t.Errorf("Valid(ASCII) = false")
			}
		})
	}
}

func TestValid_doesNotAllocate(t *testing.T) {
	tests := []struct{ page, s string }{
		{"UTF-8", japanese + french + "👍🏽"},
		{"US-ASCII", "plain text"},
		{"windows-1252", french},
		{"Shift_JIS", japanese},
		{"Big5", tradition + "𠀡"},
		{"GB18030", simplifed + "👍🏽"},
	}
	for _, tt := range tests {
		c := mustLookup(t, tt.page)
		if n := testing.AllocsPerRun(100, func() { c.Valid(tt.s) }); n != 0 {
			t.Errorf("%s.Valid allocates %v times", c, n)
		}
		if n := testing.AllocsPerRun(100, func() { c.Check(tt.s) }); n != 0 {
			t.Errorf("%s.Check of fitting text allocates %v times", c, n)
		}
		unfit := tt.s + "😀\xff"
		if n := testing.AllocsPerRun(100, func() { c.Valid(unfit) }); n != 0 {
			t.Errorf("%s.Valid of text that does not fit allocates %v times", c, n)
		}
	}
}

func TestViolation_String(t *testing.T) {
	tests := []struct {
		v    codepage.Violation
		want string
	}{
		{at(3, 'é'), "U+00E9 'é' at byte 3"},
		{at(0, '東'), "U+6771 '東' at byte 0"},
		{at(7, '👍'), "U+1F44D '👍' at byte 7"},
		{at(1, '\u0081'), `U+0081 '\u0081' at byte 1`},
		{at(2, '\uFFFD'), "U+FFFD '�' at byte 2"},
		{bad(5, "\xff"), "invalid UTF-8 byte 0xff at byte 5"},
		{bad(0, surrogate), "invalid UTF-8 surrogate U+D800 (0xed 0xa0 0x80) at byte 0"},
	}
	for _, tt := range tests {
		if got := tt.v.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestViolation_Invalid(t *testing.T) {
	tests := []struct {
		v    codepage.Violation
		want bool
	}{
		{at(0, 'é'), false},
		{at(0, '\uFFFD'), false}, // a real U+FFFD that the page lacks
		{bad(0, "\xff"), true},
		{bad(0, surrogate), true},
	}
	for _, tt := range tests {
		if got := tt.v.Invalid(); got != tt.want {
			t.Errorf("%v.Invalid() = %v, want %v", tt.v, got, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	c := mustLookup(t, "windows-1252")
	if err := c.Validate(french); err != nil {
		t.Fatalf("Validate(french) = %v, want nil", err)
	}
	err := c.Validate("東京 is Tōkyō\xff")
	if !errors.Is(err, codepage.ErrUnrepresentable) {
		t.Fatalf("Validate error = %v, want ErrUnrepresentable", err)
	}
	var ve *codepage.ViolationError
	if !errors.As(err, &ve) {
		t.Fatalf("Validate error = %T, want *ViolationError", err)
	}
	want := &codepage.ViolationError{
		CodePage:   "windows-1252",
		Violations: []codepage.Violation{at(0, '東'), at(3, '京'), at(11, 'ō'), at(15, 'ō'), bad(17, "\xff")},
	}
	if diff := cmp.Diff(want, ve); diff != "" {
		t.Errorf("ViolationError mismatch (-want +got):\n%s", diff)
	}
	const msg = "codepage: 5 characters outside windows-1252: U+6771 '東' at byte 0, U+4EAC '京' at byte 3, U+014D 'ō' at byte 11 and 2 more"
	if err.Error() != msg {
		t.Errorf("Error() = %q, want %q", err.Error(), msg)
	}
}
