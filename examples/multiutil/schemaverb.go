package main

import (
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/schema"
)

// schemaCommands are the sub-verbs of "multiutil schema"; their names carry
// the group's prefix so that --help and usage messages find them.
func schemaCommands() []command {
	return []command{
		{name: "schema status", synopsis: "per table: replicated, mastership field, triggers present and current, version; metadata format, schema master, migrations (exit 1 if something needs repair)",
			usage: "--db F [--json]", run: cmdSchemaStatus},
		{name: "schema verify", synopsis: "compare every replicated row with its shadow entry and fingerprint: rows changed past the triggers (exit 1 if any)",
			usage: "--db F [--json]", run: cmdSchemaVerify},
		{name: "schema repair", synopsis: "re-create the missing or altered triggers and bring rows back into the rules: prints the exact SQL, then runs it unless --dry-run",
			usage: "--db F [--dry-run] [--json]", run: cmdSchemaRepair},
		{name: "schema upgrade", synopsis: "upgrade the library's metadata tables to this library's format (prints the SQL; --dry-run only prints)",
			usage: "--db F [--dry-run] [--json]", run: cmdSchemaUpgrade},
		{name: "schema migrate", synopsis: "apply the migrations of a directory (goose's names: 0001_add_priority.sql) at the family's schema master",
			usage: "--db F --dir DIR [--dry-run] [--json]", run: cmdSchemaMigrate},
		{name: "schema migrations", synopsis: "list the migrations of a directory and of the replica: applied, pending, changed since applied",
			usage: "--db F --dir DIR [--json]", run: cmdSchemaMigrations},
		{name: "schema transfer-master", synopsis: "hand the family's schema mastership from this replica (the schema master) to another; it travels in the next packet",
			usage: "--db F --to REPLICA [--json]", run: cmdSchemaTransferMaster},
	}
}

func cmdSchema(e *env, args []string) error {
	if len(args) == 0 {
		return usagef("give a sub-verb: status, verify, repair, upgrade, migrate, migrations or transfer-master")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(e.stdout, "multiutil schema: the schema of a replica (see package schema)")
		fmt.Fprintln(e.stdout)
		for _, c := range schemaCommands() {
			fmt.Fprintf(e.stdout, "  multiutil %s %s\n      %s\n", c.name, c.usage, c.synopsis)
		}
		return errHelp
	}
	for _, c := range schemaCommands() {
		if c.name == "schema "+args[0] {
			return c.run(e, args[1:])
		}
	}
	return usagef("unknown sub-verb %q: use status, verify, repair, upgrade, migrate, migrations or transfer-master", args[0])
}

// schemaFlags declares --db, --json and, with dryRun, --dry-run.
type schemaFlags struct {
	db     *string
	asJSON *bool
	dryRun *bool
	dir    *string
}

func newSchemaFlags(e *env, verb string, dryRun, dir bool) (*schemaFlags, func(args []string) error) {
	fs := newFlags(e, verb)
	f := &schemaFlags{dryRun: new(bool), dir: new(string)}
	f.db = fs.String("db", "", "database `file` of the replica"+dbKinds)
	if dir {
		f.dir = fs.String("dir", "", "`directory` of migration files: VERSION_NAME.sql, VERSION_NAME.DIALECT.sql (sqlite, postgres, mysql)")
	}
	if dryRun {
		f.dryRun = fs.Bool("dry-run", false, "print the statements and change nothing")
	}
	f.asJSON = fs.Bool("json", false, "print JSON")
	req := []string{"db"}
	if dir {
		req = append(req, "dir")
	}
	return f, func(args []string) error {
		if _, err := parse(e, fs, args, false); err != nil {
			return err
		}
		return required(req...)(fs)
	}
}

// openReplica opens dbPath and checks that its metadata tables are of this
// library's format, without changing anything: every operation of the
// library upgrades an older database by itself, so a status or a dry run
// that did not look first would change the database it only reads.
func openReplica(e *env, dbPath string) (*sql.DB, error) {
	db, err := openDB(dbPath)
	if err != nil {
		return nil, err
	}
	plan, from, err := multisite.PlanUpgrade(e.ctx, db)
	if err == nil && len(plan.Steps) > 0 {
		err = needUpgrade(dbPath, from)
	}
	if err != nil {
		db.Close()
		return nil, notReplica(dbPath, err)
	}
	return db, nil
}

