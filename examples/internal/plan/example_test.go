package plan_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/multisite-go/multisite/examples/internal/plan"
)

const sample = `
family: defects
codepage: "1252"
sites:
  - {name: boston, vendor: sqlite, dsn: boston.db, working: true}
  - {name: bangalore, vendor: mysql, dsn: "cq@tcp(db.blr:3306)/defects"}
  - {name: dublin, vendor: postgres, dsn: "postgres://cq@db.dub:5432/defects"}
sync: {pattern: hub-and-spoke, hub: boston, every: 15m}
transport: {bay: /mnt/bay}
`

func ExampleLoad() {
	p, err := plan.Load(strings.NewReader(sample))
	if err != nil {
		fmt.Println(err)
		return
	}
	routes, err := p.Routes()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range routes {
		fmt.Printf("%s -> %s every %v\n", r.From, r.To, r.Every)
	}

	_, err = plan.Load(strings.NewReader("family: defects\nsits: []\n"))
	fmt.Println(errors.Is(err, plan.ErrSyntax), err)
	// Output:
	// boston -> bangalore every 15m0s
	// bangalore -> boston every 15m0s
	// boston -> dublin every 15m0s
	// dublin -> boston every 15m0s
	// true plan: not a plan document: yaml: unmarshal errors:
	//   line 2: field sits not found in type plan.Plan
}

func ExamplePlan_Validate() {
	p, _ := plan.Load(strings.NewReader(`
family: defects
codepage: windows-1525
sites:
  - {name: boston, vendor: sqlite, working: true}
  - {name: bangalore, vendor: oracle}
  - {name: dublin, vendor: postgres}
sync:
  pattern: tree
  every: 1h
  links:
    - {from: boston, to: bangalore}
    - {from: bangalore, to: dublin}
    - {from: dublin, to: boston}
    - {from: dublin, to: paris}
transport: {bay: /mnt/bay}
`))
	err := p.Validate()
	var ve *plan.ValidationError
	if errors.As(err, &ve) {
		for _, pr := range ve.Problems {
			fmt.Println(pr)
		}
	}
	fmt.Println(errors.Is(err, plan.ErrInvalidPlan))
	// Output:
	// codepage: unknown code page "windows-1525"; did you mean windows-1255, windows-1250, windows-1251, windows-1252, windows-1253?
	// sites[1].vendor: unknown vendor "oracle": use sqlite, postgres, mysql (mysql covers MariaDB)
	// sync.links[2]: dublin–boston closes a cycle dublin → bangalore → boston → dublin: in a tree exactly one path of links joins any two sites (use pattern links for redundant paths)
	// sync.links[3].to: unknown site "paris"; the plan's sites are boston, bangalore, dublin
	// true
}

func ExamplePlan_Workflow() {
	p, _ := plan.Load(strings.NewReader(sample))
	// Show the headings of dublin's document and its synchronization
	// commands; the whole document is a few hundred lines.
	var doc strings.Builder
	if err := p.Workflow(&doc, "dublin"); err != nil {
		fmt.Println(err)
		return
	}
	for _, line := range strings.Split(doc.String(), "\n") {
		if strings.HasPrefix(line, "# ") || strings.HasPrefix(line, "## ") || strings.HasPrefix(line, "multiutil sync ") {
			fmt.Println(line)
		}
	}
	// Output:
	// # defects: MultiSite deployment workflow for dublin
	// ## The plan at a glance
	// ## This site's database
	// ## Synchronization at this site
	// multiutil sync --plan PLAN --site dublin --every plan
	// ## Transport and storage bays
	// ## Mastership
	// ## Steps
	// ## Where ClearQuest MultiSite's deployment steps went
}
