package dialect

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// MySQLDialect is MariaDB (10.5 or later) or MySQL (8.0 or later) through
// github.com/go-sql-driver/mysql, with InnoDB tables. The DSN needs no
// special parameter: parseTime may be on or off, multiStatements is not
// used. The library's objects live in the DSN's database.
//
// Differences from the other dialects, and why:
//
//   - Text keys compare byte for byte. MariaDB's and MySQL's default
//     collations are case- and accent-insensitive and utf8mb4_bin ignores
//     trailing spaces, which would silently merge the records "Proj-A",
//     "proj-a", "prój-a" and "Proj-A " of another replica into one.
//     Activation therefore changes the collation of text primary-key
//     columns to a binary NO PAD one (utf8mb4_nopad_bin on MariaDB,
//     utf8mb4_0900_bin on MySQL; the plan shows it), and the shadow,
//     transfer-log, staging and metadata tables use it too. A CHAR key,
//     whose trailing spaces MySQL strips, is refused ([LooseKeys]).
//   - DDL commits implicitly, so activation and replica creation are not
//     one transaction ([MySQLDialect.TransactionalDDL] is false; the engine
//     removes what a failed creation made). Imports are: the staging tables
//     are TEMPORARY, whose creation does not commit.
//   - The enforcement triggers read ms_ctl with a shared lock held to the
//     end of the writer's transaction. An import and a seal update ms_ctl
//     first, so they wait for writers in flight and writers wait for them:
//     the applying flag of an import is never seen by another writer, and a
//     seal never runs beside an uncommitted captured change (which InnoDB's
//     locking reads could otherwise turn into a deadlock). A writer
//     transaction that stays open holds up exports for as long, at most
//     innodb_lock_wait_timeout.
//   - Foreign keys are checked per statement: there is no deferred mode,
//     and foreign_key_checks is a session setting that would outlive a
//     failed import on a pooled connection.
//   - Text, decimal and temporal values come from the driver as bytes;
//     [MySQLDialect.Value] uses the column's declared type to make them
//     text (and blobs bytes).
type MySQLDialect struct{}

var _ Dialect = MySQLDialect{}

// Minimum server versions.
const (
	MinMariaDB = "10.5"
	MinMySQL   = "8.0"
)

// noPad is the binary NO PAD collation of utf8mb4, which compares keys
// byte for byte, trailing spaces included (utf8mb4_bin is PAD SPACE:
// 'Proj-A ' = 'Proj-A'): utf8mb4_0900_bin on MySQL 8, utf8mb4_nopad_bin
// on MariaDB (10.2 and later). The statement names both in executable
// comments: MySQL runs /*!80000 ...*/ and reads /*M!...*/ as a comment;
// MariaDB runs /*M!...*/ and skips MySQL's comments from version 5.7 on.
const noPad = "/*!80000 utf8mb4_0900_bin*/ /*M!100202 utf8mb4_nopad_bin*/"

// tableOptions are the options of every table the library creates.
const tableOptions = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=" + noPad

// binary is the collation clause of text key columns.
const binary = " CHARACTER SET utf8mb4 COLLATE " + noPad

// Name returns MySQL.
func (MySQLDialect) Name() Name { return MySQL }

// Quote quotes an identifier with backticks.
func (MySQLDialect) Quote(ident string) string {
	return "`" + strings.ReplaceAll(ident, "`", "``") + "`"
}

// Object returns prefix + name + suffix, shortened with a hash when longer
// than MySQL's 64 characters or its file name would be too long.
func (MySQLDialect) Object(prefix, name, suffix string) string {
	return objectName(myFits, prefix, name, suffix)
}

// Rebind leaves '?' placeholders as they are.
func (MySQLDialect) Rebind(q string) string { return sqlx.Rebind(sqlx.QUESTION, q) }

var versionNumber = regexp.MustCompile(`^(\d+)\.(\d+)`)

// Setup checks that the server is reachable and recent enough.
func (MySQLDialect) Setup(ctx context.Context, db *sql.DB) error {
	var v string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v); err != nil {
		return &UnreachableError{Dialect: MySQL, Err: err}
	}
	return checkMySQLVersion(v)
}