func needUpgrade(dbPath string, from int) error {
	return fmt.Errorf("database %s has metadata format %d; this library writes format %d: run 'multiutil schema upgrade --db %s' first (--dry-run shows its statements)",
		display(dbPath), from, multisite.MetadataFormat, display(dbPath))
}

// notReplica names the database in the library's "not a replica" error.
func notReplica(dbPath string, err error) error {
	if errors.Is(err, multisite.ErrNotActivated) {
		return fmt.Errorf("database %s: %w", display(dbPath), err)
	}
	return err
}

// stepJSON is one statement of a plan.
type stepJSON struct {
	Comment string `json:"comment"`
	SQL     string `json:"sql"`
}

func stepsJSON(p schema.Plan) []stepJSON {
	out := []stepJSON{}
	for _, s := range p.Steps {
		out = append(out, stepJSON{s.Comment, s.SQL})
	}
	return out
}

type triggerJSON struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"` // capture or enforcement
	State string `json:"state"`
}

type schemaTableJSON struct {
	Name        string        `json:"name"`
	Replicated  bool          `json:"replicated"`
	Exists      bool          `json:"exists"`
	MasterField bool          `json:"master_field"`
	Shadow      bool          `json:"shadow"` // shadow and transfer-log tables
	Triggers    []triggerJSON `json:"triggers"`
	Version     int64         `json:"version"`
	Unrecorded  []string      `json:"unrecorded_columns"`
	Current     bool          `json:"current"`
	Problems    []string      `json:"problems"`
}

type appliedJSON struct {
	Version   int64  `json:"version"`
	Name      string `json:"name"`
	Checksum  string `json:"checksum"`
	AppliedAt string `json:"applied_at"`
	AppliedBy string `json:"applied_by"`
}

type schemaStatusJSON struct {
	Dialect          string            `json:"dialect"`
	Format           int               `json:"format"`
	LibraryFormat    int               `json:"library_format"`
	SchemaVersion    int64             `json:"schema_version"`
	SchemaMaster     string            `json:"schema_master"`
	SchemaMasterName string            `json:"schema_master_name"`
	Local            string            `json:"local"`
	Migrations       []appliedJSON     `json:"migrations"`
	Tables           []schemaTableJSON `json:"tables"`
	Clean            bool              `json:"clean"`
	Problems         []string          `json:"problems"`   // "table: what is wrong"
	Repairable       bool              `json:"repairable"` // schema repair has statements to run
	Advice           []string          `json:"advice"`
}

// schemaState is what status and repair read of a replica.
type schemaState struct {
	report *schema.Report
	status *multisite.Status
	repair schema.Plan
}

func readSchemaState(e *env, db *sql.DB) (*schemaState, error) {
	r, err := multisite.SchemaStatus(e.ctx, db)
	if err != nil {
		return nil, err
	}
	st, err := multisite.ReadStatus(e.ctx, db)
	if err != nil {
		return nil, err
	}
	plan, err := multisite.PlanRepair(e.ctx, db)
	if err != nil {
		return nil, err
	}
	return &schemaState{report: r, status: st, repair: plan}, nil
}

// problems lists what is wrong, table by table.
func (s *schemaState) problems() []string {
	out := []string{}
	for _, t := range s.report.Tables {
		for _, p := range t.Problems() {
			out = append(out, t.Table+": "+p)
		}
	}
	out = append(out, s.report.Problems...)
	if r := s.report.Rows; r != nil {
		for _, f := range r.Findings {
			out = append(out, fmt.Sprintf("%s[%s]: row %s (mastered by %s)", f.Table, f.Key, f.Issue, f.Master))
		}
	}
	return out
}

