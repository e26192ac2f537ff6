package syncpkt

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error a [Reader] or [Writer] returns for bad input
// wraps exactly one of these, so callers test with [errors.Is]; the message
// around it names the frame, offset or field that was wrong.
var (
	// ErrFormat reports a malformed packet: a field that does not decode, a
	// record where none may appear, or a record that breaks a rule of the
	// format (a row before any table, a secret in a sync packet).
	ErrFormat = errors.New("syncpkt: malformed packet")

	// ErrMagic reports a stream that does not start with [Magic].
	ErrMagic = errors.New("syncpkt: not a packet")

	// ErrVersion reports a packet whose major version this package does not
	// read. The error is a [*VersionError] carrying both versions.
	ErrVersion = errors.New("syncpkt: unsupported packet version")

	// ErrTruncated reports a stream that ended before the trailer.
	ErrTruncated = errors.New("syncpkt: truncated packet")

	// ErrChecksum reports a trailer whose digest or record count does not
	// match what was read.
	ErrChecksum = errors.New("syncpkt: checksum mismatch")

	// ErrSignature reports a missing or bad signature, or a refusal by
	// [ReaderOptions.PublicKey], whose error is wrapped as well.
	ErrSignature = errors.New("syncpkt: bad signature")

	// ErrTooLarge reports a frame longer than [ReaderOptions.MaxFrame] or a
	// packet longer than [ReaderOptions.MaxPacket]. It is returned before
	// any memory is allocated for the oversized part.
	ErrTooLarge = errors.New("syncpkt: packet too large")

	// ErrClosed reports a call to [Writer.Write] after [Writer.Close].
	ErrClosed = errors.New("syncpkt: writer closed")
)

// VersionError reports a packet of a major version this package cannot read.
// It unwraps to [ErrVersion].
type VersionError struct {
	Got  int // major version found in the packet
	Want int // major version this package reads ([Version])
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("syncpkt: packet version %d, want %d", e.Got, e.Want)
}

// Unwrap returns [ErrVersion].
func (e *VersionError) Unwrap() error { return ErrVersion }
