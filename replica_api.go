package multisite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/multisite-go/multisite/replica"
)

// UnknownReplicaError reports a replica name that db's registry does not
// know; errors.Is(err, replica.ErrUnknown).
type UnknownReplicaError struct {
	Name string // the name (or ID) looked up
}

func (e *UnknownReplicaError) Error() string {
	return fmt.Sprintf("multisite: no replica called %q in this family; import a packet from the replica that created it first", e.Name)
}

// Unwrap returns replica.ErrUnknown.
func (e *UnknownReplicaError) Unwrap() error { return replica.ErrUnknown }

// FindReplica returns the registry entry of the member of db's family
// called name, as db's replica knows it (names are unique in a family).
// If no member has that name, a member whose ID is name is returned, so a
// command line may take either. A removed member is found too: check
// Info.State. An unknown name is an *UnknownReplicaError
// (errors.Is(err, replica.ErrUnknown)).
func FindReplica(ctx context.Context, db *sql.DB, name string) (replica.Info, error) {
	st, err := ReadStatus(ctx, db)
	if err != nil {
		return replica.Info{}, err
	}
	return findReplica(st.Replicas, name)
}

// findReplica looks name up in a registry, by name first, then by ID.
func findReplica(reg []replica.Info, name string) (replica.Info, error) {
	if name != "" {
		for _, r := range reg {
			if r.Name == name {
				return r, nil
			}
		}
		for _, r := range reg {
			if string(r.ID) == name {
				return r, nil
			}
		}
	}
	return replica.Info{}, &UnknownReplicaError{Name: name}
}
