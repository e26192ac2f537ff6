package engine

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/schema"
	"github.com/multisite-go/multisite/syncpkt"
)

// Setting records of the schema toolkit. Every packet carries the chain of
// schema masters (once the schema was handed on) and every migration the
// family applied, in version order, before any table or row: a replica
// applies what it lacks before the data that needs it.
const (
	settingMigration    = "ms.migration"     // JSON migrationBody
	settingSchemaMaster = "ms.schema_master" // JSON []masterLink
)

// migrationBody is an applied migration as it travels and as ms_migration
// keeps it: the text for every dialect, the schema version it follows,
// and the signature of the schema master that applied it.
type migrationBody struct {
	Version  int64             `json:"version"`
	Prev     int64             `json:"prev"`
	Name     string            `json:"name"`
	Checksum string            `json:"checksum"`
	Up       string            `json:"up,omitempty"`
	SQL      map[string]string `json:"sql,omitempty"`
	By       string            `json:"by"`
	Sig      []byte            `json:"sig"`
}

func (b *migrationBody) migration() schema.Migration {
	return schema.Migration{Version: b.Version, Name: b.Name, Up: b.Up, SQL: b.SQL}
}

// message is what the schema master signs: the version, the version it
// follows and the checksum of the text.
func (b *migrationBody) message() []byte {
	return fmt.Appendf(nil, "multisite migration\x00%d\x00%d\x00%s\x00%s", b.Version, b.Prev, b.Checksum, b.By)
}

// MigrateOptions controls Migrate. The zero value applies every pending
// migration.
type MigrateOptions struct {
	To     int64 // apply up to this version (it must be one of the migrations); 0 means all
	DryRun bool  // plan only: on SQLite and PostgreSQL everything runs and is rolled back
	Logger *slog.Logger
}

// MigrateReport tells what Migrate did (or, in a dry run, would do).
type MigrateReport struct {
	From, To   int64              // schema version before and after
	Applied    []schema.Migration // the migrations applied, in order (Func left out)
	Replicated []string           // tables the migrations created, now replicated
	Changed    []string           // replicated tables whose columns changed
	Dropped    []string           // replicated tables the migrations dropped
	// Plan holds every statement run, in order: the migrations' SQL and
	// the replication set-up that followed. In a dry run on MySQL, where
	// DDL cannot be rolled back, only the migrations' SQL.
	Plan schema.Plan
}

// runner runs the statements of a migration: in the caller's transaction
// where DDL is transactional, else (MySQL) each statement by itself, DML
// in a short transaction of its own with capture and enforcement off.
type runner struct {
	ctx  context.Context
	d    dialect.Dialect
	tx   *sql.Tx
	db   *sql.DB
	dry  bool // record only (MySQL dry run)
	plan *schema.Plan
}

func (r *runner) q() dialect.Querier {
	if r.tx != nil {
		return r.tx
	}
	return r.db
}

func (r *runner) exec(comment string, stmts ...string) error {
	for _, s := range stmts {
		step := schema.Step{Comment: comment, SQL: s}
		n := len(r.plan.Steps)
		r.plan.Steps = append(r.plan.Steps, step)
		if r.dry {
			continue
		}
		var err error
		switch {
		case r.tx != nil:
			_, err = r.tx.ExecContext(r.ctx, s)
		case isDML(s):
			err = inTx(r.ctx, r.db, r.d, func(tx *sql.Tx) error {
				if _, err := tx.ExecContext(r.ctx, r.d.SetApplying(true)); err != nil {
					return err
				}
				defer clearApplying(r.ctx, tx, r.d)
				if _, err := tx.ExecContext(r.ctx, s); err != nil {
					return err
				}
				_, err := tx.ExecContext(r.ctx, r.d.SetApplying(false))
				return err
			})
		default:
			_, err = r.db.ExecContext(r.ctx, s)
		}
		if err != nil {
			return &schema.ApplyError{Applied: n, Step: step, Err: err}
		}
	}
	return nil
}

// isDML tells statements that change rows (and may fire triggers) from DDL,
// which MySQL commits by itself.
func isDML(s string) bool {
	f := strings.Fields(strings.ToUpper(s))
	if len(f) == 0 {
		return false
	}
	switch f[0] {
	case "INSERT", "UPDATE", "DELETE", "REPLACE", "WITH":
		return true
	}
	return false
}

// catalogState is what a migration is compared against: the user tables
// before it ran, and the replicated ones as the catalog described them.
type catalogState struct {
	names  map[string]bool
	tables map[string]dialect.Table
}

func snapshot(ctx context.Context, q dialect.Querier, d dialect.Dialect) (catalogState, error) {
	st := catalogState{names: map[string]bool{}, tables: map[string]dialect.Table{}}
	names, err := d.Tables(ctx, q)
	if err != nil {
		return st, err
	}
	for _, n := range names {
		st.names[n] = true
	}
	rep, err := Tables(ctx, q)
	if err != nil {
		return st, err
	}
	for _, t := range rep {
		cur, ok, err := d.Describe(ctx, q, t.Name)
		if err != nil {
			return st, err
		}
		if ok {
			st.tables[t.Name] = cur
		}
	}
	return st, nil
}

