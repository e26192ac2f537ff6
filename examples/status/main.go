// Command status serves a small web page that shows a multisite replica
// family: every replica with its state and key fingerprint, the epoch
// matrix (what each replica has of every other), lag, pending mastership
// requests, the packets this process moved, and the charset validation of
// each replica.
//
//	go run ./examples/status                          # build a demo family, print the page once
//	go run ./examples/status -listen 127.0.0.1:8080   # ... and serve it until interrupted
//	go run ./examples/status -dir /srv/replicas -listen :8080
//
// Without -dir it builds a live three-replica family of SQLite databases in
// a temporary directory, the way examples/deploy does (boston, bangalore,
// dublin; a defect table; data code page windows-1252), syncs it, and then
// plays a little: dublin stores a character the code page cannot hold, so
// boston refuses dublin's next packet and the page shows the violation, the
// refused packet and the lag. With -dir it shows the replicas in DIR (one
// SQLite file per replica, *.db, all of one family) and only reads them.
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
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: status [-listen ADDR] [-dir DIR]\n\nShows a multisite replica family as a web page.\n\n")
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

	var fam *Family
	if *dir != "" {
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
		fmt.Fprintf(stderr, "status: built a three-replica family in %s (boston, bangalore, dublin); dublin holds a character outside windows-1252\n", tmp)
	}
	defer fam.Close()

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
