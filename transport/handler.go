package transport

import (
	"context"
	"crypto/ed25519"
	"crypto/subtle"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/mastership"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/syncpkt"
)

// DefaultMaxPacketSize is the largest packet a [Handler] accepts when
// [HandlerOptions.MaxPacketSize] is zero: 256 MiB, far above an ordinary
// sync packet and far below what would fill a disk.
const DefaultMaxPacketSize = 256 << 20

// DefaultMaxConcurrent is how many requests a [Handler] works on at once
// when [HandlerOptions.MaxConcurrent] is zero.
const DefaultMaxConcurrent = 4

// HandlerOptions configures a [Handler]. Tokens is required; the zero value
// of every other field does the ordinary thing.
type HandlerOptions struct {
	// Tokens maps each peer replica, by name or ID, to the bearer token it
	// presents. A request without one of these tokens is refused (401).
	Tokens map[string]string

	// Bay, if set, is the inbound storage bay: a verified pushed packet
	// is stored there as NAME.pkt (written as a temp file and renamed,
	// so an importer scanning for *.pkt never sees half a packet), to be
	// imported later (multiutil syncreplica -import). Empty means a pushed
	// packet is imported at once.
	Bay string

	// TempDir is where pushed packets are spooled before they are checked
	// and where exports are written before they are sent. Empty means Bay
	// for pushes (so the final rename stays on one file system) and
	// os.TempDir() otherwise.
	TempDir string

	// MaxPacketSize is the largest packet, in bytes, the handler accepts
	// (413 beyond). 0 means [DefaultMaxPacketSize]; negative is an error.
	MaxPacketSize int64

	// MaxConcurrent is how many requests are worked on at once; more get
	// 503 with Retry-After. Database work is one request at a time
	// whatever this is. 0 means [DefaultMaxConcurrent].
	MaxConcurrent int

	// Export is the template of the options every pull's export runs
	// with: the dialect, the mastership policy, hooks, the logger.
	Export multisite.ExportOptions

	// Import is the template of the options every immediate import runs
	// with. Its MaxPacketSize is replaced by the handler's limit.
	Import multisite.ImportOptions

	// Logger, if set, is told about every request the handler refuses or
	// serves. Nil means silent.
	Logger *slog.Logger
}

// Handler is an http.Handler that serves one replica's packets: it accepts
// pushed packets addressed to the replica and exports packets for peers
// that pull. See the package documentation for the endpoints and the
// threat model. A Handler is safe for concurrent use.
type Handler struct {
	db     *sql.DB
	opt    HandlerOptions
	max    int64
	tokens []peerToken
	slots  chan struct{}
	dbMu   sync.Mutex // one import or export at a time
}

type peerToken struct {
	peer  string // replica name or ID
	token []byte
}

var _ http.Handler = (*Handler)(nil)

// NewHandler returns a Handler serving db's replica. It checks opt: at
// least one token, no empty token or peer, no token shared by two peers,
// a bay that is an existing directory, a size limit that is not negative.
// Errors wrap [ErrOptions].
func NewHandler(db *sql.DB, opt HandlerOptions) (*Handler, error) {
	if db == nil {
		return nil, fmt.Errorf("%w: nil database", ErrOptions)
	}
	if len(opt.Tokens) == 0 {
		return nil, fmt.Errorf("%w: Tokens is empty: every peer needs a token", ErrOptions)
	}
	h := &Handler{db: db, opt: opt, max: opt.MaxPacketSize}
	seen := map[string]string{}
	for peer, tok := range opt.Tokens {
		if peer == "" || tok == "" {
			return nil, fmt.Errorf("%w: Tokens has an empty peer or token", ErrOptions)
		}
		if other, dup := seen[tok]; dup {
			return nil, fmt.Errorf("%w: peers %s and %s share a token", ErrOptions, other, peer)
		}
		seen[tok] = peer
		h.tokens = append(h.tokens, peerToken{peer: peer, token: []byte(tok)})
	}
	switch {
	case h.max < 0:
		return nil, fmt.Errorf("%w: MaxPacketSize %d is negative", ErrOptions, h.max)
	case h.max == 0:
		h.max = DefaultMaxPacketSize
	}
	for _, dir := range []struct{ field, path string }{{"Bay", opt.Bay}, {"TempDir", opt.TempDir}} {
		if dir.path == "" {
			continue
		}
		if fi, err := os.Stat(dir.path); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("%w: %s %s is not a directory", ErrOptions, dir.field, dir.path)
		}
	}
	n := opt.MaxConcurrent
	if n <= 0 {
		n = DefaultMaxConcurrent
	}
	h.slots = make(chan struct{}, n)
	return h, nil
}