// checkMySQLVersion checks a VERSION() ("10.11.6-MariaDB", "8.0.36").
func checkMySQLVersion(v string) error {
	m := versionNumber.FindStringSubmatch(v)
	if m == nil {
		return fmt.Errorf("dialect: mysql server version %q not understood", v)
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	if strings.Contains(strings.ToLower(v), "mariadb") {
		if major < 10 || major == 10 && minor < 5 {
			return &ServerVersionError{Dialect: MySQL, Version: v, Min: "MariaDB " + MinMariaDB}
		}
	} else if major < 8 {
		return &ServerVersionError{Dialect: MySQL, Version: v, Min: "MySQL " + MinMySQL}
	}
	return nil
}

// Tables lists the base tables of the current database but the library's.
func (MySQLDialect) Tables(ctx context.Context, q Querier) ([]string, error) {
	return listNames(ctx, q, `SELECT TABLE_NAME FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' AND TABLE_NAME NOT LIKE 'ms\_%'
		ORDER BY BINARY TABLE_NAME`)
}

// myDefault keeps a default that is a plain literal. MariaDB's catalog
// quotes string defaults; MySQL's does not, and marks expressions
// DEFAULT_GENERATED.
func myDefault(def, extra string) string {
	def = strings.TrimSpace(def)
	switch {
	case def == "" || strings.EqualFold(def, "NULL"):
		return ""
	case strings.HasPrefix(strings.ToLower(def), "current_timestamp"):
		return "CURRENT_TIMESTAMP"
	case strings.Contains(strings.ToUpper(extra), "DEFAULT_GENERATED"):
		return ""
	case ValidDefault(def):
		return def
	case strings.ContainsAny(def, "()"):
		return ""
	}
	return literal(def)
}

// Describe reads a table of the current database from information_schema;
// types are COLUMN_TYPE's ("varchar(20)", "int(11)", "decimal(10,2)").
// Generated columns are left out.
//
// Two queries, each with the table name as a constant (besides the
// case-sensitive BINARY match): MariaDB then reads only that table's
// definition, where a join of COLUMNS with KEY_COLUMN_USAGE opened every
// table of the database (about 25 ms against 0.6 ms, on every export and
// import).
func (MySQLDialect) Describe(ctx context.Context, q Querier, table string) (Table, bool, error) {
	key := map[string]int{}
	krows, err := q.QueryContext(ctx, `SELECT COLUMN_NAME, SEQ_IN_INDEX FROM information_schema.STATISTICS
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND BINARY TABLE_NAME = BINARY ? AND INDEX_NAME = 'PRIMARY'`, table, table)
	if err != nil {
		return Table{}, false, err
	}
	for krows.Next() {
		var name string
		var pos int
		if err := krows.Scan(&name, &pos); err != nil {
			krows.Close()
			return Table{}, false, err
		}
		key[name] = pos
	}
	krows.Close()
	if err := krows.Err(); err != nil {
		return Table{}, false, err
	}
	rows, err := q.QueryContext(ctx, `SELECT c.COLUMN_NAME, c.COLUMN_TYPE, c.IS_NULLABLE = 'NO', coalesce(c.COLUMN_DEFAULT, ''), c.EXTRA
FROM information_schema.COLUMNS c
WHERE c.TABLE_SCHEMA = DATABASE() AND c.TABLE_NAME = ? AND BINARY c.TABLE_NAME = BINARY ?
ORDER BY c.ORDINAL_POSITION`, table, table)
	if err != nil {
		return Table{}, false, err
	}
	defer rows.Close()
	t := Table{Name: table}
	n := 0
	for rows.Next() {
		var c Column
		var extra string
		if err := rows.Scan(&c.Name, &c.Type, &c.NotNull, &c.Default, &extra); err != nil {
			return Table{}, false, err
		}
		c.Key = key[c.Name]
		n++
		x := strings.ToUpper(extra)
		if c.Name == MasterColumn || strings.Contains(x, "VIRTUAL") || strings.Contains(x, "PERSISTENT") || strings.Contains(x, "STORED") {
			continue
		}
		c.Default = myDefault(c.Default, extra)
		t.Columns = append(t.Columns, c)
	}
	if err := rows.Err(); err != nil {
		return Table{}, false, err
	}
	return t, n > 0, nil
}

// Meta returns the metadata tables: SQLite's, with MySQL's types (TEXT
// becomes VARCHAR(255), which keys need, but for long values), and
// binary-collated so that keys recorded in ms_conflict stay apart as they
// do in the tables.
func (d MySQLDialect) Meta() []string {
	return translateMeta(func(name, typ string) string {
		switch {
		case typ == "INTEGER":
			return "BIGINT"
		case typ == "TEXT" && (name == "columns" || name == "image"):
			return "LONGTEXT"
		case typ == "TEXT":
			return "VARCHAR(255)"
		}
		return typ
	}, map[string]bool{"key": true}, tableOptions)
}

// DropMeta removes the metadata tables.
func (MySQLDialect) DropMeta() []string { return SQLiteDialect{}.DropMeta() }

// Type maps a declared type of any vendor to MySQL's. Integers are BIGINT
// (but SMALLINT), floats DOUBLE (MySQL's FLOAT is 32-bit), a DECIMAL
// without precision DECIMAL(65,30) (MySQL's default scale is 0), text
// without a length LONGTEXT or, in a key, VARCHAR(255); blobs LONGBLOB or,
// in a key, VARBINARY(255); timestamps DATETIME(6). Text key columns are
// VARCHAR (CHAR strips trailing spaces), binary-collated and NO PAD.
func (MySQLDialect) Type(typ string, key bool) string {
	base, params := baseType(typ)
	unsigned := ""
	if strings.Contains(base, "UNSIGNED") {
		unsigned = " UNSIGNED"
	}
	switch KindOf(typ) {
	case KindInt:
		if strings.HasPrefix(base, "SMALLINT") || base == "INT2" {
			return "SMALLINT" + unsigned
		}
		return "BIGINT" + unsigned
	case KindBool:
		return "BOOLEAN"
	case KindFloat:
		return "DOUBLE"
	case KindDecimal:
		if params == "" {
			return "DECIMAL(65,30)"
		}
		return "DECIMAL" + params
	case KindText:
		n := 0
		if params != "" && strings.Contains(base, "CHAR") {
			n, _ = strconv.Atoi(strings.Trim(params, "()"))
		}
		fixed := !strings.Contains(base, "VAR") && (strings.HasPrefix(base, "CHAR") || strings.HasPrefix(base, "NCHAR"))
		switch {
		case key && (n == 0 || n > 768):
			return "VARCHAR(255)" + binary
		case key: // not CHAR, which strips trailing spaces
			return fmt.Sprintf("VARCHAR(%d)", n) + binary
		case n > 0 && fixed && n <= 255:
			return fmt.Sprintf("CHAR(%d)", n)
		case n > 0 && n <= 16383:
			return fmt.Sprintf("VARCHAR(%d)", n)
		}
		return "LONGTEXT"
	case KindBlob:
		if strings.Contains(base, "BINARY") && params != "" {
			return base + params
		}
		if key {
			return "VARBINARY(255)"
		}
		return "LONGBLOB"
	case KindTimestamp, KindTimestampTZ:
		if params == "" {
			params = "(6)"
		}
		return "DATETIME" + params
	case KindDate:
		return "DATE"
	case KindTime:
		if params == "" {
			params = "(6)"
		}
		return "TIME" + params
	}
	if base == "JSON" {
		return "JSON"
	}
	if key {
		return "VARCHAR(255)" + binary
	}
	return "LONGTEXT"
}

func (d MySQLDialect) colDef(c Column, withDefault bool) string {
	s := d.Quote(c.Name) + " " + d.Type(c.Type, c.Key > 0)
	if c.NotNull || c.Key > 0 {
		s += " NOT NULL"
	}
	if withDefault && c.Default != "" {
		s += " DEFAULT (" + c.Default + ")"
	}
	return s
}

func (d MySQLDialect) keyList(t Table, prefix string) string {
	return keyList(d.Quote, t, prefix)
}

func (d MySQLDialect) keyMatch(t Table, a, b string) string {
	return keyMatch(d.Quote, t, a, b)
}

// CreateTable creates a user table from its portable form, with types
// mapped by [MySQLDialect.Type].
func (d MySQLDialect) CreateTable(t Table, local string) string {
	defs := joinMap(t.Columns, ",\n\t", func(c Column) string {
		if t.IntegerKey() && c.Key > 0 {
			// The BEFORE INSERT trigger gives a keyless INSERT its key
			// from the key sequence (keys.go); AUTO_INCREMENT, which then
			// never counts, makes the driver's LastInsertId report it, as
			// at an origin whose key was AUTO_INCREMENT.
			return d.colDef(c, false) + " AUTO_INCREMENT"
		}
		return d.colDef(c, true)
	})
	return fmt.Sprintf("CREATE TABLE %s (\n\t%s,\n\t%s VARCHAR(64) NOT NULL DEFAULT %s,\n\tPRIMARY KEY (%s)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
		d.Quote(t.Name), defs, MasterColumn, literal(local), d.keyList(t, ""))
}

func (d MySQLDialect) shadowDDL(t Table) []string {
	keys := joinMap(t.Keys(), ",\n\t", func(c Column) string { return d.colDef(c, false) })
	return []string{
		fmt.Sprintf(`CREATE TABLE %s (
	%s,
	ms_version BIGINT NOT NULL,
	ms_master VARCHAR(64) NOT NULL,
	ms_origin VARCHAR(64) NOT NULL,
	ms_creator VARCHAR(64) NOT NULL,
	ms_epoch BIGINT,
	ms_deleted INT NOT NULL DEFAULT 0,
	ms_hash CHAR(32),
	ms_proof VARBINARY(64),
	PRIMARY KEY (%s),
	INDEX ms_epoch (ms_origin, ms_epoch)
)`+tableOptions, d.Quote(Shadow(d, t.Name)), keys, d.keyList(t, "")),
		fmt.Sprintf(`CREATE TABLE %s (
	%s,
	ms_version BIGINT NOT NULL,
	ms_from VARCHAR(64) NOT NULL,
	ms_to VARCHAR(64) NOT NULL,
	ms_epoch BIGINT,
	ms_proof VARBINARY(64),
	PRIMARY KEY (%s, ms_version),
	INDEX ms_epoch (ms_from, ms_epoch)
)`+tableOptions, d.Quote(Xfer(d, t.Name)), keys, d.keyList(t, "")),
	}
}

// Inject adds the mastership field, makes text key columns binary-collated
// (see [MySQLDialect]), creates the shadow and transfer log, and records
// every existing row as a local change.
func (d MySQLDialect) Inject(t Table, local string) []string {
	alter := []string{fmt.Sprintf("ADD COLUMN %s VARCHAR(64) NOT NULL DEFAULT %s", MasterColumn, literal(local))}
	for _, k := range t.Keys() {
		if KindOf(k.Type) != KindText {
			continue
		}
		def := d.Quote(k.Name) + " " + k.Type + binary + " NOT NULL"
		if k.Default != "" {
			def += " DEFAULT (" + k.Default + ")"
		}
		alter = append(alter, "MODIFY COLUMN "+def)
	}
	stmts := []string{fmt.Sprintf("ALTER TABLE %s %s", d.Quote(t.Name), strings.Join(alter, ", "))}
	stmts = append(stmts, d.shadowDDL(t)...)
	return append(stmts, fmt.Sprintf(
		"INSERT INTO %s (%s, ms_version, ms_master, ms_origin, ms_creator, ms_epoch, ms_deleted, ms_hash) SELECT %s, 1, %s, %s, %s, NULL, 0, %s FROM %s t",
		d.Quote(Shadow(d, t.Name)), d.keyList(t, ""), d.keyList(t, "t."), literal(local), literal(local), literal(local), d.Fingerprint(t, "t."), d.Quote(t.Name)))
}

// Fingerprint is the MD5 of the row's values, each quoted (QUOTE gives
// NULL as the bare word, distinct from the string 'NULL').
func (d MySQLDialect) Fingerprint(t Table, row string) string {
	parts := make([]string, 0, len(t.Columns)+1)
	for _, c := range t.Columns {
		parts = append(parts, "QUOTE("+row+d.Quote(c.Name)+")")
	}
	parts = append(parts, "QUOTE("+row+MasterColumn+")")
	return "MD5(CONCAT_WS(',', " + strings.Join(parts, ", ") + "))"
}

// ShadowDDL is the shadow and transfer-log DDL alone.
func (d MySQLDialect) ShadowDDL(t Table) []string { return d.shadowDDL(t) }

// TriggerNames lists the triggers Triggers creates.
func (d MySQLDialect) TriggerNames(t Table) []string {
	var ns []string
	for _, s := range []string{"bi", "ai", "bu", "au", "bd", "ad"} {
		ns = append(ns, triggerName(d, t.Name, s))
	}
	return ns
}

func (d MySQLDialect) keyText(t Table, row string) string {
	return "CONCAT_WS(','" + joinMap(t.Keys(), "", func(c Column) string { return ", " + row + "." + d.Quote(c.Name) }) + ")"
}

// signal raises msg (an expression) as SQLSTATE 45000.
func signal(msg string) string {
	return "SET ms_msg = " + msg + ";\n\t\t\tSIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = ms_msg;"
}

func (d MySQLDialect) notMaster(t Table, row, master string) string {
	return signal(fmt.Sprintf("CONCAT('multisite: not master: ', %s, '[', %s, '] is mastered by ', %s, ' (', coalesce((SELECT name FROM ms_replica WHERE id = %s), '?'), '), not ', ms_local, '; ask the master to transfer it')",
		myLiteral(t.Name), d.keyText(t, row), master, master))
}

const myStateCheck = `IF ms_state <> 'active' THEN
			` + "SET ms_msg = CONCAT('multisite: replica ', ms_local, ' is ', ms_state, '; local writes are refused until it is made active');\n\t\t\tSIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = ms_msg;" + `
		END IF;`

// myDeclare declares the trigger variables and reads ms_ctl with a shared
// lock kept to the end of the transaction (see [MySQLDialect]), and the
// session's @ms_applying, which only the library's import sets, on its own
// connection (see SetApplying).
const myDeclare = `DECLARE ms_applying INT;
	DECLARE ms_state, ms_local, ms_m VARCHAR(64);
	DECLARE ms_lo, ms_hi BIGINT;
	DECLARE ms_msg VARCHAR(1024);
	SELECT coalesce(@ms_applying, 0), state, local, key_lo, key_hi INTO ms_applying, ms_state, ms_local, ms_lo, ms_hi FROM ms_ctl WHERE id = 1 LOCK IN SHARE MODE;`

// Triggers returns the enforcement (BEFORE) and capture (AFTER) triggers,
// one per event and timing. They stand aside while the session's
// @ms_applying is set, which only the library's import sets, on its own
// session.
func (d MySQLDialect) Triggers(t Table) []string {
	q := d.Quote
	T, S, X := q(t.Name), q(Shadow(d, t.Name)), q(Xfer(d, t.Name))
	n := d.TriggerNames(t)
	keys, newKeys := d.keyList(t, ""), d.keyList(t, "NEW.")
	pkChanged := joinMap(t.Keys(), " OR ", func(c Column) string {
		return "NOT (NEW." + q(c.Name) + " <=> OLD." + q(c.Name) + ")"
	})
	var rangeCheck string
	if t.IntegerKey() {
		// AFTER INSERT: an AUTO_INCREMENT key is assigned after BEFORE triggers.
		k := q(t.Keys()[0].Name)
		rangeCheck = fmt.Sprintf(`IF NEW.%s NOT BETWEEN ms_lo AND ms_hi THEN
			%s
		END IF;
		`, k, signal(fmt.Sprintf("CONCAT('multisite: key ', %s, '[', NEW.%s, '] is outside the key range [', ms_lo, ', ', ms_hi, '] of replica ', ms_local, '; allocate new keys with multisite.NextID')", myLiteral(t.Name), k)))
	}
	trigger := func(name, timing, event, body string) string {
		return fmt.Sprintf("CREATE TRIGGER %s %s %s ON %s FOR EACH ROW\nBEGIN\n\t%s\n\tIF ms_applying = 0 THEN\n\t\t%s\n\tEND IF;\nEND",
			q(name), timing, event, T, myDeclare, body)
	}
	return []string{
		trigger(n[0], "BEFORE", "INSERT", fmt.Sprintf(`%s%s
		IF NOT (NEW.ms_master <=> ms_local) THEN
			%s
		END IF;`, d.takeKey(t), myStateCheck, d.notMaster(t, "NEW", "NEW.ms_master"))),
		// The shadow entry of a key that existed (a tombstone) is looked
		// at only after the upsert has locked it: a read of a missing key
		// here would take a gap lock, and two writers inserting new keys
		// would deadlock on each other's gap. The upsert leaves an entry
		// mastered elsewhere as it was, and the check then refuses the row.
		// The key-range check comes after the tombstone's, so a write to a
		// key mastered elsewhere is refused as ErrNotMaster, as on the other
		// dialects.
		trigger(n[1], "AFTER", "INSERT", fmt.Sprintf(`INSERT INTO %s (%s, ms_version, ms_master, ms_origin, ms_creator, ms_epoch, ms_deleted, ms_hash)
		VALUES (%s, 1, NEW.ms_master, ms_local, ms_local, NULL, 0, %s)
		ON DUPLICATE KEY UPDATE ms_version = IF(ms_master = VALUES(ms_master), ms_version + 1, ms_version),
			ms_origin = IF(ms_master = VALUES(ms_master), VALUES(ms_origin), ms_origin),
			ms_epoch = IF(ms_master = VALUES(ms_master), NULL, ms_epoch),
			ms_hash = IF(ms_master = VALUES(ms_master), VALUES(ms_hash), ms_hash),
			ms_deleted = IF(ms_master = VALUES(ms_master), 0, ms_deleted);
		SET ms_m = (SELECT r.ms_master FROM %s r WHERE %s);
		IF ms_m <> ms_local THEN
			%s
		END IF;
		%s`, S, keys, newKeys, d.Fingerprint(t, "NEW."), S, d.keyMatch(t, "r.", "NEW."), d.notMaster(t, "NEW", "ms_m"), rangeCheck)),
		trigger(n[2], "BEFORE", "UPDATE", fmt.Sprintf(`%s
		IF NOT (OLD.ms_master <=> ms_local) THEN
			%s
		END IF;
		IF %s THEN
			%s
		END IF;
		IF NOT (NEW.ms_master <=> OLD.ms_master) AND NOT EXISTS (SELECT 1 FROM ms_replica WHERE id = NEW.ms_master AND state <> 'removed') THEN
			%s
		END IF;`, myStateCheck, d.notMaster(t, "OLD", "OLD.ms_master"), pkChanged,
			signal(fmt.Sprintf("CONCAT('multisite: the primary key of replicated table ', %s, ' cannot change; delete the row and insert a new one')", myLiteral(t.Name))),
			signal(fmt.Sprintf("CONCAT('multisite: cannot transfer ', %s, '[', %s, '] to unknown or removed replica ', coalesce(NEW.ms_master, 'NULL'))", myLiteral(t.Name), d.keyText(t, "OLD"))))),
		trigger(n[3], "AFTER", "UPDATE", fmt.Sprintf(`UPDATE %s SET ms_version = ms_version + 1, ms_master = NEW.ms_master,
			ms_origin = ms_local, ms_epoch = NULL, ms_hash = %s WHERE %s AND ms_deleted = 0;
		IF ROW_COUNT() = 0 THEN
			%s
		END IF;
		IF NOT (OLD.ms_master <=> NEW.ms_master) THEN
			INSERT INTO %s (%s, ms_version, ms_from, ms_to, ms_epoch)
			SELECT %s, r.ms_version, OLD.ms_master, NEW.ms_master, NULL FROM %s r WHERE %s;
		END IF;`, S, d.Fingerprint(t, "NEW."), d.keyMatch(t, S+".", "NEW."), signal(myLiteral(noShadowMessage(t))),
			X, keys, newKeys, S, d.keyMatch(t, "r.", "NEW."))),
		trigger(n[4], "BEFORE", "DELETE", fmt.Sprintf(`%s
		IF NOT (OLD.ms_master <=> ms_local) THEN
			%s
		END IF;`, myStateCheck, d.notMaster(t, "OLD", "OLD.ms_master"))),
		trigger(n[5], "AFTER", "DELETE", fmt.Sprintf(`UPDATE %s SET ms_version = ms_version + 1, ms_origin = ms_local,
			ms_epoch = NULL, ms_deleted = 1, ms_hash = NULL WHERE %s AND ms_deleted = 0;
		IF ROW_COUNT() = 0 THEN
			%s
		END IF;`, S, d.keyMatch(t, S+".", "OLD."), signal(myLiteral(noShadowMessage(t))))),
	}
}

// Uninject drops the triggers, shadow and transfer log and the mastership
// field. Key columns keep their binary collation.
func (d MySQLDialect) Uninject(t Table) []string {
	var stmts []string
	for _, n := range d.TriggerNames(t) {
		stmts = append(stmts, "DROP TRIGGER IF EXISTS "+d.Quote(n))
	}
	return append(stmts,
		"DROP TABLE IF EXISTS "+d.Quote(Xfer(d, t.Name)),
		"DROP TABLE IF EXISTS "+d.Quote(Shadow(d, t.Name)),
		"DROP SEQUENCE IF EXISTS "+d.Quote(KeySequence(d, t.Name)),
		fmt.Sprintf("ALTER TABLE %s DROP COLUMN IF EXISTS %s", d.Quote(t.Name), MasterColumn),
	)
}

// takeKey is the start of the BEFORE INSERT trigger of a table with an
// integer key: an INSERT that leaves the key out (NULL, or 0 for an
// AUTO_INCREMENT column, which a BEFORE trigger sees before InnoDB
// assigns it) gets the next key of the table's sequence (keys.go).
func (d MySQLDialect) takeKey(t Table) string {
	if !t.IntegerKey() {
		return ""
	}
	k := "NEW." + d.Quote(t.Keys()[0].Name)
	return fmt.Sprintf("IF %s IS NULL OR %s = 0 THEN\n\t\t\tSET %s = NEXT VALUE FOR %s;\n\t\tEND IF;\n\t\t", k, k, k, d.Quote(KeySequence(d, t.Name)))
}

// Stage creates the TEMPORARY staging table (which does not commit the
// import's transaction). MySQL cannot open a temporary table twice in one
// statement; the import's statements each name it once.
func (d MySQLDialect) Stage(t Table) []string {
	cols := joinMap(t.Columns, ", ", func(c Column) string { return d.Quote(c.Name) + " " + d.Type(c.Type, c.Key > 0) })
	return []string{
		d.DropStage(t),
		fmt.Sprintf(`CREATE TEMPORARY TABLE %s (%s, ms_master VARCHAR(64), ms_version BIGINT, ms_origin VARCHAR(64), ms_creator VARCHAR(64),
	ms_epoch BIGINT, ms_deleted INT, ms_proof VARBINARY(64), ms_apply INT NOT NULL DEFAULT 0, ms_seq BIGINT AUTO_INCREMENT PRIMARY KEY,
	INDEX ms_key (%s))`+tableOptions,
			d.Quote(StageName(d, t.Name)), cols, d.keyList(t, "")),
	}
}

// DropStage drops the staging table.
func (d MySQLDialect) DropStage(t Table) string {
	return "DROP TEMPORARY TABLE IF EXISTS " + d.Quote(StageName(d, t.Name))
}

// Upsert inserts rows from query into t, replacing rows whose key exists.
func (d MySQLDialect) Upsert(t Table, cols []string, query string) string {
	var set []string
	for _, c := range cols {
		if _, isKey := keyCol(t, c); !isKey {
			set = append(set, fmt.Sprintf("%s = VALUES(%s)", d.Quote(c), d.Quote(c)))
		}
	}
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = d.Quote(c)
	}
	if len(set) == 0 {
		k := d.Quote(t.Keys()[0].Name)
		set = append(set, k+" = "+k)
	}
	return fmt.Sprintf("INSERT INTO %s (%s) %s ON DUPLICATE KEY UPDATE %s",
		d.Quote(t.Name), strings.Join(quoted, ", "), query, strings.Join(set, ", "))
}

