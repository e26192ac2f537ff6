package dialect

import "strings"

// The metadata tables of mastership requests (ms_request) and unique-key
// collisions (ms_collision). They came after the first metadata format, so
// their DDL says IF NOT EXISTS: the same statements create them at
// activation and creation and add them, later, to a replica activated
// before them ([LateMeta]).
//
// They are written in SQLite's form and translated for the servers like
// the rest of Meta. A column declared with lower-case "text" is left alone
// by that translation (which maps upper-case TEXT to VARCHAR(255) on
// MySQL): it holds free text or JSON of unbounded length, and "text" is a
// type name all three dialects know.
//
// ms_request holds every mastership request this replica knows of, its own
// and others' (requests replicate like rows): the row asked for (tbl,
// row_key as a JSON array of portable key values), the replica asking
// (requester), the replica asked (master), the state (pending, forwarded,
// granted, denied, failed), the requester's reason and the answer. version
// increases with every change; ms_origin is the replica that made the
// current version and ms_epoch the epoch of ms_origin that carries it
// (NULL until sealed), which is how a request reaches every member.
//
// ms_collision records every unique-key collision this replica settled:
// which record kept the value, which was renamed and to what, and whether
// the rename is the renamed row's master's own change (renamed), made here
// on import while waiting for it (provisional), undone because the
// collision went away first (withdrawn), or settled by an administrator
// (resolved).
func requestMeta() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS ms_request (
	id TEXT PRIMARY KEY,
	tbl TEXT NOT NULL,
	row_key text NOT NULL,
	requester TEXT NOT NULL,
	master TEXT NOT NULL,
	state TEXT NOT NULL,
	reason text NOT NULL,
	answer text NOT NULL,
	hops INTEGER NOT NULL,
	created TEXT NOT NULL,
	updated TEXT NOT NULL,
	version INTEGER NOT NULL,
	ms_origin TEXT NOT NULL,
	ms_epoch INTEGER
)`,
		`CREATE TABLE IF NOT EXISTS ms_collision (
	id TEXT PRIMARY KEY,
	tbl TEXT NOT NULL,
	cols text NOT NULL,
	value text NOT NULL,
	row_key text NOT NULL,
	kept_key text NOT NULL,
	col TEXT NOT NULL,
	original text NOT NULL,
	renamed text NOT NULL,
	winner TEXT NOT NULL,
	loser TEXT NOT NULL,
	state TEXT NOT NULL,
	version INTEGER NOT NULL,
	detected TEXT NOT NULL,
	updated TEXT NOT NULL
)`,
	}
}

// dropRequestMeta removes ms_request and ms_collision.
func dropRequestMeta() []string {
	return []string{"DROP TABLE IF EXISTS ms_collision", "DROP TABLE IF EXISTS ms_request"}
}

// LateMetaTables are the metadata tables [LateMeta] creates.
var LateMetaTables = []string{"ms_request", "ms_collision"}

// LateMeta returns d's DDL of the metadata tables added after the first
// metadata format (ms_request, ms_collision), as CREATE TABLE IF NOT
// EXISTS: run outside a transaction, it upgrades a replica activated
// before them and does nothing to one that has them.
func LateMeta(d Dialect) []string {
	var out []string
	for _, s := range d.Meta() {
		for _, t := range LateMetaTables {
			if strings.HasPrefix(s, "CREATE TABLE IF NOT EXISTS "+t+" (") {
				out = append(out, s)
			}
		}
	}
	return out
}
