// Package codepage handles data code pages: the character set that every
// string stored in a replicated database must fit.
//
// # What a data code page is
//
// Strings in the database are always stored as UTF-8. The data code page does
// not change that; it names the set of characters those strings are allowed to
// contain. A family whose data code page is windows-1252 may store "café" and
// "€5" but not "東京", even though all three are valid UTF-8. The idea comes
// from IBM ClearQuest, whose data code page plays the same role: every replica
// of a family agrees on one code page, so that every client (including ones
// that still convert to and from a legacy encoding) can read and write every
// value without loss, and a packet exported at one site always applies at
// another.
//
// UTF-8 as a data code page admits every Unicode scalar value. Malformed UTF-8
// and encoded surrogates (as produced by WTF-8 or CESU-8) are never admitted,
// whatever the code page: they are not characters at all.
//
// # Why validate before activation
//
// Setting the code page is a promise about data that already exists. If a
// table holds a value outside the chosen set when the family is activated,
// the first packet carrying that row is rejected by every replica that
// enforces the code page, and replication stalls on data nobody is editing.
// So the deployment path is: choose a code page, run [CodePage.Check] (or
// [CodePage.Validate]) over every stored string, fix what it reports by hand
// or with [CodePage.Clean], and only then set the code page and activate.
// After activation the same check guards each write and each imported packet.
//
// # Usage
//
// The caller owns the data; this package only looks at strings:
//
//	cp, err := codepage.Lookup("windows-1252") // or "1252", "cp1252", ...
//	if err != nil {
//		return err // errors.Is(err, codepage.ErrUnknown); *UnknownError has suggestions
//	}
//	for _, row := range rows { // the caller reads the rows
//		for _, v := range cp.Check(row.Text) {
//			fmt.Printf("%s: %v\n", row.Key, v) // U+6771 '東' at byte 0
//		}
//	}
//	fixed, changed := cp.Clean(text, codepage.CleanOptions{Strategy: codepage.Transliterate})
//
// # In a database
//
// [CodePage.RangeTable] gives the repertoire as ranges of code points, from
// which a database's own check can be built (a character class of a
// regular expression, a GLOB class), and [CodePage.Universal] says when
// there is nothing to check. The multisite library builds its charset
// triggers that way rather than on the servers' conversion tables, whose
// repertoires differ from x/text's for many code pages, both ways.
//
// # Scope
//
// Package codepage imports nothing else from multisite and never touches SQL:
// reading rows and writing cleaned values back is the caller's job. The
// character sets come from golang.org/x/text; where x/text implements a
// superset of a historical standard (its EUC-KR is Microsoft's code page 949,
// its Shift_JIS is Windows-31J and its Big5 includes HKSCS), this package
// uses the x/text repertoire, which is what Windows clients actually produce.
// ISO-8859-11 and ISO-8859-12 are not offered: x/text has no table for them
// and windows-874 is a strict superset of ISO-8859-11.
//
// All values in this package are safe for concurrent use by multiple
// goroutines. There is no package-level state that callers can change.
package codepage
