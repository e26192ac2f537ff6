package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/replica"
)

// SiteView is one database location the page was given or found, and
// what became of reading it.
type SiteView struct {
	Name    string
	Kind    string // sqlite, postgres, mysql
	Path    string // without a password
	Replica string // the replica's name; "" if not read
	Err     string // why the site's figures are missing
	Stale   string // why the file looks stale (a warning)
}

// MasteryRow is how many rows of one table one replica masters, as each
// open site sees it.
type MasteryRow struct {
	Table    string
	Master   string
	MasterID replica.ID
	Counts   []int // per Page.MasterySites; -1 if that site did not report
	Differ   bool  // the open sites do not agree (yet)
}

// TransferView is a mastership transfer in flight (root Mastered).
type TransferView struct {
	Table, Key string
	From, To   string
	Epoch      uint64
	SeenAt     []string
}

// RequestView is one mastership request (root Requests), in the newest
// version any open site holds.
type RequestView struct {
	ID                string
	Table, Key        string
	Requester, Master string
	State             string
	Open              bool
	Reason, Answer    string
	Hops              int
	Created, Updated  time.Time
	Delivered         bool
	SeenAt            []string // open sites that know it
}

// CollisionView is one unique-key collision (root Collisions), as each
// open site that settled it recorded it.
type CollisionView struct {
	ID                string
	Table             string
	Columns           string
	Value             string
	Original, Renamed string
	Key, KeptKey      string
	Winner, Loser     string
	States            []string // "boston: renamed", per open site that recorded it
	Detected          time.Time
}

// BayView is one packet file in a storage bay, for the page.
type BayView struct {
	BayFile
	From, To string // replica names; IDs if unknown
	Age      time.Time
	Note     string
}

// Divergence is the comparison of the open replicas' content (root
// ContentHash). Replicas can only be compared when they hold the same
// changes: every open replica at the same epoch vector, none with changes
// not yet sealed.
type Divergence struct {
	Compared bool
	Diverged bool
	Reason   string   // why they were not compared
	Hashes   []string // "boston: 3f2a…" per open replica, when compared
}

// LastSync is the last sync into a replica this process saw: a packet it
// moved itself, or a packet an import took or refused in a bay.
type LastSync struct {
	Time   time.Time
	From   string
	Via    string // "this process" or the bay
	OK     bool
	Result string
}

// fmtKey formats primary key values.
func fmtKey(key []any) string {
	parts := make([]string, len(key))
	for i, k := range key {
		parts[i] = fmt.Sprint(k)
	}
	return strings.Join(parts, ", ")
}

// gatherFamily reads, at every open site, what the library says of
// mastership, requests and collisions, and compares the replicas'
// content; problems are per site.
func (p *Page) gatherFamily(ctx context.Context, f *Family, open []opened, name func(replica.ID) string) {
	type mkey struct {
		table  string
		master replica.ID
	}
	counts := map[mkey][]int{}
	transfers := map[string]*TransferView{}
	requests := map[string]*RequestView{}
	reqVersion := map[string]uint64{}
	collisions := map[string]*CollisionView{}
	for i, o := range open {
		site := o.st.Local.Name
		p.MasterySites = append(p.MasterySites, site)
		rep, err := multisite.Mastered(ctx, o.site.DB, multisite.MasteryOptions{})
		if err != nil {
			p.Problems = append(p.Problems, fmt.Sprintf("%s: mastership: %v", o.site.Path, err))
		} else {
			for table, per := range rep.Counts {
				for id, n := range per {
					k := mkey{table, id}
					if counts[k] == nil {
						counts[k] = make([]int, len(open))
						for j := range counts[k] {
							counts[k][j] = -1
						}
					}
					counts[k][i] = n
				}
			}
			for _, t := range rep.Transfers {
				k := fmt.Sprintf("%s\x00%v\x00%d", t.Table, t.Key, t.Version)
				v := transfers[k]
				if v == nil {
					v = &TransferView{Table: t.Table, Key: fmtKey(t.Key), From: name(t.From), To: name(t.To), Epoch: t.Epoch}
					transfers[k] = v
				}
				v.SeenAt = append(v.SeenAt, site)
			}
		}
		reqs, err := multisite.Requests(ctx, o.site.DB, multisite.RequestFilter{})
		if err != nil {
			p.Problems = append(p.Problems, fmt.Sprintf("%s: mastership requests: %v", o.site.Path, err))
		}
		for _, r := range reqs {
			id := string(r.ID)
			v := requests[id]
			if v == nil || r.Version > reqVersion[id] {
				var seen []string
				if v != nil {
					seen = v.SeenAt
				}
				state := string(r.State)
				v = &RequestView{ID: id, Table: r.Table, Key: fmtKey(r.Key), Requester: name(r.Requester), Master: name(r.Master),
					State: state, Open: state == string(multisite.RequestPending) || state == string(multisite.RequestForwarded),
					Reason: r.Reason, Answer: r.Answer, Hops: r.Hops, Created: r.Created, Updated: r.Updated, Delivered: r.Delivered, SeenAt: seen}
				requests[id], reqVersion[id] = v, r.Version
			}
			v.SeenAt = append(v.SeenAt, site)
		}
		cols, err := multisite.Collisions(ctx, o.site.DB, multisite.CollisionFilter{})
		if err != nil {
			p.Problems = append(p.Problems, fmt.Sprintf("%s: collisions: %v", o.site.Path, err))
		}
		for _, c := range cols {
			id := string(c.ID)
			v := collisions[id]
			if v == nil {
				v = &CollisionView{ID: id, Table: c.Table, Columns: strings.Join(c.Columns, ", "), Value: fmtKey(c.Value),
					Original: c.Original, Renamed: c.Renamed, Key: fmtKey(c.Key), KeptKey: fmtKey(c.KeptKey),
					Winner: name(c.Winner), Loser: name(c.Loser), Detected: c.Detected}
				collisions[id] = v
			}
			v.States = append(v.States, site+": "+string(c.State))
		}
	}
	for k, c := range counts {
		row := MasteryRow{Table: k.table, Master: name(k.master), MasterID: k.master, Counts: c}
		for _, n := range c {
			if n != c[0] {
				row.Differ = true
			}
		}
		p.Mastery = append(p.Mastery, row)
	}
	sort.Slice(p.Mastery, func(a, b int) bool {
		x, y := p.Mastery[a], p.Mastery[b]
		if x.Table != y.Table {
			return x.Table < y.Table
		}
		return x.Master < y.Master
	})
	for _, t := range transfers {
		p.Transfers = append(p.Transfers, *t)
	}
	sort.Slice(p.Transfers, func(a, b int) bool {
		return p.Transfers[a].Table+p.Transfers[a].Key < p.Transfers[b].Table+p.Transfers[b].Key
	})
	for _, r := range requests {
		p.Requests = append(p.Requests, *r)
	}
	sort.Slice(p.Requests, func(a, b int) bool {
		x, y := p.Requests[a], p.Requests[b]
		if x.Open != y.Open {
			return x.Open
		}
		return x.Created.Before(y.Created)
	})
	for _, c := range collisions {
		p.Collisions = append(p.Collisions, *c)
	}
	sort.Slice(p.Collisions, func(a, b int) bool { return p.Collisions[a].Detected.After(p.Collisions[b].Detected) })
	p.Divergence = compare(ctx, open, f.contentHash)
}

