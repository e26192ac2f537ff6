package plan

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/multisite-go/multisite/codepage"
)

// ErrInvalidPlan is wrapped by every *ValidationError, so callers can test
// errors.Is(err, ErrInvalidPlan).
var ErrInvalidPlan = errors.New("plan: invalid plan")

// Problem is one mistake in a plan.
type Problem struct {
	// Path locates the mistake in the plan document, as field names and
	// indexes: "sites[2].vendor", "sync.links[0].to", "mastership.users.ann".
	Path string
	// Msg says what is wrong and, where it can, how to put it right.
	Msg string
}

// String returns "path: msg".
func (p Problem) String() string { return p.Path + ": " + p.Msg }

// ValidationError lists every mistake Validate found, in document order.
type ValidationError struct {
	Problems []Problem // never empty
}

var _ error = (*ValidationError)(nil)

// Error lists every problem, one per line.
func (e *ValidationError) Error() string {
	var b strings.Builder
	noun := "problems"
	if len(e.Problems) == 1 {
		noun = "problem"
	}
	fmt.Fprintf(&b, "plan: invalid plan (%d %s):", len(e.Problems), noun)
	for _, p := range e.Problems {
		b.WriteString("\n\t")
		b.WriteString(p.String())
	}
	return b.String()
}

// Unwrap returns ErrInvalidPlan.
func (e *ValidationError) Unwrap() error { return ErrInvalidPlan }

// replicaName is what a replica name may hold: it appears in shell
// commands and packet file names.
var replicaName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// Validate checks the plan and reports every mistake at once as a
// *ValidationError (errors.Is(err, ErrInvalidPlan)); it returns nil for a
// valid plan. It checks:
//
//   - the family is named and there is at least one site;
//   - site and replica names are given, usable and unique (ignoring case);
//   - every vendor is sqlite, postgres or mysql, and a DSN has its vendor's form;
//   - the code page is one codepage.Lookup knows (suggesting close names);
//   - exactly one site is the working site;
//   - the sync pattern names only sites of the plan, no site links to
//     itself, every interval is a positive Go duration, and every site's
//     changes can reach every other site through the links;
//   - hub-and-spoke and tree have no cycle: in both, exactly one path of
//     links joins any two sites. A link between two spokes (hub-and-spoke)
//     or a link between two sites the tree already joins (tree) would add
//     a second path, and is reported as a cycle, naming it;
//   - a ring lists every site exactly once;
//   - the mastership policy names only sites of the plan, and the field
//     policy names its field and users;
//   - the transport gives every site a storage bay (custom: a description).
func (p *Plan) Validate() error {
	v := &validator{}
	if p == nil {
		v.add("", "no plan")
		return v.err()
	}
	if strings.TrimSpace(p.Family) == "" {
		v.add("family", "required: the name of the replica family, e.g. defects")
	}
	p.checkCodePage(v)
	for i, t := range p.Exclude {
		v.table(fmt.Sprintf("exclude[%d]", i), t)
	}
	p.checkSites(v)
	p.checkTransport(v)
	p.checkSync(v)
	p.checkMastership(v)
	return v.err()
}

type validator struct {
	probs []Problem
}

func (v *validator) add(path, format string, args ...any) {
	v.probs = append(v.probs, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) err() error {
	if len(v.probs) == 0 {
		return nil
	}
	return &ValidationError{Problems: v.probs}
}

// table checks a table name.
func (v *validator) table(path, t string) {
	switch low := strings.ToLower(t); {
	case strings.TrimSpace(t) == "":
		v.add(path, "empty table name")
	case strings.HasPrefix(low, "ms_") || strings.HasPrefix(low, "sqlite_") || strings.ContainsRune(t, 0):
		v.add(path, "%q is a name the library or the database reserves", t)
	}
}

// interval parses a positive Go duration; an empty s is not an error here.
func (v *validator) interval(path, s string) (time.Duration, bool) {
	if s == "" {
		return 0, false
	}
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		v.add(path, "%q is not an interval: write a Go duration such as 15m, 1h30m or 24h", s)
		return 0, false
	}
	if d <= 0 {
		v.add(path, "%q is not a positive interval", s)
		return 0, false
	}
	return d, true
}

func (p *Plan) checkCodePage(v *validator) {
	if strings.TrimSpace(p.CodePage) == "" {
		v.add("codepage", "required: the family's data code page, e.g. UTF-8 or windows-1252")
		return
	}
	if _, err := codepage.Lookup(p.CodePage); err != nil {
		msg := fmt.Sprintf("unknown code page %q", p.CodePage)
		var ue *codepage.UnknownError
		if errors.As(err, &ue) && len(ue.Suggestions) > 0 {
			msg += "; did you mean " + strings.Join(ue.Suggestions, ", ") + "?"
		}
		v.add("codepage", "%s", msg)
	}
}