func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// applyMigration runs one migration's SQL for the local dialect, sets up
// replication of what it changed, and records it. master is the replica
// that masters the rows a new table holds after the migration (the schema
// master: every replica ran the same SQL, so those rows are alike
// everywhere and already known to all).
//
// raw is the migration's value as it travelled (stored as it is, so that
// its proof, stored with it, still proves it when forwarded); "" for a
// migration made here. signer and proof are the schema master's proof of
// a migration from a packet.
func applyMigration(ctx context.Context, r *runner, local replica.ID, b *migrationBody, raw, signer string, proof []byte, rep *MigrateReport) error {
	d := r.d
	stmts, err := b.migration().Statements(string(d.Name()))
	if err != nil {
		return err
	}
	before, err := snapshot(ctx, r.q(), d)
	if err != nil {
		return err
	}
	comment := fmt.Sprintf("migration %d (%s)", b.Version, b.Name)
	if err := charsetAroundMigration(ctx, r, true); err != nil {
		return fmt.Errorf("multisite: %s: %w", comment, err)
	}
	if err := triggersAroundMigration(ctx, r, true); err != nil {
		return fmt.Errorf("multisite: %s: %w", comment, err)
	}
	if err := r.exec(comment, stmts...); err != nil {
		return fmt.Errorf("multisite: %s: %w", comment, err)
	}
	if r.dry {
		return nil
	}
	if err := reconcile(ctx, r, local, replica.ID(b.By), before, b.Version, rep); err != nil {
		return fmt.Errorf("multisite: %s: %w", comment, err)
	}
	if err := forgetForwardedProofs(ctx, r.q(), d, local); err != nil { // proof.go
		return fmt.Errorf("multisite: %s: %w", comment, err)
	}
	if err := triggersAroundMigration(ctx, r, false); err != nil {
		return fmt.Errorf("multisite: %s: %w", comment, err)
	}
	if err := charsetAroundMigration(ctx, r, false); err != nil {
		return fmt.Errorf("multisite: %s: %w", comment, err)
	}
	body := raw
	if body == "" {
		j, err := json.Marshal(b)
		if err != nil {
			return err
		}
		body = string(j)
	}
	q := r.q()
	if _, err := q.ExecContext(ctx, d.Rebind(`INSERT INTO ms_migration (version, name, checksum, applied_at, applied_by, body) VALUES (?, ?, ?, ?, ?, ?)`),
		b.Version, b.Name, b.Checksum, time.Now().UTC().Format(time.RFC3339), string(local), body); err != nil {
		return fmt.Errorf("multisite: record %s: %w", comment, err)
	}
	if len(proof) > 0 {
		if err := saveProof(ctx, q, d, proofMigration(b.Version), signer, proof); err != nil {
			return err
		}
	}
	if _, err := q.ExecContext(ctx, d.Rebind(`UPDATE ms_ctl SET schema_version = ?`), b.Version); err != nil {
		return fmt.Errorf("multisite: record %s: %w", comment, err)
	}
	return nil
}

// reconcile makes replication follow what a migration did to the catalog:
// a replicated table that is gone loses its shadow and transfer log; one
// whose columns changed is recorded anew and gets its triggers re-created;
// a table the migration created is activated, its rows mastered by master.
func reconcile(ctx context.Context, r *runner, local, master replica.ID, before catalogState, version int64, rep *MigrateReport) error {
	d, q := r.d, r.q()
	tables, err := Tables(ctx, q)
	if err != nil {
		return err
	}
	names, err := d.Tables(ctx, q)
	if err != nil {
		return err
	}
	now := map[string]bool{}
	for _, n := range names {
		now[n] = true
	}
	known := map[string]bool{}
	for _, t := range tables {
		known[t.Name] = true
		if !now[t.Name] {
			if err := r.exec("table "+t.Name+" dropped by the migration: remove its shadow and transfer log", dialect.DropOrphans(d, t)...); err != nil {
				return err
			}
			if _, err := q.ExecContext(ctx, d.Rebind(`DELETE FROM ms_table WHERE name = ?`), t.Name); err != nil {
				return err
			}
			rep.Dropped = append(rep.Dropped, t.Name)
			continue
		}
		cur, _, err := d.Describe(ctx, q, t.Name)
		if err != nil {
			return err
		}
		merged, changed, err := mergeColumns(t, before.tables[t.Name], cur)
		if err != nil {
			return err
		}
		if !changed {
			continue
		}
		if err := r.exec("table "+t.Name+": columns changed, re-create the triggers", dialect.DropTriggers(d, merged)...); err != nil {
			return err
		}
		if err := r.exec("table "+t.Name+": capture and enforcement triggers", d.Triggers(merged)...); err != nil {
			return err
		}
		// The row images changed with the columns: their fingerprints too.
		if err := r.exec("table "+t.Name+": fingerprints of the rows with the new columns", rehashSQL(d, merged, "ms_deleted = 0")); err != nil {
			return err
		}
		cols, err := json.Marshal(merged.Columns)
		if err != nil {
			return err
		}
		if _, err := q.ExecContext(ctx, d.Rebind(`UPDATE ms_table SET columns = ?, version = ? WHERE name = ?`), string(cols), version, t.Name); err != nil {
			return err
		}
		rep.Changed = append(rep.Changed, t.Name)
	}
	for _, n := range names {
		if before.names[n] || known[n] {
			continue
		}
		t, _, err := d.Describe(ctx, q, n)
		if err != nil {
			return err
		}
		if len(t.Keys()) == 0 {
			return fmt.Errorf("%w: %w", schema.ErrInvalidMigration, &schema.NoPrimaryKeyError{Tables: []string{n}})
		}
		c := "new table " + n + ": mastership field, shadow, transfer log"
		if err := r.exec(c, d.Inject(t, string(local))...); err != nil {
			return err
		}
		// Every replica ran the same SQL: the rows it put there are the
		// schema master's, at version 1, known to all (epoch 0 is never
		// exported, so no replica sends them as its own change).
		if master != local {
			if err := r.exec(c, fmt.Sprintf("UPDATE %s SET %s = %s", d.Quote(n), dialect.MasterColumn, literal(string(master))),
				fmt.Sprintf("UPDATE %s SET ms_master = %s, ms_origin = %s, ms_creator = %s", d.Quote(dialect.Shadow(d, n)), literal(string(master)), literal(string(master)), literal(string(master)))); err != nil {
				return err
			}
		}
		if err := r.exec(c, fmt.Sprintf("UPDATE %s SET ms_epoch = 0", d.Quote(dialect.Shadow(d, n))), rehashSQL(d, t, "ms_deleted = 0")); err != nil {
			return err
		}
		if err := r.exec("new table "+n+": capture and enforcement triggers", d.Triggers(t)...); err != nil {
			return err
		}
		if err := insertTable(ctx, q, d, t); err != nil {
			return err
		}
		if _, err := q.ExecContext(ctx, d.Rebind(`UPDATE ms_table SET version = ? WHERE name = ?`), version, n); err != nil {
			return err
		}
		rep.Replicated = append(rep.Replicated, n)
	}
	return nil
}

