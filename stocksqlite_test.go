package multisite_test

import (
	"database/sql"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/multisite-go/multisite/mastership"
	"github.com/multisite-go/multisite/replica"
	"github.com/stretchr/testify/require"
)

// stockSQLite runs SQL with the sqlite3 command-line shell on the file at
// path and returns its output and error (with the shell's message).
func stockSQLite(t *testing.T, bin, path, sql string) (string, error) {
	t.Helper()
	out, err := exec.Command(bin, "-bail", path, sql).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("sqlite3: %w: %s", err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// pythonSQLite runs SQL statements one by one with python3's sqlite3 module
// (the SQLite it links, not the one this library embeds), committing each,
// and returns the rows of the last one or the error it raised.
func pythonSQLite(t *testing.T, bin, path string, stmts ...string) (string, error) {
	t.Helper()
	script := `
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], timeout=20)
out = None
try:
    for s in sys.argv[2:]:
        out = con.execute(s).fetchall()
        con.commit()
except sqlite3.Error as e:
    print(str(e), file=sys.stderr)
    sys.exit(3)
print(out)
`
	out, err := exec.Command(bin, append([]string{"-c", script, path}, stmts...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("python3: %w: %s", err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// TestStockSQLite opens activated databases with the SQLite a user already
// has (Debian's sqlite3 shell and python3's sqlite3 module, both older than
// the SQLite this library embeds): they read, their writes of local rows
// are captured and reach the other replica, and their write of a row
// mastered elsewhere is refused with a message naming the master, which
// mastership.FromDriver types when the library's driver reports it.
func TestStockSQLite(t *testing.T) {
	shell, err := exec.LookPath("sqlite3")
	if err != nil {
		t.Skip("no sqlite3 shell on PATH (apt-get install sqlite3): ", err)
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 on PATH: ", err)
	}
	ver, err := exec.Command(py, "-c", "import sqlite3; print(sqlite3.sqlite_version)").Output()
	if err != nil {
		t.Skip("python3 has no sqlite3 module: ", err)
	}
	shellVer, _ := stockSQLite(t, shell, ":memory:", "SELECT sqlite_version()")
	t.Logf("sqlite3 shell %s, python3 sqlite3 %s", shellVer, strings.TrimSpace(string(ver)))

	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name+".db") }
	sites := familyOn(t, func(name string) *sql.DB { return testdb.SQLiteAt(t, path(name)) }, 3, "boston", "bangalore")
	boston, bangalore := sites[0], sites[1]
	bosLo, _ := replica.KeyRange(0)
	blrLo, _ := replica.KeyRange(1)

	// Read.
	if out, err := stockSQLite(t, shell, path("boston"), "SELECT count(*) FROM defect"); err != nil || out != "3" {
		t.Fatalf("sqlite3 reads boston: %q, %v; want 3", out, err)
	}
	if out, err := pythonSQLite(t, py, path("bangalore"), "SELECT count(*) FROM defect"); err != nil || out != "[(3,)]" {
		t.Fatalf("python3 reads bangalore: %q, %v; want [(3,)]", out, err)
	}

	// Local writes: the shell at boston, python at bangalore.
	shellNew, pyNew := bosLo+100, blrLo+100
	_, err = stockSQLite(t, shell, path("boston"), fmt.Sprintf(`
INSERT INTO defect (id, project, headline) VALUES (%d, 'CORE', 'from the shell');
UPDATE defect SET owner = 'shell' WHERE id = 1;
DELETE FROM defect WHERE id = 2;`, shellNew))
	require.NoError(t, err, "local writes with the sqlite3 shell at boston")
	_, err = pythonSQLite(t, py, path("bangalore"),
		fmt.Sprintf(`INSERT INTO defect (id, project, headline) VALUES (%d, 'UI', 'from python')`, pyNew),
		fmt.Sprintf(`UPDATE defect SET owner = 'python' WHERE id = %d`, pyNew),
		fmt.Sprintf(`INSERT INTO defect (id, project, headline) VALUES (%d, 'UI', 'short-lived')`, pyNew+1),
		fmt.Sprintf(`DELETE FROM defect WHERE id = %d`, pyNew+1))
	require.NoError(t, err, "local writes with python3 at bangalore")

	// Captured and exported: each replica gets the other's writes.
	syncPair(t, boston, bangalore)
	syncPair(t, bangalore, boston)
	requireConverged(t, boston, bangalore)
	got := map[string]string{}
	for _, s := range sites {
		rows, err := s.db.Query(`SELECT id, coalesce(owner, '') FROM defect ORDER BY id`)
		require.NoError(t, err)
		var b strings.Builder
		for rows.Next() {
			var id int64
			var owner string
			require.NoError(t, rows.Scan(&id, &owner))
			fmt.Fprintf(&b, "%d:%s ", id, owner)
		}
		require.NoError(t, rows.Err())
		rows.Close()
		got[s.name] = strings.TrimSpace(b.String())
	}
	want := fmt.Sprintf("1:shell 3:alice %d: %d:python", shellNew, pyNew)
	if diff := cmp.Diff(map[string]string{"boston": want, "bangalore": want}, got); diff != "" {
		t.Errorf("rows after the stock clients' writes and one sync each way (-want +got):\n%s", diff)
	}

	// A row mastered elsewhere: defect 1 is boston's.
	wantErr := &mastership.NotMasterError{Table: "defect", Master: boston.id, By: bangalore.id, MasterName: "boston"}
	before := dump(t, bangalore.db)
	refusals := map[string]error{}
	_, refusals["sqlite3 shell"] = stockSQLite(t, shell, path("bangalore"), `UPDATE defect SET owner = 'mallory' WHERE id = 1`)
	_, refusals["python3"] = pythonSQLite(t, py, path("bangalore"), `UPDATE defect SET owner = 'mallory' WHERE id = 1`)
	_, refusals["library's driver"] = bangalore.db.Exec(`UPDATE defect SET owner = 'mallory' WHERE id = 1`)
	for by, err := range refusals {
		if err == nil {
			t.Errorf("%s changed defect 1, mastered by boston, at bangalore", by)
			continue
		}
		if !strings.Contains(err.Error(), "(boston)") {
			t.Errorf("%s: refusal %q does not name the master boston", by, err)
		}
		var nm *mastership.NotMasterError
		if !errors.As(mastership.FromDriver(err), &nm) {
			t.Errorf("%s: FromDriver(%v) is no *NotMasterError", by, err)
			continue
		}
		if diff := cmp.Diff(wantErr, nm); diff != "" {
			t.Errorf("%s: FromDriver (-want +got):\n%s", by, diff)
		}
	}
	if diff := cmp.Diff(before, dump(t, bangalore.db)); diff != "" {
		t.Errorf("refused writes changed bangalore (-before +after):\n%s", diff)
	}
}