// advice says what to do about the problems.
func (s *schemaState) advice(dbPath string) []string {
	out := []string{}
	if len(s.repair.Steps) > 0 {
		out = append(out, fmt.Sprintf("run 'multiutil schema repair --db %s' to re-create the missing or altered triggers (--dry-run shows the statements first)", display(dbPath)))
	}
	broken, unrecorded := false, false
	for _, t := range s.report.Tables {
		if t.Replicated && (!t.Exists || !t.MasterField || !t.Shadow) {
			broken = true
		}
		if t.Replicated && len(t.Unrecorded) > 0 {
			unrecorded = true
		}
	}
	if broken {
		out = append(out, "a replicated table that lost itself, its mastership field, shadow or transfer log cannot be repaired in place: re-create this replica from a creation packet (mkreplica)")
	}
	if unrecorded {
		out = append(out, "columns added by hand do not replicate: add columns through a migration (multiutil schema migrate) at the schema master")
	}
	return out
}

func (s *schemaState) json() schemaStatusJSON {
	r := s.report
	out := schemaStatusJSON{Dialect: string(r.Dialect), Format: r.Format, LibraryFormat: multisite.MetadataFormat,
		SchemaVersion: r.SchemaVersion, SchemaMaster: r.SchemaMaster, SchemaMasterName: names(s.status)[replica.ID(r.SchemaMaster)],
		Local: string(s.status.Local.ID), Migrations: []appliedJSON{}, Tables: []schemaTableJSON{},
		Clean: r.Clean(), Problems: s.problems(), Repairable: len(s.repair.Steps) > 0}
	for _, m := range r.Migrations {
		out.Migrations = append(out.Migrations, appliedJSON{m.Version, m.Name, m.Checksum, m.AppliedAt, m.AppliedBy})
	}
	for _, t := range r.Tables {
		tj := schemaTableJSON{Name: t.Table, Replicated: t.Replicated, Exists: t.Exists, MasterField: t.MasterField, Shadow: t.Shadow,
			Triggers: []triggerJSON{}, Version: t.Version, Unrecorded: append([]string{}, t.Unrecorded...), Current: t.Current(), Problems: append([]string{}, t.Problems()...)}
		for _, tr := range t.Triggers {
			tj.Triggers = append(tj.Triggers, triggerJSON{tr.Name, tr.Kind, string(tr.State)})
		}
		out.Tables = append(out.Tables, tj)
	}
	return out
}

// triggerSummary is "3/3 ok", "1 missing of 3", or "-".
func triggerSummary(t schema.TableStatus, kind string) string {
	n, ok := 0, 0
	var bad []string
	for _, tr := range t.Triggers {
		if tr.Kind != kind {
			continue
		}
		n++
		if tr.State == schema.TriggerOK {
			ok++
		} else {
			bad = append(bad, string(tr.State))
		}
	}
	switch {
	case n == 0:
		return "-"
	case ok == n:
		return fmt.Sprintf("%d/%d ok", ok, n)
	}
	return fmt.Sprintf("%d/%d ok, %s", ok, n, strings.Join(bad, ", "))
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}