// compare compares the open replicas' content with hash (ContentHash)
// when they are comparable, and says why not otherwise.
func compare(ctx context.Context, open []opened, hash func(context.Context, opened) (string, error)) Divergence {
	if len(open) < 2 {
		return Divergence{Reason: "fewer than two replicas are open here"}
	}
	var pending []string
	for _, o := range open {
		n := 0
		for _, c := range o.st.Pending {
			n += c
		}
		if n > 0 {
			pending = append(pending, fmt.Sprintf("%s (%d)", o.st.Local.Name, n))
		}
	}
	if len(pending) > 0 {
		return Divergence{Reason: "not compared: changes not sealed into an epoch yet at " + strings.Join(pending, ", ")}
	}
	first := open[0].st.Matrix[open[0].st.Local.ID]
	for _, o := range open[1:] {
		v := o.st.Matrix[o.st.Local.ID]
		if !v.Covers(first) || !first.Covers(v) {
			return Divergence{Reason: fmt.Sprintf("not compared: the replicas are at different epoch vectors (%s has %s, %s has %s); they can be compared once every one holds the same changes",
				open[0].st.Local.Name, first, o.st.Local.Name, v)}
		}
	}
	d := Divergence{Compared: true}
	var hash0 string
	for i, o := range open {
		h, err := hash(ctx, o)
		if err != nil {
			return Divergence{Reason: fmt.Sprintf("not compared: %s: %v", o.site.Path, err)}
		}
		if i == 0 {
			hash0 = h
		} else if h != hash0 {
			d.Diverged = true
		}
		d.Hashes = append(d.Hashes, o.st.Local.Name+": "+h)
	}
	return d
}

// hashed is a content hash computed at one epoch vector.
type hashed struct {
	vector string
	hash   string
	at     time.Time
}

// contentHash is multisite.ContentHash of the site's database, reused for
// Family.HashEvery while the replica's vector stays the same: a page
// that reloads itself every 30 s does not read every row each time.
func (f *Family) contentHash(ctx context.Context, o opened) (string, error) {
	vector := o.st.Matrix[o.st.Local.ID].String()
	now := time.Now()
	f.mu.Lock()
	c, ok := f.hashes[o.site]
	f.mu.Unlock()
	if ok && f.HashEvery > 0 && c.vector == vector && now.Sub(c.at) < f.HashEvery {
		return c.hash, nil
	}
	h, err := multisite.ContentHash(ctx, o.site.DB)
	if err != nil {
		return "", err
	}
	f.mu.Lock()
	if f.hashes == nil {
		f.hashes = map[*Site]hashed{}
	}
	f.hashes[o.site] = hashed{vector, h, now}
	f.mu.Unlock()
	return h, nil
}
