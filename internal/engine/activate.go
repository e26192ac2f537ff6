package engine

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/multisite-go/multisite/codepage"
	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/internal/schemaplan"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/schema"
)

// ActivateOptions configures Activate.
type ActivateOptions struct {
	Name     string   // name of the first replica; required
	CodePage string   // data code page; "" means UTF-8
	Exclude  []string // tables not to replicate
}

// NewID returns a random replica or family ID.
func NewID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// PlanActivation returns the schema plan Activate would apply, the tables
// it would replicate, and the new replica's ID.
func PlanActivation(ctx context.Context, q dialect.Querier, d dialect.Dialect, opt ActivateOptions, local replica.ID) (schema.Plan, []dialect.Table, error) {
	if _, err := LoadCtl(ctx, q, d); err == nil {
		return schema.Plan{}, nil, ErrActivated
	} else if err != ErrNotActivated {
		return schema.Plan{}, nil, err
	}
	tables, err := schemaplan.Inspect(ctx, q, d, schemaplan.InspectOptions{Exclude: opt.Exclude})
	if err != nil {
		return schema.Plan{}, nil, err
	}
	for _, t := range tables {
		if err := checkLooseKeys(ctx, q, d, t); err != nil {
			return schema.Plan{}, nil, err
		}
	}
	plan := schemaplan.Activation(d, tables, string(local))
	if err := foreignKeyActivation(ctx, q, d, tables, &plan); err != nil {
		return schema.Plan{}, nil, err
	}
	if plan, err = withCharset(plan, d, tables, opt.CodePage); err != nil {
		return schema.Plan{}, nil, err
	}
	return plan, tables, nil
}

// Activate makes db the first replica of a new family: it applies the
// activation plan, records the replicated tables and the registry, and
// creates the replica's signing key, all in one transaction.
func Activate(ctx context.Context, db *sql.DB, d dialect.Dialect, opt ActivateOptions) (replica.Info, string, error) {
	if opt.Name == "" {
		return replica.Info{}, "", fmt.Errorf("multisite: ActivateOptions.Name is empty: name the first replica (e.g. \"boston\")")
	}
	cp := codepage.UTF8
	if opt.CodePage != "" {
		var err error
		if cp, err = codepage.Lookup(opt.CodePage); err != nil {
			return replica.Info{}, "", err
		}
	}
	id, err := NewID()
	if err != nil {
		return replica.Info{}, "", err
	}
	family, err := NewID()
	if err != nil {
		return replica.Info{}, "", err
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return replica.Info{}, "", err
	}
	if err := d.Setup(ctx, db); err != nil {
		return replica.Info{}, "", err
	}
	self := replica.Info{ID: replica.ID(id), Name: opt.Name, Number: 0, PublicKey: pub, State: replica.Active, Version: 1}
	lo, hi := replica.KeyRange(0)
	var applied []dialect.Table // tables the plan began to change
	err = inTx(ctx, db, d, func(tx *sql.Tx) error {
		plan, tables, err := PlanActivation(ctx, tx, d, opt, self.ID)
		if err != nil {
			return err
		}
		for _, t := range tables {
			if err := checkKeys(ctx, tx, d, t, hi); err != nil {
				return err
			}
		}
		if err := checkActivationCharset(ctx, tx, d, cp, tables); err != nil {
			return err
		}
		applied = tables
		if err := schema.Apply(ctx, tx, plan); err != nil {
			return err
		}
		c := &Ctl{Format: FormatVersion, Family: family, Local: self.ID, State: replica.Active,
			KeyLo: lo, KeyHi: hi, CodePage: cp.Name(), PrivateKey: priv}
		if err := insertCtl(ctx, tx, d, c); err != nil {
			return err
		}
		if err := putReplica(ctx, tx, d, self, false); err != nil {
			return err
		}
		for _, t := range tables {
			if err := insertTable(ctx, tx, d, t); err != nil {
				return err
			}
		}
		// The existing rows, captured by the plan, are sealed here as
		// epoch 1: activation already holds the write lock for the time
		// it takes to capture every row, and a first Seal stamping them
		// all later would hold it again for as long, blocking the
		// application's writers (and failing them past their busy timeout).
		var epoch uint64
		n, err := sealTables(ctx, tx, d, 1)
		if err != nil {
			return err
		}
		if n > 0 {
			epoch = 1
			if _, err := tx.ExecContext(ctx, `UPDATE ms_ctl SET epoch = 1`); err != nil {
				return fmt.Errorf("multisite: seal the existing rows: %w", err)
			}
		}
		if err := setupKeys(ctx, tx, d, tables, c); err != nil { // keys.go
			return err
		}
		return raiseVector(ctx, tx, d, self.ID, replica.Vector{self.ID: epoch})
	})
	if err != nil {
		if applied != nil && !d.TransactionalDDL() {
			// DDL committed by itself (MySQL): remove what the plan added.
			// Errors are ignored; the activation's own is the one to report.
			for _, st := range schemaplan.Deactivation(d, applied).Steps {
				_, _ = db.ExecContext(ctx, st.SQL)
			}
		}
		return replica.Info{}, "", err
	}
	if d.Name() == dialect.SQLite {
		// Activation wrote every row's shadow entry to the WAL; copy it
		// into the database now, so that the application's next commit,
		// which would otherwise do it, does not wait for it. PASSIVE never
		// waits for readers or writers; an error only means a later
		// commit checkpoints instead.
		_, _ = db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
	}
	return self, family, nil
}

