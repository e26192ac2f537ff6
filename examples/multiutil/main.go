// Command multiutil is a thin administration tool over the multisite
// library, with the verbs a ClearQuest MultiSite administrator knows:
// activate, mkreplica, chstate, syncreplica, chmaster, lsmaster, reqmaster,
// lsrequest, grantrequest, denyrequest, lscollision, resolvecollision,
// comparereplica, cleancharset, chcodepage, lscharset, enforcecharset,
// rotatekey, deactivate, lsreplica, lsepoch,
// lspacket, describe, validatecharset, recoverpacket, restorereplica,
// rmreplica, prune and version; sync and serve to run a family from its
// deployment plan over HTTP(S) or storage bays (package transport); plan
// validate / plan workflow for deployment plans (package plan); and schema
// status / repair / upgrade / migrate / migrations for the schema of a
// replica (package schema).
//
//	go run ./examples/multiutil                       # usage, then a self-contained demo
//	go run ./examples/multiutil activate --db boston.db --name boston --codepage 1252
//	go run ./examples/multiutil mkreplica -export --db boston.db --name bangalore --out blr.pkt
//	go run ./examples/multiutil syncreplica -export --db boston.db --to bangalore --bay /mnt/bay
//	go run ./examples/multiutil lsreplica --db boston.db --json
//	go run ./examples/multiutil chmaster --db boston.db --table defect --to bangalore --where "owner = 'bala'" --dry-run
//	go run ./examples/multiutil serve --plan family.yaml --site boston --cert c.pem --key k.pem
//	go run ./examples/multiutil sync --plan family.yaml --site bangalore --every 15m
//	go run ./examples/multiutil rmreplica --db dublin.db --transfer-to boston
//	go run ./examples/multiutil plan workflow examples/plan/family.yaml --site dublin
//	go run ./examples/multiutil schema status --db boston.db
//	go run ./examples/multiutil schema migrate --db boston.db --dir migrations --dry-run
//
// It uses only the library's public API and opens the databases itself
// with database/sql, as a program of your own would: --db is a SQLite file
// (modernc.org/sqlite), postgres://… (pgx) or mysql://… followed by a
// go-sql-driver DSN. Exit codes: 0 ok, 1 the operation failed, 2 usage error.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/replica"
	_ "modernc.org/sqlite"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// env is what a verb runs with: where to write and whether to draw progress.
type env struct {
	ctx            context.Context
	stdout, stderr io.Writer
	progress       bool // draw progress bars on stderr
	// who maps the replica IDs of the family last opened to their names,
	// so that messages name replicas as people do.
	who map[replica.ID]string
}

// command is one verb.
type command struct {
	name     string
	synopsis string // one line for the overview
	usage    string // argument summary after the verb
	run      func(e *env, args []string) error
	later    bool // provided by a later version: listed, refused
}

