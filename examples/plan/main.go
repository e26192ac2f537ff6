// Command plan loads a deployment plan, validates it, and writes the
// deployment workflow document of every site (Markdown) to stdout or, with
// -out, one file per site.
//
//	go run ./examples/plan                           # the sample plan, family.yaml
//	go run ./examples/plan -file my-family.yaml -out docs/
//	go run ./examples/plan -file my-family.yaml -site bangalore
//
// Exit status: 0 ok, 1 the plan is invalid (every problem is printed) or a
// file cannot be read or written, 2 usage error.
package main

import (
	"bytes"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/multisite-go/multisite/examples/internal/plan"
)

// sample is the plan used without -file.
//
//go:embed family.yaml
var sample []byte

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("file", "", "plan `file` (YAML or JSON); default: the sample plan family.yaml")
	out := fs.String("out", "", "write SITE.md per site into `directory` (created if missing) instead of stdout")
	site := fs.String("site", "", "write only this `site`'s document")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: plan [-file PLAN] [-out DIR] [-site NAME]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "plan: unexpected argument %q (the plan file goes with -file)\n", fs.Arg(0))
		fs.Usage()
		return 2
	}

	var p *plan.Plan
	var err error
	name := "family.yaml (sample)"
	if *file == "" {
		p, err = plan.Load(bytes.NewReader(sample))
	} else {
		name = *file
		p, err = plan.LoadFile(*file)
	}
	if err != nil {
		fmt.Fprintf(stderr, "plan: %v\n", err)
		return 1
	}
	if err := p.Validate(); err != nil {
		var ve *plan.ValidationError
		if errors.As(err, &ve) {
			fmt.Fprintf(stderr, "plan: %s is invalid (%d problems):\n", name, len(ve.Problems))
			for _, pr := range ve.Problems {
				fmt.Fprintf(stderr, "  %s\n", pr)
			}
		} else {
			fmt.Fprintf(stderr, "plan: %v\n", err)
		}
		return 1
	}

	sites := p.Sites
	if *site != "" {
		s, ok := p.Site(*site)
		if !ok {
			fmt.Fprintf(stderr, "plan: %s has no site %q\n", name, *site)
			return 1
		}
		sites = []plan.Site{s}
	}
	if *out != "" {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			fmt.Fprintf(stderr, "plan: %v\n", err)
			return 1
		}
	}
	for i, s := range sites {
		var b bytes.Buffer
		if err := p.Workflow(&b, s.ReplicaName()); err != nil {
			fmt.Fprintf(stderr, "plan: %v\n", err)
			return 1
		}
		if *out == "" {
			if i > 0 {
				fmt.Fprint(stdout, "\n---\n\n")
			}
			stdout.Write(b.Bytes())
			continue
		}
		path := filepath.Join(*out, s.ReplicaName()+".md")
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			fmt.Fprintf(stderr, "plan: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "wrote %s\n", path)
	}
	return 0
}
