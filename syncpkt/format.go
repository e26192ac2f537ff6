package syncpkt

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Magic is the first four bytes of every packet.
const Magic = "MSPK"

// Version is the major version of the format this package writes and reads.
// A reader rejects any other major version with a [*VersionError].
const Version = 3

// MinorVersion is the minor version this package writes. A reader accepts any
// minor version of a known major: minor versions only append fields to the
// end of a frame, so an older reader skips what it does not know.
const MinorVersion = 0

// DefaultMaxFrame is the largest frame a [Reader] accepts when
// [ReaderOptions.MaxFrame] is zero.
const DefaultMaxFrame = 64 << 20

// DigestSize is the size of the packet digest (SHA-256) in the trailer.
const DigestSize = 32

// SignatureSize is the size of the ed25519 signature in the trailer.
const SignatureSize = 64

// MaxTrailerSize is the most bytes the trailer frame takes: what a caller
// splitting an export keeps free at the end of each part.
const MaxTrailerSize = frameHeadMax + maxVarintLen + DigestSize + SignatureSize

// Sizes of the fixed parts of the format.
const (
	preambleSize = len(Magic) + 3   // magic, major, minor, flags
	maxVarintLen = 10               // longest uvarint of a uint64
	frameHeadMax = 1 + maxVarintLen // frame type and payload length
)

// Frame types. The header frame comes first, the trailer frame last, and
// every frame in between carries one [Record].
const (
	frameHeader     byte = 1
	frameTable      byte = 2
	frameRow        byte = 3
	frameTransfer   byte = 4
	frameReplica    byte = 5
	frameSetting    byte = 6
	frameSecret     byte = 7 // retired: a private key never travels; the frame is refused
	frameInvite     byte = 8
	frameSealed     byte = 9
	frameCheckpoint byte = 0x0A
	frameTrailer    byte = 0xFF
)

// frameName returns a readable name of a frame type for error messages.
func frameName(t byte) string {
	switch t {
	case frameHeader:
		return "header"
	case frameTable:
		return "table"
	case frameRow:
		return "row"
	case frameTransfer:
		return "transfer"
	case frameReplica:
		return "replica"
	case frameSetting:
		return "setting"
	case frameSecret:
		return "secret (retired)"
	case frameInvite:
		return "invite"
	case frameSealed:
		return "sealed"
	case frameCheckpoint:
		return "checkpoint"
	case frameTrailer:
		return "trailer"
	}
	return fmt.Sprintf("%#02x", t)
}

// Kind says what a packet is for.
type Kind uint8

const (
	// KindSync is a packet of incremental changes for one target replica.
	KindSync Kind = 1
	// KindCreation is a replica-creation snapshot: it brings the target
	// replica to life and carries the one-time secret of its enrolment
	// in an [Invite] (never a private key).
	KindCreation Kind = 2
	// KindAck is an acknowledgement: a packet in which the origin tells
	// the target which epochs it holds (Upto) and which packets of the
	// target's it refused (Gaps). It carries no changes (its only records
	// are registry entries), so a replica that sends none can still
	// confirm what it got; it doubles as a request for exactly what the
	// origin lacks.
	KindAck Kind = 3
)

