package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/examples/internal/plan"
	"github.com/multisite-go/multisite/mastership"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/transport"
)

// siteConfig is what sync and serve take from the plan for one site.
type siteConfig struct {
	plan   *plan.Plan
	site   plan.Site
	db     string // as --db takes it
	policy mastership.Policy
	routes []plan.Route // the plan's routes from or to this site
	hc     *http.Client // for transport.ca; built once, so connections are reused
	bay    string       // the site's storage bay (sync: the plan's or --bay)
}

// loadSite reads the plan, checks it, and finds the site. dbFlag, if set,
// replaces the site's DSN.
func loadSite(file, name, dbFlag string) (*siteConfig, error) {
	p, err := plan.LoadFile(file)
	if err != nil {
		return nil, &exitError{code: exitFail, err: err}
	}
	if err := p.Validate(); err != nil {
		return nil, &exitError{code: exitFail, err: fmt.Errorf("%s: %w (multiutil plan validate lists every problem)", file, err)}
	}
	s, ok := p.Site(name)
	if !ok {
		var known []string
		for _, s := range p.Sites {
			known = append(known, s.Name)
		}
		return nil, usagef("the plan has no site %q; it has %v", name, known)
	}
	pol, err := p.MastershipPolicy()
	if err != nil {
		return nil, &exitError{code: exitFail, err: err}
	}
	routes, err := p.Routes()
	if err != nil {
		return nil, &exitError{code: exitFail, err: err}
	}
	c := &siteConfig{plan: p, site: s, db: dbFlag, policy: pol}
	for _, r := range routes {
		if r.From == s.ReplicaName() || r.To == s.ReplicaName() {
			c.routes = append(c.routes, r)
		}
	}
	if c.db == "" {
		c.db = siteDB(s)
	}
	if c.db == "" {
		return nil, usagef("site %s has no dsn in the plan: give --db", s.Name)
	}
	return c, nil
}

// siteDB is a site's DSN as --db takes it.
func siteDB(s plan.Site) string {
	if s.Vendor == plan.MySQL && s.DSN != "" {
		return "mysql://" + s.DSN
	}
	return s.DSN
}

// peer returns the plan's site for a replica name.
func (c *siteConfig) peer(name string) plan.Site {
	s, _ := c.plan.Site(name)
	return s
}

// token reads a site's bearer token from its environment variable.
func token(s plan.Site) (string, error) {
	v := os.Getenv(s.TokenVar())
	if v == "" {
		return "", fmt.Errorf("no token for %s: set %s", s.Name, s.TokenVar())
	}
	return v, nil
}

// linkJSON is what one round did on one link.
type linkJSON struct {
	Peer      string `json:"peer"`
	Direction string `json:"direction"` // out: to the peer; in: from the peer
	Via       string `json:"via"`       // push, pull, bay, served (the peer pulls or pushes)
	Status    string `json:"status"`    // ok, duplicate, failed, planned (dry run), waiting (the peer acts)
	Bytes     int64  `json:"bytes,omitempty"`
	Rows      int    `json:"rows,omitempty"`
	File      string `json:"file,omitempty"`
	Error     string `json:"error,omitempty"`
}

// roundJSON is one round of sync.
type roundJSON struct {
	Site     string       `json:"site"`
	Replica  string       `json:"replica"`
	Started  time.Time    `json:"started"`
	Seconds  float64      `json:"seconds"`
	Links    []linkJSON   `json:"links"`
	Imported []importJSON `json:"imported,omitempty"` // from the bay
	Failed   int          `json:"failed"`
}

