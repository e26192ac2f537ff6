package syncpkt

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"github.com/klauspost/compress/zstd"
	"hash"
	"io"
)

// ReaderOptions controls a [Reader]. The zero value reads any well-formed
// packet up to [DefaultMaxFrame] per record without checking its signature,
// which suits tests and inspection tools only.
type ReaderOptions struct {
	// PublicKey returns the key that must have signed a packet with this
	// header, typically the registry's key for h.Origin. It is called once,
	// right after the header is read, so an error (an unknown origin, a
	// wrong family) refuses the packet before any record is returned; the
	// error is wrapped together with [ErrSignature]. Nil means the signature
	// is not verified.
	PublicKey func(h *Header) (ed25519.PublicKey, error)

	// KeyAtTrailer defers the call to PublicKey until the trailer, after
	// every record was read. A replica-creation packet needs it: the
	// receiver knows nobody yet and takes the origin's key from the
	// registry the packet carries (or from a key the administrator pinned).
	KeyAtTrailer bool

	// MaxFrame is the largest single frame (one record) in bytes. A frame
	// declaring more fails with [ErrTooLarge] before anything is allocated
	// for it. 0 means [DefaultMaxFrame].
	MaxFrame int64

	// MaxPacket is the largest packet in bytes; 0 means no limit.
	MaxPacket int64
}

// StaticPublicKey returns a [ReaderOptions.PublicKey] function that accepts
// packets signed by key, whatever their header says.
func StaticPublicKey(key ed25519.PublicKey) func(*Header) (ed25519.PublicKey, error) {
	return func(*Header) (ed25519.PublicKey, error) { return key, nil }
}

// A Reader decodes one packet from an io.Reader. [Reader.Header] returns the
// header; [Reader.Next] returns the records one by one and io.EOF once the
// trailer has been read and checked.
//
// Records are provisional until io.EOF: the digest and signature cover the
// whole packet and are known only at the end. A caller applies records in a
// transaction and commits only after Next returns io.EOF.
//
// Any error is final: later calls return it again. A Reader is not safe for
// concurrent use.
type Reader struct {
	br       *bufio.Reader
	opt      ReaderOptions
	maxFrame int64
	hash     hash.Hash
	n        int64 // bytes consumed
	minor    byte
	header   *Header
	key      ed25519.PublicKey // nil when signatures are not checked
	table    *Table            // current table; nil before the first
	count    uint64            // body records read
	digest   []byte            // set at io.EOF
	buf      []byte            // payload of the current frame, reused
	head     [frameHeadMax]byte
	names    map[string]string // replica IDs seen in rows, shared
	err      error             // sticky; io.EOF after the trailer
	dec      *zstd.Decoder     // nil unless the body is compressed
	raw      *rawCounter       // bytes read from the caller's reader
}

// rawCounter counts the bytes read from the caller's reader: for a
// compressed packet, offsets count decompressed bytes, and an error about
// a truncated packet says how much of the packet itself arrived.
type rawCounter struct {
	r io.Reader
	n int64
}

func (c *rawCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// maxZstdWindow caps the memory a compressed packet can make the reader
// allocate for its window.
const maxZstdWindow = 8 << 20

// NewReader returns a Reader of the packet in r. Nothing is read until the
// first call to [Reader.Header] or [Reader.Next]; r is read through a buffer,
// so it may be read past the end of the packet.
func NewReader(r io.Reader, opt ReaderOptions) *Reader {
	raw := &rawCounter{r: r}
	rd := &Reader{
		raw:      raw,
		br:       bufio.NewReaderSize(raw, 64<<10),
		opt:      opt,
		maxFrame: opt.MaxFrame,
		hash:     sha256.New(),
		names:    make(map[string]string),
	}
	if rd.maxFrame <= 0 {
		rd.maxFrame = DefaultMaxFrame
	}
	return rd
}

// Header reads and validates the preamble and header on first use, and
// returns the same header on every later call. If [ReaderOptions.PublicKey]
// is set it is called here. Errors wrap [ErrMagic], [ErrVersion] (as a
// [*VersionError]), [ErrTruncated], [ErrFormat], [ErrTooLarge] or
// [ErrSignature].
func (r *Reader) Header() (*Header, error) {
	if r.header != nil {
		return r.header, nil
	}
	if r.err != nil {
		return nil, r.err
	}
	if err := r.readHeader(); err != nil {
		r.err = err
		return nil, err
	}
	return r.header, nil
}

func (r *Reader) readHeader() error {
	if err := r.readPreamble(); err != nil {
		return err
	}
	typ, payload, off, err := r.readFrame()
	if err != nil {
		return err
	}
	if typ != frameHeader {
		return fmt.Errorf("%w: first frame is %s, want header", ErrFormat, frameName(typ))
	}
	d := decoder{b: payload, lenient: r.minor > MinorVersion}
	h, err := decodeHeader(&d)
	if err != nil {
		return fmt.Errorf("%w: header frame at offset %d: %w", ErrFormat, off, err)
	}
	if r.opt.PublicKey != nil && !r.opt.KeyAtTrailer {
		if err := r.lookupKey(h); err != nil {
			return err
		}
	}
	r.header = h
	return nil
}

func (r *Reader) lookupKey(h *Header) error {
	key, err := r.opt.PublicKey(h)
	if err != nil {
		return fmt.Errorf("%w: public key of %q: %w", ErrSignature, h.Origin, err)
	}
	if len(key) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: public key of %q has %d bytes, want %d", ErrSignature, h.Origin, len(key), ed25519.PublicKeySize)
	}
	r.key = key
	return nil
}

