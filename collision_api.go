package multisite

import (
	"context"
	"database/sql"

	"time"

	"github.com/multisite-go/multisite/hooks"
	"github.com/multisite-go/multisite/internal/engine"
	"github.com/multisite-go/multisite/replica"
)

// Collision is a unique-key collision an import settled: two replicas
// created records with the same value of a UNIQUE key that is not the
// primary key. Both records are kept. The record whose creator has the
// smaller replica ID keeps the value (for records of one creator, the
// smaller primary key); every other is renamed in the ClearQuest keysite
// manner, NAME<site>, site being the name of the replica that created it,
// in the first text column of the key (shortened to fit a declared
// VARCHAR(n); NAME<site>2 ... if that is taken too). Every replica reaches
// the same values: the renamed record's master makes the rename as its own
// change, which replicates; the others apply the same rename on import
// meanwhile (and undo it if the collision goes away before the master saw
// it). ImportReport.Collisions lists the collisions an import settled and
// the hooks.Hooks OnCollision hook is told of each; Creators holds the
// creator of the record that kept the value, then of the renamed one. Each
// replica that renames a record (the renamed record's master, and others
// meanwhile) reports the collision once.
//
// Collisions are detected for the unique constraints and unique indexes
// the local database has (creation packets do not carry them yet: give
// every replica the same ones). A collision on a key with no text column
// fails the import with a *CollisionError and changes nothing.
//
// It is the type the OnCollision hook receives, defined in package hooks.
type Collision = hooks.Collision

// CollisionError reports two records of a packet and this replica (or of
// one packet) with the same value of a unique key that has no text column
// to rename; errors.Is(err, ErrCollision). The import changed nothing.
type CollisionError struct {
	Table   string   // the table holding both records
	Columns []string // the unique key's columns
	Value   []any    // the value both records have, in portable form
}

func (e *CollisionError) Error() string { return engineCollisionError(e).Error() }

// Unwrap returns ErrCollision.
func (e *CollisionError) Unwrap() error { return ErrCollision }

// ErrCollision is wrapped by *CollisionError; ErrNoCollision is returned
// for a collision ID the replica has not recorded.
var (
	ErrCollision   = engine.ErrCollision
	ErrNoCollision = engine.ErrNoCollision
)

// CollisionID names a recorded collision, the same on every replica that
// settled it.
type CollisionID string

// CollisionState is what became of a collision at one replica:
// provisional (renamed here on import, waiting for the renamed record's
// master), renamed (the master's own change), withdrawn (the collision
// went away before the master renamed; the rename was undone) or resolved
// (by an administrator, ResolveCollision).
type CollisionState string

// The collision states.
const (
	// CollisionProvisional: renamed here on import, waiting for the
	// renamed record's master to make the rename its own change.
	CollisionProvisional CollisionState = "provisional"
	// CollisionRenamed: the renamed record's master renamed it.
	CollisionRenamed CollisionState = "renamed"
	// CollisionWithdrawn: the collision went away before the master
	// renamed; the rename was undone.
	CollisionWithdrawn CollisionState = "withdrawn"
	// CollisionResolved: an administrator settled it (ResolveCollision).
	CollisionResolved CollisionState = "resolved"
)

// CollisionRecord is a collision as a replica recorded it (table
// ms_collision).
type CollisionRecord struct {
	ID       CollisionID    // the collision's ID, the same at every replica
	Table    string         // the table of both records
	Columns  []string       // the unique key's columns
	Value    []any          // the value both records had, in portable form
	Key      []any          // primary key of the renamed record
	KeptKey  []any          // primary key of the record that kept the value
	Column   string         // the renamed column
	Original string         // its value before the rename
	Renamed  string         // its value after
	Winner   replica.ID     // creator of the record that kept the value
	Loser    replica.ID     // creator of the renamed record
	State    CollisionState // what became of it here
	Version  uint64         // the renamed record's version the rename belongs to
	Detected time.Time      // when this replica recorded it
	Updated  time.Time      // when its state last changed here
}

// CollisionFilter selects collisions for Collisions; the zero value
// selects all.
type CollisionFilter struct {
	Table  string           // "" means every table
	States []CollisionState // nil means every state
	ID     CollisionID      // "" means every collision
}

// Collisions lists the unique-key collisions db's replica settled, newest
// first. It changes no replicated data.
func Collisions(ctx context.Context, db *sql.DB, f CollisionFilter) ([]CollisionRecord, error) {
	d, err := ready(ctx, db, "")
	if err != nil {
		return nil, err
	}
	recs, err := engine.Collisions(ctx, db, d, engineCollisionFilter(f))
	return collisionRecords(recs), publicError(err)
}

// ResolveCollision settles a recorded collision at the renamed record's
// master (elsewhere it is a *mastership.NotMasterError and nothing
// changes). With value "" the rename stays; otherwise the renamed column
// is set to value as an ordinary local write, which replicates (a value
// another record holds fails with the database's unique-constraint error
// and changes nothing). The collision is marked resolved.
func ResolveCollision(ctx context.Context, db *sql.DB, id CollisionID, value string) (CollisionRecord, error) {
	d, err := ready(ctx, db, "")
	if err != nil {
		return CollisionRecord{}, err
	}
	rec, err := engine.ResolveCollision(ctx, db, d, engine.CollisionID(id), value)
	return collisionRecord(rec), publicError(err)
}
