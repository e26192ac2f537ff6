package engine

import (
	"errors"
	"regexp"
	"strconv"
	"unicode/utf8"
)

// charsetMessage parses what the charset triggers raise
// (dialect.CharsetTriggerFormat; PostgreSQL quotes the character after the
// code point). The code page name has no spaces; the driver may append
// its own text (pgx: " (SQLSTATE 22021)").
var charsetMessage = regexp.MustCompile(`multisite: charset: (.+)\[(.*)\]\.(.+) has U\+([0-9A-F]{4,6})(?: '(?:[^']|'')*')? at byte (\d+), outside code page ([^\s;,()]+)`)

// charsetLiteral parses SQLite's literal form (dialect.CharsetLiteral):
// table and column only, since SQLite before 3.47 takes nothing but a
// literal in RAISE.
var charsetLiteral = regexp.MustCompile(`multisite: charset: (.+)\.([^.]+) has a character outside the data code page`)

// CharsetFromDriver returns a *CharsetError for an error raised by a
// charset trigger (a write of a string outside the data code page refused
// by the database), and err unchanged otherwise. It is the charset twin of
// mastership.FromDriver.
func CharsetFromDriver(err error) error {
	if err == nil {
		return nil
	}
	var ce *CharsetError
	if errors.As(err, &ce) {
		return err
	}
	m := charsetMessage.FindStringSubmatch(err.Error())
	if m == nil {
		if m = charsetLiteral.FindStringSubmatch(err.Error()); m != nil {
			return &CharsetError{Table: m[1], Column: m[2]}
		}
		return err
	}
	cp, perr := strconv.ParseUint(m[4], 16, 32)
	off, oerr := strconv.Atoi(m[5])
	if perr != nil || oerr != nil || !utf8.ValidRune(rune(cp)) {
		return err
	}
	r := rune(cp)
	return &CharsetError{CodePage: m[6], Table: m[1], Key: m[2], Column: m[3], Offset: off, Rune: r, Char: string(r)}
}
