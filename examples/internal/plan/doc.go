// Package plan describes the deployment of a replica family and writes each
// site's deployment workflow document from it: what ClearQuest MultiSite
// administrators wrote by hand before deploying.
//
// A [Plan] names the family, its sites (replica name, database vendor,
// DSN, host, administrator, storage bay, and which one is the working
// site that holds the production database today), the data code page, the
// synchronization pattern and schedule, the mastership policy and the
// transport. It is written in YAML or JSON:
//
//	family: defects
//	codepage: windows-1252
//	sites:
//	  - {name: boston, vendor: sqlite, dsn: boston.db, working: true}
//	  - {name: bangalore, vendor: mysql, dsn: "cq@tcp(db.blr:3306)/defects"}
//	  - {name: dublin, vendor: postgres}
//	sync: {pattern: hub-and-spoke, hub: boston, every: 15m}
//	mastership: {policy: creator}
//	transport: {kind: bay, bay: /mnt/multisite/bay}
//
// # Usage
//
//	p, err := plan.LoadFile("family.yaml")  // form: unknown fields are errors
//	if err != nil { ... }
//	if err := p.Validate(); err != nil {     // content: every mistake at once
//		var ve *plan.ValidationError
//		errors.As(err, &ve)                  // ve.Problems: path and message each
//	}
//	err = p.Workflow(os.Stdout, "bangalore") // Markdown, the seed's steps in order
//
// The multiutil example program does the same from the command line:
// "multiutil plan validate FILE" and "multiutil plan workflow FILE -site NAME".
//
// # Synchronization patterns
//
// A packet carries every change its target lacks, whoever made it, so a
// change travels on from site to site; a pattern only has to let every
// site's changes reach every other site. Validate checks exactly that
// (every site reaches the working site and the working site reaches every
// site, along the directed links), so a family split in two is refused.
//
//   - hub-and-spoke: every site exchanges packets both ways with the hub
//     only. A link between two spokes closes a cycle (spoke, hub, spoke)
//     and is refused; links touching the hub may set their own interval.
//   - ring: each site sends to the next in sync.order, the last to the
//     first. Every site appears once.
//   - all-to-all: every pair exchanges packets both ways.
//   - tree: sync.links, each both ways, join the sites with exactly one
//     path between any two. A link between two sites the earlier links
//     already join closes a cycle and is refused, naming the cycle.
//   - links: sync.links as written, two-way unless oneway: true, any shape
//     (redundant paths allowed) as long as every site reaches every other.
//
// Intervals are Go durations ("15m", "1h30m", "24h"): sync.every for
// every link, a link's own every for that link.
//
// # Mastership policies
//
//   - creator (the default): the site that creates a record masters it.
//   - field: the record's owner field (mastership.field) names a user, and
//     mastership.users maps each user to the site that masters that user's
//     records.
//   - table: mastership.tables maps a table to the one site that masters
//     all its rows.
//
// # The workflow document
//
// [Plan.Workflow] writes, for one site, the steps of the MultiSite
// deployment procedure (plan; test; replicate the production database;
// inform users; run) in order, each saying what to do at that site —
// the working site activates and replicates, a new site receives its
// creation packet, syncs one way, then both ways — with the exact
// multiutil command and library call, the site's schedule as crontab
// lines, who masters what, and the transport and storage bays. A password
// in a DSN is printed as ***: the document is meant to be published.
package plan
