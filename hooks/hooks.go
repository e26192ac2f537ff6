package hooks

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/multisite-go/multisite/replica"
)

// Point names a place in the library's work where a hook runs.
type Point string

// The hook points.
const (
	BeforeExport      Point = "before-export"       // pending local changes are about to be sealed into a packet
	AfterImportChange Point = "after-import-change" // one row change of an imported packet was applied
	AfterImportPacket Point = "after-import-packet" // a whole packet was applied, before commit
	OnRequest         Point = "on-request"          // a mastership request reached the row's master
	OnCollision       Point = "on-collision"        // two replicas created the same unique business key
	OnRefusedWrite    Point = "on-refused-write"    // a write was refused because another replica masters the row
)

// ErrHook is wrapped by every *Error: errors.Is(err, hooks.ErrHook) tells a
// failed hook from the library's own errors.
var ErrHook = errors.New("hooks: a hook failed")

// Error is returned by an operation that a hook aborted. Nothing the
// operation did is kept.
type Error struct {
	Point Point
	Err   error // what the hook returned
}

func (e *Error) Error() string {
	return fmt.Sprintf("hooks: %s hook failed, nothing was changed: %v", e.Point, e.Err)
}

// Unwrap returns the hook's error and ErrHook.
func (e *Error) Unwrap() []error { return []error{ErrHook, e.Err} }

// Op is what a change did to a row.
type Op string

// The row operations.
const (
	Insert Op = "insert"
	Update Op = "update"
	Delete Op = "delete"
)

// Change is one row change seen by a hook. Key and Values hold the
// portable forms packets carry: nil, int64, float64, string or []byte
// (booleans as 0 or 1, times as text); Key can be passed back to
// [Tx.Transfer] as it is.
type Change struct {
	Table  string
	Key    []any          // primary key values, in key column order
	Op     Op             // insert, update or delete
	Values map[string]any // column values after the change, by column name; nil for a delete
	Master replica.ID     // the row's master after the change
	Origin replica.ID     // the replica that made the change
}

// Tx is the operation's transaction as a hook sees it. Reads see the
// operation's own uncommitted changes.
type Tx interface {
	// QueryContext runs a query in the operation's transaction. Use ?
	// placeholders; they are rebound for the database.
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	// QueryRowContext is QueryContext for a query of at most one row.
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	// ExecContext runs a statement in the operation's transaction, with ?
	// placeholders. Writes are captured like any other local write, so they
	// replicate; a write to a row mastered elsewhere fails.
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	// Transfer hands mastership of the row of table with key to replica to.
	// The local replica must master the row (else a
	// *mastership.NotMasterError; a missing row is mastership.ErrNoRow).
	// The transfer travels in the next packet.
	Transfer(ctx context.Context, table string, key []any, to replica.ID) error
	// Local is the local replica.
	Local() replica.ID
	// Replica looks a member up by its name or ID.
	Replica(nameOrID string) (replica.Info, bool)
}

// Export is what a BeforeExport hook sees: the pending local changes that
// the export is about to seal, and the packet's target. A row changed
// several times since the last export appears once, with its current
// values; Op is Insert only for a row created here and not changed since,
// Update for any other row that exists, Delete for a deleted one. Every
// change is held in memory: the first export after activation shows every
// row.
type Export struct {
	Target  replica.ID
	Changes []Change
}

// Packet is what an AfterImportPacket hook sees.
type Packet struct {
	Origin  replica.ID
	Kind    string         // "sync" or "creation"
	Changes int            // row changes applied
	Tables  map[string]int // row changes applied per table
}

// Request is a mastership request as its row's master sees it.
type Request struct {
	ID        string
	Table     string
	Key       []any
	From      replica.ID // the replica asking to master the row
	Master    replica.ID // the row's master when the request arrived
	Reason    string     // free text from the requester
	Requested time.Time
}

// Decision is what an OnRequest hook decides.
type Decision int

// The decisions. Defer leaves the request pending for an administrator.
const (
	Defer Decision = iota
	Grant
	Deny
)

// String returns "defer", "grant" or "deny".
func (d Decision) String() string {
	switch d {
	case Grant:
		return "grant"
	case Deny:
		return "deny"
	default:
		return "defer"
	}
}

// Collision is a unique business key (not the primary key) that two
// replicas created independently. Both records are kept: the one created by
// the replica that sorts later is renamed, the same way on every replica.
type Collision struct {
	Table    string
	Columns  []string // the unique constraint's columns
	Value    []any    // the value both records had
	KeptKey  []any    // primary key of the record that kept the value
	Key      []any    // primary key of the renamed record
	Renamed  []any    // the renamed record's new value
	Creators [2]replica.ID
}

// Hooks is a set of optional hook functions. The zero value runs no hook.
// The library calls the functions of one operation one at a time; a Hooks
// value shared by concurrent operations needs functions safe for that.
type Hooks struct {
	// BeforeExport runs in the export's transaction before pending changes
	// are sealed; transfers it makes travel in the same packet.
	BeforeExport func(ctx context.Context, tx Tx, e Export) error
	// AfterImportChange runs for every applied row change of an import.
	AfterImportChange func(ctx context.Context, tx Tx, c Change) error
	// AfterImportPacket runs once the whole packet is applied, before the
	// import commits.
	AfterImportPacket func(ctx context.Context, tx Tx, p Packet) error
	// OnRequest decides a mastership request that reached the row's master.
	// Returning Defer leaves it for an administrator. reason travels back
	// to the requester.
	OnRequest func(ctx context.Context, tx Tx, r Request) (d Decision, reason string, err error)
	// OnCollision is told of a unique-key collision settled by an import.
	OnCollision func(ctx context.Context, tx Tx, c Collision) error
	// OnRefusedWrite is told of a write the library refused because another
	// replica masters the row; err is a *mastership.NotMasterError. It
	// observes only: the write stays refused.
	OnRefusedWrite func(ctx context.Context, err error)
}

// Run calls fn and wraps its error as an *Error for point. A panic in a
// hook is not recovered: hooks are the caller's code.
func Run(p Point, fn func() error) error {
	if err := fn(); err != nil {
		return &Error{Point: p, Err: err}
	}
	return nil
}
