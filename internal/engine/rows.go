package engine

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/schema"
)

// VerifyRows compares every row of every replicated table with its shadow
// entry and the fingerprint the entry keeps of the row's image (see
// dialect.Dialect.Fingerprint), in one snapshot, and lists the rows outside
// the rules: changed, inserted or deleted while the triggers were off, or
// recorded as this replica's change although another replica masters them.
// It reads every row once.
func VerifyRows(ctx context.Context, db *sql.DB, d dialect.Dialect) (*schema.RowReport, error) {
	var r *schema.RowReport
	err := readTx(ctx, db, d, func(tx *sql.Tx) error {
		var err error
		r, err = verifyRows(ctx, tx, d)
		return err
	})
	return r, err
}

func verifyRows(ctx context.Context, q dialect.Querier, d dialect.Dialect) (*schema.RowReport, error) {
	c, err := LoadCtl(ctx, q, d)
	if err != nil {
		return nil, err
	}
	tables, err := Tables(ctx, q)
	if err != nil {
		return nil, err
	}
	rep := &schema.RowReport{}
	local := string(c.Local)
	horizon, err := prunedHorizon(ctx, q, d, c)
	if err != nil {
		return nil, err
	}
	for _, t := range tables {
		if err := verifyTable(ctx, q, d, t, local, horizon, rep); err != nil {
			return nil, fmt.Errorf("multisite: verify rows of %s: %w", t.Name, err)
		}
	}
	// Vendors scan in different orders: by table, then key.
	sort.SliceStable(rep.Findings, func(a, b int) bool {
		fa, fb := rep.Findings[a], rep.Findings[b]
		if fa.Table != fb.Table {
			return fa.Table < fb.Table
		}
		if len(fa.Key) != len(fb.Key) {
			return len(fa.Key) < len(fb.Key) // integers in numeric order
		}
		return fa.Key < fb.Key
	})
	return rep, nil
}

// prunedHorizon is the epoch of this replica up to which its transfer log
// was pruned (prune.go): a change of a row to another master sealed by
// then may have lost the transfer that justified it.
func prunedHorizon(ctx context.Context, q dialect.Querier, d dialect.Dialect, c *Ctl) (uint64, error) {
	v, err := LoadVector(ctx, q, d, prunedHolder)
	if err != nil {
		return 0, err
	}
	return v[c.Local], nil
}

