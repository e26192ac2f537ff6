package engine

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/multisite-go/multisite/hooks"
	"github.com/multisite-go/multisite/internal/dialect"
	"github.com/multisite-go/multisite/mastership"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/schema"
	"github.com/multisite-go/multisite/syncpkt"
)

// Mastership requests.
//
// A replica that does not master a row asks its master for it. A request
// is a small record (ms_request) that replicates like a row: every change
// of it is stamped with an epoch of the replica that made it and travels in
// every packet to every member that lacks that epoch, as a Setting record
// (key "ms.request" while it is open, "ms.response" once it is settled;
// see syncpkt/SPEC.md, "Setting keys"). So a request reaches the master
// whatever the topology (a hub relays it like any change), a lost packet
// is covered by the next, and a duplicated one changes nothing (a record
// applies only if its version is newer).
//
// Only the replica a request is addressed to (its Master) changes it, so
// its history is one chain like a row's. When the request reaches that
// replica, after the rest of the packet is applied:
//
//   - it masters the row: the OnRequest hook decides (grant: the row is
//     transferred to the requester in the same transaction, and the
//     transfer travels with the answer; deny); without a hook, or on
//     hooks.Defer, the request waits for an administrator (GrantRequest,
//     DenyRequest);
//   - the row's master is another replica it knows: the request is
//     forwarded there (state forwarded, addressed to that master);
//   - the row is gone, or its master is unknown or removed: failed, with
//     the reason;
//   - the requester masters the row already: granted, nothing to transfer.
//
// Proofs (issue 18; metadata formats 10 and 12). Every version of a request
// travels with the proof of the replica that made it, its Origin: the
// Setting's Signer is the Origin and its Proof the Origin's signature over
// syncpkt.SettingMessage. The origin signs afresh when it exports (the
// signature is deterministic, so it keeps no proof of its own); every other
// replica stores the proof it got (ms_request.signer, proof) and forwards
// it. A receiver takes a version only if (requestEntitled, requestFollows):
//
//   - the proof verifies with the Origin's key in the local registry (a
//     retired key only for the epochs it sealed), else ErrProof; a
//     Signer other than the Origin is ErrAuthority;
//   - the Origin was entitled to make it: version 1 is the requester's
//     new request (pending, not forwarded, addressed to another replica);
//     every later version is made by the replica the previous version was
//     addressed to, never the requester: a forward (forwarded, addressed
//     to another replica, version = hops+1) or an answer (granted, denied,
//     failed, addressed to its own maker, version = hops+2);
//   - it follows the version held here by the state machine
//     (mastership.RequestState.Move): a settled request never changes
//     again, what the requester asked (table, key, reason, time) never
//     changes, and the version right after the one held must be made by
//     the replica the held one is addressed to;
//   - its chain of forward links holds (requestChain; metadata format 12).
//     A receiver may have missed versions (a hub forwards only the
//     newest): as versions and hops move together, a gap always holds a
//     forward, whose addressee the receiver would not know. So every
//     version carries the request's whole chain (wireRequest.Links,
//     stored in ms_request.links and forwarded unchanged; the Setting
//     proof covers it as part of the value): link 0 made by the requester
//     addressing the master it asked, link i (hop i) made by link i-1's
//     To when it forwards. Each link is its maker's signature over
//     requestLinkMessage, verified with the maker's key in force here
//     (links carry no epoch). There are hops+1 links, link 0 by the
//     requester, each later one by the To of the one before, none
//     addressing its own maker, the last addressing Master; a forward is
//     made by the last link's By, an answer by its To (= Master = Origin);
//     a newer version's chain starts with the chain held (linksExtend).
//     Bad shape is ErrAuthority, a link that does not verify ErrProof. So
//     no member can claim a request was forwarded to it.
//
// A version without a proof (held from before format 10 and forwarded as
// it is), or without links (held from before format 12: such a request
// is forwarded and answered without them), is taken only where it changes
// nothing.

// The Setting keys of mastership requests.
const (
	settingRequest  = "ms.request"  // an open request: pending or forwarded
	settingResponse = "ms.response" // a settled request: granted, denied or failed
)

// RequestID names a mastership request, the same on every replica.
type RequestID string

// RequestState is where a mastership request stands; the states and the
// moves between them are mastership's (see mastership.RequestState.Move).
type RequestState = mastership.RequestState

// The request states.
const (
	RequestPending   = mastership.RequestPending   // waiting for the master (or its administrator)
	RequestForwarded = mastership.RequestForwarded // the row had moved; sent on to the master the last replica knew
	RequestGranted   = mastership.RequestGranted   // the row was transferred to the requester
	RequestDenied    = mastership.RequestDenied    // the master said no; Answer says why
	RequestFailed    = mastership.RequestFailed    // the row or its master is gone; Answer says why
)

// MastershipRequest is a mastership request as one replica knows it.
type MastershipRequest struct {
	ID        RequestID
	Table     string
	Key       []any      // primary key values in portable form
	Requester replica.ID // the replica asking
	Master    replica.ID // the replica asked: the row's master as the requester, or the last forwarder, knew it
	State     RequestState
	Reason    string // the requester's
	Answer    string // the master's (or why it was forwarded or failed)
	Hops      int    // times forwarded
	Created   time.Time
	Updated   time.Time
	Version   uint64     // raised by every change
	Origin    replica.ID // the replica that made this version
	Epoch     uint64     // the epoch of Origin that carries it; 0 until sealed by an export
	// Delivered is set when the replica that must act next (the master
	// while the request is open, the requester once it is settled) holds
	// this version, as far as this replica knows from the vectors in the
	// packets it received.
	Delivered bool
}

// RequestFilter selects requests; the zero value selects all.
type RequestFilter struct {
	ID        RequestID
	Table     string
	States    []RequestState
	Requester replica.ID
	Master    replica.ID
}

