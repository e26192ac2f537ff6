// Command schema shows the schema toolkit on the embedded default (SQLite
// files in a temporary directory) with two sites, boston and bangalore:
//
//   - read the activation plan before applying it;
//
//   - migrate the application's schema from SQL files embedded in the
//     program (goose's file names), first as a dry run, at boston, the
//     family's schema master, and let the migration travel to bangalore in
//     an ordinary packet;
//
//   - read the schema status, break a trigger by hand, see it, repair it;
//
//   - generate a Go hook skeleton and a custom mastership check.
//
//     go run ./examples/schema
//
// It exits non-zero if any step fails. -keep leaves the directory behind.
package main

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/schema"
	_ "modernc.org/sqlite"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

func main() {
	keep := flag.Bool("keep", false, "keep the temporary directory")
	flag.Parse()
	dir, err := os.MkdirTemp("", "multisite-schema-")
	if err == nil {
		err = run(context.Background(), dir, os.Stdout)
		if *keep {
			fmt.Println("databases kept in", dir)
		} else {
			os.RemoveAll(dir)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "schema:", err)
		os.Exit(1)
	}
}

func open(dir, name string) (*sql.DB, error) {
	return sql.Open("sqlite", "file:"+filepath.Join(dir, name+".db")+"?_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)")
}

// sync carries one packet from one site to another.
func sync(ctx context.Context, from *sql.DB, to *sql.DB, target replica.ID) (*multisite.ImportReport, error) {
	var pkt bytes.Buffer
	if _, err := multisite.ExportPacket(ctx, from, target, &pkt, multisite.ExportOptions{}); err != nil {
		return nil, err
	}
	return multisite.ImportPacket(ctx, to, &pkt, multisite.ImportOptions{})
}