// UpsertShadow inserts shadow entries from query, replacing entries whose
// key exists.
func (d MySQLDialect) UpsertShadow(t Table, query string) string {
	return fmt.Sprintf(`INSERT INTO %s (%s, ms_version, ms_master, ms_origin, ms_creator, ms_epoch, ms_deleted, ms_proof) %s
ON DUPLICATE KEY UPDATE ms_version = VALUES(ms_version), ms_master = VALUES(ms_master),
	ms_origin = VALUES(ms_origin), ms_creator = VALUES(ms_creator), ms_epoch = VALUES(ms_epoch),
	ms_deleted = VALUES(ms_deleted), ms_proof = VALUES(ms_proof), ms_hash = NULL`, d.Quote(Shadow(d, t.Name)), d.keyList(t, ""), query)
}

// SetApplying sets (on) or clears (off) the session variable @ms_applying
// the triggers read, which no other session sees. Switching on is an
// update of ms_ctl's row, whose lock it holds to the end of the import,
// so writers (whose triggers read ms_ctl with a shared lock) wait for it
// as before. A session variable outlives a transaction: the engine clears
// it on every path out of the import, failures included.
func (MySQLDialect) SetApplying(on bool) string {
	if on {
		return "UPDATE ms_ctl SET applying = LEAST(@ms_applying := 1, 0) WHERE id = 1"
	}
	return "SET @ms_applying = NULL"
}

