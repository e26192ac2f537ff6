package mastership_test

import (
	"testing"

	"github.com/multisite-go/multisite/mastership"
	"github.com/multisite-go/multisite/replica"
)

func TestDecide(t *testing.T) {
	img := func(creator replica.ID, version uint64, deleted bool) mastership.Image {
		return mastership.Image{Version: version, Creator: creator, Master: creator, Origin: creator, Epoch: 5, Deleted: deleted}
	}
	pruned := replica.Vector{"a": 4, "b": 9}
	tests := []struct {
		name     string
		held, in mastership.Image
		pruned   replica.Vector
		want     mastership.Outcome
	}{
		{"new row", mastership.Image{}, img("a", 1, false), nil, mastership.Create},
		{"new tombstone", mastership.Image{}, img("a", 3, true), nil, mastership.Create},
		{"new row beyond the horizon", mastership.Image{}, img("a", 1, false), pruned, mastership.Create}, // epoch 5 > 4
		{"pruned row stays dead", mastership.Image{}, img("b", 1, false), pruned, mastership.Dead},        // epoch 5 <= 9
		{"at the horizon is dead", mastership.Image{}, mastership.Image{Version: 2, Creator: "a", Origin: "a", Epoch: 4}, pruned, mastership.Dead},
		{"horizon of another origin", mastership.Image{}, mastership.Image{Version: 2, Creator: "b", Origin: "c", Epoch: 1}, pruned, mastership.Create},
		{"newer version", img("a", 2, false), img("a", 3, false), nil, mastership.Replace},
		{"newer tombstone", img("a", 2, false), img("a", 3, true), nil, mastership.Replace},
		{"newer image over a tombstone", img("a", 4, true), img("a", 5, false), nil, mastership.Replace},
		{"same version is the same image", img("a", 3, false), img("a", 3, false), nil, mastership.Keep},
		{"tie with a tombstone keeps", img("a", 3, true), img("a", 3, false), nil, mastership.Keep},
		{"older version", img("a", 7, false), img("a", 3, false), nil, mastership.Keep},
		{"older tombstone", img("a", 7, false), img("a", 3, true), nil, mastership.Keep},
		{"horizon ignored for a held row", img("b", 1, false), img("b", 2, false), pruned, mastership.Replace},
		{"conflict: smaller creator wins", img("b", 9, false), img("a", 1, false), nil, mastership.Won},
		{"conflict: larger creator loses", img("a", 1, false), img("b", 9, false), nil, mastership.Lost},
		{"conflict: tombstone of the winning chain", img("b", 1, false), img("a", 2, true), nil, mastership.Won},
		{"conflict: bytes, not letters", img("a", 1, false), img("B", 1, false), nil, mastership.Won},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mastership.Decide(tt.held, tt.in, tt.pruned); got != tt.want {
				t.Errorf("Decide = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDecide_Idempotent(t *testing.T) {
	// Applying the winner again never applies anything: whatever won is
	// what the replica then holds, and the same image again is a Keep.
	ims := []mastership.Image{
		{Version: 1, Creator: "a"}, {Version: 2, Creator: "a"}, {Version: 2, Creator: "a", Deleted: true},
		{Version: 1, Creator: "b"}, {Version: 5, Creator: "b"}, {},
	}
	for _, held := range ims {
		for _, in := range ims[:len(ims)-1] {
			o := mastership.Decide(held, in, nil)
			now := held
			if o.Applies() {
				now = in
			}
			if again := mastership.Decide(now, in, nil); again.Applies() {
				t.Errorf("held %+v, in %+v: %v, then again %v", held, in, o, again)
			}
		}
	}
}

func TestOutcome(t *testing.T) {
	tests := []struct {
		o                 mastership.Outcome
		name              string
		applies, conflict bool
	}{
		{mastership.Keep, "keep", false, false},
		{mastership.Create, "create", true, false},
		{mastership.Replace, "replace", true, false},
		{mastership.Dead, "dead", false, false},
		{mastership.Won, "won", true, true},
		{mastership.Lost, "lost", false, true},
		{mastership.Outcome(42), "outcome(?)", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.o.String() != tt.name || tt.o.Applies() != tt.applies || tt.o.Conflict() != tt.conflict {
				t.Errorf("%d: String %q Applies %v Conflict %v, want %q %v %v", tt.o, tt.o.String(), tt.o.Applies(), tt.o.Conflict(), tt.name, tt.applies, tt.conflict)
			}
		})
	}
}

func TestCreationWinner(t *testing.T) {
	tests := []struct {
		a, b, want replica.ID
	}{
		{"a", "b", "a"},
		{"b", "a", "a"},
		{"a", "a", "a"},
		{"0f", "a0", "0f"},
		{"Zed", "abe", "Zed"}, // byte order: upper case first
		{"ab", "abc", "ab"},
	}
	for _, tt := range tests {
		if got := mastership.CreationWinner(tt.a, tt.b); got != tt.want {
			t.Errorf("CreationWinner(%q, %q) = %q, want %q", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestMayChange(t *testing.T) {
	log := []mastership.Transfer{
		{Version: 3, From: "a", To: "b"},
		{Version: 5, From: "b", To: "c"},
		{Version: 7, From: "x", To: "y"}, // not made by the master: ignored
	}
	held := func(master replica.ID, v uint64) mastership.Image {
		return mastership.Image{Version: v, Creator: "a", Master: master}
	}
	in := func(origin replica.ID, v uint64) mastership.Image {
		return mastership.Image{Version: v, Creator: "a", Origin: origin}
	}
	tests := []struct {
		name       string
		held, in   mastership.Image
		log        []mastership.Transfer
		wantMaster replica.ID
		wantOK     bool
	}{
		{"the held master", held("a", 1), in("a", 2), nil, "a", true},
		{"not the master, no log", held("a", 1), in("b", 2), nil, "a", false},
		{"the transfer itself is the old master's", held("a", 2), in("a", 3), log, "a", true},
		{"after a transfer", held("a", 2), in("b", 4), log, "b", true},
		{"old master after the transfer", held("b", 4), in("a", 6), log, "c", false},
		{"two transfers", held("a", 1), in("c", 6), log, "c", true},
		{"a forged link is no link", held("c", 6), in("y", 8), log, "c", false},
		// A master that handed the row on had no right to a newer image:
		// the log says c masters it by version 6.
		{"the held master that handed the row on", held("a", 1), in("a", 6), log, "c", false},
		{"a row new here: its creator", mastership.Image{Master: "a"}, in("a", 1), log, "a", true},
		{"a row new here: the transfer chain", mastership.Image{Master: "a"}, in("c", 6), log, "c", true},
		{"a row new here: the creator after handing it on", mastership.Image{Master: "a"}, in("a", 4), log, "b", false},
		{"transfers before the held version are past", held("c", 5), in("b", 6), log, "c", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			master, ok := mastership.MayChange(tt.held, tt.in, tt.log)
			if master != tt.wantMaster || ok != tt.wantOK {
				t.Errorf("MayChange = %q, %v; want %q, %v", master, ok, tt.wantMaster, tt.wantOK)
			}
		})
	}
}
