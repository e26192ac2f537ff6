package plan_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/multisite-go/multisite/examples/internal/plan"
)

// base is a valid three-site plan the cases below break.
func base() *plan.Plan {
	return &plan.Plan{
		Family:   "defects",
		CodePage: "windows-1252",
		Sites: []plan.Site{
			{Name: "boston", Vendor: plan.SQLite, Working: true},
			{Name: "bangalore", Vendor: plan.MySQL},
			{Name: "dublin", Vendor: plan.Postgres},
		},
		Sync:      plan.Sync{Pattern: plan.HubAndSpoke, Hub: "boston", Every: "15m"},
		Transport: plan.Transport{Bay: "/mnt/bay"},
	}
}

// problems validates p and returns its problems as "path: msg".
func problems(t *testing.T, p *plan.Plan) []string {
	t.Helper()
	err := p.Validate()
	if err == nil {
		return nil
	}
	require.ErrorIs(t, err, plan.ErrInvalidPlan)
	var ve *plan.ValidationError
	require.ErrorAs(t, err, &ve)
	var out []string
	for _, pr := range ve.Problems {
		out = append(out, pr.String())
	}
	return out
}

func TestValidateValid(t *testing.T) {
	for _, f := range []string{"testdata/family.yaml", "testdata/ring.json", "../../plan/family.yaml"} {
		p, err := plan.LoadFile(f)
		require.NoError(t, err)
		if got := problems(t, p); got != nil {
			t.Errorf("%s: %q", f, got)
		}
	}
	one := &plan.Plan{Family: "solo", CodePage: "UTF-8", Sites: []plan.Site{{Name: "only", Vendor: plan.SQLite, Working: true}},
		Transport: plan.Transport{Kind: plan.Custom, Description: "none needed"}}
	if got := problems(t, one); got != nil {
		t.Errorf("one site without sync: %q", got)
	}
	if got := problems(t, base()); got != nil {
		t.Errorf("base: %q", got)
	}
}

