package main

import (
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/examples/internal/plan"
	"github.com/multisite-go/multisite/mastership"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/syncpkt"
)

// tableCountsJS is what an import did to one table.
type tableCountsJS struct {
	Inserted  int `json:"inserted"`
	Updated   int `json:"updated"`
	Deleted   int `json:"deleted"`
	Unchanged int `json:"unchanged"`
}

func countsJSON(rep *multisite.ImportReport) map[string]tableCountsJS {
	m := map[string]tableCountsJS{}
	for t, c := range rep.Tables {
		m[t] = tableCountsJS{c.Inserted, c.Updated, c.Deleted, c.Unchanged}
	}
	return m
}

func cmdSyncreplica(e *env, args []string) error {
	fs := newFlags(e, "syncreplica")
	export := fs.Bool("export", false, "write a sync packet per target into the bay")
	imp := fs.Bool("import", false, "import every packet in the bay addressed to this replica")
	ack := fs.Bool("ack", false, "write an acknowledgement per target into the bay: what this replica holds, so the target sends only what is newer (a receive-only replica too)")
	maxSize := fs.Int64("maxsize", 0, "-export: split each packet into parts of at most this many `bytes` before compression (NAME-pN.pkt); 0 means one packet")
	dbPath := fs.String("db", "", "database `file` of the local replica"+dbKinds)
	to := fs.String("to", "", "-export: target `replicas` by name or ID, comma-separated, or all")
	bay := fs.String("bay", "", "storage bay `directory` (must exist)")
	planFile := fs.String("plan", "", "-export: apply the mastership policy of this deployment plan `file` to the rows exported")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(e, fs, args, false); err != nil {
		return err
	}
	if n := btoi(*export) + btoi(*imp) + btoi(*ack); n != 1 {
		return usagef("give exactly one of -export, -import and -ack")
	}
	if *maxSize < 0 || (*maxSize > 0 && !*export) {
		return usagef("--maxsize goes with -export and is a positive number of bytes")
	}
	if err := required("db", "bay")(fs); err != nil {
		return err
	}
	if (*export || *ack) && *to == "" {
		return usagef("--to is required with -export and -ack")
	}
	if *imp && *to != "" {
		return usagef("--to goes with -export; -import takes every packet addressed to this replica")
	}
	if *imp && *planFile != "" {
		return usagef("--plan goes with -export: the policy decides what this replica exports")
	}
	var policy mastership.Policy
	if *planFile != "" {
		p, err := plan.LoadFile(*planFile)
		if err == nil {
			policy, err = p.MastershipPolicy()
		}
		if err != nil {
			return &exitError{code: exitFail, err: err}
		}
	}
	// The bay is checked before the database is touched.
	if err := checkBay(*bay); err != nil {
		return err
	}
	db, st, err := openStatus(e, *dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	if *export || *ack {
		return syncExport(e, db, st, splitList(*to), *bay, policy, *asJSON, *ack, *maxSize)
	}
	return syncImport(e, db, st, *bay, *asJSON)
}

type exportJSON struct {
	Target    string         `json:"target"`
	File      string         `json:"file"`
	Epoch     uint64         `json:"epoch"`
	Rows      int            `json:"rows"`
	Deletes   int            `json:"deletes"`
	Transfers int            `json:"transfers"`
	Tables    map[string]int `json:"tables"`
	Bytes     int64          `json:"bytes"`
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.]+`)

// checkBay refuses a storage bay that does not exist or is not a directory.
func checkBay(bay string) error {
	if fi, err := os.Stat(bay); err != nil {
		return fmt.Errorf("storage bay %s: %w", bay, errors.Unwrap(err))
	} else if !fi.IsDir() {
		return fmt.Errorf("storage bay %s is not a directory", bay)
	}
	return nil
}

// packetPath is where a packet from local to target goes in the bay.
func packetPath(bay string, local, target replica.Info) string {
	return filepath.Join(bay, fmt.Sprintf("%s-%s-%d.pkt", fileName(local), fileName(target), time.Now().UnixNano()))
}

// fileName is a replica's name made safe for a file name; the packet's
// header, not its name, says where it goes.
func fileName(i replica.Info) string {
	if s := unsafeName.ReplaceAllString(i.Name, "_"); s != "" && s != "." && s != ".." {
		return s
	}
	return string(i.ID)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func syncExport(e *env, db *sql.DB, st *multisite.Status, to []string, bay string, policy mastership.Policy, asJSON, ack bool, maxSize int64) error {
	var targets []replica.Info
	if len(to) == 1 && to[0] == "all" {
		for _, r := range st.Replicas {
			if r.ID != st.Local.ID && r.State != replica.Removed {
				targets = append(targets, r)
			}
		}
	} else {
		for _, s := range to {
			r, err := resolveReplica(st, s)
			if err != nil {
				return err
			}
			if r.ID == st.Local.ID {
				return usagef("%s is the local replica; --to names the replicas to send to", r)
			}
			targets = append(targets, r)
		}
	}
	out := []exportJSON{}
	for _, t := range targets {
		path := packetPath(bay, st.Local, t)
		if ack {
			if _, err := writePacket(path, func(w io.Writer) (multisite.ExportStats, error) {
				_, err := multisite.WriteAck(e.ctx, db, t.ID, w)
				return multisite.ExportStats{}, err
			}); err != nil {
				return fmt.Errorf("acknowledge to %s: %w", t, err)
			}
			out = append(out, exportJSON{Target: string(t.ID), File: path})
			if !asJSON {
				fmt.Fprintf(e.stdout, "%s -> %s: %s (acknowledgement)\n", st.Local.Name, t.Name, path)
			}
			continue
		}
		b, progress := e.progressBar("export to " + t.Name)
		stats, err := exportOne(e, db, t.ID, path, policy, progress, maxSize)
		b.done()
		if err != nil {
			return fmt.Errorf("export to %s: %w", t, err)
		}
		if stats.Parts > 0 {
			path = fmt.Sprintf("%s (%d parts: %s ... %s)", path, stats.Parts, partPath(path, 1), partPath(path, stats.Parts))
		}
		out = append(out, exportJSON{string(t.ID), path, stats.Epoch, stats.Rows, stats.Deletes, stats.Transfers, stats.Tables, stats.Bytes})
		if !asJSON {
			fmt.Fprintf(e.stdout, "%s -> %s: %s (epoch %d, %d rows, %d deletes, %d transfers, %d bytes)\n",
				st.Local.Name, t.Name, path, stats.Epoch, stats.Rows, stats.Deletes, stats.Transfers, stats.Bytes)
		}
	}
	if asJSON {
		return writeJSON(e.stdout, out)
	}
	return nil
}

// exportOne writes an ordinary sync packet for target; see writePacket.
// With maxSize, the packet is split into parts written to partPath(path,
// n), each renamed into place once the export has succeeded.
func exportOne(e *env, db *sql.DB, target replica.ID, path string, policy mastership.Policy, progress func(int, int), maxSize int64) (multisite.ExportStats, error) {
	if maxSize <= 0 {
		return writePacket(path, func(w io.Writer) (multisite.ExportStats, error) {
			return multisite.ExportPacket(e.ctx, db, target, w, multisite.ExportOptions{Progress: progress, Policy: policy})
		})
	}
	var files []*os.File
	cleanup := func() {
		for _, f := range files {
			f.Close()
			os.Remove(f.Name())
		}
	}
	next := func(n int) (io.Writer, error) {
		f, err := os.OpenFile(partPath(path, n)+".tmp", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
		return f, nil
	}
	first, err := next(1)
	if err != nil {
		return multisite.ExportStats{}, err
	}
	stats, err := multisite.ExportPacket(e.ctx, db, target, first, multisite.ExportOptions{Progress: progress, Policy: policy, MaxSize: maxSize, NextPart: next})
	for _, f := range files {
		if err == nil {
			err = f.Sync()
		}
	}
	if err != nil {
		cleanup()
		return stats, err
	}
	for _, f := range files {
		if err := f.Close(); err != nil {
			cleanup()
			return stats, err
		}
		if err := os.Rename(f.Name(), strings.TrimSuffix(f.Name(), ".tmp")); err != nil {
			return stats, err
		}
	}
	return stats, nil
}

// partPath is where part n of a split packet goes: NAME-pN.pkt.
func partPath(path string, n int) string {
	return fmt.Sprintf("%s-p%03d.pkt", strings.TrimSuffix(path, ".pkt"), n)
}

// writePacket writes the packet as NAME.tmp and renames it to NAME once it
// is complete and on disk, so an importer scanning for *.pkt never takes
// half a packet; on error nothing is left behind.
func writePacket(path string, write func(io.Writer) (multisite.ExportStats, error)) (multisite.ExportStats, error) {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return multisite.ExportStats{}, err
	}
	stats, err := write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return stats, err
}

type importJSON struct {
	File      string                   `json:"file"`
	Status    string                   `json:"status"` // imported, duplicate, failed
	Origin    string                   `json:"origin,omitempty"`
	Tables    map[string]tableCountsJS `json:"tables,omitempty"`
	Transfers int                      `json:"transfers,omitempty"`
	Conflicts int                      `json:"conflicts,omitempty"`
	Error     string                   `json:"error,omitempty"`
	MovedTo   string                   `json:"moved_to"`
}

func syncImport(e *env, db *sql.DB, st *multisite.Status, bay string, asJSON bool) error {
	who := names(st)
	out, failed, skipped, err := importBay(e, db, st, bay, func(r importJSON) {
		if asJSON {
			return
		}
		if r.Status == "failed" {
			fmt.Fprintf(e.stderr, "multiutil syncreplica: %s: %s\n", filepath.Base(r.File), r.Error)
			return
		}
		printImport(e, r, who)
	})
	if err != nil {
		return err
	}
	if asJSON {
		if err := writeJSON(e.stdout, out); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(e.stdout, "%d packets imported, %d failed, %d for other replicas left in the bay\n", len(out)-failed, failed, skipped)
	}
	if failed > 0 {
		return &exitError{code: exitFail, err: fmt.Errorf("%d of %d packets failed; they are in %s", failed, len(out), filepath.Join(bay, "failed"))}
	}
	return nil
}

// importBay imports every packet in bay addressed to the local replica,
// moving each to bay/done or bay/failed, and tells say about each. It
// returns what happened (sorted by file), how many failed and how many
// were left for other replicas; an error means the bay itself is broken.
func importBay(e *env, db *sql.DB, st *multisite.Status, bay string, say func(importJSON)) ([]importJSON, int, int, error) {
	files, err := filepath.Glob(filepath.Join(bay, "*.pkt"))
	if err != nil {
		return nil, 0, 0, err
	}
	sort.Strings(files)
	out := []importJSON{}
	failed, skipped := 0, 0
	fail := func(path string, err error) error {
		failed++
		r := importJSON{File: path, Status: "failed", Error: err.Error()}
		var merr error
		r.MovedTo, merr = moveTo(path, bay, "failed")
		out = append(out, r)
		say(r)
		return merr
	}
	var pending []string
	for _, path := range files {
		ok, err := addressedHere(path, st)
		switch {
		case err != nil:
			if err := fail(path, err); err != nil {
				return nil, 0, 0, err // the bay itself is broken: stop
			}
		case ok:
			pending = append(pending, path)
		default:
			skipped++
		}
	}
	// A packet from a replica this one does not know yet, or one that
	// assumes changes not yet here, may become importable once another
	// packet of the same run is in: retry those while the run makes
	// progress.
	for len(pending) > 0 {
		var retry []string
		var retryErr []error
		progress := false
		for _, path := range pending {
			r, err := importOne(e, db, path)
			if err != nil {
				if errors.Is(err, replica.ErrUnknown) || errors.Is(err, replica.ErrGap) {
					retry, retryErr = append(retry, path), append(retryErr, err)
					continue
				}
				if err := fail(path, err); err != nil {
					return nil, 0, 0, err
				}
				continue
			}
			progress = true
			if r.MovedTo, err = moveTo(path, bay, "done"); err != nil {
				return nil, 0, 0, err
			}
			out = append(out, r)
			say(r)
		}
		if !progress {
			for i, path := range retry {
				if err := fail(path, retryErr[i]); err != nil {
					return nil, 0, 0, err
				}
			}
			break
		}
		pending = retry
	}
	sort.Slice(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out, failed, skipped, nil
}

func printImport(e *env, r importJSON, who map[replica.ID]string) {
	fmt.Fprintf(e.stdout, "%s: %s from %s", filepath.Base(r.File), r.Status, who[replica.ID(r.Origin)])
	for _, t := range sortedKeys(r.Tables) {
		c := r.Tables[t]
		fmt.Fprintf(e.stdout, "; %s +%d ~%d -%d", t, c.Inserted, c.Updated, c.Deleted)
	}
	if r.Transfers > 0 {
		fmt.Fprintf(e.stdout, "; %d transfers", r.Transfers)
	}
	if r.Conflicts > 0 {
		fmt.Fprintf(e.stdout, "; %d creation conflicts (see ms_conflict)", r.Conflicts)
	}
	fmt.Fprintln(e.stdout)
}

// addressedHere reads only the packet's header to see whether it is a
// sync packet for the local replica. The signature is checked by the
// import itself.
func addressedHere(path string, st *multisite.Status) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	h, err := syncpkt.NewReader(f, syncpkt.ReaderOptions{}).Header()
	if err != nil {
		return false, err
	}
	return h.Target == string(st.Local.ID) && (h.Kind == syncpkt.KindSync || h.Kind == syncpkt.KindAck), nil
}

func importOne(e *env, db *sql.DB, path string) (importJSON, error) {
	f, err := os.Open(path)
	if err != nil {
		return importJSON{}, err
	}
	defer f.Close()
	b, progress := e.importProgress("import " + filepath.Base(path))
	rep, err := multisite.ImportPacket(e.ctx, db, f, multisite.ImportOptions{OnProgress: progress})
	b.done()
	if err != nil {
		return importJSON{}, err
	}
	status := "imported"
	switch {
	case rep.Kind == syncpkt.KindAck.String():
		status = "acknowledgement"
	case rep.Held:
		status = fmt.Sprintf("part %d held", rep.Part)
		if len(rep.Missing) > 0 {
			status += fmt.Sprintf(", parts %v still missing", rep.Missing)
		}
		if rep.Parts == 0 {
			status += ", the last part not yet come"
		}
	case rep.Duplicate:
		status = "duplicate"
	case rep.Parts > 0:
		status = fmt.Sprintf("imported (all %d parts)", rep.Parts)
	}
	if rep.Restored {
		status += "; restore complete: every member has sent what was lost, and the replica is active again"
	}
	return importJSON{File: path, Status: status, Origin: string(rep.Origin), Tables: countsJSON(rep),
		Transfers: rep.Transfers, Conflicts: len(rep.Conflicts)}, nil
}

// moveTo moves a handled packet into bay/sub/, so the next run does not
// take it again.
func moveTo(path, bay, sub string) (string, error) {
	dir := filepath.Join(bay, sub)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	dst := filepath.Join(dir, filepath.Base(path))
	return dst, os.Rename(path, dst)
}
