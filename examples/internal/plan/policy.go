package plan

import (
	"context"
	"fmt"

	"github.com/multisite-go/multisite/mastership"
	"github.com/multisite-go/multisite/replica"
)

// MastershipPolicy returns the library policy that carries out the plan's
// mastership section, for ExportOptions.Policy: nil for ByCreator (the
// library's own behaviour), a mastership.PerTable for ByTable, and for
// ByField a policy that gives each new row to the site of the user named
// in its Mastership.Field column. Sites are turned into replica names. It
// returns a *ValidationError if the plan is invalid.
func (p *Plan) MastershipPolicy() (mastership.Policy, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	m := p.Mastership
	switch p.policy() {
	case ByTable:
		pt := mastership.PerTable{}
		for t, site := range m.Tables {
			s, _ := p.Site(site)
			pt[t] = s.ReplicaName()
		}
		return pt, nil
	case ByField:
		up := userPolicy{column: m.Field, users: map[string]string{}}
		for u, site := range m.Users {
			s, _ := p.Site(site)
			up.users[u] = s.ReplicaName()
		}
		return up, nil
	}
	return nil, nil
}

// userPolicy gives a new row of any table that has column to the replica
// its owner's site runs: the plan's users map, not a table, says where
// each user works.
type userPolicy struct {
	column string
	users  map[string]string // user -> replica name
}

var (
	_ mastership.Policy  = userPolicy{}
	_ mastership.Checker = userPolicy{}
)

// Master returns the replica of the row's owner, for new rows whose owner
// the plan lists; other rows stay where they are.
func (u userPolicy) Master(_ context.Context, q mastership.Querier, r mastership.Row) (replica.ID, error) {
	if !r.Created {
		return "", nil
	}
	owner, ok := r.Values[u.column].(string)
	if !ok {
		return "", nil
	}
	name, ok := u.users[owner]
	if !ok {
		return "", nil
	}
	i, ok := q.Replica(name)
	if !ok {
		return "", &replica.UnknownError{ID: replica.ID(name)}
	}
	return i.ID, nil
}

// Check reports a site in the users map that the family does not have yet.
func (u userPolicy) Check(_ context.Context, q mastership.Querier) error {
	for _, name := range u.users {
		if _, ok := q.Replica(name); !ok {
			return fmt.Errorf("plan: mastership.users names %s: %w", name, &replica.UnknownError{ID: replica.ID(name)})
		}
	}
	return nil
}