func (p *Plan) checkSites(v *validator) {
	if len(p.Sites) == 0 {
		v.add("sites", "no sites: a plan needs at least the working site")
		return
	}
	type owner struct {
		site int
		path string
	}
	taken := map[string]owner{} // lower-cased name -> first use
	claim := func(i int, path, name string) {
		k := strings.ToLower(name)
		if o, ok := taken[k]; ok && o.site != i {
			v.add(path, "%q already names sites[%d] (%s); every site and replica name must be unique", name, o.site, o.path)
			return
		}
		if _, ok := taken[k]; !ok {
			taken[k] = owner{i, path}
		}
	}
	working := -1
	for i, s := range p.Sites {
		at := fmt.Sprintf("sites[%d]", i)
		switch {
		case strings.TrimSpace(s.Name) == "":
			v.add(at+".name", "required")
		case s.Name != strings.TrimSpace(s.Name):
			v.add(at+".name", "%q has leading or trailing space", s.Name)
		default:
			claim(i, at+".name", s.Name)
		}
		switch rn := s.ReplicaName(); {
		case s.Replica != "" && !replicaName.MatchString(s.Replica):
			v.add(at+".replica", "%q is not a usable replica name: use letters, digits, '-', '_' and '.' (it appears in commands and file names)", s.Replica)
		case s.Replica == "" && s.Name != "" && !replicaName.MatchString(s.Name):
			v.add(at+".replica", "required: the site name %q is not a usable replica name (letters, digits, '-', '_' and '.'), so give the replica a name", s.Name)
		case rn != "" && rn != s.Name:
			claim(i, at+".replica", rn)
		}
		switch {
		case s.Vendor == "":
			v.add(at+".vendor", "required: one of %s", vendorList())
		case !slices.Contains(Vendors, s.Vendor):
			v.add(at+".vendor", "unknown vendor %q: use %s (mysql covers MariaDB)", s.Vendor, vendorList())
		default:
			checkDSN(v, at+".dsn", s)
		}
		if s.Working {
			if working >= 0 {
				v.add(at+".working", "%s (sites[%d]) is already the working site; exactly one site holds the original database", p.Sites[working].Name, working)
			} else {
				working = i
			}
		}
	}
	if working < 0 {
		v.add("sites", "no site is the working site: mark the site that holds the production database today with working: true")
	}
}

func checkDSN(v *validator, path string, s Site) {
	d := s.DSN
	if d == "" {
		return
	}
	switch s.Vendor {
	case SQLite:
		if strings.Contains(d, "://") {
			v.add(path, "a sqlite DSN is the database file's path, not a URL")
		}
	case Postgres:
		if !strings.HasPrefix(d, "postgres://") && !strings.HasPrefix(d, "postgresql://") {
			v.add(path, "a postgres DSN is a URL: postgres://user@host:5432/dbname")
		}
	case MySQL:
		if strings.Contains(d, "://") || !strings.Contains(d, "/") {
			v.add(path, "a mysql DSN has go-sql-driver's form: user@tcp(host:3306)/dbname")
		}
	}
}

func vendorList() string {
	var s []string
	for _, v := range Vendors {
		s = append(s, string(v))
	}
	return strings.Join(s, ", ")
}

func (p *Plan) checkTransport(v *validator) {
	k := p.transportKind()
	if !slices.Contains(TransportKinds, k) {
		var ks []string
		for _, t := range TransportKinds {
			ks = append(ks, string(t))
		}
		v.add("transport.kind", "unknown transport %q: use %s", p.Transport.Kind, strings.Join(ks, ", "))
		return
	}
	if k == HTTP {
		p.checkHTTP(v)
		return
	}
	if k == Custom {
		if strings.TrimSpace(p.Transport.Description) == "" {
			v.add("transport.description", "required for a custom transport: say how packets travel between the sites")
		}
		return
	}
	for i, s := range p.Sites {
		if p.bayOf(s) == "" {
			v.add(fmt.Sprintf("sites[%d].bay", i), "required: transport %s moves packet files between storage bays; give the site's bay directory (or transport.bay for every site)", k)
		}
	}
}

