package codepage

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnknown is returned, wrapped in an [*UnknownError], by [Lookup] and
// [LookupNumber] when no supported code page matches.
var ErrUnknown = errors.New("codepage: unknown code page")

// ErrUnrepresentable is returned, wrapped in a [*ViolationError], by
// [CodePage.Validate] when a string does not fit a code page.
var ErrUnrepresentable = errors.New("codepage: string does not fit code page")

// UnknownError reports a code page name or number that matches nothing.
type UnknownError struct {
	// Name is the name as given, or the number in decimal.
	Name string
	// Suggestions holds the canonical names of up to five supported code
	// pages close to Name, closest first; it may be empty.
	Suggestions []string
}

var _ error = (*UnknownError)(nil)

// Error returns the name and any suggestions.
func (e *UnknownError) Error() string {
	msg := fmt.Sprintf("codepage: unknown code page %q", e.Name)
	switch n := len(e.Suggestions); n {
	case 0:
		return msg
	case 1:
		return msg + " (did you mean " + e.Suggestions[0] + ")"
	default:
		return msg + " (did you mean " + strings.Join(e.Suggestions[:n-1], ", ") + " or " + e.Suggestions[n-1] + ")"
	}
}

// Unwrap returns [ErrUnknown].
func (e *UnknownError) Unwrap() error { return ErrUnknown }

// maxListed caps the violations [ViolationError.Error] spells out.
const maxListed = 3

// ViolationError reports a string that does not fit a code page. It carries
// every violation so that a caller can show or fix each one.
type ViolationError struct {
	// CodePage is the canonical name of the code page checked against.
	CodePage string
	// Violations lists every offending character, in order; never empty.
	Violations []Violation
}

var _ error = (*ViolationError)(nil)

// Error names the code page and the first few violations.
func (e *ViolationError) Error() string {
	var b strings.Builder
	n := len(e.Violations)
	noun := "characters"
	if n == 1 {
		noun = "character"
	}
	fmt.Fprintf(&b, "codepage: %d %s outside %s: ", n, noun, e.CodePage)
	for i, v := range e.Violations {
		if i == maxListed {
			fmt.Fprintf(&b, " and %d more", n-maxListed)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(v.String())
	}
	return b.String()
}

// Unwrap returns [ErrUnrepresentable].
func (e *ViolationError) Unwrap() error { return ErrUnrepresentable }
