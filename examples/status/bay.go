package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/syncpkt"
)

// The states of a packet file in a storage bay, as multiutil syncreplica
// and the transport leave them.
const (
	bayWaiting  = "waiting"       // NAME.pkt: complete, not imported yet
	bayWriting  = "being written" // NAME.pkt.tmp: an export or a transfer still writing it
	bayImported = "imported"      // done/NAME.pkt: an import took it
	bayRefused  = "refused"       // failed/NAME.pkt: an import refused it
)

// BayFile is one packet file found in a storage bay.
type BayFile struct {
	Bay      string
	File     string // path below the bay
	State    string // bayWaiting, bayWriting, bayImported or bayRefused
	Modified time.Time
	Bytes    int64
	// From the packet's header (unsigned: the import checks the
	// signature); zero if the header could not be read (HeaderErr).
	Kind         string
	Origin       replica.ID
	Target       replica.ID
	Created      time.Time
	Upto         map[string]uint64
	HeaderErr    string
	Inbound      bool // addressed to a site open here
	Outbound     bool // sent by a site open here
	AlreadyThere bool // the target, open here, already holds every epoch the packet brings
}

// maxDone bounds the done/ and failed/ files read per bay: the newest only.
const maxDone = 20

// scanBay lists the packet files of one bay: every waiting and partial
// one, and the newest maxDone of done/ and failed/ each.
func scanBay(bay string) ([]BayFile, error) {
	fi, err := os.Stat(bay)
	if err != nil {
		return nil, fmt.Errorf("storage bay %s: %w", bay, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("storage bay %s is not a directory", bay)
	}
	var out []BayFile
	for _, g := range []struct {
		pattern, state string
		newest         int
	}{
		{"*.pkt", bayWaiting, 0},
		{"*.pkt.tmp", bayWriting, 0},
		{filepath.Join("done", "*.pkt"), bayImported, maxDone},
		{filepath.Join("failed", "*.pkt"), bayRefused, maxDone},
	} {
		paths, err := filepath.Glob(filepath.Join(bay, g.pattern))
		if err != nil {
			return nil, err
		}
		var files []BayFile
		for _, p := range paths {
			fi, err := os.Stat(p)
			if err != nil || !fi.Mode().IsRegular() {
				continue // gone meanwhile (imported, renamed)
			}
			rel, _ := filepath.Rel(bay, p)
			files = append(files, BayFile{Bay: bay, File: rel, State: g.state, Modified: fi.ModTime(), Bytes: fi.Size()})
		}
		sort.Slice(files, func(a, b int) bool { return files[a].Modified.After(files[b].Modified) })
		if g.newest > 0 && len(files) > g.newest {
			files = files[:g.newest]
		}
		for i := range files {
			readHeader(&files[i])
		}
		out = append(out, files...)
	}
	return out, nil
}

// readHeader fills in what the packet's header says. A file being written
// may have no complete header yet; that is no error for it.
func readHeader(b *BayFile) {
	f, err := os.Open(filepath.Join(b.Bay, b.File))
	if err != nil {
		b.HeaderErr = err.Error()
		return
	}
	defer f.Close()
	h, err := syncpkt.NewReader(f, syncpkt.ReaderOptions{}).Header()
	if err != nil {
		if b.State != bayWriting {
			b.HeaderErr = err.Error()
		}
		return
	}
	b.Kind, b.Origin, b.Target, b.Created, b.Upto = h.Kind.String(), replica.ID(h.Origin), replica.ID(h.Target), h.Created, h.Upto
}
