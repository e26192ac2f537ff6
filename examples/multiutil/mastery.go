package main

import (
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/replica"
)

// keyFlag adds a repeatable --key flag collecting primary key values.
func keyFlag(fs *flag.FlagSet, keys *[][]any) {
	fs.Func("key", "primary key `value` of one row, comma-separated for a composite key (CSV quoting for a value with a comma); repeat for more rows", func(s string) error {
		vals, err := csv.NewReader(strings.NewReader(s)).Read()
		if err != nil {
			return fmt.Errorf("bad key %q: %v", s, err)
		}
		var k []any
		for _, v := range vals {
			k = append(k, v)
		}
		*keys = append(*keys, k)
		return nil
	})
}

// keyText writes a key the way messages show it: its values,
// comma-separated.
func keyText(key []any) string {
	parts := make([]string, len(key))
	for i, v := range key {
		if b, ok := v.([]byte); ok {
			v = string(b)
		}
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, ",")
}

// nameOf names a replica by the registry: its name, or its ID if the
// registry does not know it.
func nameOf(st *multisite.Status, id replica.ID) string {
	for _, r := range st.Replicas {
		if r.ID == id {
			return r.Name
		}
	}
	if id == "" {
		return "nobody"
	}
	return string(id)
}

// checkTable refuses a table that is not replicated, naming those that are.
func checkTable(st *multisite.Status, table string) error {
	if slices.Contains(st.Tables, table) {
		return nil
	}
	return &exitError{code: exitFail, err: fmt.Errorf("%s is not a replicated table; replicated: %s", table, strings.Join(st.Tables, ", "))}
}