// String returns "sync", "creation", or "Kind(n)" for an unknown kind.
func (k Kind) String() string {
	switch k {
	case KindSync:
		return "sync"
	case KindCreation:
		return "creation"
	case KindAck:
		return "ack"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

func (k Kind) known() bool { return k == KindSync || k == KindCreation || k == KindAck }

// Header opens every packet. It binds the packet to its family, its sender
// and its receiver, so that a receiver can refuse a packet before applying
// anything from it.
type Header struct {
	Kind          Kind
	Family        string // family ID
	Origin        string // replica ID of the sender, which signs the packet
	Target        string // replica ID of the receiver
	SchemaVersion int64
	CodePage      string
	// Created is encoded as Unix nanoseconds and decoded in UTC. The zero
	// time encodes as 0 and decodes as the zero time.
	Created time.Time
	// Base holds, per origin replica, the epoch the sender believes the
	// target already has. Decoded as nil when empty.
	Base map[string]uint64
	// Upto holds, per origin replica, the epoch the sender has: the target
	// reaches it after importing the packet. Decoded as nil when empty.
	Upto map[string]uint64
	// Part numbers the parts of a split export from 1; 0 means the packet
	// is whole. Every part carries the same header but for Part, so the
	// parts of one export are told apart by Origin and Created. The last
	// part says it is last with a [PartsSetting] record.
	Part uint64
	// Gaps holds, per origin replica, the epoch the sender (of this
	// packet) holds of it when it refused a packet from the target that
	// started after it: the target resends from there. Decoded as nil
	// when empty.
	Gaps map[string]uint64
}

// PartsSetting is the key of the [Setting] that ends the last part of a
// split export; its value is the number of parts in decimal.
const PartsSetting = "ms.parts"

// Range of times that fit in int64 Unix nanoseconds.
var (
	minCreated = time.Unix(0, math.MinInt64)
	maxCreated = time.Unix(0, math.MaxInt64)
)

// Validate reports the first field of h that cannot go into a packet: an
// unknown Kind, an empty Family, Origin or Target, a Created time outside the
// years 1678–2262, or an empty replica ID in Base or Upto. The error wraps
// [ErrFormat].
func (h *Header) Validate() error {
	if err := h.check(); err != nil {
		return fmt.Errorf("%w: header: %w", ErrFormat, err)
	}
	return nil
}

// check is Validate without the sentinel, for callers that add their own.
func (h *Header) check() error {
	switch {
	case !h.Kind.known():
		return errf("unknown Kind %d", uint8(h.Kind))
	case h.Family == "":
		return errf("Family is empty")
	case h.Origin == "":
		return errf("Origin is empty")
	case h.Target == "":
		return errf("Target is empty")
	case !h.Created.IsZero() && (h.Created.Before(minCreated) || h.Created.After(maxCreated)):
		return errf("Created %v out of range", h.Created)
	}
	if _, ok := h.Base[""]; ok {
		return errf("Base has an empty replica ID")
	}
	if _, ok := h.Upto[""]; ok {
		return errf("Upto has an empty replica ID")
	}
	if _, ok := h.Gaps[""]; ok {
		return errf("Gaps has an empty replica ID")
	}
	if h.Kind == KindCreation && h.Part != 0 {
		return errf("a creation packet is not split")
	}
	return nil
}

func appendHeader(b []byte, h *Header) []byte {
	b = append(b, byte(h.Kind))
	b = appendString(b, h.Family)
	b = appendString(b, h.Origin)
	b = appendString(b, h.Target)
	b = appendVarint(b, h.SchemaVersion)
	b = appendString(b, h.CodePage)
	var created int64
	if !h.Created.IsZero() {
		created = h.Created.UnixNano()
	}
	b = appendVarint(b, created)
	b = appendEpochs(b, h.Base)
	b = appendEpochs(b, h.Upto)
	b = appendUvarint(b, h.Part)
	b = appendEpochs(b, h.Gaps)
	return b
}

func decodeHeader(d *decoder) (*Header, error) {
	h := &Header{
		Kind:          Kind(d.u8()),
		Family:        d.str(),
		Origin:        d.str(),
		Target:        d.str(),
		SchemaVersion: d.varint(),
		CodePage:      d.str(),
	}
	if ns := d.varint(); ns != 0 {
		h.Created = time.Unix(0, ns).UTC()
	}
	h.Base = d.epochs()
	h.Upto = d.epochs()
	h.Part = d.uvarint()
	h.Gaps = d.epochs()
	if err := d.finish(); err != nil {
		return nil, err
	}
	if err := h.check(); err != nil {
		return nil, err
	}
	return h, nil
}

// trailer closes every packet.
type trailer struct {
	count  uint64
	digest [DigestSize]byte
	sig    [SignatureSize]byte
}

func appendTrailer(b []byte, t *trailer) []byte {
	b = appendUvarint(b, t.count)
	b = append(b, t.digest[:]...)
	return append(b, t.sig[:]...)
}

func decodeTrailer(d *decoder) (*trailer, error) {
	t := &trailer{count: d.uvarint()}
	copy(t.digest[:], d.fixed(DigestSize))
	copy(t.sig[:], d.fixed(SignatureSize))
	if err := d.finish(); err != nil {
		return nil, err
	}
	return t, nil
}

// ChunkSize is the most bytes of record frames a chunk holds (SPEC.md,
// Checkpoints): a writer ends a chunk with a signed checkpoint before a
// frame that would take it past ChunkSize, and a reader holds one chunk,
// unverified, at a time. A chunk of one frame may be larger. The value is
// fixed by the format, not chosen by a writer.
const ChunkSize = 1 << 20

// chunkSize is ChunkSize, but for this package's fuzz target, which makes
// it small so that short inputs hold checkpoints.
var chunkSize int64 = ChunkSize

// checkpointDomain starts the message a checkpoint's signature covers, so
// that it can never pass for a trailer's (a packet cut at a checkpoint) or
// any other signature of the key.
const checkpointDomain = "multisite checkpoint v3\x00"

// CheckpointMessage returns what a checkpoint's signature covers: a domain
// string and the digest of every byte of the packet before the checkpoint
// frame (SPEC.md, Checkpoint). A trailer's signature covers the bare digest.
func CheckpointMessage(digest []byte) []byte {
	return append([]byte(checkpointDomain), digest...)
}

// checkpoint ends every chunk but the last (format 3).
type checkpoint struct {
	digest [DigestSize]byte
	sig    [SignatureSize]byte
}

func appendCheckpoint(b []byte, c *checkpoint) []byte {
	b = append(b, c.digest[:]...)
	return append(b, c.sig[:]...)
}

func decodeCheckpoint(d *decoder) (*checkpoint, error) {
	c := &checkpoint{}
	copy(c.digest[:], d.fixed(DigestSize))
	copy(c.sig[:], d.fixed(SignatureSize))
	if err := d.finish(); err != nil {
		return nil, err
	}
	return c, nil
}

// errString is used by decoders to report what was wrong inside a frame.
type errString string

func (e errString) Error() string { return string(e) }

func errf(format string, args ...any) error { return errString(fmt.Sprintf(format, args...)) }

// FlagZstd, set in the preamble's flags byte, says everything after the
// preamble is one zstd stream (SPEC.md). Other flag bits are reserved.
const FlagZstd = 0x01
