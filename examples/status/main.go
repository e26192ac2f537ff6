// Command status serves a small web page that shows a multisite replica
// family: every replica with its state and key fingerprint, the epoch
// matrix (what each replica has of every other), lag, pending mastership
// requests, the packets this process moved, and the charset validation of
// each replica, against the family's data code page and, with -validate,
// a code page the family plans to move to.
//
//	go run ./examples/status                          # build a demo family, print the page once
//	go run ./examples/status -listen 127.0.0.1:8080   # ... and serve it until interrupted
//	go run ./examples/status -dir /srv/replicas -listen :8080
//	go run ./examples/status -dir /srv/replicas -validate windows-1252
//
// With -plan FILE it shows the sites of a deployment plan (package plan):
// every site's database, SQLite, PostgreSQL or MySQL/MariaDB, by the DSN
// the plan gives, and every site's storage bay (packets waiting, the last
// imported and refused). A site that cannot be read is listed as a
// problem, not left out silently.
//
// Without -dir it builds a live three-replica family of SQLite databases in
// a temporary directory, the way examples/deploy does (boston, bangalore,
// dublin; a defect table; data code page UTF-8, planning windows-1252),
// syncs it, and then plays a little. Someone at dublin files "Build ✓ on
// arm64": UTF-8 holds it, but windows-1252 cannot, so the page lists that
// row as blocking multisite.ChangeCodePage. Then dublin's next packet loses
// its last bytes on the way to boston; boston's import refuses it
// (syncpkt.ErrTruncated) and changes nothing, so the page shows the refused
// packet with the library's error, and boston one epoch behind dublin until
// an intact packet arrives. With -dir it shows the replicas in DIR (one
// SQLite file per replica, *.db, all of one family) and only reads them.
//
// -validate CODEPAGE (a name or number: "windows-1252", "1252",
// "Shift_JIS") also validates every replica's replicated tables against
// that code page, as multisite.ChangeCodePage does before it changes
// anything: the page lists the rows that block the change. The database
// already refuses strings outside the family's own code page on every
// write and import, so that check normally comes out clean.
//
// Without -listen it writes the page to standard output and exits, so CI
// can run it. Exit codes: 0 ok, 1 failure, 2 usage error.
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
	"syscall"
	"time"

	"github.com/multisite-go/multisite/codepage"
	"github.com/multisite-go/multisite/examples/internal/plan"
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
	dir := fs.String("dir", "", "show the replicas in `DIR` (one SQLite *.db file per replica); without it, build a demo family")
	planFile := fs.String("plan", "", "show the sites of the deployment plan `FILE` (YAML or JSON): every site's database, on any vendor, and its storage bay")
	validate := fs.String("validate", "", "also validate every replica against the planned data code page `CODEPAGE` (name or number), as before multisite.ChangeCodePage; the demo family plans "+demoPlanned)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: status [-listen ADDR] [-dir DIR | -plan FILE] [-validate CODEPAGE]\n\nShows a multisite replica family as a web page.\n\n")
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

	if *dir != "" && *planFile != "" {
		return usage("give -dir or -plan, not both")
	}
	planned := *validate
	if planned != "" {
		cp, err := codepage.Lookup(planned)
		if err != nil {
			return usage("-validate: %v", err)
		}
		planned = cp.Name()
	} else if *dir == "" && *planFile == "" {
		planned = demoPlanned
	}

	var fam *Family
	if *planFile != "" {
		p, err := plan.LoadFile(*planFile)
		if err == nil {
			fam, err = OpenPlan(ctx, p)
		}
		if err != nil {
			fmt.Fprintf(stderr, "status: %v\n", err)
			return exitFail
		}
	} else if *dir != "" {
		if fi, err := os.Stat(*dir); err != nil {
			return usage("-dir: %v", err)
		} else if !fi.IsDir() {
			return usage("-dir %s is not a directory", *dir)
		}
		var err error
		if fam, err = OpenDir(ctx, *dir); errors.Is(err, ErrNoDatabases) {
			return usage("-dir: %v", err)
		} else if err != nil {
			fmt.Fprintf(stderr, "status: %v\n", err)
			return exitFail
		}
	} else {
		tmp, err := os.MkdirTemp("", "multisite-status-")
		if err != nil {
			fmt.Fprintf(stderr, "status: %v\n", err)
			return exitFail
		}
		defer os.RemoveAll(tmp)
		if fam, err = BuildFamily(ctx, tmp, BuildOptions{}); err == nil {
			err = demo(ctx, fam)
		}
		if err != nil {
			fmt.Fprintf(stderr, "status: build the demo family: %v\n", err)
			if fam != nil {
				fam.Close()
			}
			return exitFail
		}
		fmt.Fprintf(stderr, "status: built a three-replica family in %s (boston, bangalore, dublin; UTF-8): dublin holds a character outside %s, and dublin's last packet to boston %s and was refused\n", tmp, demoPlanned, demoDamage)
	}
	defer fam.Close()
	fam.Planned = planned

	if *listen == "" {
		if err := Render(stdout, fam.Gather(ctx)); err != nil {
			fmt.Fprintf(stderr, "status: %v\n", err)
			return exitFail
		}
		return exitOK
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "status: %v\n", err)
		return exitFail
	}
	srv := &http.Server{Handler: &Handler{Family: fam, Refresh: 30 * time.Second}, ReadHeaderTimeout: 10 * time.Second}
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
