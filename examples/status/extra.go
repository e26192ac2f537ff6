package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/syncpkt"
)

// RequestView is an open mastership request, as the open databases know
// it (the newest version any of them holds).
type RequestView struct {
	ID, Table, Key    string
	Requester, Master string // replica names
	State, Reason     string
	Delivered         bool // the master holds it, as far as the reporting database knows
	Created           time.Time
	version           uint64
}

// MasteryView is who masters what, as one open database sees it.
type MasteryView struct {
	Seen     string         // the replica whose database was read
	Tables   []MasteryTable // by table name
	InFlight int            // transfers whose new master has not acknowledged them yet
}

// MasteryTable is the number of rows of one table each replica masters,
// aligned with Page.Replicas.
type MasteryTable struct {
	Table  string
	Counts []int
}

// BayView is one site's storage bay: packets waiting there, and the last
// ones imported (done/) or refused (failed/).
type BayView struct {
	Site, Dir  string
	Waiting    []BayPacket
	LastDone   *BayPacket
	LastFailed *BayPacket
	Rounds     []RoundView // the last multiutil sync round of each site using the bay
	Err        string
}

// RoundView is the last round of multiutil sync at one site, as it
// recorded it in its bay (.sync-REPLICA.json).
type RoundView struct {
	Replica string
	Started time.Time
	Links   int
	Failed  int
	Errors  []string // "to boston via push: ..." for each failed link
}

// BayPacket is one packet file in a bay.
type BayPacket struct {
	File     string
	From, To string // replica names, from the packet's header
	Bytes    int64
	Time     time.Time // the file's modification time
	Stale    bool      // waiting longer than staleAfter
	Err      string    // the header could not be read
}

// staleAfter is how long a packet may wait in a bay before the page warns.
const staleAfter = 24 * time.Hour

// Convergence compares the open replicas' content hashes.
type Convergence struct {
	Hashes    []HashView
	Identical bool
	// Diverged lists pairs of replicas that hold the same epochs of every
	// origin but different data: something changed replicated rows
	// outside the library's capture.
	Diverged []string
}

// HashView is one replica's multisite.ContentHash.
type HashView struct {
	Replica, Hash, Err string
}

// gatherExtra reads what the library records beyond the status: open
// mastership requests, mastership counts, the bays and content hashes.
func gatherExtra(ctx context.Context, p *Page, sites []*Site, sts []*multisite.Status, now time.Time) {
	name := func(id replica.ID) string {
		for _, r := range p.Replicas {
			if r.ID == id {
				return r.Name
			}
		}
		return string(id)
	}
	reqs := map[string]*RequestView{}
	for i, s := range sites {
		rs, err := multisite.Requests(ctx, s.DB, multisite.RequestFilter{States: []multisite.RequestState{multisite.RequestPending, multisite.RequestForwarded}})
		if err != nil {
			p.Problems = append(p.Problems, fmt.Sprintf("%s: mastership requests: %v", sts[i].Local.Name, err))
			continue
		}
		for _, r := range rs {
			if cur, ok := reqs[string(r.ID)]; ok && cur.version >= r.Version {
				continue
			}
			reqs[string(r.ID)] = &RequestView{ID: string(r.ID), Table: r.Table, Key: keyText(r.Key), Requester: name(r.Requester), Master: name(r.Master),
				State: string(r.State), Reason: r.Reason, Delivered: r.Delivered, Created: r.Created, version: r.Version}
		}
	}
	for _, r := range reqs {
		p.Requests.List = append(p.Requests.List, *r)
	}
	sort.Slice(p.Requests.List, func(a, b int) bool { return p.Requests.List[a].Created.Before(p.Requests.List[b].Created) })

	if len(sites) > 0 {
		rep, err := multisite.Mastered(ctx, sites[0].DB, multisite.MasteryOptions{})
		if err != nil {
			p.Problems = append(p.Problems, fmt.Sprintf("%s: mastership: %v", sts[0].Local.Name, err))
		} else {
			mv := &MasteryView{Seen: sts[0].Local.Name, InFlight: len(rep.Transfers)}
			for _, t := range sortedKeys(rep.Counts) {
				mt := MasteryTable{Table: t}
				for _, r := range p.Replicas {
					mt.Counts = append(mt.Counts, rep.Counts[t][r.ID])
				}
				mv.Tables = append(mv.Tables, mt)
			}
			p.Mastery = mv
		}
	}

	shared := map[string]int{} // a bay several sites share is listed once
	for i, s := range sites {
		if s.Bay == "" {
			continue
		}
		dir := filepath.Clean(s.Bay)
		if j, ok := shared[dir]; ok {
			p.Bays[j].Site += ", " + sts[i].Local.Name
			continue
		}
		shared[dir] = len(p.Bays)
		p.Bays = append(p.Bays, readBay(sts[i].Local.Name, s.Bay, name, now))
	}

	conv := Convergence{Identical: true}
	for i, s := range sites {
		h, err := multisite.ContentHash(ctx, s.DB)
		hv := HashView{Replica: sts[i].Local.Name, Hash: h}
		if err != nil {
			hv.Err = err.Error()
		}
		conv.Hashes = append(conv.Hashes, hv)
	}
	for i := range conv.Hashes {
		for j := i + 1; j < len(conv.Hashes); j++ {
			a, b := conv.Hashes[i], conv.Hashes[j]
			if a.Hash == b.Hash {
				continue
			}
			conv.Identical = false
			if sameVector(sts[i].Matrix[sts[i].Local.ID], sts[j].Matrix[sts[j].Local.ID]) {
				conv.Diverged = append(conv.Diverged, a.Replica+" and "+b.Replica)
			}
		}
	}
	p.Convergence = conv
}

