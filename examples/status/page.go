package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/codepage"
	"github.com/multisite-go/multisite/replica"
)

// Page is everything the status page shows, gathered from the family's
// databases in one pass. Each database is read through the library's
// public API (ReadStatus, ValidateCharset); nothing is written.
type Page struct {
	Family    string // family ID
	CodePage  string // data code page
	Generated time.Time
	Refresh   int // seconds between automatic reloads; 0 means none

	Replicas []ReplicaView // every member any database knows, by number
	Matrix   []MatrixRow   // one row per holder, one cell per origin
	Views    []BeliefView  // the epoch matrix as each database believes it
	Packets  []PacketView
	Charset  []CharsetView
	Planned  *Plan    // nil if Family.Planned is ""
	Problems []string // databases that could not be read, and why
	Warnings []string // files that look stale

	Sites        []SiteView
	MasterySites []string     // the open sites whose counts Mastery shows, in order
	Mastery      []MasteryRow // rows mastered per table and master
	Transfers    []TransferView
	Requests     []RequestView // open ones first
	Collisions   []CollisionView
	Bays         []BayView
	Bayed        map[string]int // per state: files in the bays
	Divergence   Divergence
}

// opened is a site whose status was read.
type opened struct {
	site *Site
	st   *multisite.Status
}

// ReplicaView is one member of the family.
type ReplicaView struct {
	ID          replica.ID
	Name        string
	Number      int64
	State       replica.State
	Fingerprint string // of the public key: "SHA256:" and unpadded base64, as ssh-keygen -l prints
	Rotated     bool   // the key was rotated (endorsed by an earlier key)
	Incarnation uint64 // restores from backup
	Site        string // the database read for this replica; "" if none is open here
	Kind        string // its kind: sqlite, postgres, mysql
	Epoch       uint64 // newest sealed epoch: from its own database, else the newest any member has seen
	Pending     int    // captured changes not yet sealed into an epoch; -1 if its database is not open here
	Disagree    []string
	LastIn      *PacketView // the last packet this process imported into it
	LastOut     *PacketView // the last packet this process exported from it
	LastSync    *LastSync   // the last packet imported or refused here that this process saw, itself or in a bay
	Waiting     int         // packets waiting for it in the bays
}

// MatrixRow is what one holder has of every origin.
type MatrixRow struct {
	Holder ReplicaView
	// Measured is true when the row was read from the holder's own
	// database; otherwise it is the highest any open database believes
	// (a lower bound: beliefs come from the holder's packets).
	Measured bool
	Cells    []Cell
}

// Cell is what Holder has of Origin's epochs.
type Cell struct {
	Holder, Origin replica.ID
	Epoch          uint64 // newest epoch of Origin's changes the holder has
	Behind         uint64 // Origin's newest epoch minus Epoch
	Self           bool   // Holder == Origin
	// LastNew is when this process last imported into Holder a packet that
	// brought Origin's epochs; nil if it never did.
	LastNew *time.Time
}

// BeliefView is the epoch matrix as one database holds it.
type BeliefView struct {
	Site    string
	Replica ReplicaView
	Rows    []MatrixRow
}

// PacketView is one entry of the packet log.
type PacketView struct {
	Time            time.Time
	From, To        string
	FromID, ToID    replica.ID
	Bytes, Arrived  int64
	Damage          string
	Rows, Transfers int
	Epoch           uint64
	Applied         string
	Err             string
	OK              bool
	NewEpochs       map[replica.ID][2]uint64 // per origin: (first, last] epochs the import brought
}

// CharsetView is ValidateCharset's result at one database: against the
// code page the replica's family has, and against the planned one.
type CharsetView struct {
	Site    string
	Replica string
	Family  CharsetCheck
	// Planned checks the replicated tables against Page.Planned, as
	// multisite.ChangeCodePage does before it changes anything; nil if no
	// code page is planned or the replica's family already has it.
	Planned *CharsetCheck
}

// CharsetCheck is one validation of one database.
type CharsetCheck struct {
	CodePage string                   // canonical name
	Planned  bool                     // against the planned code page, not the family's
	Report   *multisite.CharsetReport // nil if Err
	Err      string
}

