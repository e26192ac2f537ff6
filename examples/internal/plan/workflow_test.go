package plan_test

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/multisite-go/multisite/examples/internal/plan"
)

var update = flag.Bool("update", false, "rewrite the golden workflow documents in testdata/")

// plans are the testdata plans whose documents are kept as golden files.
var plans = []string{"family.yaml", "ring.json"}

func TestWorkflowGolden(t *testing.T) {
	for _, f := range plans {
		p, err := plan.LoadFile(filepath.Join("testdata", f))
		require.NoError(t, err)
		for _, s := range p.Sites {
			name := fmt.Sprintf("%s-%s.md", strings.TrimSuffix(f, filepath.Ext(f)), s.ReplicaName())
			t.Run(name, func(t *testing.T) {
				var b bytes.Buffer
				require.NoError(t, p.Workflow(&b, s.ReplicaName()))
				golden := filepath.Join("testdata", "golden", name)
				if *update {
					require.NoError(t, os.MkdirAll(filepath.Dir(golden), 0o755))
					require.NoError(t, os.WriteFile(golden, b.Bytes(), 0o644))
				}
				want, err := os.ReadFile(golden)
				require.NoError(t, err, "run go test ./plan -update to write the golden files")
				if diff := cmp.Diff(string(want), b.String()); diff != "" {
					t.Errorf("workflow of %s differs from %s (-want +got; go test ./plan -update rewrites it):\n%s", s.Name, golden, diff)
				}
			})
		}
	}
}

// seedStep is a numbered step of the seed procedure.
type seedStep struct {
	id       string // "3.13"
	sentence string // its first sentence
	top      bool
}

// seedSteps reads the numbered steps of the seed's deployment overview.
func seedSteps(t *testing.T) []seedStep {
	t.Helper()
	f, err := os.Open("testdata/deployment-overview.txt")
	require.NoError(t, err)
	defer f.Close()
	item := regexp.MustCompile(`^( +)(\d+)\. +(.+)$`)
	sentence := regexp.MustCompile(`^.*?\.(?: |$)`)
	var steps []seedStep
	top := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := item.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		first := strings.TrimSpace(sentence.FindString(m[3]))
		if len(m[1]) == 2 {
			top = m[2]
			steps = append(steps, seedStep{id: top + ".", sentence: first, top: true})
		} else {
			steps = append(steps, seedStep{id: top + "." + m[2], sentence: first})
		}
	}
	require.NoError(t, sc.Err())
	require.Len(t, steps, 5+5+7+17, "the seed's steps")
	return steps
}

