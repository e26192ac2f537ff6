package replica_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite/replica"
)

func TestLacks(t *testing.T) {
	tests := []struct {
		name         string
		have, target replica.Vector
		want         map[replica.ID]uint64
	}{
		{"nothing held", nil, replica.Vector{"a": 3}, map[replica.ID]uint64{}},
		{"target up to date", replica.Vector{"a": 3, "b": 1}, replica.Vector{"a": 3, "b": 1}, map[replica.ID]uint64{}},
		{"target knows nothing", replica.Vector{"a": 3}, nil, map[replica.ID]uint64{"a": 0}},
		{"target behind on one", replica.Vector{"a": 3, "b": 5}, replica.Vector{"a": 3, "b": 2}, map[replica.ID]uint64{"b": 2}},
		{"target ahead is not sent back", replica.Vector{"a": 3}, replica.Vector{"a": 9, "c": 1}, map[replica.ID]uint64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, replica.Lacks(tt.have, tt.target)); diff != "" {
				t.Errorf("Lacks (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckGap(t *testing.T) {
	tests := []struct {
		name       string
		have, base replica.Vector
		want       *replica.GapError
	}{
		{"first packet", nil, nil, nil},
		{"starts where we are", replica.Vector{"a": 3}, replica.Vector{"a": 3}, nil},
		{"starts before (overlap)", replica.Vector{"a": 3}, replica.Vector{"a": 1}, nil},
		{"origin we lack entirely", nil, replica.Vector{"a": 0}, nil},
		{"gap", replica.Vector{"a": 3}, replica.Vector{"a": 4}, &replica.GapError{Origin: "a", Have: 3, Base: 4}},
		{"gap on an origin we never saw", replica.Vector{"a": 3}, replica.Vector{"b": 2}, &replica.GapError{Origin: "b", Have: 0, Base: 2}},
		{"first in origin order", replica.Vector{"a": 1}, replica.Vector{"c": 2, "b": 7, "a": 1}, &replica.GapError{Origin: "b", Have: 0, Base: 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := replica.CheckGap(tt.have, tt.base)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("CheckGap = %v, want nil", err)
				}
				return
			}
			var ge *replica.GapError
			if !errors.As(err, &ge) || !errors.Is(err, replica.ErrGap) {
				t.Fatalf("CheckGap = %v, want *GapError", err)
			}
			if diff := cmp.Diff(tt.want, ge); diff != "" {
				t.Errorf("GapError (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBrings(t *testing.T) {
	tests := []struct {
		name             string
		have, base, upto replica.Vector
		want             map[replica.ID][2]uint64
	}{
		{"duplicate", replica.Vector{"a": 5}, replica.Vector{"a": 2}, replica.Vector{"a": 5}, map[replica.ID][2]uint64{}},
		{"older packet", replica.Vector{"a": 5}, replica.Vector{"a": 1}, replica.Vector{"a": 3}, map[replica.ID][2]uint64{}},
		{"new epochs", replica.Vector{"a": 2}, replica.Vector{"a": 2}, replica.Vector{"a": 6}, map[replica.ID][2]uint64{"a": {2, 6}}},
		{"overlap starts at what is held", replica.Vector{"a": 4}, replica.Vector{"a": 1}, replica.Vector{"a": 6}, map[replica.ID][2]uint64{"a": {4, 6}}},
		{"new origin", nil, nil, replica.Vector{"b": 3}, map[replica.ID][2]uint64{"b": {0, 3}}},
		{"mixed", replica.Vector{"a": 4, "b": 9}, replica.Vector{"a": 4, "b": 9}, replica.Vector{"a": 5, "b": 9}, map[replica.ID][2]uint64{"a": {4, 5}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, replica.Brings(tt.have, tt.base, tt.upto)); diff != "" {
				t.Errorf("Brings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHoldsShort(t *testing.T) {
	v := replica.Vector{"a": 3, "b": 0}
	holds := []struct {
		origin replica.ID
		epoch  uint64
		want   bool
	}{
		{"a", 1, true}, {"a", 3, true}, {"a", 4, false}, {"b", 1, false}, {"c", 1, false}, {"c", 0, true},
	}
	for _, tt := range holds {
		if got := v.Holds(tt.origin, tt.epoch); got != tt.want {
			t.Errorf("Holds(%s, %d) = %v, want %v", tt.origin, tt.epoch, got, tt.want)
		}
	}
	shorts := []struct {
		name   string
		v, o   replica.Vector
		origin replica.ID
		short  bool
	}{
		{"covers", replica.Vector{"a": 3}, replica.Vector{"a": 2}, "", false},
		{"empty other", nil, nil, "", false},
		{"zero entries cost nothing", nil, replica.Vector{"a": 0}, "", false},
		{"short on one", replica.Vector{"a": 3, "b": 1}, replica.Vector{"a": 3, "b": 2}, "b", true},
		{"first in order", nil, replica.Vector{"z": 1, "m": 1}, "m", true},
	}
	for _, tt := range shorts {
		t.Run(tt.name, func(t *testing.T) {
			origin, short := tt.v.Short(tt.o)
			if origin != tt.origin || short != tt.short {
				t.Errorf("Short = %q, %v; want %q, %v", origin, short, tt.origin, tt.short)
			}
			if tt.v.Covers(tt.o) == short {
				t.Errorf("Covers = %v disagrees with Short = %v", tt.v.Covers(tt.o), short)
			}
		})
	}
}
