package dialect

import (
	"fmt"
	"strings"
)

// MetaStep is one statement of a metadata upgrade with what it creates, so
// that an upgrade interrupted where DDL commits by itself (MySQL) can be
// planned again without the statements that already ran.
type MetaStep struct {
	SQL    string
	Table  string // the metadata table it creates or changes
	Column string // the column it adds; "" for a CREATE TABLE
	// Stamp marks the statement that records the new format in ms_ctl;
	// a fresh database gets its format from the ms_ctl row instead.
	Stamp bool
}

// metaType maps a metadata column's SQLite type to the dialect's, the way
// the dialects' Meta does.
func metaType(d Name, name, typ string) string {
	switch d {
	case Postgres:
		switch typ {
		case "INTEGER":
			return "BIGINT"
		case "BLOB":
			return "BYTEA"
		}
	case MySQL:
		switch {
		case typ == "INTEGER":
			return "BIGINT"
		case typ == "BLOB" && name == "data":
			return "LONGBLOB"
		case typ == "TEXT" && (name == "body" || name == "chain" || name == "links"):
			return "LONGTEXT"
		case typ == "TEXT":
			return "VARCHAR(255)"
		}
	}
	return typ
}

// metaTable writes a CREATE TABLE of metadata in dialect d from SQLite-typed
// columns ("name TYPE constraints").
func metaTable(d Name, name string, cols []string, tail string) string {
	var defs []string
	for _, c := range cols {
		f := strings.SplitN(c, " ", 3)
		def := f[0] + " " + metaType(d, f[0], f[1])
		if len(f) == 3 {
			def += " " + f[2]
		}
		defs = append(defs, def)
	}
	s := fmt.Sprintf("CREATE TABLE %s (\n\t%s\n)", name, strings.Join(defs, ",\n\t"))
	if d == MySQL {
		s += tableOptions
	}
	return s + tail
}

