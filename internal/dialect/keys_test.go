package dialect

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSQLiteKeyTriggers_StockSQLite runs SQLite's key triggers and the
// plain-SQL key recipe in python3's sqlite3 module, an SQLite build other
// than the library's (3.40 on Debian 12), as an outsider's tool would: a
// keyless INSERT works while max(key)+1 is the replica's, is refused with
// the recipe in the message once it is not, and the recipe works, twice.
func TestSQLiteKeyTriggers_StockSQLite(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	tbl := Table{Name: "note", Columns: []Column{{Name: "id", Type: "INTEGER", Key: 1}, {Name: "body", Type: "TEXT"}}}
	d := SQLiteDialect{}
	setup := []string{
		`CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT)`,
		`CREATE TABLE ms_ctl (key_lo INTEGER, key_hi INTEGER)`,
		`INSERT INTO ms_ctl VALUES (1, 100)`,
		`CREATE TABLE ms_key (tbl TEXT PRIMARY KEY, next INTEGER NOT NULL)`,
		`INSERT INTO ms_key VALUES ('note', 1)`,
	}
	setup = append(setup, d.sqliteKeyTriggers(tbl)...)
	steps := []string{
		`INSERT INTO note (body) VALUES ('keyless at the top')`,
		`INSERT INTO note (id, body) VALUES (500, 'another replica''s key, imported')`,
		`INSERT INTO note (body) VALUES ('keyless, max+1 is not ours')`,
		`INSERT INTO note (id, body) VALUES ((SELECT next FROM ms_key WHERE tbl = 'note'), 'recipe')`,
		`INSERT INTO note (id, body) VALUES ((SELECT next FROM ms_key WHERE tbl = 'note'), 'recipe again')`,
	}
	script := `
import json, sqlite3, sys
setup, steps = json.load(sys.stdin)
db = sqlite3.connect(":memory:", isolation_level=None)
for s in setup:
    db.execute(s)
out = {"version": sqlite3.sqlite_version, "steps": []}
for s in steps:
    try:
        db.execute(s)
        out["steps"].append("ok")
    except sqlite3.Error as e:
        out["steps"].append("error: " + str(e))
out["rows"] = [list(r) for r in db.execute("SELECT id, body FROM note ORDER BY id")]
out["next"] = db.execute("SELECT next FROM ms_key").fetchone()[0]
print(json.dumps(out))
`
	in, err := json.Marshal([]any{setup, steps})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "-c", script)
	cmd.Stdin = strings.NewReader(string(in))
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, b)
	}
	var got struct {
		Version string
		Steps   []string
		Rows    [][]any
		Next    int
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("python3 output %q: %v", b, err)
	}
	t.Logf("SQLite %s", got.Version)
	for i, want := range []string{"ok", "ok", "SELECT next FROM ms_key WHERE tbl = 'note'", "ok", "ok"} {
		if !strings.Contains(got.Steps[i], want) {
			t.Errorf("step %d (%s): %s, want %q", i, steps[i], got.Steps[i], want)
		}
	}
	wantRows := [][]any{{1.0, "keyless at the top"}, {2.0, "recipe"}, {3.0, "recipe again"}, {500.0, "another replica's key, imported"}}
	if diff := cmp.Diff(wantRows, got.Rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	if got.Next != 4 {
		t.Errorf("ms_key.next = %d, want 4", got.Next)
	}
}
