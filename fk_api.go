package multisite

import "github.com/multisite-go/multisite/internal/engine"

// ErrForeignKey is wrapped by *ForeignKeyError.
var ErrForeignKey = engine.ErrForeignKey

// ForeignKeyError reports a foreign key the library cannot keep: an import
// that would leave a row without its parent (the import is refused and
// nothing changes), or, on MySQL/MariaDB, a constraint with an ON DELETE
// or ON UPDATE action, whose changes MySQL's triggers do not see and so
// could not replicate (activation or creation is refused).
type ForeignKeyError struct {
	Table      string   // the referencing table
	Constraint string   // the constraint's name; "" on SQLite
	Columns    []string // the referencing columns
	RefTable   string   // the referenced table
	Values     []any    // the reference without a parent; nil for an action error
	Action     string   // the action that cannot be replicated, e.g. "ON DELETE CASCADE"; "" for a missing parent
}

func (e *ForeignKeyError) Error() string { return engineForeignKeyError(e).Error() }

// Unwrap returns ErrForeignKey.
func (e *ForeignKeyError) Unwrap() error { return ErrForeignKey }