// Plan is what blocks the planned change of the family's code page,
// summed over the open databases.
type Plan struct {
	CodePage   string   // canonical name of the planned code page
	Violations int      // characters outside it in replicated tables, as listed
	More       bool     // some database has more than maxViolations
	Blocking   []string // replicas holding them, with their counts: "dublin (1)"
	Already    []string // replicas whose family already has the planned code page
	Errors     int      // validations that failed
}

// maxViolations bounds the violations listed per replica.
const maxViolations = 20

// Gather reads every database of f and builds the page.
func (f *Family) Gather(ctx context.Context) *Page {
	now := time.Now
	if f.now != nil {
		now = f.now
	}
	p := &Page{Generated: now().UTC(), Bayed: map[string]int{}}
	var open []opened
	byID := map[replica.ID]*opened{}
	for _, s := range f.Sites {
		sv := SiteView{Name: s.Name, Kind: s.Kind, Path: s.Path, Stale: s.Stale}
		if s.Stale != "" {
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s: %s", s.Path, s.Stale))
		}
		if s.Err != nil {
			sv.Err = s.Err.Error()
			p.Sites = append(p.Sites, sv)
			if s.Stale == "" {
				p.Problems = append(p.Problems, s.Err.Error())
			}
			continue
		}
		st, err := multisite.ReadStatus(ctx, s.DB)
		if err != nil {
			sv.Err = fmt.Sprintf("%s: %v", s.Path, err)
			p.Sites = append(p.Sites, sv)
			p.Problems = append(p.Problems, sv.Err)
			continue
		}
		sv.Replica = st.Local.Name
		p.Sites = append(p.Sites, sv)
		open = append(open, opened{s, st})
	}
	for i := range open {
		byID[open[i].st.Local.ID] = &open[i]
	}
	if len(open) > 0 {
		p.Family, p.CodePage = open[0].st.Family, open[0].st.CodePage
	}

	// The registry: the newest entry any open database holds, as members
	// merge registries (a replica's own entry is usually the newest, but a
	// member that removed it holds a newer one).
	reg := map[replica.ID]replica.Info{}
	for _, o := range open {
		for _, r := range o.st.Replicas {
			if cur, ok := reg[r.ID]; !ok || replica.Newer(r, cur) {
				reg[r.ID] = r
			}
		}
	}
	infos := make([]replica.Info, 0, len(reg))
	for _, r := range reg {
		infos = append(infos, r)
	}
	sort.Slice(infos, func(a, b int) bool { return infos[a].Number < infos[b].Number })

	// The newest epoch of every origin: its own, or the highest anyone holds.
	newest := map[replica.ID]uint64{}
	for _, o := range open {
		for _, v := range o.st.Matrix {
			for origin, e := range v {
				newest[origin] = max(newest[origin], e)
			}
		}
	}
	for id, o := range byID {
		newest[id] = max(newest[id], o.st.Epoch)
	}

	var planned *codepage.CodePage
	if f.Planned != "" {
		cp, err := codepage.Lookup(f.Planned)
		if err != nil {
			p.Problems = append(p.Problems, fmt.Sprintf("planned code page: %v", err))
		} else {
			planned, p.Planned = cp, &Plan{CodePage: cp.Name()}
		}
	}

	packets := f.Packets()
	for _, pk := range packets {
		p.Packets = append(p.Packets, packetView(pk))
	}

	name := func(id replica.ID) string {
		if r, ok := reg[id]; ok && r.Name != "" {
			return r.Name
		}
		return string(id)
	}
	p.gatherBays(f.Bays, byID, name)

	views := map[replica.ID]*ReplicaView{}
	for _, r := range infos {
		v := ReplicaView{ID: r.ID, Name: r.Name, Number: r.Number, State: r.State, Fingerprint: Fingerprint(r.PublicKey),
			Rotated: r.KeySig != nil, Incarnation: r.Incarnation, Epoch: newest[r.ID], Pending: -1}
		if o := byID[r.ID]; o != nil {
			v.Site, v.Kind, v.Pending = o.site.Path, o.site.Kind, 0
			for _, n := range o.st.Pending {
				v.Pending += n
			}
		}
		for _, o := range open {
			if o.st.Local.ID == r.ID {
				continue
			}
			seen, ok := findInfo(o.st.Replicas, r.ID)
			switch {
			case !ok:
				v.Disagree = append(v.Disagree, fmt.Sprintf("%s does not know it yet", o.st.Local.Name))
			case seen.State != r.State:
				v.Disagree = append(v.Disagree, fmt.Sprintf("%s still believes it is %s", o.st.Local.Name, seen.State))
			}
			if ok && Fingerprint(seen.PublicKey) != v.Fingerprint {
				v.Disagree = append(v.Disagree, fmt.Sprintf("%s holds key %s", o.st.Local.Name, Fingerprint(seen.PublicKey)))
			}
		}
		for i := range p.Packets { // newest first
			pk := &p.Packets[i]
			if pk.ToID == r.ID && v.LastIn == nil {
				v.LastIn = pk
				res := "applied: " + pk.Applied
				if !pk.OK {
					res = "refused: " + pk.Err
				}
				v.LastSync = &LastSync{Time: pk.Time, From: pk.From, Via: "this process", OK: pk.OK, Result: res}
			}
			if pk.FromID == r.ID && v.LastOut == nil {
				v.LastOut = pk
			}
		}
		for _, b := range p.Bays { // newest first within each state
			switch {
			case b.Target != r.ID:
			case b.State == bayWaiting && !b.AlreadyThere:
				v.Waiting++
			case b.State == bayImported || b.State == bayRefused:
				if v.LastSync == nil || b.Modified.After(v.LastSync.Time) {
					v.LastSync = &LastSync{Time: b.Modified, From: b.From, Via: b.Bay, OK: b.State == bayImported, Result: b.State + " " + b.File}
				}
			}
		}
		p.Replicas = append(p.Replicas, v)
	}
	for i := range p.Replicas {
		views[p.Replicas[i].ID] = &p.Replicas[i]
	}

	// The family's matrix: each holder's own row where its database is
	// open here, else the highest belief.
	for _, h := range p.Replicas {
		row := MatrixRow{Holder: h}
		var have replica.Vector
		if o := byID[h.ID]; o != nil {
			row.Measured, have = true, o.st.Matrix[h.ID]
		} else {
			have = replica.Vector{}
			for _, o := range open {
				for origin, e := range o.st.Matrix[h.ID] {
					have[origin] = max(have[origin], e)
				}
			}
		}
		for _, origin := range p.Replicas {
			c := Cell{Holder: h.ID, Origin: origin.ID, Epoch: have.Get(origin.ID), Self: h.ID == origin.ID}
			if n := newest[origin.ID]; n > c.Epoch {
				c.Behind = n - c.Epoch
			}
			for _, pk := range p.Packets {
				if r, ok := pk.NewEpochs[origin.ID]; ok && pk.OK && pk.ToID == h.ID && r[1] > r[0] {
					t := pk.Time
					c.LastNew = &t
					break
				}
			}
			row.Cells = append(row.Cells, c)
		}
		p.Matrix = append(p.Matrix, row)
	}

	for _, o := range open {
		bv := BeliefView{Site: o.site.Path, Replica: *views[o.st.Local.ID]}
		for _, h := range p.Replicas {
			row := MatrixRow{Holder: h, Measured: h.ID == o.st.Local.ID}
			for _, origin := range p.Replicas {
				row.Cells = append(row.Cells, Cell{Holder: h.ID, Origin: origin.ID, Epoch: o.st.Matrix[h.ID].Get(origin.ID), Self: h.ID == origin.ID})
			}
			bv.Rows = append(bv.Rows, row)
		}
		p.Views = append(p.Views, bv)

		cv := CharsetView{Site: o.site.Path, Replica: o.st.Local.Name,
			Family: validate(ctx, o.site.DB, o.st.CodePage, nil)}
		if planned != nil {
			if planned.Name() == o.st.CodePage {
				p.Planned.Already = append(p.Planned.Already, o.st.Local.Name)
			} else {
				// Only replicated tables: they are what ChangeCodePage
				// checks, and what the new page will be enforced on.
				c := validate(ctx, o.site.DB, planned.Name(), append([]string{}, o.st.Tables...))
				c.Planned, cv.Planned = true, &c
				switch {
				case c.Report == nil:
					p.Planned.Errors++
				case len(c.Report.Violations) > 0:
					p.Planned.Violations += len(c.Report.Violations)
					p.Planned.More = p.Planned.More || c.Report.Truncated
					more := ""
					if c.Report.Truncated {
						more = "+"
					}
					p.Planned.Blocking = append(p.Planned.Blocking, fmt.Sprintf("%s (%d%s)", o.st.Local.Name, len(c.Report.Violations), more))
				}
			}
		}
		p.Charset = append(p.Charset, cv)
	}
	p.gatherFamily(ctx, f, open, name)
	return p
}