func commands() []command {
	return []command{
		{name: "activate", synopsis: "make a database the first replica of a new family",
			usage: "--db F --name NAME [--codepage CP] [--exclude T1,T2] [--plan] [--json]", run: cmdActivate},
		{name: "mkreplica", synopsis: "create a replica: -export writes a creation packet, -import creates the replica from it",
			usage: "-export --db F --name NAME --out FILE [--json]\n       multiutil mkreplica -import --db F --in FILE [--origin-key HEX] [--json]", run: cmdMkreplica},
		{name: "activate-replica", synopsis: "make a new (receive-only) replica active: bidirectional sync",
			usage: "--db F", run: cmdActivateReplica},
		{name: "chstate", synopsis: "change the local replica's state (active, receive-only)",
			usage: "--db F --state STATE", run: cmdChstate},
		{name: "syncreplica", synopsis: "-export writes sync packets into a storage bay, -import applies those addressed here",
			usage: "-export --db F --to REPLICA[,REPLICA|all] --bay DIR [--plan FILE] [--maxsize BYTES] [--json]\n       multiutil syncreplica -import --db F --bay DIR [--json]\n       multiutil syncreplica -ack --db F --to REPLICA[,REPLICA|all] --bay DIR [--json]", run: cmdSyncreplica},
		{name: "chmaster", synopsis: "transfer mastership of rows to another replica: named keys, --all, or a --where filter",
			usage: "--db F --table T --to REPLICA (--key V[,V2] [--key ...] | --all | --where COND | --all --where COND) [--dry-run] [--json]", run: cmdChmaster},
		{name: "lsmaster", synopsis: "who masters what: rows per table per replica, a replica's rows, transfers and requests in flight",
			usage: "--db F [--table T,...] [--rows REPLICA] [--limit N] [--json]", run: cmdLsmaster},
		{name: "reqmaster", synopsis: "ask the master of a row to hand it to this replica (a mastership request)",
			usage: "--db F --table T --key V [--reason TEXT] [--dry-run] [--json]", run: cmdReqmaster},
		{name: "lsrequest", synopsis: "list the mastership requests this replica knows of, and where each stands",
			usage: "--db F [--table T] [--state open|pending,...] [--json]", run: cmdLsrequest},
		{name: "grantrequest", synopsis: "grant a mastership request addressed to this replica: the row goes to the requester",
			usage: "--db F --id ID [--dry-run] [--json]", run: cmdGrantrequest},
		{name: "denyrequest", synopsis: "deny a mastership request addressed to this replica",
			usage: "--db F --id ID [--reason TEXT] [--dry-run] [--json]", run: cmdDenyrequest},
		{name: "lscollision", synopsis: "list the unique-key collisions imports settled (renamed records)",
			usage: "--db F [--table T] [--state S,...] [--json]", run: cmdLscollision},
		{name: "resolvecollision", synopsis: "settle a collision at the renamed record's master: keep the rename or set a value",
			usage: "--db F --id ID [--value V] [--dry-run] [--json]", run: cmdResolvecollision},
		{name: "comparereplica", synopsis: "compare replicas' content hashes (exit 1 if their replicated data differ)",
			usage: "--db F --db G [--db ...] [--json]", run: cmdComparereplica},
		{name: "cleancharset", synopsis: "make stored strings fit a data code page (a dry run unless --apply)",
			usage: "--db F --codepage CP [--strategy replace|transliterate|drop] [--replacement R] [--table T,...] [--apply] [--json]", run: cmdCleancharset},
		{name: "chcodepage", synopsis: "change the family's data code page (travels in packets); --dry-run lists what does not fit",
			usage: "--db F --codepage CP [--dry-run] [--json]", run: cmdChcodepage},
		{name: "lscharset", synopsis: "show how the replica enforces the data code page: triggers per table, narrow columns",
			usage: "--db F [--json]", run: cmdLscharset},
		{name: "enforcecharset", synopsis: "(re)install the triggers by which the database refuses strings outside the code page",
			usage: "--db F [--dry-run] [--json]", run: cmdEnforcecharset},
		{name: "rotatekey", synopsis: "replace the replica's signing key (the old key endorses the new one)",
			usage: "--db F [--dry-run] [--json]", run: cmdRotatekey},
		{name: "deactivate", synopsis: "turn a replica back into a plain database (triggers, metadata and mastership field removed)",
			usage: "--db F (--yes | --dry-run) [--force] [--json]", run: cmdDeactivate},
		{name: "version", synopsis: "print the versions of multiutil, the library, the packet format and Go",
			usage: "[--json]", run: cmdVersion},
		{name: "lsreplica", synopsis: "list the family's replicas: states, numbers, key ranges, keys",
			usage: "--db F [--json]", run: cmdLsreplica},
		{name: "lsepoch", synopsis: "print the epoch matrix: what each replica holds of every origin",
			usage: "--db F [--json]", run: cmdLsepoch},
		{name: "lspacket", synopsis: "describe packet files (header and record counts; signatures not verified)",
			usage: "[--json] FILE...", run: cmdLspacket},
		{name: "describe", synopsis: "describe a replica: family, local replica, code page, tables, pending changes",
			usage: "--db F [--json]", run: cmdDescribe},
		{name: "validatecharset", synopsis: "report stored strings outside a data code page (exit 1 if any)",
			usage: "--db F --codepage CP [--max N] [--json]", run: cmdValidatecharset},
		{name: "recoverpacket", synopsis: "write a packet that resends what a replica lost (everything, or after --since)",
			usage: "--db F --to REPLICA --bay DIR [--since ORIGIN=EPOCH,...] [--request ACKFILE] [--json]", run: cmdRecoverpacket},
		{name: "restorereplica", synopsis: "run on a database restored from backup: it gets back in step without reusing an epoch",
			usage: "--db F [--bay DIR] [--json]", run: cmdRestorereplica},
		{name: "rmreplica", synopsis: "remove the local replica from its family (it must master nothing, or --transfer-to)",
			usage: "--db F [--transfer-to REPLICA] [--json]", run: cmdRmreplica},
		{name: "prune", synopsis: "drop tombstones and transfer logs every member has acknowledged",
			usage: "--db F [--json]", run: cmdPrune},
		{name: "sync", synopsis: "one round of the plan's synchronization for a site (export, push/pull or bay, import); --every keeps going",
			usage: "--plan FILE --site NAME [--db F] [--bay DIR] [--every DURATION|plan] [--dry-run] [--json]", run: cmdSync},
		{name: "serve", synopsis: "serve a site's packets over HTTP(S) (package transport): peers push and pull with their tokens",
			usage: "--plan FILE --site NAME [--db F] [--listen ADDR] [--bay DIR | --import] [--cert F --key F]", run: cmdServe},
		{name: "plan", synopsis: "deployment plans: validate FILE, workflow FILE [--site NAME] (Markdown per site)",
			usage: "validate FILE [--json]\n       multiutil plan workflow FILE [--site NAME] [--out DIR]", run: cmdPlan},
		{name: "schema", synopsis: "schema of a replica: status, repair, upgrade (metadata), migrate DIR, migrations DIR, transfer-master REPLICA",
			usage: "status --db F [--json]\n       multiutil schema repair --db F [--dry-run] [--json]\n       multiutil schema upgrade --db F [--dry-run] [--json]\n       multiutil schema migrate --db F --dir DIR [--dry-run] [--json]\n       multiutil schema migrations --db F --dir DIR [--json]\n       multiutil schema transfer-master --db F --to REPLICA [--json]", run: cmdSchema},
	}
}

