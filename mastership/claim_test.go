package mastership_test

import (
	"testing"

	"github.com/multisite-go/multisite/mastership"
)

func TestKeeper(t *testing.T) {
	tests := []struct {
		name   string
		claims []mastership.Claim
		want   int
	}{
		{"none", nil, -1},
		{"one", []mastership.Claim{{Creator: "b", Key: "1"}}, 0},
		{"smaller creator", []mastership.Claim{{Creator: "b", Key: "1"}, {Creator: "a", Key: "9"}}, 1},
		{"one creator: smaller key text", []mastership.Claim{{Creator: "a", Key: "9"}, {Creator: "a", Key: "10"}}, 1},
		{"creator before key", []mastership.Claim{{Creator: "c", Key: "0"}, {Creator: "b", Key: "5"}, {Creator: "b", Key: "3"}}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mastership.Keeper(tt.claims); got != tt.want {
				t.Errorf("Keeper = %d, want %d", got, tt.want)
			}
			for i, c := range tt.claims {
				if i != tt.want && !tt.claims[tt.want].Before(c) {
					t.Errorf("keeper %+v not before %+v", tt.claims[tt.want], c)
				}
				if c.Before(c) {
					t.Errorf("%+v before itself", c)
				}
			}
		})
	}
}