// mergeColumns returns the replicated table t after a migration changed its
// catalog description from prev to cur: recorded columns keep their
// recorded form (which on a replica created from a packet is the origin's)
// unless the migration changed them, dropped ones go, new ones are added
// in catalog order; a column that was in prev but never recorded (added by
// hand) stays out. The primary key must not change.
func mergeColumns(t, prev, cur dialect.Table) (dialect.Table, bool, error) {
	keyNames := func(t dialect.Table) string {
		var ks []string
		for _, k := range t.Keys() {
			ks = append(ks, k.Name)
		}
		return strings.Join(ks, ",")
	}
	if keyNames(t) != keyNames(cur) {
		return t, false, fmt.Errorf("%w: the primary key of replicated table %s changed from (%s) to (%s); create a new table instead",
			schema.ErrInvalidMigration, t.Name, keyNames(t), keyNames(cur))
	}
	out := dialect.Table{Name: t.Name}
	changed := false
	for _, c := range t.Columns {
		cc, ok := cur.Column(c.Name)
		if !ok {
			changed = true
			continue
		}
		if pc, ok := prev.Column(c.Name); ok && (pc.Type != cc.Type || pc.NotNull != cc.NotNull || pc.Default != cc.Default) {
			cc.Key = c.Key
			c = cc
			changed = true
		}
		out.Columns = append(out.Columns, c)
	}
	for _, cc := range cur.Columns {
		_, recorded := t.Column(cc.Name)
		_, before := prev.Column(cc.Name)
		// Only what the migration added becomes replicated: a column added
		// by hand before it (SchemaStatus reports it) exists at this
		// replica alone, and replicating it would make every other replica
		// refuse this one's packets.
		if !recorded && !before {
			out.Columns = append(out.Columns, cc)
			changed = true
		}
	}
	return out, changed, nil
}

// appliedBodies reads every migration recorded in ms_migration, by version.
func appliedBodies(ctx context.Context, q dialect.Querier) (map[int64]*migrationBody, []int64, error) {
	rows, err := q.QueryContext(ctx, `SELECT version, checksum, body FROM ms_migration ORDER BY version`)
	if err != nil {
		return nil, nil, fmt.Errorf("multisite: read applied migrations: %w", err)
	}
	defer rows.Close()
	out := map[int64]*migrationBody{}
	var order []int64
	for rows.Next() {
		var v int64
		var sum, raw string
		if err := rows.Scan(&v, &sum, &raw); err != nil {
			return nil, nil, err
		}
		b := &migrationBody{}
		if err := json.Unmarshal([]byte(raw), b); err != nil {
			return nil, nil, fmt.Errorf("multisite: ms_migration %d: %w", v, err)
		}
		b.Checksum = sum
		out[v] = b
		order = append(order, v)
	}
	return out, order, rows.Err()
}

