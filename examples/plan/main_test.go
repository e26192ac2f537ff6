package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

func runPlan(t *testing.T, want int, args ...string) (string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	if got := run(args, &out, &errOut); got != want {
		t.Fatalf("plan %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), got, want, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}

// TestSample is what CI runs: go run ./examples/plan with no arguments.
func TestSample(t *testing.T) {
	out, _ := runPlan(t, 0)
	for _, site := range []string{"boston", "bangalore", "dublin"} {
		if !strings.Contains(out, "# defects: MultiSite deployment workflow for "+site+"\n") {
			t.Errorf("no workflow document for %s", site)
		}
	}
	if n := strings.Count(out, "\n### 3. Deploy in production.\n"); n != 3 {
		t.Errorf("%d documents, want 3", n)
	}
	// The file on disk and the embedded sample are the same plan.
	file, _ := runPlan(t, 0, "-file", "family.yaml")
	if diff := cmp.Diff(out, file); diff != "" {
		t.Errorf("-file family.yaml differs from the default:\n%s", diff)
	}
}

func TestOutDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "docs")
	out, _ := runPlan(t, 0, "-out", dir, "-site", "dublin")
	b, err := os.ReadFile(filepath.Join(dir, "dublin.md"))
	require.NoError(t, err)
	if !strings.HasPrefix(string(b), "# defects: MultiSite deployment workflow for dublin") || !strings.Contains(out, "dublin.md") {
		t.Errorf("dublin.md: %.80q; stdout %q", b, out)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 1 {
		t.Errorf("-site dublin wrote %v", left)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte(`
family: defects
codepage: latin-99
sites:
  - {name: boston, vendor: sqlite, working: true}
  - {name: dublin, vendor: oracle}
sync: {pattern: ring, order: [boston, paris], every: 15m}
transport: {bay: /bay}
`), 0o644))
	_, stderr := runPlan(t, 1, "-file", bad)
	for _, want := range []string{"(4 problems)", "codepage: unknown code page", "sites[1].vendor", `sync.order[1]: unknown site "paris"`, "sync.order: leaves out dublin"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	unknownField := filepath.Join(dir, "typo.yaml")
	require.NoError(t, os.WriteFile(unknownField, []byte("family: x\nsties: []\n"), 0o644))
	_, stderr = runPlan(t, 1, "-file", unknownField)
	if !strings.Contains(stderr, "field sties not found") {
		t.Errorf("stderr: %s", stderr)
	}
	runPlan(t, 1, "-file", filepath.Join(dir, "missing.yaml"))
	runPlan(t, 1, "-site", "paris")
	runPlan(t, 2, "-bogus")
	runPlan(t, 2, "family.yaml")
	runPlan(t, 0, "-h")
}
