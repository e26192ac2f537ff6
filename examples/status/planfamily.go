package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/examples/internal/plan"
)

// OpenPlan opens the database of every site of a deployment plan, on
// whatever vendor each runs (SQLite file, postgres:// URL, go-sql-driver
// DSN for MySQL/MariaDB), with the site's storage bay. A site whose
// database has no DSN in the plan, cannot be reached, or is not a replica
// of the family yet is not an error: the page lists it under Problems and
// shows what the other members know of it. It fails only if no site can be
// read at all.
func OpenPlan(ctx context.Context, p *plan.Plan) (*Family, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	f := &Family{now: time.Now}
	var family, first string
	for _, s := range p.Sites {
		driver, source := planSource(s)
		if source == "" {
			f.problems = append(f.problems, fmt.Sprintf("site %s: the plan gives no dsn for its database", s.Name))
			continue
		}
		if driver == "sqlite" {
			// Opening a missing file would create it.
			if _, err := os.Stat(s.DSN); err != nil {
				f.problems = append(f.problems, fmt.Sprintf("site %s: %v", s.Name, err))
				continue
			}
		}
		db, err := sql.Open(driver, source)
		if err == nil {
			err = db.PingContext(ctx)
		}
		var st *multisite.Status
		if err == nil {
			st, err = multisite.ReadStatus(ctx, db)
		}
		if err == nil && family != "" && st.Family != family {
			err = fmt.Errorf("it is in family %s, but %s is in family %s", st.Family, first, family)
		}
		if err != nil {
			if db != nil {
				db.Close()
			}
			f.problems = append(f.problems, fmt.Sprintf("site %s (%s): %v", s.Name, redactDSN(s.DSN), err))
			continue
		}
		if family == "" {
			family, first = st.Family, s.Name
		}
		f.Sites = append(f.Sites, &Site{Name: s.ReplicaName(), Path: redactDSN(s.DSN), DB: db, ID: st.Local.ID, Bay: p.BayOf(s)})
	}
	if len(f.Sites) == 0 {
		return nil, fmt.Errorf("status: no site of the plan could be read: %s", strings.Join(f.problems, "; "))
	}
	return f, nil
}

// planSource is the driver and data source of a site's database.
func planSource(s plan.Site) (driver, source string) {
	switch s.Vendor {
	case plan.Postgres:
		return "pgx", s.DSN
	case plan.MySQL:
		return "mysql", strings.TrimPrefix(s.DSN, "mysql://")
	}
	if s.DSN == "" {
		return "sqlite", ""
	}
	return "sqlite", dsn(s.DSN)
}

// redactDSN hides a password in a server DSN: user:***@host.
func redactDSN(s string) string {
	at := strings.LastIndex(s, "@")
	if at < 0 {
		return s
	}
	head := s[:at]
	start := strings.Index(head, "://") + 3
	if start < 3 {
		start = 0
	}
	if c := strings.Index(head[start:], ":"); c >= 0 {
		return head[:start+c] + ":***" + s[at:]
	}
	return s
}
