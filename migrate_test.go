package multisite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/multisite-go/multisite/mastership"
	"github.com/multisite-go/multisite/schema"
	"github.com/multisite-go/multisite/syncpkt"
	"github.com/stretchr/testify/require"
)

// trackerMigrations are two releases of the tracker's schema: a column
// with a default and a data fix (SQL, run everywhere), a new table with a
// seed row; then a column filled by a Go function at the schema master,
// whose writes replicate as ordinary changes.
func trackerMigrations() []schema.Migration {
	return []schema.Migration{
		{Version: 1, Name: "add_priority", Up: `
ALTER TABLE defect ADD COLUMN priority INTEGER NOT NULL DEFAULT 3;
UPDATE defect SET priority = 1 WHERE severity = 4;
CREATE TABLE milestone (id BIGINT PRIMARY KEY, title VARCHAR(100) NOT NULL, due VARCHAR(10));
INSERT INTO milestone (id, title) VALUES (1, 'first release');`},
		{Version: 2, Name: "tag_color", Up: `ALTER TABLE defect_tag ADD COLUMN color VARCHAR(20)`,
			Func: func(ctx context.Context, tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, `UPDATE defect_tag SET color = 'red' WHERE tag = 'crash'`)
				return err
			}},
	}
}

// state is what must not change when a schema operation is refused: the
// replicated data, the catalog and the schema version.
func schemaState(t testing.TB, s *dsite) string {
	t.Helper()
	return fmt.Sprintf("%s\n%v\nschema %s", contentHash(t, &s.site), catalogOf(t, s.db), s.query(t, `SELECT schema_version FROM ms_ctl`))
}

func requireSchemaUnchanged(t testing.TB, s *dsite, before string, what string) {
	t.Helper()
	if diff := cmp.Diff(before, schemaState(t, s)); diff != "" {
		t.Errorf("%s changed %s (-before +after):\n%s", what, s.name, diff)
	}
}

func needVersion(t testing.TB, err error, replica string, have, need int64) {
	t.Helper()
	var nv *schema.NeedVersionError
	if !errors.As(err, &nv) || !errors.Is(err, schema.ErrNeedVersion) || !errors.Is(err, multisite.ErrSchemaVersion) {
		t.Fatalf("error = %v, want *schema.NeedVersionError", err)
	}
	if got, want := *nv, (schema.NeedVersionError{Replica: replica, Have: have, Need: need}); got != want {
		t.Errorf("NeedVersionError = %+v, want %+v", got, want)
	}
}

func tryImport(s *dsite, pkt []byte) (*multisite.ImportReport, error) {
	return multisite.ImportPacket(ctx, s.db, bytes.NewReader(pkt), multisite.ImportOptions{})
}

func TestMigrate_ThreeReplicasPacketsBeforeAndAfter(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		testMigrateFamily(t, open, open, open)
	})
}

// TestMigrate_MixedFamily runs the same scenario with the schema master on
// SQLite, one replica on PostgreSQL and one on MariaDB (which applies
// migrations before the import's transaction).
func TestMigrate_MixedFamily(t *testing.T) {
	for _, env := range []string{testdb.PostgresEnv, testdb.MySQLEnv} {
		if os.Getenv(env) == "" {
			t.Skipf("mixed family needs both servers: %s is not set", env)
		}
	}
	testMigrateFamily(t,
		func(n string) *sql.DB { return testdb.Open(t, "sqlite", n) },
		func(n string) *sql.DB { return testdb.Open(t, "postgres", n) },
		func(n string) *sql.DB { return testdb.Open(t, "mysql", n) })
}

