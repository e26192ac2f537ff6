package multisite_test

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/internal/engine"
	"github.com/multisite-go/multisite/mastership"
)

// publicPackages are the directories of the packages users import.
var publicPackages = []string{".", "replica", "mastership", "hooks", "schema", "codepage", "syncpkt", "transport"}

// internalRefs lists, for the non-test files of the package in dir, every
// exported declaration that names a type of an internal package: an alias
// (type X = engine.Y), a field of an exported type, a parameter or result
// of an exported function or method, or an exported constant or variable
// copied from one. Sentinel variables (var ErrX = engine.ErrX) are values
// of type error, and are allowed.
func internalRefs(t *testing.T, dir string) []string {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		internal := map[string]bool{} // local names of internal imports
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if !strings.Contains(path, "/internal/") {
				continue
			}
			local := path[strings.LastIndex(path, "/")+1:]
			if imp.Name != nil {
				local = imp.Name.Name
			}
			internal[local] = true
		}
		if len(internal) == 0 {
			continue
		}
		// refs reports the internal selectors under n.
		refs := func(what string, n ast.Node) {
			if n == nil {
				return
			}
			ast.Inspect(n, func(n ast.Node) bool {
				// A function literal's body is code, not a signature.
				if _, ok := n.(*ast.BlockStmt); ok {
					return false
				}
				if sel, ok := n.(*ast.SelectorExpr); ok {
					if id, ok := sel.X.(*ast.Ident); ok && internal[id.Name] {
						found = append(found, fmt.Sprintf("%s: %s names %s.%s", fset.Position(sel.Pos()), what, id.Name, sel.Sel.Name))
					}
				}
				return true
			})
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.GenDecl:
				if d.Tok == token.CONST || d.Tok == token.VAR {
					for _, s := range d.Specs {
						vs := s.(*ast.ValueSpec)
						for i, n := range vs.Names {
							if !n.IsExported() {
								continue
							}
							what := strings.ToLower(d.Tok.String()) + " " + n.Name
							refs(what, vs.Type)
							// A constant copied from an internal package has
							// its type; a variable may only copy a sentinel
							// error, whose type is error.
							if i < len(vs.Values) && (d.Tok == token.CONST || !strings.HasPrefix(n.Name, "Err")) {
								refs(what, vs.Values[i])
							}
						}
					}
					continue
				}
				if d.Tok != token.TYPE {
					continue
				}
				for _, s := range d.Specs {
					ts := s.(*ast.TypeSpec)
					if !ts.Name.IsExported() {
						continue
					}
					what := "type " + ts.Name.Name
					if ts.Assign.IsValid() {
						what += " (an alias)"
					}
					// Unexported fields are the package's own business.
					if st, ok := ts.Type.(*ast.StructType); ok {
						for _, fld := range st.Fields.List {
							exported := len(fld.Names) == 0
							for _, n := range fld.Names {
								exported = exported || n.IsExported()
							}
							if exported {
								refs(what, fld.Type)
							}
						}
						continue
					}
					refs(what, ts.Type)
				}
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				if d.Recv != nil {
					rt := d.Recv.List[0].Type
					if st, ok := rt.(*ast.StarExpr); ok {
						rt = st.X
					}
					if id, ok := rt.(*ast.Ident); !ok || !id.IsExported() {
						continue
					}
				}
				refs("func "+d.Name.Name, d.Type)
			}
		}
	}
	return found
}

// TestPublicAPI_NoInternalTypes fails when a public package exposes a type
// of an internal package: go doc shows such a type without its fields, and
// nobody outside the module can name it.
func TestPublicAPI_NoInternalTypes(t *testing.T) {
	for _, dir := range publicPackages {
		t.Run(dir, func(t *testing.T) {
			if _, err := os.Stat(dir); err != nil {
				t.Skipf("no package %s here", dir)
			}
			for _, r := range internalRefs(t, dir) {
				t.Error(r)
			}
		})
	}
}

