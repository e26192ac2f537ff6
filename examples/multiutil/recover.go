package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/replica"
)

// The verbs of a running family: recoverpacket, restorereplica, rmreplica
// and prune.

// parseSince reads --since: ORIGIN=EPOCH pairs, comma-separated, origins
// by replica name or ID. The syntax is checked here (a usage error); the
// names once the database is open (resolveSince).
func parseSince(s string) (map[string]uint64, error) {
	out := map[string]uint64{}
	for _, part := range splitList(s) {
		name, epoch, ok := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		n, err := strconv.ParseUint(strings.TrimSpace(epoch), 10, 64)
		if !ok || name == "" || err != nil {
			return nil, usagef("--since %q: write ORIGIN=EPOCH pairs separated by commas, e.g. boston=12,bangalore=3", part)
		}
		if _, dup := out[name]; dup {
			return nil, usagef("--since names %s twice", name)
		}
		out[name] = n
	}
	return out, nil
}

func resolveSince(st *multisite.Status, since map[string]uint64) (replica.Vector, error) {
	v := replica.Vector{}
	for name, epoch := range since {
		r, err := resolveReplica(st, name)
		if err != nil {
			return nil, err
		}
		v[r.ID] = epoch
	}
	return v, nil
}

func cmdRecoverpacket(e *env, args []string) error {
	fs := newFlags(e, "recoverpacket")
	dbPath := fs.String("db", "", "database `file` of the local replica"+dbKinds)
	to := fs.String("to", "", "`replica` (name or ID) that lost packets")
	bay := fs.String("bay", "", "storage bay `directory` to write the packet into (must exist)")
	sinceFlag := fs.String("since", "", "resend the changes of these origins after these `epochs` (ORIGIN=EPOCH,...; see lsepoch); other origins: after what the target last acknowledged")
	request := fs.String("request", "", "acknowledgement `file` the target wrote (syncreplica -ack): resend exactly what it lacks")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(e, fs, args, false); err != nil {
		return err
	}
	if err := required("db", "to", "bay")(fs); err != nil {
		return err
	}
	if strings.Contains(*to, ",") || *to == "all" {
		return usagef("--to names one replica; recoverpacket resends to one replica at a time")
	}
	since, err := parseSince(*sinceFlag)
	if err != nil {
		return err
	}
	if err := checkBay(*bay); err != nil {
		return err
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
		return usagef("%s is the local replica; --to names the replica that lost packets", target)
	}
	vec, err := resolveSince(st, since)
	if err != nil {
		return err
	}
	opt := multisite.ExportOptions{}
	if *request != "" {
		f, err := os.Open(*request)
		if err != nil {
			return err
		}
		defer f.Close()
		opt.Request = f
	}
	path := packetPath(*bay, st.Local, target)
	b, progress := e.progressBar("recover to " + target.Name)
	opt.Progress = progress
	stats, err := writePacket(path, func(w io.Writer) (multisite.ExportStats, error) {
		return multisite.RecoverPacket(e.ctx, db, target.ID, vec, w, opt)
	})
	b.done()
	if err != nil {
		return fmt.Errorf("recover packet for %s: %w", target, err)
	}
	out := exportJSON{string(target.ID), path, stats.Epoch, stats.Rows, stats.Deletes, stats.Transfers, stats.Tables, stats.Bytes}
	if *asJSON {
		return writeJSON(e.stdout, out)
	}
	from := "what it lacks by its last acknowledgement"
	if *request != "" {
		from = "what it lacks by its request"
	}
	if b := vectorNames(stats.Base, st); b != "" {
		from += " (every change after " + b + ")"
	}
	fmt.Fprintf(e.stdout, "%s -> %s: %s resends %s (epoch %d, %d rows, %d deletes, %d transfers, %d bytes)\n",
		st.Local.Name, target.Name, path, from, stats.Epoch, stats.Rows, stats.Deletes, stats.Transfers, stats.Bytes)
	fmt.Fprintf(e.stdout, "at %s: multiutil syncreplica -import --db ... --bay ... (what it already has is skipped)\n", target.Name)
	return nil
}

// vectorNames writes a vector with replica names: "boston=3, dublin=1".
func vectorNames(v replica.Vector, st *multisite.Status) string {
	who := names(st)
	var parts []string
	for _, o := range v.Origins() {
		n := who[o]
		if n == "" {
			n = string(o)
		}
		parts = append(parts, fmt.Sprintf("%s=%d", n, v[o]))
	}
	return strings.Join(parts, ", ")
}

