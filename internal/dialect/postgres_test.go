package dialect

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite/internal/testdb"
)

func TestPostgres_Type(t *testing.T) {
	d := PostgresDialect{}
	tests := map[string]string{
		"INTEGER": "BIGINT", "int(11)": "BIGINT", "smallint": "SMALLINT", "BOOLEAN": "BOOLEAN", "tinyint(1)": "BOOLEAN",
		"REAL": "DOUBLE PRECISION", "double": "DOUBLE PRECISION", "DECIMAL(12,2)": "NUMERIC(12,2)", "numeric": "NUMERIC",
		"TEXT": "TEXT", "VARCHAR(10)": "VARCHAR(10)", "character varying(20)": "VARCHAR(20)", "char(4)": "CHAR(4)", "longtext": "TEXT",
		"BLOB": "BYTEA", "longblob": "BYTEA", "DATETIME": "TIMESTAMP", "datetime(6)": "TIMESTAMP(6)",
		"timestamp with time zone": "TIMESTAMPTZ", "DATE": "DATE", "time(6)": "TIME(6)", "jsonb": "JSONB", "": "TEXT",
	}
	for in, want := range tests {
		if got := d.Type(in); got != want {
			t.Errorf("Type(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPostgres_DefaultsArePortableLiterals(t *testing.T) {
	tests := map[string]string{
		"'open'::text": "'open'", "'x'::character varying": "'x'", "0": "0", "true": "true",
		"nextval('defect_id_seq'::regclass)": "", "now()": "CURRENT_TIMESTAMP", "CURRENT_TIMESTAMP": "CURRENT_TIMESTAMP",
		"NULL::text": "", "gen_random_uuid()": "", "'2026-01-02'::date": "'2026-01-02'",
	}
	for in, want := range tests {
		if got := portableDefault(in); got != want {
			t.Errorf("portableDefault(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPostgres_OldServerIsRefused(t *testing.T) {
	err := checkPostgresVersion("110020")
	var ve *ServerVersionError
	if !errors.As(err, &ve) || !errors.Is(err, ErrUnsupported) {
		t.Fatalf("PostgreSQL 11: %v, want *ServerVersionError", err)
	}
	if ve.Version != "11.0" {
		t.Errorf("version reported as %q", ve.Version)
	}
	if err := checkPostgresVersion("150020"); err != nil {
		t.Errorf("PostgreSQL 15 refused: %v", err)
	}
}

func TestPostgres_Describe(t *testing.T) {
	db := testdb.Postgres(t, "describe")
	ctx := context.Background()
	testdb.Exec(t, db, `CREATE TABLE tag (
		note TEXT DEFAULT 'none', tag VARCHAR(20) NOT NULL, id SERIAL, n NUMERIC(10,2),
		doubled BIGINT GENERATED ALWAYS AS (id * 2) STORED, PRIMARY KEY (tag, id))`)
	d := PostgresDialect{}
	got, ok, err := d.Describe(ctx, db, "tag")
	if err != nil || !ok {
		t.Fatalf("Describe: %v, %v", ok, err)
	}
	want := Table{Name: "tag", Columns: []Column{
		{Name: "note", Type: "text", Default: "'none'"},
		{Name: "tag", Type: "character varying(20)", NotNull: true, Key: 1},
		{Name: "id", Type: "integer", NotNull: true, Key: 2},
		{Name: "n", Type: "numeric(10,2)"},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Describe (-want +got):\n%s", diff)
	}
	if _, ok, err := d.Describe(ctx, db, "nosuch"); ok || err != nil {
		t.Errorf("Describe(nosuch) = %v, %v", ok, err)
	}
	names, err := d.Tables(ctx, db)
	if err != nil || !cmp.Equal([]string{"tag"}, names) {
		t.Errorf("Tables = %v, %v", names, err)
	}
}