// MetaFormat returns the steps that take the metadata tables from format
// from to from+1, or nil if there is no such step. Format 1 is what
// [Dialect.Meta] creates.
//
// Format 2 adds ms_migration (the application migrations applied here, with
// the text that travels to other replicas), ms_schema (the chain of schema
// masters, once mastership of the schema has moved) and ms_table.version
// (the schema version a table's replication was last set up at). Formats 3
// to 12 are described at their steps.
func MetaFormat(d Dialect, from int) []MetaStep {
	n := d.Name()
	switch from {
	case 1:
		return []MetaStep{
			{Table: "ms_migration", SQL: metaTable(n, "ms_migration", []string{
				"version INTEGER PRIMARY KEY",
				"name TEXT NOT NULL",
				"checksum TEXT NOT NULL",
				"applied_at TEXT NOT NULL",
				"applied_by TEXT NOT NULL",
				"body TEXT NOT NULL",
			}, "")},
			{Table: "ms_schema", SQL: metaTable(n, "ms_schema", []string{
				"id INTEGER PRIMARY KEY CHECK (id = 1)",
				"chain TEXT NOT NULL",
			}, "")},
			{Table: "ms_table", Column: "version", SQL: fmt.Sprintf("ALTER TABLE ms_table ADD COLUMN version %s NOT NULL DEFAULT 0", metaType(n, "version", "INTEGER"))},
			{Table: "ms_ctl", Stamp: true, SQL: "UPDATE ms_ctl SET format = 2"},
		}
	case 2:
		// Format 3 changes no metadata table: on SQLite the shadows' epoch
		// index holds sealed changes only (see SQLiteDialect.EpochIndex),
		// rebuilt per replicated table by the engine's upgrade, which knows
		// the tables.
		return []MetaStep{{Table: "ms_ctl", Stamp: true, SQL: "UPDATE ms_ctl SET format = 3"}}
	case 3:
		// Format 4: ms_sent (per target and origin, the newest epoch sent
		// and since when a send waits for its acknowledgement), ms_gap
		// (packets refused for a gap, reported back to their sender) and
		// ms_part (parts of split exports held until all have come).
		return []MetaStep{
			{Table: "ms_sent", SQL: metaTable(n, "ms_sent", []string{
				"target TEXT NOT NULL",
				"origin TEXT NOT NULL",
				"epoch INTEGER NOT NULL",
				"since INTEGER NOT NULL",
				"PRIMARY KEY (target, origin)",
			}, "")},
			{Table: "ms_gap", SQL: metaTable(n, "ms_gap", []string{
				"peer TEXT NOT NULL",
				"origin TEXT NOT NULL",
				"epoch INTEGER NOT NULL",
				"PRIMARY KEY (peer, origin)",
			}, "")},
			{Table: "ms_part", SQL: metaTable(n, "ms_part", []string{
				"origin TEXT NOT NULL",
				"created INTEGER NOT NULL",
				"part INTEGER NOT NULL",
				"parts INTEGER NOT NULL",
				"data BLOB NOT NULL",
				"PRIMARY KEY (origin, created, part)",
			}, "")},
			{Table: "ms_ctl", Stamp: true, SQL: "UPDATE ms_ctl SET format = 4"},
		}
	case 4:
		// Format 5 makes every SQLite trigger parse on SQLite 3.31 and
		// later: their messages are literals, and the not-master message
		// naming the master comes from the trigger on ms_refuse (see
		// SQLiteDialect.RefusalTrigger). The engine's upgrade re-creates
		// the triggers, which it knows. The servers change nothing.
		var steps []MetaStep
		if n == SQLite {
			steps = append(steps, MetaStep{Table: "ms_refuse", SQL: refuseTable})
		}
		return append(steps, MetaStep{Table: "ms_ctl", Stamp: true, SQL: "UPDATE ms_ctl SET format = 5"})
	case 5:
		// Format 6 changes no metadata table: the shadows get ms_hash (see
		// AddHashColumn) and every trigger is made again, by the engine's
		// upgrade, which knows the tables. ms_ctl.applying stays, unread.
		return []MetaStep{{Table: "ms_ctl", Stamp: true, SQL: "UPDATE ms_ctl SET format = 6"}}
	case 6:
		// Format 7 changes no metadata table: every shadow and transfer
		// log gets ms_proof (see AddProofColumns), the origin's signature
		// over the row image or transfer it holds, added by the engine's
		// upgrade, which knows the tables. Existing entries keep a NULL
		// proof.
		return []MetaStep{{Table: "ms_ctl", Stamp: true, SQL: "UPDATE ms_ctl SET format = 7"}}
	case 7:
		// Format 8: ms_sealed keeps, per replica, the newest signed
		// statement of the epochs it has sealed (syncpkt.Sealed) that
		// reached this replica, to bound epoch claims and to forward;
		// ms_proof keeps the proofs of family settings this replica did
		// not make itself (code page changes, migrations), to forward.
		return []MetaStep{
			{Table: "ms_sealed", SQL: metaTable(n, "ms_sealed", []string{
				"replica TEXT PRIMARY KEY",
				"epoch INTEGER NOT NULL",
				"proof BLOB NOT NULL",
			}, "")},
			{Table: "ms_proof", SQL: metaTable(n, "ms_proof", []string{
				"name TEXT PRIMARY KEY",
				"signer TEXT NOT NULL",
				"proof BLOB NOT NULL",
			}, "")},
			{Table: "ms_ctl", Stamp: true, SQL: "UPDATE ms_ctl SET format = 8"},
		}
	case 8:
		// Format 9: every registry entry keeps the proof it travels with
		// (signer and proof: the replica that vouched for the entry, and its
		// signature), the chain of entries that prove its key (chain: the
		// creation entry signed by the creator, then each key rotation), and,
		// for a replica invited but not yet enrolled, the one-time secret's
		// hash its creator checks its enrolment against (invite).
		return []MetaStep{
			{Table: "ms_replica", Column: "signer", SQL: fmt.Sprintf("ALTER TABLE ms_replica ADD COLUMN signer %s", metaType(n, "signer", "TEXT"))},
			{Table: "ms_replica", Column: "proof", SQL: fmt.Sprintf("ALTER TABLE ms_replica ADD COLUMN proof %s", metaType(n, "proof", "BLOB"))},
			{Table: "ms_replica", Column: "chain", SQL: fmt.Sprintf("ALTER TABLE ms_replica ADD COLUMN chain %s", metaType(n, "chain", "TEXT"))},
			{Table: "ms_replica", Column: "invite", SQL: fmt.Sprintf("ALTER TABLE ms_replica ADD COLUMN invite %s", metaType(n, "invite", "BLOB"))},
			{Table: "ms_ctl", Stamp: true, SQL: "UPDATE ms_ctl SET format = 9"},
		}
	case 9:
		// Format 10: every mastership request keeps the proof its current
		// version travels with (signer: the replica that made the version,
		// its origin; proof: that replica's signature), to forward. A
		// replica activated before requests existed gets ms_request first.
		// Requests held from before keep NULL: they travel unproven.
		var create string
		for _, s := range LateMeta(d) {
			if strings.HasPrefix(s, "CREATE TABLE IF NOT EXISTS ms_request (") {
				create = s
			}
		}
		return []MetaStep{
			{Table: "ms_request", SQL: create},
			{Table: "ms_request", Column: "signer", SQL: fmt.Sprintf("ALTER TABLE ms_request ADD COLUMN signer %s", metaType(n, "signer", "TEXT"))},
			{Table: "ms_request", Column: "proof", SQL: fmt.Sprintf("ALTER TABLE ms_request ADD COLUMN proof %s", metaType(n, "proof", "BLOB"))},
			{Table: "ms_ctl", Stamp: true, SQL: "UPDATE ms_ctl SET format = 10"},
		}
	case 10:
		// Format 11: ms_partdata holds the parts of split exports in pieces
		// of at most 1 MiB (seq counts a part's pieces), so a part is held
		// and read back with bounded memory whatever its size; ms_part,
		// which held each part whole, is no longer written.
		return []MetaStep{
			{Table: "ms_partdata", SQL: metaTable(n, "ms_partdata", []string{
				"origin TEXT NOT NULL",
				"created INTEGER NOT NULL",
				"part INTEGER NOT NULL",
				"seq INTEGER NOT NULL",
				"parts INTEGER NOT NULL",
				"data BLOB NOT NULL",
				"PRIMARY KEY (origin, created, part, seq)",
			}, "")},
			{Table: "ms_ctl", Stamp: true, SQL: "UPDATE ms_ctl SET format = 11"},
		}
	case 11:
		// Format 12: every mastership request keeps its chain of signed
		// forward links (links: JSON, see engine/request.go), which travels
		// in its record so a receiver that missed a forward knows which
		// replica the request is addressed to. Requests held from before
		// keep NULL: they travel without links, like an unproven version.
		return []MetaStep{
			{Table: "ms_request", Column: "links", SQL: fmt.Sprintf("ALTER TABLE ms_request ADD COLUMN links %s", metaType(n, "links", "TEXT"))},
			{Table: "ms_ctl", Stamp: true, SQL: "UPDATE ms_ctl SET format = 12"},
		}
	}
	return nil
}