// Migrate applies the pending migrations of migs at the local replica,
// which must be the family's schema master. See MigrateOptions and the
// package doc of schema for the rules; on error nothing changed (on MySQL,
// the statements of the failing migration that ran before the error
// remain, listed in the *schema.ApplyError).
func Migrate(ctx context.Context, db *sql.DB, d dialect.Dialect, migs []schema.Migration, opt MigrateOptions) (*MigrateReport, error) {
	sorted, err := schema.Sorted(migs)
	if err != nil {
		return nil, err
	}
	if opt.To != 0 {
		found := false
		var known []int64
		for _, m := range sorted {
			found = found || m.Version == opt.To
			known = append(known, m.Version)
		}
		if !found {
			return nil, &schema.UnknownVersionError{Version: opt.To, Known: known}
		}
	}
	rep := &MigrateReport{Plan: schema.Plan{Dialect: string(d.Name())}}
	run := func(r *runner) error {
		q := r.q()
		c, err := LoadCtl(ctx, q, d)
		if err != nil {
			return err
		}
		master, err := SchemaMaster(ctx, q)
		if err != nil {
			return err
		}
		if master != c.Local {
			return &schema.NotSchemaMasterError{Local: string(c.Local), Master: string(master)}
		}
		applied, _, err := appliedBodies(ctx, q)
		if err != nil {
			return err
		}
		rep.From, rep.To = c.SchemaVersion, c.SchemaVersion
		var pending []schema.Migration
		for _, m := range sorted {
			if a, ok := applied[m.Version]; ok {
				if sum := m.Checksum(); a.Checksum != sum {
					return &schema.ChecksumError{Version: m.Version, Name: m.Name, Want: a.Checksum, Got: sum}
				}
				continue
			}
			if opt.To != 0 && m.Version > opt.To {
				continue
			}
			if m.Version <= c.SchemaVersion {
				return fmt.Errorf("%w: migration %d (%s) is below the family's schema version %d and was never applied; give it a version above %d",
					schema.ErrInvalidMigration, m.Version, m.Name, c.SchemaVersion, c.SchemaVersion)
			}
			if _, ok := m.Text(string(d.Name())); !ok {
				return &schema.DialectError{Version: m.Version, Name: m.Name, Dialect: string(d.Name())}
			}
			pending = append(pending, m)
		}
		prev := c.SchemaVersion
		for _, m := range pending {
			b := &migrationBody{Version: m.Version, Prev: prev, Name: m.Name, Checksum: m.Checksum(), Up: m.Up, SQL: m.SQL, By: string(c.Local)}
			b.Sig = ed25519.Sign(c.PrivateKey, b.message())
			if r.tx != nil {
				if _, err := r.tx.ExecContext(ctx, d.SetApplying(true)); err != nil {
					return err
				}
				defer clearApplying(ctx, r.tx, d)
			}
			if err := applyMigration(ctx, r, c.Local, b, "", "", nil, rep); err != nil {
				return err
			}
			if m.Func != nil && !r.dry {
				if err := runFunc(ctx, r, m); err != nil {
					return err
				}
			}
			prev = m.Version
			rep.To = m.Version
			mm := m
			mm.Func = nil
			rep.Applied = append(rep.Applied, mm)
		}
		if r.tx != nil {
			// Capture and enforcement back on before the commit.
			if _, err := r.tx.ExecContext(ctx, d.SetApplying(false)); err != nil {
				return err
			}
		}
		return nil
	}
	if d.TransactionalDDL() {
		errDry := errors.New("dry run")
		err = inTx(ctx, db, d, func(tx *sql.Tx) error {
			if err := run(&runner{ctx: ctx, d: d, tx: tx, plan: &rep.Plan}); err != nil {
				return err
			}
			if opt.DryRun {
				return errDry // rolled back
			}
			return nil
		})
		if err == errDry {
			err = nil
		}
	} else {
		err = run(&runner{ctx: ctx, d: d, db: db, dry: opt.DryRun, plan: &rep.Plan})
	}
	if err != nil {
		return nil, err
	}
	if opt.Logger != nil && !opt.DryRun && rep.To != rep.From {
		opt.Logger.InfoContext(ctx, "multisite: migrated", "from", rep.From, "to", rep.To, "replicated", rep.Replicated, "changed", rep.Changed)
	}
	return rep, nil
}

// runFunc runs a migration's Go function as an ordinary local write: its
// changes are captured and replicate.
func runFunc(ctx context.Context, r *runner, m schema.Migration) error {
	wrap := func(err error) error {
		if err == nil {
			return nil
		}
		return fmt.Errorf("multisite: migration %d (%s) function: %w", m.Version, m.Name, err)
	}
	if r.tx == nil {
		return wrap(inTx(ctx, r.db, r.d, func(tx *sql.Tx) error { return m.Func(ctx, tx) }))
	}
	if _, err := r.tx.ExecContext(ctx, r.d.SetApplying(false)); err != nil {
		return err
	}
	return wrap(m.Func(ctx, r.tx))
}

// MigrationStatus lists migs with what this replica applied (goose's
// status): applied or pending, and whether an applied one's text changed.
// Migrations applied here that migs lacks are listed too.
type MigrationStatus struct {
	Version   int64
	Name      string
	Applied   bool
	AppliedAt string
	AppliedBy string
	Changed   bool // applied with another checksum than its text has now
	Missing   bool // applied here, not among the migrations given
}