// TestWorkflowFollowsSeed: every step of the seed procedure (ClearQuest
// MultiSite's) is accounted for in every site's document, by a row of its
// closing table: either the step of ours that does it, a heading of the
// document that has a body, or "not applicable" and why. The document's
// own steps are numbered in order, each with a body, and say nothing of
// ClearQuest's that means nothing here (licences, its packages, a schema
// repository) outside that table.
func TestWorkflowFollowsSeed(t *testing.T) {
	steps := seedSteps(t)
	solo := &plan.Plan{Family: "solo", CodePage: "UTF-8", Sites: []plan.Site{{Name: "only", Vendor: plan.Postgres, Working: true}},
		Transport: plan.Transport{Kind: plan.Custom, Description: "none yet"}}
	custom := base()
	custom.Sync = plan.Sync{Pattern: plan.Links, Links: []plan.Link{{From: "boston", To: "bangalore", Every: "90s"}, {From: "bangalore", To: "dublin", Every: "2h"}}}
	custom.Transport = plan.Transport{Kind: plan.FTP, Bay: "/bay"}
	custom.Mastership = plan.Mastership{Policy: plan.ByTable, Tables: map[string]string{"defect": "dublin"}}
	const tableHeading = "\n## Where ClearQuest MultiSite's deployment steps went\n"
	heading := regexp.MustCompile(`(?m)^(###|####) (\d+)\.(\d*) ?(.*)$`)
	row := regexp.MustCompile(`(?m)^\| (\d+(?:\.\d+)?) ([^|]+) \| ([^|]+) \|$`)
	ref := regexp.MustCompile(`^steps? (\d+(?:\.\d+)?)\b`)
	leftovers := regexp.MustCompile(`(?i)licen[cs]|CharacterSetValidation|schema repository|v2003|ClearQuest upgrade|user databases`)
	for _, f := range append(plans, "solo", "custom") {
		var p *plan.Plan
		switch f {
		case "solo":
			p = solo
		case "custom":
			p = custom
		default:
			var err error
			p, err = plan.LoadFile(filepath.Join("testdata", f))
			require.NoError(t, err)
		}
		for _, s := range p.Sites {
			var b bytes.Buffer
			require.NoError(t, p.Workflow(&b, s.Name))
			doc, table, ok := strings.Cut(b.String(), tableHeading)
			if !ok {
				t.Errorf("%s, %s: no table of ClearQuest's steps", f, s.Name)
				continue
			}
			if m := leftovers.FindString(doc); m != "" {
				t.Errorf("%s, %s: the document says %q, a ClearQuest leftover", f, s.Name, m)
			}

			// Our steps: numbered in order, each with a body unless it has sub-steps.
			ours := map[string]bool{}
			hs := heading.FindAllStringSubmatchIndex(doc, -1)
			var prev []int
			for i, h := range hs {
				id := doc[h[4]:h[5]]
				if h[6] != h[7] {
					id += "." + doc[h[6]:h[7]]
				}
				num := []int{atoi(t, doc[h[4]:h[5]])}
				if h[6] != h[7] {
					num = append(num, atoi(t, doc[h[6]:h[7]]))
				}
				if !nextStep(prev, num) {
					t.Errorf("%s, %s: step %s follows step %v", f, s.Name, id, prev)
				}
				prev = num
				ours[id] = true
				end := len(doc)
				if i+1 < len(hs) {
					end = hs[i+1][0]
				}
				hasSub := len(num) == 1 && i+1 < len(hs) && doc[hs[i+1][2]:hs[i+1][3]] == "####"
				if body := strings.TrimSpace(doc[h[1]:end]); body == "" && !hasSub {
					t.Errorf("%s, %s: step %s has no body", f, s.Name, id)
				}
			}
			if len(ours) < 20 {
				t.Fatalf("%s, %s: found %d steps: the heading pattern is broken", f, s.Name, len(ours))
			}

			// ClearQuest's steps: each accounted for, in the seed's order.
			rows := row.FindAllStringSubmatch(table, -1)
			var got []string
			for _, r := range rows {
				got = append(got, r[1])
				there := strings.TrimSpace(r[3])
				if reason, ok := strings.CutPrefix(there, "not applicable: "); ok {
					if len(strings.Fields(reason)) < 5 {
						t.Errorf("%s, %s: seed step %s is not applicable for no stated reason: %q", f, s.Name, r[1], there)
					}
					continue
				}
				m := ref.FindStringSubmatch(there)
				if m == nil {
					t.Errorf("%s, %s: seed step %s: %q names neither a step nor why it does not apply", f, s.Name, r[1], there)
				} else if !ours[m[1]] {
					t.Errorf("%s, %s: seed step %s goes to step %s, which the document does not have", f, s.Name, r[1], m[1])
				}
			}
			var want []string
			for _, st := range steps {
				want = append(want, strings.TrimSuffix(st.id, "."))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s, %s: seed steps in the table (-want +got):\n%s", f, s.Name, diff)
			}
		}
	}
}