func testMigrateFamily(t *testing.T, openM, openA, openB func(string) *sql.DB) {
	m := newDSite(t, openM("boston"), "boston")
	seedPortable(t, m, 8)
	info, err := multisite.Activate(ctx, m.db, multisite.ActivateOptions{Name: "boston"})
	require.NoError(t, err)
	m.id = info.ID
	a := replicateTo(t, m, openA("bangalore"), "bangalore")
	b := replicateTo(t, m, openB("dublin"), "dublin")
	for _, s := range []*dsite{a, b} {
		dsync(t, s, m)
	}
	for _, s := range []*dsite{a, b} {
		dsync(t, m, s)
	}
	migs := trackerMigrations()

	// Changes made before the upgrade, in packets that arrive after it.
	idA, err := multisite.NextID(ctx, a.db, nil, "defect")
	require.NoError(t, err)
	a.mustExec(t, `INSERT INTO defect (id, project, headline) VALUES (?, 'UI', 'made at bangalore before the upgrade')`, idA)
	pktAtoM, pktAtoB := dexport(t, a, m), dexport(t, a, b)
	idB, err := multisite.NextID(ctx, b.db, nil, "defect")
	require.NoError(t, err)
	b.mustExec(t, `INSERT INTO defect (id, project, headline, severity) VALUES (?, 'CORE', 'made at dublin before the upgrade', 4)`, idB)
	pktBtoA := dexport(t, b, a)

	// Bad input first; each leaves the replica as it was.
	before := schemaState(t, a)
	_, err = multisite.Migrate(ctx, a.db, migs, multisite.MigrateOptions{})
	var nsm *schema.NotSchemaMasterError
	if !errors.As(err, &nsm) || !errors.Is(err, schema.ErrNotSchemaMaster) || nsm.Master != string(m.id) || nsm.Local != string(a.id) {
		t.Errorf("Migrate at a replica that is not the schema master: %v", err)
	}
	requireSchemaUnchanged(t, a, before, "a refused migration")
	before = schemaState(t, m)
	_, err = multisite.Migrate(ctx, m.db, migs, multisite.MigrateOptions{To: 7})
	var uv *schema.UnknownVersionError
	if !errors.As(err, &uv) || uv.Version != 7 || !cmp.Equal(uv.Known, []int64{1, 2}) {
		t.Errorf("Migrate to an unknown version: %v", err)
	}
	requireSchemaUnchanged(t, m, before, "a migration to an unknown version")
	dry, err := multisite.Migrate(ctx, m.db, migs, multisite.MigrateOptions{DryRun: true})
	require.NoError(t, err)
	if !strings.Contains(dry.Plan.String(), "ADD COLUMN priority") || dry.To != 2 {
		t.Errorf("dry run plan (to %d):\n%s", dry.To, dry.Plan)
	}
	requireSchemaUnchanged(t, m, before, "a dry run")

	// The schema master migrates, one release at a time.
	rep, err := multisite.Migrate(ctx, m.db, migs, multisite.MigrateOptions{To: 1})
	require.NoError(t, err)
	if rep.From != 0 || rep.To != 1 || !cmp.Equal(rep.Replicated, []string{"milestone"}) || !cmp.Equal(rep.Changed, []string{"defect"}) {
		t.Errorf("Migrate to 1 = from %d to %d, replicated %v, changed %v", rep.From, rep.To, rep.Replicated, rep.Changed)
	}
	edited := trackerMigrations()
	edited[0].Up = strings.Replace(edited[0].Up, "DEFAULT 3", "DEFAULT 2", 1)
	before = schemaState(t, m)
	_, err = multisite.Migrate(ctx, m.db, edited, multisite.MigrateOptions{})
	var ce *schema.ChecksumError
	if !errors.As(err, &ce) || ce.Version != 1 || ce.Want != migs[0].Checksum() || ce.Got != edited[0].Checksum() {
		t.Errorf("Migrate with an applied migration's text changed: %v", err)
	}
	requireSchemaUnchanged(t, m, before, "a migration with a changed checksum")
	rep, err = multisite.Migrate(ctx, m.db, migs, multisite.MigrateOptions{})
	require.NoError(t, err)
	if rep.From != 1 || rep.To != 2 || !cmp.Equal(rep.Changed, []string{"defect_tag"}) {
		t.Errorf("Migrate to 2 = from %d to %d, changed %v", rep.From, rep.To, rep.Changed)
	}
	if rep, err = multisite.Migrate(ctx, m.db, migs, multisite.MigrateOptions{}); err != nil || rep.From != 2 || rep.To != 2 {
		t.Errorf("Migrate with nothing pending = %+v, %v", rep, err)
	}
	st, err := multisite.Migrations(ctx, m.db, migs)
	require.NoError(t, err)
	if len(st) != 2 || !st[0].Applied || !st[1].Applied || st[0].AppliedBy != string(m.id) || st[0].Changed {
		t.Errorf("Migrations = %+v", st)
	}
	// The master writes to the new column and the new table.
	m.mustExec(t, `UPDATE defect SET priority = 5 WHERE id = 2`)
	mid, err := multisite.NextID(ctx, m.db, nil, "milestone")
	require.NoError(t, err)
	m.mustExec(t, `INSERT INTO milestone (id, title, due) VALUES (?, 'second release', '2026-09')`, mid)

	// A packet from before the upgrade reaches the upgraded master: its
	// sender is told which version it needs; nothing is lost (it resends).
	before = schemaState(t, m)
	_, err = tryImport(m, pktAtoM)
	needVersion(t, err, string(a.id), 0, 2)
	requireSchemaUnchanged(t, m, before, "a packet from an older schema")
	// ... and the other replica still on the old schema takes it.
	dsyncPkt(t, b, pktAtoB)

	// The master's packet carries the migrations before its rows.
	r := dsync(t, m, a)
	if !cmp.Equal(r.Migrated, []int64{1, 2}) {
		t.Errorf("bangalore applied migrations %v, want [1 2]", r.Migrated)
	}
	if got := a.query(t, `SELECT priority FROM defect WHERE id = 2`); got != "5" {
		t.Errorf("bangalore: priority of defect 2 = %s, want 5", got)
	}
	if got := a.query(t, `SELECT count(*) FROM milestone`); got != "2" {
		t.Errorf("bangalore: %s milestones, want 2", got)
	}
	// Running a migration is no local change: nothing new to send.
	if rs, err := multisite.ReadStatus(ctx, a.db); err != nil || rs.Pending["milestone"] != 0 || rs.Pending["defect"] != 0 {
		t.Errorf("bangalore has pending changes after the migration: %v, %v", rs.Pending, err)
	}
	// A packet of the replica still on the old schema is refused here too.
	before = schemaState(t, a)
	_, err = tryImport(a, pktBtoA)
	needVersion(t, err, string(b.id), 0, 2)
	requireSchemaUnchanged(t, a, before, "a packet from an older schema")

	// Bangalore forwards the migrations it got to dublin.
	if r := dsync(t, a, b); !cmp.Equal(r.Migrated, []int64{1, 2}) {
		t.Errorf("dublin applied migrations %v, want [1 2]", r.Migrated)
	}
	// Dublin's change made before the upgrade now travels, upgraded: the
	// migration's data fix applied to it too.
	dsync(t, b, a)
	if got := a.query(t, `SELECT priority FROM defect WHERE id = ?`, idB); got != "1" {
		t.Errorf("dublin's defect at bangalore has priority %s, want 1 (the migration's fix)", got)
	}

	// The new table replicates from a replica too.
	aid, err := multisite.NextID(ctx, a.db, nil, "milestone")
	require.NoError(t, err)
	a.mustExec(t, `INSERT INTO milestone (id, title) VALUES (?, 'made at bangalore')`, aid)
	err = a.exec(t, `UPDATE milestone SET title = 'renamed' WHERE id = 1`)
	var nm *mastership.NotMasterError
	if !errors.As(mastership.FromDriver(err), &nm) || nm.Master != m.id {
		t.Errorf("bangalore updating the seeded milestone (mastered by boston): %v", err)
	}

	for round := 0; round < 2; round++ {
		for _, from := range []*dsite{m, a, b} {
			for _, to := range []*dsite{m, a, b} {
				if from != to {
					dsync(t, from, to)
				}
			}
		}
	}
	dconverged(t, m, a, b)
	for _, s := range []*dsite{m, a, b} {
		r, err := multisite.SchemaStatus(ctx, s.db)
		require.NoError(t, err)
		if !r.Clean() || r.SchemaVersion != 2 || len(r.Migrations) != 2 || r.Migrations[1].Checksum != migs[1].Checksum() {
			t.Errorf("%s status:\n%s", s.name, r)
		}
		if ts, _ := r.Table("milestone"); ts.Version != 1 || !ts.Replicated {
			t.Errorf("%s: milestone %+v, want replicated since version 1", s.name, ts)
		}
		if got := s.query(t, `SELECT color FROM defect_tag WHERE tag = 'crash'`); got != "red" {
			t.Errorf("%s: the Go function's change did not replicate: color %q", s.name, got)
		}
	}

	// A checksum mismatch with what was applied elsewhere: dublin's record
	// of migration 1 differs from the family's.
	b.mustExec(t, `UPDATE ms_migration SET checksum = 'tampered' WHERE version = 1`)
	before = schemaState(t, b)
	_, err = tryImport(b, dexport(t, m, b))
	if !errors.As(err, &ce) || ce.Version != 1 || ce.Want != "tampered" {
		t.Errorf("import with a different checksum applied: %v, want *schema.ChecksumError", err)
	}
	requireSchemaUnchanged(t, b, before, "a packet whose migration differs")
	b.mustExec(t, `UPDATE ms_migration SET checksum = ? WHERE version = 1`, migs[0].Checksum())

	// A replica created after the migrations starts at version 2 with
	// their record, and the schema master can be handed on.
	c := replicateTo(t, m, openA("cork"), "cork")
	if r, err := multisite.SchemaStatus(ctx, c.db); err != nil || r.SchemaVersion != 2 || len(r.Migrations) != 2 || !r.Clean() {
		t.Errorf("new replica's status: %v\n%s", err, r)
	}
	require.NoError(t, multisite.TransferSchemaMaster(ctx, m.db, a.id))
	dsync(t, m, a)
	if got, err := multisite.SchemaMaster(ctx, a.db); err != nil || got != a.id {
		t.Fatalf("schema master at bangalore = %s, %v; want bangalore", got, err)
	}
	v3 := append(migs, schema.Migration{Version: 3, Name: "milestone_owner", Up: `ALTER TABLE milestone ADD COLUMN owner VARCHAR(40)`})
	if _, err := multisite.Migrate(ctx, m.db, v3, multisite.MigrateOptions{}); !errors.Is(err, schema.ErrNotSchemaMaster) {
		t.Errorf("Migrate at the former schema master: %v, want ErrNotSchemaMaster", err)
	}
	_, err = multisite.Migrate(ctx, a.db, v3, multisite.MigrateOptions{})
	require.NoError(t, err)
	dsync(t, a, b)
	dsync(t, b, m)
	dsync(t, m, c)
	for _, s := range []*dsite{m, b, c} {
		if got := s.query(t, `SELECT schema_version FROM ms_ctl`); got != "3" {
			t.Errorf("%s at schema version %s after bangalore's migration 3", s.name, got)
		}
	}
}

