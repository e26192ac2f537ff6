package mastership

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/multisite-go/multisite/replica"
)

// ErrNotMaster is returned for a change to a row by a replica that does not
// master it, whether the change was a local write or came in a packet.
var ErrNotMaster = errors.New("mastership: replica is not master")

// ErrNoRow is returned when a transfer names a row that does not exist.
var ErrNoRow = errors.New("mastership: no such row")

// NotMasterError reports a change to a row that another replica masters.
type NotMasterError struct {
	Table  string
	Key    string     // the primary key, formatted
	Master replica.ID // the row's master
	By     replica.ID // the replica that tried to change it
	// MasterName is the master's replica name when the refusal gave it
	// (the enforcement triggers do); "" otherwise.
	MasterName string
}

func (e *NotMasterError) Error() string {
	return fmt.Sprintf("mastership: %s[%s] is mastered by %s, not %s; ask %s to transfer it", e.Table, e.Key, e.Master, e.By, e.Master)
}

// Unwrap returns ErrNotMaster.
func (e *NotMasterError) Unwrap() error { return ErrNotMaster }

// triggerMessage is what the enforcement triggers raise; see schema. It is
// parsed back by FromDriver, so the two must change together. The key in
// brackets is absent from SQLite's messages, which are literals (see
// TriggerFormat); "?" stands for a table or master the message could not
// name.
var triggerMessage = regexp.MustCompile(`multisite: not master: (.+?)(?:\[(.*)\])? is mastered by ([^ ]+) \((.*?)\), not ([^ ;]+)`)

// TriggerFormat documents the message the enforcement triggers raise:
// "multisite: not master: TABLE[KEY] is mastered by ID (NAME), not ID; ...".
// On SQLite, whose triggers must parse on versions (before 3.47) that take
// only a literal message, the key is left out: "multisite: not master:
// TABLE is mastered by ID (NAME), not ID; ..." (see LiteralFormat).
const TriggerFormat = "multisite: not master: %s[%s] is mastered by %s (%s), not %s; ask the master to transfer it"

// LiteralFormat is TriggerFormat without the key, SQLite's form; a table
// or master the trigger does not know is "?".
const LiteralFormat = "multisite: not master: %s is mastered by %s (%s), not %s; ask the master to transfer it"

// FromDriver returns a *NotMasterError for an error raised by an enforcement
// trigger, and err unchanged otherwise. Use it on errors from plain SQL
// writes to replicated tables.
func FromDriver(err error) error {
	if err == nil {
		return nil
	}
	var nm *NotMasterError
	if errors.As(err, &nm) {
		return err
	}
	m := triggerMessage.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	unknown := func(s string) string {
		if s == "?" {
			return ""
		}
		return s
	}
	name := m[4]
	if m[3] == "?" {
		name = "" // "unknown replica"
	}
	return &NotMasterError{Table: unknown(m[1]), Key: m[2], Master: replica.ID(unknown(m[3])), By: replica.ID(m[5]),
		MasterName: unknown(name)}
}