// DropMetaFormat returns the statements removing what MetaFormat added
// beyond format 1 (the tables; columns go with their tables).
func DropMetaFormat() []string {
	return []string{"DROP TABLE IF EXISTS ms_schema", "DROP TABLE IF EXISTS ms_migration",
		"DROP TABLE IF EXISTS ms_sent", "DROP TABLE IF EXISTS ms_gap", "DROP TABLE IF EXISTS ms_part",
		"DROP TABLE IF EXISTS ms_refuse", "DROP TABLE IF EXISTS ms_sealed", "DROP TABLE IF EXISTS ms_proof",
		"DROP TABLE IF EXISTS ms_partdata"}
}

// ProofType is the type of the ms_proof column of shadows and transfer
// logs on d: an ed25519 signature of 64 bytes, or NULL.
func ProofType(d Dialect) string {
	switch d.Name() {
	case MySQL:
		return "VARBINARY(64)"
	case Postgres:
		return "BYTEA"
	}
	return "BLOB"
}

// AddProofColumn returns the DDL adding ms_proof to table (a shadow or a
// transfer log), for metadata format 7.
func AddProofColumn(d Dialect, table string) string {
	return fmt.Sprintf("ALTER TABLE %s ADD COLUMN ms_proof %s", d.Quote(table), ProofType(d))
}

// AddHashColumn returns the DDL adding ms_hash, the fingerprint of the row
// image (see Dialect.Fingerprint), to t's shadow of a database of format
// 5 or older.
func AddHashColumn(d Dialect, t Table) string {
	typ := "TEXT"
	if d.Name() == MySQL {
		typ = "CHAR(32)"
	}
	return fmt.Sprintf("ALTER TABLE %s ADD COLUMN ms_hash %s", d.Quote(Shadow(d, t.Name)), typ)
}
