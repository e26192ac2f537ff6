package engine

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/replica"
)

// FormatVersion is the version of the metadata tables this library writes.
const FormatVersion = 12 // schema.LatestFormat; upgrade.go upgrades older databases

// Ctl is the local replica's row of ms_ctl.
type Ctl struct {
	Format        int
	Family        string
	Local         replica.ID
	State         replica.State
	Epoch         uint64
	KeyLo, KeyHi  int64
	CodePage      string
	CodePageVer   uint64 // raised by every change of the family's code page
	SchemaVersion int64
	PrivateKey    ed25519.PrivateKey
}

// LoadCtl reads ms_ctl; ErrNotActivated if the database is no replica.
func LoadCtl(ctx context.Context, q dialect.Querier, d dialect.Dialect) (*Ctl, error) {
	if ok, err := dialect.TableExists(ctx, q, d, "ms_ctl"); err != nil {
		return nil, err
	} else if !ok {
		return nil, ErrNotActivated
	}
	var c Ctl
	var local, state string
	var key []byte
	err := q.QueryRowContext(ctx, `SELECT format, family, local, state, epoch, key_lo, key_hi, code_page, code_page_version, schema_version, private_key FROM ms_ctl`).
		Scan(&c.Format, &c.Family, &local, &state, &c.Epoch, &c.KeyLo, &c.KeyHi, &c.CodePage, &c.CodePageVer, &c.SchemaVersion, &key)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotActivated
	}
	if err != nil {
		return nil, fmt.Errorf("multisite: read ms_ctl: %w", err)
	}
	if c.Format != FormatVersion {
		return upgradeAndLoad(ctx, q, d, c.Format) // upgrade.go
	}
	c.Local, c.State, c.PrivateKey = replica.ID(local), replica.State(state), ed25519.PrivateKey(key)
	return &c, nil
}

func insertCtl(ctx context.Context, q dialect.Querier, d dialect.Dialect, c *Ctl) error {
	_, err := q.ExecContext(ctx, d.Rebind(`INSERT INTO ms_ctl (id, format, family, local, state, applying, epoch, key_lo, key_hi, code_page, code_page_version, schema_version, private_key)
		VALUES (1, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?)`),
		c.Format, c.Family, string(c.Local), string(c.State), c.Epoch, c.KeyLo, c.KeyHi, c.CodePage, c.CodePageVer, c.SchemaVersion, []byte(c.PrivateKey))
	return err
}

// Registry reads every registry entry, keyed by ID.
func Registry(ctx context.Context, q dialect.Querier) (map[replica.ID]replica.Info, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, name, number, public_key, state, version, key_sig, incarnation FROM ms_replica`)
	if err != nil {
		return nil, fmt.Errorf("multisite: read registry: %w", err)
	}
	defer rows.Close()
	reg := map[replica.ID]replica.Info{}
	for rows.Next() {
		var i replica.Info
		var id, state string
		var key []byte
		if err := rows.Scan(&id, &i.Name, &i.Number, &key, &state, &i.Version, &i.KeySig, &i.Incarnation); err != nil {
			return nil, err
		}
		i.ID, i.State, i.PublicKey = replica.ID(id), replica.State(state), ed25519.PublicKey(key)
		reg[i.ID] = i
	}
	return reg, rows.Err()
}

// SortedRegistry returns the registry ordered by replica number.
func SortedRegistry(reg map[replica.ID]replica.Info) []replica.Info {
	out := make([]replica.Info, 0, len(reg))
	for _, i := range reg {
		out = append(out, i)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Number < out[b].Number })
	return out
}

func putReplica(ctx context.Context, q dialect.Querier, d dialect.Dialect, i replica.Info, exists bool) error {
	var err error
	if exists {
		_, err = q.ExecContext(ctx, d.Rebind(`UPDATE ms_replica SET name = ?, number = ?, public_key = ?, state = ?, version = ?, key_sig = ?, incarnation = ? WHERE id = ?`),
			i.Name, i.Number, []byte(i.PublicKey), string(i.State), i.Version, i.KeySig, i.Incarnation, string(i.ID))
	} else {
		_, err = q.ExecContext(ctx, d.Rebind(`INSERT INTO ms_replica (id, name, number, public_key, state, version, key_sig, incarnation) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
			string(i.ID), i.Name, i.Number, []byte(i.PublicKey), string(i.State), i.Version, i.KeySig, i.Incarnation)
	}
	if err != nil {
		return fmt.Errorf("multisite: registry entry %s: %w", i, err)
	}
	return syncRefusals(ctx, q, d) // refuse.go: the messages name every replica
}

