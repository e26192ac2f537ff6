package multisite_test

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/multisite-go/multisite/mastership"
	"github.com/multisite-go/multisite/schema"
	"github.com/stretchr/testify/require"
)

// dumpTables reads the named tables in portable, canonical form, sorted.
func dumpTables(t testing.TB, s *dsite, names ...string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, name := range names {
		tb, ok, err := s.d.Describe(ctx, s.db, name)
		require.NoError(t, err)
		require.True(t, ok, name)
		var sel []string
		for _, c := range tb.Columns {
			sel = append(sel, s.d.Raw(s.d.Quote(c.Name)))
		}
		rows, err := s.db.Query(fmt.Sprintf("SELECT %s FROM %s", strings.Join(sel, ", "), s.d.Quote(name)))
		require.NoError(t, err)
		for rows.Next() {
			vals := make([]any, len(tb.Columns))
			ptrs := make([]any, len(vals))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			var parts []string
			for i, c := range tb.Columns {
				v, err := s.d.Value(c, vals[i])
				require.NoError(t, err)
				parts = append(parts, fmt.Sprintf("%s=%v", c.Name, dialect.Canonical(c.Type, v)))
			}
			out[name] = append(out[name], strings.Join(parts, " "))
		}
		require.NoError(t, rows.Err())
		rows.Close()
		sort.Strings(out[name])
	}
	return out
}

// dropTrigger removes the library's capture trigger of table by hand.
func dropTrigger(t testing.TB, s *dsite, table string) string {
	t.Helper()
	if s.d.Name() == dialect.Postgres {
		s.mustExec(t, fmt.Sprintf(`DROP TRIGGER ms_%s_capture ON %s`, table, table))
		return "ms_" + table + "_capture"
	}
	s.mustExec(t, fmt.Sprintf(`DROP TRIGGER ms_%s_ai`, table))
	return "ms_" + table + "_ai"
}

// alterTrigger changes the library's enforcement trigger of table by hand,
// the way an administrator might to let a write through.
func alterTrigger(t testing.TB, s *dsite, table string) string {
	t.Helper()
	switch s.d.Name() {
	case dialect.Postgres:
		s.mustExec(t, fmt.Sprintf(`ALTER TABLE %s DISABLE TRIGGER ms_%s_enforce`, table, table))
		return "ms_" + table + "_enforce"
	case dialect.MySQL:
		s.mustExec(t, fmt.Sprintf("DROP TRIGGER ms_%s_bu", table))
		s.mustExec(t, fmt.Sprintf("CREATE TRIGGER ms_%s_bu BEFORE UPDATE ON %s FOR EACH ROW BEGIN END", table, table))
	default:
		s.mustExec(t, fmt.Sprintf("DROP TRIGGER ms_%s_bu", table))
		s.mustExec(t, fmt.Sprintf("CREATE TRIGGER ms_%s_bu BEFORE UPDATE ON %s BEGIN SELECT 1; END", table, table))
	}
	return "ms_" + table + "_bu"
}

func triggerState(t testing.TB, r *schema.Report, table, trigger string) schema.TriggerState {
	t.Helper()
	ts, ok := r.Table(table)
	require.True(t, ok, "status has no table %s", table)
	for _, tr := range ts.Triggers {
		if tr.Name == trigger {
			return tr.State
		}
	}
	t.Fatalf("status of %s has no trigger %s: %+v", table, trigger, ts.Triggers)
	return ""
}

