package plan

import (
	"strings"
	"time"
)

// Vendor is the database system a site runs its replica on.
type Vendor string

// The vendors the library supports. MySQL covers MariaDB.
const (
	SQLite   Vendor = "sqlite"
	Postgres Vendor = "postgres"
	MySQL    Vendor = "mysql"
)

// Vendors lists the valid vendors in the order they are documented.
var Vendors = []Vendor{SQLite, Postgres, MySQL}

// Pattern is the shape of the synchronization links between sites.
type Pattern string

// The synchronization patterns a plan may use.
const (
	// HubAndSpoke: every other site exchanges packets both ways with
	// Sync.Hub and with no one else. Sync.Links may override the interval
	// of single hub–spoke links.
	HubAndSpoke Pattern = "hub-and-spoke"
	// Ring: each site sends to the next one in Sync.Order, the last to the
	// first. Packets carry every change the target lacks, whoever made it,
	// so changes travel round the ring.
	Ring Pattern = "ring"
	// AllToAll: every site exchanges packets both ways with every other.
	AllToAll Pattern = "all-to-all"
	// Tree: Sync.Links, each an exchange both ways, join the sites into a
	// tree: exactly one path of links between any two sites, so no cycle.
	Tree Pattern = "tree"
	// Links: Sync.Links exactly as written (two-way unless OneWay), any
	// shape, as long as every site's changes can reach every other site.
	Links Pattern = "links"
)

// Patterns lists the valid patterns.
var Patterns = []Pattern{HubAndSpoke, Ring, AllToAll, Tree, Links}

// Policy says which site masters a record.
type Policy string

// The mastership policies a plan may state.
const (
	// ByCreator: the site that creates a record masters it (the library's
	// behaviour without further action). The zero Policy means ByCreator.
	ByCreator Policy = "creator"
	// ByField: a record is mastered at the site of the user named in a
	// field of the record (Mastership.Field), looked up in Mastership.Users.
	ByField Policy = "field"
	// ByTable: every record of a table is mastered at one site
	// (Mastership.Tables); tables not listed follow the creator.
	ByTable Policy = "table"
)

// Policies lists the valid policies.
var Policies = []Policy{ByCreator, ByField, ByTable}

// TransportKind says how packet files travel between the sites' storage bays.
type TransportKind string

// The transports a plan may name. Only Bay needs nothing beyond the
// directories; the others are carried out by the organisation's own means,
// which Transport.Description describes.
const (
	// Bay: the storage bays are one shared directory or directories the
	// file system mirrors between sites. The zero TransportKind means Bay.
	Bay TransportKind = "bay"
	// Email: packet files are mailed from the sending site's bay to the
	// receiving site's bay.
	Email TransportKind = "email"
	// FTP: packet files are copied by FTP (or SFTP) between the bays.
	FTP TransportKind = "ftp"
	// Custom: the organisation's own program moves packets; it may hand
	// them to the library as io.Reader/io.Writer without any bay.
	Custom TransportKind = "custom"
	// HTTP: packets travel over HTTP(S) between `multiutil serve`
	// endpoints (package transport). A site with a URL serves; a site
	// without one only pushes to and pulls from the sites that serve.
	HTTP TransportKind = "http"
)

// TransportKinds lists the valid transport kinds.
var TransportKinds = []TransportKind{Bay, Email, FTP, Custom, HTTP}

// Plan describes the deployment of one replica family: the sites, the data
// code page, how the sites synchronize and how often, who masters what, and
// how packets travel. Load reads one from YAML or JSON; Validate checks it;
// Workflow writes a site's deployment workflow document from it.
//
// A Plan is plain data: it is safe for concurrent use as long as nobody
// modifies it.
type Plan struct {
	// Family names the replica family (the database set), e.g. "defects".
	Family string `yaml:"family" json:"family"`
	// CodePage is the family's data code page by any name or number
	// codepage.Lookup accepts ("windows-1252", "1252", "UTF-8").
	CodePage string `yaml:"codepage" json:"codepage"`
	// Exclude lists tables of the production database that are not
	// replicated (ActivateOptions.Exclude).
	Exclude []string `yaml:"exclude,omitempty" json:"exclude,omitempty"`
	// Sites are the family's sites; exactly one is the working site.
	Sites []Site `yaml:"sites" json:"sites"`
	// Sync is the synchronization pattern and schedule.
	Sync Sync `yaml:"sync" json:"sync"`
	// Mastership is the mastership policy.
	Mastership Mastership `yaml:"mastership" json:"mastership"`
	// Transport says how packets travel between storage bays.
	Transport Transport `yaml:"transport" json:"transport"`
}

