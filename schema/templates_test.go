package schema_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multisite-go/multisite/schema"
)

// hookSkeletonTest exercises a generated skeleton with a fake hooks.Tx: a
// changed defect whose owner works at bangalore is handed to bangalore
// before export; requests are granted for the tables in Grant only; every
// other hook runs without error.
const hookSkeletonTest = `package sitehooks

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/multisite-go/multisite/hooks"
	"github.com/multisite-go/multisite/replica"
)

// fakeTx is a hooks.Tx without a database; the skeleton calls only
// Transfer, Local and Replica (the embedded interface covers the rest).
type fakeTx struct {
	hooks.Tx
	transfers []string
}

func (f *fakeTx) ExecContext(context.Context, string, ...any) (sql.Result, error) { return nil, errors.New("no database") }
func (f *fakeTx) Transfer(_ context.Context, table string, key []any, to replica.ID) error {
	f.transfers = append(f.transfers, table+"->"+string(to))
	return nil
}
func (f *fakeTx) Local() replica.ID { return "boston-id" }
func (f *fakeTx) Replica(n string) (replica.Info, bool) {
	if n == "bangalore" {
		return replica.Info{ID: "blr-id", Name: n}, true
	}
	return replica.Info{}, false
}

var _ hooks.Tx = (*fakeTx)(nil)

func TestSkeleton(t *testing.T) {
	ctx := context.Background()
	var lines []string
	h := Build(Options{
		SiteOf: func(owner string) string { return map[string]string{"ravi": "bangalore", "ann": "boston"}[owner] },
		Grant:  []string{"ticket"},
		Log:    func(f string, a ...any) { lines = append(lines, f) },
	})
	tx := &fakeTx{}
	err := h.BeforeExport(ctx, tx, hooks.Export{Target: "blr-id", Changes: []hooks.Change{
		{Table: "ticket", Key: []any{int64(1)}, Op: hooks.Update, Values: map[string]any{"assignee": "ravi"}, Master: "boston-id"},
		{Table: "ticket", Key: []any{int64(2)}, Op: hooks.Update, Values: map[string]any{"assignee": "ann"}, Master: "boston-id"},
		{Table: "ticket", Key: []any{int64(3)}, Op: hooks.Delete, Master: "boston-id"},
		{Table: "other", Key: []any{int64(4)}, Op: hooks.Insert, Values: map[string]any{"assignee": "ravi"}, Master: "boston-id"},
	}})
	if err != nil || len(tx.transfers) != 1 || tx.transfers[0] != "ticket->blr-id" {
		t.Fatalf("BeforeExport: %v, transfers %v", err, tx.transfers)
	}
	for _, c := range []struct {
		table string
		want  hooks.Decision
	}{{"ticket", hooks.Grant}, {"other", hooks.Defer}} {
		d, reason, err := h.OnRequest(ctx, tx, hooks.Request{Table: c.table, From: "blr-id"})
		if err != nil || d != c.want || reason == "" {
			t.Errorf("OnRequest(%s) = %v, %q, %v; want %v", c.table, d, reason, err, c.want)
		}
	}
	if err := h.AfterImportChange(ctx, tx, hooks.Change{Table: "ticket", Op: hooks.Insert}); err != nil {
		t.Error(err)
	}
	if err := h.AfterImportPacket(ctx, tx, hooks.Packet{Origin: "blr-id"}); err != nil {
		t.Error(err)
	}
	if err := h.OnCollision(ctx, tx, hooks.Collision{Table: "ticket"}); err != nil {
		t.Error(err)
	}
	h.OnRefusedWrite(ctx, errors.New("refused"))
	if len(lines) < 5 {
		t.Errorf("logged %d lines, want one per decision: %q", len(lines), lines)
	}
}
`

// moduleRoot finds the directory of this repository's go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}

