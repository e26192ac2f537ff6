package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/mastership"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/syncpkt"
)

// BuildOptions controls BuildFamily. The zero value makes every replica
// active under the UTF-8 code page.
type BuildOptions struct {
	// ReceiveOnly names replicas (bangalore, dublin) left receive-only.
	ReceiveOnly []string
	// CodePage is the family's data code page, by name or number; ""
	// means UTF-8, as for multisite.Activate. Every replica's database
	// refuses a write of a string outside it.
	CodePage string
	// Locations puts replicas (boston, bangalore, dublin) on other
	// databases than DIR/NAME.db: a SQLite file, or an empty database on a
	// server (postgres://..., mysql://...; see dbKinds).
	Locations map[string]string
}

// demoPlanned is the data code page the demo family, a UTF-8 one, plans
// to move to: a single-byte page, so a character such as "✓" stored
// meanwhile blocks the change.
const demoPlanned = "windows-1252"

// demoDamage is what befalls dublin's packet to boston in the demo.
const demoDamage = Truncate(64)

// BuildFamily builds, in dir, a live three-replica family of a small
// defect tracker on SQLite (or where opt.Locations says), the way
// examples/deploy does: boston is
// activated, bangalore and dublin are created from creation packets and
// made active (unless opt says otherwise), every active site creates a
// defect, and a hub-and-spoke round through boston brings every replica up
// to date. It returns the open family; on error it closes what it opened.
func BuildFamily(ctx context.Context, dir string, opt BuildOptions) (f *Family, err error) {
	f = &Family{now: time.Now}
	defer func() {
		if err != nil {
			f.Close()
			f = nil
		}
	}()
	boston, err := f.create(dir, "boston", opt.Locations)
	if err != nil {
		return nil, err
	}
	for _, q := range []string{
		`CREATE TABLE project (code TEXT PRIMARY KEY, title TEXT NOT NULL)`,
		`CREATE TABLE defect (id INTEGER PRIMARY KEY, project TEXT NOT NULL, headline TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'open', owner TEXT)`,
		// Two sites may name a project alike: the library settles the
		// collision (multisite.Collisions).
		`CREATE UNIQUE INDEX project_title ON project (title)`,
		`INSERT INTO project VALUES ('CORE', 'Core engine'), ('WEB', 'Web client')`,
	} {
		if err := Exec(ctx, boston, q); err != nil {
			return nil, err
		}
	}
	for i := 1; i <= 20; i++ {
		if err := Exec(ctx, boston, `INSERT INTO defect (id, project, headline, owner) VALUES (?, ?, ?, 'alice')`,
			i, []string{"CORE", "WEB"}[i%2], fmt.Sprintf("Defect %d: crash on save", i)); err != nil {
			return nil, err
		}
	}
	info, err := multisite.Activate(ctx, boston.DB, multisite.ActivateOptions{Name: "boston", CodePage: opt.CodePage})
	if err != nil {
		return nil, fmt.Errorf("activate boston: %w", err)
	}
	boston.ID = info.ID
	for _, name := range []string{"bangalore", "dublin"} {
		var pkt bytes.Buffer
		ri, _, err := multisite.Replicate(ctx, boston.DB, name, &pkt, multisite.ReplicateOptions{})
		if err != nil {
			return nil, fmt.Errorf("replicate %s: %w", name, err)
		}
		s, err := f.create(dir, name, opt.Locations)
		if err != nil {
			return nil, err
		}
		s.ID = ri.ID
		if _, err := multisite.CreateReplica(ctx, s.DB, &pkt, multisite.CreateOptions{OriginKey: info.PublicKey}); err != nil {
			return nil, fmt.Errorf("create %s: %w", name, err)
		}
		// The new replica made its own key; its first packet to boston
		// (an acknowledgement) enrols it there.
		var ack bytes.Buffer
		if _, err := multisite.WriteAck(ctx, s.DB, boston.ID, &ack); err != nil {
			return nil, fmt.Errorf("enrol %s: %w", name, err)
		}
		if _, err := multisite.ImportPacket(ctx, boston.DB, &ack, multisite.ImportOptions{}); err != nil {
			return nil, fmt.Errorf("enrol %s: %w", name, err)
		}
	}
	for _, s := range f.Sites[1:] {
		if slices.Contains(opt.ReceiveOnly, s.Name) {
			continue
		}
		if err := multisite.SetState(ctx, s.DB, replica.Active); err != nil {
			return nil, fmt.Errorf("activate %s: %w", s.Name, err)
		}
	}
	for _, s := range f.Sites {
		if slices.Contains(opt.ReceiveOnly, s.Name) {
			continue
		}
		if err := f.NewDefect(ctx, s, "Reported in "+s.Name); err != nil {
			return nil, err
		}
	}
	if err := f.HubRound(ctx); err != nil {
		return nil, err
	}
	return f, nil
}

// create opens (creating) dir/name.db, or the database locations names
// for name, and adds it to the family.
func (f *Family) create(dir, name string, locations map[string]string) (*Site, error) {
	loc := locations[name]
	if loc == "" {
		loc = filepath.Join(dir, name+".db")
	}
	s, err := openSite(loc, true)
	if err != nil {
		return nil, err
	}
	s.Name = name
	f.Sites = append(f.Sites, s)
	return s, nil
}

// Exec writes with plain SQL, as any tool at the site would; the
// database itself refuses a write to a row another replica masters (a
// *mastership.NotMasterError) and a string outside the family's data code
// page (a *multisite.CharsetError).
func Exec(ctx context.Context, s *Site, q string, args ...any) error {
	if s.Kind == kindPostgres {
		q = rebind(q)
	}
	if _, err := s.DB.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("%s: %s: %w", s.Name, q, multisite.CharsetFromDriver(mastership.FromDriver(err)))
	}
	return nil
}

