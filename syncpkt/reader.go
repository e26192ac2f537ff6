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
// packet up to [DefaultMaxFrame] per record, [DefaultMaxRecords] records
// other than rows and transfers and [DefaultMaxMeta] bytes of them, without
// checking its signature, which suits tests and inspection tools only.
type ReaderOptions struct {
	// PublicKey returns the key that must have signed a packet with this
	// header, typically the registry's key for h.Origin. It is called once,
	// by the first call to [Reader.Next] (after [Reader.Header] returned,
	// so the caller may check the header first), before any record is
	// read: an error (an unknown origin, a wrong family) refuses the packet
	// before any record is returned; the error is wrapped together with
	// [ErrSignature]. Nil means the signature is not verified.
	//
	// It may return a nil key and no error when the receiver knows no key
	// yet: the first chunk must then bring it, through Successor.
	PublicKey func(h *Header) (ed25519.PublicKey, error)

	// Successor, if set, lets the first chunk bring the key the packet is
	// signed with: when the first chunk's checkpoint (or the trailer) does
	// not verify with the current key, or there is none, it is called once
	// with the current key (nil if none) and the registry entries and
	// settings the first chunk carries, in packet order, decoded but not
	// yet authenticated (frames that do not decode are left out). A key it
	// returns is tried; if the chunk verifies with it, it is the key for
	// the rest of the packet. The callback decides what vouches for the
	// key: the current key's endorsement after a key rotation, a creation
	// entry signed by a member the receiver knows, an enrolment it can
	// check. Nil, or a nil return, means no other key is tried.
	Successor func(cur ed25519.PublicKey, first []Record) ed25519.PublicKey

	// MaxFrame is the largest single frame (one record) in bytes. A frame
	// declaring more fails with [ErrTooLarge] before anything is allocated
	// for it. 0 means [DefaultMaxFrame].
	MaxFrame int64

	// MaxPacket is the largest packet in bytes of the uncompressed stream;
	// 0 means no limit.
	MaxPacket int64

	// MaxRecords is the most records other than rows and transfers (tables,
	// registry entries, settings, sealed statements, invites, secrets) a
	// packet may hold; one more fails with [ErrTooLarge] as soon as its
	// frame is read. Rows and transfers, one row's change each, are bounded
	// by MaxPacket. 0 means [DefaultMaxRecords]; negative means no limit.
	MaxRecords int64

	// MaxMeta is the most bytes the frames counted by MaxRecords may take
	// together: what a receiver may have to hold in memory until the end
	// of the packet (settings, registry entries). 0 means [DefaultMaxMeta];
	// negative means no limit.
	MaxMeta int64
}

// Default limits of a [Reader] whose [ReaderOptions] leave them zero.
const (
	// DefaultMaxRecords is the default of [ReaderOptions.MaxRecords].
	DefaultMaxRecords = 65536
	// DefaultMaxMeta is the default of [ReaderOptions.MaxMeta]: 16 MiB.
	DefaultMaxMeta = 16 << 20
)

// StaticPublicKey returns a [ReaderOptions.PublicKey] function that accepts
// packets signed by key, whatever their header says.
func StaticPublicKey(key ed25519.PublicKey) func(*Header) (ed25519.PublicKey, error) {
	return func(*Header) (ed25519.PublicKey, error) { return key, nil }
}

// A Reader decodes one packet from an io.Reader. [Reader.Header] returns the
// header; [Reader.Next] returns the records one by one and io.EOF once the
// trailer has been read and checked.
//
// The body is read one chunk at a time (SPEC.md, Checkpoints): the frames of
// a chunk are held, undecoded, until the checkpoint or trailer that ends it
// has verified (digest, then signature when a key was given); only then are
// its records decoded and returned. So with a key, Next never returns a
// record its origin did not sign, and a reader holds at most one chunk
// ([ChunkSize] bytes) and one frame. The trailer is checked before the last
// chunk's records are returned; io.EOF then means the whole packet verified.
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
	keyDone  bool              // PublicKey was called
	key      ed25519.PublicKey // nil when signatures are not checked (or no key yet)
	table    *Table            // current table; nil before the first
	count    uint64            // body records read (checkpoints not counted)
	meta     int64             // records counted by MaxRecords
	metaSize int64             // their payload bytes
	digest   []byte            // set at io.EOF
	buf      []byte            // payload of a header, checkpoint or trailer frame, reused
	head     [frameHeadMax]byte
	names    map[string]string // replica IDs seen in rows, shared
	err      error             // sticky; io.EOF after the trailer
	dec      *zstd.Decoder     // nil unless the body is compressed

	chunk     []byte      // frames of the current chunk as read: type, length, payload
	chunkOff  int64       // offset of chunk[0] in the packet
	bodyOff   int64       // offset of the first chunk: right after the header
	chunkN    int         // record frames in chunk
	pos       int         // next frame of a verified chunk to decode; len(chunk) when drained
	verified  bool        // chunk's checkpoint or the trailer verified
	last      bool        // chunk ended at the trailer: io.EOF once drained
	prevChunk int64       // bytes of the chunk before the last checkpoint; -1 if none pending
	raw       *rawCounter // bytes read from the caller's reader
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
		raw:       raw,
		br:        bufio.NewReaderSize(raw, 64<<10),
		opt:       opt,
		maxFrame:  opt.MaxFrame,
		hash:      sha256.New(),
		names:     make(map[string]string),
		prevChunk: -1,
	}
	if rd.maxFrame <= 0 {
		rd.maxFrame = DefaultMaxFrame
	}
	return rd
}

