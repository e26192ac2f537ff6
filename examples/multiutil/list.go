package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/syncpkt"
)

// readStatus opens dbPath and reads its status: the start of every
// read-only verb.
func readStatus(e *env, dbPath string) (*multisite.Status, error) {
	db, err := openDB(dbPath)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return multisite.ReadStatus(e.ctx, db)
}

func dbOnlyFlags(e *env, verb string, args []string) (dbPath string, asJSON bool, err error) {
	fs := newFlags(e, verb)
	db := fs.String("db", "", "database `file` of the replica"+dbKinds)
	j := fs.Bool("json", false, "print JSON")
	if _, err := parse(e, fs, args, false); err != nil {
		return "", false, err
	}
	if err := required("db")(fs); err != nil {
		return "", false, err
	}
	return *db, *j, nil
}

func cmdLsreplica(e *env, args []string) error {
	dbPath, asJSON, err := dbOnlyFlags(e, "lsreplica", args)
	if err != nil {
		return err
	}
	st, err := readStatus(e, dbPath)
	if err != nil {
		return err
	}
	if asJSON {
		rs := []replicaJSON{}
		for _, r := range st.Replicas {
			rs = append(rs, toReplicaJSON(r, st.Local.ID))
		}
		return writeJSON(e.stdout, struct {
			Family   string        `json:"family"`
			Local    string        `json:"local"`
			CodePage string        `json:"code_page"`
			Replicas []replicaJSON `json:"replicas"`
		}{st.Family, string(st.Local.ID), st.CodePage, rs})
	}
	fmt.Fprintf(e.stdout, "family %s, data code page %s; this database is replica %s\n\n", st.Family, st.CodePage, st.Local)
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  \tNAME\tID\tNO\tSTATE\tINTEGER KEYS\tPUBLIC KEY")
	for _, r := range st.Replicas {
		mark := ""
		if r.ID == st.Local.ID {
			mark = "*"
		}
		j := toReplicaJSON(r, st.Local.ID)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%d..%d\t%s\n", mark, r.Name, r.ID, r.Number, r.State, j.KeyRange[0], j.KeyRange[1], j.PublicKey)
	}
	return tw.Flush()
}

