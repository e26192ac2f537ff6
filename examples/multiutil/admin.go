package main

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/codepage"
	"github.com/multisite-go/multisite/replica"
)

// replicaJSON is a registry entry as --json prints it.
type replicaJSON struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Number    int64    `json:"number"`
	State     string   `json:"state"`
	Version   uint64   `json:"version"`
	PublicKey string   `json:"public_key"` // hex; what mkreplica -import --origin-key takes
	KeyRange  [2]int64 `json:"key_range"`  // integer keys the replica allocates
	Local     bool     `json:"local,omitempty"`
}

func toReplicaJSON(i replica.Info, local replica.ID) replicaJSON {
	lo, hi := replica.KeyRange(i.Number)
	return replicaJSON{ID: string(i.ID), Name: i.Name, Number: i.Number, State: string(i.State), Version: i.Version,
		PublicKey: hex.EncodeToString(i.PublicKey), KeyRange: [2]int64{lo, hi}, Local: i.ID == local}
}

// checkCodePage refuses an unknown code page before anything is opened.
func checkCodePage(name string) error {
	if name == "" {
		return nil
	}
	if _, err := codepage.Lookup(name); err != nil {
		return usagef("%v", err)
	}
	return nil
}

func cmdActivate(e *env, args []string) error {
	fs := newFlags(e, "activate")
	dbPath := fs.String("db", "", "database `file` to activate"+dbKinds)
	name := fs.String("name", "", "`name` of the first replica, e.g. boston")
	cp := fs.String("codepage", "", "data `code page` by name or number (1252, Shift_JIS); default UTF-8")
	exclude := fs.String("exclude", "", "comma-separated `tables` not to replicate")
	plan := fs.Bool("plan", false, "print the statements activation would run and change nothing")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(e, fs, args, false); err != nil {
		return err
	}
	if err := required("db", "name")(fs); err != nil {
		return err
	}
	if err := checkCodePage(*cp); err != nil {
		return err
	}
	db, err := openDB(*dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	opt := multisite.ActivateOptions{Name: *name, CodePage: *cp, Exclude: splitList(*exclude)}
	if *plan {
		p, err := multisite.PlanActivation(e.ctx, db, opt)
		if err != nil {
			return err
		}
		if *asJSON {
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
	info, err := multisite.Activate(e.ctx, db, opt)
	if err != nil {
		return err
	}
	st, err := multisite.ReadStatus(e.ctx, db)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(e.stdout, struct {
			Family   string      `json:"family"`
			CodePage string      `json:"code_page"`
			Tables   []string    `json:"tables"`
			Replica  replicaJSON `json:"replica"`
		}{st.Family, st.CodePage, st.Tables, toReplicaJSON(info, info.ID)})
	}
	fmt.Fprintf(e.stdout, "activated %s as replica %s (%s) of new family %s\n", *dbPath, info.Name, info.ID, st.Family)
	fmt.Fprintf(e.stdout, "data code page %s; replicated tables: %s\n", st.CodePage, strings.Join(st.Tables, ", "))
	fmt.Fprintf(e.stdout, "public key (for mkreplica -import --origin-key): %s\n", hex.EncodeToString(info.PublicKey))
	return nil
}

func cmdMkreplica(e *env, args []string) error {
	fs := newFlags(e, "mkreplica")
	export := fs.Bool("export", false, "write a creation packet for a new replica")
	imp := fs.Bool("import", false, "create the replica from a creation packet")
	dbPath := fs.String("db", "", "database `file`: the existing replica (-export) or the new one (-import)"+dbKinds)
	name := fs.String("name", "", "-export: `name` of the new replica")
	out := fs.String("out", "", "-export: creation packet `file` to write (must not exist)")
	in := fs.String("in", "", "-import: creation packet `file` to read")
	originKey := fs.String("origin-key", "", "-import: public key (`hex`) of the replica that made the packet, from its lsreplica; without it the packet is only checked against the key it carries")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(e, fs, args, false); err != nil {
		return err
	}
	switch {
	case *export == *imp:
		return usagef("give exactly one of -export and -import")
	case *export:
		if err := required("db", "name", "out")(fs); err != nil {
			return err
		}
		if *in != "" || *originKey != "" {
			return usagef("--in and --origin-key go with -import")
		}
		return mkreplicaExport(e, *dbPath, *name, *out, *asJSON)
	default:
		if err := required("db", "in")(fs); err != nil {
			return err
		}
		if *name != "" || *out != "" {
			return usagef("--name and --out go with -export")
		}
		var key ed25519.PublicKey
		if *originKey != "" {
			b, err := hex.DecodeString(*originKey)
			if err != nil || len(b) != ed25519.PublicKeySize {
				return usagef("--origin-key must be %d bytes in hex (64 hex digits), as lsreplica prints it", ed25519.PublicKeySize)
			}
			key = b
		}
		return mkreplicaImport(e, *dbPath, *in, key, *asJSON)
	}
}

func mkreplicaExport(e *env, dbPath, name, out string, asJSON bool) error {
	if _, err := os.Stat(out); err == nil {
		return fmt.Errorf("%s already exists; a creation packet is never overwritten", out)
	}
	db, st, err := openStatus(e, dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	b, progress := e.progressBar("mkreplica " + name)
	var info replica.Info
	var stats multisite.ExportStats
	// The packet carries the whole database and the new replica's
	// one-time enrolment secret: 0600, and it appears under its final
	// name only once complete.
	err = writeAtomic(out, 0o600, func(f *os.File) error {
		var err error
		info, stats, err = multisite.Replicate(e.ctx, db, name, f, multisite.ReplicateOptions{Progress: progress})
		return err
	})
	b.done()
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(e.stdout, struct {
			Replica   replicaJSON    `json:"replica"`
			File      string         `json:"file"`
			Rows      int            `json:"rows"`
			Tables    map[string]int `json:"tables"`
			Bytes     int64          `json:"bytes"`
			OriginKey string         `json:"origin_key"`
		}{toReplicaJSON(info, st.Local.ID), out, stats.Rows, stats.Tables, stats.Bytes, hex.EncodeToString(st.Local.PublicKey)})
	}
	fmt.Fprintf(e.stdout, "registered replica %s (%s), number %d, receive-only\n", info.Name, info.ID, info.Number)
	fmt.Fprintf(e.stdout, "wrote creation packet %s: %d rows, %d bytes; it holds the whole database and a one-time enrolment secret (never a private key): protect it like a backup until the new replica has enrolled\n", out, stats.Rows, stats.Bytes)
	fmt.Fprintf(e.stdout, "at the new site: multiutil mkreplica -import --db %s.db --in %s --origin-key %s\n", name, filepath.Base(out), hex.EncodeToString(st.Local.PublicKey))
	return nil
}

func mkreplicaImport(e *env, dbPath, in string, key ed25519.PublicKey, asJSON bool) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	_, statErr := os.Stat(dbPath)
	created := !isServer(dbPath) && errors.Is(statErr, os.ErrNotExist)
	db, err := sqlOpen(dbPath)
	if err != nil {
		return err
	}
	b, progress := e.importProgress("mkreplica import")
	rep, err := multisite.CreateReplica(e.ctx, db, f, multisite.CreateOptions{OriginKey: key, OnProgress: progress})
	b.done()
	var st *multisite.Status
	if err == nil {
		st, err = multisite.ReadStatus(e.ctx, db)
	}
	db.Close()
	if err != nil {
		if created { // leave no empty database behind
			for _, s := range []string{"", "-journal", "-wal", "-shm"} {
				os.Remove(dbPath + s)
			}
		}
		return err
	}
	if asJSON {
		return writeJSON(e.stdout, struct {
			Replica replicaJSON              `json:"replica"`
			Family  string                   `json:"family"`
			Origin  string                   `json:"origin"`
			Tables  map[string]tableCountsJS `json:"tables"`
			Bytes   int64                    `json:"bytes"`
		}{toReplicaJSON(st.Local, st.Local.ID), st.Family, string(rep.Origin), countsJSON(rep), rep.Bytes})
	}
	fmt.Fprintf(e.stdout, "created replica %s (%s) of family %s from %s: %d bytes\n", st.Local.Name, st.Local.ID, st.Family, in, rep.Bytes)
	for _, t := range sortedKeys(rep.Tables) {
		fmt.Fprintf(e.stdout, "  %-20s %d rows\n", t, rep.Tables[t].Inserted)
	}
	creator := string(rep.Origin)
	for _, r := range st.Replicas {
		if r.ID == rep.Origin {
			creator = r.Name
		}
	}
	fmt.Fprintf(e.stdout, "the replica made its own signing key; its first packet to %s enrols it there (multiutil syncreplica -ack --db %s --to %s --bay BAY, or any export to %s once active)\n", creator, dbPath, creator, creator)
	fmt.Fprintf(e.stdout, "the replica is %s; validate it, then: multiutil activate-replica --db %s\n", st.Local.State, dbPath)
	return nil
}

func cmdActivateReplica(e *env, args []string) error {
	fs := newFlags(e, "activate-replica")
	dbPath := fs.String("db", "", "database `file` of the replica"+dbKinds)
	if _, err := parse(e, fs, args, false); err != nil {
		return err
	}
	if err := required("db")(fs); err != nil {
		return err
	}
	return setState(e, *dbPath, replica.Active)
}

func cmdChstate(e *env, args []string) error {
	fs := newFlags(e, "chstate")
	dbPath := fs.String("db", "", "database `file` of the replica"+dbKinds)
	state := fs.String("state", "", "new `state`: active or receive-only")
	if _, err := parse(e, fs, args, false); err != nil {
		return err
	}
	if err := required("db", "state")(fs); err != nil {
		return err
	}
	s := replica.State(*state)
	if s != replica.Active && s != replica.ReceiveOnly {
		return usagef("--state must be %s or %s (rmreplica removes a replica; restorereplica is for a restored backup)", replica.Active, replica.ReceiveOnly)
	}
	return setState(e, *dbPath, s)
}

func setState(e *env, dbPath string, s replica.State) error {
	db, err := openDB(dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	before, err := multisite.ReadStatus(e.ctx, db)
	if err != nil {
		return err
	}
	if err := multisite.SetState(e.ctx, db, s); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "replica %s: %s -> %s\n", before.Local, before.Local.State, s)
	return nil
}

// writeAtomic writes path through a temporary file in the same directory
// and renames it into place, so a reader never sees half a file.
func writeAtomic(path string, perm os.FileMode, write func(*os.File) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if err := write(f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