// TestGenerateHooks_CompilesAndRuns generates a skeleton into a module of
// its own in a temporary directory (replacing this module by its source
// tree, with this module's go.sum, offline) and runs go vet and a test of
// it there: the skeleton compiles against the hooks package as it is now.
func TestGenerateHooks_CompilesAndRuns(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	root := moduleRoot(t)
	dir := t.TempDir()
	gomod := "module example.com/site\n\ngo 1.26\n\nrequire github.com/multisite-go/multisite v0.0.0\n\nreplace github.com/multisite-go/multisite => " + root + "\n"
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	pkg := filepath.Join(dir, "sitehooks")
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	var src bytes.Buffer
	if err := schema.GenerateHooks(&src, schema.HookOptions{Package: "sitehooks", Func: "Build", Table: "ticket", OwnerColumn: "assignee"}); err != nil {
		t.Fatalf("GenerateHooks: %v", err)
	}
	for name, data := range map[string][]byte{
		"go.mod": []byte(gomod), "go.sum": sum,
		"sitehooks/hooks.go": src.Bytes(), "sitehooks/hooks_test.go": []byte(hookSkeletonTest),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"vet", "./..."}, {"test", "-count=1", "./..."}} {
		cmd := exec.Command(gobin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOSUMDB=off", "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s on the generated skeleton: %v\n%s\n--- generated:\n%s", strings.Join(args, " "), err, out, src.String())
		}
	}
}

func TestGenerateHooks_RefusesBadNames(t *testing.T) {
	for _, opt := range []schema.HookOptions{{Package: "site-hooks"}, {Func: "New()"}} {
		if err := schema.GenerateHooks(&bytes.Buffer{}, opt); err == nil {
			t.Errorf("GenerateHooks(%+v) accepted", opt)
		}
	}
}

func TestGenerateMastershipCheck_Rejects(t *testing.T) {
	tests := []struct {
		name    string
		dialect string
		opt     schema.CheckOptions
	}{
		{"no key", "sqlite", schema.CheckOptions{Table: "note"}},
		{"hostile name", "sqlite", schema.CheckOptions{Table: `note"; DROP TABLE x; --`, Key: []string{"id"}}},
		{"parent without refs", "postgres", schema.CheckOptions{Table: "note", Key: []string{"id"}, Parent: "defect", ParentKey: []string{"id"}}},
		{"unknown dialect", "oracle", schema.CheckOptions{Table: "note", Key: []string{"id"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			err := schema.GenerateMastershipCheck(&b, tt.dialect, tt.opt)
			if err == nil || b.Len() != 0 {
				t.Errorf("accepted, wrote %d bytes", b.Len())
			}
			if tt.dialect != "oracle" && !errors.Is(err, schema.ErrInvalidMigration) {
				t.Errorf("error %v, want ErrInvalidMigration", err)
			}
		})
	}
	for _, d := range []string{schema.SQLite, schema.Postgres, schema.MySQL} {
		var b bytes.Buffer
		if err := schema.GenerateMastershipCheck(&b, d, schema.CheckOptions{Table: "note", Key: []string{"id"}}); err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		stmts, err := schema.SplitStatements(b.String())
		if err != nil || len(stmts) < 2 || !strings.Contains(b.String(), "ms_master") {
			t.Errorf("%s: %d statements, %v:\n%s", d, len(stmts), err, b.String())
		}
	}
}

func ExampleSplitStatements() {
	stmts, _ := schema.SplitStatements(`
ALTER TABLE defect ADD COLUMN priority INTEGER; -- a comment; not a statement
-- +multisite StatementBegin
CREATE TRIGGER t AFTER INSERT ON defect BEGIN SELECT 1; END;
-- +multisite StatementEnd
`)
	for _, s := range stmts {
		fmt.Printf("%q\n", s)
	}
	// Output:
	// "ALTER TABLE defect ADD COLUMN priority INTEGER"
	// "CREATE TRIGGER t AFTER INSERT ON defect BEGIN SELECT 1; END"
}
