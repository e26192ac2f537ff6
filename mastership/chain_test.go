package mastership_test

import (
	"errors"
	"fmt"
	"github.com/google/go-cmp/cmp"
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
	tests := []struct {
		name string
		err  error
		want *mastership.NotMasterError // nil: returned unchanged
	}{
		{"with key (PostgreSQL, MariaDB)",
			errors.New("constraint failed: " + fmt.Sprintf(mastership.TriggerFormat, "defect", "17", "r1", "boston", "r2") + " (1811)"),
			&mastership.NotMasterError{Table: "defect", Key: "17", Master: "r1", By: "r2", MasterName: "boston"}},
		{"composite key",
			errors.New("ERROR: " + fmt.Sprintf(mastership.TriggerFormat, "defect_tag", "2,perf", "r1", "boston", "r2") + " (SQLSTATE P0001)"),
			&mastership.NotMasterError{Table: "defect_tag", Key: "2,perf", Master: "r1", By: "r2", MasterName: "boston"}},
		{"literal (SQLite)",
			errors.New("Runtime error near line 1: " + fmt.Sprintf(mastership.LiteralFormat, "defect", "r1", "boston", "r2") + " (19)"),
			&mastership.NotMasterError{Table: "defect", Master: "r1", By: "r2", MasterName: "boston"}},
		{"literal, table unknown",
			fmt.Errorf(mastership.LiteralFormat, "?", "r1", "boston", "r2"),
			&mastership.NotMasterError{Master: "r1", By: "r2", MasterName: "boston"}},
		{"literal, master unknown",
			fmt.Errorf(mastership.LiteralFormat, "defect", "?", "unknown replica", "r2"),
			&mastership.NotMasterError{Table: "defect", By: "r2"}},
		{"unrelated", errors.New("disk full"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := mastership.FromDriver(tt.err)
			if tt.want == nil {
				if err != tt.err {
					t.Errorf("FromDriver changed an unrelated error: %v", err)
				}
				return
			}
			var nm *mastership.NotMasterError
			if !errors.As(err, &nm) || !errors.Is(err, mastership.ErrNotMaster) {
				t.Fatalf("FromDriver = %v, want *NotMasterError", err)
			}
			if diff := cmp.Diff(tt.want, nm); diff != "" {
				t.Errorf("FromDriver (-want +got):\n%s", diff)
			}
		})
	}
}
