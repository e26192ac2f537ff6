package replica

import (
	"errors"
	"fmt"
)

var (
	// ErrUnknown is returned for a replica the local registry does not know.
	ErrUnknown = errors.New("replica: unknown replica")
	// ErrReceiveOnly is returned when a receive-only replica is asked to
	// export or write.
	ErrReceiveOnly = errors.New("replica: replica is receive-only")
	// ErrRemoved is returned for a replica that has left the family.
	ErrRemoved = errors.New("replica: replica was removed")
	// ErrGap is returned when a packet assumes the receiver holds changes it
	// does not: importing it would skip them.
	ErrGap = errors.New("replica: packet would leave a gap")
)

// UnknownError names the replica that is not in the registry.
type UnknownError struct {
	ID ID
}

func (e *UnknownError) Error() string {
	return fmt.Sprintf("replica: unknown replica %q; import a packet from the replica that created it first", e.ID)
}

// Unwrap returns ErrUnknown.
func (e *UnknownError) Unwrap() error { return ErrUnknown }

// GapError reports the first origin whose changes a packet assumes the
// receiver has but it does not.
type GapError struct {
	Origin ID
	Have   uint64 // epoch the receiver holds of Origin
	Base   uint64 // epoch the packet starts after
}

func (e *GapError) Error() string {
	return fmt.Sprintf("replica: packet starts after epoch %d of %s but this replica holds only %d; ask the sender for a new packet (its view of this replica is ahead)", e.Base, e.Origin, e.Have)
}

// Unwrap returns ErrGap.
func (e *GapError) Unwrap() error { return ErrGap }