// checkHTTP checks the sites' endpoints: every URL an http(s) URL, and
// every link with at least one end that serves (two sites without a URL
// cannot reach each other).
func (p *Plan) checkHTTP(v *validator) {
	serves := 0
	for i, s := range p.Sites {
		if s.URL == "" {
			if s.Listen != "" {
				v.add(fmt.Sprintf("sites[%d].listen", i), "only for a site with a url: the others serve nothing")
			}
			continue
		}
		serves++
		u, err := url.Parse(s.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.add(fmt.Sprintf("sites[%d].url", i), "%q is not an http:// or https:// URL", s.URL)
		}
	}
	if serves == 0 {
		v.add("sites", "transport http needs at least one site with a url (where multiutil serve runs)")
		return
	}
	edges, ok := p.edges(nil)
	if !ok {
		return
	}
	said := map[[2]int]bool{}
	for _, e := range edges {
		a, b := p.Sites[e.from], p.Sites[e.to]
		pair := [2]int{min(e.from, e.to), max(e.from, e.to)}
		if a.URL == "" && b.URL == "" && !said[pair] {
			said[pair] = true
			v.add("sync", "%s and %s exchange packets, but neither has a url: give one of them a url", a.Name, b.Name)
		}
	}
}

// resolve finds a site by name for a reference at path, reporting an
// unknown one with the sites the plan has.
func (p *Plan) resolve(v *validator, path, name string) (int, bool) {
	if i, ok := p.index(name); ok {
		return i, true
	}
	if strings.TrimSpace(name) == "" {
		v.add(path, "required: a site of the plan")
		return 0, false
	}
	var known []string
	hint := ""
	for _, s := range p.Sites {
		known = append(known, s.ReplicaName())
		if strings.EqualFold(s.Name, name) || strings.EqualFold(s.ReplicaName(), name) {
			hint = fmt.Sprintf(" (did you mean %s? names are case-sensitive)", s.ReplicaName())
		}
	}
	v.add(path, "unknown site %q%s; the plan's sites are %s", name, hint, strings.Join(known, ", "))
	return 0, false
}

// edge is a directed link between two sites (indexes into Sites).
type edge struct {
	from, to int
	every    time.Duration
}

// edges resolves the plan's links; problems go to v (nil: discarded).
func (p *Plan) edges(v *validator) ([]edge, bool) {
	if v == nil {
		v = &validator{}
	}
	before := len(v.probs)
	edges := p.syncEdges(v)
	return edges, len(v.probs) == before
}

func (p *Plan) checkSync(v *validator) {
	edges, ok := p.edges(v)
	if !ok || len(p.Sites) < 2 {
		return // reachability says nothing useful about a broken pattern
	}
	root := 0
	for i, s := range p.Sites {
		if s.Working {
			root = i
			break
		}
	}
	path := "sync"
	if p.Sync.Pattern == Tree || p.Sync.Pattern == Links {
		path = "sync.links"
	}
	fwd, back := reach(len(p.Sites), edges, root, false), reach(len(p.Sites), edges, root, true)
	r := p.Sites[root].ReplicaName()
	for i, s := range p.Sites {
		n := s.ReplicaName()
		if !fwd[i] {
			v.add(path, "no path of links from %s to %s: %s would never receive %s's changes", r, n, n, r)
		}
		if !back[i] {
			v.add(path, "no path of links from %s to %s: %s's changes would never reach %s", n, r, n, r)
		}
	}
}

// reach returns which sites root reaches (reverse: which reach root).
func reach(n int, edges []edge, root int, reverse bool) []bool {
	adj := make([][]int, n)
	for _, e := range edges {
		if reverse {
			adj[e.to] = append(adj[e.to], e.from)
		} else {
			adj[e.from] = append(adj[e.from], e.to)
		}
	}
	seen := make([]bool, n)
	seen[root] = true
	queue := []int{root}
	for len(queue) > 0 {
		x := queue[0]
		queue = queue[1:]
		for _, y := range adj[x] {
			if !seen[y] {
				seen[y] = true
				queue = append(queue, y)
			}
		}
	}
	return seen
}