// checkKeys refuses an integer key beyond the first replica's range: rows
// there would collide with keys a later replica allocates.
func checkKeys(ctx context.Context, q dialect.Querier, d dialect.Dialect, t dialect.Table, hi int64) error {
	if !t.IntegerKey() {
		return nil
	}
	if typ := strings.ToLower(t.Keys()[0].Type); d.Name() != dialect.SQLite && !strings.Contains(typ, "bigint") && typ != "int8" {
		// Replica n allocates keys from n<<40: a 32-bit column cannot hold
		// the keys of any replica but the first.
		return fmt.Errorf("%w: the key %s of %s is %s, which cannot hold the keys other replicas allocate (from 2^40 up); make it BIGINT first", ErrKeyRange, t.Keys()[0].Name, t.Name, t.Keys()[0].Type)
	}
	var max sql.NullInt64
	k := d.Quote(t.Keys()[0].Name)
	if err := q.QueryRowContext(ctx, fmt.Sprintf("SELECT max(%s) FROM %s", k, d.Quote(t.Name))).Scan(&max); err != nil {
		return fmt.Errorf("multisite: read largest key of %s: %w", t.Name, err)
	}
	if max.Valid && max.Int64 > hi {
		return fmt.Errorf("%w: %s has key %d above %d, the end of the first replica's key range", ErrKeyRange, t.Name, max.Int64, hi)
	}
	return nil
}

// checkLooseKeys refuses a table whose key the vendor compares other than
// byte for byte (see [dialect.LooseKeys]) with a *schema.LooseKeyError.
func checkLooseKeys(ctx context.Context, q dialect.Querier, d dialect.Dialect, t dialect.Table) error {
	loose, err := dialect.LooseKeys(ctx, q, d, t)
	if err != nil {
		return err
	}
	if len(loose) > 0 {
		return &schema.LooseKeyError{Table: t.Name, Column: loose[0].Column, Reason: loose[0].Reason}
	}
	return nil
}

// checkActivationCharset refuses to activate data that does not fit the
// family's code page: every replica would refuse it on import.
func checkActivationCharset(ctx context.Context, q dialect.Querier, d dialect.Dialect, cp *codepage.CodePage, tables []dialect.Table) error {
	if len(tables) == 0 {
		return nil
	}
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = t.Name
	}
	rep, err := ValidateCharset(ctx, q, d, cp, CharsetOptions{Tables: names, Max: 1})
	if err != nil {
		return err
	}
	if len(rep.Violations) == 0 {
		return nil
	}
	v := rep.Violations[0]
	return fmt.Errorf("multisite: the data does not fit code page %s; find every violation with ValidateCharset and fix them (CleanCharset) before activating: %w",
		cp.Name(), &CharsetError{CodePage: cp.Name(), Table: v.Table, Key: v.Key, Column: v.Column, Offset: v.Offset, Rune: v.Rune, Char: v.Char})
}