func cmdRestorereplica(e *env, args []string) error {
	fs := newFlags(e, "restorereplica")
	dbPath := fs.String("db", "", "database `file` just restored from a backup"+dbKinds)
	bay := fs.String("bay", "BAY", "storage bay `directory` to name in the printed next steps")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(e, fs, args, false); err != nil {
		return err
	}
	if err := required("db")(fs); err != nil {
		return err
	}
	db, err := openDB(*dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	info, err := multisite.RestoreReplica(e.ctx, db)
	if err != nil {
		return err
	}
	st, err := multisite.ReadStatus(e.ctx, db)
	if err != nil {
		return err
	}
	// Every member that writes must send the restored replica a packet.
	waiting := []string{}
	for _, r := range st.Replicas {
		if r.ID != info.ID && r.State == replica.Active {
			waiting = append(waiting, r.Name)
		}
	}
	if *asJSON {
		return writeJSON(e.stdout, struct {
			Replica     replicaJSON `json:"replica"`
			Incarnation uint64      `json:"incarnation"`
			WaitingFor  []string    `json:"waiting_for"` // members whose packets it needs before it is active again
		}{toReplicaJSON(info, info.ID), info.Incarnation, waiting})
	}
	fmt.Fprintf(e.stdout, "replica %s restored from backup: incarnation %d, state %s\n", info, info.Incarnation, info.State)
	fmt.Fprintln(e.stdout, "it refuses local writes and seals no epoch until every writing member has sent it a packet;")
	fmt.Fprintln(e.stdout, "packets made for it before the restore are refused and not needed")
	if len(waiting) > 0 {
		// Its acknowledgements tell every member of the restore and what
		// it holds; their packets then connect in any order.
		fmt.Fprintf(e.stdout, "next steps (DB_OF_NAME is that member's database):\n")
		step := 0
		line := func(where, cmd string, args ...any) {
			step++
			fmt.Fprintf(e.stdout, "  %d. %-12s multiutil %s\n", step, where+":", fmt.Sprintf(cmd, args...))
		}
		line("here", "syncreplica -ack --db %s --to all --bay %s", display(*dbPath), *bay)
		for _, m := range waiting {
			line("at "+m, "syncreplica -import --db DB_OF_%s --bay %s", m, *bay)
			line("at "+m, "syncreplica -export --db DB_OF_%s --to %s --bay %s", m, info.Name, *bay)
		}
		line("here", "syncreplica -import --db %s --bay %s", display(*dbPath), *bay)
	}
	return nil
}

func cmdRmreplica(e *env, args []string) error {
	fs := newFlags(e, "rmreplica")
	dbPath := fs.String("db", "", "database `file` of the replica to remove from its family"+dbKinds)
	transferTo := fs.String("transfer-to", "", "`replica` (name or ID) that takes over every row the removed replica masters")
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
	var opt multisite.RemoveOptions
	if *transferTo != "" {
		to, err := resolveReplica(st, *transferTo)
		if err != nil {
			return err
		}
		if to.ID == st.Local.ID {
			return usagef("--transfer-to names the replica that takes the rows over, not %s itself", to)
		}
		opt.TransferTo = to.ID
	}
	info, err := multisite.RemoveReplica(e.ctx, db, opt)
	var mr *multisite.MastersRowsError
	if errors.As(err, &mr) {
		var parts []string
		for _, t := range sortedKeys(mr.Tables) {
			parts = append(parts, fmt.Sprintf("%s: %d", t, mr.Tables[t]))
		}
		return fmt.Errorf("%s still masters rows (%s); nothing was changed. Hand them over first with --transfer-to REPLICA (or chmaster)", st.Local, strings.Join(parts, ", "))
	}
	if err != nil {
		return err
	}
	if *asJSON {
		to := ""
		if opt.TransferTo != "" {
			to = string(opt.TransferTo)
		}
		return writeJSON(e.stdout, struct {
			Replica    replicaJSON `json:"replica"`
			TransferTo string      `json:"transfer_to,omitempty"`
		}{toReplicaJSON(info, info.ID), to})
	}
	fmt.Fprintf(e.stdout, "replica %s is removed from family %s; it refuses local writes\n", info, st.Family)
	if opt.TransferTo != "" {
		fmt.Fprintf(e.stdout, "every row it mastered now belongs to %s\n", names(st)[opt.TransferTo])
	}
	fmt.Fprintf(e.stdout, "tell the family (and carry the transfers) with one last export, then retire the database:\n")
	fmt.Fprintf(e.stdout, "  multiutil syncreplica -export --db %s --to all --bay ...\n", display(*dbPath))
	return nil
}

func cmdPrune(e *env, args []string) error {
	dbPath, asJSON, err := dbOnlyFlags(e, "prune", args)
	if err != nil {
		return err
	}
	db, st, err := openStatus(e, dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	stats, err := multisite.Prune(e.ctx, db)
	if err != nil {
		return err
	}
	if asJSON {
		h := map[string]uint64{}
		for o, ep := range stats.Horizon {
			h[string(o)] = ep
		}
		return writeJSON(e.stdout, struct {
			Tombstones int64             `json:"tombstones"`
			Transfers  int64             `json:"transfers"`
			Requests   int64             `json:"requests"` // settled mastership requests
			Horizon    map[string]uint64 `json:"horizon"`  // origin ID -> epoch up to which history is gone
		}{stats.Tombstones, stats.Transfers, stats.Requests, h})
	}
	fmt.Fprintf(e.stdout, "pruned %d tombstones, %d logged transfers and %d settled mastership requests that every member has acknowledged\n", stats.Tombstones, stats.Transfers, stats.Requests)
	if h := vectorNames(stats.Horizon, st); h != "" {
		fmt.Fprintf(e.stdout, "history is gone up to: %s\n", h)
	}
	return nil
}
