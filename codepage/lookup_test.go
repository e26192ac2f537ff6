package codepage_test

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/multisite-go/multisite/codepage"
)

func TestLookup(t *testing.T) {
	tests := []struct {
		name       string
		wantName   string
		wantNumber int
	}{
		{"UTF-8", "UTF-8", 65001},
		{"utf8", "UTF-8", 65001},
		{"65001", "UTF-8", 65001},
		{"CP65001", "UTF-8", 65001},
		{"  utf_8 ", "UTF-8", 65001},
		{"1252", "windows-1252", 1252},
		{"cp1252", "windows-1252", 1252},
		{"Windows-1252", "windows-1252", 1252},
		{"windows 1252", "windows-1252", 1252},
		{"x-cp1252", "windows-1252", 1252},
		{"1250", "windows-1250", 1250},
		{"cp1251", "windows-1251", 1251},
		{"windows-1258", "windows-1258", 1258},
		{"874", "windows-874", 874},
		{"CP932", "Shift_JIS", 932},
		{"shift_jis", "Shift_JIS", 932},
		{"Shift-JIS", "Shift_JIS", 932},
		{"sjis", "Shift_JIS", 932},
		{"windows-31j", "Shift_JIS", 932},
		{"MS_Kanji", "Shift_JIS", 932},
		{"936", "GBK", 936},
		{"gbk", "GBK", 936},
		{"949", "EUC-KR", 949},
		{"euc-kr", "EUC-KR", 949},
		{"ks_c_5601-1987", "EUC-KR", 949},
		{"950", "Big5", 950},
		{"big5", "Big5", 950},
		{"BIG-5", "Big5", 950},
		{"gb18030", "GB18030", 54936},
		{"54936", "GB18030", 54936},
		{"euc-jp", "EUC-JP", 51932},
		{"51932", "EUC-JP", 51932},
		{"20932", "EUC-JP", 51932},
		{"ISO-2022-JP", "ISO-2022-JP", 50220},
		{"50220", "ISO-2022-JP", 50220},
		{"koi8-r", "KOI8-R", 20866},
		{"20866", "KOI8-R", 20866},
		{"koi8-u", "KOI8-U", 21866},
		{"21866", "KOI8-U", 21866},
		{"ascii", "US-ASCII", 20127},
		{"us-ascii", "US-ASCII", 20127},
		{"20127", "US-ASCII", 20127},
		{"ANSI_X3.4-1968", "US-ASCII", 20127},
		{"latin1", "ISO-8859-1", 28591},
		{"ISO_8859-1", "ISO-8859-1", 28591},
		{"iso8859-1", "ISO-8859-1", 28591},
		{"28591", "ISO-8859-1", 28591},
		{"latin2", "ISO-8859-2", 28592},
		{"ISO-8859-5", "ISO-8859-5", 28595},
		{"greek", "ISO-8859-7", 28597},
		{"28598", "ISO-8859-8", 28598},
		{"iso-8859-8-i", "ISO-8859-8", 28598},
		{"38598", "ISO-8859-8", 28598},
		{"latin9", "ISO-8859-15", 28605},
		{"28606", "ISO-8859-16", 28606},
		{"437", "IBM437", 437},
		{"cp850", "IBM850", 850},
		{"IBM866", "IBM866", 866},
		{"cp037", "IBM037", 37},
		{"macintosh", "macintosh", 10000},
		// Only x/text's IANA index knows these.
		{"csISOLatin1", "ISO-8859-1", 28591},
		{"ISO_8859-1:1987", "ISO-8859-1", 28591},
		{"ISO_8859-6-I", "ISO-8859-6", 28596},
		{"csKOI8R", "KOI8-R", 20866},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := codepage.Lookup(tt.name)
			if err != nil {
				t.Fatalf("Lookup(%q): %v", tt.name, err)
			}
			if c.Name() != tt.wantName || c.Number() != tt.wantNumber || c.String() != tt.wantName {
				t.Errorf("Lookup(%q) = %s (%d), want %s (%d)", tt.name, c.Name(), c.Number(), tt.wantName, tt.wantNumber)
			}
		})
	}
}

