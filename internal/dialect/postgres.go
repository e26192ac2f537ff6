package dialect

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// PostgresDialect is PostgreSQL (12 or later) through
// github.com/jackc/pgx/v5/stdlib. The DSN needs nothing special; the
// library's objects live in the connection's current schema
// (search_path), next to the user's tables.
//
// Enforcement and capture are PL/pgSQL row triggers, one BEFORE and one
// AFTER per table. Their read of ms_ctl takes no lock: a writer sees the
// committed ms_ctl row while an import runs, so local writes are not
// blocked by imports and are captured as usual. An import stands them
// aside by a transaction-local setting (multisite.applying), which no
// other transaction sees and which ends with its transaction; the
// triggers are ENABLE ALWAYS, so session_replication_role = replica does
// not silence them.
//
// Values: booleans travel as 0 or 1, numeric as the server's exact text
// ("12.50"), timestamp, timestamptz, date and time in the canonical text
// forms of [Canonical], bytea as bytes. REAL (float4) values widen to
// float64 exactly.
type PostgresDialect struct{}

var _ Dialect = PostgresDialect{}

// MinPostgres is the oldest PostgreSQL server version supported
// (server_version_num): generated columns in the catalog appear in 12.
const MinPostgres = 120000

// Name returns Postgres.
func (PostgresDialect) Name() Name { return Postgres }

// Quote quotes an identifier with double quotes.
func (PostgresDialect) Quote(ident string) string {
	return `"` + strings.ReplaceAll(ident, `"`, `""`) + `"`
}

// Object returns prefix + name + suffix, shortened with a hash when longer
// than PostgreSQL's 63 bytes (which it would cut silently, and two
// objects would share a name).
func (PostgresDialect) Object(prefix, name, suffix string) string {
	return objectName(pgFits, prefix, name, suffix)
}

// Rebind turns '?' placeholders into $1, $2, ..., but not a '?' in a
// quoted identifier or string literal.
func (PostgresDialect) Rebind(q string) string { return rebindDollar(q) }

// Setup checks that the server is reachable and recent enough.
func (PostgresDialect) Setup(ctx context.Context, db *sql.DB) error {
	var v string
	if err := db.QueryRowContext(ctx, "SHOW server_version_num").Scan(&v); err != nil {
		return &UnreachableError{Dialect: Postgres, Err: err}
	}
	return checkPostgresVersion(v)
}

// checkPostgresVersion checks a server_version_num ("150020").
func checkPostgresVersion(num string) error {
	n, err := strconv.Atoi(strings.TrimSpace(num))
	if err != nil {
		return fmt.Errorf("dialect: postgres server_version_num %q: %w", num, err)
	}
	if n < MinPostgres {
		return &ServerVersionError{Dialect: Postgres, Version: fmt.Sprintf("%d.%d", n/10000, n%10000/100), Min: "12"}
	}
	return nil
}

// Tables lists the base tables of the current schema but the library's.
func (PostgresDialect) Tables(ctx context.Context, q Querier) ([]string, error) {
	return listNames(ctx, q, `SELECT c.relname FROM pg_class c
		WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
		AND c.relname NOT LIKE 'ms\_%' ORDER BY c.relname COLLATE "C"`)
}

