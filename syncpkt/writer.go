package syncpkt

import (
	"bufio"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"github.com/klauspost/compress/zstd"
	"hash"
	"io"
)

// WriterOptions controls a [Writer]. The zero value writes an unsigned packet
// (a signature of zeros, which a [Reader] with a PublicKey refuses) whose
// records fit [DefaultMaxFrame].
type WriterOptions struct {
	// Sign returns the 64-byte ed25519 signature of msg, as
	// [Ed25519Signer] does: the packet digest at the trailer, and
	// [CheckpointMessage] of the digest so far at each checkpoint. Nil
	// writes zero signatures.
	Sign func(digest []byte) ([]byte, error)

	// MaxFrame is the largest record, in encoded bytes, the writer accepts;
	// a larger one is refused with [ErrTooLarge] so that every packet
	// written is readable by a reader with the same limit. 0 means
	// [DefaultMaxFrame].
	MaxFrame int64

	// Compress compresses everything after the preamble as one zstd
	// stream (preamble flag FlagZstd). Rows of text shrink to about a
	// third; the digest and signature cover the uncompressed bytes. The
	// encoder works on a second goroutine while the caller writes records
	// (a 2 MiB window in low-memory mode, so memory stays flat).
	Compress bool
}

// Ed25519Signer returns a [WriterOptions.Sign] function that signs with key.
// A key of the wrong length makes the function return an error rather than
// panic as [ed25519.Sign] would.
func Ed25519Signer(key ed25519.PrivateKey) func(digest []byte) ([]byte, error) {
	return func(digest []byte) ([]byte, error) {
		if len(key) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("syncpkt: private key has %d bytes, want %d", len(key), ed25519.PrivateKeySize)
		}
		return ed25519.Sign(key, digest), nil
	}
}

// A Writer encodes one packet onto an io.Writer: [NewWriter] writes the
// preamble and header, [Writer.Write] one record at a time, and
// [Writer.Close] the trailer that seals it. Output is buffered, so the
// underlying writer sees the whole packet only after Close.
//
// A Writer is not safe for concurrent use. The same header, records and
// signing key always give the same bytes.
type Writer struct {
	bw       *bufio.Writer
	out      io.Writer     // where frames go: bw, or zw over it
	zw       *zstd.Encoder // nil unless compressing
	hash     hash.Hash
	kind     Kind
	sign     func([]byte) ([]byte, error)
	maxFrame int64
	n        int64
	count    uint64
	chunk    int64  // bytes of record frames since the last checkpoint
	table    *Table // copy of the current table; nil before the first
	buf      []byte // payload of the frame being written, reused
	cbuf     []byte // payload of a checkpoint
	head     [frameHeadMax]byte
	err      error // first write or signing error; sticks
	closed   bool
}

// NewWriter validates h, then writes the preamble and the header frame to w.
// An invalid header gives an error wrapping [ErrFormat] that names the
// field, and nothing is written.
func NewWriter(w io.Writer, h Header, opt WriterOptions) (*Writer, error) {
	if err := h.Validate(); err != nil {
		return nil, err
	}
	pw := &Writer{
		bw:       bufio.NewWriterSize(w, 64<<10),
		hash:     sha256.New(),
		kind:     h.Kind,
		sign:     opt.Sign,
		maxFrame: opt.MaxFrame,
		buf:      make([]byte, 0, 4<<10),
	}
	if pw.maxFrame <= 0 {
		pw.maxFrame = DefaultMaxFrame
	}
	pw.buf = appendHeader(pw.buf[:0], &h)
	if int64(len(pw.buf)) > pw.maxFrame {
		return nil, fmt.Errorf("%w: header of %d bytes exceeds the %d-byte frame limit", ErrTooLarge, len(pw.buf), pw.maxFrame)
	}
	var flags byte
	if opt.Compress {
		flags = FlagZstd
	}
	pre := []byte{Magic[0], Magic[1], Magic[2], Magic[3], Version, MinorVersion, flags}
	pw.hash.Write(pre)
	pw.out = pw.bw
	pw.write(pre)
	if opt.Compress {
		zw, err := zstd.NewWriter(pw.bw, zstd.WithEncoderConcurrency(2), zstd.WithEncoderLevel(zstd.SpeedDefault),
			zstd.WithWindowSize(1<<21), zstd.WithLowerEncoderMem(true))
		if err != nil {
			return nil, fmt.Errorf("syncpkt: compressor: %w", err)
		}
		pw.zw, pw.out = zw, zw
	}
	if err := pw.frame(frameHeader); err != nil {
		return nil, err
	}
	return pw, nil
}