func TestSchemaStatus_DetectsAndRepairsTriggers(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		s := newDSite(t, open("boston"), "boston")
		seedPortable(t, s, 5)
		s.mustExec(t, `CREATE TABLE audit (at VARCHAR(40) PRIMARY KEY, what TEXT)`)
		info, err := multisite.Activate(ctx, s.db, multisite.ActivateOptions{Name: "boston", Exclude: []string{"audit"}})
		require.NoError(t, err)
		s.id = info.ID

		r, err := multisite.SchemaStatus(ctx, s.db)
		require.NoError(t, err)
		if !r.Clean() {
			t.Fatalf("fresh replica not clean:\n%s", r)
		}
		if r.Format != multisite.MetadataFormat || r.SchemaVersion != 0 || r.SchemaMaster != string(s.id) {
			t.Errorf("report = format %d, schema %d, master %s; want %d, 0, %s", r.Format, r.SchemaVersion, r.SchemaMaster, multisite.MetadataFormat, s.id)
		}
		var got []string
		for _, ts := range r.Tables {
			got = append(got, fmt.Sprintf("%s replicated=%v field=%v shadow=%v triggers=%d", ts.Table, ts.Replicated, ts.MasterField, ts.Shadow, len(ts.Triggers)))
		}
		n := len(s.d.TriggerNames(dialect.Table{Name: "x"}))
		// SQLite has two more for an integer key (key allocation).
		nInt := len(s.d.TriggerNames(dialect.Table{Name: "x", Columns: []dialect.Column{{Name: "id", Type: "INTEGER", Key: 1}}}))
		want := []string{
			"audit replicated=false field=false shadow=false triggers=0",
			fmt.Sprintf("defect replicated=true field=true shadow=true triggers=%d", nInt),
			fmt.Sprintf("defect_tag replicated=true field=true shadow=true triggers=%d", n),
			fmt.Sprintf("project replicated=true field=true shadow=true triggers=%d", n),
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("tables (-want +got):\n%s", diff)
		}
		if plan, err := multisite.PlanRepair(ctx, s.db); err != nil || len(plan.Steps) != 0 {
			t.Errorf("PlanRepair on a clean replica = %d steps, %v; want none", len(plan.Steps), err)
		}

		// A capture trigger dropped by hand: status shows it, repair
		// re-creates it, and capture works again.
		dropped := dropTrigger(t, s, "defect")
		r, err = multisite.SchemaStatus(ctx, s.db)
		require.NoError(t, err)
		if r.Clean() || triggerState(t, r, "defect", dropped) != schema.TriggerMissing {
			t.Fatalf("after dropping %s, status:\n%s", dropped, r)
		}
		if ts, _ := r.Table("project"); !ts.Current() {
			t.Errorf("project not current after a trigger of defect was dropped: %v", ts.Problems())
		}
		plan, err := multisite.PlanRepair(ctx, s.db)
		require.NoError(t, err)
		if !strings.Contains(plan.String(), "CREATE TRIGGER") || strings.Contains(plan.String(), `ON "project"`) || strings.Contains(plan.String(), "ON `project`") {
			t.Errorf("repair plan should re-create defect's triggers only:\n%s", plan)
		}
		if _, err := multisite.Repair(ctx, s.db); err != nil {
			t.Fatalf("Repair: %v", err)
		}
		if r, err = multisite.SchemaStatus(ctx, s.db); err != nil || !r.Clean() {
			t.Fatalf("after repair: %v\n%s", err, r)
		}
		id, err := multisite.NextID(ctx, s.db, nil, "defect")
		require.NoError(t, err)
		s.mustExec(t, `INSERT INTO defect (id, project, headline) VALUES (?, 'CORE', 'after repair')`, id)
		if got := s.query(t, fmt.Sprintf(`SELECT count(*) FROM ms_row_defect WHERE id = %d AND ms_epoch IS NULL`, id)); got != "1" {
			t.Errorf("insert after repair captured %s times, want 1", got)
		}

		// An enforcement trigger altered by hand is detected and repaired.
		altered := alterTrigger(t, s, "project")
		r, err = multisite.SchemaStatus(ctx, s.db)
		require.NoError(t, err)
		if got := triggerState(t, r, "project", altered); got != schema.TriggerAltered {
			t.Fatalf("after altering %s: state %s, want altered\n%s", altered, got, r)
		}
		if _, err := multisite.Repair(ctx, s.db); err != nil {
			t.Fatalf("Repair: %v", err)
		}
		if r, err = multisite.SchemaStatus(ctx, s.db); err != nil || !r.Clean() {
			t.Fatalf("after second repair: %v\n%s", err, r)
		}
		// Enforcement is back: a row mastered elsewhere cannot change.
		s.mustExec(t, `INSERT INTO project (code, title) VALUES ('OPS', 'Operations')`)
		var buf bytes.Buffer
		other, _, err := multisite.Replicate(ctx, s.db, "bangalore", &buf, multisite.ReplicateOptions{})
		require.NoError(t, err)
		_, err = multisite.TransferMastership(ctx, s.db, "project", other.ID, []any{"OPS"})
		require.NoError(t, err)
		err = s.exec(t, `UPDATE project SET title = 'x' WHERE code = 'OPS'`)
		if !errors.Is(mastership.FromDriver(err), mastership.ErrNotMaster) {
			t.Errorf("update of a row mastered elsewhere after repair: %v, want not master", err)
		}
	})
}