// Site is one site of the family and the replica it runs.
type Site struct {
	// Name is the site's name as people say it ("Boston", "bangalore").
	Name string `yaml:"name" json:"name"`
	// Replica is the replica's name in the family registry; empty means
	// Name. It appears in commands and file names, so it is limited to
	// letters, digits, '-', '_' and '.'.
	Replica string `yaml:"replica,omitempty" json:"replica,omitempty"`
	// Vendor is the database system of the site's replica.
	Vendor Vendor `yaml:"vendor" json:"vendor"`
	// DSN locates the replica's database: a file path for SQLite, a
	// postgres:// URL for PostgreSQL, a go-sql-driver DSN
	// (user@tcp(host:3306)/db) for MySQL/MariaDB. Optional. Do not put a
	// password in it: workflow documents print it (with any password
	// replaced by ***).
	DSN string `yaml:"dsn,omitempty" json:"dsn,omitempty"`
	// Host is the machine the site's administrator runs the tools on.
	// Optional, descriptive.
	Host string `yaml:"host,omitempty" json:"host,omitempty"`
	// Admin is the site administrator's contact. Optional, descriptive.
	Admin string `yaml:"admin,omitempty" json:"admin,omitempty"`
	// Working marks the working (original) site: the one that holds the
	// production database today, activates the family and creates the
	// other replicas. Exactly one site is the working site.
	Working bool `yaml:"working,omitempty" json:"working,omitempty"`
	// Bay is the site's storage-bay directory: exports are written there
	// and imports read there. Empty means Transport.Bay.
	Bay string `yaml:"bay,omitempty" json:"bay,omitempty"`
	// URL is where the site's sync endpoint (multiutil serve) is reached
	// by the other sites (transport http), e.g.
	// "https://cq1.boston.example.com:8443". Empty: the site serves
	// nothing and exchanges packets by pushing and pulling.
	URL string `yaml:"url,omitempty" json:"url,omitempty"`
	// Listen is the address the site's `multiutil serve` listens on
	// (":8443"); empty means the port of URL on every interface.
	Listen string `yaml:"listen,omitempty" json:"listen,omitempty"`
	// TokenEnv names the environment variable that holds the site's
	// bearer token (transport http): the site presents it, and the sites
	// it talks to read the same variable to know it. Tokens never go into
	// the plan. Empty means MULTISITE_TOKEN_ and the replica name in
	// upper case, other characters than letters and digits as '_'.
	TokenEnv string `yaml:"token_env,omitempty" json:"token_env,omitempty"`
}

// TokenVar returns the name of the environment variable that holds the
// site's bearer token: TokenEnv, or the default derived from the replica
// name.
func (s Site) TokenVar() string {
	if s.TokenEnv != "" {
		return s.TokenEnv
	}
	b := []byte(strings.ToUpper(s.ReplicaName()))
	for i, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	return "MULTISITE_TOKEN_" + string(b)
}

// ReplicaName returns the site's replica name: Replica, or Name if Replica
// is empty.
func (s Site) ReplicaName() string {
	if s.Replica != "" {
		return s.Replica
	}
	return s.Name
}

// Sync is the synchronization pattern and schedule.
type Sync struct {
	// Pattern is the shape of the links. It may be empty only for a
	// family of one site.
	Pattern Pattern `yaml:"pattern" json:"pattern"`
	// Hub is the hub site of HubAndSpoke (site or replica name).
	Hub string `yaml:"hub,omitempty" json:"hub,omitempty"`
	// Order is the order of Ring: every site once.
	Order []string `yaml:"order,omitempty" json:"order,omitempty"`
	// Links are the links of Tree and Links, or interval overrides of
	// single hub–spoke links in HubAndSpoke.
	Links []Link `yaml:"links,omitempty" json:"links,omitempty"`
	// Every is the default interval between two packets on a link, as a Go
	// duration ("15m", "1h30m", "24h"). A link's own Every overrides it.
	Every string `yaml:"every,omitempty" json:"every,omitempty"`
}

