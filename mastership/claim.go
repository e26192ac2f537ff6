package mastership

import "github.com/multisite-go/multisite/replica"

// Claim is one record that holds, or claims, a value of a unique key
// (not the primary key) that another record holds too: two replicas
// created records with the same business key independently.
type Claim struct {
	Creator replica.ID // the replica that created the record
	Key     string     // the record's primary key, formatted as the import reports it
}

// Before reports whether c keeps a contested value ahead of d: the
// smaller creator, as for primary keys ([CreationWinner]), and for one
// creator the smaller primary key text. Every replica sees the same
// records with the same stamps, so each picks the same keeper and renames
// the same others, and all converge without talking to each other.
func (c Claim) Before(d Claim) bool {
	if c.Creator != d.Creator {
		return c.Creator < d.Creator
	}
	return c.Key < d.Key
}

// Keeper returns the index of the claim that keeps the value; every other
// claim is renamed. It returns -1 for no claims.
func Keeper(cs []Claim) int {
	best := -1
	for i, c := range cs {
		if best < 0 || c.Before(cs[best]) {
			best = i
		}
	}
	return best
}
