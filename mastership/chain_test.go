package mastership_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/multisite-go/multisite/mastership"
	"github.com/multisite-go/multisite/replica"
)

func TestChain(t *testing.T) {
	log := []mastership.Transfer{
		{Version: 2, From: "a", To: "b"},
		{Version: 4, From: "b", To: "c"},
		{Version: 6, From: "x", To: "x2"}, // not made by the master: ignored
	}
	tests := []struct {
		name   string
		master replica.ID
		have   uint64
		v      uint64
		want   replica.ID
	}{
		{"no transfers before", "a", 1, 2, "a"},
		{"one transfer", "a", 1, 3, "b"},
		{"two transfers", "a", 1, 5, "c"},
		{"already past first", "b", 2, 5, "c"},
		{"forged link ignored", "c", 4, 7, "c"},
		{"transfer at v itself not counted", "a", 1, 4, "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mastership.Chain(tt.master, tt.have, tt.v, log); got != tt.want {
				t.Errorf("Chain = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFromDriver(t *testing.T) {
	raw := errors.New("constraint failed: " + fmt.Sprintf(mastership.TriggerFormat, "defect", "17", "r1", "boston", "r2") + " (1811)")
	err := mastership.FromDriver(raw)
	var nm *mastership.NotMasterError
	if !errors.As(err, &nm) || !errors.Is(err, mastership.ErrNotMaster) {
		t.Fatalf("FromDriver = %v, want *NotMasterError", err)
	}
	if nm.Table != "defect" || nm.Key != "17" || nm.Master != "r1" || nm.By != "r2" {
		t.Errorf("parsed %+v", nm)
	}
	other := errors.New("disk full")
	if got := mastership.FromDriver(other); got != other {
		t.Errorf("unrelated error changed: %v", got)
	}
}