// TestPublicAPI_CheckerFinds makes sure the checker above is able to fail.
func TestPublicAPI_CheckerFinds(t *testing.T) {
	dir := t.TempDir()
	src := `package p

import (
	"github.com/multisite-go/multisite/internal/engine"
	d "github.com/multisite-go/multisite/internal/dialect"
)

type Report = engine.ImportReport

type Opts struct {
	Hidden engine.CreateOptions
	inner  engine.ExportStats
}

func Plan(x d.Dialect) {}

func ok() engine.Status { return engine.Status{} }

var ErrX = engine.ErrPacket

const Pending = engine.RequestPending

var Default = engine.ImportOptions{}
`
	if err := os.WriteFile(filepath.Join(dir, "p.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range internalRefs(t, dir) {
		got = append(got, r[strings.Index(r, ": ")+2:])
	}
	want := []string{
		"type Report (an alias) names engine.ImportReport",
		"type Opts names engine.CreateOptions",
		"func Plan names d.Dialect",
		"const Pending names engine.RequestPending",
		"var Default names engine.ImportOptions",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("internalRefs (-want +got):\n%s", diff)
	}
}

// TestPublicAPI_FieldsDocumented fails for an exported field of an
// exported struct type of package multisite that has no comment: go doc
// is where users read what a field means.
func TestPublicAPI_FieldsDocumented(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, s := range gd.Specs {
				ts := s.(*ast.TypeSpec)
				st, ok := ts.Type.(*ast.StructType)
				if !ok || !ts.Name.IsExported() {
					continue
				}
				for _, fld := range st.Fields.List {
					if fld.Doc != nil || fld.Comment != nil {
						continue
					}
					for _, n := range fld.Names {
						if n.IsExported() {
							t.Errorf("%s: field %s.%s has no comment", fset.Position(n.Pos()), ts.Name.Name, n.Name)
						}
					}
				}
			}
		}
	}
}

// TestFacadeFields fails when an engine type gains a field that its public
// twin in package multisite lacks, so a field added to the engine is not
// silently dropped at the boundary (convert.go).
func TestFacadeFields(t *testing.T) {
	pairs := []struct{ internal, public any }{
		{engine.ImportOptions{}, multisite.ImportOptions{}},
		{engine.CreateOptions{}, multisite.CreateOptions{}},
		{engine.ImportProgress{}, multisite.ImportProgress{}},
		{engine.ExportOptions{}, multisite.ExportOptions{}},
		{engine.ReplicateOptions{}, multisite.ReplicateOptions{}},
		{engine.ActivateOptions{}, multisite.ActivateOptions{}},
		{engine.MasteryOptions{}, multisite.MasteryOptions{}},
		{engine.ExportStats{}, multisite.ExportStats{}},
		{engine.ImportReport{}, multisite.ImportReport{}},
		{engine.TableCounts{}, multisite.TableCounts{}},
		{engine.Conflict{}, multisite.Conflict{}},
		{engine.CharsetViolation{}, multisite.CharsetViolation{}},
		{engine.CharsetReport{}, multisite.CharsetReport{}},
		{engine.CharsetOptions{}, multisite.CharsetOptions{}},
		{engine.CharsetStatus{}, multisite.CharsetStatus{}},
		{engine.NarrowColumn{}, multisite.NarrowColumn{}},
		{engine.Status{}, multisite.Status{}},
		{engine.CleanOptions{}, multisite.CleanOptions{}},
		{engine.CleanReport{}, multisite.CleanReport{}},
		{engine.CleanChange{}, multisite.CleanChange{}},
		{engine.RemoveOptions{}, multisite.RemoveOptions{}},
		{engine.PruneStats{}, multisite.PruneStats{}},
		{engine.MigrateOptions{}, multisite.MigrateOptions{}},
		{engine.MigrateReport{}, multisite.MigrateReport{}},
		{engine.MigrationStatus{}, multisite.MigrationStatus{}},
		{engine.CollisionRecord{}, multisite.CollisionRecord{}},
		{engine.CollisionFilter{}, multisite.CollisionFilter{}},
		{engine.MasteryReport{}, multisite.MasteryReport{}},
		{engine.MasteredRow{}, multisite.MasteredRow{}},
		{engine.TransferInFlight{}, multisite.TransferInFlight{}},
		{engine.RequestInFlight{}, multisite.RequestInFlight{}},
		{engine.MastershipRequest{}, multisite.Request{}},
		{engine.RequestFilter{}, multisite.RequestFilter{}},
		{engine.CharsetError{}, multisite.CharsetError{}},
		{engine.MismatchError{}, multisite.MismatchError{}},
		{dialect.ServerVersionError{}, multisite.ServerVersionError{}},
		{engine.MastersRowsError{}, multisite.MastersRowsError{}},
		{engine.PrunedError{}, multisite.PrunedError{}},
		{engine.ForeignKeyError{}, multisite.ForeignKeyError{}},
		{engine.CollisionError{}, multisite.CollisionError{}},
		{engine.AlreadyMasterError{}, multisite.AlreadyMasterError{}},
		{engine.RequestStateError{}, multisite.RequestStateError{}},
		{engine.NoRowError{}, multisite.NoRowError{}},
	}
	// Engine fields the façade deliberately does not offer, with why.
	internalOnly := map[string]string{
		"ExportOptions.Recover": "RecoverPacket's since argument",
	}
	// Public fields that hold what the engine gets elsewhere.
	for _, p := range pairs {
		it, pt := reflect.TypeOf(p.internal), reflect.TypeOf(p.public)
		for i := 0; i < it.NumField(); i++ {
			f := it.Field(i)
			if !f.IsExported() || internalOnly[it.Name()+"."+f.Name] != "" {
				continue
			}
			if _, ok := pt.FieldByName(f.Name); !ok {
				t.Errorf("engine.%s has field %s that multisite.%s lacks: add it and its conversion in convert.go", it.Name(), f.Name, pt.Name())
			}
		}
	}
}