func (p *Plan) syncEdges(v *validator) []edge {
	s := p.Sync
	n := len(p.Sites)
	if s.Pattern == "" {
		if n > 1 {
			v.add("sync.pattern", "required for a family of %d sites: one of %s", n, patternList())
		}
		return nil
	}
	if !slices.Contains(Patterns, s.Pattern) {
		v.add("sync.pattern", "unknown pattern %q: use %s", s.Pattern, patternList())
		return nil
	}
	if s.Hub != "" && s.Pattern != HubAndSpoke {
		v.add("sync.hub", "only for pattern hub-and-spoke (this plan's pattern is %s)", s.Pattern)
	}
	if len(s.Order) > 0 && s.Pattern != Ring {
		v.add("sync.order", "only for pattern ring (this plan's pattern is %s)", s.Pattern)
	}
	if len(s.Links) > 0 && (s.Pattern == Ring || s.Pattern == AllToAll) {
		v.add("sync.links", "pattern %s makes its links itself; remove sync.links (sync.every sets the interval)", s.Pattern)
	}
	every, haveEvery := v.interval("sync.every", s.Every)
	if s.Every == "" && (s.Pattern == HubAndSpoke || s.Pattern == Ring || s.Pattern == AllToAll) {
		v.add("sync.every", "required: the interval between packets on each link, e.g. 15m")
	}
	names := func(path ...int) string {
		var out []string
		for _, i := range path {
			out = append(out, p.Sites[i].ReplicaName())
		}
		return strings.Join(out, " → ")
	}
	var edges []edge
	both := func(a, b int, d time.Duration) { edges = append(edges, edge{a, b, d}, edge{b, a, d}) }

	switch s.Pattern {
	case HubAndSpoke:
		if s.Hub == "" {
			v.add("sync.hub", "required for pattern hub-and-spoke: the site every other site exchanges packets with")
		}
		hub, hubOK := 0, false
		if s.Hub != "" {
			hub, hubOK = p.resolve(v, "sync.hub", s.Hub)
		}
		override := map[int]time.Duration{}
		overriddenAt := map[int]int{}
		for i, l := range s.Links {
			at := fmt.Sprintf("sync.links[%d]", i)
			f, okF := p.resolve(v, at+".from", l.From)
			t, okT := p.resolve(v, at+".to", l.To)
			d, okD := v.interval(at+".every", l.Every)
			if l.Every == "" {
				v.add(at+".every", "required: in hub-and-spoke a link only overrides sync.every for one spoke")
			}
			if l.OneWay {
				v.add(at+".oneway", "a hub-and-spoke link carries packets both ways")
			}
			if !okF || !okT || !hubOK {
				continue
			}
			switch {
			case f == t:
				v.add(at, "links %s to itself", p.Sites[f].ReplicaName())
			case f != hub && t != hub:
				v.add(at, "%s–%s closes a cycle %s: in hub-and-spoke every spoke exchanges packets with the hub %s only, so exactly one path joins any two sites (use pattern links for a mesh)",
					p.Sites[f].ReplicaName(), p.Sites[t].ReplicaName(), names(f, hub, t, f), p.Sites[hub].ReplicaName())
			default:
				spoke := f
				if f == hub {
					spoke = t
				}
				if j, dup := overriddenAt[spoke]; dup {
					v.add(at, "a second link between %s and %s (first at sync.links[%d])", p.Sites[hub].ReplicaName(), p.Sites[spoke].ReplicaName(), j)
				} else if okD {
					override[spoke], overriddenAt[spoke] = d, i
				}
			}
		}
		if hubOK {
			for i := range p.Sites {
				if i == hub {
					continue
				}
				d, ok := override[i]
				if !ok {
					d = every
				}
				both(hub, i, d)
			}
		}

	case Ring:
		if len(s.Order) == 0 {
			v.add("sync.order", "required for pattern ring: every site once, in the order packets travel")
			return nil
		}
		at := map[int]int{}
		var ring []int
		ok := true
		for i, name := range s.Order {
			x, found := p.resolve(v, fmt.Sprintf("sync.order[%d]", i), name)
			if !found {
				ok = false
				continue
			}
			if j, dup := at[x]; dup {
				v.add(fmt.Sprintf("sync.order[%d]", i), "%s already is sync.order[%d]; a ring visits each site once", p.Sites[x].ReplicaName(), j)
				ok = false
				continue
			}
			at[x] = i
			ring = append(ring, x)
		}
		var missing []string
		for i, st := range p.Sites {
			if _, in := at[i]; !in {
				missing = append(missing, st.ReplicaName())
			}
		}
		if len(missing) > 0 {
			v.add("sync.order", "leaves out %s: every site must be in the ring", strings.Join(missing, ", "))
			ok = false
		}
		if ok && len(ring) > 1 {
			for k := range ring {
				edges = append(edges, edge{ring[k], ring[(k+1)%len(ring)], every})
			}
		}

	case AllToAll:
		for i := range p.Sites {
			for j := i + 1; j < n; j++ {
				both(i, j, every)
			}
		}

	case Tree, Links:
		if len(s.Links) == 0 {
			v.add("sync.links", "required for pattern %s: the links between the sites", s.Pattern)
			return nil
		}
		adj := make([][]int, n) // the tree so far, undirected
		dirAt := map[[2]int]int{}
		for i, l := range s.Links {
			at := fmt.Sprintf("sync.links[%d]", i)
			f, okF := p.resolve(v, at+".from", l.From)
			t, okT := p.resolve(v, at+".to", l.To)
			d, okD := v.interval(at+".every", l.Every)
			if l.Every == "" {
				d, okD = every, haveEvery
				if s.Every == "" {
					v.add(at+".every", "no interval: set every here or sync.every")
				}
			}
			if s.Pattern == Tree && l.OneWay {
				v.add(at+".oneway", "a tree link carries packets both ways (use pattern links for one-way links)")
			}
			if !okF || !okT {
				continue
			}
			if f == t {
				v.add(at, "links %s to itself", p.Sites[f].ReplicaName())
				continue
			}
			if s.Pattern == Tree {
				if path := treePath(adj, f, t); path != nil {
					v.add(at, "%s–%s closes a cycle %s: in a tree exactly one path of links joins any two sites (use pattern links for redundant paths)",
						p.Sites[f].ReplicaName(), p.Sites[t].ReplicaName(), names(append(path, f)...))
					continue
				}
				adj[f], adj[t] = append(adj[f], t), append(adj[t], f)
				if okD {
					both(f, t, d)
				}
				continue
			}
			dirs := [][2]int{{f, t}}
			if !l.OneWay {
				dirs = append(dirs, [2]int{t, f})
			}
			for _, dir := range dirs {
				if j, dup := dirAt[dir]; dup {
					v.add(at, "repeats the link %s → %s of sync.links[%d]", p.Sites[dir[0]].ReplicaName(), p.Sites[dir[1]].ReplicaName(), j)
					continue
				}
				dirAt[dir] = i
				if okD {
					edges = append(edges, edge{dir[0], dir[1], d})
				}
			}
		}
	}
	return edges
}