// ServeHTTP answers POST /packets (push) and GET /packets (pull).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.TrimSuffix(r.URL.Path, "/") != "/packets" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET, POST")
		h.refuse(w, r, http.StatusMethodNotAllowed, "use POST to push a packet, GET to pull one")
		return
	}
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	default:
		w.Header().Set("Retry-After", "5")
		h.refuse(w, r, http.StatusServiceUnavailable, "busy; try again shortly")
		return
	}
	peer, st, code, err := h.authenticate(r)
	if err != nil {
		if code == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="multisite"`)
		}
		h.refuse(w, r, code, err.Error())
		return
	}
	if r.Method == http.MethodPost {
		h.push(w, r, peer, st)
		return
	}
	h.pull(w, r, peer, st)
}

// authenticate finds the peer the bearer token belongs to in the local
// registry.
func (h *Handler) authenticate(r *http.Request) (replica.Info, *multisite.Status, int, error) {
	auth := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return replica.Info{}, nil, http.StatusUnauthorized, errors.New("a bearer token is required")
	}
	var name string
	for _, pt := range h.tokens { // no early exit: constant time over the list
		if subtle.ConstantTimeCompare(pt.token, []byte(tok)) == 1 {
			name = pt.peer
		}
	}
	if name == "" {
		return replica.Info{}, nil, http.StatusUnauthorized, errors.New("unknown token")
	}
	st, err := multisite.ReadStatus(r.Context(), h.db)
	if err != nil {
		h.log(r, "read status", "err", err)
		return replica.Info{}, nil, http.StatusInternalServerError, errors.New("the replica's status cannot be read")
	}
	for _, i := range st.Replicas {
		if i.Name == name || string(i.ID) == name {
			if i.ID == st.Local.ID {
				return replica.Info{}, nil, http.StatusForbidden, fmt.Errorf("the token is the local replica's (%s)", i.Name)
			}
			return i, st, 0, nil
		}
	}
	return replica.Info{}, nil, http.StatusConflict, fmt.Errorf("replica %s is not known here yet; it arrives with a packet from a replica that knows it", name)
}

// PushResult is the answer to a push.
type PushResult struct {
	// Status is "stored" (kept in the inbound bay), "imported" or
	// "duplicate" (imported, nothing new).
	Status   string `json:"status"`
	Origin   string `json:"origin"`    // the origin replica's name
	OriginID string `json:"origin_id"` // the origin replica's ID
	Target   string `json:"target"`    // the receiving replica's name
	File     string `json:"file,omitempty"`
	Bytes    int64  `json:"bytes"`
	// Tables, Transfers and Conflicts say what an immediate import did.
	Tables    map[string]TableCounts `json:"tables,omitempty"`
	Transfers int                    `json:"transfers,omitempty"`
	Conflicts int                    `json:"conflicts,omitempty"`
}

// TableCounts is what an immediate import did to one table.
type TableCounts struct {
	Inserted  int `json:"inserted"`
	Updated   int `json:"updated"`
	Deleted   int `json:"deleted"`
	Unchanged int `json:"unchanged"`
}

func (h *Handler) push(w http.ResponseWriter, r *http.Request, peer replica.Info, st *multisite.Status) {
	if r.ContentLength > h.max {
		h.refuse(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("packet of %d bytes; the limit is %d", r.ContentLength, h.max))
		return
	}
	dir := h.opt.TempDir
	if dir == "" {
		dir = h.opt.Bay
	}
	tmp, n, err := spool(dir, http.MaxBytesReader(w, r.Body, h.max))
	if tmp != "" {
		defer os.Remove(tmp) // a no-op once renamed
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		h.refuse(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("packet larger than the limit of %d bytes", h.max))
		return
	case err != nil:
		h.log(r, "spool", "err", err)
		h.refuse(w, r, http.StatusInternalServerError, "the packet could not be received")
		return
	}
	res := PushResult{Origin: peer.Name, OriginID: string(peer.ID), Target: st.Local.Name, Bytes: n}
	if err := h.verify(r.Context(), tmp, peer, st); err != nil {
		h.refuseErr(w, r, err)
		return
	}
	if h.opt.Bay != "" {
		name, err := store(tmp, h.opt.Bay, peer, st.Local)
		if err != nil {
			h.log(r, "store", "err", err)
			h.refuse(w, r, http.StatusInternalServerError, "the packet could not be stored")
			return
		}
		res.Status, res.File = "stored", name
		h.log(r, "stored packet", "origin", peer.Name, "file", name, "bytes", n)
		writeJSON(w, http.StatusCreated, res)
		return
	}
	rep, err := h.importFile(r.Context(), tmp)
	if err != nil {
		h.refuseErr(w, r, err)
		return
	}
	res.Status = "imported"
	if rep.Duplicate {
		res.Status = "duplicate"
	}
	res.Tables = map[string]TableCounts{}
	for t, c := range rep.Tables {
		res.Tables[t] = TableCounts{c.Inserted, c.Updated, c.Deleted, c.Unchanged}
	}
	res.Transfers, res.Conflicts = rep.Transfers, len(rep.Conflicts)
	h.log(r, "imported packet", "origin", peer.Name, "bytes", n, "duplicate", rep.Duplicate)
	writeJSON(w, http.StatusOK, res)
}

func (h *Handler) importFile(ctx context.Context, path string) (*multisite.ImportReport, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	opt := h.opt.Import
	opt.MaxPacketSize = h.max
	h.dbMu.Lock()
	defer h.dbMu.Unlock()
	return multisite.ImportPacket(ctx, h.db, f, opt)
}

// spool copies body into a new temp file in dir, synced to disk.
func spool(dir string, body io.Reader) (string, int64, error) {
	f, err := os.CreateTemp(dir, ".incoming-*.tmp")
	if err != nil {
		return "", 0, err
	}
	n, err := io.Copy(f, body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return f.Name(), n, err
}

// verify reads the spooled packet through and checks it as an import
// would before applying anything: a sync packet of this family, for this
// replica, from the peer that sent it, signed by the key the local
// registry has for it, with a good checksum.
func (h *Handler) verify(ctx context.Context, path string, peer replica.Info, st *multisite.Status) error {
	if len(peer.PublicKey) == 0 {
		// Invited, not enrolled yet: its first packet enrols its key,
		// which ImportPacket checks, with the signature, before it
		// applies anything.
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	key := func(hd *syncpkt.Header) (ed25519.PublicKey, error) {
		if hd.Origin != string(peer.ID) {
			return nil, &originError{peer: peer, origin: hd.Origin}
		}
		return peer.PublicKey, nil
	}
	pr := syncpkt.NewReader(f, syncpkt.ReaderOptions{PublicKey: key, MaxPacket: h.max, MaxFrame: rowLimit(h.opt.Import.MaxRowSize),
		MaxRecords: h.opt.Import.MaxRecords, MaxMeta: h.opt.Import.MaxMeta})
	hd, err := pr.Header()
	if err != nil {
		return err
	}
	switch {
	case hd.Kind != syncpkt.KindSync:
		return fmt.Errorf("%w: a %s packet", multisite.ErrKind, hd.Kind)
	case hd.Family != st.Family:
		return fmt.Errorf("%w: family %s, not %s", multisite.ErrFamily, hd.Family, st.Family)
	case hd.Target != string(st.Local.ID):
		return fmt.Errorf("%w: for %s, not %s", multisite.ErrTarget, nameOf(st, hd.Target), st.Local.Name)
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := pr.Next(); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}

// originError: the packet was signed (or claims to be) by another replica
// than the one whose token sent it.
type originError struct {
	peer   replica.Info
	origin string
}

func (e *originError) Error() string {
	return fmt.Sprintf("transport: %s sent a packet whose origin is %s", e.peer.Name, e.origin)
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// fileName is a replica's name made safe for a file name.
func fileName(i replica.Info) string {
	if s := unsafeName.ReplaceAllString(i.Name, "_"); s != "" && s != "." && s != ".." {
		return s
	}
	return string(i.ID)
}

// store renames the verified temp file into the bay as
// ORIGIN-TARGET-NANOS.pkt and syncs the directory, so the packet is
// either there whole or not at all.
func store(tmp, bay string, from, to replica.Info) (string, error) {
	for range 100 {
		name := fmt.Sprintf("%s-%s-%d.pkt", fileName(from), fileName(to), time.Now().UnixNano())
		dst := filepath.Join(bay, name)
		if _, err := os.Lstat(dst); err == nil {
			continue
		}
		if filepath.Dir(tmp) != filepath.Clean(bay) {
			// Another file system, perhaps: copy into the bay first.
			t2, _, err := copyInto(bay, tmp)
			if err != nil {
				return "", err
			}
			defer os.Remove(t2)
			tmp = t2
		}
		if err := os.Rename(tmp, dst); err != nil {
			return "", err
		}
		if d, err := os.Open(bay); err == nil {
			d.Sync()
			d.Close()
		}
		return name, nil
	}
	return "", errors.New("transport: no free file name in the bay")
}

func copyInto(dir, path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	return spool(dir, f)
}

func (h *Handler) pull(w http.ResponseWriter, r *http.Request, peer replica.Info, st *multisite.Status) {
	f, err := os.CreateTemp(h.opt.TempDir, ".export-*.tmp")
	if err != nil {
		h.log(r, "temp file", "err", err)
		h.refuse(w, r, http.StatusInternalServerError, "the packet could not be written")
		return
	}
	defer os.Remove(f.Name())
	defer f.Close()
	opt := h.opt.Export
	opt.Progress = nil
	h.dbMu.Lock()
	stats, err := multisite.ExportPacket(r.Context(), h.db, peer.ID, f, opt)
	h.dbMu.Unlock()
	if err != nil {
		h.refuseErr(w, r, err)
		return
	}
	size, err := f.Seek(0, io.SeekCurrent)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		h.log(r, "rewind export", "err", err)
		h.refuse(w, r, http.StatusInternalServerError, "the packet could not be read back")
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/octet-stream")
	hd.Set("Content-Length", strconv.FormatInt(size, 10))
	hd.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s.pkt"`, fileName(st.Local), fileName(peer)))
	w.WriteHeader(http.StatusOK)
	n, err := io.Copy(w, f)
	h.log(r, "served packet", "target", peer.Name, "bytes", n, "rows", stats.Rows, "err", err)
}

