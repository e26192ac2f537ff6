package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/multisite-go/multisite/examples/internal/plan"
)

// planCommands are the sub-verbs of "multiutil plan"; their names carry
// the group's prefix so that --help and usage messages find them.
func planCommands() []command {
	return []command{
		{name: "plan validate", synopsis: "check a deployment plan (YAML or JSON) and list every mistake (exit 1 if any)",
			usage: "FILE [--json]", run: cmdPlanValidate},
		{name: "plan workflow", synopsis: "write the deployment workflow document (Markdown) of a plan's sites",
			usage: "FILE [--site NAME] [--out DIR]", run: cmdPlanWorkflow},
	}
}

func cmdPlan(e *env, args []string) error {
	if len(args) == 0 {
		return usagef("give a sub-verb: validate or workflow")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(e.stdout, "multiutil plan: deployment plans (see package plan)")
		fmt.Fprintln(e.stdout)
		for _, c := range planCommands() {
			fmt.Fprintf(e.stdout, "  multiutil %s %s\n      %s\n", c.name, c.usage, c.synopsis)
		}
		return errHelp
	}
	for _, c := range planCommands() {
		if c.name == "plan "+args[0] {
			return c.run(e, args[1:])
		}
	}
	return usagef("unknown sub-verb %q: use validate or workflow", args[0])
}

// onePlanFile returns the one FILE argument of a plan sub-verb.
func onePlanFile(rest []string) (string, error) {
	switch len(rest) {
	case 0:
		return "", usagef("name the plan FILE")
	case 1:
		return rest[0], nil
	}
	return "", usagef("one plan FILE at a time (got %d)", len(rest))
}

type problemJSON struct {
	Path string `json:"path"`
	Msg  string `json:"msg"`
}

// routeJSON is one directed link of a valid plan.
type routeJSON struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Every string `json:"every"` // Go duration
}

func cmdPlanValidate(e *env, args []string) error {
	fs := newFlags(e, "plan validate")
	asJSON := fs.Bool("json", false, "print JSON")
	rest, err := parse(e, fs, args, true)
	if err != nil {
		return err
	}
	file, err := onePlanFile(rest)
	if err != nil {
		return err
	}
	p, err := plan.LoadFile(file)
	if err != nil {
		return err
	}
	problems := []problemJSON{}
	verr := p.Validate()
	var ve *plan.ValidationError
	if errors.As(verr, &ve) {
		for _, pr := range ve.Problems {
			problems = append(problems, problemJSON{pr.Path, pr.Msg})
		}
	} else if verr != nil {
		return verr
	}
	if *asJSON {
		routes := []routeJSON{}
		if verr == nil {
			rs, _ := p.Routes()
			for _, r := range rs {
				routes = append(routes, routeJSON{r.From, r.To, r.Every.String()})
			}
		}
		if err := writeJSON(e.stdout, struct {
			File     string        `json:"file"`
			Family   string        `json:"family"`
			Valid    bool          `json:"valid"`
			Problems []problemJSON `json:"problems"`
			Routes   []routeJSON   `json:"routes"`
		}{file, p.Family, verr == nil, problems, routes}); err != nil {
			return err
		}
	} else {
		for _, pr := range problems {
			fmt.Fprintf(e.stdout, "%s: %s\n", pr.Path, pr.Msg)
		}
	}
	if verr != nil {
		return &exitError{code: exitFail, err: fmt.Errorf("%s: invalid plan, %d problems", file, len(problems))}
	}
	if !*asJSON {
		w, _ := p.WorkingSite()
		routes, _ := p.Routes()
		fmt.Fprintf(e.stdout, "%s: valid plan of family %s: %d sites (working site %s), %d links, data code page %s\n",
			file, p.Family, len(p.Sites), w.ReplicaName(), len(routes), p.CodePage)
	}
	return nil
}

func cmdPlanWorkflow(e *env, args []string) error {
	fs := newFlags(e, "plan workflow")
	site := fs.String("site", "", "write only this `site`'s document (site or replica name)")
	out := fs.String("out", "", "write SITE.md per site into `directory` (created if missing) instead of stdout")
	rest, err := parse(e, fs, args, true)
	if err != nil {
		return err
	}
	file, err := onePlanFile(rest)
	if err != nil {
		return err
	}
	p, err := plan.LoadFile(file)
	if err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		var ve *plan.ValidationError
		if errors.As(err, &ve) {
			for _, pr := range ve.Problems {
				fmt.Fprintf(e.stderr, "%s: %s\n", pr.Path, pr.Msg)
			}
			return fmt.Errorf("%s: invalid plan, %d problems (multiutil plan validate lists them too)", file, len(ve.Problems))
		}
		return err
	}
	sites := p.Sites
	if *site != "" {
		s, ok := p.Site(*site)
		if !ok {
			var known []string
			for _, s := range p.Sites {
				known = append(known, s.ReplicaName())
			}
			return fmt.Errorf("%s has no site %q; its sites are %v", file, *site, known)
		}
		sites = []plan.Site{s}
	}
	// Every document is written in memory first: a failure leaves no
	// half-written set behind.
	docs := make([][]byte, len(sites))
	for i, s := range sites {
		var b bytes.Buffer
		if err := p.Workflow(&b, s.ReplicaName()); err != nil {
			return err
		}
		docs[i] = b.Bytes()
	}
	if *out == "" {
		for i, d := range docs {
			if i > 0 {
				fmt.Fprint(e.stdout, "\n---\n\n")
			}
			e.stdout.Write(d)
		}
		return nil
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	for i, s := range sites {
		path := filepath.Join(*out, s.ReplicaName()+".md")
		if err := writeAtomic(path, 0o644, func(f *os.File) error {
			_, err := f.Write(docs[i])
			return err
		}); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "wrote %s\n", path)
	}
	return nil
}
