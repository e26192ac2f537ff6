package main

import (
	"strings"
	"testing"

	"github.com/multisite-go/multisite/replica"
)

func TestHumanize(t *testing.T) {
	e := &env{who: map[replica.ID]string{"1536024ca341b9a0": "bangalore", "23300ab9cf7dee41": "boston"}}
	tests := []struct{ in, want string }{
		{"constraint failed: multisite: not master: defect[2] is mastered by 1536024ca341b9a0 (bangalore), not 23300ab9cf7dee41; ask the master to transfer it (1811)",
			"multisite: not master: defect[2] is mastered by bangalore, not boston; ask the master to transfer it"},
		{"mastership: defect[2] is mastered by 1536024ca341b9a0", "mastership: defect[2] is mastered by bangalore"},
		{"replica: unknown replica \"ffff000011112222\"", "replica: unknown replica \"ffff000011112222\""},
		{"export for boston: disk full", "export for boston: disk full"},
	}
	for _, tt := range tests {
		if got := e.humanize(tt.in); got != tt.want {
			t.Errorf("humanize(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

// TestMessagesNameReplicas: a refused transfer names the master by name.
func TestMessagesNameReplicas(t *testing.T) {
	f := newFamily(t)
	_, stderr := multiutil(t, exitFail, "chmaster", "--db", f.blr, "--table", "defect", "--to", "boston", "--key", "2")
	if !strings.Contains(stderr, "boston") || strings.Contains(stderr, f.bostonID) || strings.Contains(stderr, f.blrID) {
		t.Errorf("message %q does not name the replicas by name alone", stderr)
	}
}