// Header reads and validates the preamble and header on first use, and
// returns the same header on every later call. [ReaderOptions.PublicKey] is
// not called yet: the caller may check the header first. Errors wrap [ErrMagic], [ErrVersion] (as a
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
	r.header = h
	r.bodyOff = r.n
	return nil
}

func (r *Reader) lookupKey(h *Header) error {
	key, err := r.opt.PublicKey(h)
	if err != nil {
		return fmt.Errorf("%w: public key of %q: %w", ErrSignature, h.Origin, err)
	}
	if key == nil {
		return nil // the first chunk brings it (Successor)
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
// [*Setting], [*Invite] or [*Sealed]. It reads the header first
// if [Reader.Header] has not been called, then looks up the key. Records
// come a chunk at a time, once the checkpoint or trailer that ends their
// chunk has verified ([ErrChecksum], [ErrSignature]); the trailer also
// checks the record count and that the stream ends there, and Next returns
// io.EOF after the last record. A malformed record gives an error wrapping
// [ErrFormat] that names the frame and its offset; a record beyond a limit
// of [ReaderOptions], [ErrTooLarge].
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
		r.chunk = nil
		return nil, err
	}
	return rec, nil
}

func (r *Reader) next() (Record, error) {
	if !r.keyDone {
		r.keyDone = true
		if r.opt.PublicKey != nil {
			if err := r.lookupKey(r.header); err != nil {
				return nil, err
			}
		}
	}
	for !r.verified || r.pos == len(r.chunk) {
		if r.verified && r.last {
			return nil, io.EOF
		}
		if err := r.readChunk(); err != nil {
			return nil, err
		}
	}
	typ, payload, off := r.chunkFrame()
	return r.decode(typ, payload, off)
}

// chunkFrame returns the next frame of the verified chunk.
func (r *Reader) chunkFrame() (typ byte, payload []byte, off int64) {
	off = r.chunkOff + int64(r.pos)
	typ = r.chunk[r.pos]
	size, k := uvarint(r.chunk[r.pos+1:]) // checked when read
	start := r.pos + 1 + k
	r.pos = start + int(size)
	return typ, r.chunk[start:r.pos:r.pos], off
}

// isRecordFrame reports the frame types a chunk holds.
func isRecordFrame(typ byte) bool {
	switch typ {
	case frameTable, frameRow, frameTransfer, frameReplica, frameSetting, frameSecret, frameInvite, frameSealed:
		return true
	}
	return false
}

// readChunk reads the frames of the next chunk, up to and including the
// checkpoint or trailer that ends it, and verifies it. Only framing and
// limits are checked before: records are decoded once verified.
func (r *Reader) readChunk() error {
	if r.chunk != nil && int64(cap(r.chunk)) > 2*chunkSize {
		r.chunk = nil // a huge frame is not kept for the rest of the packet
	}
	r.chunk, r.chunkN, r.pos, r.verified = r.chunk[:0], 0, 0, false
	r.chunkOff = r.n
	for {
		off := r.n
		typ, size, n, err := r.readHead()
		if err != nil {
			return err
		}
		switch {
		case typ == frameCheckpoint || typ == frameTrailer:
			if err := r.readPayload(size); err != nil {
				return err
			}
			if typ == frameTrailer {
				return r.finish(off)
			}
			return r.checkpoint(off, n)
		case typ == frameHeader:
			return fmt.Errorf("%w: header frame at offset %d: second header", ErrFormat, off)
		case !isRecordFrame(typ):
			return fmt.Errorf("%w: %s frame at offset %d: unknown frame type", ErrFormat, frameName(typ), off)
		}
		// The chunk rules (SPEC.md): a checkpoint ends a chunk exactly
		// when the next frame would take it past ChunkSize.
		if r.prevChunk >= 0 && r.prevChunk+int64(n)+int64(size) <= chunkSize {
			return fmt.Errorf("%w: checkpoint before offset %d ends a chunk early", ErrFormat, off)
		}
		r.prevChunk = -1
		if r.chunkN > 0 && int64(len(r.chunk))+int64(n)+int64(size) > chunkSize {
			return fmt.Errorf("%w: %s frame at offset %d runs the chunk past %d bytes without a checkpoint", ErrFormat, frameName(typ), off, chunkSize)
		}
		if typ != frameRow && typ != frameTransfer {
			r.meta++
			r.metaSize += int64(size)
			if max := r.opt.MaxRecords; max >= 0 && r.meta > limitOr(max, DefaultMaxRecords) {
				return fmt.Errorf("%w: %s frame at offset %d: more than %d records other than rows and transfers", ErrTooLarge, frameName(typ), off, limitOr(max, DefaultMaxRecords))
			}
			if max := r.opt.MaxMeta; max >= 0 && r.metaSize > limitOr(max, DefaultMaxMeta) {
				return fmt.Errorf("%w: %s frame at offset %d: records other than rows and transfers take more than %d bytes", ErrTooLarge, frameName(typ), off, limitOr(max, DefaultMaxMeta))
			}
		}
		r.chunk = append(r.chunk, r.head[:n]...)
		if r.chunk, err = r.appendPayload(r.chunk, size); err != nil {
			return err
		}
		r.hash.Write(r.chunk[len(r.chunk)-n-size:])
		r.chunkN++
		r.count++
	}
}

