package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/replica"
)

// Site is one replica database the page reads: a SQLite file, or a
// database on a PostgreSQL or MariaDB/MySQL server.
type Site struct {
	Name string // the replica's name once read (the file's base name without ".db" until then)
	Path string // the location as shown: a file, or a server DSN without its password
	Kind string // "sqlite", "postgres" or "mysql"
	DB   *sql.DB
	ID   replica.ID // the local replica, read when the site was opened
	// Err, if set, is why the site could not be opened or read, or why it
	// is left out (another family's database); the page shows it in
	// place of the site's figures.
	Err error
	// Stale, if set, is why a file found in a folder looks stale (a
	// warning: the site is still shown unless Err is set too).
	Stale string
}

// Family is the set of replica databases one page shows, the storage bays
// whose packets it lists, and the log of the packets this process moved
// between the databases. The library records no packet history (only the
// epoch matrix a packet leaves behind), so the log is the application's
// own, kept in memory and lost on exit. A Family is safe for concurrent
// use.
type Family struct {
	Sites []*Site
	// Bays are storage bay directories (as multiutil syncreplica and the
	// transport use them: *.pkt waiting, *.pkt.tmp being written, done/
	// and failed/ for what an import took or refused); the page lists
	// their packets.
	Bays []string
	// Planned, if set, is a data code page (name or number) the family
	// plans to move to with multisite.ChangeCodePage: the page validates
	// every replica's replicated tables against it as well, and so shows
	// the rows that block the change. "" validates against the family's
	// own code page only.
	Planned string
	// HashEvery, if positive, lets the page reuse a replica's content
	// hash (multisite.ContentHash reads every replicated row) for this
	// long while its epoch vector stays the same. A change made behind
	// the library's back (which is what divergence is) shows only once
	// the hash is computed again. 0 computes it on every page.
	HashEvery time.Duration

	mu      sync.Mutex
	hashes  map[*Site]hashed
	packets []Packet // newest last, at most maxPackets
	now     func() time.Time
	resend  map[[2]*Site]bool // from, to: the last packet was refused, so the next resends
}

// maxPackets bounds the in-memory packet log.
const maxPackets = 50

// Packet is one packet this process moved from one site to another.
type Packet struct {
	Time      time.Time
	From, To  *Site
	Bytes     int64                    // as exported
	Arrived   int64                    // bytes that reached the import; Bytes unless Damage
	Damage    string                   // what befell the packet in transit; "" if nothing
	Rows      int                      // row images, tombstones included
	Transfers int                      // mastership transfers
	Epoch     uint64                   // the origin's epoch the packet brings the target up to
	Applied   string                   // what the import did, for a person; empty if it failed
	Epochs    map[replica.ID][2]uint64 // per origin: (first, last] epochs the import brought
	Err       error                    // the export's or import's error; nil if applied
}

// ErrNoDatabases is returned by OpenDir for a directory without *.db files.
var ErrNoDatabases = errors.New("status: no *.db files")

// OpenDir opens every *.db file in dir as one replica of a family. Every
// file must be a replica of the same family; the databases are only read.
// ScanDir is the lenient form the program uses.
func OpenDir(ctx context.Context, dir string) (*Family, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.db"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("%w in %s", ErrNoDatabases, dir)
	}
	sort.Strings(paths)
	f := &Family{now: time.Now}
	var family, first string
	for _, p := range paths {
		s, err := openSite(p, false)
		if err != nil {
			f.Close()
			return nil, err
		}
		f.Sites = append(f.Sites, s)
		st, err := multisite.ReadStatus(ctx, s.DB)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("status: %s: %w", p, err)
		}
		s.ID = st.Local.ID
		switch {
		case family == "":
			family, first = st.Family, p
		case st.Family != family:
			f.Close()
			return nil, fmt.Errorf("status: %s is in family %s but %s is in family %s: give one family's databases", p, st.Family, first, family)
		}
	}
	return f, nil
}