// rebind numbers the "?" placeholders of q for PostgreSQL ($1, $2, ...).
// The queries here hold no "?" in a string.
func rebind(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// NewDefect creates a defect at s with a key from s's own range.
func (f *Family) NewDefect(ctx context.Context, s *Site, headline string) error {
	id, err := multisite.NextID(ctx, s.DB, nil, "defect")
	if err != nil {
		return fmt.Errorf("%s: next id: %w", s.Name, err)
	}
	return Exec(ctx, s, `INSERT INTO defect (id, project, headline, owner) VALUES (?, 'CORE', ?, ?)`, id, headline, s.Name)
}

// HubRound is one hub-and-spoke synchronization through the first site:
// every active spoke sends to the hub, then the hub sends to every spoke.
// A refused packet is logged and the round goes on; the first error is
// returned.
func (f *Family) HubRound(ctx context.Context) error { return f.round(ctx, nil) }

// round is HubRound with the packets of the spokes in damaged on their way
// to the hub.
func (f *Family) round(ctx context.Context, damaged map[*Site]Damage) error {
	var first error
	keep := func(err error) {
		if first == nil {
			first = err
		}
	}
	hub := f.Sites[0]
	for _, s := range f.Sites[1:] {
		st, err := multisite.ReadStatus(ctx, s.DB)
		if err != nil {
			keep(err)
			continue
		}
		if st.Local.State == replica.ReceiveOnly {
			continue // exports nothing until made active
		}
		if err := f.Carry(ctx, s, hub, damaged[s]); err != nil {
			keep(fmt.Errorf("%s -> %s: %w", s.Name, hub.Name, err))
		}
	}
	for _, s := range f.Sites[1:] {
		if err := f.Sync(ctx, hub, s); err != nil {
			keep(fmt.Errorf("%s -> %s: %w", hub.Name, s.Name, err))
		}
	}
	return first
}

// demo plays what the program shows when run without -dir. The family
// (UTF-8) plans to move to windows-1252; meanwhile users keep working at
// boston and bangalore, and someone at dublin files "Build ✓ on arm64",
// which UTF-8 holds but windows-1252 cannot: the page lists that row as
// blocking the change. In the next round dublin's packet loses its end on
// the way to boston, and boston's ImportPacket refuses it (a
// syncpkt.ErrTruncated) and changes nothing: the page shows the refused
// packet, with the library's error, and boston (and bangalore, which hears
// of dublin through boston) one epoch behind dublin until the next intact
// packet from dublin.
func demo(ctx context.Context, f *Family) error {
	for _, name := range []string{"boston", "bangalore"} {
		if err := f.NewDefect(ctx, f.Site(name), "Follow-up from "+name); err != nil {
			return err
		}
	}
	dublin := f.Site("dublin")
	if err := f.NewDefect(ctx, dublin, "Build ✓ on arm64"); err != nil {
		return err
	}
	boston, blr := f.Site("boston"), f.Site("bangalore")
	// boston and bangalore both open a project called "Operations"; the
	// round settles the collision (one keeps the title, the other is
	// renamed), and bangalore asks boston for defect 1.
	if err := Exec(ctx, boston, `INSERT INTO project (code, title) VALUES ('OPS', 'Operations')`); err != nil {
		return err
	}
	if err := Exec(ctx, blr, `INSERT INTO project (code, title) VALUES ('INFRA', 'Operations')`); err != nil {
		return err
	}
	if _, err := multisite.RequestMastership(ctx, blr.DB, "defect", []any{int64(1)}, "the bangalore team takes the crash on save"); err != nil {
		return fmt.Errorf("bangalore: request defect 1: %w", err)
	}
	if err := f.round(ctx, map[*Site]Damage{dublin: demoDamage}); !errors.Is(err, syncpkt.ErrTruncated) {
		return fmt.Errorf("dublin -> boston, damaged: got %v, want boston to refuse the packet as truncated", err)
	}
	for _, p := range f.Packets() { // every other packet of the round must have applied
		if p.Err != nil && (p.From != dublin || p.To != boston) {
			return fmt.Errorf("%s -> %s: %w", p.From.Name, p.To.Name, p.Err)
		}
	}
	// dublin sends its packet again, through the storage bay this time:
	// it waits there for boston's next import.
	if len(f.Bays) > 0 {
		if _, err := f.SendToBay(ctx, dublin, boston, f.Bays[0]); err != nil {
			return err
		}
	}
	return nil
}

// SendToBay exports a packet from one site to another into a storage bay,
// as multiutil syncreplica -export does: written as NAME.pkt.tmp and
// renamed to NAME.pkt once complete, so that an importer never takes half
// a packet. It returns the packet's path.
func (f *Family) SendToBay(ctx context.Context, from, to *Site, bay string) (string, error) {
	path := filepath.Join(bay, fmt.Sprintf("%s-%s-%d.pkt", from.Name, to.Name, time.Now().UnixNano()))
	out, err := os.OpenFile(path+".tmp", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", err
	}
	_, err = multisite.ExportPacket(ctx, from.DB, to.ID, out, multisite.ExportOptions{})
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(path+".tmp", path)
	}
	if err != nil {
		os.Remove(path + ".tmp")
		return "", fmt.Errorf("%s -> %s through %s: %w", from.Name, to.Name, bay, err)
	}
	return path, nil
}