// dsyncPkt imports a packet made earlier.
func dsyncPkt(t testing.TB, to *dsite, pkt []byte) {
	t.Helper()
	importInto(t, &to.site, pkt)
}

func TestMigrate_ForgedMigrationRefused(t *testing.T) {
	m := newDSite(t, testdb.SQLite(t, "boston"), "boston")
	seedPortable(t, m, 3)
	info, err := multisite.Activate(ctx, m.db, multisite.ActivateOptions{Name: "boston"})
	require.NoError(t, err)
	m.id = info.ID
	a := replicateTo(t, m, testdb.SQLite(t, "bangalore"), "bangalore")
	b := replicateTo(t, m, testdb.SQLite(t, "dublin"), "dublin")
	dsync(t, m, a)
	dsync(t, m, b)
	dsync(t, a, b)
	forged := schema.Migration{Version: 1, Name: "drop", Up: "DROP TABLE project"}
	tests := []struct {
		name string
		by   string
		want error
	}{
		// Bangalore, not the schema master, signs a migration of its own.
		{"by a member that is not the schema master", string(a.id), multisite.ErrPacket},
		// ... or claims the master made it, without the master's key.
		{"claiming the schema master", string(m.id), syncpkt.ErrSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := fmt.Sprintf(`{"version":1,"prev":0,"name":"drop","checksum":%q,"up":"DROP TABLE project","by":%q,"sig":"AAAA"}`, forged.Checksum(), tt.by)
			a.mustExec(t, `DELETE FROM ms_migration`)
			a.mustExec(t, `INSERT INTO ms_migration (version, name, checksum, applied_at, applied_by, body) VALUES (1, 'drop', 'x', 'now', 'me', ?)`, body)
			a.mustExec(t, `UPDATE ms_ctl SET schema_version = 1`)
			before := schemaState(t, b)
			_, err := tryImport(b, dexport(t, a, b))
			if !errors.Is(err, tt.want) {
				t.Errorf("forged migration: %v, want %v", err, tt.want)
			}
			requireSchemaUnchanged(t, b, before, "a forged migration")
		})
	}
}

