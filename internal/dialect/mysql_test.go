package dialect

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite/internal/testdb"
)

func TestMySQL_Type(t *testing.T) {
	d := MySQLDialect{}
	tests := []struct {
		in   string
		key  bool
		want string
	}{
		{"INTEGER", false, "BIGINT"}, {"int(11)", true, "BIGINT"}, {"bigint(20) unsigned", false, "BIGINT UNSIGNED"},
		{"BOOLEAN", false, "BOOLEAN"}, {"REAL", false, "DOUBLE"}, {"float", false, "DOUBLE"},
		{"DECIMAL(12,2)", false, "DECIMAL(12,2)"}, {"NUMERIC", false, "DECIMAL(65,30)"},
		{"TEXT", false, "LONGTEXT"}, {"TEXT", true, "VARCHAR(255)" + binary}, {"VARCHAR(10)", false, "VARCHAR(10)"},
		{"character varying(20)", true, "VARCHAR(20)" + binary}, {"char(4)", false, "CHAR(4)"},
		{"BLOB", false, "LONGBLOB"}, {"bytea", true, "VARBINARY(255)"}, {"varbinary(16)", false, "VARBINARY(16)"},
		{"DATETIME", false, "DATETIME(6)"}, {"timestamp(3)", false, "DATETIME(3)"}, {"timestamp with time zone", false, "DATETIME(6)"},
		{"DATE", false, "DATE"}, {"time", false, "TIME(6)"}, {"jsonb", false, "LONGTEXT"}, {"", true, "VARCHAR(255)" + binary},
	}
	for _, tt := range tests {
		if got := d.Type(tt.in, tt.key); got != tt.want {
			t.Errorf("Type(%q, key=%v) = %q, want %q", tt.in, tt.key, got, tt.want)
		}
	}
}

func TestMySQL_OldServerIsRefused(t *testing.T) {
	for _, v := range []string{"10.4.32-MariaDB", "5.7.44", "10.1.0-MariaDB-log"} {
		if err := checkMySQLVersion(v); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: %v, want a *ServerVersionError", v, err)
		}
	}
	for _, v := range []string{"10.11.19-MariaDB-0+deb12u1", "11.4.2-MariaDB", "8.0.36", "8.4.0"} {
		if err := checkMySQLVersion(v); err != nil {
			t.Errorf("%s refused: %v", v, err)
		}
	}
}

func TestMySQL_Describe(t *testing.T) {
	db := testdb.MySQL(t, "describe")
	ctx := context.Background()
	testdb.Exec(t, db, "CREATE TABLE tag (note TEXT DEFAULT 'none', tag VARCHAR(20) NOT NULL, id INT NOT NULL, n DECIMAL(10,2) DEFAULT 0, "+
		"doubled BIGINT AS (id * 2) VIRTUAL, at DATETIME DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY (tag, id))",
		"CREATE TABLE Tag2 (id INT PRIMARY KEY)")
	d := MySQLDialect{}
	got, ok, err := d.Describe(ctx, db, "tag")
	if err != nil || !ok {
		t.Fatalf("Describe: %v, %v", ok, err)
	}
	want := Table{Name: "tag", Columns: []Column{
		{Name: "note", Type: "text", Default: "'none'"},
		{Name: "tag", Type: "varchar(20)", NotNull: true, Key: 1},
		{Name: "id", Type: "int(11)", NotNull: true, Key: 2},
		{Name: "n", Type: "decimal(10,2)", Default: "0.00"},
		{Name: "at", Type: "datetime", Default: "CURRENT_TIMESTAMP"},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Describe (-want +got):\n%s", diff)
	}
	// Names are case-sensitive, as the tables are.
	if _, ok, err := d.Describe(ctx, db, "TAG"); ok || err != nil {
		t.Errorf("Describe(TAG) = %v, %v", ok, err)
	}
	names, err := d.Tables(ctx, db)
	if err != nil || !cmp.Equal([]string{"Tag2", "tag"}, names) {
		t.Errorf("Tables = %v, %v", names, err)
	}
}