// Errors of mastership requests.
var (
	// ErrAlreadyMaster is returned for a request for a row the local
	// replica masters already.
	ErrAlreadyMaster = errors.New("mastership: the row is mastered here already")
	// ErrNoRequest is returned for a request ID this replica does not know.
	ErrNoRequest = errors.New("mastership: no such request")
	// ErrRequestState is returned by GrantRequest and DenyRequest for a
	// request that is settled or addressed to another replica.
	ErrRequestState = errors.New("mastership: the request cannot be decided here")
)

// AlreadyMasterError names a row the local replica masters already.
type AlreadyMasterError struct {
	Table, Key string
	Master     replica.ID
}

func (e *AlreadyMasterError) Error() string {
	return fmt.Sprintf("mastership: %s[%s] is mastered here (%s) already; there is nothing to request", e.Table, e.Key, e.Master)
}

// Unwrap returns ErrAlreadyMaster.
func (e *AlreadyMasterError) Unwrap() error { return ErrAlreadyMaster }

// RequestStateError reports a request GrantRequest or DenyRequest cannot
// decide here: it is settled, or addressed to another replica.
type RequestStateError struct {
	ID     RequestID
	State  RequestState
	Master replica.ID // the replica the request is addressed to
	Local  replica.ID
}

func (e *RequestStateError) Error() string {
	if e.State.Open() {
		return fmt.Sprintf("mastership: request %s is addressed to %s, not to this replica (%s); decide it there", e.ID, e.Master, e.Local)
	}
	return fmt.Sprintf("mastership: request %s is %s already", e.ID, e.State)
}

// Unwrap returns ErrRequestState.
func (e *RequestStateError) Unwrap() error { return ErrRequestState }