// lookupCommand finds a verb, or a sub-verb by its full name ("plan validate").
func lookupCommand(name string) (command, bool) {
	for _, c := range append(append(commands(), planCommands()...), schemaCommands()...) {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: multiutil VERB [flags]      (multiutil VERB --help for the verb's flags)")
	fmt.Fprintln(w, "       multiutil                   (no arguments: run a self-contained demo)")
	fmt.Fprintln(w, "\nverbs:")
	for _, c := range commands() {
		if !c.later {
			fmt.Fprintf(w, "  %-17s %s\n", c.name, c.synopsis)
		}
	}
	later := false
	for _, c := range commands() {
		if c.later {
			if !later {
				fmt.Fprintln(w, "\nnot yet available (a later version provides them):")
				later = true
			}
			fmt.Fprintf(w, "  %-17s %s\n", c.name, c.synopsis)
		}
	}
	fmt.Fprintln(w, "\nflags may be written -flag or --flag; exit status: 0 ok, 1 the operation failed, 2 usage error")
}

// run is the whole program; main only passes os.Args and exits with its
// result, so tests call run directly.
func run(args []string, stdout, stderr io.Writer) int {
	return runCtx(context.Background(), args, stdout, stderr)
}

// runCtx is run with a context: a long-running verb (serve, sync --every)
// stops when ctx is done, as it does on SIGINT or SIGTERM.
func runCtx(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// Progress bars are for people: only on a terminal, unless
	// MULTIUTIL_PROGRESS=always asks for them anyway (they go to stderr).
	progress := isTerminal(stdout) && isTerminal(stderr) || os.Getenv("MULTIUTIL_PROGRESS") == "always"
	e := &env{ctx: ctx, stdout: stdout, stderr: stderr, progress: progress}
	if len(args) == 0 {
		printUsage(stdout)
		fmt.Fprintln(stdout)
		return demo(e)
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			if c, ok := lookupCommand(args[1]); ok && !c.later {
				return run([]string{c.name, "--help"}, stdout, stderr)
			}
		}
		printUsage(stdout)
		return exitOK
	}
	c, ok := lookupCommand(args[0])
	if !ok {
		fmt.Fprintf(stderr, "multiutil: unknown verb %q\n\n", args[0])
		printUsage(stderr)
		return exitUsage
	}
	if c.later {
		fmt.Fprintf(stderr, "multiutil: %s is not yet available in this version\n", c.name)
		return exitUsage
	}
	rest := args[1:]
	if len(rest) > 0 {
		// A sub-verb ("schema status") reports its own usage.
		if sub, ok := lookupCommand(c.name + " " + rest[0]); ok {
			c, rest = sub, rest[1:]
		}
	}
	err := c.run(e, rest)
	return report(e, c, err)
}

// report turns a verb's error into a message and an exit code.
func report(e *env, c command, err error) int {
	var ue *usageError
	var xe *exitError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errHelp):
		return exitOK
	case errors.Is(err, errFlag):
		// The flag package already said what was wrong.
		fmt.Fprintf(e.stderr, "usage: multiutil %s %s\nrun 'multiutil %s --help' for details\n", c.name, c.usage, c.name)
		return exitUsage
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "multiutil %s: %s\nusage: multiutil %s %s\n", c.name, ue.msg, c.name, c.usage)
		return exitUsage
	case errors.As(err, &xe):
		if xe.err != nil {
			fmt.Fprintf(e.stderr, "multiutil %s: %s\n", c.name, e.humanize(xe.err.Error()))
		}
		return xe.code
	default:
		fmt.Fprintf(e.stderr, "multiutil %s: %s\n", c.name, e.humanize(err.Error()))
		return exitFail
	}
}