// TestPublicError_Translates checks that every typed error of the engine
// reaches callers as the public type, with its fields, its message and its
// sentinels unchanged, under the context the engine wrapped it in.
func TestPublicError_Translates(t *testing.T) {
	tests := []struct {
		name     string
		internal error
		as       func(error) (any, bool)
		want     any
		sentinel error
	}{
		{
			"charset",
			&engine.CharsetError{CodePage: "windows-1252", Table: "t", Key: "1", Column: "c", Offset: 3, Rune: 'ж', Char: "ж"},
			asType[*multisite.CharsetError],
			&multisite.CharsetError{CodePage: "windows-1252", Table: "t", Key: "1", Column: "c", Offset: 3, Rune: 'ж', Char: "ж"},
			multisite.ErrCharset,
		},
		{
			"mismatch",
			&engine.MismatchError{Field: "family", Want: "a", Got: "b", Err: engine.ErrFamily},
			asType[*multisite.MismatchError],
			&multisite.MismatchError{Field: "family", Want: "a", Got: "b", Err: multisite.ErrFamily},
			multisite.ErrFamily,
		},
		{
			"server version",
			&dialect.ServerVersionError{Dialect: dialect.Postgres, Version: "11.2", Min: "12"},
			asType[*multisite.ServerVersionError],
			&multisite.ServerVersionError{Dialect: multisite.Postgres, Version: "11.2", Min: "12"},
			multisite.ErrUnsupported,
		},
		{
			"masters rows",
			&engine.MastersRowsError{Replica: "r1", Tables: map[string]int{"t": 2}},
			asType[*multisite.MastersRowsError],
			&multisite.MastersRowsError{Replica: "r1", Tables: map[string]int{"t": 2}},
			multisite.ErrMastersRows,
		},
		{
			"pruned",
			&engine.PrunedError{Target: "r2", Origin: "r1", Has: 3, Pruned: 9},
			asType[*multisite.PrunedError],
			&multisite.PrunedError{Target: "r2", Origin: "r1", Has: 3, Pruned: 9},
			multisite.ErrPruned,
		},
		{
			"foreign key",
			&engine.ForeignKeyError{Table: "child", Columns: []string{"p"}, RefTable: "parent", Values: []any{int64(4)}},
			asType[*multisite.ForeignKeyError],
			&multisite.ForeignKeyError{Table: "child", Columns: []string{"p"}, RefTable: "parent", Values: []any{int64(4)}},
			multisite.ErrForeignKey,
		},
		{
			"collision",
			&engine.CollisionError{Table: "t", Columns: []string{"n"}, Value: []any{int64(1)}},
			asType[*multisite.CollisionError],
			&multisite.CollisionError{Table: "t", Columns: []string{"n"}, Value: []any{int64(1)}},
			multisite.ErrCollision,
		},
		{
			"already master",
			&engine.AlreadyMasterError{Table: "t", Key: "1", Master: "r1"},
			asType[*multisite.AlreadyMasterError],
			&multisite.AlreadyMasterError{Table: "t", Key: "1", Master: "r1"},
			multisite.ErrAlreadyMaster,
		},
		{
			"request state",
			&engine.RequestStateError{ID: "q1", State: engine.RequestGranted, Master: "r1", Local: "r2"},
			asType[*multisite.RequestStateError],
			&multisite.RequestStateError{ID: "q1", State: multisite.RequestGranted, Master: "r1", Local: "r2"},
			multisite.ErrRequestState,
		},
		{
			"no row",
			&engine.NoRowError{Table: "t", Key: "1"},
			asType[*multisite.NoRowError],
			&multisite.NoRowError{Table: "t", Key: "1"},
			mastership.ErrNoRow,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wrapped := fmt.Errorf("multisite: import: %w", tt.internal)
			got := multisite.PublicErrorForTest(wrapped)
			pub, ok := tt.as(got)
			if !ok {
				t.Fatalf("errors.As(%v) found no %T", got, tt.want)
			}
			// Compare the structs, not the pointers (which are errors, and
			// EquateErrors would compare them by identity).
			deref := func(v any) any { return reflect.ValueOf(v).Elem().Interface() }
			if diff := cmp.Diff(deref(tt.want), deref(pub), cmpopts.EquateErrors()); diff != "" {
				t.Errorf("public error (-want +got):\n%s", diff)
			}
			if !errors.Is(got, tt.sentinel) {
				t.Errorf("errors.Is(%v, %v) = false", got, tt.sentinel)
			}
			if got.Error() != wrapped.Error() {
				t.Errorf("message = %q, want the engine's %q", got.Error(), wrapped.Error())
			}
			// The public type, made by a caller, says the same as the engine's.
			if msg := pub.(error).Error(); msg != tt.internal.Error() {
				t.Errorf("public Error() = %q, want %q", msg, tt.internal.Error())
			}
		})
	}
	plain := errors.New("plain")
	if got := multisite.PublicErrorForTest(plain); got != plain {
		t.Errorf("an error without a typed engine error changed: %v", got)
	}
	if got := multisite.PublicErrorForTest(nil); got != nil {
		t.Errorf("nil became %v", got)
	}
}

func asType[T error](err error) (any, bool) {
	var target T
	ok := errors.As(err, &target)
	return target, ok
}

// TestPublicAPI_EveryPackageChecked keeps the list of checked packages honest: every
// directory holding a non-internal Go package is either public or listed.
func TestPublicAPI_EveryPackageChecked(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "internal" || e.Name() == "examples" || strings.HasPrefix(e.Name(), ".") || e.Name() == "testdata" {
			continue
		}
		if m, _ := filepath.Glob(filepath.Join(e.Name(), "*.go")); len(m) > 0 {
			dirs = append(dirs, e.Name())
		}
	}
	sort.Strings(dirs)
	listed := append([]string(nil), publicPackages[1:]...)
	sort.Strings(listed)
	if diff := cmp.Diff(dirs, listed); diff != "" {
		t.Errorf("public package directories (-found +checked):\n%s", diff)
	}
}