// gatherBays lists the packet files of the bays, and what each means for
// the sites open here.
func (p *Page) gatherBays(bays []string, byID map[replica.ID]*opened, name func(replica.ID) string) {
	for _, bay := range bays {
		files, err := scanBay(bay)
		if err != nil {
			p.Problems = append(p.Problems, err.Error())
			continue
		}
		for _, b := range files {
			v := BayView{BayFile: b, Age: b.Modified}
			if b.Origin != "" {
				v.From, v.To = name(b.Origin), name(b.Target)
				_, v.Outbound = byID[b.Origin]
				if o, ok := byID[b.Target]; ok {
					v.Inbound = true
					have := o.st.Matrix[b.Target]
					v.AlreadyThere = len(b.Upto) > 0
					for origin, e := range b.Upto {
						if have.Get(replica.ID(origin)) < e {
							v.AlreadyThere = false
						}
					}
				}
			}
			switch {
			case b.HeaderErr != "":
				v.Note = "not a readable packet: " + b.HeaderErr
			case b.State == bayWaiting && v.AlreadyThere:
				v.Note = "its target already holds every epoch it brings: importing it changes nothing"
			case b.State == bayWaiting && v.Inbound:
				v.Note = "in transit: its target does not hold what it brings yet"
			case b.State == bayWaiting:
				v.Note = "in transit: its target is not open here"
			}
			p.Bayed[b.State]++
			p.Bays = append(p.Bays, v)
		}
	}
}

