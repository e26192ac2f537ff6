package plan_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/multisite-go/multisite/examples/internal/plan"
	"github.com/multisite-go/multisite/mastership"
)

// TestMastershipPolicy: the plan's policy becomes the library policy, with
// sites turned into replica names.
func TestMastershipPolicy(t *testing.T) {
	byTable := base()
	byTable.Sites[1].Replica = "blr"
	byTable.Mastership = plan.Mastership{Policy: plan.ByTable, Tables: map[string]string{"defect": "bangalore", "note": "boston"}}
	pol, err := byTable.MastershipPolicy()
	if err != nil {
		t.Fatalf("MastershipPolicy: %v", err)
	}
	if d := cmp.Diff(mastership.PerTable{"defect": "blr", "note": "boston"}, pol); d != "" {
		t.Errorf("table policy (-want +got):\n%s", d)
	}

	creator := base()
	if pol, err := creator.MastershipPolicy(); pol != nil || err != nil {
		t.Errorf("creator policy = %v, %v; want nil, nil", pol, err)
	}

	field := base()
	field.Mastership = plan.Mastership{Policy: plan.ByField, Field: "owner", Users: map[string]string{"bala": "bangalore"}}
	if pol, err := field.MastershipPolicy(); pol == nil || err != nil {
		t.Errorf("field policy = %v, %v; want a policy", pol, err)
	}

	bad := base()
	bad.Mastership = plan.Mastership{Policy: plan.ByTable}
	if _, err := bad.MastershipPolicy(); err == nil {
		t.Errorf("MastershipPolicy of an invalid plan: no error")
	}
}

// TestValidateHTTP: transport http needs URLs that are URLs, and someone
// to serve on every link.
func TestValidateHTTP(t *testing.T) {
	tests := []struct {
		name string
		edit func(p *plan.Plan)
		want []string
	}{
		{"hub serves", func(p *plan.Plan) { p.Sites[0].URL = "https://boston:8443" }, nil},
		{"nobody serves", func(p *plan.Plan) {}, []string{"sites: transport http needs at least one site with a url (where multiutil serve runs)"}},
		{"not a url", func(p *plan.Plan) { p.Sites[0].URL = "ftp://boston" }, []string{`sites[0].url: "ftp://boston" is not an http:// or https:// URL`}},
		{"spokes only", func(p *plan.Plan) { p.Sites[1].URL = "http://blr:80" }, []string{
			"sync: boston and dublin exchange packets, but neither has a url: give one of them a url"}},
		{"listen without url", func(p *plan.Plan) { p.Sites[0].URL = "https://boston"; p.Sites[1].Listen = ":80" }, []string{
			"sites[1].listen: only for a site with a url: the others serve nothing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := base()
			p.Transport = plan.Transport{Kind: plan.HTTP}
			tt.edit(p)
			if d := cmp.Diff(tt.want, problems(t, p)); d != "" {
				t.Errorf("problems (-want +got):\n%s", d)
			}
		})
	}
}

func TestTokenVar(t *testing.T) {
	for _, tt := range []struct {
		site plan.Site
		want string
	}{
		{plan.Site{Name: "new-york.1"}, "MULTISITE_TOKEN_NEW_YORK_1"},
		{plan.Site{Name: "x", Replica: "blr"}, "MULTISITE_TOKEN_BLR"},
		{plan.Site{Name: "x", TokenEnv: "MINE"}, "MINE"},
	} {
		if got := tt.site.TokenVar(); got != tt.want {
			t.Errorf("%+v.TokenVar() = %q, want %q", tt.site, got, tt.want)
		}
	}
}