func limitOr(n, def int64) int64 {
	if n == 0 {
		return def
	}
	return n
}

// checkpoint checks the checkpoint frame whose payload is in r.buf against
// the digest of every byte before it, then its signature, and marks the
// chunk verified.
func (r *Reader) checkpoint(off int64, headLen int) error {
	d := decoder{b: r.buf, lenient: r.minor > MinorVersion}
	c, err := decodeCheckpoint(&d)
	if err != nil {
		return fmt.Errorf("%w: checkpoint frame at offset %d: %w", ErrFormat, off, err)
	}
	if r.chunkN == 0 {
		return fmt.Errorf("%w: checkpoint frame at offset %d ends an empty chunk", ErrFormat, off)
	}
	digest := r.hash.Sum(nil)
	if !bytes.Equal(c.digest[:], digest) {
		return fmt.Errorf("%w: checkpoint at offset %d: digest %x, packet digest %x", ErrChecksum, off, c.digest, digest)
	}
	if err := r.verify(CheckpointMessage(digest), c.sig, off); err != nil {
		return err
	}
	// The checkpoint is part of the packet, and of the digests after it.
	r.hash.Write(r.head[:headLen])
	r.hash.Write(r.buf)
	r.prevChunk = int64(len(r.chunk))
	r.verified = true
	return nil
}

// verify checks sig over msg with the packet's key, or with a key the
// chunk brings (ReaderOptions.Successor). Without PublicKey it checks
// nothing.
func (r *Reader) verify(msg []byte, sig [SignatureSize]byte, off int64) error {
	if r.opt.PublicKey == nil {
		return nil
	}
	if sig == [SignatureSize]byte{} {
		return fmt.Errorf("%w: packet is not signed (chunk ending at offset %d)", ErrSignature, off)
	}
	if r.key != nil && ed25519.Verify(r.key, msg, sig[:]) {
		return nil
	}
	if r.opt.Successor != nil && r.chunkOff == r.bodyOff {
		// The first chunk only, one call: a forged chunk costs the
		// callback's checks and one more signature check at most.
		var first []Record
		for p := 0; p < len(r.chunk); {
			typ := r.chunk[p]
			size, k := uvarint(r.chunk[p+1:])
			payload := r.chunk[p+1+k : p+1+k+int(size)]
			p += 1 + k + int(size)
			d := decoder{b: payload, lenient: r.minor > MinorVersion}
			switch typ {
			case frameReplica:
				if e, err := decodeReplica(&d); err == nil {
					first = append(first, e)
				}
			case frameSetting:
				if st, err := decodeSetting(&d); err == nil {
					first = append(first, st)
				}
			}
		}
		next := r.opt.Successor(r.key, first)
		if len(next) == ed25519.PublicKeySize && ed25519.Verify(next, msg, sig[:]) {
			r.key = append(ed25519.PublicKey(nil), next...)
			return nil
		}
	}
	if r.key == nil {
		return fmt.Errorf("%w: no key of %q verifies the chunk ending at offset %d", ErrSignature, r.header.Origin, off)
	}
	return fmt.Errorf("%w: chunk ending at offset %d of the packet from %q not signed by its key", ErrSignature, off, r.header.Origin)
}

// Key returns the key the packet's chunks verified with so far (nil before
// the first record, or when no key is checked): the registry's, or one the
// first chunk brought through [ReaderOptions.Successor].
func (r *Reader) Key() ed25519.PublicKey { return r.key }