func TestDeactivate_AfterMigrationRestoresSchemaAndData(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		s := newDSite(t, open("boston"), "boston")
		seedPortable(t, s, 10)
		schemaBefore := catalogOf(t, s.db)
		dataBefore := dumpTables(t, s, "project", "defect", "defect_tag")
		_, err := multisite.Activate(ctx, s.db, multisite.ActivateOptions{Name: "boston"})
		require.NoError(t, err)
		// A migration too: its table stays, as the user's own.
		_, err = multisite.Migrate(ctx, s.db, []schema.Migration{{Version: 1, Name: "milestone",
			Up: `CREATE TABLE milestone (id BIGINT PRIMARY KEY, title VARCHAR(50) NOT NULL)`}}, multisite.MigrateOptions{})
		require.NoError(t, err)
		s.mustExec(t, `UPDATE defect SET state = 'fixed' WHERE id = 3`)
		plan, err := multisite.PlanDeactivation(ctx, s.db)
		require.NoError(t, err)
		if len(plan.Steps) == 0 {
			t.Fatal("empty deactivation plan")
		}
		require.NoError(t, multisite.Deactivate(ctx, s.db))
		s.mustExec(t, `DROP TABLE milestone`)
		after := catalogOf(t, s.db)
		if s.d.Name() == dialect.MySQL {
			// Documented: text key columns keep their binary collation.
			for k, v := range after {
				after[k] = strings.NewReplacer(" CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL", " NOT NULL", // MariaDB
					" CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_bin NOT NULL", " NOT NULL").Replace(v) // MySQL
			}
		}
		if diff := cmp.Diff(schemaBefore, after); diff != "" {
			t.Errorf("catalog after deactivation (-original +after):\n%s", diff)
		}
		s.mustExec(t, `UPDATE defect SET state = 'open' WHERE id = 3`)
		if diff := cmp.Diff(dataBefore, dumpTables(t, s, "project", "defect", "defect_tag")); diff != "" {
			t.Errorf("data after deactivation (-original +after):\n%s", diff)
		}
	})
}

// downgradeToFormat1 turns the metadata of a replica back into what format
// 1 of the library wrote (on SQLite, format 2 and older indexed every
// shadow entry by origin and epoch, pending ones too).
func downgradeToFormat1(t testing.TB, s *dsite) {
	t.Helper()
	dropProofColumns(t, s)
	for _, q := range []string{
		`ALTER TABLE ms_request DROP COLUMN links`,  // format 12
		`ALTER TABLE ms_request DROP COLUMN signer`, // format 10 (first: SQLite parses the triggers again)
		`ALTER TABLE ms_request DROP COLUMN proof`,
		`ALTER TABLE ms_replica DROP COLUMN signer`, // format 9
		`ALTER TABLE ms_replica DROP COLUMN proof`,
		`ALTER TABLE ms_replica DROP COLUMN chain`,
		`ALTER TABLE ms_replica DROP COLUMN invite`,
		`DROP TABLE ms_migration`,
		`DROP TABLE ms_schema`,
		`DROP TABLE ms_sent`,
		`DROP TABLE ms_gap`,
		`DROP TABLE ms_part`,
		`ALTER TABLE ms_table DROP COLUMN version`,
		`UPDATE ms_ctl SET format = 1`,
		`DROP TABLE IF EXISTS ms_refuse`,
		`DROP TABLE IF EXISTS ms_sealed`, // format 8
		`DROP TABLE IF EXISTS ms_proof`,
		`DROP TABLE IF EXISTS ms_partdata`, // format 11
	} {
		s.mustExec(t, q)
	}
	if dialectOf(t, s.db).Name() == dialect.SQLite {
		for _, table := range strings.Fields(s.query(t, `SELECT group_concat(name, ' ') FROM ms_table`)) {
			s.mustExec(t, fmt.Sprintf(`DROP INDEX "ms_ix_row_%s_epoch"`, table))
			s.mustExec(t, fmt.Sprintf(`CREATE INDEX "ms_row_%s_epoch" ON "ms_row_%s" (ms_origin, ms_epoch)`, table, table))
		}
	}
}

