package multisite

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/multisite-go/multisite/internal/engine"
	"github.com/multisite-go/multisite/replica"
)

// TestPacketLimits checks the public rule of the size limits (0: the
// default; negative: no limit) as the engine receives it (0: no limit).
func TestPacketLimits(t *testing.T) {
	tests := []struct {
		name         string
		imp, create  int64
		wantImport   int64
		wantCreation int64
	}{
		{"zero means the defaults", 0, 0, DefaultMaxPacketSize, DefaultMaxCreationSize},
		{"negative means no limit", -1, -5, 0, 0},
		{"a limit is kept", 4096, 1 << 40, 4096, 1 << 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := engineImportOptions(ImportOptions{MaxPacketSize: tt.imp}).MaxPacketSize; got != tt.wantImport {
				t.Errorf("import limit %d reaches the engine as %d, want %d", tt.imp, got, tt.wantImport)
			}
			if got := engineCreateOptions(CreateOptions{MaxPacketSize: tt.create}).MaxPacketSize; got != tt.wantCreation {
				t.Errorf("creation limit %d reaches the engine as %d, want %d", tt.create, got, tt.wantCreation)
			}
		})
	}
	if DefaultMaxPacketSize != 1<<30 || DefaultMaxRowSize != 2<<20 || DefaultMaxRecords != 65536 || DefaultMaxMeta != 16<<20 {
		t.Errorf("defaults %d, %d, %d, %d; the docs say 1 GiB, 2 MiB, 65,536 and 16 MiB", DefaultMaxPacketSize, DefaultMaxRowSize, DefaultMaxRecords, DefaultMaxMeta)
	}
	// Every limit reaches the engine safe from a zero-value options
	// struct, for import and creation alike.
	imp, cre := engineImportOptions(ImportOptions{}), engineCreateOptions(CreateOptions{})
	if imp.MaxRowSize != DefaultMaxRowSize || cre.MaxRowSize != DefaultMaxRowSize {
		t.Errorf("row limit from zero options: import %d, creation %d; want %d", imp.MaxRowSize, cre.MaxRowSize, DefaultMaxRowSize)
	}
	if imp.MaxRecords != 0 || imp.MaxMeta != 0 || cre.MaxRecords != 0 || cre.MaxMeta != 0 {
		t.Errorf("record limits from zero options reach the engine as %d, %d, %d, %d; want 0 (the reader's defaults)", imp.MaxRecords, imp.MaxMeta, cre.MaxRecords, cre.MaxMeta)
	}
}

// fill sets every settable field of v, recursively, to a value that is
// not zero: one element per slice and map, a filled value behind every
// pointer. Interfaces it cannot fill are left nil.
func fill(v reflect.Value, depth int) {
	if depth > 6 {
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1)
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			fill(v.Index(i), depth+1)
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0), depth+1)
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, depth+1)
		fill(e, depth+1)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), depth+1)
		v.Set(p)
	case reflect.Func:
		v.Set(reflect.MakeFunc(v.Type(), func([]reflect.Value) []reflect.Value {
			out := make([]reflect.Value, v.Type().NumOut())
			for i := range out {
				out[i] = reflect.Zero(v.Type().Out(i))
			}
			return out
		}))
	case reflect.Interface:
		if reflect.TypeOf("x").AssignableTo(v.Type()) {
			v.Set(reflect.ValueOf("x"))
		} else if reflect.TypeOf(errors.New("x")).AssignableTo(v.Type()) {
			v.Set(reflect.ValueOf(errors.New("x")))
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(time.Unix(1, 0)))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), depth+1)
			}
		}
	}
}

// filled returns a T with every field filled.
func filled[T any]() T {
	var v T
	fill(reflect.ValueOf(&v).Elem(), 0)
	return v
}

// zeroFields lists the exported fields of the struct v that are zero.
func zeroFields(v any, except ...string) []string {
	rv := reflect.Indirect(reflect.ValueOf(v))
	var zero []string
	for i := 0; i < rv.NumField(); i++ {
		f := rv.Type().Field(i)
		if f.IsExported() && rv.Field(i).IsZero() && !slices.Contains(except, f.Name) {
			zero = append(zero, f.Name)
		}
	}
	return zero
}

