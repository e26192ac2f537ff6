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