func (r *Reader) readPreamble() error {
	var p [preambleSize]byte
	n, err := io.ReadFull(r.br, p[:])
	r.n += int64(n)
	m := min(n, len(Magic))
	switch {
	case string(p[:m]) != Magic[:m]:
		return fmt.Errorf("%w: starts with %q", ErrMagic, p[:m])
	case n > 4 && p[4] != Version:
		return &VersionError{Got: int(p[4]), Want: Version}
	case n > 6 && p[6]&^FlagZstd != 0:
		return fmt.Errorf("%w: preamble flags %#x", ErrFormat, p[6])
	case err != nil:
		return r.readError(err)
	}
	r.minor = p[5]
	r.hash.Write(p[:])
	if p[6]&FlagZstd != 0 {
		// The rest is one zstd stream. Every limit (MaxFrame, MaxPacket)
		// counts decompressed bytes, so a small packet that expands without
		// bound is refused with ErrTooLarge; the window is capped too.
		dec, err := zstd.NewReader(r.br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(maxZstdWindow))
		if err != nil {
			return fmt.Errorf("syncpkt: decompressor: %w", err)
		}
		r.dec = dec
		r.br = bufio.NewReaderSize(dec, 64<<10)
	}
	return nil
}

// Next returns the next record: a [*Table], [*Row], [*Transfer], [*Replica],
// [*Setting], [*Invite] or [*Sealed]. It reads the header first if [Reader.Header] has
// not been called. After the last record it reads the trailer, checks the
// record count and digest ([ErrChecksum]) and the signature
// ([ErrSignature]), checks that the stream ends there, and returns io.EOF.
// A malformed record gives an error wrapping [ErrFormat] that names the
// frame and its offset.
func (r *Reader) Next() (Record, error) {
	if r.header == nil {
		if _, err := r.Header(); err != nil {
			return nil, err
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	rec, err := r.next()
	if err != nil {
		r.err = err
		if r.dec != nil {
			r.dec.Close()
		}
		return nil, err
	}
	r.count++
	return rec, nil
}

func (r *Reader) next() (Record, error) {
	typ, payload, off, err := r.readFrame()
	if err != nil {
		return nil, err
	}
	lenient := r.minor > MinorVersion
	d := decoder{b: payload, lenient: lenient, names: r.names}
	if typ == frameRow || typ == frameTransfer {
		d = textDecoder(payload, lenient, r.names)
	}
	var rec Record
	switch typ {
	case frameTrailer:
		return nil, r.finish(&d)
	case frameTable:
		var t *Table
		if t, err = decodeTable(&d); err == nil {
			r.table = t
		}
		rec = t
	case frameRow:
		rec, err = decodeRow(&d, r.table)
	case frameTransfer:
		rec, err = decodeTransfer(&d)
	case frameReplica:
		rec, err = decodeReplica(&d)
	case frameSetting:
		rec, err = decodeSetting(&d)
	case frameSecret:
		// Retired in version 3: no packet carries a private key.
		err = errString("secret frame (a private key): no packet may carry one")
	case frameInvite:
		if r.header.Kind != KindCreation {
			err = errf("invite in a %s packet", r.header.Kind)
			break
		}
		rec, err = decodeInvite(&d)
	case frameSealed:
		rec, err = decodeSealed(&d)
	case frameHeader:
		err = errString("second header")
	default:
		err = errString("unknown frame type")
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s frame at offset %d: %w", ErrFormat, frameName(typ), off, err)
	}
	return rec, nil
}

// finish checks the trailer and the end of the stream.
func (r *Reader) finish(d *decoder) error {
	digest := r.hash.Sum(nil)
	t, err := decodeTrailer(d)
	if err != nil {
		return fmt.Errorf("%w: trailer: %w", ErrFormat, err)
	}
	if t.count != r.count {
		return fmt.Errorf("%w: trailer counts %d records, packet has %d", ErrChecksum, t.count, r.count)
	}
	if !bytes.Equal(t.digest[:], digest) {
		return fmt.Errorf("%w: trailer digest %x, packet digest %x", ErrChecksum, t.digest, digest)
	}
	if r.opt.PublicKey != nil && r.opt.KeyAtTrailer {
		if err := r.lookupKey(r.header); err != nil {
			return err
		}
	}
	if r.key != nil {
		if t.sig == [SignatureSize]byte{} {
			return fmt.Errorf("%w: packet is not signed", ErrSignature)
		}
		if !ed25519.Verify(r.key, digest, t.sig[:]) {
			return fmt.Errorf("%w: packet from %q not signed by its key", ErrSignature, r.header.Origin)
		}
	}
	// A packet is the whole stream: bytes after the trailer mean the
	// stream is not what the sender wrote.
	switch _, err := r.br.ReadByte(); {
	case err == nil:
		return fmt.Errorf("%w: data after trailer at offset %d", ErrFormat, r.n)
	case err != io.EOF:
		return r.readError(err) // damaged compressed bytes after the trailer: ErrChecksum
	}
	r.digest = digest
	return io.EOF
}

// readFrame reads one frame and returns its type, its payload (valid until
// the next call) and its offset in the packet. Every frame but the trailer
// goes into the digest exactly as read.
func (r *Reader) readFrame() (typ byte, payload []byte, off int64, err error) {
	off = r.n
	head := r.head[:]
	i := 0
	for {
		c, err := r.br.ReadByte()
		if err != nil {
			return 0, nil, off, r.readError(err)
		}
		r.n++
		head[i] = c
		i++
		if i > 1 && c < 0x80 {
			break
		}
		if i == len(head) {
			return 0, nil, off, fmt.Errorf("%w: frame at offset %d: bad length", ErrFormat, off)
		}
	}
	typ = head[0]
	size, k := uvarint(head[1:i])
	if k <= 0 {
		return 0, nil, off, fmt.Errorf("%w: %s frame at offset %d: bad length", ErrFormat, frameName(typ), off)
	}
	if size > uint64(r.maxFrame) {
		return 0, nil, off, fmt.Errorf("%w: %s frame at offset %d declares %d bytes, limit %d", ErrTooLarge, frameName(typ), off, size, r.maxFrame)
	}
	if r.opt.MaxPacket > 0 && (r.n > r.opt.MaxPacket || size > uint64(r.opt.MaxPacket-r.n)) {
		return 0, nil, off, fmt.Errorf("%w: %s frame at offset %d runs past the %d-byte packet limit", ErrTooLarge, frameName(typ), off, r.opt.MaxPacket)
	}
	if err := r.readPayload(int(size)); err != nil {
		return 0, nil, off, err
	}
	if typ != frameTrailer {
		r.hash.Write(head[:i])
		r.hash.Write(r.buf)
	}
	return typ, r.buf, off, nil
}

// growStep bounds how far the frame buffer grows ahead of the bytes actually
// read, so a frame that declares a large length but ends early costs little.
const growStep = 1 << 20

// readPayload reads n bytes into r.buf, reusing it when it is large enough.
// It never allocates more than n bytes in one piece.
func (r *Reader) readPayload(n int) error {
	if n <= cap(r.buf) {
		r.buf = r.buf[:n]
		m, err := io.ReadFull(r.br, r.buf)
		r.n += int64(m)
		if err != nil {
			return r.readError(err)
		}
		return nil
	}
	buf := r.buf[:0]
	for len(buf) < n {
		step := min(n-len(buf), growStep)
		if len(buf)+step > cap(buf) {
			grown := make([]byte, len(buf), min(n, max(2*cap(buf), len(buf)+step)))
			copy(grown, buf)
			buf = grown
		}
		m, err := io.ReadFull(r.br, buf[len(buf):len(buf)+step])
		buf = buf[:len(buf)+m]
		r.n += int64(m)
		if err != nil {
			r.buf = buf[:0]
			return r.readError(err)
		}
	}
	r.buf = buf
	return nil
}

// readError turns the end of the stream into ErrTruncated, and a
// compressed body that does not decode into ErrChecksum.
func (r *Reader) readError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		if r.dec != nil {
			return fmt.Errorf("%w: stream ends at offset %d of the decompressed body, after %d bytes of the packet", ErrTruncated, r.n, r.raw.n)
		}
		return fmt.Errorf("%w: stream ends at offset %d", ErrTruncated, r.n)
	}
	if r.dec != nil {
		// Most likely the compressed bytes were damaged (zstd checks its
		// own frame checksum); the underlying error stays in the chain.
		return fmt.Errorf("%w: compressed body does not decode after offset %d: %w", ErrChecksum, r.n, err)
	}
	return fmt.Errorf("syncpkt: read: %w", err)
}

// Digest returns the SHA-256 digest of the packet (every byte before the
// trailer) once [Reader.Next] has returned io.EOF, and nil before.
func (r *Reader) Digest() []byte {
	if r.digest == nil {
		return nil
	}
	return append([]byte(nil), r.digest...)
}

// N returns the number of bytes of the packet read so far.
func (r *Reader) N() int64 { return r.n }