// validate runs ValidateCharset at db against codePage, on tables; nil
// means every table, replicated or not, and an empty slice none.
func validate(ctx context.Context, db *sql.DB, codePage string, tables []string) CharsetCheck {
	c := CharsetCheck{CodePage: codePage}
	rep, err := multisite.ValidateCharset(ctx, db, codePage, multisite.CharsetOptions{Tables: tables, Max: maxViolations})
	if err != nil {
		c.Err = err.Error()
	} else {
		c.Report = rep
	}
	return c
}

func findInfo(rs []replica.Info, id replica.ID) (replica.Info, bool) {
	for _, r := range rs {
		if r.ID == id {
			return r, true
		}
	}
	return replica.Info{}, false
}

func packetView(pk Packet) PacketView {
	v := PacketView{Time: pk.Time, From: pk.From.Name, To: pk.To.Name, FromID: pk.From.ID, ToID: pk.To.ID,
		Bytes: pk.Bytes, Arrived: pk.Arrived, Damage: pk.Damage, Rows: pk.Rows, Transfers: pk.Transfers, Epoch: pk.Epoch, Applied: pk.Applied,
		OK: pk.Err == nil, NewEpochs: pk.Epochs}
	if pk.Err != nil {
		v.Err = pk.Err.Error()
	}
	return v
}

// Fingerprint identifies a public key the way ssh-keygen -l does:
// "SHA256:" and the unpadded base64 of its SHA-256 digest. An empty key
// gives "".
func Fingerprint(key []byte) string {
	if len(key) == 0 {
		return ""
	}
	sum := sha256.Sum256(key)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// Handler serves the status page of a Family at "/". The page is rendered
// on the server from a fresh read of every database on each request.
// A Handler is safe for concurrent use.
type Handler struct {
	Family *Family
	// Refresh, if positive, makes the page reload itself this often.
	Refresh time.Duration
}

// ServeHTTP serves GET and HEAD of "/"; other paths are 404 and other
// methods 405.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := h.Family.Gather(r.Context())
	p.Refresh = int(h.Refresh / time.Second)
	var buf bytes.Buffer
	if err := Render(&buf, p); err != nil {
		http.Error(w, "status: render: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if r.Method == http.MethodHead {
		return
	}
	w.Write(buf.Bytes())
}