// mastersOf maps every row of table (by keyText) to its master.
func mastersOf(ctx context.Context, db *sql.DB, st *multisite.Status, table string) (map[string]replica.ID, error) {
	m := map[string]replica.ID{}
	for _, r := range st.Replicas {
		err := multisite.MasteredRows(ctx, db, r.ID, []string{table}, func(row multisite.MasteredRow) error {
			m[keyText(row.Key)] = row.Master
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return m, nil
}

// --- chmaster ------------------------------------------------------------

type chmasterJSON struct {
	Table       string     `json:"table"`
	To          string     `json:"to"`
	ToID        string     `json:"to_id"`
	DryRun      bool       `json:"dry_run"`
	Rows        [][]any    `json:"rows"`
	Transferred int        `json:"transferred"`
	Skipped     []skipJSON `json:"skipped,omitempty"`
}

type skipJSON struct {
	Key    []any  `json:"key"`
	Master string `json:"master"`
}

func cmdChmaster(e *env, args []string) error {
	fs := newFlags(e, "chmaster")
	dbPath := fs.String("db", "", "database `file` of the replica that masters the rows"+dbKinds)
	table := fs.String("table", "", "replicated `table`")
	to := fs.String("to", "", "`replica` (name or ID) to hand the rows to")
	var keys [][]any
	keyFlag(fs, &keys)
	all := fs.Bool("all", false, "every row of the table this replica masters")
	where := fs.String("where", "", "SQL `condition` on the table's columns selecting the rows (with or without --all); rows mastered elsewhere are skipped and named")
	dry := fs.Bool("dry-run", false, "list the rows that would move, and move nothing")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(e, fs, args, false); err != nil {
		return err
	}
	if err := required("db", "table", "to")(fs); err != nil {
		return err
	}
	if len(keys) == 0 && !*all && *where == "" {
		return usagef("name the rows: --key (repeatable), --all or --where")
	}
	if len(keys) > 0 && (*all || *where != "") {
		return usagef("--key names rows itself; leave out --all and --where")
	}
	db, st, err := openStatus(e, *dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	target, err := resolveReplica(st, *to)
	if err != nil {
		return err
	}
	if target.ID == st.Local.ID {
		return usagef("%s is the local replica; --to names the replica to hand the rows to", target.Name)
	}
	if err := checkTable(st, *table); err != nil {
		return err
	}
	out := chmasterJSON{Table: *table, To: target.Name, ToID: string(target.ID), DryRun: *dry, Rows: [][]any{}}
	switch {
	case *where != "":
		sel, err := selectKeys(e.ctx, db, *dbPath, *table, *where)
		if err != nil {
			return err
		}
		masters, err := mastersOf(e.ctx, db, st, *table)
		if err != nil {
			return err
		}
		for _, k := range sel {
			if m := masters[keyText(k)]; m == st.Local.ID {
				keys = append(keys, k)
			} else {
				out.Skipped = append(out.Skipped, skipJSON{Key: k, Master: nameOf(st, m)})
			}
		}
	case *all:
		err := multisite.MasteredRows(e.ctx, db, st.Local.ID, []string{*table}, func(r multisite.MasteredRow) error {
			keys = append(keys, r.Key)
			return nil
		})
		if err != nil {
			return err
		}
	}
	if keys != nil {
		out.Rows = keys
	}
	if len(keys) > 0 && !*dry {
		// Key values from --key go as text; SQLite's column affinity
		// compares them with integer keys as numbers.
		n, err := multisite.TransferMastership(e.ctx, db, *table, target.ID, keys...)
		if err != nil {
			return err
		}
		out.Transferred = n
	}
	if *asJSON {
		return writeJSON(e.stdout, out)
	}
	for _, s := range out.Skipped {
		fmt.Fprintf(e.stdout, "%s[%s]: skipped, mastered by %s\n", *table, keyText(s.Key), s.Master)
	}
	switch {
	case *dry:
		for _, k := range keys {
			fmt.Fprintf(e.stdout, "%s[%s]: would go to %s\n", *table, keyText(k), target.Name)
		}
		fmt.Fprintf(e.stdout, "dry run: %d rows of %s would be handed from %s to %s; nothing changed\n", len(keys), *table, st.Local.Name, target.Name)
	case len(keys) == 0:
		fmt.Fprintf(e.stdout, "%s: no row to hand over: %s masters none of them\n", *table, st.Local.Name)
	default:
		fmt.Fprintf(e.stdout, "%s: %d of %d rows handed from %s to %s; the transfer travels in the next packet to %s\n", *table, out.Transferred, len(keys), st.Local.Name, target.Name, target.Name)
	}
	return nil
}

// selectKeys returns the primary keys of table's rows that match where.
// The condition is the administrator's own SQL, run as it is on their own
// database; the table was checked to be a replicated one.
func selectKeys(ctx context.Context, db *sql.DB, dbPath, table, where string) ([][]any, error) {
	cols, err := keyColumns(ctx, db, dbPath, table)
	if err != nil {
		return nil, err
	}
	q := quoteFor(dbPath)
	qc := make([]string, len(cols))
	for i, c := range cols {
		qc[i] = q(c)
	}
	rows, err := db.QueryContext(ctx, fmt.Sprintf("SELECT %s FROM %s WHERE %s ORDER BY %s", strings.Join(qc, ", "), q(table), where, strings.Join(qc, ", ")))
	if err != nil {
		return nil, &exitError{code: exitFail, err: fmt.Errorf("--where %q: %w", where, err)}
	}
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				vals[i] = string(b)
			}
		}
		out = append(out, vals)
	}
	return out, rows.Err()
}

// keyColumns reads table's primary key columns, in key order, from the
// database's catalog.
func keyColumns(ctx context.Context, db *sql.DB, dbPath, table string) ([]string, error) {
	var query string
	var arg any = table
	driver, _, _ := server(dbPath)
	switch driver {
	case "pgx":
		query = `SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
WHERE i.indrelid = to_regclass($1) AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)`
		arg = quoteFor(dbPath)(table)
	case "mysql":
		query = `SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION`
	default:
		query = `SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk`
	}
	rows, err := db.QueryContext(ctx, query, arg)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("%s has no primary key", table)
	}
	return cols, nil
}

