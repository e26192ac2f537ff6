package main

import (
	"encoding/hex"
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/codepage"
	"github.com/multisite-go/multisite/schema"
	"github.com/multisite-go/multisite/syncpkt"
)

// planOut prints a schema plan as SQL, or as JSON.
func planOut(e *env, p schema.Plan, asJSON bool) error {
	if asJSON {
		type step struct {
			Comment string `json:"comment"`
			SQL     string `json:"sql"`
		}
		out := struct {
			Dialect string `json:"dialect"`
			Steps   []step `json:"steps"`
		}{Dialect: string(p.Dialect), Steps: []step{}}
		for _, s := range p.Steps {
			out.Steps = append(out.Steps, step{s.Comment, s.SQL})
		}
		return writeJSON(e.stdout, out)
	}
	fmt.Fprint(e.stdout, p.String())
	return nil
}

// --- cleancharset ----------------------------------------------------------

type cleanJSON struct {
	CodePage  string            `json:"code_page"`
	Strategy  string            `json:"strategy"`
	DryRun    bool              `json:"dry_run"`
	Changes   []cleanChangeJSON `json:"changes"`
	Applied   int               `json:"applied"`
	Elsewhere int               `json:"elsewhere"`
}

type cleanChangeJSON struct {
	Table   string `json:"table"`
	Key     string `json:"key"`
	Column  string `json:"column"`
	Before  string `json:"before"`
	After   string `json:"after"`
	Master  string `json:"master,omitempty"`
	Applied bool   `json:"applied"`
}

