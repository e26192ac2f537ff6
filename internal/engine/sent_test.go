package engine

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite/replica"
)

func TestExportBase(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) int64 { return now.Add(-d).UnixNano() }
	tests := []struct {
		name        string
		acked       replica.Vector
		sent        map[replica.ID]sentMark
		resendAfter time.Duration
		want        replica.Vector
		resent      map[replica.ID]bool
	}{
		{"nothing sent: from the acknowledgement", replica.Vector{"a": 3}, nil, 0, replica.Vector{"a": 3}, map[replica.ID]bool{}},
		{"sent beyond it: from what was sent", replica.Vector{"a": 3}, map[replica.ID]sentMark{"a": {7, ago(time.Hour)}}, 0, replica.Vector{"a": 7}, map[replica.ID]bool{}},
		{"acknowledged beyond what was sent", replica.Vector{"a": 9}, map[replica.ID]sentMark{"a": {7, ago(time.Hour)}}, 0, replica.Vector{"a": 9}, map[replica.ID]bool{}},
		{"overdue: sent again", replica.Vector{"a": 3}, map[replica.ID]sentMark{"a": {7, ago(time.Hour)}}, time.Minute, replica.Vector{"a": 3}, map[replica.ID]bool{"a": true}},
		{"not yet overdue", replica.Vector{"a": 3}, map[replica.ID]sentMark{"a": {7, ago(time.Second)}}, time.Minute, replica.Vector{"a": 7}, map[replica.ID]bool{}},
		{"lowered by a gap report: no timeout", replica.Vector{"a": 3}, map[replica.ID]sentMark{"a": {5, 0}}, time.Minute, replica.Vector{"a": 5}, map[replica.ID]bool{}},
		{"an origin only sent", replica.Vector{}, map[replica.ID]sentMark{"b": {2, ago(time.Second)}}, 0, replica.Vector{"b": 2}, map[replica.ID]bool{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, resent := exportBase(tt.acked, tt.sent, now, tt.resendAfter)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("base (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.resent, resent); diff != "" {
				t.Errorf("resent (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMissingParts(t *testing.T) {
	tests := []struct {
		name  string
		have  []int
		parts int
		want  []int
	}{
		{"all of three", []int{1, 2, 3}, 3, nil},
		{"last known, middle missing", []int{1, 3}, 3, []int{2}},
		{"last not come: below the highest", []int{3}, 0, []int{1, 2}},
		{"last come first", []int{4}, 4, []int{1, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, missingParts(tt.have, tt.parts)); diff != "" {
				t.Errorf("missing (-want +got):\n%s", diff)
			}
		})
	}
}