// Insert returns a multi-row INSERT of cols into table.
func (d MySQLDialect) Insert(table string, cols []string, rows int) string {
	return insertRows(d.Quote, table, cols, rows)
}

// MaxParams is the protocol's limit of 65535 placeholders per statement.
func (MySQLDialect) MaxParams() int { return 65535 }

// InsertIgnore inserts rows, leaving a row whose key exists as it is. It
// is not INSERT IGNORE, which would also turn bad data into warnings.
func (d MySQLDialect) InsertIgnore(table string, cols []string, rows int) string {
	c := d.Quote(cols[0])
	return d.Insert(table, cols, rows) + " ON DUPLICATE KEY UPDATE " + c + " = " + c
}

// Raw returns expr unchanged: [MySQLDialect.Value] makes the driver's
// bytes portable by the column's type.
func (MySQLDialect) Raw(expr string) string { return expr }

// DeferForeignKeys does nothing (see [MySQLDialect]).
func (MySQLDialect) DeferForeignKeys() string { return "DO 0" }

// Value turns a value the driver scanned from column c into the portable
// form: bytes become text unless the column is binary.
func (MySQLDialect) Value(c Column, v any) (any, error) { return portable(KindOf(c.Type), v) }

// Arg turns a portable value into an argument for column c: temporal text
// in the form MySQL reads ("2006-01-02 15:04:05.999999", an instant in
// UTC), a boolean's text as 0 or 1.
func (MySQLDialect) Arg(c Column, v any) any {
	k := KindOf(c.Type)
	switch x := v.(type) {
	case string:
		switch k {
		case KindTimestamp, KindDate, KindTime:
			return canonicalTemporal(k, x)
		case KindTimestampTZ:
			if t, _, ok := parseTimestamp(x); ok {
				return t.UTC().Format(timestampLayout)
			}
		case KindBool:
			if b, ok := parseBool(x); ok {
				return boolInt(b)
			}
		case KindBlob:
			return []byte(x)
		}
	case time.Time:
		return x.UTC().Format(timestampLayout)
	}
	return v
}

// Seal stamps unsealed changes with the epoch. No writer is in flight: the
// seal's update of ms_ctl waited for their shared locks.
func (d MySQLDialect) Seal(table string) string {
	return fmt.Sprintf("UPDATE %s SET ms_epoch = ? WHERE ms_epoch IS NULL", d.Quote(table))
}

// SnapshotTx reads in one consistent snapshot.
func (MySQLDialect) SnapshotTx() *sql.TxOptions {
	return &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
}

// TransactionalDDL is false: MySQL commits before and after every DDL
// statement.
func (MySQLDialect) TransactionalDDL() bool { return false }