func TestLookup_unknown(t *testing.T) {
	tests := []struct {
		name        string
		wantInclude []string // suggestions that must be present
		wantNone    bool     // no suggestions at all
	}{
		{name: "windows-1525", wantInclude: []string{"windows-1252", "windows-1255"}},
		{name: "cp1525", wantInclude: []string{"windows-1252", "windows-1255"}},
		{name: "1525", wantInclude: []string{"windows-1255"}},
		{name: "win1252", wantInclude: []string{"windows-1252"}},
		{name: "ibm-20866", wantInclude: []string{"KOI8-R"}},
		{name: "shift-jsi", wantInclude: []string{"Shift_JIS"}},
		{name: "utf-9", wantInclude: []string{"UTF-8"}},
		{name: "utf-16", wantInclude: []string{"UTF-8"}},
		{name: "gb2312", wantInclude: []string{"GBK"}},
		{name: "tis-620", wantInclude: []string{"windows-874"}},
		{name: "iso-8859-11", wantInclude: []string{"windows-874"}},
		{name: "ebcdic", wantInclude: []string{"IBM037"}},
		{name: "", wantNone: true},
		{name: "klingon", wantNone: true},
		{name: strings.Repeat("x", 10000), wantNone: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := codepage.Lookup(tt.name)
			if err == nil {
				t.Fatalf("Lookup(%q) = %v, want error", tt.name, c)
			}
			if !errors.Is(err, codepage.ErrUnknown) {
				t.Errorf("Lookup(%q) error %v is not ErrUnknown", tt.name, err)
			}
			var ue *codepage.UnknownError
			if !errors.As(err, &ue) {
				t.Fatalf("Lookup(%q) error %T is not *UnknownError", tt.name, err)
			}
			if ue.Name != tt.name {
				t.Errorf("UnknownError.Name = %q, want %q", ue.Name, tt.name)
			}
			if len(ue.Suggestions) > 5 {
				t.Errorf("%d suggestions, want at most 5: %q", len(ue.Suggestions), ue.Suggestions)
			}
			if tt.wantNone && len(ue.Suggestions) != 0 {
				t.Errorf("suggestions %q, want none", ue.Suggestions)
			}
			for _, s := range tt.wantInclude {
				if !slices.Contains(ue.Suggestions, s) {
					t.Errorf("suggestions %q lack %q", ue.Suggestions, s)
				}
			}
		})
	}
}

