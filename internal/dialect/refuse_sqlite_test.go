package dialect

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite/internal/testdb"
)

// TestRefusalTrigger runs the refusal trigger in a real SQLite: the
// message it raises names table and master as the registry and the
// tables say, falls back to "?" for either one it does not know, and
// quotes names with quotes in them.
func TestRefusalTrigger(t *testing.T) {
	d := SQLiteDialect{}
	db := testdb.SQLite(t, "refuse")
	members := []RefusalMember{{ID: "b0", Name: "boston"}, {ID: "c1", Name: "o'hare"}}
	testdb.Exec(t, db, refuseTable, d.RefusalTrigger("l9", []string{"defect", "it's"}, members))
	tests := []struct {
		tbl, master string
		want        string
	}{
		{"defect", "b0", NotMasterLiteral("defect", "b0", "boston", "l9")},
		{"it's", "c1", NotMasterLiteral("it's", "c1", "o'hare", "l9")},
		{"other", "b0", NotMasterLiteral("?", "b0", "boston", "l9")},
		{"defect", "zz", NotMasterLiteral("defect", "?", "unknown replica", "l9")},
		{"other", "zz", NotMasterLiteral("?", "?", "unknown replica", "l9")},
	}
	for _, tt := range tests {
		_, err := db.Exec(`INSERT INTO ms_refuse (tbl, master) VALUES (?, ?)`, tt.tbl, tt.master)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("refusal of %s mastered by %s = %v, want %q", tt.tbl, tt.master, err, tt.want)
		}
	}
	// Without its trigger, ms_refuse still refuses every row.
	testdb.Exec(t, db, "DROP TRIGGER ms_refuse_bi")
	if _, err := db.Exec(`INSERT INTO ms_refuse (tbl, master) VALUES ('defect', 'b0')`); err == nil {
		t.Error("ms_refuse took a row without its trigger")
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM ms_refuse`).Scan(&n); err != nil || n != 0 {
		t.Errorf("ms_refuse holds %d rows, %v", n, err)
	}
}

// TestRefusalTrigger_Stable: the trigger is the same whatever order the
// registry and the tables come in, so it is re-created only when they
// change.
func TestRefusalTrigger_Stable(t *testing.T) {
	d := SQLiteDialect{}
	a := d.RefusalTrigger("l", []string{"b", "a"}, []RefusalMember{{ID: "2", Name: "x"}, {ID: "1", Name: "y"}})
	b := d.RefusalTrigger("l", []string{"a", "b"}, []RefusalMember{{ID: "1", Name: "y"}, {ID: "2", Name: "x"}})
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("trigger depends on order (-a +b):\n%s", diff)
	}
	if !SameTrigger(a, strings.ReplaceAll(a, "\n", "\n  ")) || SameTrigger(a, strings.Replace(a, "(y)", "(z)", 1)) {
		t.Error("SameTrigger does not compare up to white space")
	}
}