// LoadVector reads what holder has (or is believed to have) of every origin.
func LoadVector(ctx context.Context, q dialect.Querier, d dialect.Dialect, holder replica.ID) (replica.Vector, error) {
	v, err := queryVector(ctx, q, d, `SELECT origin, epoch FROM ms_vector WHERE holder = ?`, string(holder))
	if err != nil {
		return nil, fmt.Errorf("multisite: read vector of %s: %w", holder, err)
	}
	return v, nil
}

// queryVector reads a vector from query's (origin, epoch) rows.
func queryVector(ctx context.Context, q dialect.Querier, d dialect.Dialect, query string, args ...any) (replica.Vector, error) {
	rows, err := q.QueryContext(ctx, d.Rebind(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	v := replica.Vector{}
	for rows.Next() {
		var o string
		var e uint64
		if err := rows.Scan(&o, &e); err != nil {
			return nil, err
		}
		v[replica.ID(o)] = e
	}
	return v, rows.Err()
}

// Matrix reads every vector the replica keeps, keyed by holder.
func Matrix(ctx context.Context, q dialect.Querier) (map[replica.ID]replica.Vector, error) {
	rows, err := q.QueryContext(ctx, `SELECT holder, origin, epoch FROM ms_vector`)
	if err != nil {
		return nil, fmt.Errorf("multisite: read epoch matrix: %w", err)
	}
	defer rows.Close()
	m := map[replica.ID]replica.Vector{}
	for rows.Next() {
		var h, o string
		var e uint64
		if err := rows.Scan(&h, &o, &e); err != nil {
			return nil, err
		}
		if m[replica.ID(h)] == nil {
			m[replica.ID(h)] = replica.Vector{}
		}
		m[replica.ID(h)][replica.ID(o)] = e
	}
	return m, rows.Err()
}

// raiseVector raises holder's vector to at least v, never lowering it.
func raiseVector(ctx context.Context, q dialect.Querier, d dialect.Dialect, holder replica.ID, v replica.Vector) error {
	cur, err := LoadVector(ctx, q, d, holder)
	if err != nil {
		return err
	}
	for _, o := range v.Origins() {
		e := v[o]
		old, ok := cur[o]
		switch {
		case !ok:
			_, err = q.ExecContext(ctx, d.Rebind(`INSERT INTO ms_vector (holder, origin, epoch) VALUES (?, ?, ?)`), string(holder), string(o), e)
		case e > old:
			_, err = q.ExecContext(ctx, d.Rebind(`UPDATE ms_vector SET epoch = ? WHERE holder = ? AND origin = ?`), e, string(holder), string(o))
		}
		if err != nil {
			return fmt.Errorf("multisite: write vector of %s: %w", holder, err)
		}
	}
	return nil
}

// Tables reads the replicated tables from ms_table, sorted by name.
func Tables(ctx context.Context, q dialect.Querier) ([]dialect.Table, error) {
	rows, err := q.QueryContext(ctx, `SELECT name, columns FROM ms_table ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("multisite: read replicated tables: %w", err)
	}
	defer rows.Close()
	var ts []dialect.Table
	for rows.Next() {
		var t dialect.Table
		var cols string
		if err := rows.Scan(&t.Name, &cols); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(cols), &t.Columns); err != nil {
			return nil, fmt.Errorf("multisite: ms_table entry %s: %w", t.Name, err)
		}
		ts = append(ts, t)
	}
	return ts, rows.Err()
}

func insertTable(ctx context.Context, q dialect.Querier, d dialect.Dialect, t dialect.Table) error {
	cols, err := json.Marshal(t.Columns)
	if err != nil {
		return err
	}
	if _, err = q.ExecContext(ctx, d.Rebind(`INSERT INTO ms_table (name, columns) VALUES (?, ?)`), t.Name, string(cols)); err != nil {
		return err
	}
	return syncRefusals(ctx, q, d) // refuse.go: the messages name every table
}