func cmdLsepoch(e *env, args []string) error {
	dbPath, asJSON, err := dbOnlyFlags(e, "lsepoch", args)
	if err != nil {
		return err
	}
	st, err := readStatus(e, dbPath)
	if err != nil {
		return err
	}
	if asJSON {
		m := map[string]map[string]uint64{}
		for _, r := range st.Replicas {
			row := map[string]uint64{}
			for _, o := range st.Replicas {
				row[string(o.ID)] = st.Matrix[r.ID].Get(o.ID)
			}
			m[string(r.ID)] = row
		}
		n := map[string]string{}
		for id, name := range names(st) {
			n[string(id)] = name
		}
		return writeJSON(e.stdout, struct {
			Local  string                       `json:"local"`
			Epoch  uint64                       `json:"epoch"`
			Names  map[string]string            `json:"names"`
			Matrix map[string]map[string]uint64 `json:"matrix"` // holder -> origin -> epoch
		}{string(st.Local.ID), st.Epoch, n, m})
	}
	fmt.Fprintf(e.stdout, "epoch matrix as replica %s knows it: row = holder, column = origin,\ncell = newest epoch of the origin's changes the holder has (or is believed to have)\n\n", st.Local)
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "holder \\ origin\t")
	for _, o := range st.Replicas {
		fmt.Fprintf(tw, "%s\t", o.Name)
	}
	fmt.Fprintln(tw)
	for _, r := range st.Replicas {
		fmt.Fprintf(tw, "%s\t", r.Name)
		for _, o := range st.Replicas {
			fmt.Fprintf(tw, "%d\t", st.Matrix[r.ID].Get(o.ID))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

func cmdDescribe(e *env, args []string) error {
	dbPath, asJSON, err := dbOnlyFlags(e, "describe", args)
	if err != nil {
		return err
	}
	st, err := readStatus(e, dbPath)
	if err != nil {
		return err
	}
	type tableJSON struct {
		Name    string `json:"name"`
		Pending int    `json:"pending"`
	}
	tables := []tableJSON{}
	pending := 0
	for _, t := range st.Tables {
		tables = append(tables, tableJSON{t, st.Pending[t]})
		pending += st.Pending[t]
	}
	if asJSON {
		return writeJSON(e.stdout, struct {
			Family   string      `json:"family"`
			Local    replicaJSON `json:"local"`
			CodePage string      `json:"code_page"`
			Epoch    uint64      `json:"epoch"`
			KeyRange [2]int64    `json:"key_range"`
			Replicas int         `json:"replicas"`
			Tables   []tableJSON `json:"tables"`
			Pending  int         `json:"pending"`
		}{st.Family, toReplicaJSON(st.Local, st.Local.ID), st.CodePage, st.Epoch, st.KeyRange, len(st.Replicas), tables, pending})
	}
	fmt.Fprintf(e.stdout, "family:          %s (%d replicas)\n", st.Family, len(st.Replicas))
	fmt.Fprintf(e.stdout, "local replica:   %s, number %d, %s\n", st.Local, st.Local.Number, st.Local.State)
	fmt.Fprintf(e.stdout, "data code page:  %s\n", st.CodePage)
	fmt.Fprintf(e.stdout, "epoch:           %d\n", st.Epoch)
	fmt.Fprintf(e.stdout, "integer keys:    %d..%d\n", st.KeyRange[0], st.KeyRange[1])
	fmt.Fprintf(e.stdout, "pending changes: %d (sealed into the next epoch by the next export)\n", pending)
	fmt.Fprintln(e.stdout, "tables:")
	for _, t := range tables {
		fmt.Fprintf(e.stdout, "  %-24s %d pending\n", t.Name, t.Pending)
	}
	return nil
}

func cmdValidatecharset(e *env, args []string) error {
	fs := newFlags(e, "validatecharset")
	dbPath := fs.String("db", "", "database `file` to check (a replica or not)"+dbKinds)
	cp := fs.String("codepage", "", "data `code page` by name or number (1252, windows-1252, Shift_JIS)")
	maxV := fs.Int("max", 0, "keep at most `N` violations in the report (0: all)")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(e, fs, args, false); err != nil {
		return err
	}
	if err := required("db", "codepage")(fs); err != nil {
		return err
	}
	if *maxV < 0 {
		return usagef("--max must not be negative")
	}
	if err := checkCodePage(*cp); err != nil {
		return err
	}
	db, err := openDB(*dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	rep, err := multisite.ValidateCharset(e.ctx, db, *cp, multisite.CharsetOptions{Max: *maxV})
	if err != nil {
		return err
	}
	if rep.Violations == nil {
		rep.Violations = []multisite.CharsetViolation{}
	}
	if *asJSON {
		if err := writeJSON(e.stdout, rep); err != nil {
			return err
		}
	} else {
		for _, v := range rep.Violations {
			fmt.Fprintln(e.stdout, v)
		}
		more := ""
		if rep.Truncated {
			more = fmt.Sprintf(" (only the first %d shown)", len(rep.Violations))
		}
		fmt.Fprintf(e.stdout, "%s: %d tables, %d rows, %d strings, %d bytes checked; %d violations%s\n",
			rep.CodePage, rep.Tables, rep.Rows, rep.Strings, rep.Bytes, len(rep.Violations), more)
	}
	if len(rep.Violations) > 0 {
		return &exitError{code: exitFail}
	}
	return nil
}

// packetJSON is what lspacket reports of one file.
type packetJSON struct {
	File          string                  `json:"file"`
	Kind          string                  `json:"kind"`
	Family        string                  `json:"family"`
	Origin        string                  `json:"origin"`
	Target        string                  `json:"target"`
	SchemaVersion int64                   `json:"schema_version"`
	CodePage      string                  `json:"code_page"`
	Created       time.Time               `json:"created"`
	Base          map[string]uint64       `json:"base"`
	Upto          map[string]uint64       `json:"upto"`
	Tables        map[string]*tableRecord `json:"tables"`
	Transfers     int                     `json:"transfers"`
	Replicas      []string                `json:"replicas"` // registry entries carried: "name (id) state"
	Settings      int                     `json:"settings"`
	Invite        bool                    `json:"invite"` // carries a one-time enrolment secret (creation packets)
	Records       int                     `json:"records"`
	Checksum      bool                    `json:"checksum_ok"`
	Signature     string                  `json:"signature"` // always "not verified"
	Error         string                  `json:"error,omitempty"`
}

type tableRecord struct {
	Rows    int `json:"rows"`    // row images, tombstones included
	Deletes int `json:"deletes"` // tombstones
}

func cmdLspacket(e *env, args []string) error {
	fs := newFlags(e, "lspacket")
	asJSON := fs.Bool("json", false, "print JSON")
	files, err := parse(e, fs, args, true)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("name at least one packet file")
	}
	out := []packetJSON{}
	bad := 0
	for _, path := range files {
		p := describePacket(path)
		if p.Error != "" {
			bad++
			fmt.Fprintf(e.stderr, "multiutil lspacket: %s: %s\n", path, p.Error)
		}
		out = append(out, p)
		if !*asJSON {
			printPacket(e.stdout, p)
		}
	}
	if *asJSON {
		if err := writeJSON(e.stdout, out); err != nil {
			return err
		}
	}
	if bad > 0 {
		return &exitError{code: exitFail}
	}
	return nil
}

// describePacket reads a whole packet without a public key: the checksum
// is verified at the end, the signature is not (lspacket has no registry
// to take the origin's key from).
func describePacket(path string) packetJSON {
	p := packetJSON{File: path, Tables: map[string]*tableRecord{}, Replicas: []string{}, Signature: "not verified"}
	f, err := os.Open(path)
	if err != nil {
		p.Error = err.Error()
		return p
	}
	defer f.Close()
	r := syncpkt.NewReader(f, syncpkt.ReaderOptions{})
	h, err := r.Header()
	if err != nil {
		p.Error = err.Error()
		return p
	}
	p.Kind, p.Family, p.Origin, p.Target = h.Kind.String(), h.Family, h.Origin, h.Target
	p.SchemaVersion, p.CodePage, p.Created, p.Base, p.Upto = h.SchemaVersion, h.CodePage, h.Created, h.Base, h.Upto
	var cur *tableRecord
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			p.Checksum = true
			return p
		}
		if err != nil {
			p.Error = err.Error()
			return p
		}
		p.Records++
		switch rec := rec.(type) {
		case *syncpkt.Table:
			if cur = p.Tables[rec.Name]; cur == nil {
				cur = &tableRecord{}
				p.Tables[rec.Name] = cur
			}
		case *syncpkt.Row:
			if cur != nil {
				cur.Rows++
				if rec.Deleted {
					cur.Deletes++
				}
			}
		case *syncpkt.Transfer:
			p.Transfers++
		case *syncpkt.Replica:
			p.Replicas = append(p.Replicas, fmt.Sprintf("%s (%s) %s", rec.Name, rec.ID, rec.State))
		case *syncpkt.Setting:
			p.Settings++
		case *syncpkt.Invite:
			p.Invite = true
		}
	}
}

