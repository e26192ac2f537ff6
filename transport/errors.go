package transport

import (
	"errors"
	"fmt"
	"net/http"
)

// ErrOptions is wrapped by [NewHandler]'s error for [HandlerOptions]
// that cannot work; the message names the field.
var ErrOptions = errors.New("transport: invalid options")

// Errors a [Client] returns for refused requests, wrapped in a
// [*StatusError]; test them with errors.Is.
var (
	// ErrUnauthorized: the request carried no token, or one the server
	// does not know (401).
	ErrUnauthorized = errors.New("transport: not authorized")
	// ErrForbidden: the token is valid, but the packet's origin is not the
	// replica it belongs to (403).
	ErrForbidden = errors.New("transport: forbidden")
	// ErrTooLarge: the packet is larger than the server accepts (413).
	ErrTooLarge = errors.New("transport: packet too large")
	// ErrRejected: the packet is malformed, badly signed, or meant for
	// another family or replica; sending it again will not help (422).
	ErrRejected = errors.New("transport: packet rejected")
	// ErrNotYet: the packet cannot be applied yet (unknown origin, gap);
	// send it again once the packets it depends on are in (409).
	ErrNotYet = errors.New("transport: packet cannot be applied yet")
	// ErrBusy: the server is working on as many requests as it takes;
	// try again after a while (503).
	ErrBusy = errors.New("transport: server busy")
	// ErrServer: the server failed (5xx) or answered something this
	// package does not understand.
	ErrServer = errors.New("transport: server error")
)

// StatusError is a request the server refused: its HTTP status code and
// the reason it gave. It unwraps to the sentinel for the code.
type StatusError struct {
	Code    int    // HTTP status code
	Message string // the server's reason, first line of the body
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("transport: %d %s: %s", e.Code, http.StatusText(e.Code), e.Message)
}

// Unwrap returns the sentinel that matches e.Code.
func (e *StatusError) Unwrap() error {
	switch e.Code {
	case http.StatusUnauthorized:
		return ErrUnauthorized
	case http.StatusForbidden:
		return ErrForbidden
	case http.StatusRequestEntityTooLarge:
		return ErrTooLarge
	case http.StatusUnprocessableEntity:
		return ErrRejected
	case http.StatusConflict:
		return ErrNotYet
	case http.StatusServiceUnavailable:
		return ErrBusy
	}
	return ErrServer
}