func listNames(ctx context.Context, q Querier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

// pgCast matches a trailing cast in a default as the catalog prints it
// ("'open'::text", "'x'::character varying").
var pgCast = regexp.MustCompile(`::[a-z ]+(\([0-9, ]+\))?(\[\])?$`)

// portableDefault strips casts from a PostgreSQL default and keeps it only
// if it is a plain literal; sequences and function calls are local matters
// that a replica created from a packet cannot share.
func portableDefault(def string) string {
	def = strings.TrimSpace(def)
	for pgCast.MatchString(def) {
		def = strings.TrimSpace(pgCast.ReplaceAllString(def, ""))
	}
	if strings.HasPrefix(def, "(") && strings.HasSuffix(def, ")") {
		inner := strings.TrimSpace(def[1 : len(def)-1])
		for pgCast.MatchString(inner) {
			inner = strings.TrimSpace(pgCast.ReplaceAllString(inner, ""))
		}
		def = inner
	}
	if strings.EqualFold(def, "now()") {
		def = "CURRENT_TIMESTAMP"
	}
	if strings.EqualFold(def, "NULL") || !ValidDefault(def) {
		return ""
	}
	return def
}

// Describe reads a table of the current schema from pg_attribute; types
// are format_type's ("integer", "character varying(20)", "numeric(10,2)").
// Generated columns are left out, as on SQLite.
func (PostgresDialect) Describe(ctx context.Context, q Querier, table string) (Table, bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
	coalesce((SELECT k.n FROM pg_index i, unnest(i.indkey) WITH ORDINALITY AS k(att, n)
		WHERE i.indrelid = c.oid AND i.indisprimary AND k.att = a.attnum), 0),
	coalesce(pg_get_expr(d.adbin, d.adrelid), ''), a.attgenerated <> ''
FROM pg_class c
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
ORDER BY a.attnum`, table)
	if err != nil {
		return Table{}, false, err
	}
	defer rows.Close()
	t := Table{Name: table}
	n := 0
	for rows.Next() {
		var c Column
		var generated bool
		var pos int
		if err := rows.Scan(&c.Name, &c.Type, &c.NotNull, &pos, &c.Default, &generated); err != nil {
			return Table{}, false, err
		}
		n++
		if generated || c.Name == MasterColumn {
			continue
		}
		c.Key = pos
		c.Default = portableDefault(c.Default)
		t.Columns = append(t.Columns, c)
	}
	if err := rows.Err(); err != nil {
		return Table{}, false, err
	}
	return t, n > 0, nil
}

// Meta returns the metadata tables: SQLite's, with PostgreSQL's types
// (BIGINT for INTEGER, BYTEA for BLOB).
func (PostgresDialect) Meta() []string {
	return translateMeta(func(name, typ string) string {
		switch typ {
		case "INTEGER":
			return "BIGINT"
		case "BLOB":
			return "BYTEA"
		}
		return typ
	}, nil, "")
}

// DropMeta removes the metadata tables.
func (PostgresDialect) DropMeta() []string { return SQLiteDialect{}.DropMeta() }

// pgTypes are PostgreSQL type names kept as they are when a replica is
// created from a packet.
var pgTypes = map[string]bool{"JSON": true, "JSONB": true, "UUID": true, "INET": true, "CIDR": true, "MACADDR": true,
	"INTERVAL": true, "XML": true, "MONEY": true, "TSVECTOR": true, "POINT": true}

// Type maps a declared type of any vendor to PostgreSQL's. Integers are
// BIGINT (SQLite's INTEGER is 64-bit) but SMALLINT; floats DOUBLE PRECISION
// (SQLite's REAL is 64-bit); text keeps a length if it has one; unknown
// types become TEXT.
func (PostgresDialect) Type(typ string) string {
	base, params := baseType(typ)
	switch KindOf(typ) {
	case KindInt:
		if base == "SMALLINT" || base == "INT2" || base == "TINYINT" {
			return "SMALLINT"
		}
		return "BIGINT"
	case KindBool:
		return "BOOLEAN"
	case KindFloat:
		return "DOUBLE PRECISION"
	case KindDecimal:
		if base == "MONEY" {
			return "MONEY"
		}
		return "NUMERIC" + params
	case KindText:
		if params != "" && (strings.HasPrefix(base, "CHAR") || strings.HasPrefix(base, "NCHAR")) && !strings.Contains(base, "VAR") {
			return "CHAR" + params
		}
		if params != "" && strings.Contains(base, "CHAR") {
			return "VARCHAR" + params
		}
		return "TEXT"
	case KindBlob:
		return "BYTEA"
	case KindTimestamp:
		return "TIMESTAMP" + params
	case KindTimestampTZ:
		return "TIMESTAMPTZ" + params
	case KindDate:
		return "DATE"
	case KindTime:
		return "TIME" + params
	}
	if pgTypes[base] {
		return base + params
	}
	return "TEXT"
}

func (d PostgresDialect) colDef(c Column, withDefault bool) string {
	typ := d.Type(c.Type)
	if c.Key > 0 && strings.HasPrefix(typ, "CHAR(") {
		// character(n) ignores trailing spaces: 'a ' and 'a' would be one key.
		typ = "VARCHAR" + strings.TrimPrefix(typ, "CHAR")
	}
	s := d.Quote(c.Name) + " " + typ
	if c.NotNull {
		s += " NOT NULL"
	}
	if withDefault && c.Default != "" {
		s += " DEFAULT (" + c.Default + ")"
	}
	return s
}

func (d PostgresDialect) keyList(t Table, prefix string) string {
	return keyList(d.Quote, t, prefix)
}

func (d PostgresDialect) keyMatch(t Table, a, b string) string {
	return keyMatch(d.Quote, t, a, b)
}

// CreateTable creates a user table from its portable form, with types
// mapped by [PostgresDialect.Type].
func (d PostgresDialect) CreateTable(t Table, local string) string {
	defs := joinMap(t.Columns, ",\n\t", func(c Column) string { return d.colDef(c, true) })
	return fmt.Sprintf("CREATE TABLE %s (\n\t%s,\n\t%s TEXT NOT NULL DEFAULT %s,\n\tPRIMARY KEY (%s)\n)",
		d.Quote(t.Name), defs, MasterColumn, literal(local), d.keyList(t, ""))
}

func (d PostgresDialect) shadowDDL(t Table) []string {
	keys := joinMap(t.Keys(), ",\n\t", func(c Column) string { return d.colDef(c, false) })
	S, X := Shadow(d, t.Name), Xfer(d, t.Name)
	return []string{
		fmt.Sprintf(`CREATE TABLE %s (
	%s,
	ms_version BIGINT NOT NULL,
	ms_master TEXT NOT NULL,
	ms_origin TEXT NOT NULL,
	ms_creator TEXT NOT NULL,
	ms_epoch BIGINT,
	ms_deleted INTEGER NOT NULL DEFAULT 0,
	ms_hash TEXT,
	ms_proof BYTEA,
	PRIMARY KEY (%s)
)`, d.Quote(S), keys, d.keyList(t, "")),
		fmt.Sprintf("CREATE INDEX %s ON %s (ms_origin, ms_epoch)", d.Quote(ShadowIndex(d, t.Name, "epoch")), d.Quote(S)),
		// Seal finds the unsealed entries through this partial index.
		fmt.Sprintf("CREATE INDEX %s ON %s (ms_origin) WHERE ms_epoch IS NULL", d.Quote(ShadowIndex(d, t.Name, "pending")), d.Quote(S)),
		fmt.Sprintf(`CREATE TABLE %s (
	%s,
	ms_version BIGINT NOT NULL,
	ms_from TEXT NOT NULL,
	ms_to TEXT NOT NULL,
	ms_epoch BIGINT,
	ms_proof BYTEA,
	PRIMARY KEY (%s, ms_version)
)`, d.Quote(X), keys, d.keyList(t, "")),
		fmt.Sprintf("CREATE INDEX %s ON %s (ms_from, ms_epoch)", d.Quote(XferIndex(d, t.Name, "epoch")), d.Quote(X)),
	}
}

// Inject adds the mastership field, creates the shadow and transfer log,
// and records every existing row as a local change.
func (d PostgresDialect) Inject(t Table, local string) []string {
	stmts := []string{
		fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s TEXT NOT NULL DEFAULT %s", d.Quote(t.Name), MasterColumn, literal(local)),
	}
	stmts = append(stmts, d.shadowDDL(t)...)
	return append(stmts, fmt.Sprintf(
		"INSERT INTO %s (%s, ms_version, ms_master, ms_origin, ms_creator, ms_epoch, ms_deleted, ms_hash) SELECT %s, 1, %s, %s, %s, NULL, 0, %s FROM %s t",
		d.Quote(Shadow(d, t.Name)), d.keyList(t, ""), d.keyList(t, "t."), literal(local), literal(local), literal(local), d.Fingerprint(t, "t."), d.Quote(t.Name)))
}

// Fingerprint is the MD5 of the row's text form.
func (d PostgresDialect) Fingerprint(t Table, row string) string {
	parts := make([]string, 0, len(t.Columns)+1)
	for _, c := range t.Columns {
		parts = append(parts, row+d.Quote(c.Name))
	}
	parts = append(parts, row+MasterColumn)
	return "md5(ROW(" + strings.Join(parts, ", ") + ")::text)"
}

// pgApplying is true in a transaction applying a packet.
const pgApplying = "current_setting('multisite.applying', true) = 'on'"

// ShadowDDL is the shadow and transfer-log DDL alone.
func (d PostgresDialect) ShadowDDL(t Table) []string { return d.shadowDDL(t) }

// TriggerNames lists the triggers (and their functions, of the same name).
func (d PostgresDialect) TriggerNames(t Table) []string {
	return []string{triggerName(d, t.Name, "enforce"), triggerName(d, t.Name, "capture")}
}

// pgKeyText formats the key of NEW or OLD for messages: "k1,k2".
func (d PostgresDialect) keyText(t Table, row string) string {
	return "concat_ws(','" + joinMap(t.Keys(), "", func(c Column) string { return ", " + row + "." + d.Quote(c.Name) + "::text" }) + ")"
}

// notMaster is the PL/pgSQL statement raising the not-master error in the
// shape of mastership.TriggerFormat.
func (d PostgresDialect) notMaster(t Table, row, master string) string {
	return fmt.Sprintf(`RAISE EXCEPTION USING MESSAGE = format('multisite: not master: %%s[%%s] is mastered by %%s (%%s), not %%s; ask the master to transfer it',
			%s, %s, %s, coalesce((SELECT name FROM ms_replica WHERE id = %s), '?'), ms_c.local);`,
		literal(t.Name), d.keyText(t, row), master, master)
}

// Triggers returns the enforcement (BEFORE) and capture (AFTER) trigger
// functions and triggers. Both stand aside while the transaction-local
// setting multisite.applying is on, which only the library's import sets,
// in its own transaction.
func (d PostgresDialect) Triggers(t Table) []string {
	q := d.Quote
	T, S, X := q(t.Name), q(Shadow(d, t.Name)), q(Xfer(d, t.Name))
	names := d.TriggerNames(t)
	enforce, capture := q(names[0]), q(names[1])
	pkChanged := joinMap(t.Keys(), " OR ", func(c Column) string {
		return "NEW." + q(c.Name) + " IS DISTINCT FROM OLD." + q(c.Name)
	})
	var rangeCheck string
	if t.IntegerKey() {
		k := q(t.Keys()[0].Name)
		rangeCheck = fmt.Sprintf(`IF NEW.%s NOT BETWEEN ms_c.key_lo AND ms_c.key_hi THEN
			RAISE EXCEPTION USING MESSAGE = format('multisite: key %%s[%%s] is outside the key range [%%s, %%s] of replica %%s; allocate new keys with multisite.NextID', %s, NEW.%s, ms_c.key_lo, ms_c.key_hi, ms_c.local);
		END IF;`, k, literal(t.Name), k)
	}
	return []string{
		requote(enforce, fmt.Sprintf(`CREATE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $ms$
DECLARE
	ms_c ms_ctl%%ROWTYPE;
	ms_m TEXT;
BEGIN
	IF %s THEN
		IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
		RETURN NEW;
	END IF;
	SELECT * INTO ms_c FROM ms_ctl WHERE id = 1;
	IF ms_c.state <> 'active' THEN
		RAISE EXCEPTION USING MESSAGE = format('multisite: replica %%s is %%s; local writes are refused until it is made active', ms_c.local, ms_c.state);
	END IF;
	IF TG_OP = 'INSERT' THEN
		IF NEW.ms_master IS DISTINCT FROM ms_c.local THEN
			%s
		END IF;
		SELECT r.ms_master INTO ms_m FROM %s r WHERE %s;
		IF FOUND AND ms_m <> ms_c.local THEN
			%s
		END IF;
		%s
		RETURN NEW;
	END IF;
	IF OLD.ms_master IS DISTINCT FROM ms_c.local THEN
		%s
	END IF;
	IF TG_OP = 'DELETE' THEN
		RETURN OLD;
	END IF;
	IF %s THEN
		RAISE EXCEPTION USING MESSAGE = format('multisite: the primary key of replicated table %%s cannot change; delete the row and insert a new one', %s);
	END IF;
	IF NEW.ms_master IS DISTINCT FROM OLD.ms_master AND NOT EXISTS (SELECT 1 FROM ms_replica WHERE id = NEW.ms_master AND state <> 'removed') THEN
		RAISE EXCEPTION USING MESSAGE = format('multisite: cannot transfer %%s[%%s] to unknown or removed replica %%s', %s, %s, coalesce(NEW.ms_master, 'NULL'));
	END IF;
	RETURN NEW;
END
$ms$`, enforce, pgApplying,
			d.notMaster(t, "NEW", "NEW.ms_master"),
			S, d.keyMatch(t, "r.", "NEW."),
			d.notMaster(t, "NEW", "ms_m"),
			rangeCheck,
			d.notMaster(t, "OLD", "OLD.ms_master"),
			pkChanged, literal(t.Name), literal(t.Name), d.keyText(t, "OLD"))),
		fmt.Sprintf(`CREATE TRIGGER %s BEFORE INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION %s()`, enforce, T, enforce),
		requote(capture, fmt.Sprintf(`CREATE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $ms$
DECLARE
	ms_c ms_ctl%%ROWTYPE;
BEGIN
	IF %s THEN
		RETURN NULL;
	END IF;
	SELECT * INTO ms_c FROM ms_ctl WHERE id = 1;
	IF TG_OP = 'INSERT' THEN
		INSERT INTO %s AS r (%s, ms_version, ms_master, ms_origin, ms_creator, ms_epoch, ms_deleted, ms_hash)
		VALUES (%s, 1, NEW.ms_master, ms_c.local, ms_c.local, NULL, 0, %s)
		ON CONFLICT (%s) DO UPDATE SET ms_version = r.ms_version + 1, ms_master = EXCLUDED.ms_master,
			ms_origin = EXCLUDED.ms_origin, ms_epoch = NULL, ms_deleted = 0, ms_hash = EXCLUDED.ms_hash;
	ELSIF TG_OP = 'UPDATE' THEN
		UPDATE %s r SET ms_version = r.ms_version + 1, ms_master = NEW.ms_master, ms_origin = ms_c.local, ms_epoch = NULL,
			ms_hash = %s
		WHERE %s AND r.ms_deleted = 0;
		IF NOT FOUND THEN
			RAISE EXCEPTION USING MESSAGE = %s;
		END IF;
		IF NEW.ms_master IS DISTINCT FROM OLD.ms_master THEN
			INSERT INTO %s (%s, ms_version, ms_from, ms_to, ms_epoch)
			SELECT %s, r.ms_version, OLD.ms_master, NEW.ms_master, NULL FROM %s r WHERE %s;
		END IF;
	ELSE
		UPDATE %s r SET ms_version = r.ms_version + 1, ms_origin = ms_c.local, ms_epoch = NULL, ms_deleted = 1, ms_hash = NULL
		WHERE %s AND r.ms_deleted = 0;
		IF NOT FOUND THEN
			RAISE EXCEPTION USING MESSAGE = %s;
		END IF;
	END IF;
	RETURN NULL;
END
$ms$`, capture, pgApplying,
			S, d.keyList(t, ""), d.keyList(t, "NEW."), d.Fingerprint(t, "NEW."), d.keyList(t, ""),
			S, d.Fingerprint(t, "NEW."), d.keyMatch(t, "r.", "NEW."), literal(noShadowMessage(t)),
			X, d.keyList(t, ""), d.keyList(t, "NEW."), S, d.keyMatch(t, "r.", "NEW."),
			S, d.keyMatch(t, "r.", "OLD."), literal(noShadowMessage(t)))),
		fmt.Sprintf(`CREATE TRIGGER %s AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION %s()`, capture, T, capture),
		// ALWAYS: they fire under session_replication_role = replica too.
		fmt.Sprintf(`ALTER TABLE %s ENABLE ALWAYS TRIGGER %s`, T, enforce),
		fmt.Sprintf(`ALTER TABLE %s ENABLE ALWAYS TRIGGER %s`, T, capture),
	}
}

// Uninject drops the triggers and their functions, the shadow and transfer
// log and the mastership field.
func (d PostgresDialect) Uninject(t Table) []string {
	var stmts []string
	for _, n := range d.TriggerNames(t) {
		stmts = append(stmts, fmt.Sprintf("DROP TRIGGER IF EXISTS %s ON %s", d.Quote(n), d.Quote(t.Name)),
			fmt.Sprintf("DROP FUNCTION IF EXISTS %s()", d.Quote(n)))
	}
	return append(stmts,
		"DROP TABLE IF EXISTS "+d.Quote(Xfer(d, t.Name)),
		"DROP TABLE IF EXISTS "+d.Quote(Shadow(d, t.Name)),
		// The key sequence the library made (keys.go), and with it the
		// default it gave the key column.
		"DROP SEQUENCE IF EXISTS "+d.Quote(KeySequence(d, t.Name))+" CASCADE",
		fmt.Sprintf("ALTER TABLE %s DROP COLUMN IF EXISTS %s", d.Quote(t.Name), MasterColumn),
	)
}

// Stage creates the temporary staging table with the user table's exact
// column types (a tombstone's non-key columns are NULL, so no NOT NULL).
// It disappears with the transaction if the import fails.
func (d PostgresDialect) Stage(t Table) []string {
	cols := joinMap(t.Columns, ", ", func(c Column) string { return d.Quote(c.Name) })
	S := d.Quote(StageName(d, t.Name))
	return []string{
		"DROP TABLE IF EXISTS pg_temp." + S,
		fmt.Sprintf(`CREATE TEMP TABLE %s AS SELECT %s, %s, NULL::BIGINT AS ms_version, NULL::TEXT AS ms_origin,
	NULL::TEXT AS ms_creator, NULL::BIGINT AS ms_epoch, NULL::INTEGER AS ms_deleted, NULL::BYTEA AS ms_proof FROM %s WITH NO DATA`, S, cols, MasterColumn, d.Quote(t.Name)),
		fmt.Sprintf("ALTER TABLE %s ADD COLUMN ms_apply INTEGER NOT NULL DEFAULT 0, ADD COLUMN ms_seq BIGSERIAL PRIMARY KEY", S),
	}
}

// DropStage drops the staging table.
func (d PostgresDialect) DropStage(t Table) string {
	return "DROP TABLE IF EXISTS pg_temp." + d.Quote(StageName(d, t.Name))
}

// Upsert inserts rows from query into t, replacing rows whose key exists.
func (d PostgresDialect) Upsert(t Table, cols []string, query string) string {
	return onConflictUpsert(d.Quote, t, cols, query)
}

// UpsertShadow inserts shadow entries from query, replacing entries whose
// key exists.
func (d PostgresDialect) UpsertShadow(t Table, query string) string {
	return onConflictUpsertShadow(d.Quote, Shadow(d, t.Name), t, query)
}

// SetApplying sets the transaction-local multisite.applying, which the
// triggers read and no other transaction sees; it ends with the
// transaction, committed or not. Switching on also writes ms_ctl's row,
// which an import's transaction held before this setting existed.
func (PostgresDialect) SetApplying(on bool) string {
	if on {
		return "WITH l AS (UPDATE ms_ctl SET applying = 0 RETURNING 1) SELECT set_config('multisite.applying', 'on', true) FROM l"
	}
	return "SELECT set_config('multisite.applying', 'off', true)"
}

// Insert returns a multi-row INSERT of cols into table.
func (d PostgresDialect) Insert(table string, cols []string, rows int) string {
	return insertRows(d.Quote, table, cols, rows)
}

// MaxParams is the protocol's limit of 65535 parameters.
func (PostgresDialect) MaxParams() int { return 65535 }

// InsertIgnore inserts rows, skipping keys that exist.
func (d PostgresDialect) InsertIgnore(table string, cols []string, rows int) string {
	return d.Insert(table, cols, rows) + " ON CONFLICT DO NOTHING"
}

// Raw returns expr unchanged: pgx returns typed values, which
// [PostgresDialect.Value] turns into the portable form.
func (PostgresDialect) Raw(expr string) string { return expr }

// DeferForeignKeys defers the checks of foreign keys declared DEFERRABLE;
// others are checked per statement, so a packet's rows must then arrive in
// an order that satisfies them.
func (PostgresDialect) DeferForeignKeys() string { return "SET CONSTRAINTS ALL DEFERRED" }

// Value turns a value pgx scanned from column c into the portable form.
func (PostgresDialect) Value(c Column, v any) (any, error) { return portable(KindOf(c.Type), v) }

// Arg turns a portable value into an argument pgx encodes for column c:
// 0 or 1 for a boolean becomes a bool, a number for a text column its
// decimal text, text for a bytea column its bytes. Text for any other type
// is sent in text format, which the server parses.
func (PostgresDialect) Arg(c Column, v any) any {
	k := KindOf(c.Type)
	switch x := v.(type) {
	case int64:
		switch k {
		case KindBool:
			return x != 0
		case KindText, KindOther, KindTimestamp, KindTimestampTZ, KindDate, KindTime:
			return strconv.FormatInt(x, 10)
		case KindFloat:
			return float64(x)
		case KindBlob:
			return []byte(strconv.FormatInt(x, 10))
		}
	case float64:
		switch k {
		case KindBool:
			return x != 0
		case KindText, KindOther, KindDecimal:
			return strconv.FormatFloat(x, 'f', -1, 64)
		case KindBlob:
			return []byte(strconv.FormatFloat(x, 'g', -1, 64))
		}
	case string:
		if k == KindBlob {
			return []byte(x)
		}
	case []byte:
		if k != KindBlob {
			return string(x)
		}
	}
	return v
}

// Seal stamps unsealed changes with the epoch (the one placeholder),
// skipping entries a writer has locked: such a writer commits its own NULL
// stamp later (or rolls back to a NULL one), which the next seal takes.
// Never waiting on writers also means seal and writers cannot deadlock.
func (d PostgresDialect) Seal(table string) string {
	T := d.Quote(table)
	return fmt.Sprintf("UPDATE %s SET ms_epoch = ? WHERE ctid = ANY (ARRAY(SELECT ctid FROM %s WHERE ms_epoch IS NULL FOR UPDATE SKIP LOCKED))", T, T)
}

// SnapshotTx reads in one REPEATABLE READ snapshot (READ COMMITTED, the
// default, takes a new one per statement).
func (PostgresDialect) SnapshotTx() *sql.TxOptions {
	return &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
}

// TransactionalDDL is true: a failed activation or creation leaves nothing.
func (PostgresDialect) TransactionalDDL() bool { return true }