func TestMigrate_SchemaFromFS(t *testing.T) {
	fsys := fstest.MapFS{
		"migrations/0001_add_priority.sql":          {Data: []byte("-- +goose Up\nALTER TABLE defect ADD COLUMN priority INTEGER;\n-- +goose Down\nALTER TABLE defect DROP COLUMN priority;\n")},
		"migrations/0002_milestone.sql":             {Data: []byte("CREATE TABLE milestone (id INTEGER PRIMARY KEY, title TEXT);")},
		"migrations/0002_milestone.postgres.sql":    {Data: []byte("CREATE TABLE milestone (id BIGINT PRIMARY KEY, title TEXT);")},
		"migrations/README.md":                      {Data: []byte("not a migration")},
		"migrations/0003_trigger.sql":               {Data: []byte("-- +multisite StatementBegin\nCREATE TRIGGER t AFTER INSERT ON milestone BEGIN SELECT 1; END;\n-- +multisite StatementEnd\n")},
		"migrations/0003_trigger.mysql.sql":         {Data: []byte("SELECT 1")},
		"bad/0001_a.sql":                            {Data: []byte("SELECT 1")},
		"bad/0001_b.sql":                            {Data: []byte("SELECT 2")},
		"unterminated/0001_quote.sql":               {Data: []byte("INSERT INTO t VALUES ('x);")},
		"unterminated/0002_dollar.postgres.sql":     {Data: []byte("SELECT $$x;")},
		"unterminated/0003_comment.sql":             {Data: []byte("SELECT 1 /* x;")},
		"unterminated/0004_block.sql":               {Data: []byte("-- +multisite StatementBegin\nSELECT 1;")},
		"unterminated/0005_end.sql":                 {Data: []byte("SELECT 1;\n-- +multisite StatementEnd\n")},
		"unterminated/0006_goose_without_up.sql":    {Data: []byte("-- +goose Down\nSELECT 1;")},
		"unterminated/0007_unknown_dialect.ora.sql": {Data: []byte("SELECT 1")},
	}
	migs, err := schema.FromFS(fsys, "migrations")
	require.NoError(t, err)
	type got struct {
		Version int64
		Name    string
		Stmts   map[string][]string
	}
	var gots []got
	for _, m := range migs {
		g := got{Version: m.Version, Name: m.Name, Stmts: map[string][]string{}}
		for _, d := range []string{schema.SQLite, schema.Postgres, schema.MySQL} {
			s, err := m.Statements(d)
			require.NoError(t, err)
			g.Stmts[d] = s
		}
		gots = append(gots, g)
	}
	want := []got{
		{1, "add_priority", map[string][]string{
			"sqlite": {"ALTER TABLE defect ADD COLUMN priority INTEGER"}, "postgres": {"ALTER TABLE defect ADD COLUMN priority INTEGER"}, "mysql": {"ALTER TABLE defect ADD COLUMN priority INTEGER"}}},
		{2, "milestone", map[string][]string{
			"sqlite": {"CREATE TABLE milestone (id INTEGER PRIMARY KEY, title TEXT)"}, "postgres": {"CREATE TABLE milestone (id BIGINT PRIMARY KEY, title TEXT)"}, "mysql": {"CREATE TABLE milestone (id INTEGER PRIMARY KEY, title TEXT)"}}},
		{3, "trigger", map[string][]string{
			"sqlite": {"CREATE TRIGGER t AFTER INSERT ON milestone BEGIN SELECT 1; END"}, "postgres": {"CREATE TRIGGER t AFTER INSERT ON milestone BEGIN SELECT 1; END"}, "mysql": {"SELECT 1"}}},
	}
	if diff := cmp.Diff(want, gots); diff != "" {
		t.Errorf("FromFS (-want +got):\n%s", diff)
	}
	if _, err := schema.FromFS(fsys, "bad"); !errors.Is(err, schema.ErrInvalidMigration) {
		t.Errorf("two names for one version: %v, want ErrInvalidMigration", err)
	}
	entries, _ := fsys.ReadDir("unterminated")
	for _, e := range entries {
		sub := fstest.MapFS{"m/" + e.Name(): fsys["unterminated/"+e.Name()]}
		migs, err := schema.FromFS(sub, "m")
		if strings.Contains(e.Name(), "unknown_dialect") {
			if err != nil || len(migs) != 0 { // not a migration file name
				t.Errorf("%s: %v, %d migrations; want it ignored", e.Name(), err, len(migs))
			}
			continue
		}
		if !errors.Is(err, schema.ErrInvalidMigration) {
			t.Errorf("%s: %v, want ErrInvalidMigration", e.Name(), err)
		}
	}

	// A migration from files, end to end: a dialect without SQL of its own
	// is refused with a *schema.DialectError, nothing changed.
	m := newDSite(t, testdb.SQLite(t, "boston"), "boston")
	seedPortable(t, m, 2)
	_, err = multisite.Activate(ctx, m.db, multisite.ActivateOptions{Name: "boston"})
	require.NoError(t, err)
	pgOnly := []schema.Migration{{Version: 1, Name: "pg", SQL: map[string]string{"postgres": "SELECT 1"}}}
	before := schemaState(t, m)
	_, err = multisite.Migrate(ctx, m.db, pgOnly, multisite.MigrateOptions{})
	var de *schema.DialectError
	if !errors.As(err, &de) || de.Dialect != "sqlite" {
		t.Errorf("migration without SQLite SQL: %v, want *schema.DialectError", err)
	}
	requireSchemaUnchanged(t, m, before, "a migration for another dialect")
	rep, err := multisite.Migrate(ctx, m.db, migs[:2], multisite.MigrateOptions{})
	require.NoError(t, err)
	if rep.To != 2 || !cmp.Equal(rep.Replicated, []string{"milestone"}) {
		t.Errorf("migrations from files: %+v", rep)
	}
}