// replicatedNames lists s's replicated tables.
func replicatedNames(t testing.TB, s *dsite) []string {
	t.Helper()
	d := dialectOf(t, s.db)
	if d.Name() == dialect.MySQL {
		return strings.Split(s.query(t, `SELECT group_concat(name SEPARATOR ' ') FROM ms_table`), " ")
	}
	return strings.Fields(s.query(t, `SELECT `+map[bool]string{true: "group_concat(name, ' ')", false: "string_agg(name, ' ')"}[d.Name() != dialect.Postgres]+` FROM ms_table`))
}

// dropProofColumns takes away the proof column format 7 gave every shadow
// and transfer log.
func dropProofColumns(t testing.TB, s *dsite) {
	t.Helper()
	d := dialectOf(t, s.db)
	for _, table := range replicatedNames(t, s) {
		for _, name := range []string{dialect.Shadow(d, table), dialect.Xfer(d, table)} {
			if has, err := dialect.HasColumn(ctx, s.db, d, name, "ms_proof"); err == nil && has {
				s.mustExec(t, fmt.Sprintf("ALTER TABLE %s DROP COLUMN ms_proof", d.Quote(name)))
			}
		}
	}
}

// upgradeSteps is how many statements upgrade s's metadata from format 1:
// four to format 2, the stamp of format 3, four to format 4 (ms_sent,
// ms_gap, ms_part, stamp), the stamps of formats 5, 6 and 7, three to
// format 8 (ms_sealed, ms_proof, stamp), four columns of ms_replica and
// the stamp of format 9, two columns of ms_request and the stamp of
// format 10 (ms_request is there already), ms_partdata and the stamp of
// format 11, a column of ms_request and the stamp of format 12; on SQLite two
// per replicated table (its shadow's epoch index rebuilt) and ms_refuse;
// and per table the fingerprints taken, the triggers (charset triggers
// too, where there are some) dropped and created again, and the proof
// columns of its shadow and transfer log.
func upgradeSteps(t testing.TB, s *dsite) int {
	t.Helper()
	d := s.d
	n := 27
	names := replicatedNames(t, s)
	n += 2 * len(names)
	if d.Name() == dialect.SQLite {
		n += 1 + 2*len(names)
	}
	e := d.(dialect.CharsetEnforcer)
	for _, name := range names {
		tb, ok, err := d.Describe(ctx, s.db, name)
		require.True(t, ok && err == nil, "describe %s: %v", name, err)
		n += 1 + len(dialect.DropTriggers(d, tb)) + len(d.Triggers(tb))
		if has, err := e.CharsetTriggersExist(ctx, s.db, tb); err == nil && has && len(e.CharsetTriggers(tb)) > 0 {
			n += len(e.DropCharset(tb)) + len(e.CharsetTriggers(tb))
		}
	}
	return n
}

