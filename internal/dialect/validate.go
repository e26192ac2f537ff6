package dialect

import (
	"regexp"
	"strings"
)

// typeName is what a declared column type may look like: words, numbers,
// spaces, parentheses and commas ("VARCHAR(20)", "NUMERIC(10, 2)",
// "DOUBLE PRECISION"). Anything else is refused, because a replica created
// from a packet puts the type into its DDL.
var typeName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_ ]*(\([0-9]+( *, *[0-9]+)?\))?[A-Za-z ]*$`)

// ValidType reports whether a declared type from a packet may go into DDL.
func ValidType(t string) bool { return t == "" || (len(t) <= 64 && typeName.MatchString(t)) }

var (
	number  = regexp.MustCompile(`^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$`)
	keyword = map[string]bool{"NULL": true, "TRUE": true, "FALSE": true, "CURRENT_TIMESTAMP": true, "CURRENT_DATE": true, "CURRENT_TIME": true}
)

// ValidDefault reports whether a column default from a packet is a plain
// literal (a number, a quoted string, NULL, TRUE/FALSE, or a CURRENT_*
// keyword), possibly in parentheses. Only those go into DDL; an expression
// could do anything.
func ValidDefault(s string) bool {
	s = strings.TrimSpace(s)
	for len(s) >= 2 && s[0] == '(' && s[len(s)-1] == ')' {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	switch {
	case s == "":
		return true
	case number.MatchString(s), keyword[strings.ToUpper(s)]:
		return true
	case len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'':
		inner := s[1 : len(s)-1]
		return !strings.Contains(strings.ReplaceAll(inner, "''", ""), "'")
	}
	return false
}