// TestValidateProblems breaks the base plan one way at a time; each case
// lists every problem Validate must report (path, then a piece of the
// message), and nothing else.
func TestValidateProblems(t *testing.T) {
	type want struct{ path, msg string }
	tests := []struct {
		name   string
		change func(p *plan.Plan)
		want   []want
	}{
		{"no family", func(p *plan.Plan) { p.Family = " " }, []want{{"family", "required"}}},
		{"no sites", func(p *plan.Plan) { p.Sites = nil; p.Sync = plan.Sync{} }, []want{{"sites", "no sites"}}},
		{"no code page", func(p *plan.Plan) { p.CodePage = "" }, []want{{"codepage", "required"}}},
		{"unknown code page with suggestions", func(p *plan.Plan) { p.CodePage = "windows-1525" },
			[]want{{"codepage", `unknown code page "windows-1525"; did you mean windows-1255, windows-1250`}}},
		{"duplicate site name", func(p *plan.Plan) { p.Sites[2].Name = "Boston" },
			[]want{{"sites[2].name", `"Boston" already names sites[0] (sites[0].name)`}}},
		{"replica name of another site", func(p *plan.Plan) { p.Sites[1].Replica = "dublin" },
			[]want{{"sites[2].name", `"dublin" already names sites[1] (sites[1].replica)`}}},
		{"unusable replica name", func(p *plan.Plan) { p.Sites[1].Name = "Bangalore office" },
			[]want{{"sites[1].replica", `the site name "Bangalore office" is not a usable replica name`}}},
		{"bad explicit replica name", func(p *plan.Plan) { p.Sites[1].Replica = "blr/1" },
			[]want{{"sites[1].replica", `"blr/1" is not a usable replica name`}}},
		{"unknown vendor", func(p *plan.Plan) { p.Sites[2].Vendor = "oracle" },
			[]want{{"sites[2].vendor", `unknown vendor "oracle": use sqlite, postgres, mysql`}}},
		{"missing vendor", func(p *plan.Plan) { p.Sites[1].Vendor = "" }, []want{{"sites[1].vendor", "required"}}},
		{"DSNs of the wrong form", func(p *plan.Plan) {
			p.Sites[0].DSN, p.Sites[1].DSN, p.Sites[2].DSN = "postgres://x/y", "mysql://root@tcp(h)/d", "host=x dbname=y"
		}, []want{{"sites[0].dsn", "file's path"}, {"sites[1].dsn", "go-sql-driver's form"}, {"sites[2].dsn", "postgres://"}}},
		{"no working site", func(p *plan.Plan) { p.Sites[0].Working = false }, []want{{"sites", "no site is the working site"}}},
		{"two working sites", func(p *plan.Plan) { p.Sites[2].Working = true },
			[]want{{"sites[2].working", "boston (sites[0]) is already the working site"}}},
		{"no pattern", func(p *plan.Plan) { p.Sync = plan.Sync{} }, []want{{"sync.pattern", "required for a family of 3 sites"}}},
		{"unknown pattern", func(p *plan.Plan) { p.Sync.Pattern = "star" }, []want{{"sync.pattern", `unknown pattern "star"`}}},
		{"hub not a site", func(p *plan.Plan) { p.Sync.Hub = "paris" },
			[]want{{"sync.hub", `unknown site "paris"; the plan's sites are boston, bangalore, dublin`}}},
		{"hub in the wrong case", func(p *plan.Plan) { p.Sync.Hub = "Boston" }, []want{{"sync.hub", "did you mean boston?"}}},
		{"no hub", func(p *plan.Plan) { p.Sync.Hub = "" }, []want{{"sync.hub", "required for pattern hub-and-spoke"}}},
		{"hub-and-spoke cycle", func(p *plan.Plan) { p.Sync.Links = []plan.Link{{From: "bangalore", To: "dublin", Every: "1h"}} },
			[]want{{"sync.links[0]", "bangalore–dublin closes a cycle bangalore → boston → dublin → bangalore"}}},
		{"hub-and-spoke overrides", func(p *plan.Plan) {
			p.Sync.Links = []plan.Link{{From: "boston", To: "dublin", Every: "1h"}, {From: "dublin", To: "boston", Every: "2h"}, {From: "boston", To: "bangalore", OneWay: true}}
		}, []want{{"sync.links[1]", "a second link between boston and dublin (first at sync.links[0])"}, {"sync.links[2].every", "required"}, {"sync.links[2].oneway", "both ways"}}},
		{"non-positive and unreadable intervals", func(p *plan.Plan) {
			p.Sync.Every = "0s"
			p.Sync.Links = []plan.Link{{From: "boston", To: "dublin", Every: "-5m"}, {From: "boston", To: "bangalore", Every: "15 minutes"}}
		}, []want{{"sync.every", `"0s" is not a positive interval`}, {"sync.links[0].every", `"-5m" is not a positive interval`}, {"sync.links[1].every", `"15 minutes" is not an interval`}}},
		{"no interval", func(p *plan.Plan) { p.Sync.Every = "" }, []want{{"sync.every", "required"}}},
		{"ring: unknown, repeated and missing sites", func(p *plan.Plan) {
			p.Sync = plan.Sync{Pattern: plan.Ring, Order: []string{"boston", "paris", "boston"}, Every: "1h"}
		}, []want{{"sync.order[1]", `unknown site "paris"`}, {"sync.order[2]", "boston already is sync.order[0]"}, {"sync.order", "leaves out bangalore, dublin"}}},
		{"ring leaves a site out", func(p *plan.Plan) {
			p.Sync = plan.Sync{Pattern: plan.Ring, Order: []string{"boston", "dublin"}, Every: "1h"}
		}, []want{{"sync.order", "leaves out bangalore"}}},
		{"fields of another pattern", func(p *plan.Plan) {
			p.Sync = plan.Sync{Pattern: plan.AllToAll, Hub: "boston", Order: []string{"boston"}, Links: []plan.Link{{From: "boston", To: "dublin"}}, Every: "1h"}
		}, []want{{"sync.hub", "only for pattern hub-and-spoke"}, {"sync.order", "only for pattern ring"}, {"sync.links", "makes its links itself"}}},
		{"links: unknown site and a link to itself", func(p *plan.Plan) {
			p.Sync = plan.Sync{Pattern: plan.Links, Every: "1h", Links: []plan.Link{
				{From: "boston", To: "bangalore"}, {From: "boston", To: "dublin"}, {From: "dublin", To: "dublin"}, {From: "cairo", To: "boston"}}}
		}, []want{{"sync.links[2]", "links dublin to itself"}, {"sync.links[3].from", `unknown site "cairo"`}}},
		{"links: a site cut off", func(p *plan.Plan) {
			p.Sync = plan.Sync{Pattern: plan.Links, Every: "1h", Links: []plan.Link{{From: "boston", To: "bangalore"}}}
		}, []want{
			{"sync.links", "no path of links from boston to dublin: dublin would never receive boston's changes"},
			{"sync.links", "no path of links from dublin to boston: dublin's changes would never reach boston"}}},
		{"links: one way round is not enough", func(p *plan.Plan) {
			p.Sync = plan.Sync{Pattern: plan.Links, Every: "1h", Links: []plan.Link{
				{From: "boston", To: "bangalore", OneWay: true}, {From: "bangalore", To: "dublin", OneWay: true}}}
		}, []want{
			{"sync.links", "no path of links from bangalore to boston"},
			{"sync.links", "no path of links from dublin to boston"}}},
		{"links: repeated", func(p *plan.Plan) {
			p.Sync = plan.Sync{Pattern: plan.Links, Links: []plan.Link{
				{From: "boston", To: "bangalore", Every: "1h"}, {From: "boston", To: "dublin", Every: "1h"}, {From: "bangalore", To: "boston", OneWay: true, Every: "2h"}, {From: "dublin", To: "bangalore"}}}
		}, []want{{"sync.links[2]", "repeats the link bangalore → boston of sync.links[0]"}, {"sync.links[3].every", "no interval"}}},
		{"tree: cycle", func(p *plan.Plan) {
			p.Sync = plan.Sync{Pattern: plan.Tree, Every: "1h", Links: []plan.Link{
				{From: "boston", To: "bangalore"}, {From: "bangalore", To: "dublin"}, {From: "dublin", To: "boston"}}}
		}, []want{{"sync.links[2]", "dublin–boston closes a cycle dublin → bangalore → boston → dublin"}}},
		{"tree: one-way link and a cut-off site", func(p *plan.Plan) {
			p.Sync = plan.Sync{Pattern: plan.Tree, Every: "1h", Links: []plan.Link{{From: "boston", To: "bangalore", OneWay: true}}}
		}, []want{{"sync.links[0].oneway", "a tree link carries packets both ways"}}},
		{"tree: cut-off site", func(p *plan.Plan) {
			p.Sync = plan.Sync{Pattern: plan.Tree, Every: "1h", Links: []plan.Link{{From: "boston", To: "bangalore"}}}
		}, []want{{"sync.links", "no path of links from boston to dublin"}, {"sync.links", "no path of links from dublin to boston"}}},
		{"no links", func(p *plan.Plan) { p.Sync = plan.Sync{Pattern: plan.Tree, Every: "1h"} }, []want{{"sync.links", "required for pattern tree"}}},
		{"field policy without field or users", func(p *plan.Plan) { p.Mastership = plan.Mastership{Policy: plan.ByField} },
			[]want{{"mastership.field", "required"}, {"mastership.users", "required"}}},
		{"field policy naming an unknown site", func(p *plan.Plan) {
			p.Mastership = plan.Mastership{Policy: plan.ByField, Field: "owner", Users: map[string]string{"ann": "boston", "zed": "zurich"}}
		}, []want{{"mastership.users.zed", `unknown site "zurich"`}}},
		{"table policy: unknown site, excluded and reserved tables", func(p *plan.Plan) {
			p.Exclude = []string{"scratch"}
			p.Mastership = plan.Mastership{Policy: plan.ByTable, Tables: map[string]string{"defect": "rome", "scratch": "boston", "ms_ctl": "boston"}}
		}, []want{{"mastership.tables.defect", `unknown site "rome"`}, {"mastership.tables.ms_ctl", "reserves"}, {"mastership.tables.scratch", "excluded"}}},
		{"policy fields of another policy", func(p *plan.Plan) {
			p.Mastership = plan.Mastership{Field: "owner", Tables: map[string]string{"defect": "boston"}}
		}, []want{{"mastership.field", "only for policy field"}, {"mastership.tables", "only for policy table"}}},
		{"unknown policy", func(p *plan.Plan) { p.Mastership.Policy = "oldest" }, []want{{"mastership.policy", `unknown policy "oldest"`}}},
		{"no bay", func(p *plan.Plan) { p.Transport.Bay = ""; p.Sites[1].Bay = "/srv/bay" },
			[]want{{"sites[0].bay", "required"}, {"sites[2].bay", "required"}}},
		{"custom transport without description", func(p *plan.Plan) { p.Transport = plan.Transport{Kind: plan.Custom} },
			[]want{{"transport.description", "required"}}},
		{"unknown transport", func(p *plan.Plan) { p.Transport.Kind = "pigeon" }, []want{{"transport.kind", `unknown transport "pigeon"`}}},
		{"reserved excluded table", func(p *plan.Plan) { p.Exclude = []string{"ms_row_defect", ""} },
			[]want{{"exclude[0]", "reserves"}, {"exclude[1]", "empty table name"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := base()
			tt.change(p)
			got := problems(t, p)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%s", len(got), len(tt.want), strings.Join(got, "\n"))
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(got[i], w.path+": ") || !strings.Contains(got[i], w.msg) {
					t.Errorf("problem %d = %q, want %s: …%s…", i, got[i], w.path, w.msg)
				}
			}
		})
	}
}