// TestConversions_CopyEveryField converts values with every field set and
// fails for a field the conversion leaves behind.
func TestConversions_CopyEveryField(t *testing.T) {
	tests := []struct {
		name   string
		got    any
		except []string // fields that are nil interfaces in the input
	}{
		{"ImportReport", importReport(ptr(filled[engine.ImportReport]())), nil},
		{"TableCounts", *importReport(ptr(filled[engine.ImportReport]())).Tables["x"], nil},
		{"Conflict", importReport(ptr(filled[engine.ImportReport]())).Conflicts[0], nil},
		{"ExportStats", exportStats(filled[engine.ExportStats]()), nil},
		{"ImportProgress", importProgress(filled[engine.ImportProgress]()), nil},
		{"CharsetReport", charsetReport(ptr(filled[engine.CharsetReport]())), nil},
		{"CharsetViolation", charsetViolation(filled[engine.CharsetViolation]()), nil},
		{"CharsetStatus", charsetStatus(ptr(filled[engine.CharsetStatus]())), nil},
		{"NarrowColumn", narrowColumns([]engine.NarrowColumn{filled[engine.NarrowColumn]()})[0], nil},
		{"Status", status(ptr(filled[engine.Status]())), nil},
		{"CleanReport", cleanReport(ptr(filled[engine.CleanReport]())), nil},
		{"CleanChange", cleanReport(ptr(filled[engine.CleanReport]())).Changes[0], nil},
		{"PruneStats", pruneStats(filled[engine.PruneStats]()), nil},
		{"MigrateReport", migrateReport(ptr(filled[engine.MigrateReport]())), nil},
		{"MigrationStatus", migrationStatuses([]engine.MigrationStatus{filled[engine.MigrationStatus]()})[0], nil},
		{"CollisionRecord", collisionRecord(filled[engine.CollisionRecord]()), nil},
		{"MasteryReport", masteryReport(ptr(filled[engine.MasteryReport]())), nil},
		{"MasteredRow", masteredRow(filled[engine.MasteredRow]()), nil},
		{"TransferInFlight", masteryReport(ptr(filled[engine.MasteryReport]())).Transfers[0], nil},
		{"RequestInFlight", masteryReport(ptr(filled[engine.MasteryReport]())).Requests[0], nil},
		{"Request", request(filled[engine.MastershipRequest]()), nil},
		// Options, public to engine. Recover is RecoverPacket's argument;
		// Policy is an interface the filler leaves nil.
		{"ImportOptions", engineImportOptions(filled[ImportOptions]()), nil},
		{"CreateOptions", engineCreateOptions(filled[CreateOptions]()), nil},
		{"ExportOptions", engineExportOptions(filled[ExportOptions](), replica.Vector{"x": 1}), []string{"Policy"}},
		{"CharsetOptions", engineCharsetOptions(filled[CharsetOptions]()), nil},
		{"CleanOptions", engineCleanOptions(filled[CleanOptions]()), nil},
		{"CollisionFilter", engineCollisionFilter(filled[CollisionFilter]()), nil},
		{"RequestFilter", engineRequestFilter(filled[RequestFilter]()), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if z := zeroFields(tt.got, tt.except...); len(z) > 0 {
				t.Errorf("conversion left fields zero: %v", z)
			}
		})
	}
}

// TestConversions_KeepEmptySlices checks that nil and empty slices stay
// what they were, so JSON output does not change at the boundary.
func TestConversions_KeepEmptySlices(t *testing.T) {
	empty := masteryReport(&engine.MasteryReport{Rows: []engine.MasteredRow{}})
	if empty.Rows == nil || len(empty.Rows) != 0 {
		t.Errorf("empty Rows became %#v", empty.Rows)
	}
	if empty.Transfers != nil {
		t.Errorf("nil Transfers became %#v", empty.Transfers)
	}
}

func ptr[T any](v T) *T { return &v }