// Write appends one record to the packet. It returns an error wrapping
// [ErrFormat] for a record the format cannot carry: a nil record, a [*Row]
// before any [*Table] or with the wrong number of values, an [*Invite] in a
// sync packet, an empty name. Such a record is not written and the Writer
// stays usable. Errors from the underlying writer stick: every later call
// returns the first.
func (w *Writer) Write(r Record) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return ErrClosed
	}
	typ, b, err := w.encode(w.buf[:0], r)
	w.buf = b
	if err != nil {
		if typ == 0 {
			return fmt.Errorf("%w: %w", ErrFormat, err)
		}
		return fmt.Errorf("%w: %s: %w", ErrFormat, frameName(typ), err)
	}
	if int64(len(b)) > w.maxFrame {
		return fmt.Errorf("%w: %s of %d bytes exceeds the %d-byte frame limit", ErrTooLarge, frameName(typ), len(b), w.maxFrame)
	}
	size := frameSize(len(b))
	if w.chunk > 0 && w.chunk+size > chunkSize {
		if err := w.checkpoint(); err != nil {
			return err
		}
	}
	if err := w.frame(typ); err != nil {
		return err
	}
	w.chunk += size
	w.count++
	if t, ok := r.(*Table); ok {
		// Keep a copy: rows are checked against it, and the caller may
		// reuse its Table.
		w.table = &Table{Name: t.Name, Columns: append([]Column(nil), t.Columns...)}
	}
	return nil
}

// frameSize is the bytes a frame with a payload of n bytes takes.
func frameSize(n int) int64 {
	var head [frameHeadMax]byte
	return int64(1 + binary.PutUvarint(head[1:], uint64(n)) + n)
}

// checkpointFrameSize is the bytes a checkpoint frame takes.
var checkpointFrameSize = frameSize(DigestSize + SignatureSize)

// checkpoint ends the current chunk: the digest of every byte so far and
// the origin's signature of CheckpointMessage(digest).
func (w *Writer) checkpoint() error {
	var c checkpoint
	w.hash.Sum(c.digest[:0])
	if w.sign != nil {
		sig, err := w.sign(CheckpointMessage(c.digest[:]))
		if err != nil {
			w.err = fmt.Errorf("syncpkt: sign: %w", err)
			return w.err
		}
		if len(sig) != SignatureSize {
			w.err = fmt.Errorf("%w: signer returned %d bytes, want %d", ErrSignature, len(sig), SignatureSize)
			return w.err
		}
		copy(c.sig[:], sig)
	}
	w.cbuf = appendCheckpoint(w.cbuf[:0], &c)
	w.frameOf(frameCheckpoint, w.cbuf)
	w.chunk = 0
	return w.err
}

