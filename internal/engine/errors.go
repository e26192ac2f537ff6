package engine

import (
	"errors"
	"fmt"
	"slices"

	"github.com/multisite-go/multisite/syncpkt"
)

var (
	// ErrNotActivated is returned for a database that is no replica.
	ErrNotActivated = errors.New("multisite: database is not a replica; activate it or create it from a packet")
	// ErrActivated is returned when activating or creating into a database
	// that already is a replica.
	ErrActivated = errors.New("multisite: database is already a replica")
	// ErrFamily is returned for a packet of another family.
	ErrFamily = errors.New("multisite: packet belongs to another family")
	// ErrTarget is returned for a packet made for another replica.
	ErrTarget = errors.New("multisite: packet is for another replica")
	// ErrKind is returned for a creation packet given to ImportPacket or a
	// sync packet given to CreateReplica.
	ErrKind = errors.New("multisite: wrong kind of packet")
	// ErrSchemaVersion is returned for a packet made at another schema
	// version.
	ErrSchemaVersion = errors.New("multisite: packet has another schema version")
	// ErrCodePage is returned for a packet made under another data code page.
	ErrCodePage = errors.New("multisite: packet has another data code page")
	// ErrPacket is returned for a packet whose content breaks the rules of
	// the format beyond what syncpkt checks (a row before its table, a
	// record that does not belong in this kind of packet, a duplicate key).
	ErrPacket = errors.New("multisite: malformed packet content")
	// ErrTableExists is returned when a creation packet would create a table
	// the database already has.
	ErrTableExists = errors.New("multisite: table already exists")
	// ErrKeyRange is returned when a replica's integer key range is used up
	// or an existing key lies outside the first replica's range.
	ErrKeyRange = errors.New("multisite: key outside this replica's range")
	// ErrCharset is returned for a packet carrying a string the family's
	// data code page cannot represent.
	ErrCharset = errors.New("multisite: string outside the data code page")
	// ErrState is returned for a lifecycle change that is not allowed.
	ErrState = errors.New("multisite: state change not allowed")
	// ErrProof is returned for a packet carrying a row image or a
	// transfer whose proof is not its maker's signature (the row's Origin,
	// the transfer's From, by the key this replica's registry holds), or
	// that lacks a proof where the record would change something here.
	ErrProof = errors.New("multisite: record not proven by the replica that made it")
)

// MismatchError reports a packet header field that does not match the
// local replica. It wraps one of ErrFamily, ErrTarget, ErrSchemaVersion,
// ErrCodePage or ErrKind.
type MismatchError struct {
	Field     string
	Want, Got string
	Err       error
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("%v: %s is %q, this replica expects %q", e.Err, e.Field, e.Got, e.Want)
}

// Unwrap returns the sentinel.
func (e *MismatchError) Unwrap() error { return e.Err }

// CharsetError names the first string of a packet, or of a write the
// database refused (see CharsetFromDriver), that does not fit the family's
// data code page, or the character set of the column that would store it.
type CharsetError struct {
	CodePage           string
	Table, Key, Column string
	Offset             int
	Rune               rune
	Char               string
	// Storage is set when the character fits the code page but not the
	// local column: its MariaDB character set, such as "utf8mb3", which
	// holds no character beyond U+FFFF.
	Storage string
}

func (e *CharsetError) Error() string {
	if e.Storage != "" {
		return fmt.Sprintf("multisite: %s[%s].%s has U+%04X %q at byte %d, which the column's character set %s cannot store", e.Table, e.Key, e.Column, e.Rune, e.Char, e.Offset, e.Storage)
	}
	if e.Char == "" {
		// SQLite's literal refusal names table and column only.
		cp := "the data code page"
		if e.CodePage != "" {
			cp = "code page " + e.CodePage
		}
		return fmt.Sprintf("multisite: %s.%s has a character outside %s; ValidateCharset finds it", e.Table, e.Column, cp)
	}
	return fmt.Sprintf("multisite: %s[%s].%s has U+%04X %q at byte %d, outside code page %s", e.Table, e.Key, e.Column, e.Rune, e.Char, e.Offset, e.CodePage)
}

// Unwrap returns ErrCharset.
func (e *CharsetError) Unwrap() error { return ErrCharset }

// checkBound refuses a packet that is not bound to this replica: of
// another kind than want (or one of also), of another family, or for
// another target.
func checkBound(h *syncpkt.Header, c *Ctl, want syncpkt.Kind, also ...syncpkt.Kind) error {
	switch {
	case h.Kind != want && !slices.Contains(also, h.Kind):
		return &MismatchError{Field: "kind", Want: want.String(), Got: h.Kind.String(), Err: ErrKind}
	case h.Family != c.Family:
		return &MismatchError{Field: "family", Want: c.Family, Got: h.Family, Err: ErrFamily}
	case h.Target != string(c.Local):
		return &MismatchError{Field: "target", Want: string(c.Local), Got: h.Target, Err: ErrTarget}
	}
	return nil
}
