package multisite

import (
	"context"
	"database/sql"

	"github.com/multisite-go/multisite/internal/engine"
)

// RequestID names a mastership request; it is the same on every replica.
type RequestID = engine.RequestID

// RequestState is where a mastership request stands: pending, forwarded
// (open) or granted, denied, failed (settled).
type RequestState = engine.RequestState

// The request states.
const (
	RequestPending   = engine.RequestPending   // waiting for the row's master (or its administrator)
	RequestForwarded = engine.RequestForwarded // the row had moved; sent on to the master the last replica knew
	RequestGranted   = engine.RequestGranted   // the row was transferred to the requester
	RequestDenied    = engine.RequestDenied    // the master said no; Request.Answer says why
	RequestFailed    = engine.RequestFailed    // the row or its master is gone; Request.Answer says why
)

// Request is a mastership request as one replica knows it. Requests
// replicate to every member, so each lists the family's requests and how
// far each has come (Request.Delivered).
type Request = engine.MastershipRequest

// RequestFilter selects requests for Requests; the zero value selects all.
type RequestFilter = engine.RequestFilter

// AlreadyMasterError is returned by RequestMastership for a row the local
// replica masters already; errors.Is(err, ErrAlreadyMaster).
type AlreadyMasterError = engine.AlreadyMasterError

// RequestStateError is returned by GrantRequest and DenyRequest for a
// request that is settled or addressed to another replica;
// errors.Is(err, ErrRequestState).
type RequestStateError = engine.RequestStateError

// Errors of mastership requests. A request for a row that does not exist
// is a *NoRowError (mastership.ErrNoRow), for a table that is not
// replicated a *schema.UnknownTableError, for a row whose master the
// registry does not know a *replica.UnknownError.
var (
	ErrAlreadyMaster = engine.ErrAlreadyMaster
	ErrNoRequest     = engine.ErrNoRequest
	ErrRequestState  = engine.ErrRequestState
)

// NoRowError names a row that does not exist; errors.Is(err,
// mastership.ErrNoRow).
type NoRowError = engine.NoRowError

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
	return engine.RequestMastership(ctx, db, d, table, key, reason)
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
	return engine.GrantRequest(ctx, db, d, id)
}

// DenyRequest denies, at the replica it is addressed to, a pending
// request; reason travels back to the requester. If the row moved or went
// away meanwhile, the request is forwarded or fails instead.
func DenyRequest(ctx context.Context, db *sql.DB, id RequestID, reason string) (Request, error) {
	d, err := ready(ctx, db, "")
	if err != nil {
		return Request{}, err
	}
	return engine.DenyRequest(ctx, db, d, id, reason)
}

// Requests lists the mastership requests db's replica knows of (its own
// and other members'), oldest first, with their state. It changes nothing.
func Requests(ctx context.Context, db *sql.DB, f RequestFilter) ([]Request, error) {
	d, err := ready(ctx, db, "")
	if err != nil {
		return nil, err
	}
	return engine.Requests(ctx, db, d, f)
}