// treePath returns the path from a to b in the forest adj, or nil if they
// are not joined.
func treePath(adj [][]int, a, b int) []int {
	prev := make([]int, len(adj))
	for i := range prev {
		prev[i] = -1
	}
	prev[a] = a
	queue := []int{a}
	for len(queue) > 0 {
		x := queue[0]
		queue = queue[1:]
		if x == b {
			var path []int
			for y := b; y != a; y = prev[y] {
				path = append(path, y)
			}
			path = append(path, a)
			slices.Reverse(path)
			return path
		}
		for _, y := range adj[x] {
			if prev[y] < 0 {
				prev[y] = x
				queue = append(queue, y)
			}
		}
	}
	return nil
}

func patternList() string {
	var s []string
	for _, p := range Patterns {
		s = append(s, string(p))
	}
	return strings.Join(s, ", ")
}

func (p *Plan) checkMastership(v *validator) {
	m := p.Mastership
	pol := p.policy()
	if !slices.Contains(Policies, pol) {
		var ps []string
		for _, x := range Policies {
			ps = append(ps, string(x))
		}
		v.add("mastership.policy", "unknown policy %q: use %s", m.Policy, strings.Join(ps, ", "))
		return
	}
	if m.Field != "" && pol != ByField {
		v.add("mastership.field", "only for policy field (this plan's policy is %s)", pol)
	}
	if len(m.Users) > 0 && pol != ByField {
		v.add("mastership.users", "only for policy field (this plan's policy is %s)", pol)
	}
	if len(m.Tables) > 0 && pol != ByTable {
		v.add("mastership.tables", "only for policy table (this plan's policy is %s)", pol)
	}
	switch pol {
	case ByField:
		switch low := strings.ToLower(m.Field); {
		case strings.TrimSpace(m.Field) == "":
			v.add("mastership.field", "required for policy field: the column that names a record's owner")
		case strings.HasPrefix(low, "ms_"):
			v.add("mastership.field", "%q is a column the library reserves; name the application's own owner column", m.Field)
		}
		if len(m.Users) == 0 {
			v.add("mastership.users", "required for policy field: which site masters each user's records")
		}
		for _, u := range sortedKeys(m.Users) {
			if strings.TrimSpace(u) == "" {
				v.add("mastership.users", "empty user name")
				continue
			}
			p.resolve(v, "mastership.users."+u, m.Users[u])
		}
	case ByTable:
		if len(m.Tables) == 0 {
			v.add("mastership.tables", "required for policy table: which site masters each table's rows")
		}
		for _, t := range sortedKeys(m.Tables) {
			at := "mastership.tables." + t
			v.table(at, t)
			if slices.Contains(p.Exclude, t) {
				v.add(at, "%s is excluded from replication (exclude), so no site masters it", t)
			}
			p.resolve(v, at, m.Tables[t])
		}
	}
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
