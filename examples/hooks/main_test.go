package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestRun runs the example and checks that mastership followed the
// owners on every site: alice's defect, reassigned to bob, ended at
// bangalore; bob's, created for bob and reassigned to dana, at dublin.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	res, err := run(context.Background(), t.TempDir(), &out)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	// Keys come from each site's key range: boston (replica 0) hands out
	// 1, 2, ... and submitted both defects.
	want := map[int64]string{1: "bangalore", 2: "dublin"}
	for _, s := range []string{"boston", "bangalore", "dublin"} {
		if diff := cmp.Diff(want, res.Masters[s]); diff != "" {
			t.Errorf("masters at %s (-want +got):\n%s\noutput:\n%s", s, diff, out.String())
		}
	}
	wantRefused := []string{"boston: defect mastered by bangalore"}
	if diff := cmp.Diff(wantRefused, res.Refused); diff != "" {
		t.Errorf("refused writes (-want +got):\n%s", diff)
	}
}