func TestUpgradeMetadata_FromFormat1(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		sites := []*dsite{newDSite(t, open("boston"), "boston")}
		seedPortable(t, sites[0], 5)
		info, err := multisite.Activate(ctx, sites[0].db, multisite.ActivateOptions{Name: "boston"})
		require.NoError(t, err)
		sites[0].id = info.ID
		sites = append(sites, replicateTo(t, sites[0], open("bangalore"), "bangalore"))
		fresh := catalogOf(t, sites[0].db)

		for _, s := range sites {
			downgradeToFormat1(t, s)
		}
		boston, blr := sites[0], sites[1]
		plan, from, err := multisite.PlanUpgrade(ctx, boston.db)
		require.NoError(t, err)
		if want := upgradeSteps(t, boston); from != 1 || len(plan.Steps) != want {
			t.Fatalf("PlanUpgrade = format %d, %d steps; want 1, %d:\n%s", from, len(plan.Steps), want, plan)
		}
		if got := boston.query(t, `SELECT format FROM ms_ctl`); got != "1" {
			t.Fatalf("PlanUpgrade changed the format to %s", got)
		}
		// Any operation upgrades: here an export, and at bangalore an import.
		pkt := dexport(t, boston, blr)
		if got := boston.query(t, `SELECT format FROM ms_ctl`); got != fmt.Sprint(multisite.MetadataFormat) {
			t.Fatalf("format after export = %s, want %d", got, multisite.MetadataFormat)
		}
		if diff := cmp.Diff(fresh, catalogOf(t, boston.db)); diff != "" {
			t.Errorf("upgraded catalog differs from a new replica's (-new +upgraded):\n%s", diff)
		}
		importInto(t, &blr.site, pkt)
		from, to, err := multisite.UpgradeMetadata(ctx, blr.db)
		if err != nil || from != multisite.MetadataFormat || to != multisite.MetadataFormat {
			t.Errorf("UpgradeMetadata of an upgraded replica = %d, %d, %v; want nothing to do", from, to, err)
		}
		if plan, _, err := multisite.PlanUpgrade(ctx, blr.db); err != nil || len(plan.Steps) != 0 {
			t.Errorf("PlanUpgrade after the upgrade = %d steps, %v", len(plan.Steps), err)
		}
		dconverged(t, boston, blr)
		r, err := multisite.SchemaStatus(ctx, blr.db)
		require.NoError(t, err)
		if !r.Clean() || r.Format != multisite.MetadataFormat {
			t.Errorf("status after upgrade:\n%s", r)
		}

		// Explicitly, from format 1 again.
		downgradeToFormat1(t, blr)
		from, to, err = multisite.UpgradeMetadata(ctx, blr.db)
		if err != nil || from != 1 || to != multisite.MetadataFormat {
			t.Errorf("UpgradeMetadata = %d, %d, %v; want 1, %d", from, to, err, multisite.MetadataFormat)
		}

		// A database of a newer library is refused, naming both formats,
		// and left as it is.
		boston.mustExec(t, `UPDATE ms_ctl SET format = 99`)
		before := catalogOf(t, boston.db)
		for name, op := range map[string]func() error{
			"ReadStatus": func() error { _, err := multisite.ReadStatus(ctx, boston.db); return err },
			"ExportPacket": func() error {
				_, err := multisite.ExportPacket(ctx, boston.db, blr.id, &bytes.Buffer{}, multisite.ExportOptions{})
				return err
			},
			"UpgradeMetadata": func() error {
				_, _, err := multisite.UpgradeMetadata(ctx, boston.db)
				return err
			},
			"Migrate": func() error {
				_, err := multisite.Migrate(ctx, boston.db, nil, multisite.MigrateOptions{})
				return err
			},
		} {
			err := op()
			var ve *schema.VersionError
			if !errors.As(err, &ve) || !errors.Is(err, schema.ErrNewerFormat) || ve.Have != 99 || ve.Want != multisite.MetadataFormat {
				t.Errorf("%s on a format-99 database: %v, want *schema.VersionError{99, %d}", name, err, multisite.MetadataFormat)
			}
		}
		if diff := cmp.Diff(before, catalogOf(t, boston.db)); diff != "" || boston.query(t, `SELECT format FROM ms_ctl`) != "99" {
			t.Errorf("refused database changed:\n%s", diff)
		}
	})
}