func TestMastershipCheckTemplate(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		m := newDSite(t, open("boston"), "boston")
		seedPortable(t, m, 4)
		info, err := multisite.Activate(ctx, m.db, multisite.ActivateOptions{Name: "boston"})
		require.NoError(t, err)
		m.id = info.ID
		a := replicateTo(t, m, open("bangalore"), "bangalore")
		dsync(t, a, m)
		// A table of notes on defects, replicated, whose rows only the
		// master of their defect may write: the check comes from the
		// template, as a migration for every dialect.
		mig := schema.Migration{Version: 1, Name: "defect_note", SQL: map[string]string{}}
		for _, d := range []string{schema.SQLite, schema.Postgres, schema.MySQL} {
			var sql strings.Builder
			sql.WriteString("CREATE TABLE defect_note (id BIGINT PRIMARY KEY, defect_id BIGINT NOT NULL, body VARCHAR(200));\n")
			require.NoError(t, schema.GenerateMastershipCheck(&sql, d, schema.CheckOptions{
				Table: "defect_note", Key: []string{"id"}, Parent: "defect", ParentKey: []string{"id"}, Refs: []string{"defect_id"}}))
			mig.SQL[d] = sql.String()
		}
		_, err = multisite.Migrate(ctx, m.db, []schema.Migration{mig}, multisite.MigrateOptions{})
		require.NoError(t, err)
		_, err = multisite.TransferMastership(ctx, m.db, "defect", a.id, []any{int64(3)})
		require.NoError(t, err)
		dsync(t, m, a)

		next := func(s *dsite) int64 {
			id, err := multisite.NextID(ctx, s.db, nil, "defect_note")
			require.NoError(t, err)
			return id
		}
		m.mustExec(t, `INSERT INTO defect_note (id, defect_id, body) VALUES (?, 1, 'boston masters defect 1')`, next(m))
		err = m.exec(t, `INSERT INTO defect_note (id, defect_id, body) VALUES (?, 3, 'defect 3 is bangalore''s')`, next(m))
		var nm *mastership.NotMasterError
		if !errors.As(mastership.FromDriver(err), &nm) || nm.Table != "defect_note" || nm.Master != a.id || nm.By != m.id {
			t.Errorf("note on a defect mastered elsewhere: %v, want *mastership.NotMasterError naming bangalore", err)
		}
		a.mustExec(t, `INSERT INTO defect_note (id, defect_id, body) VALUES (?, 3, 'bangalore masters defect 3')`, next(a))
		dsync(t, a, m) // the import passes the check
		dsync(t, m, a)
		dconverged(t, m, a)
		if got := m.query(t, `SELECT count(*) FROM defect_note`); got != "2" {
			t.Errorf("boston has %s notes, want 2", got)
		}
		r, err := multisite.SchemaStatus(ctx, a.db)
		require.NoError(t, err)
		if !r.Clean() {
			t.Errorf("status after the check's migration:\n%s", r)
		}
	})
}

