package plan_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/multisite-go/multisite/examples/internal/plan"
)

func TestLoadYAML(t *testing.T) {
	p, err := plan.LoadFile("testdata/family.yaml")
	require.NoError(t, err)
	want := &plan.Plan{
		Family:   "defects",
		CodePage: "windows-1252",
		Exclude:  []string{"scratch"},
		Sites: []plan.Site{
			{Name: "Boston", Replica: "boston", Vendor: plan.SQLite, DSN: "/srv/cq/boston.db", Host: "cq1.boston.example.com", Admin: "Ann Admin <ann@example.com>", Working: true},
			{Name: "Bangalore", Replica: "bangalore", Vendor: plan.MySQL, DSN: "cq:secret@tcp(db.blr.example.com:3306)/defects", Host: "cq.blr.example.com", Admin: "Bala <bala@example.com>"},
			{Name: "dublin", Vendor: plan.Postgres, DSN: "postgres://cq@db.dub.example.com:5432/defects"},
		},
		Sync:       plan.Sync{Pattern: plan.HubAndSpoke, Hub: "boston", Every: "15m", Links: []plan.Link{{From: "boston", To: "dublin", Every: "1h"}}},
		Mastership: plan.Mastership{Policy: plan.ByField, Field: "owner", Users: map[string]string{"ann": "boston", "bala": "bangalore", "dara": "dublin"}},
		Transport:  plan.Transport{Kind: plan.Bay, Bay: "/mnt/multisite/bay"},
	}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("LoadFile (-want +got):\n%s", diff)
	}
}

// JSON is read too, tab-indented as encoders often write it.
func TestLoadJSON(t *testing.T) {
	p, err := plan.LoadFile("testdata/ring.json")
	require.NoError(t, err)
	if p.Family != "assets" || len(p.Sites) != 3 || p.Sites[2].DSN != `C:\ms\nagoya.db` || p.Sync.Pattern != plan.Ring ||
		!cmp.Equal(p.Sync.Order, []string{"tokyo", "osaka", "nagoya"}) || p.Mastership.Tables["loan"] != "osaka" || p.Transport.Kind != plan.Email {
		t.Errorf("LoadFile(ring.json) = %+v", p)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, doc string
		want      []string // pieces of the message
	}{
		{"empty", " \n# only a comment\n", []string{"empty document"}},
		{"unknown fields, all of them", "family: x\nfamly: y\nsites:\n  - name: a\n    vendr: sqlite\n", []string{"line 2: field famly not found", "line 5: field vendr not found"}},
		{"unknown JSON field", `{"family": "x", "site": []}`, []string{"field site not found"}},
		{"wrong type", "sites: boston\n", []string{"cannot unmarshal"}},
		{"malformed", "family: [x\n", []string{"line"}},
		{"two documents", "family: a\n---\nfamily: b\n", []string{"more than one document"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := plan.Load(strings.NewReader(tt.doc))
			if !errors.Is(err, plan.ErrSyntax) || p != nil {
				t.Fatalf("Load = %v, %v; want ErrSyntax", p, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	_, err := plan.LoadFile(filepath.Join(t.TempDir(), "missing.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadFile(missing) = %v", err)
	}
	big := strings.NewReader("family: x\n# " + strings.Repeat("x", 5<<20) + "\n")
	if _, err := plan.Load(big); !errors.Is(err, plan.ErrSyntax) {
		t.Errorf("Load(5 MiB) = %v", err)
	}
}