func (s *schemaState) print(w io.Writer, dbPath string) error {
	r, st := s.report, s.status
	who := names(st)
	fmt.Fprintf(w, "database %s: replica %s of family %s (%s)\n", display(dbPath), st.Local, st.Family, r.Dialect)
	fmt.Fprintf(w, "metadata format %d (this library writes %d)\n", r.Format, multisite.MetadataFormat)
	master := r.SchemaMaster
	if n := who[replica.ID(master)]; n != "" {
		master = n + " (" + master + ")"
	}
	if replica.ID(r.SchemaMaster) == st.Local.ID {
		master += ", this replica"
	}
	fmt.Fprintf(w, "schema version %d, schema master %s\n", r.SchemaVersion, master)
	fmt.Fprintf(w, "migrations applied: %d\n", len(r.Migrations))
	for _, m := range r.Migrations {
		by := m.AppliedBy
		if n := who[replica.ID(by)]; n != "" {
			by = n
		}
		fmt.Fprintf(w, "  %4d  %-24s applied %s by %s\n", m.Version, m.Name, m.AppliedAt, by)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tREPLICATED\tMASTERSHIP FIELD\tSHADOW\tCAPTURE TRIGGERS\tENFORCEMENT TRIGGERS\tVERSION")
	for _, t := range r.Tables {
		if !t.Replicated {
			fmt.Fprintf(tw, "%s\tno\t-\t-\t-\t-\t-\n", t.Table)
			continue
		}
		fmt.Fprintf(tw, "%s\tyes\t%s\t%s\t%s\t%s\t%d\n", t.Table, yesNo(t.MasterField), yesNo(t.Shadow),
			triggerSummary(t, "capture"), triggerSummary(t, "enforcement"), t.Version)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if probs := s.problems(); len(probs) > 0 {
		fmt.Fprintf(w, "\nneeds attention (%d):\n", len(probs))
		for _, p := range probs {
			fmt.Fprintf(w, "  %s\n", p)
		}
		for _, a := range s.advice(dbPath) {
			fmt.Fprintf(w, "%s\n", a)
		}
	} else {
		fmt.Fprintln(w, "\nclean: every replicated table has its mastership field, shadow, transfer log and current triggers")
	}
	return nil
}

func cmdSchemaStatus(e *env, args []string) error {
	f, parseArgs := newSchemaFlags(e, "schema status", false, false)
	if err := parseArgs(args); err != nil {
		return err
	}
	db, err := openDB(*f.db)
	if err != nil {
		return err
	}
	defer db.Close()
	// An older format is reported, not upgraded: status changes nothing.
	plan, from, err := multisite.PlanUpgrade(e.ctx, db)
	if err != nil {
		return notReplica(*f.db, err)
	}
	if len(plan.Steps) > 0 {
		if *f.asJSON {
			advice := fmt.Sprintf("run 'multiutil schema upgrade --db %s'", display(*f.db))
			if err := writeJSON(e.stdout, struct {
				Format        int      `json:"format"`
				LibraryFormat int      `json:"library_format"`
				Clean         bool     `json:"clean"`
				Problems      []string `json:"problems"`
				Advice        []string `json:"advice"`
			}{from, multisite.MetadataFormat, false, []string{fmt.Sprintf("metadata format %d is older than this library's %d", from, multisite.MetadataFormat)}, []string{advice}}); err != nil {
				return err
			}
		} else {
			fmt.Fprintf(e.stdout, "database %s: metadata format %d, this library writes format %d (%d upgrade statements pending)\n",
				display(*f.db), from, multisite.MetadataFormat, len(plan.Steps))
		}
		return &exitError{code: exitFail, err: needUpgrade(*f.db, from)}
	}
	s, err := readSchemaState(e, db)
	if err != nil {
		return err
	}
	if *f.asJSON {
		out := s.json()
		out.Advice = s.advice(*f.db)
		if err := writeJSON(e.stdout, out); err != nil {
			return err
		}
	} else if err := s.print(e.stdout, *f.db); err != nil {
		return err
	}
	if s.report.Clean() {
		return nil
	}
	probs := s.problems()
	what := fmt.Sprintf("%d problems (listed above)", len(probs))
	if len(probs) <= 3 {
		what = strings.Join(probs, "; ")
	}
	if len(s.repair.Steps) > 0 {
		return &exitError{code: exitFail, err: fmt.Errorf("%s needs repair: %s; run 'multiutil schema repair --db %s'", display(*f.db), what, display(*f.db))}
	}
	return &exitError{code: exitFail, err: fmt.Errorf("%s needs attention that repair cannot give: %s", display(*f.db), what)}
}

func cmdSchemaRepair(e *env, args []string) error {
	f, parseArgs := newSchemaFlags(e, "schema repair", true, false)
	if err := parseArgs(args); err != nil {
		return err
	}
	db, err := openReplica(e, *f.db)
	if err != nil {
		return err
	}
	defer db.Close()
	before, err := readSchemaState(e, db)
	if err != nil {
		return err
	}
	var repaired []string
	for _, t := range before.report.Tables {
		if t.Replicated && t.Exists && t.MasterField && t.Shadow && !t.Current() && triggerProblem(t) {
			repaired = append(repaired, t.Table)
		}
	}
	plan := before.repair
	after := before
	if !*f.dryRun && len(plan.Steps) > 0 {
		if plan, err = multisite.Repair(e.ctx, db); err != nil {
			return err
		}
		if after, err = readSchemaState(e, db); err != nil {
			return err
		}
	}
	left := after.problems()
	if *f.dryRun {
		// What would be left: the problems repair cannot fix.
		left = []string{}
		for _, t := range before.report.Tables {
			if !contains(repaired, t.Table) {
				for _, p := range t.Problems() {
					left = append(left, t.Table+": "+p)
				}
			}
		}
	}
	if *f.asJSON {
		if err := writeJSON(e.stdout, struct {
			DryRun   bool       `json:"dry_run"`
			Dialect  string     `json:"dialect"`
			Tables   []string   `json:"tables"` // tables whose triggers are (or would be) re-created
			Steps    []stepJSON `json:"steps"`
			Applied  bool       `json:"applied"`
			Problems []string   `json:"problems"` // what repair cannot fix
		}{*f.dryRun, string(before.report.Dialect), append([]string{}, repaired...), stepsJSON(plan), !*f.dryRun && len(plan.Steps) > 0, left}); err != nil {
			return err
		}
	} else {
		switch {
		case len(plan.Steps) == 0:
			fmt.Fprintf(e.stdout, "nothing to repair: no replicated table of %s misses a trigger or has one altered\n", display(*f.db))
		case *f.dryRun:
			fmt.Fprint(e.stdout, plan.String())
			fmt.Fprintf(e.stdout, "\ndry run: would re-create the triggers of %s; nothing changed\n", strings.Join(repaired, ", "))
		default:
			fmt.Fprint(e.stdout, plan.String())
			fmt.Fprintf(e.stdout, "\nrepaired the triggers of %s (%d statements)\n", strings.Join(repaired, ", "), len(plan.Steps))
			fmt.Fprintln(e.stdout, "writes made while a capture trigger was missing were not captured: look at them; those rows travel once changed again")
		}
	}
	if len(left) > 0 {
		return &exitError{code: exitFail, err: fmt.Errorf("repair cannot fix: %s; %s", strings.Join(left, "; "), strings.Join(after.advice(*f.db), "; "))}
	}
	return nil
}

// triggerProblem reports whether a table has a trigger missing or altered.
func triggerProblem(t schema.TableStatus) bool {
	for _, tr := range t.Triggers {
		if tr.State != schema.TriggerOK {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func cmdSchemaUpgrade(e *env, args []string) error {
	f, parseArgs := newSchemaFlags(e, "schema upgrade", true, false)
	if err := parseArgs(args); err != nil {
		return err
	}
	db, err := openDB(*f.db)
	if err != nil {
		return err
	}
	defer db.Close()
	plan, from, err := multisite.PlanUpgrade(e.ctx, db)
	if err != nil {
		return notReplica(*f.db, err)
	}
	to := from
	if !*f.dryRun && len(plan.Steps) > 0 {
		if from, to, err = multisite.UpgradeMetadata(e.ctx, db); err != nil {
			return notReplica(*f.db, err)
		}
	} else if len(plan.Steps) > 0 {
		to = multisite.MetadataFormat
	}
	if *f.asJSON {
		return writeJSON(e.stdout, struct {
			DryRun  bool       `json:"dry_run"`
			From    int        `json:"from"`
			To      int        `json:"to"`
			Steps   []stepJSON `json:"steps"`
			Applied bool       `json:"applied"`
		}{*f.dryRun, from, to, stepsJSON(plan), !*f.dryRun && len(plan.Steps) > 0})
	}
	switch {
	case len(plan.Steps) == 0:
		fmt.Fprintf(e.stdout, "nothing to upgrade: %s has metadata format %d, this library's\n", display(*f.db), from)
	case *f.dryRun:
		fmt.Fprint(e.stdout, plan.String())
		fmt.Fprintf(e.stdout, "\ndry run: would upgrade the metadata of %s from format %d to %d; nothing changed\n", display(*f.db), from, to)
	default:
		fmt.Fprint(e.stdout, plan.String())
		fmt.Fprintf(e.stdout, "\nupgraded the metadata of %s from format %d to %d\n", display(*f.db), from, to)
	}
	return nil
}

// loadMigrations reads the migration files of dir.
func loadMigrations(dir string) ([]schema.Migration, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("migrations directory %s: %w", dir, errors.Unwrap(err))
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("migrations directory %s: not a directory", dir)
	}
	migs, err := schema.FromFS(os.DirFS(dir), ".")
	if err != nil {
		return nil, fmt.Errorf("migrations directory %s: %w", dir, err)
	}
	if len(migs) == 0 {
		return nil, fmt.Errorf("migrations directory %s holds no migration files (VERSION_NAME.sql, e.g. 0001_add_priority.sql)", dir)
	}
	return migs, nil
}

type migrationJSON struct {
	Version  int64  `json:"version"`
	Name     string `json:"name"`
	Checksum string `json:"checksum"`
}

func cmdSchemaMigrate(e *env, args []string) error {
	f, parseArgs := newSchemaFlags(e, "schema migrate", true, true)
	if err := parseArgs(args); err != nil {
		return err
	}
	migs, err := loadMigrations(*f.dir)
	if err != nil {
		return err
	}
	db, err := openReplica(e, *f.db)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := cleanMaster(e, db, *f.db); err != nil {
		return err
	}
	rep, err := multisite.Migrate(e.ctx, db, migs, multisite.MigrateOptions{DryRun: *f.dryRun})
	var nm *schema.NotSchemaMasterError
	if errors.As(err, &nm) {
		local, master := nm.Local, nm.Master
		if st, serr := multisite.ReadStatus(e.ctx, db); serr == nil {
			n := names(st)
			local, master = n[replica.ID(local)]+" ("+local+")", n[replica.ID(master)]+" ("+master+")"
		}
		return &explained{err: err, msg: fmt.Sprintf("refused: replica %s is not the family's schema master; run schema migrate at %s, whose packets then bring the migrations here; nothing changed",
			local, master)}
	}
	if err != nil {
		return err
	}
	applied := []migrationJSON{}
	var list []string
	for _, m := range rep.Applied {
		applied = append(applied, migrationJSON{m.Version, m.Name, m.Checksum()})
		list = append(list, fmt.Sprintf("%d %s", m.Version, m.Name))
	}
	if *f.asJSON {
		return writeJSON(e.stdout, struct {
			DryRun     bool            `json:"dry_run"`
			From       int64           `json:"from"`
			To         int64           `json:"to"`
			Applied    []migrationJSON `json:"applied"`
			Replicated []string        `json:"replicated"`
			Changed    []string        `json:"changed"`
			Dropped    []string        `json:"dropped"`
			Steps      []stepJSON      `json:"steps"`
		}{*f.dryRun, rep.From, rep.To, applied, nonNil(rep.Replicated), nonNil(rep.Changed), nonNil(rep.Dropped), stepsJSON(rep.Plan)})
	}
	if len(rep.Applied) == 0 {
		fmt.Fprintf(e.stdout, "nothing to migrate: schema version %d; the %d migrations of %s are applied\n", rep.From, len(migs), *f.dir)
		return nil
	}
	fmt.Fprint(e.stdout, rep.Plan.String())
	fmt.Fprintln(e.stdout)
	if *f.dryRun {
		fmt.Fprintf(e.stdout, "dry run: would apply %s; schema version %d -> %d; nothing changed\n", strings.Join(list, ", "), rep.From, rep.To)
		if rep.Plan.Dialect == "mysql" {
			fmt.Fprintln(e.stdout, "(on MySQL/MariaDB, whose DDL cannot be rolled back, the dry run lists the migrations' SQL only, not the replication set-up that follows)")
		}
		return nil
	}
	if len(rep.Replicated) > 0 {
		fmt.Fprintf(e.stdout, "new replicated tables: %s\n", strings.Join(rep.Replicated, ", "))
	}
	if len(rep.Changed) > 0 {
		fmt.Fprintf(e.stdout, "replicated tables changed: %s\n", strings.Join(rep.Changed, ", "))
	}
	if len(rep.Dropped) > 0 {
		fmt.Fprintf(e.stdout, "replicated tables dropped: %s\n", strings.Join(rep.Dropped, ", "))
	}
	fmt.Fprintf(e.stdout, "applied %s; schema version %d -> %d; the migrations travel to every replica in the next packets (syncreplica -export)\n",
		strings.Join(list, ", "), rep.From, rep.To)
	return nil
}

// cleanMaster refuses to migrate at a schema master whose schema status
// is not clean: what the status reports (a trigger dropped, a column added
// by hand, which the library keeps out of replication) should be settled
// first, by repair or by a migration, so that the family's schema is what
// its migrations say. At another replica Migrate itself refuses.
func cleanMaster(e *env, db *sql.DB, dbPath string) error {
	s, err := readSchemaState(e, db)
	if err != nil {
		return err
	}
	if s.report.Clean() || replica.ID(s.report.SchemaMaster) != s.status.Local.ID {
		return nil
	}
	return fmt.Errorf("refused: %s needs attention before a migration: %s; %s; nothing changed",
		display(dbPath), strings.Join(s.problems(), "; "), strings.Join(s.advice(dbPath), "; "))
}

// explained is a library error with a message in the administrator's
// words (replica names rather than IDs); errors.As still finds the
// library's typed error.
type explained struct {
	msg string
	err error
}

func (e *explained) Error() string { return e.msg }
func (e *explained) Unwrap() error { return e.err }

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func cmdSchemaMigrations(e *env, args []string) error {
	f, parseArgs := newSchemaFlags(e, "schema migrations", false, true)
	if err := parseArgs(args); err != nil {
		return err
	}
	migs, err := loadMigrations(*f.dir)
	if err != nil {
		return err
	}
	db, err := openReplica(e, *f.db)
	if err != nil {
		return err
	}
	defer db.Close()
	ms, err := multisite.Migrations(e.ctx, db, migs)
	if err != nil {
		return err
	}
	st, err := multisite.ReadStatus(e.ctx, db)
	if err != nil {
		return err
	}
	who := names(st)
	type statusJSON struct {
		Version   int64  `json:"version"`
		Name      string `json:"name"`
		State     string `json:"state"` // applied, pending, changed (applied, text differs now), missing (applied, no file)
		AppliedAt string `json:"applied_at,omitempty"`
		AppliedBy string `json:"applied_by,omitempty"`
	}
	out := []statusJSON{}
	var changed []string
	for _, m := range ms {
		s := statusJSON{Version: m.Version, Name: m.Name, State: "pending", AppliedAt: m.AppliedAt, AppliedBy: m.AppliedBy}
		switch {
		case m.Changed:
			s.State = "changed"
			changed = append(changed, fmt.Sprintf("%d %s", m.Version, m.Name))
		case m.Missing:
			s.State = "missing"
		case m.Applied:
			s.State = "applied"
		}
		out = append(out, s)
	}
	if *f.asJSON {
		if err := writeJSON(e.stdout, out); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(e.stdout, "migrations of %s at replica %s (%s)\n\n", *f.dir, st.Local, display(*f.db))
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "VERSION\tNAME\tSTATE\tAPPLIED AT\tBY")
		for _, s := range out {
			state := s.State
			switch s.State {
			case "changed":
				state = "CHANGED since applied"
			case "missing":
				state = "applied, no file in " + *f.dir
			}
			by := s.AppliedBy
			if n := who[replica.ID(by)]; n != "" {
				by = n
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", s.Version, s.Name, state, orDash(s.AppliedAt), orDash(by))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(changed) > 0 {
		return &exitError{code: exitFail, err: fmt.Errorf("the text of applied migrations changed: %s; an applied migration must not change: add a new migration instead", strings.Join(changed, ", "))}
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// cmdSchemaVerify lists the rows outside the rules (multisite.VerifyRows).
func cmdSchemaVerify(e *env, args []string) error {
	f, parseArgs := newSchemaFlags(e, "schema verify", false, false)
	if err := parseArgs(args); err != nil {
		return err
	}
	db, err := openReplica(e, *f.db)
	if err != nil {
		return err
	}
	defer db.Close()
	r, err := multisite.VerifyRows(e.ctx, db)
	if err != nil {
		return err
	}
	if *f.asJSON {
		if err := writeJSON(e.stdout, r); err != nil {
			return err
		}
	} else {
		fmt.Fprint(e.stdout, r.String())
	}
	if r.Clean() {
		return nil
	}
	return &exitError{code: exitFail, err: fmt.Errorf("%s has %d rows outside the rules; run 'multiutil schema repair --db %s'", display(*f.db), len(r.Findings), display(*f.db))}
}