func vectorString(m map[string]uint64) string {
	v := replica.Vector{}
	for k, e := range m {
		v[replica.ID(k)] = e
	}
	if s := v.String(); s != "" {
		return s
	}
	return "-"
}

func printPacket(w io.Writer, p packetJSON) {
	fmt.Fprintf(w, "%s:\n", p.File)
	if p.Kind == "" {
		fmt.Fprintf(w, "  unreadable: %s\n\n", p.Error)
		return
	}
	fmt.Fprintf(w, "  kind %s, family %s, origin %s, target %s\n", p.Kind, p.Family, p.Origin, p.Target)
	fmt.Fprintf(w, "  schema version %d, code page %s, created %s\n", p.SchemaVersion, p.CodePage, p.Created.Format(time.RFC3339))
	fmt.Fprintf(w, "  base %s\n  upto %s\n", vectorString(p.Base), vectorString(p.Upto))
	for _, t := range sortedKeys(p.Tables) {
		fmt.Fprintf(w, "  table %-20s %d rows (%d deletes)\n", t, p.Tables[t].Rows, p.Tables[t].Deletes)
	}
	fmt.Fprintf(w, "  %d transfers, %d registry entries, %d settings", p.Transfers, len(p.Replicas), p.Settings)
	if p.Invite {
		fmt.Fprint(w, ", a one-time enrolment secret (protect this file until the new replica has enrolled)")
	}
	fmt.Fprintln(w)
	switch {
	case p.Error != "":
		fmt.Fprintf(w, "  damaged after %d records: %s\n", p.Records, p.Error)
	default:
		fmt.Fprintf(w, "  %d records, checksum ok; signature NOT verified (lspacket has no key to check it; import verifies it)\n", p.Records)
	}
	if len(p.Replicas) > 0 {
		fmt.Fprintf(w, "  registry: %s\n", strings.Join(p.Replicas, "; "))
	}
	fmt.Fprintln(w)
}
