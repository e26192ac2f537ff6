package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/multisite-go/multisite/examples/internal/plan"
)

// shellWords splits a command line as a shell would for the simple
// quoting the workflow documents use.
func shellWords(s string) []string {
	var out []string
	var cur strings.Builder
	var quote rune
	inWord := false
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

var (
	blockCommand  = regexp.MustCompile(`(?m)^(?:[0-9*/, ]+ )?(multiutil [^\n#]*)`)
	inlineCommand = regexp.MustCompile("`(multiutil [^`]*)`")
)

// TestWorkflowCommandsAreReal: every multiutil command a workflow document
// prints, for every site of the sample plans and of an HTTP plan, names a
// verb multiutil has, with flags that verb takes.
func TestWorkflowCommandsAreReal(t *testing.T) {
	var plans []*plan.Plan
	for _, f := range []string{"../internal/plan/testdata/family.yaml", "../internal/plan/testdata/ring.json", "../plan/family.yaml"} {
		p, err := plan.LoadFile(f)
		require.NoError(t, err)
		plans = append(plans, p)
	}
	web, err := plan.LoadFile("../plan/family.yaml")
	require.NoError(t, err)
	web.Transport = plan.Transport{Kind: plan.HTTP}
	web.Sites[0].URL = "https://cq1.boston.example.com:8443"
	plans = append(plans, web)

	helps := map[string]string{}
	help := func(verb string) string {
		if h, ok := helps[verb]; ok {
			return h
		}
		var out, errOut bytes.Buffer
		run(append(strings.Fields(verb), "--help"), &out, &errOut)
		helps[verb] = out.String()
		return helps[verb]
	}
	seen := 0
	for _, p := range plans {
		for _, s := range p.Sites {
			var b bytes.Buffer
			require.NoError(t, p.Workflow(&b, s.Name))
			doc := b.String()
			var cmds []string
			for _, m := range blockCommand.FindAllStringSubmatch(doc, -1) {
				cmds = append(cmds, m[1])
			}
			for _, m := range inlineCommand.FindAllStringSubmatch(doc, -1) {
				cmds = append(cmds, m[1])
			}
			for _, cmd := range cmds {
				words := shellWords(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(cmd), ";")))
				if len(words) < 2 {
					continue // prose such as "multiutil" alone
				}
				verb := words[1]
				if verb == "help" {
					continue
				}
				c, ok := lookupCommand(verb)
				if !ok || c.later {
					t.Errorf("%s's document of %s: %q names no verb", s.Name, p.Family, cmd)
					continue
				}
				rest := words[2:]
				if len(rest) > 0 {
					if sub, ok := lookupCommand(verb + " " + rest[0]); ok {
						verb, rest = sub.name, rest[1:]
					}
				}
				h := help(verb)
				for _, w := range rest {
					if !strings.HasPrefix(w, "-") || w == "-" {
						continue
					}
					name, _, _ := strings.Cut(strings.TrimLeft(w, "-"), "=")
					if !regexp.MustCompile(`(?m)^  -` + regexp.QuoteMeta(name) + `(\s|$)`).MatchString(h) {
						t.Errorf("%s's document of %s: %q: %s has no flag -%s", s.Name, p.Family, cmd, verb, name)
					}
				}
				seen++
			}
		}
	}
	if seen < 50 {
		t.Errorf("checked only %d commands: the extraction is broken", seen)
	}
}