func cmdSync(e *env, args []string) error {
	fs := newFlags(e, "sync")
	planFile := fs.String("plan", "", "deployment plan `file` (YAML or JSON)")
	siteName := fs.String("site", "", "the `site` this runs at (name or replica name)")
	dbFlag := fs.String("db", "", "database of the site's replica, instead of the plan's dsn"+dbKinds)
	bayFlag := fs.String("bay", "", "the site's storage bay `directory`, instead of the plan's")
	every := fs.String("every", "", "keep running: a round every `DURATION` (\"15m\"), or \"plan\" for each link's own interval; stops cleanly on SIGINT/SIGTERM")
	dry := fs.Bool("dry-run", false, "say what one round would do, and do nothing")
	asJSON := fs.Bool("json", false, "print each round as JSON (one object per line)")
	if _, err := parse(e, fs, args, false); err != nil {
		return err
	}
	if err := required("plan", "site")(fs); err != nil {
		return err
	}
	var tick time.Duration
	if *every != "" && *every != "plan" {
		d, err := time.ParseDuration(*every)
		if err != nil || d <= 0 {
			return usagef("--every %q: give a positive duration (15m, 1h) or plan", *every)
		}
		tick = d
	}
	if *every != "" && *dry {
		return usagef("--dry-run runs no rounds; leave out --every")
	}
	c, err := loadSite(*planFile, *siteName, *dbFlag)
	if err != nil {
		return err
	}
	c.bay = c.plan.BayOf(c.site)
	if *bayFlag != "" {
		c.bay = *bayFlag
	}
	if len(c.routes) == 0 {
		return &exitError{code: exitFail, err: fmt.Errorf("the plan gives site %s no link to sync", c.site.Name)}
	}
	db, err := openDB(c.db)
	if err != nil {
		return err
	}
	defer db.Close()
	log := slog.New(slog.NewTextHandler(e.stderr, nil))
	if *every == "" {
		r, err := syncRound(e, db, c, nil, *dry, log)
		if err != nil {
			return err
		}
		if err := printRound(e, r, *asJSON, *dry); err != nil {
			return err
		}
		if r.Failed > 0 {
			return &exitError{code: exitFail, err: fmt.Errorf("%d of the round's transfers failed", r.Failed)}
		}
		return nil
	}
	return syncLoop(e, db, c, tick, *asJSON, log)
}

// syncLoop runs rounds until SIGINT or SIGTERM, or the end of e.ctx. A
// signal lets the round under way finish (an import is one transaction
// anyway, but a round half done would leave some links behind) and stops
// before the next; a second signal stops the process at once. With tick 0
// each link runs at its own interval from the plan; a round that fails is
// logged and the next one runs on time.
func syncLoop(e *env, db *sql.DB, c *siteConfig, tick time.Duration, asJSON bool, log *slog.Logger) error {
	sig, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		select {
		case <-sig.Done():
			log.Info("multiutil sync: stopping after the round under way; signal again to stop at once")
			stop() // the next signal has its default effect
		case <-e.ctx.Done():
		}
	}()
	last := map[plan.Route]time.Time{}
	perLink := tick == 0
	if perLink {
		for _, r := range c.routes {
			if tick == 0 || r.Every < tick {
				tick = r.Every
			}
		}
	}
	log.Info("multiutil sync: started", "site", c.site.Name, "every", tick.String(), "per_link", perLink, "links", len(c.routes))
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		var due func(plan.Route) bool
		var ran []plan.Route
		if perLink {
			now := time.Now()
			for _, r := range c.routes {
				if now.Sub(last[r]) >= r.Every-tick/10 {
					ran = append(ran, r)
				}
			}
			due = func(r plan.Route) bool { return slices.Contains(ran, r) }
		}
		r, err := syncRound(e, db, c, due, false, log)
		switch {
		case e.ctx.Err() != nil:
			log.Info("multiutil sync: stopped", "site", c.site.Name)
			return nil
		case err != nil:
			log.Error("multiutil sync: round failed", "err", err)
		default:
			for _, rt := range ran {
				last[rt] = r.Started
			}
			if asJSON {
				writeJSONLine(e.stdout, r)
			}
			log.Info("multiutil sync: round done", "links", len(r.Links), "imported", len(r.Imported), "failed", r.Failed, "seconds", r.Seconds)
		}
		if sig.Err() != nil { // a tick that came during the round must not start another
			log.Info("multiutil sync: stopped", "site", c.site.Name)
			return nil
		}
		select {
		case <-sig.Done():
			log.Info("multiutil sync: stopped", "site", c.site.Name)
			return nil
		case <-e.ctx.Done():
			log.Info("multiutil sync: stopped", "site", c.site.Name)
			return nil
		case <-t.C:
		}
	}
}