// quoteFor returns the identifier quoting of the database dbPath names.
func quoteFor(dbPath string) func(string) string {
	if driver, _, _ := server(dbPath); driver == "mysql" {
		return func(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
	}
	return func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
}

// --- lsmaster ------------------------------------------------------------

type lsmasterJSON struct {
	Local     string                    `json:"local"`
	Counts    map[string]map[string]int `json:"counts"` // table -> replica name -> rows
	Rows      []masteredRowJSON         `json:"rows,omitempty"`
	Truncated bool                      `json:"truncated,omitempty"`
	Transfers []transferJSON            `json:"transfers_in_flight"`
	Requests  []requestFlightJSON       `json:"requests_in_flight"`
}

type masteredRowJSON struct {
	Table  string `json:"table"`
	Key    []any  `json:"key"`
	Master string `json:"master"`
}

type transferJSON struct {
	Table string `json:"table"`
	Key   []any  `json:"key"`
	From  string `json:"from"`
	To    string `json:"to"`
	Epoch uint64 `json:"epoch"`
}

type requestFlightJSON struct {
	ID     string `json:"id"`
	Table  string `json:"table"`
	Key    []any  `json:"key"`
	From   string `json:"from"`
	Master string `json:"master"`
	State  string `json:"state"`
}

func cmdLsmaster(e *env, args []string) error {
	fs := newFlags(e, "lsmaster")
	dbPath := fs.String("db", "", "database `file` of a replica"+dbKinds)
	tables := fs.String("table", "", "only these `tables`, comma-separated")
	rowsOf := fs.String("rows", "", "also list the rows this `replica` (name or ID) masters")
	limit := fs.Int("limit", 1000, "at most `N` rows with --rows")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(e, fs, args, false); err != nil {
		return err
	}
	if err := required("db")(fs); err != nil {
		return err
	}
	if *limit < 1 {
		return usagef("--limit must be at least 1")
	}
	db, st, err := openStatus(e, *dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	opt := multisite.MasteryOptions{Tables: splitList(*tables), Limit: *limit}
	for _, t := range opt.Tables {
		if err := checkTable(st, t); err != nil {
			return err
		}
	}
	if *rowsOf != "" {
		r, err := resolveReplica(st, *rowsOf)
		if err != nil {
			return err
		}
		opt.Rows = r.ID
	}
	rep, err := multisite.Mastered(e.ctx, db, opt)
	if err != nil {
		return err
	}
	out := lsmasterJSON{Local: st.Local.Name, Counts: map[string]map[string]int{}, Truncated: rep.Truncated,
		Transfers: []transferJSON{}, Requests: []requestFlightJSON{}}
	for t, per := range rep.Counts {
		out.Counts[t] = map[string]int{}
		for id, n := range per {
			out.Counts[t][nameOf(st, id)] = n
		}
	}
	for _, r := range rep.Rows {
		out.Rows = append(out.Rows, masteredRowJSON{r.Table, r.Key, nameOf(st, r.Master)})
	}
	for _, x := range rep.Transfers {
		out.Transfers = append(out.Transfers, transferJSON{x.Table, x.Key, nameOf(st, x.From), nameOf(st, x.To), x.Epoch})
	}
	for _, x := range rep.Requests {
		out.Requests = append(out.Requests, requestFlightJSON{string(x.ID), x.Table, x.Key, nameOf(st, x.From), nameOf(st, x.Master), string(x.State)})
	}
	if *asJSON {
		return writeJSON(e.stdout, out)
	}
	fmt.Fprintf(e.stdout, "rows mastered, as %s sees it:\n", st.Local.Name)
	for _, t := range sortedKeys(out.Counts) {
		var parts []string
		for _, name := range sortedKeys(out.Counts[t]) {
			parts = append(parts, fmt.Sprintf("%s %d", name, out.Counts[t][name]))
		}
		if len(parts) == 0 {
			parts = []string{"no rows"}
		}
		fmt.Fprintf(e.stdout, "  %-20s %s\n", t, strings.Join(parts, ", "))
	}
	if *rowsOf != "" {
		fmt.Fprintf(e.stdout, "rows %s masters:\n", nameOf(st, opt.Rows))
		for _, r := range out.Rows {
			fmt.Fprintf(e.stdout, "  %s[%s]\n", r.Table, keyText(r.Key))
		}
		if out.Truncated {
			fmt.Fprintf(e.stdout, "  ... more than %d; raise --limit\n", *limit)
		}
	}
	for _, x := range out.Transfers {
		state := "not sent yet"
		if x.Epoch > 0 {
			state = fmt.Sprintf("in epoch %d of %s, not yet acknowledged by %s", x.Epoch, x.From, x.To)
		}
		fmt.Fprintf(e.stdout, "transfer in flight: %s[%s] %s -> %s (%s)\n", x.Table, keyText(x.Key), x.From, x.To, state)
	}
	for _, x := range out.Requests {
		fmt.Fprintf(e.stdout, "request in flight: %s: %s asks %s for %s[%s] (%s)\n", x.ID, x.From, x.Master, x.Table, keyText(x.Key), x.State)
	}
	return nil
}

// --- mastership requests ----------------------------------------------------

type requestJSON struct {
	ID        string    `json:"id"`
	Table     string    `json:"table"`
	Key       []any     `json:"key"`
	Requester string    `json:"requester"`
	Master    string    `json:"master"`
	State     string    `json:"state"`
	Reason    string    `json:"reason,omitempty"`
	Answer    string    `json:"answer,omitempty"`
	Delivered bool      `json:"delivered"`
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
}

func toRequestJSON(st *multisite.Status, r multisite.Request) requestJSON {
	return requestJSON{ID: string(r.ID), Table: r.Table, Key: r.Key, Requester: nameOf(st, r.Requester), Master: nameOf(st, r.Master),
		State: string(r.State), Reason: r.Reason, Answer: r.Answer, Delivered: r.Delivered, Created: r.Created, Updated: r.Updated}
}

func printRequest(e *env, r requestJSON) {
	fmt.Fprintf(e.stdout, "%s  %s[%s]  %s asks %s  %s", r.ID, r.Table, keyText(r.Key), r.Requester, r.Master, r.State)
	if r.Reason != "" {
		fmt.Fprintf(e.stdout, "  reason: %q", r.Reason)
	}
	if r.Answer != "" {
		fmt.Fprintf(e.stdout, "  answer: %q", r.Answer)
	}
	if !r.Delivered {
		fmt.Fprint(e.stdout, "  (not delivered yet)")
	}
	fmt.Fprintln(e.stdout)
}

func cmdReqmaster(e *env, args []string) error {
	fs := newFlags(e, "reqmaster")
	dbPath := fs.String("db", "", "database `file` of the replica that asks"+dbKinds)
	table := fs.String("table", "", "replicated `table`")
	var keys [][]any
	keyFlag(fs, &keys)
	reason := fs.String("reason", "", "why (`text` that travels with the request)")
	dry := fs.Bool("dry-run", false, "say whom the request would go to, and record nothing")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(e, fs, args, false); err != nil {
		return err
	}
	if err := required("db", "table")(fs); err != nil {
		return err
	}
	if len(keys) != 1 {
		return usagef("name one row with --key (a request is per row)")
	}
	db, st, err := openStatus(e, *dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := checkTable(st, *table); err != nil {
		return err
	}
	if *dry {
		masters, err := mastersOf(e.ctx, db, st, *table)
		if err != nil {
			return err
		}
		m, ok := masters[keyText(keys[0])]
		switch {
		case !ok:
			return &exitError{code: exitFail, err: fmt.Errorf("%s[%s] does not exist here", *table, keyText(keys[0]))}
		case m == st.Local.ID:
			return &exitError{code: exitFail, err: fmt.Errorf("%s masters %s[%s] already", st.Local.Name, *table, keyText(keys[0]))}
		}
		if *asJSON {
			return writeJSON(e.stdout, requestJSON{Table: *table, Key: keys[0], Requester: st.Local.Name, Master: nameOf(st, m), State: "dry-run", Reason: *reason})
		}
		fmt.Fprintf(e.stdout, "dry run: %s would ask %s for %s[%s]; nothing recorded\n", st.Local.Name, nameOf(st, m), *table, keyText(keys[0]))
		return nil
	}
	id, err := multisite.RequestMastership(e.ctx, db, *table, keys[0], *reason)
	if err != nil {
		return err
	}
	reqs, err := multisite.Requests(e.ctx, db, multisite.RequestFilter{ID: id})
	if err != nil || len(reqs) != 1 {
		return fmt.Errorf("read back request %s: %v", id, err)
	}
	r := toRequestJSON(st, reqs[0])
	if *asJSON {
		return writeJSON(e.stdout, r)
	}
	fmt.Fprintf(e.stdout, "request %s: %s asks %s for %s[%s]; it travels in the next packets, and lsrequest shows the answer\n", r.ID, r.Requester, r.Master, r.Table, keyText(r.Key))
	return nil
}

func cmdLsrequest(e *env, args []string) error {
	fs := newFlags(e, "lsrequest")
	dbPath := fs.String("db", "", "database `file` of a replica"+dbKinds)
	table := fs.String("table", "", "only requests for this `table`")
	states := fs.String("state", "", "only these `states`, comma-separated (pending, forwarded, granted, denied, failed, or open)")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(e, fs, args, false); err != nil {
		return err
	}
	if err := required("db")(fs); err != nil {
		return err
	}
	f := multisite.RequestFilter{Table: *table}
	for _, s := range splitList(*states) {
		switch s {
		case "open":
			f.States = append(f.States, multisite.RequestPending, multisite.RequestForwarded)
		case string(multisite.RequestPending), string(multisite.RequestForwarded), string(multisite.RequestGranted), string(multisite.RequestDenied), string(multisite.RequestFailed):
			f.States = append(f.States, multisite.RequestState(s))
		default:
			return usagef("unknown state %q: use pending, forwarded, granted, denied, failed or open", s)
		}
	}
	db, st, err := openStatus(e, *dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	reqs, err := multisite.Requests(e.ctx, db, f)
	if err != nil {
		return err
	}
	out := []requestJSON{}
	for _, r := range reqs {
		out = append(out, toRequestJSON(st, r))
	}
	if *asJSON {
		return writeJSON(e.stdout, out)
	}
	if len(out) == 0 {
		fmt.Fprintf(e.stdout, "%s knows of no mastership request\n", st.Local.Name)
	}
	for _, r := range out {
		printRequest(e, r)
	}
	return nil
}

// answerRequest grants or denies a request (deny when reason != nil).
func answerRequest(e *env, verb string, args []string, deny bool) error {
	fs := newFlags(e, verb)
	dbPath := fs.String("db", "", "database `file` of the replica the request is addressed to"+dbKinds)
	id := fs.String("id", "", "request `ID` (lsrequest lists them)")
	var reason *string
	if deny {
		reason = fs.String("reason", "", "why not (`text` that travels back to the requester)")
	}
	dry := fs.Bool("dry-run", false, "say what would happen, and change nothing")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(e, fs, args, false); err != nil {
		return err
	}
	if err := required("db", "id")(fs); err != nil {
		return err
	}
	db, st, err := openStatus(e, *dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	reqs, err := multisite.Requests(e.ctx, db, multisite.RequestFilter{ID: multisite.RequestID(*id)})
	if err != nil {
		return err
	}
	if len(reqs) == 0 {
		return &exitError{code: exitFail, err: fmt.Errorf("%s knows of no request %s: %w", st.Local.Name, *id, multisite.ErrNoRequest)}
	}
	cur := reqs[0]
	if *dry {
		r := toRequestJSON(st, cur)
		switch {
		case cur.State != multisite.RequestPending && cur.State != multisite.RequestForwarded:
			return &exitError{code: exitFail, err: fmt.Errorf("request %s is %s already", *id, cur.State)}
		case cur.Master != st.Local.ID:
			return &exitError{code: exitFail, err: fmt.Errorf("request %s is addressed to %s, not %s: answer it there", *id, r.Master, st.Local.Name)}
		}
		if *asJSON {
			return writeJSON(e.stdout, r)
		}
		what := map[bool]string{false: "grant: " + cur.Table + "[" + keyText(cur.Key) + "] would go to " + r.Requester,
			true: "deny: " + r.Requester + " would be told no"}[deny]
		fmt.Fprintf(e.stdout, "dry run: %s would %s; nothing changed\n", st.Local.Name, what)
		return nil
	}
	var res multisite.Request
	if deny {
		res, err = multisite.DenyRequest(e.ctx, db, cur.ID, *reason)
	} else {
		res, err = multisite.GrantRequest(e.ctx, db, cur.ID)
	}
	var rse *multisite.RequestStateError
	if errors.As(err, &rse) {
		return &exitError{code: exitFail, err: fmt.Errorf("request %s (%s asks %s for %s[%s], %s): %w", cur.ID, nameOf(st, cur.Requester), nameOf(st, cur.Master), cur.Table, keyText(cur.Key), cur.State, err)}
	}
	if err != nil {
		return err
	}
	r := toRequestJSON(st, res)
	if *asJSON {
		return writeJSON(e.stdout, r)
	}
	switch res.State {
	case multisite.RequestGranted:
		fmt.Fprintf(e.stdout, "granted: %s[%s] handed from %s to %s; the transfer travels in the next packet\n", r.Table, keyText(r.Key), st.Local.Name, r.Requester)
	case multisite.RequestDenied:
		fmt.Fprintf(e.stdout, "denied: %s is told no for %s[%s] in the next packet\n", r.Requester, r.Table, keyText(r.Key))
	default:
		fmt.Fprintf(e.stdout, "request %s is now %s: %s\n", r.ID, r.State, r.Answer)
	}
	return nil
}

func cmdGrantrequest(e *env, args []string) error {
	return answerRequest(e, "grantrequest", args, false)
}
func cmdDenyrequest(e *env, args []string) error { return answerRequest(e, "denyrequest", args, true) }
