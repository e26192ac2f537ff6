package mastership_test

import (
	"context"
	"errors"
	"testing"

	"github.com/multisite-go/multisite/mastership"
	"github.com/multisite-go/multisite/replica"
)

// fakeQuerier holds one users table (login -> site) and a registry.
type fakeQuerier struct {
	users map[string]any
}

var errNoTable = errors.New("no such table")

func (q fakeQuerier) Lookup(_ context.Context, table, keyColumn string, key any, column string) (any, bool, error) {
	if table != "users" || keyColumn != "login" || column != "site" {
		if table == "defect" && (keyColumn == "owner" || column == "owner") {
			return nil, false, nil
		}
		return nil, false, errNoTable
	}
	if key == nil {
		return nil, false, nil
	}
	v, ok := q.users[key.(string)]
	return v, ok, nil
}

func (fakeQuerier) Replica(nameOrID string) (replica.Info, bool) {
	for _, i := range []replica.Info{{ID: "b1", Name: "boston"}, {ID: "g2", Name: "bangalore"}} {
		if string(i.ID) == nameOrID || i.Name == nameOrID {
			return i, true
		}
	}
	return replica.Info{}, false
}

func (fakeQuerier) Local() replica.ID { return "b1" }

func TestPolicies(t *testing.T) {
	q := fakeQuerier{users: map[string]any{"alice": "boston", "bob": []byte("bangalore"), "gita": "g2", "eve": "atlantis", "nil": nil}}
	field := mastership.Field{Table: "defect", Column: "owner", Map: "users", MapKey: "login", MapReplica: "site"}
	follow := field
	follow.OnChange = true
	row := func(table, owner string, created bool) mastership.Row {
		return mastership.Row{Table: table, Key: []any{int64(1)}, Values: map[string]any{"owner": owner}, Created: created, Master: "b1"}
	}
	tests := []struct {
		name    string
		policy  mastership.Policy
		row     mastership.Row
		want    replica.ID
		unknown replica.ID // want a *replica.UnknownError for it
	}{
		{"creator keeps", mastership.Creator{}, row("defect", "bob", true), "", ""},
		{"field new row by name", field, row("defect", "bob", true), "g2", ""},
		{"field new row by ID", field, row("defect", "gita", true), "g2", ""},
		{"field local owner", field, row("defect", "alice", true), "b1", ""},
		{"field changed row left alone", field, row("defect", "bob", false), "", ""},
		{"field OnChange follows", follow, row("defect", "bob", false), "g2", ""},
		{"field other table", field, row("project", "bob", true), "", ""},
		{"field owner in no site", field, row("defect", "zed", true), "", ""},
		{"field NULL site", field, row("defect", "nil", true), "", ""},
		{"field unknown site", field, row("defect", "eve", true), "", "atlantis"},
		{"per table", mastership.PerTable{"defect": "bangalore"}, row("defect", "", true), "g2", ""},
		{"per table old row", mastership.PerTable{"defect": "bangalore"}, row("defect", "", false), "", ""},
		{"per table unknown", mastership.PerTable{"defect": "tokyo"}, row("defect", "", true), "", "tokyo"},
		{"first match: field", mastership.Policies{field, mastership.PerTable{"defect": "bangalore"}}, row("defect", "alice", true), "b1", ""},
		{"first match: fall through", mastership.Policies{nil, field, mastership.PerTable{"defect": "bangalore"}}, row("defect", "zed", true), "g2", ""},
		{"empty list", mastership.Policies{}, row("defect", "bob", true), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.policy.Master(context.Background(), q, tt.row)
			if tt.unknown != "" {
				var ue *replica.UnknownError
				if !errors.As(err, &ue) || ue.ID != tt.unknown {
					t.Fatalf("Master = %q, %v; want *replica.UnknownError for %s", got, err, tt.unknown)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Master = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestPolicyCheck(t *testing.T) {
	q := fakeQuerier{}
	field := mastership.Field{Table: "defect", Column: "owner", Map: "users", MapKey: "login", MapReplica: "site"}
	bad := field
	bad.Map = "people"
	tests := []struct {
		name   string
		policy mastership.Checker
		want   error
	}{
		{"field ok", field, nil},
		{"field bad map", bad, errNoTable},
		{"per table ok", mastership.PerTable{"defect": "g2"}, nil},
		{"per table unknown", mastership.PerTable{"defect": "tokyo"}, replica.ErrUnknown},
		{"list checks each", mastership.Policies{field, mastership.Creator{}, mastership.PerTable{"x": "tokyo"}}, replica.ErrUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.Check(context.Background(), q)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("Check = %v, want %v", err, tt.want)
			}
		})
	}
}