var (
	errHelp = errors.New("help shown")
	errFlag = errors.New("bad flag")
)

// usageError is a mistake on the command line: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitError fails with a given code; a nil err means the verb already
// printed what went wrong.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// newFlags returns a flag set for verb whose --help goes to stdout.
func newFlags(e *env, c string) *flag.FlagSet {
	fs := flag.NewFlagSet("multiutil "+c, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {} // printed by parse, to stdout for --help
	return fs
}

// parse parses args. Flags and positional arguments may be mixed; positional
// arguments are returned, and refused unless allowed.
func parse(e *env, fs *flag.FlagSet, args []string, positional bool) ([]string, error) {
	var rest []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			c, _ := lookupCommand(strings.TrimPrefix(fs.Name(), "multiutil "))
			fmt.Fprintf(e.stdout, "multiutil %s: %s\n\nusage: multiutil %s %s\n\nflags:\n", c.name, c.synopsis, c.name, c.usage)
			fs.SetOutput(e.stdout)
			fs.PrintDefaults()
			return nil, errHelp
		}
		if err != nil {
			return nil, errFlag
		}
		if fs.NArg() == 0 {
			break
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(rest) > 0 && !positional {
		return nil, usagef("unexpected argument %q", rest[0])
	}
	return rest, nil
}

func required(names ...string) func(fs *flag.FlagSet) error {
	return func(fs *flag.FlagSet) error {
		for _, n := range names {
			if fs.Lookup(n).Value.String() == "" {
				return usagef("--%s is required", n)
			}
		}
		return nil
	}
}

// writeJSON writes v to w as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// resolveReplica finds a replica of the family by name or ID.
func resolveReplica(st *multisite.Status, s string) (replica.Info, error) {
	for _, r := range st.Replicas {
		if r.Name == s || string(r.ID) == s {
			return r, nil
		}
	}
	var known []string
	for _, r := range st.Replicas {
		known = append(known, r.String())
	}
	return replica.Info{}, &exitError{code: exitFail, err: fmt.Errorf("unknown replica %q; the family has: %s", s, strings.Join(known, ", "))}
}

// names maps replica IDs to names for printing.
func names(st *multisite.Status) map[replica.ID]string {
	m := map[replica.ID]string{}
	for _, r := range st.Replicas {
		m[r.ID] = r.Name
	}
	return m
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
