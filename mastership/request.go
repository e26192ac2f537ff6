package mastership

import (
	"errors"
	"fmt"
)

// RequestState is where a mastership request stands. The zero state is a
// request not made yet.
//
// A request is a record that replicates like a row, and only the replica
// it is addressed to changes it, so its history is one chain. That is why
// its states form a simple machine: it is made pending by the requester;
// the replica it is addressed to settles it (granted, denied, failed) or
// sends it on to the row's master as it knows it (forwarded, possibly
// again); a settled request never changes again.
type RequestState string

// The request states.
const (
	RequestPending   RequestState = "pending"   // waiting for the master (or its administrator)
	RequestForwarded RequestState = "forwarded" // the row had moved; sent on to the master the last replica knew
	RequestGranted   RequestState = "granted"   // the row was transferred to the requester
	RequestDenied    RequestState = "denied"    // the master said no; the answer says why
	RequestFailed    RequestState = "failed"    // the row or its master is gone; the answer says why
)

// Open reports whether the request still waits for an answer: pending or
// forwarded.
func (s RequestState) Open() bool { return s == RequestPending || s == RequestForwarded }

// Valid reports whether s is one of the defined states (the zero state is
// not).
func (s RequestState) Valid() bool {
	switch s {
	case RequestPending, RequestForwarded, RequestGranted, RequestDenied, RequestFailed:
		return true
	}
	return false
}

// ErrTransition is returned for a move between request states that the
// state machine does not allow.
var ErrTransition = errors.New("mastership: request cannot move to that state")

// TransitionError reports a move the request state machine does not
// allow: from a settled state, to the zero or an unknown state, back to
// pending, or from nothing to anything but pending.
type TransitionError struct {
	From, To RequestState
}

func (e *TransitionError) Error() string {
	from := string(e.From)
	if from == "" {
		from = "(new)"
	}
	return fmt.Sprintf("mastership: a request cannot move from %s to %q", from, e.To)
}

// Unwrap returns ErrTransition.
func (e *TransitionError) Unwrap() error { return ErrTransition }

// Move checks the move of a request from state s to state to and returns
// a *TransitionError if it is not allowed:
//
//   - a new request (the zero state) can only be made pending;
//   - an open request (pending, forwarded) can be forwarded, granted,
//     denied or failed; staying pending is no move (a decision deferred
//     changes nothing, so it makes no new version);
//   - a settled request (granted, denied, failed) never moves: its answer
//     travels back to the requester, and a later change would start a
//     second answer.
func (s RequestState) Move(to RequestState) error {
	ok := false
	switch {
	case s == "":
		ok = to == RequestPending
	case s.Open():
		ok = to.Valid() && to != RequestPending
	}
	if !ok {
		return &TransitionError{From: s, To: to}
	}
	return nil
}
