package replica_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite/replica"
)

func TestVector(t *testing.T) {
	tests := []struct {
		name       string
		a, b       replica.Vector
		wantMerged replica.Vector
		aCoversB   bool
	}{
		{"empty", nil, nil, replica.Vector{}, true},
		{"disjoint", replica.Vector{"a": 1}, replica.Vector{"b": 2}, replica.Vector{"a": 1, "b": 2}, false},
		{"ahead", replica.Vector{"a": 5, "b": 2}, replica.Vector{"a": 3}, replica.Vector{"a": 5, "b": 2}, true},
		{"behind", replica.Vector{"a": 1}, replica.Vector{"a": 3}, replica.Vector{"a": 3}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Covers(tt.b); got != tt.aCoversB {
				t.Errorf("Covers = %v, want %v", got, tt.aCoversB)
			}
			m := tt.a.Clone()
			m.Merge(tt.b)
			if diff := cmp.Diff(tt.wantMerged, m); diff != "" {
				t.Errorf("Merge (-want +got):\n%s", diff)
			}
		})
	}
}

func TestKeyRange(t *testing.T) {
	lo0, hi0 := replica.KeyRange(0)
	lo1, hi1 := replica.KeyRange(1)
	if lo0 != 1 || hi0 >= lo1 || lo1 > hi1 {
		t.Fatalf("ranges overlap or are empty: [%d,%d] [%d,%d]", lo0, hi0, lo1, hi1)
	}
}

func ExampleVector_String() {
	v := replica.Vector{"boston": 7, "bangalore": 3}
	fmt.Println(v.String())
	// Output: bangalore:3 boston:7
}