func cmdCleancharset(e *env, args []string) error {
	fs := newFlags(e, "cleancharset")
	dbPath := fs.String("db", "", "database `file`"+dbKinds)
	cp := fs.String("codepage", "", "data `code page` the strings must fit (1252, windows-1252, UTF-8, ...)")
	strategy := fs.String("strategy", "replace", "what to do with a character that does not fit: `replace`, transliterate or drop")
	repl := fs.String("replacement", "", "replacement `text` for --strategy replace (default \"?\")")
	tables := fs.String("table", "", "only these `tables`, comma-separated")
	apply := fs.Bool("apply", false, "change the values (of rows this replica masters); without it, a dry run that only reports")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(e, fs, args, false); err != nil {
		return err
	}
	if err := required("db", "codepage")(fs); err != nil {
		return err
	}
	strategies := map[string]codepage.Strategy{"replace": codepage.Replace, "transliterate": codepage.Transliterate, "drop": codepage.Drop}
	s, ok := strategies[*strategy]
	if !ok {
		return usagef("unknown strategy %q: use replace, transliterate or drop", *strategy)
	}
	if err := checkCodePage(*cp); err != nil {
		return err
	}
	db, err := openDB(*dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	st, _ := multisite.ReadStatus(e.ctx, db) // nil before activation: masters are not named
	rep, err := multisite.CleanCharset(e.ctx, db, *cp, multisite.CleanOptions{Strategy: s, Replacement: *repl, Apply: *apply, Tables: splitList(*tables)})
	if err != nil {
		return err
	}
	out := cleanJSON{CodePage: rep.CodePage, Strategy: *strategy, DryRun: !*apply, Changes: []cleanChangeJSON{}, Applied: rep.Applied, Elsewhere: rep.Elsewhere}
	for _, c := range rep.Changes {
		m := string(c.Master)
		if st != nil && c.Master != "" {
			m = nameOf(st, c.Master)
		}
		out.Changes = append(out.Changes, cleanChangeJSON{c.Table, c.Key, c.Column, c.Before, c.After, m, c.Applied})
	}
	if *asJSON {
		return writeJSON(e.stdout, out)
	}
	for _, c := range out.Changes {
		state := "would change"
		switch {
		case c.Applied:
			state = "changed"
		case *apply:
			state = "left for " + c.Master
		}
		fmt.Fprintf(e.stdout, "%s[%s].%s: %q -> %q (%s)\n", c.Table, c.Key, c.Column, c.Before, c.After, state)
	}
	switch {
	case !*apply:
		fmt.Fprintf(e.stdout, "dry run: %d values do not fit %s; nothing changed (--apply cleans them)\n", len(out.Changes), rep.CodePage)
	default:
		fmt.Fprintf(e.stdout, "%d values cleaned here; %d are in rows other replicas master: run cleancharset there\n", rep.Applied, rep.Elsewhere)
	}
	return nil
}

// --- deactivate ----------------------------------------------------------

func cmdDeactivate(e *env, args []string) error {
	fs := newFlags(e, "deactivate")
	dbPath := fs.String("db", "", "database `file` of the replica"+dbKinds)
	dry := fs.Bool("dry-run", false, "print the statements it would run, and run none")
	yes := fs.Bool("yes", false, "really remove everything the library added (required without --dry-run)")
	force := fs.Bool("force", false, "deactivate even though this replica masters rows other members need")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(e, fs, args, false); err != nil {
		return err
	}
	if err := required("db")(fs); err != nil {
		return err
	}
	if !*dry && !*yes {
		return usagef("deactivate removes the replica's triggers, metadata and mastership field: give --yes (or --dry-run to see the statements)")
	}
	db, st, err := openStatus(e, *dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	if *dry {
		p, err := multisite.PlanDeactivation(e.ctx, db)
		if err != nil {
			return err
		}
		return planOut(e, p, *asJSON)
	}
	if len(st.Replicas) > 1 && !*force {
		rep, err := multisite.Mastered(e.ctx, db, multisite.MasteryOptions{})
		if err != nil {
			return err
		}
		n := 0
		for _, per := range rep.Counts {
			n += per[st.Local.ID]
		}
		if n > 0 {
			return &exitError{code: exitFail, err: fmt.Errorf("%s masters %d rows the family needs: hand them over first (rmreplica --transfer-to REPLICA, or chmaster --all), or give --force", st.Local.Name, n)}
		}
	}
	if err := multisite.Deactivate(e.ctx, db); err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(e.stdout, struct {
			Replica     string `json:"replica"`
			Deactivated bool   `json:"deactivated"`
		}{st.Local.Name, true})
	}
	fmt.Fprintf(e.stdout, "%s is no longer a replica: triggers, metadata and the mastership field are gone; tables and rows stay\n", st.Local.Name)
	return nil
}

// --- rotatekey -------------------------------------------------------------

func cmdRotatekey(e *env, args []string) error {
	fs := newFlags(e, "rotatekey")
	dbPath := fs.String("db", "", "database `file` of the replica"+dbKinds)
	dry := fs.Bool("dry-run", false, "show the key that would be replaced, and change nothing")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(e, fs, args, false); err != nil {
		return err
	}
	if err := required("db")(fs); err != nil {
		return err
	}
	db, st, err := openStatus(e, *dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	old := hex.EncodeToString(st.Local.PublicKey)
	out := struct {
		Replica string `json:"replica"`
		Old     string `json:"old_public_key"`
		New     string `json:"new_public_key,omitempty"`
		DryRun  bool   `json:"dry_run"`
	}{Replica: st.Local.Name, Old: old, DryRun: *dry}
	if !*dry {
		info, err := multisite.RotateKey(e.ctx, db)
		if err != nil {
			return err
		}
		out.New = hex.EncodeToString(info.PublicKey)
	}
	if *asJSON {
		return writeJSON(e.stdout, out)
	}
	if *dry {
		fmt.Fprintf(e.stdout, "dry run: %s's key %s would be replaced; nothing changed\n", st.Local.Name, old)
		return nil
	}
	fmt.Fprintf(e.stdout, "%s has a new key %s, endorsed by the old one %s; it reaches the family in the next packets\n", st.Local.Name, out.New, old)
	return nil
}

// --- collisions ------------------------------------------------------------

type collisionJSON struct {
	ID       string    `json:"id"`
	Table    string    `json:"table"`
	Columns  []string  `json:"columns"`
	Value    []any     `json:"value"`
	Key      []any     `json:"key"`
	KeptKey  []any     `json:"kept_key"`
	Column   string    `json:"column"`
	Original string    `json:"original"`
	Renamed  string    `json:"renamed"`
	Winner   string    `json:"winner"`
	Loser    string    `json:"loser"`
	State    string    `json:"state"`
	Detected time.Time `json:"detected"`
}

func toCollisionJSON(st *multisite.Status, c multisite.CollisionRecord) collisionJSON {
	return collisionJSON{string(c.ID), c.Table, c.Columns, c.Value, c.Key, c.KeptKey, c.Column, c.Original, c.Renamed,
		nameOf(st, c.Winner), nameOf(st, c.Loser), string(c.State), c.Detected}
}

func printCollision(e *env, c collisionJSON) {
	fmt.Fprintf(e.stdout, "%s  %s[%s].%s %q renamed %q (%s created it; %s's %s[%s] kept the value)  %s\n",
		c.ID, c.Table, keyText(c.Key), c.Column, c.Original, c.Renamed, c.Loser, c.Winner, c.Table, keyText(c.KeptKey), c.State)
}

func cmdLscollision(e *env, args []string) error {
	fs := newFlags(e, "lscollision")
	dbPath := fs.String("db", "", "database `file` of a replica"+dbKinds)
	table := fs.String("table", "", "only collisions in this `table`")
	states := fs.String("state", "", "only these `states`, comma-separated (provisional, renamed, withdrawn, resolved)")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(e, fs, args, false); err != nil {
		return err
	}
	if err := required("db")(fs); err != nil {
		return err
	}
	f := multisite.CollisionFilter{Table: *table}
	for _, s := range splitList(*states) {
		switch multisite.CollisionState(s) {
		case multisite.CollisionProvisional, multisite.CollisionRenamed, multisite.CollisionWithdrawn, multisite.CollisionResolved:
			f.States = append(f.States, multisite.CollisionState(s))
		default:
			return usagef("unknown state %q: use provisional, renamed, withdrawn or resolved", s)
		}
	}
	db, st, err := openStatus(e, *dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	cs, err := multisite.Collisions(e.ctx, db, f)
	if err != nil {
		return err
	}
	out := []collisionJSON{}
	for _, c := range cs {
		out = append(out, toCollisionJSON(st, c))
	}
	if *asJSON {
		return writeJSON(e.stdout, out)
	}
	if len(out) == 0 {
		fmt.Fprintf(e.stdout, "%s has recorded no unique-key collision\n", st.Local.Name)
	}
	for _, c := range out {
		printCollision(e, c)
	}
	return nil
}

func cmdResolvecollision(e *env, args []string) error {
	fs := newFlags(e, "resolvecollision")
	dbPath := fs.String("db", "", "database `file` of the renamed record's master"+dbKinds)
	id := fs.String("id", "", "collision `ID` (lscollision lists them)")
	value := fs.String("value", "", "new `value` of the renamed column; empty keeps the rename")
	dry := fs.Bool("dry-run", false, "say what would change, and change nothing")
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
	cs, err := multisite.Collisions(e.ctx, db, multisite.CollisionFilter{ID: multisite.CollisionID(*id)})
	if err != nil {
		return err
	}
	if len(cs) == 0 {
		return &exitError{code: exitFail, err: fmt.Errorf("%s has recorded no collision %s: %w", st.Local.Name, *id, multisite.ErrNoCollision)}
	}
	c := toCollisionJSON(st, cs[0])
	if *dry {
		if *asJSON {
			return writeJSON(e.stdout, c)
		}
		what := fmt.Sprintf("keep %q", c.Renamed)
		if *value != "" {
			what = fmt.Sprintf("set %s[%s].%s to %q", c.Table, keyText(c.Key), c.Column, *value)
		}
		fmt.Fprintf(e.stdout, "dry run: %s would %s and mark collision %s resolved; nothing changed\n", st.Local.Name, what, c.ID)
		return nil
	}
	res, err := multisite.ResolveCollision(e.ctx, db, cs[0].ID, *value)
	if err != nil {
		return err
	}
	c = toCollisionJSON(st, res)
	if *asJSON {
		return writeJSON(e.stdout, c)
	}
	fmt.Fprintf(e.stdout, "collision %s resolved at %s: %s[%s].%s is %q\n", c.ID, st.Local.Name, c.Table, keyText(c.Key), c.Column, map[bool]string{true: c.Renamed, false: *value}[*value == ""])
	return nil
}

// --- comparereplica --------------------------------------------------------

// dbList is a repeatable --db flag.
type dbList []string

func (l *dbList) String() string     { return strings.Join(*l, ",") }
func (l *dbList) Set(s string) error { *l = append(*l, s); return nil }

var _ flag.Value = (*dbList)(nil)

func cmdComparereplica(e *env, args []string) error {
	fs := newFlags(e, "comparereplica")
	var dbs dbList
	fs.Var(&dbs, "db", "database `file` of a replica; give two or more"+dbKinds)
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(e, fs, args, false); err != nil {
		return err
	}
	if len(dbs) < 2 {
		return usagef("give --db at least twice: the replicas to compare")
	}
	type hashJSON struct {
		Replica string `json:"replica"`
		DB      string `json:"db"`
		Family  string `json:"family"`
		Hash    string `json:"content_hash"`
	}
	var out []hashJSON
	for _, path := range dbs {
		db, st, err := openStatus(e, path)
		if err != nil {
			return err
		}
		h, err := multisite.ContentHash(e.ctx, db)
		db.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", st.Local.Name, err)
		}
		out = append(out, hashJSON{st.Local.Name, display(path), st.Family, h})
	}
	same := true
	for _, h := range out[1:] {
		if h.Family != out[0].Family {
			return &exitError{code: exitFail, err: fmt.Errorf("%s and %s are of different families (%s, %s)", out[0].Replica, h.Replica, out[0].Family, h.Family)}
		}
		same = same && h.Hash == out[0].Hash
	}
	if *asJSON {
		if err := writeJSON(e.stdout, struct {
			Identical bool       `json:"identical"`
			Replicas  []hashJSON `json:"replicas"`
		}{same, out}); err != nil {
			return err
		}
	} else {
		for _, h := range out {
			fmt.Fprintf(e.stdout, "%-16s %s\n", h.Replica, h.Hash)
		}
	}
	if !same {
		if !*asJSON {
			fmt.Fprintln(e.stdout, "the replicas' replicated data differ: sync them both ways and compare again; if they still differ, see the workflow document's recovery section")
		}
		return &exitError{code: exitFail}
	}
	if !*asJSON {
		fmt.Fprintln(e.stdout, "identical replicated data")
	}
	return nil
}

// --- version -------------------------------------------------------------

func cmdVersion(e *env, args []string) error {
	fs := newFlags(e, "version")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(e, fs, args, false); err != nil {
		return err
	}
	out := struct {
		Multiutil string `json:"multiutil"`
		Library   string `json:"library"`
		Packet    string `json:"packet_format"`
		Go        string `json:"go"`
	}{Multiutil: "(devel)", Library: "(devel)", Packet: fmt.Sprintf("%d.%d", syncpkt.Version, syncpkt.MinorVersion), Go: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		out.Multiutil = bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				out.Multiutil += " " + s.Value[:12]
			}
		}
		for _, d := range bi.Deps {
			if d.Path == "github.com/multisite-go/multisite" {
				out.Library = d.Version
				if d.Replace != nil {
					out.Library += " (replaced by " + d.Replace.Path + ")"
				}
			}
		}
	}
	if *asJSON {
		return writeJSON(e.stdout, out)
	}
	fmt.Fprintf(e.stdout, "multiutil %s\nlibrary github.com/multisite-go/multisite %s\npacket format %s\n%s\n", out.Multiutil, out.Library, out.Packet, out.Go)
	return nil
}