func run(ctx context.Context, dir string, out io.Writer) error {
	step := 0
	say := func(format string, args ...any) {
		step++
		fmt.Fprintf(out, "\n== %d. %s\n", step, fmt.Sprintf(format, args...))
	}
	boston, err := open(dir, "boston")
	if err != nil {
		return err
	}
	defer boston.Close()
	for _, q := range []string{
		`CREATE TABLE defect (id INTEGER PRIMARY KEY, headline TEXT NOT NULL, severity INTEGER, owner TEXT)`,
		`INSERT INTO defect VALUES (1, 'crash on save', 5, 'ann'), (2, 'typo in menu', 1, 'ravi')`,
	} {
		if _, err := boston.ExecContext(ctx, q); err != nil {
			return err
		}
	}

	say("the activation plan, read before anything changes (first lines)")
	plan, err := multisite.PlanActivation(ctx, boston, multisite.ActivateOptions{Name: "boston"})
	if err != nil {
		return err
	}
	lines := strings.Split(plan.String(), "\n")
	fmt.Fprintln(out, strings.Join(lines[:min(8, len(lines))], "\n"))
	fmt.Fprintf(out, "... %d statements in all\n", len(plan.Steps))
	self, err := multisite.Activate(ctx, boston, multisite.ActivateOptions{Name: "boston"})
	if err != nil {
		return err
	}

	say("a second site, bangalore, from a creation packet")
	blr, err := open(dir, "bangalore")
	if err != nil {
		return err
	}
	defer blr.Close()
	var pkt bytes.Buffer
	blrInfo, _, err := multisite.Replicate(ctx, boston, "bangalore", &pkt, multisite.ReplicateOptions{})
	if err != nil {
		return err
	}
	if _, err := multisite.CreateReplica(ctx, blr, &pkt, multisite.CreateOptions{OriginKey: self.PublicKey}); err != nil {
		return err
	}
	if err := multisite.SetState(ctx, blr, replica.Active); err != nil {
		return err
	}

	say("migrations from embedded files, as a dry run at boston")
	migs, err := schema.FromFS(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	dry, err := multisite.Migrate(ctx, boston, migs, multisite.MigrateOptions{DryRun: true})
	if err != nil {
		return err
	}
	summarize(out, dry.Plan)

	say("bangalore is not the schema master: it may not migrate")
	_, err = multisite.Migrate(ctx, blr, migs, multisite.MigrateOptions{})
	if !errors.Is(err, schema.ErrNotSchemaMaster) {
		return fmt.Errorf("migrate at bangalore: %v, want ErrNotSchemaMaster", err)
	}
	fmt.Fprintln(out, "refused:", err)

	say("boston migrates; the next packet carries the migrations to bangalore")
	rep, err := multisite.Migrate(ctx, boston, migs, multisite.MigrateOptions{})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "schema version %d -> %d; new replicated tables %v; changed %v\n", rep.From, rep.To, rep.Replicated, rep.Changed)
	if _, err := boston.ExecContext(ctx, `UPDATE defect SET priority = 2 WHERE id = 2`); err != nil {
		return err
	}
	imp, err := sync(ctx, boston, blr, blrInfo.ID)
	if err != nil {
		return err
	}
	var prio int
	if err := blr.QueryRowContext(ctx, `SELECT priority FROM defect WHERE id = 2`).Scan(&prio); err != nil {
		return err
	}
	fmt.Fprintf(out, "bangalore applied migrations %v, then the rows: defect 2 has priority %d\n", imp.Migrated, prio)
	status, err := multisite.Migrations(ctx, blr, migs)
	if err != nil {
		return err
	}
	for _, s := range status {
		fmt.Fprintf(out, "  migration %d %-14s applied=%v\n", s.Version, s.Name, s.Applied)
	}

	say("schema status at bangalore")
	r, err := multisite.SchemaStatus(ctx, blr)
	if err != nil {
		return err
	}
	fmt.Fprint(out, r)

	say("someone drops a capture trigger by hand; status shows it; repair")
	if _, err := blr.ExecContext(ctx, `DROP TRIGGER ms_milestone_ai`); err != nil {
		return err
	}
	if r, err = multisite.SchemaStatus(ctx, blr); err != nil {
		return err
	}
	fmt.Fprint(out, r)
	fix, err := multisite.Repair(ctx, blr)
	if err != nil {
		return err
	}
	if r, err = multisite.SchemaStatus(ctx, blr); err != nil {
		return err
	}
	if !r.Clean() {
		return fmt.Errorf("status after repair is not clean:\n%s", r)
	}
	fmt.Fprintf(out, "repair ran %d statements; status clean: %v\n", len(fix.Steps), r.Clean())

	say("a Go hook skeleton for package hooks (first lines)")
	var src bytes.Buffer
	if err := schema.GenerateHooks(&src, schema.HookOptions{Package: "sitehooks"}); err != nil {
		return err
	}
	path := filepath.Join(dir, "sitehooks.go")
	if err := os.WriteFile(path, src.Bytes(), 0o644); err != nil {
		return err
	}
	lines = strings.Split(src.String(), "\n")
	fmt.Fprintln(out, strings.Join(lines[:min(12, len(lines))], "\n"))
	fmt.Fprintf(out, "... %d lines written to %s\n", len(lines), path)

	say("a custom mastership check: notes may change only where their defect is mastered")
	var check strings.Builder
	if err := schema.GenerateMastershipCheck(&check, schema.SQLite, schema.CheckOptions{
		Table: "defect_note", Key: []string{"id"}, Parent: "defect", ParentKey: []string{"id"}, Refs: []string{"defect_id"}}); err != nil {
		return err
	}
	fmt.Fprint(out, check.String())
	note := schema.Migration{Version: 3, Name: "defect_note",
		Up: "CREATE TABLE defect_note (id INTEGER PRIMARY KEY, defect_id INTEGER NOT NULL, body TEXT);\n" + check.String()}
	if _, err := multisite.Migrate(ctx, boston, append(migs, note), multisite.MigrateOptions{}); err != nil {
		return err
	}
	if _, err := multisite.TransferMastership(ctx, boston, "defect", blrInfo.ID, []any{int64(2)}); err != nil {
		return err
	}
	if _, err := sync(ctx, boston, blr, blrInfo.ID); err != nil {
		return err
	}
	id, err := multisite.NextID(ctx, boston, nil, "defect_note")
	if err != nil {
		return err
	}
	_, err = boston.ExecContext(ctx, `INSERT INTO defect_note (id, defect_id, body) VALUES (?, 2, 'boston no longer masters defect 2')`, id)
	if err == nil {
		return errors.New("the custom check let a note on bangalore's defect through at boston")
	}
	fmt.Fprintln(out, "refused at boston:", err)
	fmt.Fprintln(out, "\ndone")
	return nil
}

// summarize prints what a plan does, one line per group of statements;
// Plan.String has the statements themselves.
func summarize(out io.Writer, p schema.Plan) {
	fmt.Fprintf(out, "%d statements (nothing kept: a dry run):\n", len(p.Steps))
	for i := 0; i < len(p.Steps); {
		j := i
		for j < len(p.Steps) && p.Steps[j].Comment == p.Steps[i].Comment {
			j++
		}
		fmt.Fprintf(out, "  %2d x %s\n", j-i, p.Steps[i].Comment)
		if strings.HasPrefix(p.Steps[i].Comment, "migration ") {
			for _, st := range p.Steps[i:j] {
				fmt.Fprintf(out, "         %s\n", strings.Join(strings.Fields(st.SQL), " "))
			}
		}
		i = j
	}
}
