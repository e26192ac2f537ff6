package multisite

import (
	"context"
	"database/sql"

	"time"

	"github.com/multisite-go/multisite/internal/engine"
	"github.com/multisite-go/multisite/mastership"
	"github.com/multisite-go/multisite/replica"
)

// RequestID names a mastership request; it is the same on every replica.
type RequestID string

// RequestState is where a mastership request stands: pending, forwarded
// (open) or granted, denied, failed (settled).
type RequestState string

// The request states.
const (
	RequestPending   RequestState = "pending"   // waiting for the row's master (or its administrator)
	RequestForwarded RequestState = "forwarded" // the row had moved; sent on to the master the last replica knew
	RequestGranted   RequestState = "granted"   // the row was transferred to the requester
	RequestDenied    RequestState = "denied"    // the master said no; Request.Answer says why
	RequestFailed    RequestState = "failed"    // the row or its master is gone; Request.Answer says why
)

// Open reports whether the request still waits for an answer (pending or
// forwarded).
func (s RequestState) Open() bool { return s == RequestPending || s == RequestForwarded }

// Request is a mastership request as one replica knows it. Requests
// replicate to every member, so each lists the family's requests and how
// far each has come (Request.Delivered).
type Request struct {
	ID        RequestID  // the request's ID, the same at every replica
	Table     string     // the replicated table of the row
	Key       []any      // primary key values in portable form
	Requester replica.ID // the replica asking
	// Master is the replica asked: the row's master as the requester, or
	// the last forwarder, knew it.
	Master  replica.ID
	State   RequestState // where the request stands
	Reason  string       // the requester's
	Answer  string       // the master's (or why it was forwarded or failed)
	Hops    int          // times forwarded
	Created time.Time    // when the requester asked
	Updated time.Time    // when the request last changed
	Version uint64       // raised by every change
	Origin  replica.ID   // the replica that made this version
	// Epoch is the epoch of Origin that carries this version; 0 until
	// sealed by an export.
	Epoch uint64
	// Delivered is set when the replica that must act next (the master
	// while the request is open, the requester once it is settled) holds
	// this version, as far as this replica knows from the vectors in the
	// packets it received.
	Delivered bool
}

// RequestFilter selects requests for Requests; the zero value selects all.
type RequestFilter struct {
	ID        RequestID      // "" means every request
	Table     string         // "" means every table
	States    []RequestState // nil means every state
	Requester replica.ID     // "" means every requester
	Master    replica.ID     // "" means every master asked
}

// AlreadyMasterError is returned by RequestMastership for a row the local
// replica masters already; errors.Is(err, ErrAlreadyMaster).
type AlreadyMasterError struct {
	Table  string     // the table of the row
	Key    string     // the primary key, formatted
	Master replica.ID // the local replica, which masters the row
}

func (e *AlreadyMasterError) Error() string { return engineAlreadyMasterError(e).Error() }

// Unwrap returns ErrAlreadyMaster.
func (e *AlreadyMasterError) Unwrap() error { return ErrAlreadyMaster }

// RequestStateError is returned by GrantRequest and DenyRequest for a
// request that is settled or addressed to another replica;
// errors.Is(err, ErrRequestState).
type RequestStateError struct {
	ID     RequestID    // the request
	State  RequestState // where the request stands
	Master replica.ID   // the replica the request is addressed to
	Local  replica.ID   // the replica asked to decide it
}

func (e *RequestStateError) Error() string { return engineRequestStateError(e).Error() }

// Unwrap returns ErrRequestState.
func (e *RequestStateError) Unwrap() error { return ErrRequestState }

// Errors of mastership requests. A request for a row that does not exist
// is a *NoRowError (mastership.ErrNoRow), for a table that is not
// replicated a *schema.UnknownTableError, for a row whose master the
// registry does not know a *replica.UnknownError.
var (
	// ErrAlreadyMaster is wrapped by *AlreadyMasterError.
	ErrAlreadyMaster = engine.ErrAlreadyMaster
	// ErrNoRequest is returned for a request ID the replica does not know.
	ErrNoRequest = engine.ErrNoRequest
	// ErrRequestState is wrapped by *RequestStateError.
	ErrRequestState = engine.ErrRequestState
)

// NoRowError names a row that does not exist; errors.Is(err,
// mastership.ErrNoRow).
type NoRowError struct {
	Table string // the table named
	Key   string // the primary key, formatted
}

func (e *NoRowError) Error() string { return (&engine.NoRowError{Table: e.Table, Key: e.Key}).Error() }

// Unwrap returns mastership.ErrNoRow.
func (e *NoRowError) Unwrap() error { return mastership.ErrNoRow }

// RequestMastership asks, for db's replica, the master of the row of table
// with primary key values key to hand the row over; reason travels with
// the request. The request is recorded at once and travels in the next
// packets (to every member, so a hub relays it); at the row's master an
// ImportOptions.Hooks OnRequest hook grants or denies it, or leaves it to
// an administrator (GrantRequest, DenyRequest). The answer, and with a
// grant the transfer, travel back the same way; Requests shows where each
// request stands. A row whose master changed meanwhile has its request
// forwarded to the new master; a row that is gone fails the request with
// the reason. Asking again while a request for the row is open returns
// that request's ID.
func RequestMastership(ctx context.Context, db *sql.DB, table string, key []any, reason string) (RequestID, error) {
	d, err := ready(ctx, db, "")
	if err != nil {
		return "", err
	}
	id, err := engine.RequestMastership(ctx, db, d, table, key, reason)
	return RequestID(id), publicError(err)
}

// GrantRequest grants, at the replica it is addressed to, a pending
// request: the row is transferred to the requester in the same
// transaction and the answer travels back with the transfer. If the row
// moved or went away meanwhile, the request is forwarded or fails
// instead, as on import; the returned Request says which.
func GrantRequest(ctx context.Context, db *sql.DB, id RequestID) (Request, error) {
	d, err := ready(ctx, db, "")
	if err != nil {
		return Request{}, err
	}
	req, err := engine.GrantRequest(ctx, db, d, engine.RequestID(id))
	return request(req), publicError(err)
}

// DenyRequest denies, at the replica it is addressed to, a pending
// request; reason travels back to the requester. If the row moved or went
// away meanwhile, the request is forwarded or fails instead.
func DenyRequest(ctx context.Context, db *sql.DB, id RequestID, reason string) (Request, error) {
	d, err := ready(ctx, db, "")
	if err != nil {
		return Request{}, err
	}
	req, err := engine.DenyRequest(ctx, db, d, engine.RequestID(id), reason)
	return request(req), publicError(err)
}

// Requests lists the mastership requests db's replica knows of (its own
// and other members'), oldest first, with their state. It changes nothing.
func Requests(ctx context.Context, db *sql.DB, f RequestFilter) ([]Request, error) {
	d, err := ready(ctx, db, "")
	if err != nil {
		return nil, err
	}
	reqs, err := engine.Requests(ctx, db, d, engineRequestFilter(f))
	return requests(reqs), publicError(err)
}