// DefaultStaleAfter is how much older than the newest file of a folder a
// replica's file may be before ScanDir flags it.
const DefaultStaleAfter = 24 * time.Hour

// ScanDir opens every *.db file in dir and shows the family most of them
// belong to (on a tie, the family of the most recently written file). It
// refuses nothing but an empty folder; what looks stale is flagged on the
// page instead (Site.Stale, Site.Err):
//   - a file of another family: left out;
//   - a second file of the same replica (a copy): the older one is left out;
//   - a file written more than staleAfter before the newest one (0 means
//     DefaultStaleAfter): shown, with a warning;
//   - a file that is not a replica database: left out, with its error.
func ScanDir(ctx context.Context, dir string, staleAfter time.Duration) (*Family, error) {
	if staleAfter <= 0 {
		staleAfter = DefaultStaleAfter
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*.db"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("%w in %s", ErrNoDatabases, dir)
	}
	sort.Strings(paths)
	f := &Family{now: time.Now}
	type found struct {
		site   *Site
		family string
		name   string
		mod    time.Time
	}
	var all []found
	count := map[string]int{}
	newestOf := map[string]time.Time{}
	var newest time.Time
	for _, p := range paths {
		mod := modTime(p)
		newest = later(newest, mod)
		s, err := openSite(p, false)
		if err != nil {
			f.Sites = append(f.Sites, &Site{Name: siteName(p), Path: p, Kind: kindSQLite, Err: err})
			continue
		}
		f.Sites = append(f.Sites, s)
		st, err := multisite.ReadStatus(ctx, s.DB)
		if err != nil {
			s.Err = fmt.Errorf("status: %s: %w", p, err)
			continue
		}
		s.ID = st.Local.ID
		all = append(all, found{s, st.Family, st.Local.Name, mod})
		count[st.Family]++
		newestOf[st.Family] = later(newestOf[st.Family], mod)
	}
	var family string
	for fam, n := range count {
		if family == "" || n > count[family] || n == count[family] && newestOf[fam].After(newestOf[family]) {
			family = fam
		}
	}
	byID := map[replica.ID]found{}
	for _, x := range all {
		switch {
		case x.family != family:
			x.site.Err = fmt.Errorf("%w: %s is in family %s, %d other files in family %s", ErrOtherFamily, x.site.Path, x.family, count[family], family)
			x.site.Stale = "a database of another family: a file left over from an earlier family?"
			continue
		}
		if prev, ok := byID[x.site.ID]; ok {
			old, cur := prev, x
			if x.mod.Before(prev.mod) {
				old, cur = x, prev
			}
			old.site.Err = fmt.Errorf("%w: %s is a copy of %s", ErrCopy, old.site.Path, cur.site.Path)
			old.site.Stale = fmt.Sprintf("an older copy of the replica in %s (written %s, that one %s): left out", filepath.Base(cur.site.Path),
				old.mod.UTC().Format(time.DateTime), cur.mod.UTC().Format(time.DateTime))
			byID[x.site.ID] = cur
			continue
		}
		byID[x.site.ID] = x
		if d := newest.Sub(x.mod); d > staleAfter {
			x.site.Stale = fmt.Sprintf("written %s before the newest file of the folder (%s): an old copy, or a replica no longer synced?",
				d.Round(time.Minute), newest.UTC().Format(time.DateTime))
		}
	}
	// Name each site shown after its replica.
	for _, x := range all {
		if x.site.Err == nil {
			x.site.Name = x.name
		}
	}
	f.dedupeNames()
	return f, nil
}

// ErrCopy marks the older of two files of one replica (Site.Err).
var ErrCopy = errors.New("status: an older copy of a replica shown")