func verifyTable(ctx context.Context, q dialect.Querier, d dialect.Dialect, t dialect.Table, local string, horizon uint64, rep *schema.RowReport) error {
	R, T, X := d.Quote(dialect.Shadow(d, t.Name)), d.Quote(t.Name), d.Quote(dialect.Xfer(d, t.Name))
	nk := len(t.Keys())
	k0 := d.Quote(t.Keys()[0].Name)
	// The rows, each with its entry (if any).
	rowsQ := fmt.Sprintf(`SELECT %s, t.ms_master, CASE WHEN r.%s IS NULL THEN 1 ELSE 0 END, coalesce(r.ms_master, ''), coalesce(r.ms_deleted, 0), coalesce(r.ms_version, 0),
	coalesce(r.ms_origin, ''), coalesce(r.ms_epoch, 0),
	CASE WHEN r.ms_hash IS NULL OR r.ms_hash <> %s THEN 1 ELSE 0 END,
	CASE WHEN EXISTS (SELECT 1 FROM %s x WHERE %s AND x.ms_version = r.ms_version) THEN 1 ELSE 0 END
FROM %s t LEFT JOIN %s r ON %s`,
		keyCols(d, t, "t."), k0, d.Fingerprint(t, "t."), X, keyMatch(d, t, "x.", "t."), T, R, keyMatch(d, t, "r.", "t."))
	rows, err := q.QueryContext(ctx, rowsQ)
	if err != nil {
		return err
	}
	for rows.Next() {
		vals := make([]any, nk)
		var rowMaster, master, origin string
		var missing, deleted, mismatch, xfer int
		var version, epoch int64
		dest := make([]any, 0, nk+10)
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		dest = append(dest, &rowMaster, &missing, &master, &deleted, &version, &origin, &epoch, &mismatch, &xfer)
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return err
		}
		rep.Rows++
		f := schema.RowFinding{Table: t.Name, Key: formatKey(normalizeKey(vals)), Master: master, Origin: origin, Epoch: uint64(epoch)}
		switch {
		case missing != 0:
			f.Issue, f.Master = schema.RowUnrecorded, rowMaster
		case deleted != 0:
			f.Issue = schema.RowUnrecorded
		case version == 0:
			f.Issue = schema.RowRefetch
		case mismatch != 0:
			f.Issue = schema.RowAltered
		case origin == local && master != local && xfer == 0 && (epoch == 0 || uint64(epoch) > horizon):
			f.Issue = schema.RowForeignChange
		default:
			continue
		}
		f.Local = f.Master == local && f.Issue != schema.RowForeignChange && f.Issue != schema.RowRefetch
		rep.Findings = append(rep.Findings, f)
	}
	if err := rows.Close(); err != nil {
		return err
	}
	// Live entries whose row is gone.
	goneQ := fmt.Sprintf(`SELECT %s, r.ms_master, r.ms_version, r.ms_origin, coalesce(r.ms_epoch, 0) FROM %s r
WHERE r.ms_deleted = 0 AND NOT EXISTS (SELECT 1 FROM %s t WHERE %s)`, keyCols(d, t, "r."), R, T, keyMatch(d, t, "t.", "r."))
	rows, err = q.QueryContext(ctx, goneQ)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		vals := make([]any, nk)
		var master, origin string
		var version, epoch int64
		dest := make([]any, 0, nk+4)
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		dest = append(dest, &master, &version, &origin, &epoch)
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		rep.Rows++
		f := schema.RowFinding{Table: t.Name, Key: formatKey(normalizeKey(vals)), Issue: schema.RowVanished, Master: master, Origin: origin, Epoch: uint64(epoch)}
		if version == 0 {
			f.Issue = schema.RowRefetch
		}
		f.Local = master == local && f.Issue == schema.RowVanished
		rep.Findings = append(rep.Findings, f)
	}
	return rows.Err()
}

// normalizeKey turns key values scanned from the driver into the forms
// formatKey prints as the triggers do (text as text).
func normalizeKey(vals []any) []any {
	out := make([]any, len(vals))
	for i, v := range vals {
		if b, ok := v.([]byte); ok {
			v = string(b)
		}
		out[i] = v
	}
	return out
}

// recreatedVersion is the version Repair gives the entry of a row whose
// entry was deleted by hand: the version it had is lost, and the other
// replicas apply an image only above the version they hold, which no row
// reaches by 2^31 changes. Its creator is taken to be this replica; a row
// another replica created is then a creation conflict at the others,
// settled by the usual rule (the smaller creator ID keeps its record).
const recreatedVersion = 1 << 31