// Link is a synchronization link between two sites, named by site or
// replica name.
type Link struct {
	From string `yaml:"from" json:"from"`
	To   string `yaml:"to" json:"to"`
	// Every overrides Sync.Every for this link.
	Every string `yaml:"every,omitempty" json:"every,omitempty"`
	// OneWay makes the link carry packets from From to To only (pattern
	// Links only); otherwise the two sites exchange packets both ways.
	OneWay bool `yaml:"oneway,omitempty" json:"oneway,omitempty"`
}

// Mastership is the mastership policy.
type Mastership struct {
	// Policy is the policy; empty means ByCreator.
	Policy Policy `yaml:"policy,omitempty" json:"policy,omitempty"`
	// Field is the column that names a record's owner (ByField).
	Field string `yaml:"field,omitempty" json:"field,omitempty"`
	// Users maps each user to the site (site or replica name) whose
	// replica masters the records that user owns (ByField).
	Users map[string]string `yaml:"users,omitempty" json:"users,omitempty"`
	// Tables maps a table to the site that masters all its rows (ByTable).
	Tables map[string]string `yaml:"tables,omitempty" json:"tables,omitempty"`
}

// Transport says how packet files travel between the sites' storage bays.
type Transport struct {
	// Kind is the transport; empty means Bay.
	Kind TransportKind `yaml:"kind,omitempty" json:"kind,omitempty"`
	// Bay is the storage-bay directory of every site that does not name
	// its own (Site.Bay), typically a shared directory.
	Bay string `yaml:"bay,omitempty" json:"bay,omitempty"`
	// Description says in words how packets travel (required for Custom).
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// CA is a PEM file of the certificate authorities that sign the
	// sites' TLS certificates (transport http over https), for a private
	// CA; empty means the system's roots.
	CA string `yaml:"ca,omitempty" json:"ca,omitempty"`
}

// Route is one resolved, directed synchronization link: the replica From
// exports a packet for the replica To every Every.
type Route struct {
	From  string // replica name
	To    string // replica name
	Every time.Duration
}

// Routes returns every directed link the plan's pattern makes, with each
// link's interval, in an order that follows the plan (the sites, the ring's
// order or the links as written). It returns a *ValidationError if the
// plan is invalid.
func (p *Plan) Routes() ([]Route, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	edges, _ := p.edges(nil)
	out := make([]Route, 0, len(edges))
	for _, e := range edges {
		out = append(out, Route{From: p.Sites[e.from].ReplicaName(), To: p.Sites[e.to].ReplicaName(), Every: e.every})
	}
	return out, nil
}

// WorkingSite returns the working (original) site. It returns false when
// no site or more than one is marked working.
func (p *Plan) WorkingSite() (Site, bool) {
	var w []Site
	for _, s := range p.Sites {
		if s.Working {
			w = append(w, s)
		}
	}
	if len(w) != 1 {
		return Site{}, false
	}
	return w[0], true
}

// Site returns the site whose name or replica name is name.
func (p *Plan) Site(name string) (Site, bool) {
	if i, ok := p.index(name); ok {
		return p.Sites[i], true
	}
	return Site{}, false
}

// index finds a site by name or replica name; the first match wins (a
// name that means two sites is a validation problem of its own).
func (p *Plan) index(name string) (int, bool) {
	for i, s := range p.Sites {
		if s.Name == name || s.ReplicaName() == name {
			return i, true
		}
	}
	return 0, false
}

// BayOf returns a site's storage bay: its own or the transport's default
// (empty if neither is set).
func (p *Plan) BayOf(s Site) string { return p.bayOf(s) }

// TransportKind returns the plan's transport kind, Bay if unset.
func (p *Plan) TransportKind() TransportKind { return p.transportKind() }

// bayOf returns a site's storage bay: its own or the transport's default.
func (p *Plan) bayOf(s Site) string {
	if s.Bay != "" {
		return s.Bay
	}
	return p.Transport.Bay
}

// policy returns the mastership policy with the zero value resolved.
func (p *Plan) policy() Policy {
	if p.Mastership.Policy == "" {
		return ByCreator
	}
	return p.Mastership.Policy
}

// transportKind returns the transport kind with the zero value resolved.
func (p *Plan) transportKind() TransportKind {
	if p.Transport.Kind == "" {
		return Bay
	}
	return p.Transport.Kind
}

// formatDuration writes d the way people write intervals: "15m", "1h30m",
// "24h", not "15m0s".
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