func TestUnknownError_Error(t *testing.T) {
	tests := []struct {
		err  *codepage.UnknownError
		want string
	}{
		{&codepage.UnknownError{Name: "x"}, `codepage: unknown code page "x"`},
		{&codepage.UnknownError{Name: "utf-9", Suggestions: []string{"UTF-8"}}, `codepage: unknown code page "utf-9" (did you mean UTF-8)`},
		{&codepage.UnknownError{Name: "cp1525", Suggestions: []string{"windows-1255", "windows-1252"}}, `codepage: unknown code page "cp1525" (did you mean windows-1255 or windows-1252)`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	_, err := codepage.Lookup("windows-1525")
	const want = `codepage: unknown code page "windows-1525" (did you mean windows-1255, windows-1250, windows-1251, windows-1252 or windows-1253)`
	if err == nil || err.Error() != want {
		t.Errorf("Lookup(windows-1525) error = %v, want %s", err, want)
	}
}

func TestLookupNumber(t *testing.T) {
	tests := []struct {
		n    int
		want string
	}{
		{65001, "UTF-8"}, {20127, "US-ASCII"}, {1250, "windows-1250"}, {1251, "windows-1251"},
		{1252, "windows-1252"}, {1253, "windows-1253"}, {1254, "windows-1254"}, {1255, "windows-1255"},
		{1256, "windows-1256"}, {1257, "windows-1257"}, {1258, "windows-1258"}, {874, "windows-874"},
		{437, "IBM437"}, {850, "IBM850"}, {866, "IBM866"}, {932, "Shift_JIS"}, {936, "GBK"},
		{949, "EUC-KR"}, {950, "Big5"}, {20866, "KOI8-R"}, {21866, "KOI8-U"}, {51932, "EUC-JP"},
		{20932, "EUC-JP"}, {54936, "GB18030"}, {50220, "ISO-2022-JP"},
		{28591, "ISO-8859-1"}, {28592, "ISO-8859-2"}, {28593, "ISO-8859-3"}, {28594, "ISO-8859-4"},
		{28595, "ISO-8859-5"}, {28596, "ISO-8859-6"}, {28597, "ISO-8859-7"}, {28598, "ISO-8859-8"},
		{28599, "ISO-8859-9"}, {28600, "ISO-8859-10"}, {28603, "ISO-8859-13"}, {28604, "ISO-8859-14"},
		{28605, "ISO-8859-15"}, {28606, "ISO-8859-16"},
	}
	for _, tt := range tests {
		c, err := codepage.LookupNumber(tt.n)
		if err != nil {
			t.Errorf("LookupNumber(%d): %v", tt.n, err)
			continue
		}
		if c.Name() != tt.want {
			t.Errorf("LookupNumber(%d) = %s, want %s", tt.n, c, tt.want)
		}
	}
	for _, n := range []int{0, -1, 1525, 28601, 28602, 1 << 40} {
		_, err := codepage.LookupNumber(n)
		var ue *codepage.UnknownError
		if !errors.Is(err, codepage.ErrUnknown) || !errors.As(err, &ue) || ue.Name != strconv.Itoa(n) {
			t.Errorf("LookupNumber(%d) error = %v, want *UnknownError for %d", n, err, n)
		}
	}
}

func TestAll(t *testing.T) {
	all := codepage.All()
	if len(all) < 40 {
		t.Fatalf("All() has %d code pages, want at least 40", len(all))
	}
	if !slices.IsSortedFunc(all, func(a, b *codepage.CodePage) int {
		return strings.Compare(strings.ToLower(a.Name()), strings.ToLower(b.Name()))
	}) {
		t.Errorf("All() is not sorted by name")
	}
	numbers := make(map[int]string)
	fold := strings.NewReplacer("-", "", "_", "", " ", "")
	for _, c := range all {
		// Aliases are real alternatives, not spelling variants of each other.
		seen := map[string]bool{}
		for _, name := range append([]string{c.Name()}, c.Aliases()...) {
			k := strings.ToLower(fold.Replace(name))
			if seen[k] {
				t.Errorf("%s: alias %q only respells another name", c, name)
			}
			seen[k] = true
		}
		// Every name, alias and number leads back to the same page.
		for _, name := range append([]string{c.Name()}, c.Aliases()...) {
			got, err := codepage.Lookup(name)
			if err != nil || got != c {
				t.Errorf("Lookup(%q) = %v, %v; want %s", name, got, err, c)
			}
		}
		for _, n := range c.Numbers() {
			if other, dup := numbers[n]; dup {
				t.Errorf("number %d is used by %s and %s", n, other, c)
			}
			numbers[n] = c.Name()
			got, err := codepage.LookupNumber(n)
			if err != nil || got != c {
				t.Errorf("LookupNumber(%d) = %v, %v; want %s", n, got, err, c)
			}
		}
		if c.Number() == 0 || c.Number() != c.Numbers()[0] {
			t.Errorf("%s.Number() = %d, Numbers() = %v", c, c.Number(), c.Numbers())
		}
		if c.Encoding() == nil {
			t.Errorf("%s.Encoding() = nil", c)
		}
	}
	// Callers may change what they are given without changing the package.
	all[0] = nil
	if codepage.All()[0] == nil {
		t.Errorf("All() shares its slice")
	}
	c := mustLookup(t, "windows-1252")
	c.Aliases()[0] = "changed"
	if diff := cmp.Diff([]string{"cp1252", "x-cp1252"}, c.Aliases()); diff != "" {
		t.Errorf("Aliases() mismatch (-want +got):\n%s", diff)
	}
}

func TestUTF8(t *testing.T) {
	if codepage.UTF8 != mustLookup(t, "utf-8") {
		t.Errorf("UTF8 is not Lookup(utf-8)")
	}
	if codepage.UTF8.Name() != "UTF-8" || codepage.UTF8.Number() != 65001 {
		t.Errorf("UTF8 = %s (%d)", codepage.UTF8, codepage.UTF8.Number())
	}
}