// sqlText quotes s as an SQL string literal, for replica IDs in a plan an
// administrator reads.
func sqlText(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// PlanRowRepair returns the statements that bring the rows VerifyRows
// finds back into the rules, or none when it finds none:
//
//   - a row this replica masters is recorded again as a local change (a
//     new version, unsealed, with its fingerprint), so the next export
//     sends it: inserted and changed rows as they are, deleted ones as a
//     tombstone; one whose entry was deleted gets recreatedVersion;
//   - a row another replica masters is set aside for its master to send
//     again: its entry gets version 0 (any image from the master is newer)
//     and stops being exported as a change of this replica. Until the
//     master's image arrives (RecoverPacket at the master) the row keeps
//     what it holds, and VerifyRows lists it as RowRefetch.
//
// A row without an entry that claims another master (inserted with the
// triggers off) is left as it is and stays listed: no replica has a
// version of it to send.
func PlanRowRepair(ctx context.Context, q dialect.Querier, d dialect.Dialect) (schema.Plan, *schema.RowReport, error) {
	rep, err := verifyRows(ctx, q, d)
	if err != nil {
		return schema.Plan{}, nil, err
	}
	p := schema.Plan{Dialect: string(d.Name())}
	if rep.Clean() {
		return p, rep, nil
	}
	c, err := LoadCtl(ctx, q, d)
	if err != nil {
		return schema.Plan{}, nil, err
	}
	tables, err := Tables(ctx, q)
	if err != nil {
		return schema.Plan{}, nil, err
	}
	broken := map[string]bool{}
	for _, f := range rep.Findings {
		broken[f.Table] = true
	}
	L := sqlText(string(c.Local))
	horizon, err := prunedHorizon(ctx, q, d, c)
	if err != nil {
		return schema.Plan{}, nil, err
	}
	for _, t := range tables {
		if !broken[t.Name] {
			continue
		}
		R, T, X := d.Quote(dialect.Shadow(d, t.Name)), d.Quote(t.Name), d.Quote(dialect.Xfer(d, t.Name))
		row := func(cond string) string {
			return fmt.Sprintf("EXISTS (SELECT 1 FROM %s t WHERE %s%s)", T, keyMatch(d, t, "t.", R+"."), cond)
		}
		fp := fmt.Sprintf("(SELECT %s FROM %s t WHERE %s)", d.Fingerprint(t, "t."), T, keyMatch(d, t, "t.", R+"."))
		mismatch := fmt.Sprintf(" AND (%s.ms_hash IS NULL OR %s.ms_hash <> %s)", R, R, d.Fingerprint(t, "t."))
		xfer := fmt.Sprintf("EXISTS (SELECT 1 FROM %s x WHERE %s AND x.ms_version = %s.ms_version)", X, keyMatch(d, t, "x.", R+"."), R)
		p.Steps = append(p.Steps,
			schema.Step{Comment: "table " + t.Name + ": rows mastered here, deleted with their entry kept: recorded again",
				SQL: fmt.Sprintf("UPDATE %s SET ms_version = ms_version + 1, ms_origin = %s, ms_epoch = NULL, ms_deleted = 0, ms_hash = %s WHERE ms_deleted <> 0 AND ms_master = %s AND %s",
					R, L, fp, L, row(" AND t.ms_master = "+L))},
			schema.Step{Comment: "table " + t.Name + ": rows mastered here without an entry: recorded again, at a version above any they had",
				SQL: fmt.Sprintf("INSERT INTO %s (%s, ms_version, ms_master, ms_origin, ms_creator, ms_epoch, ms_deleted, ms_hash) SELECT %s, %d, t.ms_master, %s, %s, NULL, 0, %s FROM %s t WHERE t.ms_master = %s AND NOT EXISTS (SELECT 1 FROM %s r WHERE %s)",
					R, keyNames(d, t), keyCols(d, t, "t."), recreatedVersion, L, L, d.Fingerprint(t, "t."), T, L, R, keyMatch(d, t, "r.", "t."))},
			schema.Step{Comment: "table " + t.Name + ": rows mastered here, changed with the triggers off: recorded again",
				SQL: fmt.Sprintf("UPDATE %s SET ms_version = ms_version + 1, ms_origin = %s, ms_epoch = NULL, ms_hash = %s WHERE ms_deleted = 0 AND ms_version > 0 AND ms_master = %s AND %s",
					R, L, fp, L, row(" AND t.ms_master = "+L+mismatch))},
			schema.Step{Comment: "table " + t.Name + ": rows mastered here, deleted with the triggers off: recorded as deleted",
				SQL: fmt.Sprintf("UPDATE %s SET ms_version = ms_version + 1, ms_origin = %s, ms_epoch = NULL, ms_deleted = 1, ms_hash = NULL WHERE ms_deleted = 0 AND ms_version > 0 AND ms_master = %s AND NOT %s",
					R, L, L, row(""))},
			schema.Step{Comment: "table " + t.Name + ": rows mastered elsewhere, changed here: set aside for their master to send again",
				SQL: fmt.Sprintf("UPDATE %s SET ms_version = 0, ms_hash = NULL, ms_origin = ms_master, ms_epoch = 0 WHERE ms_master <> %s AND ms_version > 0 AND ((ms_deleted = 0 AND NOT %s) OR (ms_deleted = 0 AND %s) OR (ms_deleted <> 0 AND %s) OR (ms_origin = %s AND NOT %s AND (ms_epoch IS NULL OR ms_epoch = 0 OR ms_epoch > %d)))",
					R, L, row(""), row(mismatch), row(""), L, xfer, horizon)},
		)
	}
	return p, rep, nil
}
