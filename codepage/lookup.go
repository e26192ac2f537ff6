package codepage

import (
	"cmp"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/ianaindex"
)

// maxSuggestions caps [UnknownError.Suggestions].
const maxSuggestions = 5

// Lookup finds a code page by name. It accepts the canonical name, any
// alias, any IANA name or alias x/text knows, and a Windows code page number
// written as a plain decimal or with a "cp" prefix: "UTF-8", "utf8", "65001",
// "windows-1252", "cp1252", "1252", "latin1", "ISO_8859-1", "Shift_JIS",
// "CP932", "ascii". Matching ignores case, '-', '_' and spaces, and leading
// and trailing white space.
//
// If nothing matches, the error is an [*UnknownError] listing close names;
// it wraps [ErrUnknown].
func Lookup(name string) (*CodePage, error) {
	k := key(name)
	if c, ok := pages.byKey[k]; ok {
		return c, nil
	}
	if n, ok := number(k); ok {
		if c, ok := pages.byNumber[n]; ok {
			return c, nil
		}
	}
	if c := pages.iana(name); c != nil {
		return c, nil
	}
	return nil, &UnknownError{Name: name, Suggestions: pages.suggest(k)}
}

// LookupNumber finds a code page by its Windows code page number, such as
// 65001, 1252, 932 or 28591. Some pages answer to more than one number (see
// [CodePage.Numbers]). If none matches, the error is an [*UnknownError]
// wrapping [ErrUnknown].
func LookupNumber(n int) (*CodePage, error) {
	if c, ok := pages.byNumber[n]; ok {
		return c, nil
	}
	s := strconv.Itoa(n)
	return nil, &UnknownError{Name: s, Suggestions: pages.suggest(s)}
}

// All returns every supported code page, sorted by name ignoring case.
// The slice is new on every call and may be changed by the caller; the code
// pages themselves are shared.
func All() []*CodePage { return slices.Clone(pages.all) }

// key folds a name to the form used for matching: trimmed, ASCII lower case,
// without '-', '_' or spaces.
func key(name string) string {
	name = strings.TrimSpace(name)
	var b strings.Builder
	b.Grow(len(name))
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == '-' || c == '_' || c == ' ':
		case 'A' <= c && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// number parses a folded key that is a code page number: "1252" or "cp1252".
func number(k string) (int, bool) {
	k = strings.TrimPrefix(k, "cp")
	if k == "" || len(k) > 6 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(k); i++ {
		if k[i] < '0' || k[i] > '9' {
			return 0, false
		}
		n = n*10 + int(k[i]-'0')
	}
	return n, true
}

// iana resolves name through x/text's IANA index, which knows many aliases
// (such as "csISOLatin1" or "ISO_8859-1:1987") that defs need not repeat.
func (x *index) iana(name string) *CodePage {
	e, err := ianaindex.IANA.Encoding(name)
	if err != nil || e == nil {
		return nil
	}
	for _, c := range x.all {
		if sameEncoding(e, c.enc) {
			return c
		}
		for _, v := range c.extra {
			if sameEncoding(e, v) {
				return c
			}
		}
	}
	return nil
}

// sameEncoding compares two encodings without panicking on dynamic types
// that are not comparable.
func sameEncoding(a, b encoding.Encoding) bool {
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	return ta == tb && ta != nil && ta.Comparable() && a == b
}

// suggest returns the names of up to maxSuggestions code pages whose keys
// are close to the folded key k: within a small edit distance, or starting
// with or containing k. Closest come first, ties in name order.
func (x *index) suggest(k string) []string {
	if k == "" {
		return nil
	}
	// Closer edit distance first, then closer length (a typo rarely adds
	// or loses a character as well), then name order.
	type score struct{ d, l int }
	less := func(a, b score) int { return cmp.Or(cmp.Compare(a.d, b.d), cmp.Compare(a.l, b.l)) }
	best := make(map[*CodePage]score)
	consider := func(cand string, c *CodePage) {
		if c == nil {
			return
		}
		d, ok := closeness(k, cand)
		if !ok {
			return
		}
		s := score{d, abs(len(cand) - len(k))}
		if old, seen := best[c]; !seen || less(s, old) < 0 {
			best[c] = s
		}
	}
	for cand, c := range x.byKey {
		consider(cand, c)
	}
	for n, c := range x.byNumber {
		s := strconv.Itoa(n)
		consider(s, c)
		consider("cp"+s, c)
	}
	for cand, c := range x.hints {
		consider(cand, c)
	}
	// "win1252" or "ibm-1252": a known number under an unknown prefix.
	if n, ok := trailingNumber(k); ok {
		if c, ok := x.byNumber[n]; ok {
			if old, seen := best[c]; !seen || less(score{1, 0}, old) < 0 {
				best[c] = score{1, 0}
			}
		}
	}
	found := make([]*CodePage, 0, len(best))
	for c := range best {
		found = append(found, c)
	}
	slices.SortFunc(found, func(a, b *CodePage) int {
		return cmp.Or(less(best[a], best[b]), strings.Compare(a.name, b.name))
	})
	if len(found) > maxSuggestions {
		found = found[:maxSuggestions]
	}
	if len(found) == 0 {
		return nil
	}
	names := make([]string, len(found))
	for i, c := range found {
		names[i] = c.name
	}
	return names
}

// closeness scores how close cand is to the query q (both folded keys).
// It accepts an edit distance of about one per four characters, and any
// candidate that starts with or contains a query of three or more
// characters.
func closeness(q, cand string) (int, bool) {
	d := distance(q, cand)
	if d <= 1+len(q)/4 {
		return d, true
	}
	if len(q) >= 3 && strings.Contains(cand, q) {
		return d, true
	}
	return 0, false
}

// distance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and adjacent transpositions each cost
// one. Names are short, so the full table is cheap.
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		// A name this long is not a typo of any code page.
		return max(len(a), len(b))
	}
	w := len(b) + 1
	d := make([]int, (len(a)+1)*w)
	for i := 0; i <= len(a); i++ {
		d[i*w] = i
	}
	for j := 0; j <= len(b); j++ {
		d[j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := min(d[(i-1)*w+j]+1, d[i*w+j-1]+1, d[(i-1)*w+j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, d[(i-2)*w+j-2]+1)
			}
			d[i*w+j] = v
		}
	}
	return d[len(a)*w+len(b)]
}

// trailingNumber parses the run of three or more digits that ends k.
func trailingNumber(k string) (int, bool) {
	i := len(k)
	for i > 0 && k[i-1] >= '0' && k[i-1] <= '9' {
		i--
	}
	if len(k)-i < 3 {
		return 0, false
	}
	return number(k[i:])
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