// decode decodes one record frame of a verified chunk.
func (r *Reader) decode(typ byte, payload []byte, off int64) (Record, error) {
	var err error
	lenient := r.minor > MinorVersion
	d := decoder{b: payload, lenient: lenient, names: r.names}
	if typ == frameRow || typ == frameTransfer {
		d = textDecoder(payload, lenient, r.names)
	}
	var rec Record
	switch typ {
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
	default:
		err = errString("unknown frame type")
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s frame at offset %d: %w", ErrFormat, frameName(typ), off, err)
	}
	return rec, nil
}

// finish checks the trailer (payload in r.buf) and the end of the stream;
// the last chunk, the frames since the last checkpoint, is then verified.
func (r *Reader) finish(off int64) error {
	digest := r.hash.Sum(nil)
	d := decoder{b: r.buf, lenient: r.minor > MinorVersion}
	t, err := decodeTrailer(&d)
	if err != nil {
		return fmt.Errorf("%w: trailer: %w", ErrFormat, err)
	}
	if t.count != r.count {
		return fmt.Errorf("%w: trailer counts %d records, packet has %d", ErrChecksum, t.count, r.count)
	}
	if !bytes.Equal(t.digest[:], digest) {
		return fmt.Errorf("%w: trailer digest %x, packet digest %x", ErrChecksum, t.digest, digest)
	}
	if r.prevChunk >= 0 {
		return fmt.Errorf("%w: checkpoint right before the trailer at offset %d", ErrFormat, off)
	}
	if err := r.verify(digest, t.sig, off); err != nil {
		return err
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
	r.verified, r.last = true, true
	return nil
}

// readFrame reads one whole frame into r.buf and returns its type, its
// payload (valid until the next call) and its offset in the packet. The
// header frame goes into the digest.
func (r *Reader) readFrame() (typ byte, payload []byte, off int64, err error) {
	off = r.n
	typ, size, n, err := r.readHead()
	if err != nil {
		return 0, nil, off, err
	}
	if err := r.readPayload(size); err != nil {
		return 0, nil, off, err
	}
	if typ == frameHeader {
		r.hash.Write(r.head[:n])
		r.hash.Write(r.buf)
	}
	return typ, r.buf, off, nil
}

// readHead reads a frame's type and length into r.head and checks the
// length against the limits, before anything is allocated for it. It
// returns the type, the payload size and the bytes of the head.
func (r *Reader) readHead() (typ byte, size int, n int, err error) {
	off := r.n
	head := r.head[:]
	i := 0
	for {
		c, err := r.br.ReadByte()
		if err != nil {
			return 0, 0, 0, r.readError(err)
		}
		r.n++
		head[i] = c
		i++
		if i > 1 && c < 0x80 {
			break
		}
		if i == len(head) {
			return 0, 0, 0, fmt.Errorf("%w: frame at offset %d: bad length", ErrFormat, off)
		}
	}
	typ = head[0]
	u, k := uvarint(head[1:i])
	if k <= 0 {
		return 0, 0, 0, fmt.Errorf("%w: %s frame at offset %d: bad length", ErrFormat, frameName(typ), off)
	}
	if u > uint64(r.maxFrame) {
		return 0, 0, 0, fmt.Errorf("%w: %s frame at offset %d declares %d bytes, limit %d", ErrTooLarge, frameName(typ), off, u, r.maxFrame)
	}
	if r.opt.MaxPacket > 0 && (r.n > r.opt.MaxPacket || u > uint64(r.opt.MaxPacket-r.n)) {
		return 0, 0, 0, fmt.Errorf("%w: %s frame at offset %d runs past the %d-byte packet limit", ErrTooLarge, frameName(typ), off, r.opt.MaxPacket)
	}
	return typ, int(u), i, nil
}

// growStep bounds how far the frame buffer grows ahead of the bytes actually
// read, so a frame that declares a large length but ends early costs little.
const growStep = 1 << 20

// appendPayload reads n bytes onto buf, growing it no further ahead of the
// bytes actually read than growStep.
func (r *Reader) appendPayload(buf []byte, n int) ([]byte, error) {
	want := len(buf) + n
	for len(buf) < want {
		step := min(want-len(buf), growStep)
		if len(buf)+step > cap(buf) {
			grown := make([]byte, len(buf), min(want, max(2*cap(buf), len(buf)+step)))
			copy(grown, buf)
			buf = grown
		}
		m, err := io.ReadFull(r.br, buf[len(buf):len(buf)+step])
		buf = buf[:len(buf)+m]
		r.n += int64(m)
		if err != nil {
			return buf, r.readError(err)
		}
	}
	return buf, nil
}

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
	buf, err := r.appendPayload(r.buf[:0], n)
	if err != nil {
		r.buf = buf[:0]
		return err
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
