package mastership_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite/mastership"
)

func TestRequestState_Move(t *testing.T) {
	const (
		none      = mastership.RequestState("")
		pending   = mastership.RequestPending
		forwarded = mastership.RequestForwarded
		granted   = mastership.RequestGranted
		denied    = mastership.RequestDenied
		failed    = mastership.RequestFailed
		bogus     = mastership.RequestState("lost")
	)
	all := []mastership.RequestState{none, pending, forwarded, granted, denied, failed, bogus}
	allowed := map[[2]mastership.RequestState]bool{
		{none, pending}:        true,
		{pending, forwarded}:   true,
		{pending, granted}:     true,
		{pending, denied}:      true,
		{pending, failed}:      true,
		{forwarded, forwarded}: true,
		{forwarded, granted}:   true,
		{forwarded, denied}:    true,
		{forwarded, failed}:    true,
	}
	for _, from := range all {
		for _, to := range all {
			err := from.Move(to)
			if allowed[[2]mastership.RequestState{from, to}] {
				if err != nil {
					t.Errorf("%q -> %q: %v, want allowed", from, to, err)
				}
				continue
			}
			var te *mastership.TransitionError
			if !errors.As(err, &te) || !errors.Is(err, mastership.ErrTransition) {
				t.Errorf("%q -> %q: %v, want *TransitionError", from, to, err)
				continue
			}
			if diff := cmp.Diff(mastership.TransitionError{From: from, To: to}, *te); diff != "" {
				t.Errorf("%q -> %q (-want +got):\n%s", from, to, diff)
			}
		}
	}
}

func TestRequestState_Open(t *testing.T) {
	tests := []struct {
		s           mastership.RequestState
		open, valid bool
	}{
		{"", false, false},
		{mastership.RequestPending, true, true},
		{mastership.RequestForwarded, true, true},
		{mastership.RequestGranted, false, true},
		{mastership.RequestDenied, false, true},
		{mastership.RequestFailed, false, true},
		{"Pending", false, false},
	}
	for _, tt := range tests {
		if tt.s.Open() != tt.open || tt.s.Valid() != tt.valid {
			t.Errorf("%q: Open %v Valid %v, want %v %v", tt.s, tt.s.Open(), tt.s.Valid(), tt.open, tt.valid)
		}
	}
}

func TestRoute(t *testing.T) {
	// here: the replica the request is addressed to; req asks; far masters elsewhere.
	base := mastership.Situation{Local: "here", Active: true, Row: true, Master: "here", Requester: "req",
		MasterMember: true, RequesterMember: true, Members: 3}
	with := func(f func(*mastership.Situation)) mastership.Situation {
		s := base
		f(&s)
		return s
	}
	tests := []struct {
		name  string
		s     mastership.Situation
		want  mastership.Step
		state mastership.RequestState
	}{
		{"mastered here: decide", base, mastership.StepDecide, ""},
		{"mastered here, not active: wait", with(func(s *mastership.Situation) { s.Active = false }), mastership.StepWait, ""},
		{"requester left the family", with(func(s *mastership.Situation) { s.RequesterMember = false }), mastership.StepNoRequester, mastership.RequestFailed},
		{"not active comes first", with(func(s *mastership.Situation) { s.Active, s.RequesterMember = false, false }), mastership.StepWait, ""},
		{"row gone", with(func(s *mastership.Situation) { s.Row = false }), mastership.StepNoRow, mastership.RequestFailed},
		{"requester masters it already", with(func(s *mastership.Situation) { s.Master = "req" }), mastership.StepAlready, mastership.RequestGranted},
		{"already granted even when not active", with(func(s *mastership.Situation) { s.Master, s.Active = "req", false }), mastership.StepAlready, mastership.RequestGranted},
		{"moved on: forward", with(func(s *mastership.Situation) { s.Master = "far" }), mastership.StepForward, mastership.RequestForwarded},
		{"forward while not active", with(func(s *mastership.Situation) { s.Master, s.Active = "far", false }), mastership.StepForward, mastership.RequestForwarded},
		{"master left the family", with(func(s *mastership.Situation) { s.Master, s.MasterMember = "far", false }), mastership.StepNoMaster, mastership.RequestFailed},
		{"last hop allowed", with(func(s *mastership.Situation) { s.Master, s.Hops = "far", mastership.MaxHops(3)-1 }), mastership.StepForward, mastership.RequestForwarded},
		{"too many hops", with(func(s *mastership.Situation) { s.Master, s.Hops = "far", mastership.MaxHops(3) }), mastership.StepTooFar, mastership.RequestFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mastership.Route(tt.s)
			if got != tt.want || got.State() != tt.state {
				t.Errorf("Route = %d (state %q), want %d (state %q)", got, got.State(), tt.want, tt.state)
			}
			// Every step that moves the request is a move the state
			// machine allows from an open state.
			if st := got.State(); st != "" {
				for _, from := range []mastership.RequestState{mastership.RequestPending, mastership.RequestForwarded} {
					if err := from.Move(st); err != nil {
						t.Errorf("step %d moves %s to %s: %v", got, from, st, err)
					}
				}
			}
		})
	}
}

func TestMaxHops(t *testing.T) {
	for _, n := range []int{1, 2, 5, 100} {
		if got := mastership.MaxHops(n); got <= n {
			t.Errorf("MaxHops(%d) = %d: a request must be able to visit every member", n, got)
		}
	}
}