// syncRound runs one round for the site: first what comes in (pulls, then
// the bay), so that what goes out forwards it; then what goes out (pushes
// or exports into the bay). due, if set, picks the links that run.
func syncRound(e *env, db *sql.DB, c *siteConfig, due func(plan.Route) bool, dry bool, log *slog.Logger) (*roundJSON, error) {
	st, err := multisite.ReadStatus(e.ctx, db)
	if err != nil {
		return nil, err
	}
	if st.Local.Name != c.site.ReplicaName() {
		return nil, &exitError{code: exitFail, err: fmt.Errorf("the database is replica %s, but the plan's site %s runs replica %s", st.Local.Name, c.site.Name, c.site.ReplicaName())}
	}
	r := &roundJSON{Site: c.site.Name, Replica: st.Local.Name, Started: time.Now().UTC(), Links: []linkJSON{}}
	kind := c.plan.TransportKind()
	me := c.site
	add := func(l linkJSON, err error) {
		if err != nil {
			l.Status, l.Error = "failed", err.Error()
			r.Failed++
			log.Warn("multiutil sync: link failed", "peer", l.Peer, "direction", l.Direction, "via", l.Via, "err", err)
		} else if l.Status == "" {
			l.Status = "ok"
		}
		if dry && l.Status == "ok" {
			l.Status = "planned"
		}
		r.Links = append(r.Links, l)
	}
	// In: pulls from peers that serve, when this site does not.
	for _, rt := range c.routes {
		if rt.To != me.ReplicaName() || (due != nil && !due(rt)) {
			continue
		}
		p := c.peer(rt.From)
		l := linkJSON{Peer: p.ReplicaName(), Direction: "in"}
		switch {
		case kind != plan.HTTP:
			continue // the bay import below takes it
		case me.URL != "":
			l.Via, l.Status = "served", "waiting"
			add(l, nil)
		case dry:
			l.Via = "pull"
			add(l, nil)
		default:
			l.Via = "pull"
			add(l, pullOne(e, db, c, p, &l))
		}
	}
	// The bay: what arrived by file, or what serve stored.
	if bay := c.bay; bay != "" && !dry {
		if err := checkBay(bay); err == nil {
			out, failed, _, err := importBay(e, db, st, bay, func(ij importJSON) {
				log.Info("multiutil sync: bay import", "file", filepath.Base(ij.File), "status", ij.Status, "err", ij.Error)
			})
			if err != nil {
				return nil, err
			}
			r.Imported, r.Failed = out, r.Failed+failed
		} else if kind != plan.HTTP {
			return nil, err
		}
	}
	// Out.
	for _, rt := range c.routes {
		if rt.From != me.ReplicaName() || (due != nil && !due(rt)) {
			continue
		}
		p := c.peer(rt.To)
		l := linkJSON{Peer: p.ReplicaName(), Direction: "out"}
		target, err := resolveReplica(st, p.ReplicaName())
		if err != nil {
			l.Via = "?"
			add(l, fmt.Errorf("%s is not in the family yet: create its replica first (mkreplica)", p.ReplicaName()))
			continue
		}
		switch {
		case kind == plan.HTTP && p.URL == "":
			l.Via, l.Status = "served", "waiting"
			add(l, nil)
		case kind == plan.HTTP:
			l.Via = "push"
			if !dry {
				err = pushOne(e, db, c, st, target, p, &l)
			}
			add(l, err)
		default:
			l.Via = "bay"
			bay := c.bay
			if !dry {
				err = checkBay(bay)
				if err == nil {
					l.File = packetPath(bay, st.Local, target)
					var stats multisite.ExportStats
					stats, err = writePacket(l.File, func(w io.Writer) (multisite.ExportStats, error) {
						return multisite.ExportPacket(e.ctx, db, target.ID, w, multisite.ExportOptions{Policy: c.policy})
					})
					l.Bytes, l.Rows = stats.Bytes, stats.Rows
				}
			}
			add(l, err)
		}
	}
	r.Seconds = time.Since(r.Started).Seconds()
	if !dry && c.bay != "" {
		// The status page (examples/status) shows the last round of
		// every site from here; a bay that cannot take it is no reason to
		// fail the round.
		if err := writeRoundRecord(c.bay, st.Local, r); err != nil {
			log.Warn("multiutil sync: record the round", "err", err)
		}
	}
	return r, nil
}