// RequestMastership records a request by the local replica for the row of
// table with key, addressed to the row's master; it travels in the next
// packets. Asking again for a row with a request still open returns that
// request's ID.
func RequestMastership(ctx context.Context, db *sql.DB, d dialect.Dialect, table string, key []any, reason string) (RequestID, error) {
	if _, err := LoadCtl(ctx, db, d); err != nil {
		return "", err
	}
	if err := ensureLateMeta(ctx, db, d); err != nil {
		return "", err
	}
	var id RequestID
	err := inTx(ctx, db, d, func(tx *sql.Tx) error {
		c, err := LoadCtl(ctx, tx, d)
		if err != nil {
			return err
		}
		if c.State != replica.Active {
			return fmt.Errorf("%w: %s cannot request mastership until it is active", replica.ErrReceiveOnly, c.Local)
		}
		t, err := findTable(ctx, tx, table)
		if err != nil {
			return err
		}
		if len(key) != len(t.Keys()) {
			return fmt.Errorf("mastership: %s has a %d-column key, got %d values", t.Name, len(t.Keys()), len(key))
		}
		master, pkey, err := rowMaster(ctx, tx, d, t, key)
		if err != nil {
			return err
		}
		if master == c.Local {
			return &AlreadyMasterError{Table: t.Name, Key: formatKey(pkey), Master: master}
		}
		reg, err := Registry(ctx, tx)
		if err != nil {
			return err
		}
		if i, ok := reg[master]; !ok || i.State == replica.Removed {
			return &replica.UnknownError{ID: master}
		}
		keyJSON, err := encodeKey(pkey)
		if err != nil {
			return err
		}
		var open string
		err = tx.QueryRowContext(ctx, d.Rebind(`SELECT id FROM ms_request WHERE tbl = ? AND row_key = ? AND requester = ? AND state IN (?, ?)`),
			t.Name, keyJSON, string(c.Local), string(RequestPending), string(RequestForwarded)).Scan(&open)
		if err == nil {
			id = RequestID(open)
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		raw, err := NewID()
		if err != nil {
			return err
		}
		now := time.Now().UTC()
		r := MastershipRequest{ID: RequestID(raw), Table: t.Name, Key: pkey, Requester: c.Local, Master: master, State: RequestPending,
			Reason: reason, Created: now, Updated: now, Version: 1, Origin: c.Local}
		id = r.ID
		return putRequest(ctx, tx, d, r, false, nil, []requestLink{newRequestLink(c, r.ID, 0, master)})
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

// GrantRequest grants, at the replica it is addressed to, a request an
// OnRequest hook left for an administrator: the row is transferred to the
// requester and the answer travels back with the transfer. If the row has
// moved or gone meanwhile, the request is forwarded or fails as it would
// on import; the returned request says which.
func GrantRequest(ctx context.Context, db *sql.DB, d dialect.Dialect, id RequestID) (MastershipRequest, error) {
	return decideRequest(ctx, db, d, id, hooks.Grant, "")
}

// DenyRequest denies, at the replica it is addressed to, a pending
// request; reason travels back to the requester. If the row has moved or
// gone meanwhile, the request is forwarded or fails instead.
func DenyRequest(ctx context.Context, db *sql.DB, d dialect.Dialect, id RequestID, reason string) (MastershipRequest, error) {
	return decideRequest(ctx, db, d, id, hooks.Deny, reason)
}

func decideRequest(ctx context.Context, db *sql.DB, d dialect.Dialect, id RequestID, decision hooks.Decision, reason string) (MastershipRequest, error) {
	if _, err := LoadCtl(ctx, db, d); err != nil {
		return MastershipRequest{}, err
	}
	if err := ensureLateMeta(ctx, db, d); err != nil {
		return MastershipRequest{}, err
	}
	var out MastershipRequest
	err := inTx(ctx, db, d, func(tx *sql.Tx) error {
		c, err := LoadCtl(ctx, tx, d)
		if err != nil {
			return err
		}
		req, ok, err := loadRequest(ctx, tx, d, id)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: %s", ErrNoRequest, id)
		}
		if !req.State.Open() || req.Master != c.Local {
			return &RequestStateError{ID: id, State: req.State, Master: req.Master, Local: c.Local}
		}
		if c.State != replica.Active {
			return fmt.Errorf("%w: %s cannot transfer mastership", replica.ErrReceiveOnly, c.Local)
		}
		reg, err := Registry(ctx, tx)
		if err != nil {
			return err
		}
		decide := func(hooks.Request) (hooks.Decision, string, error) { return decision, reason, nil }
		transfer := func(t dialect.Table, key []any, to replica.ID) error {
			_, err := transferTx(ctx, tx, d, c, t.Name, to, [][]any{argKey(d, t, key)})
			return err
		}
		out, err = settleRequest(ctx, tx, d, c, reg, req, decide, transfer)
		return err
	})
	return out, err
}

// settleRequest acts on an open request addressed to the local replica
// (see the package comment above) and returns it as it now stands. decide
// is asked only when the row is mastered here; transfer hands the row over
// as a captured local change. A Defer leaves the request as it was.
func settleRequest(ctx context.Context, tx *sql.Tx, d dialect.Dialect, c *Ctl, reg map[replica.ID]replica.Info, req MastershipRequest,
	decide func(hooks.Request) (hooks.Decision, string, error), transfer func(dialect.Table, []any, replica.ID) error) (MastershipRequest, error) {
	name := func(id replica.ID) string {
		if i, ok := reg[id]; ok {
			return i.Name
		}
		return string(id)
	}
	next := req
	fail := func(format string, args ...any) {
		next.State, next.Answer = RequestFailed, fmt.Sprintf(format, args...)
	}
	t, err := findTable(ctx, tx, req.Table)
	var ute *schema.UnknownTableError
	switch {
	case errors.As(err, &ute):
		fail("%s has no replicated table %s", name(c.Local), req.Table)
	case err != nil:
		return req, err
	case len(req.Key) != len(t.Keys()):
		fail("the key of %s has %d columns, the request %d", t.Name, len(t.Keys()), len(req.Key))
	default:
		master, _, err := rowMaster(ctx, tx, d, t, req.Key)
		var nre *NoRowError
		if err != nil && !errors.As(err, &nre) {
			return req, err
		}
		member := func(id replica.ID) bool { i, ok := reg[id]; return ok && i.State != replica.Removed }
		switch step := mastership.Route(mastership.Situation{Local: c.Local, Active: c.State == replica.Active, Row: err == nil,
			Master: master, Requester: req.Requester, MasterMember: member(master), RequesterMember: member(req.Requester),
			Hops: req.Hops, Members: len(reg)}); step {
		case mastership.StepWait:
			return req, nil // a receive-only or restoring replica decides nothing yet
		case mastership.StepNoRow:
			fail("%s[%s] no longer exists at %s", t.Name, formatKey(req.Key), name(c.Local))
		case mastership.StepAlready:
			next.State, next.Answer = step.State(), fmt.Sprintf("%s masters %s[%s] already", name(req.Requester), t.Name, formatKey(req.Key))
		case mastership.StepNoRequester:
			fail("the requester %s is not an active member", name(req.Requester))
		case mastership.StepNoMaster:
			fail("%s[%s] is mastered by %s, which %s does not know as an active member", t.Name, formatKey(req.Key), master, name(c.Local))
		case mastership.StepTooFar:
			fail("forwarded %d times without reaching the master of %s[%s]", req.Hops, t.Name, formatKey(req.Key))
		case mastership.StepForward:
			next.State, next.Master, next.Hops = step.State(), master, req.Hops+1
			next.Answer = fmt.Sprintf("forwarded by %s to %s, which masters %s[%s] now", name(c.Local), reg[master].Name, t.Name, formatKey(req.Key))
		case mastership.StepDecide:
			dec, answer, err := decide(hooks.Request{ID: string(req.ID), Table: t.Name, Key: req.Key, From: req.Requester,
				Master: c.Local, Reason: req.Reason, Requested: req.Created})
			if err != nil {
				return req, err
			}
			switch dec {
			case hooks.Grant:
				if err := transfer(t, req.Key, req.Requester); err != nil {
					return req, fmt.Errorf("mastership: grant request %s: %w", req.ID, err)
				}
				next.State, next.Answer = RequestGranted, answer
			case hooks.Deny:
				next.State, next.Answer = RequestDenied, answer
			default:
				return req, nil
			}
		}
	}
	if err := req.State.Move(next.State); err != nil {
		return req, err // only an open request addressed here is settled
	}
	next.Version, next.Origin, next.Epoch, next.Updated = req.Version+1, c.Local, 0, time.Now().UTC()
	links, err := requestLinks(ctx, tx, d, req.ID)
	if err != nil {
		return req, err
	}
	if len(links) != req.Hops+1 {
		links = nil // held from before format 12: it travels without links
	} else if next.State == RequestForwarded {
		links = append(links, newRequestLink(c, req.ID, next.Hops, next.Master))
	}
	if err := putRequest(ctx, tx, d, next, true, nil, links); err != nil {
		return req, err
	}
	return next, nil
}

// rowMaster reads the master of t's row with key (portable values) and the
// key as stored, in portable form; *NoRowError if there is no such row.
func rowMaster(ctx context.Context, q dialect.Querier, d dialect.Dialect, t dialect.Table, key []any) (replica.ID, []any, error) {
	ks := t.Keys()
	stored := make([]any, len(ks))
	var master string
	dest := []any{&master}
	for i := range stored {
		dest = append(dest, &stored[i])
	}
	err := q.QueryRowContext(ctx, d.Rebind(fmt.Sprintf("SELECT %s, %s FROM %s WHERE %s", dialect.MasterColumn, keyCols(d, t, ""), d.Quote(t.Name), keyWhere(d, t, ""))),
		argKey(d, t, key)...).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, &NoRowError{Table: t.Name, Key: formatKey(key)}
	}
	if err != nil {
		return "", nil, fmt.Errorf("multisite: read %s[%s]: %w", t.Name, formatKey(key), err)
	}
	if err := portable(d, ks, stored); err != nil {
		return "", nil, err
	}
	return replica.ID(master), stored, nil
}

const requestCols = `id, tbl, row_key, requester, master, state, reason, answer, hops, created, updated, version, ms_origin, ms_epoch`

// putRequest writes r, replacing the stored version if exists, with the
// proof of its Origin (nil for a version made here: the origin signs when
// it exports) and its chain of forward links (nil for a version held from
// before format 12).
func putRequest(ctx context.Context, q dialect.Querier, d dialect.Dialect, r MastershipRequest, exists bool, proof []byte, links []requestLink) error {
	key, err := encodeKey(r.Key)
	if err != nil {
		return err
	}
	var epoch any
	if r.Epoch > 0 {
		epoch = r.Epoch
	}
	if exists {
		if _, err := q.ExecContext(ctx, d.Rebind(`DELETE FROM ms_request WHERE id = ?`), string(r.ID)); err != nil {
			return err
		}
	}
	var signer any
	if proof != nil {
		signer = string(r.Origin)
	}
	var chain any
	if len(links) > 0 {
		b, err := json.Marshal(links)
		if err != nil {
			return err
		}
		chain = string(b)
	}
	_, err = q.ExecContext(ctx, d.Rebind(`INSERT INTO ms_request (`+requestCols+`, signer, proof, links) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		string(r.ID), r.Table, key, string(r.Requester), string(r.Master), string(r.State), r.Reason, r.Answer, r.Hops,
		r.Created.UTC().Format(time.RFC3339Nano), r.Updated.UTC().Format(time.RFC3339Nano), r.Version, string(r.Origin), epoch, signer, proof, chain)
	if err != nil {
		return fmt.Errorf("multisite: record request %s: %w", r.ID, err)
	}
	return nil
}

// requestLinks reads the chain of forward links held for request id (nil
// if none is held).
func requestLinks(ctx context.Context, q dialect.Querier, d dialect.Dialect, id RequestID) ([]requestLink, error) {
	var chain sql.NullString
	err := q.QueryRowContext(ctx, d.Rebind(`SELECT links FROM ms_request WHERE id = ?`), string(id)).Scan(&chain)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !chain.Valid) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("multisite: read the links of request %s: %w", id, err)
	}
	var links []requestLink
	if err := json.Unmarshal([]byte(chain.String), &links); err != nil {
		return nil, fmt.Errorf("multisite: ms_request %s: links: %w", id, err)
	}
	return links, nil
}

func loadRequest(ctx context.Context, q dialect.Querier, d dialect.Dialect, id RequestID) (MastershipRequest, bool, error) {
	rs, err := readRequests(ctx, q, d, RequestFilter{ID: id})
	if err != nil || len(rs) == 0 {
		return MastershipRequest{}, false, err
	}
	return rs[0], true, nil
}

func readRequests(ctx context.Context, q dialect.Querier, d dialect.Dialect, f RequestFilter) ([]MastershipRequest, error) {
	where := []string{"1 = 1"}
	var args []any
	for _, c := range []struct{ col, val string }{{"id", string(f.ID)}, {"tbl", f.Table}, {"requester", string(f.Requester)}, {"master", string(f.Master)}} {
		if c.val != "" {
			where, args = append(where, c.col+" = ?"), append(args, c.val)
		}
	}
	if len(f.States) > 0 {
		ph := make([]string, len(f.States))
		for i, s := range f.States {
			ph[i] = "?"
			args = append(args, string(s))
		}
		where = append(where, "state IN ("+strings.Join(ph, ", ")+")")
	}
	rows, err := q.QueryContext(ctx, d.Rebind(`SELECT `+requestCols+` FROM ms_request WHERE `+strings.Join(where, " AND ")+` ORDER BY created, id`), args...)
	if err != nil {
		return nil, fmt.Errorf("multisite: read requests: %w", err)
	}
	defer rows.Close()
	var out []MastershipRequest
	for rows.Next() {
		var r MastershipRequest
		var id, key, requester, master, state, created, updated, origin string
		var epoch sql.NullInt64
		if err := rows.Scan(&id, &r.Table, &key, &requester, &master, &state, &r.Reason, &r.Answer, &r.Hops, &created, &updated, &r.Version, &origin, &epoch); err != nil {
			return nil, err
		}
		r.ID, r.Requester, r.Master, r.State, r.Origin = RequestID(id), replica.ID(requester), replica.ID(master), RequestState(state), replica.ID(origin)
		if epoch.Valid {
			r.Epoch = uint64(epoch.Int64)
		}
		if r.Key, err = decodeKey(key); err != nil {
			return nil, fmt.Errorf("multisite: ms_request %s: %w", id, err)
		}
		r.Created, _ = time.Parse(time.RFC3339Nano, created)
		r.Updated, _ = time.Parse(time.RFC3339Nano, updated)
		out = append(out, r)
	}
	return out, rows.Err()
}

// Requests lists the mastership requests this replica knows of, its own
// and other members', oldest first. It reads one snapshot and changes
// nothing.
func Requests(ctx context.Context, db *sql.DB, d dialect.Dialect, f RequestFilter) ([]MastershipRequest, error) {
	var out []MastershipRequest
	err := readTx(ctx, db, d, func(tx *sql.Tx) error {
		var err error
		out, err = requestsIn(ctx, tx, d, f)
		return err
	})
	return out, err
}

// requestsIn is Requests in the caller's transaction, with Delivered set.
func requestsIn(ctx context.Context, q dialect.Querier, d dialect.Dialect, f RequestFilter) ([]MastershipRequest, error) {
	c, err := LoadCtl(ctx, q, d)
	if err != nil {
		return nil, err
	}
	if ok, err := dialect.TableExists(ctx, q, d, "ms_request"); err != nil || !ok {
		return nil, err // a replica activated before requests existed has none
	}
	rs, err := readRequests(ctx, q, d, f)
	if err != nil || len(rs) == 0 {
		return rs, err
	}
	matrix, err := Matrix(ctx, q)
	if err != nil {
		return nil, err
	}
	for i := range rs {
		r := &rs[i]
		next := r.Requester
		if r.State.Open() {
			next = r.Master
		}
		r.Delivered = next == c.Local || next == r.Origin || (r.Epoch > 0 && matrix[next][r.Origin] >= r.Epoch)
	}
	return rs, nil
}

// requestsInFlight lists, for Mastered, the requests not settled yet and
// the answers their requester may not hold yet.
func requestsInFlight(ctx context.Context, q dialect.Querier, d dialect.Dialect) ([]RequestInFlight, error) {
	rs, err := requestsIn(ctx, q, d, RequestFilter{})
	if err != nil {
		return nil, err
	}
	var out []RequestInFlight
	for _, r := range rs {
		if r.State.Open() || !r.Delivered {
			out = append(out, RequestInFlight{ID: string(r.ID), Table: r.Table, Key: r.Key, From: r.Requester, Master: r.Master, State: string(r.State)})
		}
	}
	return out, nil
}

// wireRequest is the JSON a request travels as in a Setting record.
type wireRequest struct {
	ID        string          `json:"id"`
	Table     string          `json:"table"`
	Key       json.RawMessage `json:"key"`
	Requester string          `json:"requester"`
	Master    string          `json:"master"`
	State     string          `json:"state"`
	Reason    string          `json:"reason,omitempty"`
	Answer    string          `json:"answer,omitempty"`
	Hops      int             `json:"hops,omitempty"`
	Created   string          `json:"created"`
	Updated   string          `json:"updated"`
	Version   uint64          `json:"version"`
	Origin    string          `json:"origin"`
	Epoch     uint64          `json:"epoch"`
	Links     []requestLink   `json:"links,omitempty"`
}

// requestLink is one link of a request's chain: By addressed the request
// To. Link 0 is the requester's (to the master it asked), link i (hop i)
// the forward by link i-1's To. Proof is By's signature over
// requestLinkMessage.
type requestLink struct {
	To    string `json:"to"`
	By    string `json:"by"`
	Proof []byte `json:"proof"`
}

// requestLinkDomain starts every link message.
const requestLinkDomain = "multisite request forward v1\x00"

// requestLinkMessage is what the maker of link hop of request id signs:
// the domain, then family and id as strings, hop as a uvarint and to as a
// string, with syncpkt's primitives (a string is its uvarint byte length
// and its bytes).
func requestLinkMessage(family string, id RequestID, hop int, to string) []byte {
	str := func(b []byte, v string) []byte { return append(binary.AppendUvarint(b, uint64(len(v))), v...) }
	b := make([]byte, 0, 64+len(family)+len(id)+len(to))
	b = append(b, requestLinkDomain...)
	b = str(b, family)
	b = str(b, string(id))
	b = binary.AppendUvarint(b, uint64(hop))
	return str(b, to)
}

// newRequestLink is the local replica's link hop of request id, addressing to.
func newRequestLink(c *Ctl, id RequestID, hop int, to replica.ID) requestLink {
	return requestLink{To: string(to), By: string(c.Local), Proof: ed25519.Sign(c.PrivateKey, requestLinkMessage(c.Family, id, hop, string(to)))}
}

func requestSetting(r MastershipRequest, links []requestLink) (*syncpkt.Setting, error) {
	key, err := encodeKey(r.Key)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(wireRequest{ID: string(r.ID), Table: r.Table, Key: json.RawMessage(key), Requester: string(r.Requester),
		Master: string(r.Master), State: string(r.State), Reason: r.Reason, Answer: r.Answer, Hops: r.Hops,
		Created: r.Created.UTC().Format(time.RFC3339Nano), Updated: r.Updated.UTC().Format(time.RFC3339Nano),
		Version: r.Version, Origin: string(r.Origin), Epoch: r.Epoch, Links: links})
	if err != nil {
		return nil, err
	}
	k := settingRequest
	if !r.State.Open() {
		k = settingResponse
	}
	return &syncpkt.Setting{Key: k, Value: string(b)}, nil
}

func parseRequestSetting(s *syncpkt.Setting) (MastershipRequest, []requestLink, error) {
	r, w, err := parseRequestWire(s)
	return r, w.Links, err
}

func parseRequestWire(s *syncpkt.Setting) (MastershipRequest, wireRequest, error) {
	var w wireRequest // fields a newer library adds are ignored
	if err := json.Unmarshal([]byte(s.Value), &w); err != nil {
		return MastershipRequest{}, w, fmt.Errorf("%w: %s record: %v", ErrPacket, s.Key, err)
	}
	r, err := requestOfWire(s, w)
	return r, w, err
}

func requestOfWire(s *syncpkt.Setting, w wireRequest) (MastershipRequest, error) {
	r := MastershipRequest{ID: RequestID(w.ID), Table: w.Table, Requester: replica.ID(w.Requester), Master: replica.ID(w.Master),
		State: RequestState(w.State), Reason: w.Reason, Answer: w.Answer, Hops: w.Hops, Version: w.Version,
		Origin: replica.ID(w.Origin), Epoch: w.Epoch}
	var err error
	if r.Key, err = decodeKey(string(w.Key)); err != nil {
		return r, fmt.Errorf("%w: %s record %q: key: %v", ErrPacket, s.Key, w.ID, err)
	}
	r.Created, err = time.Parse(time.RFC3339Nano, w.Created)
	if err == nil {
		r.Updated, err = time.Parse(time.RFC3339Nano, w.Updated)
	}
	switch {
	case err != nil:
		return r, fmt.Errorf("%w: %s record %q: %v", ErrPacket, s.Key, w.ID, err)
	case w.ID == "" || len(w.ID) > 64 || w.Table == "" || len(r.Key) == 0:
		return r, fmt.Errorf("%w: %s record %q lacks its ID, table or key", ErrPacket, s.Key, w.ID)
	case !r.State.Valid() || (s.Key == settingRequest) != r.State.Open():
		return r, fmt.Errorf("%w: %s record %q has state %q", ErrPacket, s.Key, w.ID, w.State)
	case r.Version == 0 || r.Epoch == 0 || r.Hops < 0:
		return r, fmt.Errorf("%w: %s record %q has version %d, epoch %d", ErrPacket, s.Key, w.ID, r.Version, r.Epoch)
	}
	return r, nil
}

// requestSetting takes a request record from a packet if it is newer than
// the one held. Requests addressed to this replica are acted on once the
// whole packet is applied (actOnRequests), so a transfer in the same
// packet is seen first.
func (m *importer) requestSetting(s *syncpkt.Setting) error {
	r, links, err := parseRequestSetting(s)
	if err != nil {
		return err
	}
	if err := m.known(string(r.Requester), string(r.Master), string(r.Origin)); err != nil {
		return err
	}
	if err := m.requestProof(s, r); err != nil {
		return err
	}
	if err := requestEntitled(r); err != nil {
		return err
	}
	if err := m.requestChain(r, links); err != nil {
		return err
	}
	cur, exists, err := loadRequest(m.ctx, m.tx, m.d, r.ID)
	if err != nil {
		return err
	}
	// A request is a chain like a row's (only its addressee changes it):
	// the newer version wins, and a request pruned here (settled and
	// acknowledged by all) is not brought back by an old packet.
	var held mastership.Image
	if exists {
		held = mastership.Image{Version: cur.Version}
	}
	if !mastership.Decide(held, mastership.Image{Version: r.Version, Origin: r.Origin, Epoch: r.Epoch}, m.pruned).Applies() {
		return nil // an unproven copy too: it changes nothing here
	}
	if s.Signer == "" {
		return fmt.Errorf("%w: mastership request %s (version %d, made by %s) carries no proof, and this replica lacks it; only %s can send it again",
			ErrProof, r.ID, r.Version, r.Origin, r.Origin)
	}
	if len(links) == 0 {
		return fmt.Errorf("%w: mastership request %s (version %d, made by %s) carries no chain of forward links (made before metadata format 12), and this replica lacks it",
			ErrProof, r.ID, r.Version, r.Origin)
	}
	if exists {
		if err := requestFollows(cur, r); err != nil {
			return err
		}
		held, err := requestLinks(m.ctx, m.tx, m.d, r.ID)
		if err != nil {
			return err
		}
		if err := linksExtend(r, held, links); err != nil {
			return err
		}
	}
	if err := putRequest(m.ctx, m.tx, m.d, r, exists, s.Proof, links); err != nil {
		return err
	}
	if r.Master == m.ctl.Local && r.State.Open() {
		m.late.reqs = append(m.late.reqs, r.ID)
	}
	return nil
}

// requestProof checks the proof of a request version: none at all (an
// unproven copy, requestSetting takes it only where it changes nothing),
// or its Origin's, verified with the Origin's key here.
func (m *importer) requestProof(s *syncpkt.Setting, r MastershipRequest) error {
	if s.Signer == "" && len(s.Proof) == 0 {
		return nil
	}
	if s.Signer != string(r.Origin) {
		return fmt.Errorf("%w: mastership request %s (version %d, %s) is signed by %q, not by %s, which made it", ErrAuthority, r.ID, r.Version, r.State, s.Signer, r.Origin)
	}
	if !m.verifyMade(s.Signer, r.Epoch, syncpkt.SettingMessage(m.ctl.Family, s), s.Proof) {
		return fmt.Errorf("%w: mastership request %s (version %d, %s) is not signed by %s, which it names as its maker", ErrProof, r.ID, r.Version, r.State, r.Origin)
	}
	return nil
}

// requestChain checks the chain of forward links of version r (none: an
// unproven copy, requestSetting takes it only where it changes nothing):
// one link per hop and one more, link 0 made by the requester, each later
// one by the replica the link before addressed, the last addressing r's
// Master; a forward is made by the maker of the last link, an answer by
// the replica the last link addresses (its Master, requestEntitled).
// Every link must verify with its maker's key in force here.
func (m *importer) requestChain(r MastershipRequest, links []requestLink) error {
	if len(links) == 0 {
		return nil
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: mastership request %s (version %d, %s, hops %d) made by %s: forward links: %s", ErrAuthority, r.ID, r.Version, r.State, r.Hops,
			r.Origin, fmt.Sprintf(format, args...))
	}
	if len(links) != r.Hops+1 {
		return bad("%d links for %d hops; a request holds one link per hop and one more", len(links), r.Hops)
	}
	for i, l := range links {
		if err := m.known(l.To, l.By); err != nil {
			return err
		}
		switch {
		case l.By == l.To:
			return bad("link %d addresses its own maker %s", i, l.By)
		case i == 0 && l.By != string(r.Requester):
			return bad("link 0 is made by %s, not by the requester %s", l.By, r.Requester)
		case i > 0 && l.By != links[i-1].To:
			return bad("link %d is made by %s, but link %d addressed %s", i, l.By, i-1, links[i-1].To)
		}
	}
	last := links[len(links)-1]
	switch {
	case last.To != string(r.Master):
		return bad("the last link addresses %s, the request %s", last.To, r.Master)
	case r.State == RequestForwarded && last.By != string(r.Origin):
		return bad("the last forward is made by %s, not by %s", last.By, r.Origin)
	}
	for i, l := range links {
		// A link carries no epoch: it verifies with its maker's key in force.
		if !m.verifyMade(l.By, math.MaxUint64, requestLinkMessage(m.ctl.Family, r.ID, i, l.To), l.Proof) {
			return fmt.Errorf("%w: mastership request %s (version %d, %s): forward link %d (to %s) is not signed by %s, which it names as its maker",
				ErrProof, r.ID, r.Version, r.State, i, l.To, l.By)
		}
	}
	return nil
}

// linksExtend checks that the chain of version r starts with the chain
// held here (a request's chain only grows).
func linksExtend(r MastershipRequest, held, links []requestLink) error {
	if len(held) > len(links) {
		return fmt.Errorf("%w: mastership request %s: version %d has %d forward links, the version held here %d", ErrAuthority, r.ID, r.Version, len(links), len(held))
	}
	for i, h := range held {
		if l := links[i]; l.To != h.To || l.By != h.By || !bytes.Equal(l.Proof, h.Proof) {
			return fmt.Errorf("%w: mastership request %s: version %d changes forward link %d held here (%s to %s)", ErrAuthority, r.ID, r.Version, i, h.By, h.To)
		}
	}
	return nil
}

// requestEntitled checks that r's Origin may make a version like r, from
// r alone (see the top of this file): the requester makes version 1, and
// the replica a request is addressed to every later one.
func requestEntitled(r MastershipRequest) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: mastership request %s (version %d, %s, hops %d) made by %s: %s", ErrAuthority, r.ID, r.Version, r.State, r.Hops, r.Origin, why)
	}
	switch {
	case r.Version == 1:
		if r.State != RequestPending || r.Hops != 0 {
			return bad("a new request is pending and not forwarded")
		}
		if r.Origin != r.Requester {
			return bad("only the requester makes a request")
		}
		if r.Master == r.Requester {
			return bad("a replica does not ask itself")
		}
	case r.Origin == r.Requester:
		return bad("the requester changes nothing of its request once made")
	case r.State == RequestPending:
		return bad("a request is pending only as made")
	case r.State == RequestForwarded:
		if r.Version != uint64(r.Hops)+1 || r.Master == r.Origin {
			return bad("a forward raises version and hops together and addresses another replica")
		}
	default: // settled
		if r.Version != uint64(r.Hops)+2 || r.Master != r.Origin {
			return bad("an answer is made by the replica the request is addressed to, one version after its last forward")
		}
	}
	return nil
}

// requestFollows checks that version r may follow held, the version this
// replica holds (r's version is newer): by the state machine, keeping
// what the requester asked, and, right after held, made by the replica
// held is addressed to.
func requestFollows(held, r MastershipRequest) error {
	bad := func(why string, err error) error {
		if err != nil {
			return fmt.Errorf("%w: mastership request %s: version %d (%s, by %s) after version %d (%s, addressed to %s): %s: %w",
				ErrAuthority, r.ID, r.Version, r.State, r.Origin, held.Version, held.State, held.Master, why, err)
		}
		return fmt.Errorf("%w: mastership request %s: version %d (%s, by %s) after version %d (%s, addressed to %s): %s",
			ErrAuthority, r.ID, r.Version, r.State, r.Origin, held.Version, held.State, held.Master, why)
	}
	if err := held.State.Move(r.State); err != nil {
		return bad("the state machine forbids it", err)
	}
	hk, _ := encodeKey(held.Key)
	rk, _ := encodeKey(r.Key)
	if held.Table != r.Table || hk != rk || held.Requester != r.Requester || held.Reason != r.Reason || !held.Created.Equal(r.Created) {
		return bad("what the requester asked never changes", nil)
	}
	if r.Hops < held.Hops {
		return bad("hops never go back", nil)
	}
	if r.Version == held.Version+1 && r.Origin != held.Master {
		return bad("only the replica a request is addressed to changes it", nil)
	}
	return nil
}

// actOnRequests settles the requests this import brought that are
// addressed to this replica, after the packet's rows and transfers are
// applied.
func (m *importer) actOnRequests() error {
	ids := m.late.reqs
	m.late.reqs = nil
	for _, id := range ids {
		req, ok, err := loadRequest(m.ctx, m.tx, m.d, id)
		if err != nil {
			return err
		}
		if !ok || !req.State.Open() || req.Master != m.ctl.Local {
			continue
		}
		decide := func(r hooks.Request) (hooks.Decision, string, error) { return m.hooks.onRequest(m.ctx, r) }
		transfer := func(t dialect.Table, key []any, to replica.ID) error {
			// The import runs with capture off; the transfer is this
			// replica's own change and must be captured.
			if _, err := m.tx.ExecContext(m.ctx, m.d.SetApplying(false)); err != nil {
				return err
			}
			if _, err := transferTx(m.ctx, m.tx, m.d, m.ctl, t.Name, to, [][]any{argKey(m.d, t, key)}); err != nil {
				return err
			}
			_, err := m.tx.ExecContext(m.ctx, m.d.SetApplying(true))
			return err
		}
		if _, err := settleRequest(m.ctx, m.tx, m.d, m.ctl, m.reg, req, decide, transfer); err != nil {
			return err
		}
	}
	return nil
}

// writeRequests writes, as Setting records, every request change stamped
// after the given epochs (see writeChanges).
// Each goes with its origin's proof: made now for the local replica's own
// versions, the stored one for the others' (none if none is held: such a
// copy is taken only where it changes nothing).
func writeRequests(ctx context.Context, tx *sql.Tx, d dialect.Dialect, c *Ctl, pw recordWriter, after map[replica.ID]uint64) error {
	if len(after) == 0 {
		return nil
	}
	where, args := changeFilter(d, "", "ms_origin", after)
	rows, err := tx.QueryContext(ctx, d.Rebind(`SELECT id FROM ms_request WHERE `+where+` ORDER BY ms_origin, ms_epoch, id`), args...)
	if err != nil {
		return fmt.Errorf("multisite: read requests: %w", err)
	}
	var ids []RequestID
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, RequestID(id))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, id := range ids {
		r, ok, err := loadRequest(ctx, tx, d, id)
		if err != nil || !ok {
			return err
		}
		links, err := requestLinks(ctx, tx, d, id)
		if err != nil {
			return err
		}
		s, err := requestSetting(r, links)
		if err != nil {
			return err
		}
		if r.Origin == c.Local {
			s.Signer = string(c.Local)
			s.Proof = ed25519.Sign(c.PrivateKey, syncpkt.SettingMessage(c.Family, s))
		} else {
			var signer sql.NullString
			var proof []byte
			if err := tx.QueryRowContext(ctx, d.Rebind(`SELECT signer, proof FROM ms_request WHERE id = ?`), string(id)).Scan(&signer, &proof); err != nil {
				return fmt.Errorf("multisite: read the proof of request %s: %w", id, err)
			}
			if signer.Valid && signer.String == string(r.Origin) && len(proof) > 0 {
				s.Signer, s.Proof = signer.String, proof
			}
		}
		if err := pw.Write(s); err != nil {
			return err
		}
	}
	return nil
}

// sealRequests stamps the request changes not sealed yet with epoch, as
// Seal does for row changes; it returns how many it stamped.
func sealRequests(ctx context.Context, tx *sql.Tx, d dialect.Dialect, epoch uint64) (int64, error) {
	res, err := tx.ExecContext(ctx, d.Rebind(d.Seal("ms_request")), epoch)
	if err != nil {
		return 0, fmt.Errorf("multisite: seal requests: %w", err)
	}
	return res.RowsAffected()
}

// ensureLateMeta creates the metadata tables added after the first
// metadata format (ms_request, ms_collision) in a replica activated before
// them. It runs outside any transaction (MySQL commits DDL by itself) and
// costs one query when they exist. A database that is no replica is left
// alone.
func ensureLateMeta(ctx context.Context, db *sql.DB, d dialect.Dialect) error {
	if lateMetaExists(ctx, db) {
		return nil
	}
	if _, err := LoadCtl(ctx, db, d); err != nil {
		return nil // the caller reports it
	}
	for _, s := range dialect.LateMeta(d) {
		if _, err := db.ExecContext(ctx, s); err != nil && !lateMetaExists(ctx, db) {
			return fmt.Errorf("multisite: add the request and collision tables: %w", err)
		}
	}
	// The proof columns of ms_request (metadata format 10) and its links
	// (format 12), which the table made by LateMeta lacks.
	for _, st := range append(dialect.MetaFormat(d, 9), dialect.MetaFormat(d, 11)...) {
		if st.Table != "ms_request" || st.Column == "" {
			continue
		}
		if has, err := dialect.HasColumn(ctx, db, d, st.Table, st.Column); err != nil || has {
			continue
		}
		if _, err := db.ExecContext(ctx, st.SQL); err != nil && !lateMetaExists(ctx, db) {
			return fmt.Errorf("multisite: add the proof columns of ms_request: %w", err)
		}
	}
	return nil
}

func lateMetaExists(ctx context.Context, db *sql.DB) bool {
	rows, err := db.QueryContext(ctx, `SELECT ms_request.signer, ms_request.proof, ms_request.links FROM ms_request, ms_collision WHERE 1 = 0`)
	if err != nil {
		return false
	}
	rows.Close()
	return true
}

// encodeKey writes portable key values as a JSON array that keeps their
// types: integers and text as JSON numbers and strings, floats as
// {"f":"1.5"}, bytes as {"b":"base64"}, NULL as null.
func encodeKey(vals []any) (string, error) {
	out := make([]any, len(vals))
	for i, v := range vals {
		switch x := v.(type) {
		case nil, int64, string:
			out[i] = x
		case int:
			out[i] = int64(x)
		case float64:
			out[i] = map[string]string{"f": strconv.FormatFloat(x, 'g', -1, 64)}
		case []byte:
			out[i] = map[string]string{"b": base64.StdEncoding.EncodeToString(x)}
		default:
			return "", fmt.Errorf("multisite: key value %v (%T) has no portable form", v, v)
		}
	}
	b, err := json.Marshal(out)
	return string(b), err
}

// decodeKey reads what encodeKey wrote.
func decodeKey(s string) ([]any, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var raw []any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("key %q: %w", s, err)
	}
	out := make([]any, len(raw))
	for i, v := range raw {
		switch x := v.(type) {
		case nil, string:
			out[i] = x
		case json.Number:
			n, err := x.Int64()
			if err != nil {
				return nil, fmt.Errorf("key %q: %v is not an integer", s, x)
			}
			out[i] = n
		case map[string]any:
			if f, ok := x["f"].(string); ok && len(x) == 1 {
				n, err := strconv.ParseFloat(f, 64)
				if err != nil {
					return nil, fmt.Errorf("key %q: %w", s, err)
				}
				out[i] = n
			} else if b, ok := x["b"].(string); ok && len(x) == 1 {
				bs, err := base64.StdEncoding.DecodeString(b)
				if err != nil {
					return nil, fmt.Errorf("key %q: %w", s, err)
				}
				out[i] = bs
			} else {
				return nil, fmt.Errorf("key %q: unknown value %v", s, x)
			}
		default:
			return nil, fmt.Errorf("key %q: unknown value %v", s, x)
		}
	}
	return out, nil
}
