// Command status serves a web page that shows a whole multisite replica
// family, on any dialect: every replica with its state, database and key
// fingerprint, the epoch matrix (what each replica has of every other),
// lag and unsealed changes, the packets in storage bays (waiting, being
// written, imported, refused) and those this process moved, mastership
// counts per table and master (multisite.Mastered) with the transfers in
// flight, mastership requests (multisite.Requests), unique-key collisions
// (multisite.Collisions), the last sync into each replica and its result,
// divergence (multisite.ContentHash, compared when every open replica is
// at the same epoch vector), and the charset validation of each replica
// against the family's data code page and, with -validate, a code page
// the family plans to move to.
//
//	go run ./examples/status                          # build a demo family, print the page once
//	go run ./examples/status -listen 127.0.0.1:8080   # ... and serve it until interrupted
//	go run ./examples/status -db boston.db -db 'postgres://ms@db1/bangalore' -bay /srv/bay -listen :8080
//	go run ./examples/status -dir /srv/replicas -listen :8080 -refresh 1m
//	go run ./examples/status -dir /srv/replicas -validate windows-1252
//
// -db LOCATION (repeated) names each site's database as multiutil's --db
// does: a SQLite file, postgres://user@host/db, or
// mysql://user@tcp(host:3306)/db. A site that cannot be opened or read,
// or that belongs to another family, is shown on the page with its error;
// the other sites are shown all the same. -bay DIR (repeated) lists the
// packets of a storage bay as multiutil syncreplica uses it.
//
// -dir DIR shows the SQLite files (*.db) of a folder: the family most of
// them belong to. A file of another family, an older copy of a replica,
// and a file written more than -stale (24h) before the newest one are
// flagged on the page as warnings.
//
// Without -dir or -db it builds a live three-replica family of SQLite
// databases in a temporary directory, the way examples/deploy does
// (boston, bangalore, dublin; a defect table; data code page UTF-8,
// planning windows-1252), syncs it, and then plays a little. Someone at
// dublin files "Build ✓ on arm64": UTF-8 holds it, but windows-1252
// cannot, so the page lists that row as blocking multisite.ChangeCodePage.
// boston and bangalore both open a project called "Operations", a
// collision the next round settles by renaming one; bangalore asks boston
// for defect 1. Then dublin's next packet loses its last bytes on the way
// to boston; boston's import refuses it (syncpkt.ErrTruncated) and changes
// nothing, so the page shows the refused packet with the library's error,
// and boston one epoch behind dublin. dublin sends it again through the
// storage bay, where it waits.
//
// -validate CODEPAGE (a name or number: "windows-1252", "1252",
// "Shift_JIS") also validates every replica's replicated tables against
// that code page, as multisite.ChangeCodePage does before it changes
// anything: the page lists the rows that block the change. The database
// already refuses strings outside the family's own code page on every
// write and import, so that check normally comes out clean.
//
// Without -listen it writes the page to standard output and exits, so CI
// can run it. With -listen the page reloads itself every -refresh (30s;
// 0 never). Exit codes: 0 ok, 1 failure (or no -db site could be read), 2
// usage error.
//
// The page is rendered on the server with html/template; its only script
// keeps the "… ago" labels current. The program uses only the library's
// public API and opens the databases itself, as a program of your own would.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/multisite-go/multisite/codepage"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the program: it parses args, opens or builds the family, then
// prints the page once or serves it until ctx is done.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "", "serve the page at `ADDR` (host:port) until interrupted; without it, print the page once")
	dir := fs.String("dir", "", "show the replicas in `DIR` (SQLite *.db files of one family; stale files are flagged); without it or -db, build a demo family")
	validate := fs.String("validate", "", "also validate every replica against the planned data code page `CODEPAGE` (name or number), as before multisite.ChangeCodePage; the demo family plans "+demoPlanned)
	var dbs, bays []string
	fs.Func("db", "show the replica database at `LOCATION`: "+dbKinds+"; repeat for every site of the family", func(v string) error {
		if v == "" {
			return errors.New("empty location")
		}
		dbs = append(dbs, v)
		return nil
	})
	fs.Func("bay", "list the packets in the storage bay `DIR` (waiting, being written, done/, failed/); repeatable", func(v string) error {
		if fi, err := os.Stat(v); err != nil {
			return err
		} else if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", v)
		}
		bays = append(bays, v)
		return nil
	})
	refresh := fs.Duration("refresh", 30*time.Second, "with -listen, the served page reloads itself this often (0: never)")
	stale := fs.Duration("stale", DefaultStaleAfter, "with -dir, flag a file written this long before the newest one")
	hashEvery := fs.Duration("hash-every", 5*time.Minute, "with -listen, compare the replicas' content (multisite.ContentHash reads every replicated row) at most this often while their vectors stay the same (0: on every page)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: status [-listen ADDR] [-dir DIR] [-validate CODEPAGE]\n       status [-listen ADDR] -db LOCATION [-db LOCATION]... [-bay DIR]... [-refresh D]\n\nShows a multisite replica family as a web page.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "status: "+format+"\n", a...)
		fs.Usage()
		return exitUsage
	}
	if fs.NArg() > 0 {
		return usage("unexpected argument %q", fs.Arg(0))
	}
	if *listen != "" {
		if _, _, err := net.SplitHostPort(*listen); err != nil {
			return usage("-listen %q: %v", *listen, err)
		}
	}

	if *dir != "" && len(dbs) > 0 {
		return usage("-dir and -db: give the databases one way")
	}
	if *refresh < 0 {
		return usage("-refresh %v: negative", *refresh)
	}
	if *hashEvery < 0 {
		return usage("-hash-every %v: negative", *hashEvery)
	}
	planned := *validate
	if planned != "" {
		cp, err := codepage.Lookup(planned)
		if err != nil {
			return usage("-validate: %v", err)
		}
		planned = cp.Name()
	} else if *dir == "" && len(dbs) == 0 {
		planned = demoPlanned
	}

	var fam *Family
	switch {
	case len(dbs) > 0:
		fam = OpenSites(ctx, dbs)
		failed := 0
		for _, s := range fam.Sites {
			if s.Err != nil {
				failed++
				fmt.Fprintf(stderr, "status: %v (shown on the page)\n", s.Err)
			}
		}
		if failed == len(fam.Sites) && *listen == "" {
			defer fam.Close()
			fam.Bays = bays
			Render(stdout, fam.Gather(ctx))
			return exitFail
		}
	case *dir != "":
		if fi, err := os.Stat(*dir); err != nil {
			return usage("-dir: %v", err)
		} else if !fi.IsDir() {
			return usage("-dir %s is not a directory", *dir)
		}
		var err error
		if fam, err = ScanDir(ctx, *dir, *stale); errors.Is(err, ErrNoDatabases) {
			return usage("-dir: %v", err)
		} else if err != nil {
			fmt.Fprintf(stderr, "status: %v\n", err)
			return exitFail
		}
		for _, s := range fam.Sites {
			if s.Stale != "" {
				fmt.Fprintf(stderr, "status: warning: %s: %s\n", s.Path, s.Stale)
			} else if s.Err != nil {
				fmt.Fprintf(stderr, "status: %v (shown on the page)\n", s.Err)
			}
		}
	default:
		tmp, err := os.MkdirTemp("", "multisite-status-")
		if err != nil {
			fmt.Fprintf(stderr, "status: %v\n", err)
			return exitFail
		}
		defer os.RemoveAll(tmp)
		bay := filepath.Join(tmp, "bay")
		if err = os.Mkdir(bay, 0o755); err == nil {
			if fam, err = BuildFamily(ctx, tmp, BuildOptions{}); err == nil {
				fam.Bays = append([]string{bay}, bays...)
				err = demo(ctx, fam)
			}
		}
		if err != nil {
			fmt.Fprintf(stderr, "status: build the demo family: %v\n", err)
			if fam != nil {
				fam.Close()
			}
			return exitFail
		}
		fmt.Fprintf(stderr, "status: built a three-replica family in %s (boston, bangalore, dublin; UTF-8): dublin holds a character outside %s, and dublin's last packet to boston %s and was refused; its second try waits in %s\n", tmp, demoPlanned, demoDamage, bay)
	}
	defer fam.Close()
	if len(fam.Bays) == 0 {
		fam.Bays = bays
	}
	fam.Planned = planned

	if *listen == "" {
		if err := Render(stdout, fam.Gather(ctx)); err != nil {
			fmt.Fprintf(stderr, "status: %v\n", err)
			return exitFail
		}
		return exitOK
	}
	fam.HashEvery = *hashEvery
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "status: %v\n", err)
		return exitFail
	}
	srv := &http.Server{Handler: &Handler{Family: fam, Refresh: *refresh}, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stderr, "status: serving http://%s/ (interrupt to stop)\n", ln.Addr())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		fmt.Fprintf(stderr, "status: %v\n", err)
		return exitFail
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil {
		fmt.Fprintf(stderr, "status: shutdown: %v\n", err)
		return exitFail
	}
	return exitOK
}
