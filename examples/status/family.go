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
	_ "modernc.org/sqlite"
)

// Site is one replica database the page reads: a SQLite file.
type Site struct {
	Name string // the file's base name without ".db"; the replica's name in a family built here
	Path string
	DB   *sql.DB
	ID   replica.ID // the local replica, read when the site was opened
}

// Family is the set of replica databases one page shows, and the log of
// the packets this process moved between them. The library records no
// packet history (only the epoch matrix a packet leaves behind), so the
// log is the application's own, kept in memory and lost on exit.
// A Family is safe for concurrent use.
type Family struct {
	Sites []*Site
	// Planned, if set, is a data code page (name or number) the family
	// plans to move to with multisite.ChangeCodePage: the page validates
	// every replica's replicated tables against it as well, and so shows
	// the rows that block the change. "" validates against the family's
	// own code page only.
	Planned string

	mu      sync.Mutex
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

// dsn is the modernc.org/sqlite data source name for a database file.
func dsn(path string) string {
	return "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path) + "?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)"
}

// openSite opens the SQLite file at path. create says whether a missing
// file may be created (sql.Open would silently create one otherwise).
func openSite(path string, create bool) (*Site, error) {
	if !create {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("status: database %s: %w", path, err)
		}
	}
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, err
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("status: database %s: %w", path, err)
	}
	return &Site{Name: strings.TrimSuffix(filepath.Base(path), ".db"), Path: path, DB: db}, nil
}

// OpenDir opens every *.db file in dir as one replica of a family. Every
// file must be a replica of the same family; the databases are only read.
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
		errs = append(errs, s.DB.Close())
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