// TestValidateEveryMistakeAtOnce: a plan wrong in many places gets one
// error that lists all of them.
func TestValidateEveryMistakeAtOnce(t *testing.T) {
	p := &plan.Plan{
		CodePage: "latin-99",
		Sites: []plan.Site{
			{Name: "boston", Vendor: "sqlite3"},
			{Name: "boston", Vendor: plan.MySQL},
		},
		Sync:       plan.Sync{Pattern: plan.HubAndSpoke, Hub: "paris", Every: "-1m"},
		Mastership: plan.Mastership{Policy: plan.ByField},
		Transport:  plan.Transport{Bay: "/bay"},
	}
	err := p.Validate()
	require.ErrorIs(t, err, plan.ErrInvalidPlan)
	var ve *plan.ValidationError
	require.ErrorAs(t, err, &ve)
	var paths []string
	for _, pr := range ve.Problems {
		paths = append(paths, pr.Path)
		if !strings.Contains(err.Error(), "\n\t"+pr.String()) {
			t.Errorf("Error() lacks %q", pr)
		}
	}
	want := []string{"family", "codepage", "sites[0].vendor", "sites[1].name", "sites", "sync.every", "sync.hub", "mastership.field", "mastership.users"}
	if diff := cmp.Diff(want, paths); diff != "" {
		t.Errorf("problem paths (-want +got):\n%s\n%s", diff, err)
	}
	if !strings.HasPrefix(err.Error(), "plan: invalid plan (9 problems):") {
		t.Errorf("Error() = %q", err)
	}
	var nilPlan *plan.Plan
	require.ErrorIs(t, nilPlan.Validate(), plan.ErrInvalidPlan)
}