// statusOf maps an error about a packet to an HTTP status code.
func statusOf(err error) int {
	var oe *originError
	switch {
	case errors.As(err, &oe):
		return http.StatusForbidden
	case errors.Is(err, syncpkt.ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, replica.ErrUnknown), errors.Is(err, replica.ErrGap), errors.Is(err, multisite.ErrSchemaVersion):
		return http.StatusConflict
	case errors.Is(err, syncpkt.ErrFormat), errors.Is(err, syncpkt.ErrMagic), errors.Is(err, syncpkt.ErrVersion),
		errors.Is(err, syncpkt.ErrTruncated), errors.Is(err, syncpkt.ErrChecksum), errors.Is(err, syncpkt.ErrSignature),
		errors.Is(err, multisite.ErrFamily), errors.Is(err, multisite.ErrTarget), errors.Is(err, multisite.ErrKind),
		errors.Is(err, multisite.ErrCodePage), errors.Is(err, multisite.ErrPacket), errors.Is(err, multisite.ErrCharset),
		errors.Is(err, multisite.ErrKeyRange), errors.Is(err, mastership.ErrNotMaster),
		errors.Is(err, replica.ErrRemoved), errors.Is(err, multisite.ErrState):
		return http.StatusUnprocessableEntity
	}
	return http.StatusInternalServerError
}

func (h *Handler) refuseErr(w http.ResponseWriter, r *http.Request, err error) {
	code := statusOf(err)
	msg := err.Error()
	if code == http.StatusInternalServerError {
		h.log(r, "internal error", "err", err)
		msg = "internal error; see the server's log"
	}
	h.refuse(w, r, code, msg)
}

func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, code int, msg string) {
	h.log(r, "refused", "status", code, "reason", msg)
	http.Error(w, msg, code)
}

func (h *Handler) log(r *http.Request, msg string, args ...any) {
	if h.opt.Logger != nil {
		h.opt.Logger.InfoContext(r.Context(), "transport: "+msg, append([]any{"method", r.Method, "remote", r.RemoteAddr}, args...)...)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// nameOf names a replica ID by the registry, or returns the ID.
func nameOf(st *multisite.Status, id string) string {
	for _, i := range st.Replicas {
		if string(i.ID) == id {
			return i.Name
		}
	}
	return id
}

// rowLimit is ImportPacket's rule for ImportOptions.MaxRowSize: 0 or less
// means multisite.DefaultMaxRowSize.
func rowLimit(n int64) int64 {
	if n <= 0 {
		return multisite.DefaultMaxRowSize
	}
	return n
}
