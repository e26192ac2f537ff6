package codepage_test

import (
	"testing"

	"github.com/multisite-go/multisite/codepage"
)

func TestClean(t *testing.T) {
	var (
		replace  = codepage.CleanOptions{}
		translit = codepage.CleanOptions{Strategy: codepage.Transliterate}
		drop     = codepage.CleanOptions{Strategy: codepage.Drop}
	)
	tests := []struct {
		name, page, in string
		opt            codepage.CleanOptions
		want           string
	}{
		{"replace accent", "US-ASCII", "café", replace, "caf?"},
		{"replace with custom", "US-ASCII", "café", codepage.CleanOptions{Replacement: "_"}, "caf_"},
		{"replace with multi-byte custom", "windows-1252", "Zażółć", codepage.CleanOptions{Replacement: "¿"}, "Za¿ó¿¿"},
		{"replace with custom that does not fit", "US-ASCII", "café", codepage.CleanOptions{Replacement: "\uFFFD"}, "caf?"},
		{"replace kanji", "windows-1252", "東京 Tokyo", replace, "?? Tokyo"},
		{"replace invalid byte", "US-ASCII", "a\xffb", replace, "a?b"},
		{"replace surrogate once", "UTF-8", "x\xed\xa0\x80y", replace, "x?y"},
		{"replace hangul in sjis", "Shift_JIS", "東京と서울", replace, "東京と??"},
		{"unknown strategy replaces", "US-ASCII", "é", codepage.CleanOptions{Strategy: 42}, "?"},

		{"translit latin", "US-ASCII", "café naïve Ærøskøbing Straße", translit, "cafe naive AEroskobing Strasse"},
		{"translit punctuation", "US-ASCII", "“smart” ‘quotes’ — and… done", translit, `"smart" 'quotes' - and... done`},
		{"translit symbols", "US-ASCII", "€5 ™ © ½ ﬁ Ａ²", translit, "EUR5 TM (C) 1/2 fi A2"},
		{"translit polish", "US-ASCII", "Zażółć gęślą jaźń, Łódź", translit, "Zazolc gesla jazn, Lodz"},
		{"translit keeps accents that fit", "windows-1252", "Zażółć", translit, "Zazólc"},
		{"translit vietnamese to 1252", "windows-1252", "Tiếng Việt", translit, "Tiêng Viêt"},
		{"translit vietnamese to ascii", "US-ASCII", "Tiếng Việt", translit, "Tieng Viet"},
		{"translit vietnamese to 1258 keeps marks", "windows-1258", "Tiếng Việt", translit, "Tiê\u0301ng Viê\u0323t"},
		{"translit combining acute composes", "windows-1252", "e\u0301", translit, "é"},
		{"translit combining acute drops", "US-ASCII", "e\u0301", translit, "e"},
		{"translit hebrew points drop", "ISO-8859-8", "שָׁלוֹם", translit, "שלום"},
		{"translit dz digraph", "US-ASCII", "ǅ", translit, "Dz"},
		{"translit nbsp", "US-ASCII", "a\u00a0b", translit, "a b"},
		{"translit halfwidth katakana to GBK", "GBK", "ｶﾀｶﾅ", translit, "カタカナ"},
		{"translit roman numeral to sjis", "Shift_JIS", "Ⅻ", translit, "XII"},
		{"translit cyrillic is not romanised", "US-ASCII", "Москва", translit, "??????"},
		{"translit greek in 1252", "windows-1252", "Ωmega", translit, "?mega"},
		{"translit emoji family", "US-ASCII", "👨‍👩‍👧!", translit, "???!"},
		{"translit custom replacement", "US-ASCII", "東京", codepage.CleanOptions{Strategy: codepage.Transliterate, Replacement: "[?]"}, "[?][?]"},
		{"translit invalid byte", "US-ASCII", "a\xffb", translit, "a?b"},

		{"drop accent", "US-ASCII", "café", drop, "caf"},
		{"drop kanji", "windows-1252", "東京 Tokyo", drop, " Tokyo"},
		{"drop malformed", "UTF-8", "a\xffb\xed\xa0\x80c", drop, "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLookup(t, tt.page)
			got, changed := c.Clean(tt.in, tt.opt)
			if got != tt.want || !changed {
				t.Errorf("%s.Clean(%q, %+v) = %q, %v; want %q, true", c, tt.in, tt.opt, got, changed, tt.want)
			}
			if !c.Valid(got) {
				t.Errorf("%s.Clean(%q) = %q, which does not fit", c, tt.in, got)
			}
		})
	}
}

func TestClean_unchanged(t *testing.T) {
	for _, s := range []codepage.Strategy{codepage.Replace, codepage.Transliterate, codepage.Drop} {
		t.Run(s.String(), func(t *testing.T) {
			c := mustLookup(t, "windows-1252")
			got, changed := c.Clean(french, codepage.CleanOptions{Strategy: s})
			if got != french || changed {
				t.Errorf("Clean of fitting text = %q, %v; want it unchanged", got, changed)
			}
			if n := testing.AllocsPerRun(100, func() { c.Clean(french, codepage.CleanOptions{Strategy: s}) }); n != 0 {
				t.Errorf("Clean of fitting text allocates %v times", n)
			}
		})
	}
}

func TestStrategy_String(t *testing.T) {
	for s, want := range map[codepage.Strategy]string{
		codepage.Replace: "Replace", codepage.Transliterate: "Transliterate", codepage.Drop: "Drop", 9: "Strategy(9)",
	} {
		if got := s.String(); got != want {
			t.Errorf("Strategy(%d).String() = %q, want %q", int(s), got, want)
		}
	}
}
