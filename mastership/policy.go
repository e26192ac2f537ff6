package mastership

import (
	"context"
	"fmt"

	"github.com/multisite-go/multisite/replica"
)

// Row is a row whose master a [Policy] decides: a row this replica masters
// and has changed since its last export.
type Row struct {
	Table  string
	Key    []any          // primary key values, in key column order
	Values map[string]any // column values, in the portable form packets carry (int64, float64, string, []byte or nil)
	// Created is set for a new row: one at its first version, created
	// here and not changed since. A row created and then changed again
	// before the export is not new any more (the capture keeps versions,
	// not histories); a policy that must see it too decides changed rows
	// as well (Field.OnChange).
	Created bool
	Master  replica.ID // the row's master now: the local replica
}

// Querier is what a policy reads through: the export's transaction. It is
// valid only during the call it is passed to.
type Querier interface {
	// Lookup returns column of the first row of table whose keyColumn
	// equals key, in portable form; ok is false if there is none (a nil
	// key matches nothing). Names are checked against the database's
	// catalog: an unknown table or column is a *schema.UnknownTableError.
	Lookup(ctx context.Context, table, keyColumn string, key any, column string) (value any, ok bool, err error)
	// Replica looks a member up by its ID or its name.
	Replica(nameOrID string) (replica.Info, bool)
	// Local is the local replica.
	Local() replica.ID
}

// Policy decides which replica masters a row. The library asks it at
// export time, in the export's transaction, about every row the local
// replica masters and has a pending change to (deleted rows aside); when
// it names another replica, the library transfers the row there in that
// transaction, so the transfer travels in the same packet.
//
// Master returns the replica that should master r, or the zero ID to leave
// r where it is. A policy that names a replica the registry does not know
// returns a *replica.UnknownError; the export then fails and nothing
// changes.
type Policy interface {
	Master(ctx context.Context, q Querier, r Row) (replica.ID, error)
}

// Checker is implemented by policies that can check their own settings
// before any row is looked at (replicas named, tables and columns
// referred to). The library calls Check at the start of every export that
// applies the policy.
type Checker interface {
	Check(ctx context.Context, q Querier) error
}

// Creator is the default policy: the replica that creates a row masters
// it. It never moves a row.
type Creator struct{}

// Master returns the zero ID: the row stays with its creator.
func (Creator) Master(context.Context, Querier, Row) (replica.ID, error) { return "", nil }

// PerTable gives the rows created in a table to a replica named by table
// (by replica name or ID), e.g. PerTable{"defect": "bangalore"}. Tables not
// named keep the creating replica; rows that are not new are left alone.
type PerTable map[string]string

// Master returns the replica named for r's table if r is new.
func (p PerTable) Master(_ context.Context, q Querier, r Row) (replica.ID, error) {
	name, ok := p[r.Table]
	if !ok || !r.Created {
		return "", nil
	}
	return resolve(q, name)
}

// Check reports the first named replica the registry does not know.
func (p PerTable) Check(_ context.Context, q Querier) error {
	for _, name := range p {
		if _, err := resolve(q, name); err != nil {
			return err
		}
	}
	return nil
}

// Field gives a row to the site of the user named in one of its columns:
// the value of Column is looked up in Map, a (usually replicated) table of
// users, where MapKey equals it, and MapReplica there names the replica
// (by name or ID). A record assigned to a Bangalore engineer becomes
// mastered at Bangalore.
//
// Field decides new rows of Table only, unless OnChange is set: then every
// changed row of Table this replica masters follows its owner, so that
// assigning a record to a user of another site moves it there with the
// next packet. A value not found in Map, or NULL, leaves the row where it
// is.
type Field struct {
	Table, Column           string // e.g. "defect", "owner"
	Map, MapKey, MapReplica string // e.g. "users", "login", "site"
	OnChange                bool   // also move changed rows, not only new ones
}

// Master returns the replica the row's owner belongs to.
func (f Field) Master(ctx context.Context, q Querier, r Row) (replica.ID, error) {
	if r.Table != f.Table || (!r.Created && !f.OnChange) {
		return "", nil
	}
	owner := r.Values[f.Column]
	if owner == nil {
		return "", nil
	}
	site, ok, err := q.Lookup(ctx, f.Map, f.MapKey, owner, f.MapReplica)
	if err != nil || !ok || site == nil {
		return "", err
	}
	return resolve(q, text(site))
}

// Check checks that Table, Column, Map, MapKey and MapReplica exist.
func (f Field) Check(ctx context.Context, q Querier) error {
	if _, _, err := q.Lookup(ctx, f.Table, f.Column, nil, f.Column); err != nil {
		return err
	}
	_, _, err := q.Lookup(ctx, f.Map, f.MapKey, nil, f.MapReplica)
	return err
}

// Policies combines policies: the first that names a replica for a row
// decides it. An empty list is [Creator].
type Policies []Policy

// Master asks each policy in turn.
func (ps Policies) Master(ctx context.Context, q Querier, r Row) (replica.ID, error) {
	for _, p := range ps {
		if p == nil {
			continue
		}
		id, err := p.Master(ctx, q, r)
		if err != nil || !id.IsZero() {
			return id, err
		}
	}
	return "", nil
}

// Check checks every policy that is a [Checker].
func (ps Policies) Check(ctx context.Context, q Querier) error {
	for _, p := range ps {
		if c, ok := p.(Checker); ok {
			if err := c.Check(ctx, q); err != nil {
				return err
			}
		}
	}
	return nil
}

var (
	_ Policy  = Creator{}
	_ Policy  = PerTable(nil)
	_ Checker = PerTable(nil)
	_ Policy  = Field{}
	_ Checker = Field{}
	_ Policy  = Policies(nil)
	_ Checker = Policies(nil)
)

// resolve turns a replica name or ID into an ID.
func resolve(q Querier, nameOrID string) (replica.ID, error) {
	i, ok := q.Replica(nameOrID)
	if !ok {
		return "", &replica.UnknownError{ID: replica.ID(nameOrID)}
	}
	return i.ID, nil
}

func text(v any) string {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return fmt.Sprint(v)
}
