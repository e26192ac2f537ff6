package replica_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite/replica"
)

func TestFence(t *testing.T) {
	tests := []struct {
		name    string
		counter uint64
		seen    replica.Vector
		want    uint64
	}{
		{"nobody saw it", 7, nil, 7},
		{"others behind", 7, replica.Vector{"me": 5, "x": 99}, 7},
		{"others caught up", 7, replica.Vector{"me": 7}, 7},
		{"restored from a backup: skip past", 4, replica.Vector{"me": 9}, 9},
		{"other origins do not fence", 4, replica.Vector{"x": 9}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := replica.Fence(tt.counter, "me", tt.seen); got != tt.want {
				t.Errorf("Fence = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestRestored(t *testing.T) {
	before := replica.Info{ID: "me", Name: "boston", State: replica.Active, Version: 4, Incarnation: 1}
	got := replica.Restored(before)
	want := replica.Info{ID: "me", Name: "boston", State: replica.Restoring, Version: 5, Incarnation: 2}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Restored (-want +got):\n%s", diff)
	}
	tests := []struct {
		name      string
		old, next replica.Info
		want      bool
	}{
		{"restored", before, got, true},
		{"same incarnation, newer version", before, replica.Info{Version: 9, Incarnation: 1}, false},
		{"older entry", got, before, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r := replica.Reincarnated(tt.old, tt.next); r != tt.want {
				t.Errorf("Reincarnated = %v, want %v", r, tt.want)
			}
			if tt.want && !replica.Newer(tt.next, tt.old) {
				t.Errorf("a reincarnated entry must supersede the old one")
			}
		})
	}
}