// modTime is when a SQLite file was last written: the newer of the file
// and its write-ahead log.
func modTime(path string) time.Time {
	var t time.Time
	for _, p := range []string{path, path + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			t = later(t, fi.ModTime())
		}
	}
	return t
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Site returns the site called name, or nil.
func (f *Family) Site(name string) *Site {
	for _, s := range f.Sites {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Close closes every database.
func (f *Family) Close() error {
	var errs []error
	for _, s := range f.Sites {
		if s.DB != nil {
			errs = append(errs, s.DB.Close())
		}
	}
	return errors.Join(errs...)
}

// Sync carries one packet from one site to another (through memory: any
// io.Writer/io.Reader would do) and records it in the packet log, refused
// or not. It returns the export's or import's error.
func (f *Family) Sync(ctx context.Context, from, to *Site) error {
	return f.Carry(ctx, from, to, nil)
}

// Carry is Sync with the packet's bytes passed through dmg between the
// export and the import; a nil dmg delivers them intact. The packet log
// records what befell the packet and how many bytes arrived.
func (f *Family) Carry(ctx context.Context, from, to *Site, dmg Damage) error {
	var buf bytes.Buffer
	p := Packet{From: from, To: to}
	// An export carries only what earlier ones did not. After a refused
	// packet, the next one resends what to has not acknowledged.
	pair := [2]*Site{from, to}
	f.mu.Lock()
	resend := f.resend[pair]
	f.mu.Unlock()
	export := multisite.ExportPacket
	if resend {
		export = func(ctx context.Context, db *sql.DB, target replica.ID, w io.Writer, opt multisite.ExportOptions) (multisite.ExportStats, error) {
			return multisite.RecoverPacket(ctx, db, target, nil, w, opt)
		}
	}
	st, err := export(ctx, from.DB, to.ID, &buf, multisite.ExportOptions{})
	p.Bytes, p.Rows, p.Transfers, p.Epoch = st.Bytes, st.Rows, st.Transfers, st.Epoch
	if err == nil {
		pkt := buf.Bytes()
		if dmg != nil {
			pkt, p.Damage = dmg.Apply(pkt), dmg.String()
		}
		p.Arrived = int64(len(pkt))
		var rep *multisite.ImportReport
		rep, err = multisite.ImportPacket(ctx, to.DB, bytes.NewReader(pkt), multisite.ImportOptions{})
		if err == nil {
			p.Applied, p.Epochs = describeImport(rep), rep.Epochs
		}
	}
	p.Err = err
	f.mu.Lock()
	if f.resend == nil {
		f.resend = map[[2]*Site]bool{}
	}
	f.resend[pair] = err != nil
	f.mu.Unlock()
	f.record(p)
	return err
}

// describeImport says what an import did: "defect +1 ~2 -0", or
// "nothing new" for a duplicate.
func describeImport(rep *multisite.ImportReport) string {
	var parts []string
	for _, t := range sortedKeys(rep.Tables) {
		c := rep.Tables[t]
		if c.Inserted+c.Updated+c.Deleted > 0 {
			parts = append(parts, fmt.Sprintf("%s +%d ~%d -%d", t, c.Inserted, c.Updated, c.Deleted))
		}
	}
	if rep.Transfers > 0 {
		parts = append(parts, fmt.Sprintf("%d transfers", rep.Transfers))
	}
	if len(rep.Conflicts) > 0 {
		parts = append(parts, fmt.Sprintf("%d creation conflicts", len(rep.Conflicts)))
	}
	if len(parts) == 0 {
		if rep.Duplicate {
			return "nothing new"
		}
		return "vector and registry only"
	}
	return strings.Join(parts, ", ")
}

func (f *Family) record(p Packet) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.now == nil {
		f.now = time.Now
	}
	p.Time = f.now()
	f.packets = append(f.packets, p)
	if len(f.packets) > maxPackets {
		f.packets = f.packets[len(f.packets)-maxPackets:]
	}
}

// Packets returns the packet log, newest first.
func (f *Family) Packets() []Packet {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Packet, len(f.packets))
	for i, p := range f.packets {
		out[len(out)-1-i] = p
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