// sameVector reports whether two replicas hold the same epoch of every
// origin.
func sameVector(a, b replica.Vector) bool {
	for id, e := range a {
		if b.Get(id) != e {
			return false
		}
	}
	for id, e := range b {
		if a.Get(id) != e {
			return false
		}
	}
	return true
}

// readBay lists a bay: the *.pkt files waiting, oldest first, and the
// newest file in done/ and in failed/.
func readBay(site, dir string, name func(replica.ID) string, now time.Time) BayView {
	bv := BayView{Site: site, Dir: dir}
	files, err := filepath.Glob(filepath.Join(dir, "*.pkt"))
	if err != nil {
		bv.Err = err.Error()
		return bv
	}
	if _, err := os.Stat(dir); err != nil {
		bv.Err = err.Error()
		return bv
	}
	for _, path := range files {
		bp := packetFile(path, name)
		bp.Stale = now.Sub(bp.Time) > staleAfter
		bv.Waiting = append(bv.Waiting, bp)
	}
	sort.Slice(bv.Waiting, func(a, b int) bool { return bv.Waiting[a].Time.Before(bv.Waiting[b].Time) })
	bv.Rounds = readRounds(dir)
	bv.LastDone = newestIn(filepath.Join(dir, "done"), name)
	bv.LastFailed = newestIn(filepath.Join(dir, "failed"), name)
	return bv
}

func newestIn(dir string, name func(replica.ID) string) *BayPacket {
	files, _ := filepath.Glob(filepath.Join(dir, "*.pkt"))
	var best *BayPacket
	for _, path := range files {
		bp := packetFile(path, name)
		if best == nil || bp.Time.After(best.Time) {
			best = &bp
		}
	}
	return best
}

// packetFile describes a packet file from its header (signature not
// checked: that is the import's job).
func packetFile(path string, name func(replica.ID) string) BayPacket {
	bp := BayPacket{File: filepath.Base(path)}
	fi, err := os.Stat(path)
	if err != nil {
		bp.Err = err.Error()
		return bp
	}
	bp.Bytes, bp.Time = fi.Size(), fi.ModTime()
	f, err := os.Open(path)
	if err != nil {
		bp.Err = err.Error()
		return bp
	}
	defer f.Close()
	h, err := syncpkt.NewReader(f, syncpkt.ReaderOptions{}).Header()
	if err != nil {
		bp.Err = err.Error()
		return bp
	}
	bp.From, bp.To = name(replica.ID(h.Origin)), name(replica.ID(h.Target))
	return bp
}

// keyText writes a key's values, comma-separated.
func keyText(key []any) string {
	parts := make([]string, len(key))
	for i, v := range key {
		if b, ok := v.([]byte); ok {
			v = string(b)
		}
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, ",")
}

// readRounds reads the round records multiutil sync leaves in a bay.
func readRounds(dir string) []RoundView {
	files, _ := filepath.Glob(filepath.Join(dir, ".sync-*.json"))
	var out []RoundView
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		var r struct {
			Replica string    `json:"replica"`
			Started time.Time `json:"started"`
			Failed  int       `json:"failed"`
			Links   []struct {
				Peer, Direction, Via, Status, Error string
			} `json:"links"`
		}
		if err := json.Unmarshal(b, &r); err != nil {
			out = append(out, RoundView{Replica: filepath.Base(path), Errors: []string{"unreadable record: " + err.Error()}})
			continue
		}
		rv := RoundView{Replica: r.Replica, Started: r.Started, Links: len(r.Links), Failed: r.Failed}
		for _, l := range r.Links {
			if l.Status == "failed" {
				dir := map[string]string{"in": "from", "out": "to"}[l.Direction]
				rv.Errors = append(rv.Errors, fmt.Sprintf("%s %s via %s: %s", dir, l.Peer, l.Via, l.Error))
			}
		}
		out = append(out, rv)
	}
	return out
}