// downgradeToFormat takes a replica's metadata back to format f: format 1
// (downgradeToFormat1), then the metadata steps of every later format up to
// f, as a library of format f made them. Every format before 6 lacks the
// shadows' ms_hash, so it goes, and with it the triggers that read it (the
// upgrade makes them again); so do the key generators, which came after the
// triggers of older formats (SQLite's ms_key, MariaDB's sequences).
func downgradeToFormat(t testing.TB, s *dsite, f int) {
	t.Helper()
	d := s.d
	if f == 6 { // format 7 added the proof columns alone
		dropProofColumns(t, s)
		s.mustExec(t, `UPDATE ms_ctl SET format = 6`)
		return
	}
	var tables []dialect.Table
	for _, name := range []string{"project", "defect", "defect_tag"} {
		tb, ok, err := d.Describe(ctx, s.db, name)
		require.True(t, ok && err == nil, "describe %s: %v", name, err)
		tables = append(tables, tb)
	}
	for _, tb := range tables {
		if f >= 6 {
			break // formats 6 and later have them
		}
		for _, q := range dialect.DropTriggers(d, tb) {
			s.mustExec(t, q)
		}
		s.mustExec(t, fmt.Sprintf("ALTER TABLE %s DROP COLUMN ms_hash", d.Quote(dialect.Shadow(d, tb.Name))))
		switch d.Name() {
		case dialect.MySQL:
			if tb.IntegerKey() {
				s.mustExec(t, "DROP SEQUENCE "+d.Quote(dialect.KeySequence(d, tb.Name)))
			}
		}
	}
	if d.Name() == dialect.SQLite && f < 6 {
		s.mustExec(t, "DROP TABLE "+dialect.KeyTable)
	}
	downgradeToFormat1(t, s)
	for k := 1; k < f; k++ {
		for _, st := range dialect.MetaFormat(d, k) {
			s.mustExec(t, st.SQL)
		}
		if sd, ok := d.(dialect.SQLiteDialect); ok && k == 2 {
			for _, tb := range tables {
				s.mustExec(t, "DROP INDEX "+d.Quote(dialect.LegacyShadowIndex(d, tb.Name, "epoch")))
				s.mustExec(t, sd.EpochIndex(tb))
			}
		}
	}
	require.Equal(t, fmt.Sprint(f), s.query(t, `SELECT format FROM ms_ctl`))
}

// TestUpgradeMetadata_FromEveryFormat upgrades a replica of every older
// format (its shadows without fingerprints, its triggers and key
// generators gone) to the latest: the catalog is a new replica's, the
// status clean, the rows inside the rules, and plain SQL writes (a keyless
// INSERT included where the dialect takes one) are captured.
func TestUpgradeMetadata_FromEveryFormat(t *testing.T) {
	require.Equal(t, 12, multisite.MetadataFormat, "add the new format to the cases")
	for from := 1; from < multisite.MetadataFormat; from++ {
		t.Run(fmt.Sprintf("format%d", from), func(t *testing.T) {
			testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
				s := newDSite(t, open("boston"), "boston")
				seedPortable(t, s, 5)
				info, err := multisite.Activate(ctx, s.db, multisite.ActivateOptions{Name: "boston"})
				require.NoError(t, err)
				s.id = info.ID
				fresh := catalogOf(t, s.db)
				downgradeToFormat(t, s, from)

				gotFrom, to, err := multisite.UpgradeMetadata(ctx, s.db)
				if err != nil || gotFrom != from || to != multisite.MetadataFormat {
					t.Fatalf("UpgradeMetadata = %d, %d, %v; want %d, %d", gotFrom, to, err, from, multisite.MetadataFormat)
				}
				got := catalogOf(t, s.db)
				if s.d.Name() == dialect.SQLite {
					// SQLite's ADD COLUMN writes the column after the
					// table's constraints in the stored CREATE TABLE text.
					for k := range fresh {
						if strings.HasPrefix(k, "table ms_row_") || strings.HasPrefix(k, "table ms_xfer_") {
							delete(fresh, k)
							delete(got, k)
						}
					}
				}
				if diff := cmp.Diff(fresh, got); diff != "" {
					t.Errorf("upgraded catalog differs from a new replica's (-new +upgraded):\n%s", diff)
				}
				if plan, _, err := multisite.PlanUpgrade(ctx, s.db); err != nil || len(plan.Steps) != 0 {
					t.Errorf("PlanUpgrade after the upgrade = %d steps, %v", len(plan.Steps), err)
				}
				s.mustExec(t, `UPDATE defect SET headline = 'changed after the upgrade' WHERE id = 2`)
				s.mustExec(t, `DELETE FROM defect_tag WHERE tag = 'perf'`)
				s.mustExec(t, `INSERT INTO project (code, title) VALUES ('NEW', 'after the upgrade')`)
				if s.d.Name() != dialect.SQLite {
					s.mustExec(t, `INSERT INTO defect (project, headline) VALUES ('NEW', 'keyless')`)
				}
				r, err := multisite.SchemaStatus(ctx, s.db)
				require.NoError(t, err)
				if !r.Clean() || r.Format != multisite.MetadataFormat || r.Rows == nil || r.Rows.Rows == 0 {
					t.Errorf("status after upgrade and writes:\n%s", r)
				}
			})
		})
	}
}