func TestRoutes(t *testing.T) {
	h, m := time.Hour, time.Minute
	tests := []struct {
		name string
		sync plan.Sync
		want []plan.Route
	}{
		{"hub-and-spoke with an override", plan.Sync{Pattern: plan.HubAndSpoke, Hub: "bangalore", Every: "15m", Links: []plan.Link{{From: "dublin", To: "bangalore", Every: "1h"}}},
			[]plan.Route{{"bangalore", "boston", 15 * m}, {"boston", "bangalore", 15 * m}, {"bangalore", "dublin", h}, {"dublin", "bangalore", h}}},
		{"ring", plan.Sync{Pattern: plan.Ring, Order: []string{"dublin", "boston", "bangalore"}, Every: "30m"},
			[]plan.Route{{"dublin", "boston", 30 * m}, {"boston", "bangalore", 30 * m}, {"bangalore", "dublin", 30 * m}}},
		{"all-to-all", plan.Sync{Pattern: plan.AllToAll, Every: "1h"},
			[]plan.Route{{"boston", "bangalore", h}, {"bangalore", "boston", h}, {"boston", "dublin", h}, {"dublin", "boston", h}, {"bangalore", "dublin", h}, {"dublin", "bangalore", h}}},
		{"tree", plan.Sync{Pattern: plan.Tree, Every: "1h", Links: []plan.Link{{From: "boston", To: "dublin"}, {From: "dublin", To: "bangalore", Every: "2h"}}},
			[]plan.Route{{"boston", "dublin", h}, {"dublin", "boston", h}, {"dublin", "bangalore", 2 * h}, {"bangalore", "dublin", 2 * h}}},
		{"one-way links round a ring and back", plan.Sync{Pattern: plan.Links, Links: []plan.Link{
			{From: "boston", To: "bangalore", OneWay: true, Every: "5m"}, {From: "bangalore", To: "dublin", OneWay: true, Every: "5m"}, {From: "dublin", To: "boston", Every: "1h"}}},
			[]plan.Route{{"boston", "bangalore", 5 * m}, {"bangalore", "dublin", 5 * m}, {"dublin", "boston", h}, {"boston", "dublin", h}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := base()
			p.Sync = tt.sync
			got, err := p.Routes()
			require.NoError(t, err)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("routes (-want +got):\n%s", diff)
			}
		})
	}
	p := base()
	p.Sync.Hub = "nowhere"
	_, err := p.Routes()
	if !errors.Is(err, plan.ErrInvalidPlan) {
		t.Errorf("Routes of an invalid plan: %v", err)
	}
}
