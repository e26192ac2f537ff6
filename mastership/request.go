package mastership

import (
	"errors"
	"fmt"

	"github.com/multisite-go/multisite/replica"
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

// Situation is what the replica a request is addressed to finds when it
// acts on the request; see [Route].
type Situation struct {
	Local     replica.ID // the replica acting: the request is addressed to it
	Active    bool       // Local is active; a receive-only or restoring replica decides nothing yet
	Row       bool       // the row exists here
	Master    replica.ID // the row's master here (if Row)
	Requester replica.ID
	// MasterMember and RequesterMember report whether the row's master
	// and the requester are members Local knows and that are not removed.
	MasterMember, RequesterMember bool
	Hops                          int // times the request was forwarded so far
	Members                       int // members in Local's registry (see [MaxHops])
}

// Step is what the replica a request is addressed to does with it.
type Step int

// The steps of [Route].
const (
	// StepWait: nothing changes yet (the local replica is not active).
	StepWait Step = iota
	// StepDecide: the row is mastered here; the OnRequest hook or an
	// administrator grants (the row is transferred), denies or defers.
	StepDecide
	// StepAlready: the requester masters the row already; the request is
	// granted with nothing to transfer.
	StepAlready
	// StepForward: the row is mastered elsewhere; the request is sent on,
	// addressed to that master.
	StepForward
	// StepNoRow: the row is gone here; the request fails.
	StepNoRow
	// StepNoRequester: the requester is not an active member; it fails.
	StepNoRequester
	// StepNoMaster: the row's master is not an active member; it fails.
	StepNoMaster
	// StepTooFar: forwarded [MaxHops] times already; it fails.
	StepTooFar
)

// State returns the state a request moves to by step s; the zero state
// for StepWait (no move) and StepDecide (the decision says).
func (s Step) State() RequestState {
	switch s {
	case StepAlready:
		return RequestGranted
	case StepForward:
		return RequestForwarded
	case StepNoRow, StepNoRequester, StepNoMaster, StepTooFar:
		return RequestFailed
	}
	return ""
}

// MaxHops is how often a request may be forwarded in a family of members
// replicas: more means the members' views of the row's master keep
// pointing at each other, and the request fails instead of circling.
func MaxHops(members int) int { return 2*members + 2 }

// Route says what the replica a request is addressed to does with it.
//
// A request reaches the master whatever the topology because each replica
// it is addressed to either decides it or sends it on to the master as it
// knows it; transfers travel on the row's chain, so each hop's view is
// newer than the last and the request follows the row. A requester that
// masters the row already is granted (a transfer it asked for may have
// come by another way); a row that is gone, or a master or requester that
// left the family, fails the request with the reason, so nobody waits
// forever. Only the master decides, and only while active.
func Route(s Situation) Step {
	switch {
	case !s.Row:
		return StepNoRow
	case s.Master == s.Requester:
		return StepAlready
	case s.Master == s.Local:
		if !s.Active {
			return StepWait
		}
		if !s.RequesterMember {
			return StepNoRequester
		}
		return StepDecide
	case !s.MasterMember:
		return StepNoMaster
	case s.Hops >= MaxHops(s.Members):
		return StepTooFar
	default:
		return StepForward
	}
}