// encode checks r and appends its payload to b.
func (w *Writer) encode(b []byte, r Record) (byte, []byte, error) {
	switch r := r.(type) {
	case *Table:
		if r == nil {
			return frameTable, b, errNilRecord
		}
		if err := r.check(); err != nil {
			return frameTable, b, err
		}
		return frameTable, appendTable(b, r), nil
	case *Row:
		if r == nil {
			return frameRow, b, errNilRecord
		}
		if err := r.check(w.table); err != nil {
			return frameRow, b, err
		}
		return frameRow, appendRow(b, r), nil
	case *Transfer:
		if r == nil {
			return frameTransfer, b, errNilRecord
		}
		if err := r.check(); err != nil {
			return frameTransfer, b, err
		}
		return frameTransfer, appendTransfer(b, r), nil
	case *Replica:
		if r == nil {
			return frameReplica, b, errNilRecord
		}
		if err := r.check(); err != nil {
			return frameReplica, b, err
		}
		return frameReplica, appendReplica(b, r), nil
	case *Setting:
		if r == nil {
			return frameSetting, b, errNilRecord
		}
		if err := r.check(); err != nil {
			return frameSetting, b, err
		}
		return frameSetting, appendSetting(b, r), nil
	case *Invite:
		if r == nil {
			return frameInvite, b, errNilRecord
		}
		if w.kind != KindCreation {
			return frameInvite, b, errf("invite in a %s packet", w.kind)
		}
		if err := r.check(); err != nil {
			return frameInvite, b, err
		}
		return frameInvite, appendInvite(b, r), nil
	case *Sealed:
		if r == nil {
			return frameSealed, b, errNilRecord
		}
		if err := r.check(); err != nil {
			return frameSealed, b, err
		}
		return frameSealed, appendSealed(b, r), nil
	}
	return 0, b, errf("cannot write a record of type %T", r)
}

// Close writes the trailer (record count, SHA-256 digest of every byte
// before it, signature of the digest) and flushes. It does not close the
// underlying writer. Close after Close returns the first result.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	if w.err != nil {
		return w.err
	}
	t := trailer{count: w.count}
	w.hash.Sum(t.digest[:0])
	if w.sign != nil {
		sig, err := w.sign(t.digest[:])
		if err != nil {
			w.err = fmt.Errorf("syncpkt: sign: %w", err)
			return w.err
		}
		if len(sig) != SignatureSize {
			w.err = fmt.Errorf("%w: signer returned %d bytes, want %d", ErrSignature, len(sig), SignatureSize)
			return w.err
		}
		copy(t.sig[:], sig)
	}
	w.buf = appendTrailer(w.buf[:0], &t)
	if err := w.frame(frameTrailer); err != nil {
		return err
	}
	if w.zw != nil {
		if err := w.zw.Close(); err != nil {
			w.err = fmt.Errorf("syncpkt: write: %w", err)
			return w.err
		}
	}
	if err := w.bw.Flush(); err != nil {
		w.err = fmt.Errorf("syncpkt: write: %w", err)
	}
	return w.err
}

// Size returns the bytes r would add to the packet before compression (its
// frame, and the checkpoint that would end the chunk before it), without
// writing it, or the error [Writer.Write] would give. A caller splitting an
// export uses it to decide whether r still fits.
func (w *Writer) Size(r Record) (int64, error) {
	typ, b, err := w.encode(nil, r)
	if err != nil {
		if typ == 0 {
			return 0, fmt.Errorf("%w: %w", ErrFormat, err)
		}
		return 0, fmt.Errorf("%w: %s: %w", ErrFormat, frameName(typ), err)
	}
	size := frameSize(len(b))
	if w.chunk > 0 && w.chunk+size > chunkSize {
		size += checkpointFrameSize
	}
	return size, nil
}

// N returns the number of bytes of the packet written so far, including
// bytes still buffered, before compression. After a successful Close of an
// uncompressed packet it is the packet's size.
func (w *Writer) N() int64 { return w.n }

// frame writes w.buf as the payload of a frame of type typ, hashing every
// frame but the trailer.
func (w *Writer) frame(typ byte) error {
	w.frameOf(typ, w.buf)
	return w.err
}

// frameOf writes a frame of type typ with payload p, hashing every frame
// but the trailer.
func (w *Writer) frameOf(typ byte, p []byte) {
	w.head[0] = typ
	n := 1 + binary.PutUvarint(w.head[1:], uint64(len(p)))
	if typ != frameTrailer {
		w.hash.Write(w.head[:n])
		w.hash.Write(p)
	}
	w.write(w.head[:n])
	w.write(p)
}

func (w *Writer) write(p []byte) {
	if w.err != nil {
		return
	}
	n, err := w.out.Write(p)
	w.n += int64(n)
	if err != nil {
		w.err = fmt.Errorf("syncpkt: write: %w", err)
	}
}

var errNilRecord = errString("nil record")