// Migrations returns the status of migs at the replica, by version.
func Migrations(ctx context.Context, q dialect.Querier, d dialect.Dialect, migs []schema.Migration) ([]MigrationStatus, error) {
	sorted, err := schema.Sorted(migs)
	if err != nil {
		return nil, err
	}
	if _, err := LoadCtl(ctx, q, d); err != nil {
		return nil, err
	}
	applied, err := AppliedMigrations(ctx, q)
	if err != nil {
		return nil, err
	}
	by := map[int64]schema.AppliedMigration{}
	for _, a := range applied {
		by[a.Version] = a
	}
	seen := map[int64]bool{}
	var out []MigrationStatus
	for _, m := range sorted {
		s := MigrationStatus{Version: m.Version, Name: m.Name}
		if a, ok := by[m.Version]; ok {
			s.Applied, s.AppliedAt, s.AppliedBy, s.Changed = true, a.AppliedAt, a.AppliedBy, a.Checksum != m.Checksum()
		}
		seen[m.Version] = true
		out = append(out, s)
	}
	for _, a := range applied {
		if !seen[a.Version] {
			out = append(out, MigrationStatus{Version: a.Version, Name: a.Name, Applied: true, AppliedAt: a.AppliedAt, AppliedBy: a.AppliedBy, Missing: true})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// TransferSchemaMaster hands mastership of the family's schema to another
// member. Only the schema master may; the hand-over travels in the next
// packets, and to applies the migrations after the current schema version.
func TransferSchemaMaster(ctx context.Context, db *sql.DB, d dialect.Dialect, to replica.ID) error {
	return inTx(ctx, db, d, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE ms_ctl SET epoch = epoch`); err != nil { // take the write lock
			return err
		}
		c, err := LoadCtl(ctx, tx, d)
		if err != nil {
			return err
		}
		chain, err := loadChain(ctx, tx)
		if err != nil {
			return err
		}
		if cur := chain[len(chain)-1].Replica; cur != string(c.Local) {
			return &schema.NotSchemaMasterError{Local: string(c.Local), Master: cur}
		}
		if to == c.Local {
			return nil
		}
		reg, err := Registry(ctx, tx)
		if err != nil {
			return err
		}
		if i, ok := reg[to]; !ok || i.State == replica.Removed {
			return &replica.UnknownError{ID: to}
		}
		next := append(chain, masterLink{Replica: string(to), From: c.SchemaVersion, CP: c.CodePageVer})
		s := chainSetting(next)
		next[len(next)-1].Sig = ed25519.Sign(c.PrivateKey, syncpkt.SettingMessage(c.Family, &syncpkt.Setting{Key: s.Key, Value: s.Value, Signer: string(c.Local)}))
		return saveChain(ctx, tx, d, next)
	})
}

// writeSchemaSettings writes, before any table of a packet, the family
// settings with their proofs: the chain of schema masters (once it moved),
// one record per hand-over, each proven by the master that handed over;
// the code page, proven by the schema master that set it; every applied
// migration, proven by the schema master that made it. A proof this
// replica may make it makes; others it forwards as it stored them.
func writeSchemaSettings(ctx context.Context, q dialect.Querier, d dialect.Dialect, c *Ctl, pw recordWriter) error {
	reg, err := Registry(ctx, q)
	if err != nil {
		return err
	}
	chain, err := loadChain(ctx, q)
	if err != nil {
		return err
	}
	for i := 1; i < len(chain); i++ {
		s := chainSetting(chain[:i+1])
		signer := chain[i-1].Replica
		switch {
		case signer == string(c.Local):
			s.Signer = signer
			s.Proof = ed25519.Sign(c.PrivateKey, syncpkt.SettingMessage(c.Family, s))
		case len(chain[i].Sig) > 0:
			s.Signer, s.Proof = signer, chain[i].Sig
		}
		if err := pw.Write(s); err != nil {
			return err
		}
	}
	cp := codePageSetting(c)
	if err := proveSetting(ctx, q, d, c, reg, cp, proofCodePage, masterForCodePage(chain, c.CodePageVer)); err != nil { // authority.go
		return err
	}
	if err := pw.Write(cp); err != nil {
		return err
	}
	rows, err := q.QueryContext(ctx, `SELECT version, body FROM ms_migration ORDER BY version`)
	if err != nil {
		return fmt.Errorf("multisite: read applied migrations: %w", err)
	}
	type mig struct {
		version int64
		body    string
	}
	var migs []mig
	for rows.Next() {
		var m mig
		if err := rows.Scan(&m.version, &m.body); err != nil {
			rows.Close()
			return err
		}
		migs = append(migs, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, m := range migs {
		b := &migrationBody{}
		if err := json.Unmarshal([]byte(m.body), b); err != nil {
			return fmt.Errorf("multisite: ms_migration %d: %w", m.version, err)
		}
		s := &syncpkt.Setting{Key: settingMigration, Value: m.body}
		if err := proveSetting(ctx, q, d, c, reg, s, proofMigration(m.version), b.By); err != nil {
			return err
		}
		if err := pw.Write(s); err != nil {
			return err
		}
	}
	return nil
}

// chainSetting is the ms.schema_master record of a chain: its links as
// JSON, without their proofs.
func chainSetting(chain []masterLink) *syncpkt.Setting {
	bare := make([]masterLink, len(chain))
	for i, l := range chain {
		bare[i] = masterLink{Replica: l.Replica, From: l.From, CP: l.CP}
	}
	v, _ := json.Marshal(bare) // cannot fail
	return &syncpkt.Setting{Key: settingSchemaMaster, Value: string(v)}
}

// takeLink takes one hand-over of schema mastership from a packet: the
// record's chain must be this replica's own (then it brings nothing, but
// may bring the proof of a link held without one) or extend it by one
// link proven by the master handing over (ErrAuthority otherwise). A
// chain that contradicts this replica's is malformed (ErrPacket).
func takeLink(ctx context.Context, q dialect.Querier, d dialect.Dialect, family string, reg map[replica.ID]replica.Info, s *syncpkt.Setting) error {
	var in []masterLink
	if err := json.Unmarshal([]byte(s.Value), &in); err != nil || len(in) < 2 || in[0].From != 0 {
		return fmt.Errorf("%w: schema master setting %q", ErrPacket, s.Value)
	}
	for _, l := range in {
		if l.Replica == "" || len(l.Sig) > 0 {
			return fmt.Errorf("%w: schema master setting %q", ErrPacket, s.Value)
		}
	}
	cur, err := loadChain(ctx, q)
	if err != nil {
		return err
	}
	n := min(len(in), len(cur))
	for i := 0; i < n; i++ {
		if !in[i].same(cur[i]) {
			return fmt.Errorf("%w: the packet's chain of schema masters does not extend this replica's", ErrPacket)
		}
	}
	last := len(in) - 1
	signer := in[last-1].Replica
	proven := s.Signer == signer && verifyProof(reg, signer, syncpkt.SettingMessage(family, s), s.Proof)
	if len(in) <= len(cur) {
		if proven && len(cur[last].Sig) == 0 { // a proof this replica lacked
			cur[last].Sig = s.Proof
			return saveChain(ctx, q, d, cur)
		}
		return nil
	}
	if len(in) > len(cur)+1 {
		return fmt.Errorf("%w: hand-over of the schema to %s without the hand-overs before it", ErrAuthority, in[last].Replica)
	}
	if !proven {
		return fmt.Errorf("%w: hand-over of the schema to %s is not proven by the schema master %s", ErrAuthority, in[last].Replica, signer)
	}
	if in[last].From < in[last-1].From || in[last].CP < in[last-1].CP {
		return fmt.Errorf("%w: schema master setting %q goes back", ErrPacket, s.Value)
	}
	in[last].Sig = s.Proof
	for i := range cur {
		in[i].Sig = cur[i].Sig
	}
	return saveChain(ctx, q, d, in)
}

// takeMigrationProof checks the proof a packet gives a migration, by the
// schema master that made it (b.By, checked against the chain by
// checkBody): required for a migration this replica lacks (news is
// ErrAuthority without it), optional for one it has, where a valid proof
// it did not store is stored for forwarding and an invalid one refuses
// the packet.
func takeMigrationProof(ctx context.Context, q dialect.Querier, d dialect.Dialect, family string, reg map[replica.ID]replica.Info, s *syncpkt.Setting, b *migrationBody, news bool) error {
	what := fmt.Sprintf("migration %d", b.Version)
	if !news && s.Signer == "" {
		return nil
	}
	if err := checkSetting(reg, family, s, b.By, what); err != nil {
		return err
	}
	if news {
		return nil // stored with the migration (applyMigration)
	}
	if _, _, ok, err := loadProof(ctx, q, d, proofMigration(b.Version)); err != nil || ok {
		return err
	}
	var have string
	err := q.QueryRowContext(ctx, d.Rebind(`SELECT body FROM ms_migration WHERE version = ?`), b.Version).Scan(&have)
	if err == sql.ErrNoRows || (err == nil && have != s.Value) {
		return nil // the stored proof must prove the stored text
	}
	if err != nil {
		return err
	}
	return saveProof(ctx, q, d, proofMigration(b.Version), s.Signer, s.Proof)
}

// checkBody verifies a migration from a packet: its checksum matches its
// text, and the schema master of its version signed it.
func checkBody(ctx context.Context, q dialect.Querier, reg map[replica.ID]replica.Info, b *migrationBody) error {
	if b.Version <= 0 || b.Prev < 0 || b.Prev >= b.Version {
		return fmt.Errorf("%w: migration setting with version %d after %d", ErrPacket, b.Version, b.Prev)
	}
	if sum := b.migration().Checksum(); sum != b.Checksum {
		return &schema.ChecksumError{Version: b.Version, Name: b.Name, Want: b.Checksum, Got: sum}
	}
	chain, err := loadChain(ctx, q)
	if err != nil {
		return err
	}
	if m := masterFor(chain, b.Version); b.By != m {
		return fmt.Errorf("%w: %w: migration %d claims schema master %s, the family's was %s", ErrAuthority, ErrPacket, b.Version, b.By, m)
	}
	i, ok := reg[replica.ID(b.By)]
	if !ok || !ed25519.Verify(i.PublicKey, b.message(), b.Sig) {
		return fmt.Errorf("%w: %w: migration %d is not signed by schema master %s", ErrAuthority, syncpkt.ErrSignature, b.Version, b.By)
	}
	return nil
}

// migration takes a migration from a packet: one this replica has is
// compared by checksum; the next one is applied in the import's
// transaction, before any row of the packet. On MySQL prepareImport has
// applied it already, outside the transaction.
func (m *importer) migration(s *syncpkt.Setting) error {
	if m.cur != nil {
		return fmt.Errorf("%w: migration after rows", ErrPacket)
	}
	b := &migrationBody{}
	if err := json.Unmarshal([]byte(s.Value), b); err != nil {
		return fmt.Errorf("%w: migration setting: %v", ErrPacket, err)
	}
	if err := checkBody(m.ctx, m.tx, m.reg, b); err != nil {
		return err
	}
	news := b.Version > m.ctl.SchemaVersion
	if err := takeMigrationProof(m.ctx, m.tx, m.d, m.ctl.Family, m.reg, s, b, news); err != nil { // authority: the schema master's proof
		return err
	}
	if !news {
		return m.compareApplied(b)
	}
	if b.Prev != m.ctl.SchemaVersion {
		return fmt.Errorf("%w: %w", ErrSchemaVersion, &schema.NeedVersionError{Replica: string(m.ctl.Local), Have: m.ctl.SchemaVersion, Need: b.Prev})
	}
	if !m.d.TransactionalDDL() {
		return fmt.Errorf("multisite: migration %d was not applied before the import", b.Version)
	}
	r := &runner{ctx: m.ctx, d: m.d, tx: m.tx, plan: &schema.Plan{}}
	if err := applyMigration(m.ctx, r, m.ctl.Local, b, s.Value, s.Signer, s.Proof, &MigrateReport{}); err != nil {
		return err
	}
	m.ctl.SchemaVersion = b.Version
	m.rep.Migrated = append(m.rep.Migrated, b.Version)
	ts, err := Tables(m.ctx, m.tx)
	if err != nil {
		return err
	}
	m.tables = map[string]dialect.Table{}
	for _, t := range ts {
		m.tables[t.Name] = t
	}
	return nil
}

// compareApplied refuses a migration whose text differs from the one
// applied here under its version.
func (m *importer) compareApplied(b *migrationBody) error {
	var sum string
	err := m.tx.QueryRowContext(m.ctx, m.d.Rebind(`SELECT checksum FROM ms_migration WHERE version = ?`), b.Version).Scan(&sum)
	if err == sql.ErrNoRows {
		return nil
	}
	if err != nil {
		return err
	}
	if sum != b.Checksum {
		return &schema.ChecksumError{Version: b.Version, Name: b.Name, Want: sum, Got: b.Checksum}
	}
	return nil
}

// checkSchema refuses a packet made at another schema version than this
// replica's, once the migrations the packet carries are applied: a
// *schema.NeedVersionError names the replica that is behind. A newer
// packet without the migrations, or an older sender's rows (which miss
// what the migrations changed), would otherwise be applied to the wrong
// schema; refused, the changes are sent again later, nothing is lost.
func (m *importer) checkSchema() error {
	h, local := m.h.SchemaVersion, m.ctl.SchemaVersion
	switch {
	case h > local:
		return fmt.Errorf("%w: %w", ErrSchemaVersion, &schema.NeedVersionError{Replica: string(m.ctl.Local), Have: local, Need: h})
	case h < local:
		return fmt.Errorf("%w: %w", ErrSchemaVersion, &schema.NeedVersionError{Replica: m.h.Origin, Have: h, Need: local})
	}
	return nil
}

// schemaSetting dispatches the schema toolkit's settings; ok is false for
// other keys.
func (m *importer) schemaSetting(s *syncpkt.Setting) (ok bool, err error) {
	switch s.Key {
	case settingSchemaMaster:
		if m.cur != nil {
			return true, fmt.Errorf("%w: schema master setting after rows", ErrPacket)
		}
		return true, takeLink(m.ctx, m.tx, m.d, m.ctl.Family, m.reg, s)
	case settingMigration:
		return true, m.migration(s)
	}
	return false, nil
}

// takeCreationSettings records, in a replica created from a packet, the
// chain of schema masters and the migrations the family applied (its
// tables come from the packet already migrated), with the proofs the
// packet gives them, to forward; and the sealed statements it carries.
// The new replica takes what its creator holds; proofs that do not verify
// with the packet's registry (reg) are left out, not refused.
func takeCreationSettings(ctx context.Context, q dialect.Querier, d dialect.Dialect, family string, local replica.ID, reg map[replica.ID]replica.Info, settings []*syncpkt.Setting, sealed []*syncpkt.Sealed) error {
	var links []*syncpkt.Setting
	for _, s := range settings {
		switch s.Key {
		case settingSchemaMaster:
			links = append(links, s)
		case settingCodePage:
			if s.Signer != "" && verifyProof(reg, s.Signer, syncpkt.SettingMessage(family, s), s.Proof) {
				if err := saveProof(ctx, q, d, proofCodePage, s.Signer, s.Proof); err != nil {
					return err
				}
			}
		case settingMigration:
			b := &migrationBody{}
			if err := json.Unmarshal([]byte(s.Value), b); err != nil || b.Version <= 0 {
				return fmt.Errorf("%w: migration setting", ErrPacket)
			}
			if _, err := q.ExecContext(ctx, d.Rebind(`INSERT INTO ms_migration (version, name, checksum, applied_at, applied_by, body) VALUES (?, ?, ?, ?, ?, ?)`),
				b.Version, b.Name, b.Checksum, time.Now().UTC().Format(time.RFC3339), string(local), s.Value); err != nil {
				return fmt.Errorf("multisite: record migration %d: %w", b.Version, err)
			}
			if s.Signer == b.By && verifyProof(reg, s.Signer, syncpkt.SettingMessage(family, s), s.Proof) {
				if err := saveProof(ctx, q, d, proofMigration(b.Version), s.Signer, s.Proof); err != nil {
					return err
				}
			}
		}
	}
	// The chain as the creator holds it: its links in order, each with
	// the proof the packet gives it, if it verifies.
	var chain []masterLink
	for i, s := range links {
		var in []masterLink
		if err := json.Unmarshal([]byte(s.Value), &in); err != nil || len(in) != i+2 {
			return fmt.Errorf("%w: schema master setting %q", ErrPacket, s.Value)
		}
		if chain == nil {
			chain = in[:1]
		}
		for j := range chain {
			if !chain[j].same(in[j]) {
				return fmt.Errorf("%w: schema master settings do not extend each other", ErrPacket)
			}
		}
		l := in[len(in)-1]
		l.Sig = nil
		if s.Signer == in[len(in)-2].Replica && verifyProof(reg, s.Signer, syncpkt.SettingMessage(family, s), s.Proof) {
			l.Sig = s.Proof
		}
		chain = append(chain, l)
	}
	if chain != nil {
		if err := saveChain(ctx, q, d, chain); err != nil {
			return err
		}
	}
	held := map[replica.ID]sealedStmt{}
	for _, s := range sealed {
		if s.Epoch < MaxEpoch && verifyProof(reg, s.Replica, syncpkt.SealedMessage(family, s), s.Proof) {
			if err := storeSealed(ctx, q, d, held, s); err != nil {
				return err
			}
		}
	}
	return nil
}

// prepareImport applies, where DDL commits by itself (MySQL), the
// migrations a packet carries before the import's transaction begins: DDL
// inside it would commit the half-done import. The packet is spooled to a
// temporary file (only when its header shows a newer schema version),
// read once to verify its signature and collect the migrations, which are
// then applied; the import reads the file again and finds them applied.
// Elsewhere, and for packets at this replica's version, r is returned as
// it is. done removes the spool file.
func prepareImport(ctx context.Context, db *sql.DB, d dialect.Dialect, r io.Reader, opt ImportOptions) (_ io.Reader, migrated []int64, done func(), err error) {
	done = func() {}
	if d.TransactionalDDL() {
		return r, nil, done, nil
	}
	c, err := LoadCtl(ctx, db, d)
	if err != nil {
		return nil, nil, done, err
	}
	var head bytes.Buffer
	h, err := syncpkt.NewReader(io.TeeReader(r, &head), readerOptions(nil, nil, opt)).Header()
	whole := io.MultiReader(&head, r)
	if err != nil || h.SchemaVersion <= c.SchemaVersion || h.Family != c.Family || h.Target != string(c.Local) {
		return whole, nil, done, nil // the import reports whatever is wrong
	}
	f, err := os.CreateTemp("", "multisite-packet-*")
	if err != nil {
		return nil, nil, done, fmt.Errorf("multisite: spool packet: %w", err)
	}
	done = func() { f.Close(); os.Remove(f.Name()) }
	src := whole
	if opt.MaxPacketSize > 0 {
		src = io.LimitReader(whole, opt.MaxPacketSize+1)
	}
	if _, err := io.Copy(f, src); err != nil {
		done()
		return nil, nil, func() {}, fmt.Errorf("multisite: spool packet: %w", err)
	}
	if migrated, err = premigrate(ctx, db, d, c, f, opt); err != nil {
		done()
		return nil, nil, func() {}, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		done()
		return nil, nil, func() {}, err
	}
	return f, migrated, done, nil
}

// premigrate reads the spooled packet through (verifying its signature with
// the origin's registry key) and applies the migrations it carries that
// this replica lacks.
func premigrate(ctx context.Context, db *sql.DB, d dialect.Dialect, c *Ctl, f *os.File, opt ImportOptions) ([]int64, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	reg, err := Registry(ctx, db)
	if err != nil {
		return nil, err
	}
	pr := syncpkt.NewReader(f, readerOptions(func(h *syncpkt.Header) (ed25519.PublicKey, error) {
		i, ok := reg[replica.ID(h.Origin)]
		if !ok || i.ID == c.Local {
			return nil, &replica.UnknownError{ID: replica.ID(h.Origin)}
		}
		return i.PublicKey, nil
	}, nil, opt))
	var links []*syncpkt.Setting
	var bodies []*migrationBody
	var raws []*syncpkt.Setting
	for {
		rec, err := pr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		s, ok := rec.(*syncpkt.Setting)
		if !ok {
			continue
		}
		switch s.Key {
		case settingSchemaMaster:
			links = append(links, s)
		case settingMigration:
			b := &migrationBody{}
			if err := json.Unmarshal([]byte(s.Value), b); err != nil {
				return nil, fmt.Errorf("%w: migration setting: %v", ErrPacket, err)
			}
			bodies = append(bodies, b)
			raws = append(raws, s)
		}
	}
	// Verified: take the chain of schema masters, each hand-over proven
	// by the master handing over, then the migrations, each proven by
	// its schema master.
	if len(links) > 0 {
		if err := inTx(ctx, db, d, func(tx *sql.Tx) error {
			for _, s := range links {
				if err := takeLink(ctx, tx, d, c.Family, reg, s); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	version := c.SchemaVersion
	var migrated []int64
	for k, b := range bodies {
		if err := checkBody(ctx, db, reg, b); err != nil {
			return nil, err
		}
		if b.Version <= version {
			continue // the import compares it with what was applied
		}
		if err := checkSetting(reg, c.Family, raws[k], b.By, fmt.Sprintf("migration %d", b.Version)); err != nil {
			return nil, err
		}
		if b.Prev != version {
			return nil, fmt.Errorf("%w: %w", ErrSchemaVersion, &schema.NeedVersionError{Replica: string(c.Local), Have: version, Need: b.Prev})
		}
		r := &runner{ctx: ctx, d: d, db: db, plan: &schema.Plan{}}
		if err := applyMigration(ctx, r, c.Local, b, raws[k].Value, raws[k].Signer, raws[k].Proof, &MigrateReport{}); err != nil {
			return nil, err
		}
		version = b.Version
		migrated = append(migrated, b.Version)
	}
	return migrated, nil
}

// triggersAroundMigration removes (before is true) and re-creates the
// capture and enforcement triggers of every replicated table around a
// migration's SQL on SQLite, which refuses to drop a column a trigger
// names (their fingerprint names every column). The migration runs in one
// transaction there, so no other writer ever sees the table without them.
// Afterwards (after reconcile recorded the new columns) every replicated
// table gets them back as they are now.
// The servers check trigger bodies only when they run, and keep theirs.
func triggersAroundMigration(ctx context.Context, r *runner, before bool) error {
	if r.d.Name() != dialect.SQLite || r.tx == nil {
		return nil
	}
	tables, err := Tables(ctx, r.q())
	if err != nil {
		return err
	}
	for _, t := range tables {
		if before {
			err = r.exec("table "+t.Name+": triggers off while the migration runs", dialect.DropTriggers(r.d, t)...)
		} else {
			err = r.exec("table "+t.Name+": triggers back", remakeTriggers(r.d, t)...)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// remakeTriggers is t's triggers, re-created whatever is left of them.
func remakeTriggers(d dialect.Dialect, t dialect.Table) []string {
	return append(dialect.DropTriggers(d, t), d.Triggers(t)...)
}
