package plan

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/multisite-go/multisite/codepage"
)

// ErrUnknownSite is returned, wrapped, by Workflow for a site the plan
// does not have.
var ErrUnknownSite = errors.New("plan: unknown site")

//go:embed workflow.md.tmpl
var workflowText string

var workflowTmpl = template.Must(template.New("workflow").Funcs(template.FuncMap{
	"mu":   multiutilCmd,
	"q":    strconv.Quote,
	"cell": cell,
	"list": func(s []string) string { return strings.Join(s, ", ") },
	"golist": func(s []string) string {
		var q []string
		for _, x := range s {
			q = append(q, strconv.Quote(x))
		}
		return "[]string{" + strings.Join(q, ", ") + "}"
	},
}).Parse(workflowText))

// Workflow writes the deployment workflow document of one site, in
// Markdown: the deployment steps in the order of ClearQuest MultiSite's
// procedure, said in this project's terms (plan, rehearse, deploy in
// production, tell the users, run the family), each filled with the
// plan's names and saying what to do at this site — the multiutil command
// and the library call — with the site's synchronization schedule, who
// masters what, the transport and the storage bays; a closing table says
// where each ClearQuest step went, or why it does not apply. site is a
// site or replica name.
//
// The plan is validated first; an invalid plan returns its
// *ValidationError and writes nothing, as does an unknown site
// (ErrUnknownSite). The output depends only on the plan, so it can be
// kept under version control next to it.
func (p *Plan) Workflow(w io.Writer, site string) error {
	if err := p.Validate(); err != nil {
		return err
	}
	i, ok := p.index(site)
	if !ok {
		var known []string
		for _, s := range p.Sites {
			known = append(known, s.ReplicaName())
		}
		return fmt.Errorf("%w %q; the plan's sites are %s", ErrUnknownSite, site, strings.Join(known, ", "))
	}
	v, err := p.view(i)
	if err != nil {
		return err
	}
	var b strings.Builder
	if err := workflowTmpl.Execute(&b, v); err != nil {
		return fmt.Errorf("plan: workflow: %w", err)
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// shellArg is an argument already written for the shell.
type shellArg string

var plainArg = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// quote writes s as one shell word.
func quote(s string) string {
	if plainArg.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// multiutilCmd writes a multiutil command line, quoting each argument.
func multiutilCmd(args ...any) string {
	out := []string{"multiutil"}
	for _, a := range args {
		switch a := a.(type) {
		case shellArg:
			out = append(out, string(a))
		case string:
			out = append(out, quote(a))
		default:
			out = append(out, quote(fmt.Sprint(a)))
		}
	}
	return strings.Join(out, " ")
}

// cell makes s safe inside a Markdown table cell.
func cell(s string) string {
	if s == "" {
		return "—"
	}
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// siteView is a site as the template shows it.
type siteView struct {
	Name, Replica string
	Vendor        Vendor
	Working       bool
	Host, Admin   string
	DB            string   // what the database is, for people
	DBArg         shellArg // multiutil's --db argument
	DBEnv         string   // environment variable holding the DSN, when the plan gives none
	DSNForm       string   // what goes into DBEnv
	Driver        string   // driver import path
	GoOpen        string   // arguments of sql.Open
	Bay           string
	BayArg        shellArg
	BayEnv        string // environment variable holding the bay, when the plan gives none
	Backup        string // the vendor's backup command
	Role          string
	URL           string // the site's sync endpoint (transport http)
	TokenVar      string // environment variable of the site's bearer token
	SyncCmd       string // multiutil sync, run continuously
	ServeCmd      string // multiutil serve, for a site with a URL
}

// group is the packets this site sends at one interval.
type group struct {
	Every string
	Cron  string // crontab schedule, "" if cron cannot express Every
	To    string // comma-separated replica names
	Peers []siteView
}

type userView struct{ User, Site string }

type tableView struct {
	Table string
	Site  siteView
}

type view struct {
	Family         string
	CodePage       string // canonical name
	CodePageGiven  string
	CodePageNumber int
	Site, Origin   siteView
	Sites, Others  []siteView // Others: every site but the working one
	Peers          []siteView // every site but this one
	IsWorking      bool
	PatternText    string
	Sends          []group
	Receives       []group // one per peer
	ImportEvery    string
	ImportCron     string
	Exclude        []string
	Policy         Policy
	PolicyText     string
	Field          string
	Users          []userView
	LocalUsers     []string
	Tables         []tableView
	MastersHere    []string
	Transport      TransportKind
	TransportText  string
	TransportDesc  string
}

func (p *Plan) view(self int) (*view, error) {
	cp, err := codepage.Lookup(p.CodePage)
	if err != nil {
		return nil, err // Validate already refused it
	}
	v := &view{
		Family: p.Family, CodePage: cp.Name(), CodePageGiven: p.CodePage, CodePageNumber: cp.Number(),
		Exclude: p.Exclude, Policy: p.policy(), Field: p.Mastership.Field,
		Transport: p.transportKind(), TransportDesc: strings.TrimSpace(p.Transport.Description),
	}
	for i, s := range p.Sites {
		sv := p.siteView(s)
		v.Sites = append(v.Sites, sv)
		if s.Working {
			v.Origin = sv
		} else {
			v.Others = append(v.Others, sv)
		}
		if i == self {
			v.Site = sv
		} else {
			v.Peers = append(v.Peers, sv)
		}
	}
	v.IsWorking = v.Site.Working
	byReplica := map[string]siteView{}
	for _, s := range v.Sites {
		byReplica[s.Replica] = s
	}

	edges, _ := p.edges(nil)
	var minIn time.Duration
	for _, e := range edges {
		from, to := p.Sites[e.from].ReplicaName(), p.Sites[e.to].ReplicaName()
		every := formatDuration(e.every)
		switch {
		case e.from == self:
			k := len(v.Sends) - 1
			for ; k >= 0 && v.Sends[k].Every != every; k-- {
			}
			if k < 0 {
				v.Sends = append(v.Sends, group{Every: every, Cron: cron(e.every)})
				k = len(v.Sends) - 1
			}
			g := &v.Sends[k]
			g.Peers = append(g.Peers, byReplica[to])
			if g.To != "" {
				g.To += ","
			}
			g.To += to
		case e.to == self:
			v.Receives = append(v.Receives, group{Every: every, To: from, Peers: []siteView{byReplica[from]}})
			if minIn == 0 || e.every < minIn {
				minIn = e.every
			}
		}
	}
	if minIn > 0 {
		v.ImportEvery, v.ImportCron = formatDuration(minIn), cron(minIn)
	}
	v.PatternText = p.patternText()

	switch v.Policy {
	case ByCreator:
		v.PolicyText = "the site that creates a record masters it"
	case ByField:
		v.PolicyText = fmt.Sprintf("a record is mastered at the site of the user in its field `%s`", p.Mastership.Field)
		for _, u := range sortedKeys(p.Mastership.Users) {
			s, _ := p.Site(p.Mastership.Users[u])
			v.Users = append(v.Users, userView{u, s.ReplicaName()})
			if s.ReplicaName() == v.Site.Replica {
				v.LocalUsers = append(v.LocalUsers, u)
			}
		}
	case ByTable:
		v.PolicyText = "every row of a listed table is mastered at that table's site; other tables follow the creator"
		for _, t := range sortedKeys(p.Mastership.Tables) {
			s, _ := p.Site(p.Mastership.Tables[t])
			v.Tables = append(v.Tables, tableView{t, byReplica[s.ReplicaName()]})
			if s.ReplicaName() == v.Site.Replica {
				v.MastersHere = append(v.MastersHere, t)
			}
		}
	}
	switch v.Transport {
	case Bay:
		v.TransportText = "storage-bay directories shared or mirrored between the sites"
	case Email:
		v.TransportText = "packet files mailed between the sites' storage bays"
	case FTP:
		v.TransportText = "packet files copied by FTP between the sites' storage bays"
	case Custom:
		v.TransportText = "the organisation's own transport"
	case HTTP:
		v.TransportText = "HTTP(S) between the sites' sync endpoints (multiutil serve)"
	}
	return v, nil
}

func (p *Plan) patternText() string {
	s := p.Sync
	switch s.Pattern {
	case HubAndSpoke:
		h, _ := p.Site(s.Hub)
		text := fmt.Sprintf("hub-and-spoke through `%s`, every %s", h.ReplicaName(), p.everyText())
		var own []string
		for _, l := range s.Links {
			spoke, _ := p.Site(l.To)
			if spoke.ReplicaName() == h.ReplicaName() {
				spoke, _ = p.Site(l.From)
			}
			d, _ := time.ParseDuration(strings.TrimSpace(l.Every))
			own = append(own, fmt.Sprintf("`%s` every %s", spoke.ReplicaName(), formatDuration(d)))
		}
		if len(own) > 0 {
			text += " (" + strings.Join(own, ", ") + ")"
		}
		return text
	case Ring:
		var names []string
		for _, n := range s.Order {
			x, _ := p.Site(n)
			names = append(names, x.ReplicaName())
		}
		names = append(names, names[0])
		return fmt.Sprintf("ring %s, every %s", strings.Join(names, " → "), p.everyText())
	case AllToAll:
		return fmt.Sprintf("all-to-all, every %s", p.everyText())
	case Tree:
		return fmt.Sprintf("tree of %d links (each both ways)", len(s.Links))
	case Links:
		return fmt.Sprintf("%d explicit links", len(s.Links))
	}
	return "none (a family of one site)"
}

func (p *Plan) everyText() string {
	d, err := time.ParseDuration(strings.TrimSpace(p.Sync.Every))
	if err != nil {
		return p.Sync.Every
	}
	return formatDuration(d)
}

var notAlnum = regexp.MustCompile(`[^A-Za-z0-9]+`)

// envName is the environment variable holding what of a replica
// ("DSN", "BAY") when the plan does not say it: BANGALORE_DSN.
func envName(replica, what string) string {
	return strings.ToUpper(notAlnum.ReplaceAllString(replica, "_")) + "_" + what
}

// redact replaces a password in a DSN by ***: workflow documents are
// published to users. It knows URLs (postgres://user:password@host/db) and
// go-sql-driver DSNs (user:password@tcp(host)/db).
func redact(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		// user:password@ sits in the authority, before the first '/'.
		rest := dsn[i+3:]
		auth := rest
		if j := strings.IndexAny(rest, "/?#"); j >= 0 {
			auth = rest[:j]
		}
		return hidePassword(dsn[:i+3], rest, strings.LastIndex(auth, "@"))
	}
	// go-sql-driver: the last '@' before the last '/'.
	slash := strings.LastIndex(dsn, "/")
	if slash < 0 {
		return dsn
	}
	return hidePassword("", dsn, strings.LastIndex(dsn[:slash], "@"))
}

// hidePassword replaces the password of the user:password before s[at].
func hidePassword(prefix, s string, at int) string {
	if at < 0 {
		return prefix + s
	}
	colon := strings.IndexByte(s[:at], ':')
	if colon < 0 {
		return prefix + s
	}
	return prefix + s[:colon] + ":***" + s[at:]
}

func (p *Plan) siteView(s Site) (v siteView) {
	r := s.ReplicaName()
	v = siteView{Name: s.Name, Replica: r, Vendor: s.Vendor, Working: s.Working, Host: s.Host, Admin: s.Admin, Bay: p.bayOf(s),
		URL: s.URL, TokenVar: s.TokenVar()}
	defer func() {
		// The commands that run the family from the plan: --db only where
		// the plan does not say where the database is.
		args := []any{"--plan", "PLAN", "--site", r}
		if s.DSN == "" {
			args = append(args, "--db", v.DBArg)
		}
		if v.BayEnv != "" && p.transportKind() != HTTP {
			args = append(args, "--bay", v.BayArg)
		}
		v.SyncCmd = multiutilCmd(append(append([]any{"sync"}, args...), "--every", "plan")...)
		if s.URL != "" {
			tls := []any{}
			if strings.HasPrefix(s.URL, "https:") {
				tls = []any{"--cert", "CERT.pem", "--key", "KEY.pem"}
			}
			v.ServeCmd = multiutilCmd(append(append([]any{"serve"}, args...), tls...)...)
		}
	}()
	dsn := s.DSN
	if s.Vendor != SQLite {
		dsn = redact(dsn)
	}
	switch s.Vendor {
	case SQLite:
		if dsn == "" {
			dsn = r + ".db"
		}
		v.DB, v.DBArg, v.Driver = dsn, shellArg(quote(dsn)), "modernc.org/sqlite"
		v.GoOpen = strconv.Quote("sqlite") + ", " + strconv.Quote("file:"+dsn+"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)")
		v.Backup = fmt.Sprintf("sqlite3 %s \"VACUUM INTO '%s'\"", quote(dsn), strings.TrimSuffix(dsn, ".db")+"-backup.db")
	case Postgres:
		v.Driver = "github.com/jackc/pgx/v5/stdlib"
		if dsn == "" {
			v.DBEnv, v.DSNForm = envName(r, "DSN"), "postgres://user@host:5432/dbname"
			v.DB, v.DBArg = "$"+v.DBEnv, shellArg(`"$`+v.DBEnv+`"`)
			v.GoOpen = fmt.Sprintf("%q, os.Getenv(%q)", "pgx", v.DBEnv)
			v.Backup = fmt.Sprintf(`pg_dump --format=custom --file=%s-backup.dump "$%s"`, r, v.DBEnv)
		} else {
			v.DB, v.DBArg = dsn, shellArg(quote(dsn))
			v.GoOpen = strconv.Quote("pgx") + ", " + strconv.Quote(dsn)
			v.Backup = fmt.Sprintf("pg_dump --format=custom --file=%s-backup.dump %s", r, quote(dsn))
		}
	case MySQL:
		v.Driver = "github.com/go-sql-driver/mysql"
		if dsn == "" {
			v.DBEnv, v.DSNForm = envName(r, "DSN"), "mysql://user@tcp(host:3306)/dbname"
			v.DB, v.DBArg = "$"+v.DBEnv, shellArg(`"$`+v.DBEnv+`"`)
			v.GoOpen = fmt.Sprintf("%q, strings.TrimPrefix(os.Getenv(%q), %q)", "mysql", v.DBEnv, "mysql://")
			v.Backup = fmt.Sprintf("mysqldump --single-transaction --routines --triggers DBNAME > %s-backup.sql   # DBNAME: the database of $%s", r, v.DBEnv)
		} else {
			v.DB, v.DBArg = "mysql://"+dsn, shellArg(quote("mysql://"+dsn))
			v.GoOpen = strconv.Quote("mysql") + ", " + strconv.Quote(dsn)
			v.Backup = fmt.Sprintf("mysqldump --single-transaction --routines --triggers %s > %s-backup.sql", quote(mysqlDBName(dsn)), r)
		}
	}
	if v.Bay == "" {
		v.BayEnv = envName(r, "BAY")
		v.BayArg = shellArg(`"$` + v.BayEnv + `"`)
	} else {
		v.BayArg = shellArg(quote(v.Bay))
	}
	v.Role = "new site"
	if s.Working {
		v.Role = "working site (original)"
	}
	return v
}

// mysqlDBName is the database name of a go-sql-driver DSN.
func mysqlDBName(dsn string) string {
	s := dsn[strings.LastIndex(dsn, "/")+1:]
	if i := strings.IndexByte(s, '?'); i >= 0 {
		s = s[:i]
	}
	return s
}

// cron returns a crontab schedule for d, or "" if cron cannot express it.
func cron(d time.Duration) string {
	if d <= 0 || d%time.Minute != 0 {
		return ""
	}
	m := int(d / time.Minute)
	switch {
	case m == 1:
		return "* * * * *"
	case m < 60 && 60%m == 0:
		return fmt.Sprintf("*/%d * * * *", m)
	case m == 60:
		return "0 * * * *"
	case m%60 == 0 && m < 24*60 && (24*60)%m == 0:
		return fmt.Sprintf("0 */%d * * *", m/60)
	case m == 24*60:
		return "0 0 * * *"
	}
	return ""
}
