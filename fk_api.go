package multisite

import "github.com/multisite-go/multisite/internal/engine"

// ErrForeignKey is wrapped by *ForeignKeyError.
var ErrForeignKey = engine.ErrForeignKey

// ForeignKeyError reports a foreign key the library cannot keep: an import
// that would leave a row without its parent (the import is refused and
// nothing changes), or, on MySQL/MariaDB, a constraint with an ON DELETE
// or ON UPDATE action, whose changes MySQL's triggers do not see and so
// could not replicate (activation or creation is refused).
type ForeignKeyError = engine.ForeignKeyError