// roundRecordName is the file in a site's bay that holds its last round:
// hidden, so no importer takes it for a packet.
func roundRecordName(local replica.Info) string { return ".sync-" + fileName(local) + ".json" }

func writeRoundRecord(bay string, local replica.Info, r *roundJSON) error {
	if fi, err := os.Stat(bay); err != nil || !fi.IsDir() {
		return nil // no bay here (yet)
	}
	return writeAtomic(filepath.Join(bay, roundRecordName(local)), 0o644, func(f *os.File) error {
		return writeJSON(f, r)
	})
}

// client returns a transport client to a peer's endpoint with this site's
// token.
func (c *siteConfig) client(p plan.Site) (*transport.Client, error) {
	tok, err := token(c.site)
	if err != nil {
		return nil, err
	}
	cl := &transport.Client{URL: p.URL, Token: tok}
	if c.hc != nil {
		cl.HTTP = c.hc
	} else if ca := c.plan.Transport.CA; ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("transport.ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("transport.ca: %s holds no PEM certificate", ca)
		}
		c.hc = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
		cl.HTTP = c.hc
	}
	return cl, nil
}

// pushOne exports a packet for target (with the plan's policy) into a
// temp file and pushes it to the peer's endpoint.
func pushOne(e *env, db *sql.DB, c *siteConfig, st *multisite.Status, target replica.Info, p plan.Site, l *linkJSON) error {
	cl, err := c.client(p)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp("", "multiutil-push-*.pkt")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	b, progress := e.progressBar("export to " + target.Name)
	stats, err := multisite.ExportPacket(e.ctx, db, target.ID, f, multisite.ExportOptions{Policy: c.policy, Progress: progress})
	b.done()
	if err != nil {
		return fmt.Errorf("export for %s: %w", target.Name, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	res, err := cl.Push(e.ctx, f)
	if err != nil {
		return fmt.Errorf("push to %s (%s): %w", target.Name, p.URL, err)
	}
	l.Bytes, l.Rows, l.File = res.Bytes, stats.Rows, res.File
	if res.Status == "duplicate" {
		l.Status = "duplicate"
	}
	return nil
}

// pullOne pulls the peer's packet for this site and imports it.
func pullOne(e *env, db *sql.DB, c *siteConfig, p plan.Site, l *linkJSON) error {
	cl, err := c.client(p)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp("", "multiutil-pull-*.pkt")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	n, err := cl.Pull(e.ctx, f)
	if err != nil {
		return fmt.Errorf("pull from %s (%s): %w", p.ReplicaName(), p.URL, err)
	}
	l.Bytes = n
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	b, progress := e.importProgress("import from " + p.ReplicaName())
	rep, err := multisite.ImportPacket(e.ctx, db, f, multisite.ImportOptions{OnProgress: progress})
	b.done()
	if err != nil {
		return fmt.Errorf("import from %s: %w", p.ReplicaName(), err)
	}
	for _, tc := range rep.Tables {
		l.Rows += tc.Inserted + tc.Updated + tc.Deleted
	}
	if rep.Duplicate {
		l.Status = "duplicate"
	}
	return nil
}

func printRound(e *env, r *roundJSON, asJSON, dry bool) error {
	if asJSON {
		return writeJSON(e.stdout, r)
	}
	verb := map[bool]string{false: "sync", true: "sync (dry run)"}[dry]
	fmt.Fprintf(e.stdout, "%s at %s (replica %s):\n", verb, r.Site, r.Replica)
	for _, l := range r.Links {
		arrow := map[string]string{"in": "<-", "out": "->"}[l.Direction]
		fmt.Fprintf(e.stdout, "  %s %s %-9s via %-6s %s", r.Replica, arrow, l.Peer, l.Via, l.Status)
		if l.Rows > 0 || l.Bytes > 0 {
			fmt.Fprintf(e.stdout, " (%d rows, %d bytes)", l.Rows, l.Bytes)
		}
		if l.Error != "" {
			fmt.Fprintf(e.stdout, ": %s", l.Error)
		}
		fmt.Fprintln(e.stdout)
	}
	if len(r.Imported) > 0 {
		fmt.Fprintf(e.stdout, "  %d packets imported from the bay\n", len(r.Imported))
	}
	return nil
}

func writeJSONLine(w io.Writer, v any) {
	_ = writeJSONCompact(w, v)
}

func cmdServe(e *env, args []string) error {
	fs := newFlags(e, "serve")
	planFile := fs.String("plan", "", "deployment plan `file` (YAML or JSON)")
	siteName := fs.String("site", "", "the `site` this serves (name or replica name)")
	dbFlag := fs.String("db", "", "database of the site's replica, instead of the plan's dsn"+dbKinds)
	listen := fs.String("listen", "", "`address` to listen on; default: the site's listen, or the port of its url")
	bayFlag := fs.String("bay", "", "store verified pushed packets in this `directory` (default: the site's bay in the plan)")
	now := fs.Bool("import", false, "import pushed packets at once instead of storing them in the bay")
	cert := fs.String("cert", "", "TLS certificate `file` (PEM); with --key, serve HTTPS")
	key := fs.String("key", "", "TLS key `file` (PEM)")
	maxSize := fs.Int64("max-packet", transport.DefaultMaxPacketSize, "largest packet accepted, in `bytes`")
	if _, err := parse(e, fs, args, false); err != nil {
		return err
	}
	if err := required("plan", "site")(fs); err != nil {
		return err
	}
	if (*cert == "") != (*key == "") {
		return usagef("give both --cert and --key, or neither")
	}
	if *now && *bayFlag != "" {
		return usagef("--import and --bay exclude each other")
	}
	c, err := loadSite(*planFile, *siteName, *dbFlag)
	if err != nil {
		return err
	}
	addr := *listen
	if addr == "" {
		addr = listenAddr(c.site)
	}
	if addr == "" {
		return usagef("site %s has no url or listen address in the plan: give --listen", c.site.Name)
	}
	tokens := map[string]string{}
	for _, s := range c.plan.Sites {
		if s.ReplicaName() == c.site.ReplicaName() {
			continue
		}
		if t, err := token(s); err == nil {
			tokens[s.ReplicaName()] = t
		}
	}
	if len(tokens) == 0 {
		return &exitError{code: exitFail, err: fmt.Errorf("no peer has a token: set %s (or the token_env the plan names)", c.plan.Sites[0].TokenVar())}
	}
	bay := *bayFlag
	if bay == "" && !*now {
		bay = c.plan.BayOf(c.site)
	}
	db, err := openDB(c.db)
	if err != nil {
		return err
	}
	defer db.Close()
	log := slog.New(slog.NewTextHandler(e.stderr, nil))
	h, err := transport.NewHandler(db, transport.HandlerOptions{Tokens: tokens, Bay: bay, MaxPacketSize: *maxSize,
		Export: multisite.ExportOptions{Policy: c.policy}, Logger: log})
	if err != nil {
		return &exitError{code: exitFail, err: err}
	}
	ctx, stop := signal.NotifyContext(e.ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serveHTTP(ctx, e, h, addr, *cert, *key, log)
}