func TestMigrate_Splitter(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"plain", "A; B;\nC", []string{"A", "B", "C"}},
		{"quotes", `INSERT INTO t VALUES ('a;b', "c;d", ` + "`e;f`" + `, 'it''s;')`, []string{`INSERT INTO t VALUES ('a;b', "c;d", ` + "`e;f`" + `, 'it''s;')`}},
		{"comments", "-- a; b\nA; /* c; d */ B", []string{"-- a; b\nA", "/* c; d */ B"}},
		{"dollar", "CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql; B", []string{"CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql", "B"}},
		{"only comments", "-- nothing\n;\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := schema.SplitStatements(tt.in)
			require.NoError(t, err)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("SplitStatements (-want +got):\n%s", diff)
			}
		})
	}
}

func ExampleMigrate() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	db, _ := sql.Open("sqlite", testdb.SQLiteDSN(dir+"/boston.db"))
	defer db.Close()
	db.Exec(`CREATE TABLE defect (id INTEGER PRIMARY KEY, headline TEXT NOT NULL)`)
	if _, err := multisite.Activate(ctx, db, multisite.ActivateOptions{Name: "boston"}); err != nil {
		fmt.Println(err)
		return
	}
	migs := []schema.Migration{
		{Version: 1, Name: "add_priority", Up: `ALTER TABLE defect ADD COLUMN priority INTEGER NOT NULL DEFAULT 3`},
		{Version: 2, Name: "milestone", Up: `CREATE TABLE milestone (id INTEGER PRIMARY KEY, title TEXT NOT NULL)`},
	}
	rep, err := multisite.Migrate(ctx, db, migs, multisite.MigrateOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("schema version %d -> %d, now replicated: %v, changed: %v\n", rep.From, rep.To, rep.Replicated, rep.Changed)
	st, _ := multisite.SchemaStatus(ctx, db)
	fmt.Println("clean:", st.Clean())
	// Output:
	// schema version 0 -> 2, now replicated: [milestone], changed: [defect]
	// clean: true
}
