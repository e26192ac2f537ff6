package main

import (
	"regexp"
	"strings"
)

// driverCode is the SQLite result code the driver appends to a message,
// " (1811)", which means nothing to an administrator.
var driverCode = regexp.MustCompile(` \(\d{1,5}\)$`)

// humanize rewrites a message for people: replica IDs of the family
// become names ("1536024ca341b9a0 (bangalore)" and a bare ID alike become
// "bangalore"), and a SQLite result code at the end goes. IDs the family
// does not know stay as they are.
func (e *env) humanize(msg string) string {
	msg = driverCode.ReplaceAllString(msg, "")
	msg = strings.TrimPrefix(msg, "constraint failed: ")
	if len(e.who) == 0 {
		return msg
	}
	var pairs []string
	for id, name := range e.who {
		if id == "" || name == "" {
			continue
		}
		pairs = append(pairs, string(id)+" ("+name+")", name, string(id), name)
	}
	return strings.NewReplacer(pairs...).Replace(msg)
}