// nextStep reports whether step num may follow step prev: 1, 1.1, 1.2, 2, 2.1, ...
func nextStep(prev, num []int) bool {
	switch {
	case prev == nil:
		return len(num) == 1 && num[0] == 1
	case len(num) == 1:
		return num[0] == prev[0]+1
	case len(prev) == 1:
		return num[0] == prev[0] && num[1] == 1
	default:
		return num[0] == prev[0] && num[1] == prev[1]+1
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	require.NoError(t, err)
	return n
}

// TestWorkflowNames: each document is filled with the plan's names: every
// site, the site's commands on its own database and bay, its schedule,
// who masters what; and never a password.
func TestWorkflowNames(t *testing.T) {
	p, err := plan.LoadFile("testdata/family.yaml")
	require.NoError(t, err)
	doc := func(site string) string {
		var b bytes.Buffer
		require.NoError(t, p.Workflow(&b, site))
		return b.String()
	}
	boston, blr, dublin := doc("boston"), doc("Bangalore"), doc("dublin")
	for _, d := range []string{boston, blr, dublin} {
		for _, want := range []string{"`defects`", "windows-1252", "`boston`", "`bangalore`", "`dublin`", "/mnt/multisite/bay", "| ann | `boston` |"} {
			if !strings.Contains(d, want) {
				t.Errorf("a document lacks %q", want)
			}
		}
		if strings.Contains(d, "secret") {
			t.Errorf("a document prints bangalore's password")
		}
	}
	checks := []struct {
		doc  string
		want []string
	}{
		{boston, []string{
			"Boston is the **working site**",
			"\nmultiutil sync --plan PLAN --site boston --every plan\n",
			"multiutil activate --db /srv/cq/boston.db --name boston --codepage windows-1252 --exclude scratch\n",
			"multiutil mkreplica -export --db /srv/cq/boston.db --name dublin --out dublin-create.pkt",
			"Users of this site: ann.",
		}},
		{blr, []string{
			"Bangalore is a **new site**",
			"--db 'mysql://cq:***@tcp(db.blr.example.com:3306)/defects'",
			`sql.Open("mysql", "cq:***@tcp(db.blr.example.com:3306)/defects")`,
			"\nmultiutil sync --plan PLAN --site bangalore --every plan\n",
			"multiutil mkreplica -import --db 'mysql://cq:***@tcp(db.blr.example.com:3306)/defects' --in bangalore-create.pkt --origin-key ORIGIN_KEY",
			"multiutil activate-replica --db 'mysql://cq:***@tcp(db.blr.example.com:3306)/defects'",
			"Users of this site: bala.",
			"mysqldump --single-transaction --routines --triggers defects > bangalore-backup.sql",
		}},
		{dublin, []string{
			"\nmultiutil sync --plan PLAN --site dublin --every plan\n",
			`_ "github.com/jackc/pgx/v5/stdlib"`,
			"arrive with the packets of this site's links (every 1h here)",
		}},
	}
	for i, c := range checks {
		for _, w := range c.want {
			if !strings.Contains(c.doc, w) {
				t.Errorf("document %d lacks %q", i, w)
			}
		}
	}
	if strings.Contains(blr, "multiutil activate --db") || strings.Contains(boston, "mkreplica -import") {
		t.Errorf("a step of the working site is in a new site's document, or the other way round")
	}
}

func TestWorkflowErrors(t *testing.T) {
	p, err := plan.LoadFile("testdata/family.yaml")
	require.NoError(t, err)
	var b bytes.Buffer
	err = p.Workflow(&b, "paris")
	if !errors.Is(err, plan.ErrUnknownSite) || !strings.Contains(err.Error(), "boston, bangalore, dublin") || b.Len() > 0 {
		t.Errorf("unknown site: %v, %d bytes written", err, b.Len())
	}
	p.Sync.Hub = "paris"
	err = p.Workflow(&b, "boston")
	var ve *plan.ValidationError
	if !errors.As(err, &ve) || b.Len() > 0 {
		t.Errorf("invalid plan: %v, %d bytes written", err, b.Len())
	}
}

// TestWorkflowHTTP: a site with a URL runs serve besides sync; tokens are
// named, never printed.
func TestWorkflowHTTP(t *testing.T) {
	p := base()
	p.Sites[0].DSN = "/srv/boston.db"
	p.Sites[0].URL = "https://cq1.boston:8443"
	p.Transport = plan.Transport{Kind: plan.HTTP}
	for _, tt := range []struct {
		site string
		want []string
	}{
		{"boston", []string{"\nmultiutil sync --plan PLAN --site boston --every plan\nmultiutil serve --plan PLAN --site boston --cert CERT.pem --key KEY.pem\n",
			"`https://cq1.boston:8443`", "`MULTISITE_TOKEN_BOSTON`"}},
		{"dublin", []string{`multiutil sync --plan PLAN --site dublin --db "$DUBLIN_DSN" --every plan` + "\n```", "`MULTISITE_TOKEN_DUBLIN`"}},
	} {
		var b bytes.Buffer
		require.NoError(t, p.Workflow(&b, tt.site))
		for _, w := range tt.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s's document lacks %q", tt.site, w)
			}
		}
	}
}

// A custom transport without bays and server sites without DSNs: the
// commands take them from environment variables the document names.
func TestWorkflowPlaceholders(t *testing.T) {
	p := base()
	p.Transport = plan.Transport{Kind: plan.Custom, Description: "Our courier service uploads them."}
	var b bytes.Buffer
	require.NoError(t, p.Workflow(&b, "bangalore"))
	doc := b.String()
	for _, want := range []string{
		`multiutil sync --plan PLAN --site bangalore --db "$BANGALORE_DSN" --bay "$BANGALORE_BAY" --every plan`,
		"set the environment\nvariable `BANGALORE_DSN`",
		"`BANGALORE_BAY`",
		`sql.Open("mysql", strings.TrimPrefix(os.Getenv("BANGALORE_DSN"), "mysql://"))`,
		"\t\"os\"\n\t\"strings\"\n",
		"Our courier service uploads them.",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("document lacks %q", want)
		}
	}
}
