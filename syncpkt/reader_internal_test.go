package syncpkt

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"io"
	"runtime"
	"testing"
	"time"
)

// Tests in this file build packets frame by frame, so they can write what a
// Writer refuses to.

var rawKey = func() ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i)
	}
	return ed25519.NewKeyFromSeed(seed)
}()

var rawOpts = ReaderOptions{PublicKey: StaticPublicKey(rawKey.Public().(ed25519.PublicKey))}

type rawFrame struct {
	typ     byte
	payload []byte
	length  []byte // encoded payload length; nil means the minimal uvarint
}

// rawPacket describes a packet to build byte by byte.
type rawPacket struct {
	major, minor, flags byte
	frames              []rawFrame
	unsigned            bool
	tamper              func(*trailer) // changes the trailer before it is written
	trailerExtra        []byte         // appended to the trailer payload
	after               []byte         // bytes after the trailer
}

func (p rawPacket) bytes() []byte {
	b := append([]byte(Magic), p.major, p.minor, p.flags)
	for _, f := range p.frames {
		b = append(b, f.typ)
		if f.length != nil {
			b = append(b, f.length...)
		} else {
			b = appendUvarint(b, uint64(len(f.payload)))
		}
		b = append(b, f.payload...)
	}
	t := trailer{digest: sha256.Sum256(b)}
	for _, f := range p.frames {
		if f.typ != frameHeader {
			t.count++
		}
	}
	if !p.unsigned {
		copy(t.sig[:], ed25519.Sign(rawKey, t.digest[:]))
	}
	if p.tamper != nil {
		p.tamper(&t)
	}
	payload := append(appendTrailer(nil, &t), p.trailerExtra...)
	b = append(b, frameTrailer)
	b = appendUvarint(b, uint64(len(payload)))
	b = append(b, payload...)
	return append(b, p.after...)
}

func rawHeader() *Header {
	return &Header{
		Kind: KindSync, Family: "f", Origin: "a", Target: "b",
		Created: time.Unix(1700000000, 0).UTC(),
		Base:    map[string]uint64{"a": 1}, Upto: map[string]uint64{"a": 2},
	}
}

func headerFrame(h *Header) rawFrame {
	return rawFrame{typ: frameHeader, payload: appendHeader(nil, h)}
}

var rawTable = &Table{Name: "t", Columns: []Column{{Name: "k", Type: "INTEGER", Key: 1}, {Name: "v", Type: "TEXT"}}}

func tableFrame(t *Table) rawFrame { return rawFrame{typ: frameTable, payload: appendTable(nil, t)} }

func rowFrame(vs ...Value) rawFrame {
	return rawFrame{typ: frameRow, payload: appendRow(nil, &Row{Version: 1, Master: "a", Origin: "a", Epoch: 1, Values: vs})}
}

// packet returns a signed v1.0 packet of the given frames.
func packet(frames ...rawFrame) rawPacket {
	return rawPacket{major: Version, minor: MinorVersion, frames: frames}
}

// good returns the frames of a small valid packet.
func good() []rawFrame {
	return []rawFrame{headerFrame(rawHeader()), tableFrame(rawTable), rowFrame(Int(1), Text("x"))}
}

// readAll reads a packet to the end; nil means Next returned io.EOF.
func readAll(r io.Reader, opt ReaderOptions) error {
	pr := NewReader(r, opt)
	if _, err := pr.Header(); err != nil {
		return err
	}
	for {
		_, err := pr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

var errUnknownOrigin = errors.New("unknown origin")

func TestReader_Rejects(t *testing.T) {
	h := rawHeader()
	mod := func(change func(h *Header)) rawFrame {
		h := rawHeader()
		change(h)
		return headerFrame(h)
	}
	headerWith := func(extra ...byte) rawFrame {
		return rawFrame{typ: frameHeader, payload: cat(appendHeader(nil, h), extra)}
	}
	// A header whose Base map is written out of order.
	unsorted := func(k1, k2 string) rawFrame {
		b := append([]byte{byte(KindSync)}, appendString(nil, "f")...)
		b = appendString(b, "a")
		b = appendString(b, "b")
		b = appendVarint(b, 0)
		b = appendString(b, "")
		b = appendVarint(b, 0)
		b = appendUvarint(b, 2)
		b = appendUvarint(appendString(b, k1), 1)
		b = appendUvarint(appendString(b, k2), 1)
		b = appendUvarint(b, 0)
		return rawFrame{typ: frameHeader, payload: b}
	}
	creation := rawHeader()
	creation.Kind = KindCreation
	otherKey := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public().(ed25519.PublicKey)
	withKey := func(key ed25519.PublicKey, err error) ReaderOptions {
		return ReaderOptions{PublicKey: func(*Header) (ed25519.PublicKey, error) { return key, err }}
	}
	row := rowFrame(Int(1), Text("x"))
	tests := []struct {
		name string
		data []byte
		opt  ReaderOptions
		want error
	}{
		{"empty stream", nil, rawOpts, ErrTruncated},
		{"wrong magic", cat([]byte("MSPX"), packet(good()...).bytes()[4:]), rawOpts, ErrMagic},
		{"not a packet", []byte("GIF89a\x00\x00\x00"), rawOpts, ErrMagic},
		{"short wrong magic", []byte("X"), rawOpts, ErrMagic},
		{"version 9", rawPacket{major: 9, frames: good()}.bytes(), rawOpts, ErrVersion},
		{"version 0", rawPacket{major: 0, frames: good()}.bytes(), rawOpts, ErrVersion},
		{"preamble cut after version 9", []byte("MSPK\x09"), rawOpts, ErrVersion},
		{"reserved flag set", rawPacket{major: Version, flags: 2, frames: good()}.bytes(), rawOpts, ErrFormat},
		{"zstd flag on an uncompressed body", rawPacket{major: Version, flags: FlagZstd, frames: good()}.bytes(), rawOpts, ErrChecksum},
		{"no header", packet(tableFrame(rawTable)).bytes(), rawOpts, ErrFormat},
		{"only trailer", packet().bytes(), rawOpts, ErrFormat},
		{"header zero kind", packet(mod(func(h *Header) { h.Kind = 0 })).bytes(), rawOpts, ErrFormat},
		{"header unknown kind", packet(mod(func(h *Header) { h.Kind = 9 })).bytes(), rawOpts, ErrFormat},
		{"header no family", packet(mod(func(h *Header) { h.Family = "" })).bytes(), rawOpts, ErrFormat},
		{"header no origin", packet(mod(func(h *Header) { h.Origin = "" })).bytes(), rawOpts, ErrFormat},
		{"header no target", packet(mod(func(h *Header) { h.Target = "" })).bytes(), rawOpts, ErrFormat},
		{"header extra bytes in v1.0", packet(headerWith(0)).bytes(), rawOpts, ErrFormat},
		{"header cut short", packet(rawFrame{typ: frameHeader, payload: appendHeader(nil, h)[:10]}).bytes(), rawOpts, ErrFormat},
		{"header map unsorted", packet(unsorted("b", "a")).bytes(), rawOpts, ErrFormat},
		{"header map duplicate", packet(unsorted("a", "a")).bytes(), rawOpts, ErrFormat},
		{"second header", packet(headerFrame(h), headerFrame(h)).bytes(), rawOpts, ErrFormat},
		{"unknown frame type", packet(headerFrame(h), rawFrame{typ: 0x42}).bytes(), rawOpts, ErrFormat},
		{"frame type zero", packet(headerFrame(h), rawFrame{typ: 0}).bytes(), rawOpts, ErrFormat},
		{"non-minimal frame length", packet(headerFrame(h), rawFrame{typ: frameSetting, payload: []byte{1, 'k', 0}, length: []byte{0x83, 0x00}}).bytes(), rawOpts, ErrFormat},
		{"frame length overflows", packet(headerFrame(h), rawFrame{typ: frameSetting, length: bytes.Repeat([]byte{0xff}, 10)}).bytes(), rawOpts, ErrFormat},
		{"row before table", packet(headerFrame(h), row).bytes(), rawOpts, ErrFormat},
		{"row too few values", packet(headerFrame(h), tableFrame(rawTable), rowFrame(Int(1))).bytes(), rawOpts, ErrFormat},
		{"row too many values", packet(headerFrame(h), tableFrame(rawTable), rowFrame(Int(1), Null(), Null())).bytes(), rawOpts, ErrFormat},
		{"row unknown value kind", packet(headerFrame(h), tableFrame(rawTable), rawFrame{typ: frameRow, payload: cat(row.payload[:len(row.payload)-3], []byte{9, 0, 0})}).bytes(), rawOpts, ErrFormat},
		{"row bad bool", packet(headerFrame(h), tableFrame(rawTable), rawFrame{typ: frameRow, payload: []byte{1, 1, 'a', 1, 'a', 1, 2, 2, 0, 0}}).bytes(), rawOpts, ErrFormat},
		{"row value count beyond frame", packet(headerFrame(h), tableFrame(rawTable), rawFrame{typ: frameRow, payload: cat([]byte{1, 1, 'a', 1, 'a', 1, 0}, appendUvarint(nil, 1<<40))}).bytes(), rawOpts, ErrFormat},
		{"row non-minimal varint", packet(headerFrame(h), tableFrame(rawTable), rawFrame{typ: frameRow, payload: []byte{0x81, 0x00, 1, 'a', 1, 'a', 1, 0, 2, 0, 0}}).bytes(), rawOpts, ErrFormat},
		{"row string beyond frame", packet(headerFrame(h), tableFrame(rawTable), rawFrame{typ: frameRow, payload: []byte{1, 0x7f, 'a'}}).bytes(), rawOpts, ErrFormat},
		{"row extra bytes", packet(headerFrame(h), tableFrame(rawTable), rawFrame{typ: frameRow, payload: cat(row.payload, []byte{0})}).bytes(), rawOpts, ErrFormat},
		{"table without key", packet(headerFrame(h), tableFrame(&Table{Name: "t", Columns: []Column{{Name: "a"}}})).bytes(), rawOpts, ErrFormat},
		{"table duplicate column", packet(headerFrame(h), tableFrame(&Table{Name: "t", Columns: []Column{{Name: "a", Key: 1}, {Name: "a"}}})).bytes(), rawOpts, ErrFormat},
		{"table huge key position", packet(headerFrame(h), rawFrame{typ: frameTable, payload: cat([]byte{1, 't', 0, 1, 1, 'a', 0, 0}, appendUvarint(nil, 1<<62))}).bytes(), rawOpts, ErrFormat},
		{"table column count beyond frame", packet(headerFrame(h), rawFrame{typ: frameTable, payload: cat([]byte{1, 't', 0}, appendUvarint(nil, 1<<50))}).bytes(), rawOpts, ErrFormat},
		{"transfer without key", packet(headerFrame(h), rawFrame{typ: frameTransfer, payload: appendTransfer(nil, &Transfer{Table: "t"})}).bytes(), rawOpts, ErrFormat},
		{"replica without id", packet(headerFrame(h), rawFrame{typ: frameReplica, payload: appendReplica(nil, &Replica{})}).bytes(), rawOpts, ErrFormat},
		{"setting without key", packet(headerFrame(h), rawFrame{typ: frameSetting, payload: appendSetting(nil, &Setting{})}).bytes(), rawOpts, ErrFormat},
		{"secret (retired) in sync packet", packet(headerFrame(h), rawFrame{typ: frameSecret, payload: appendBytes(nil, rawKey)}).bytes(), rawOpts, ErrFormat},
		{"secret (retired) in creation packet", packet(headerFrame(creation), rawFrame{typ: frameSecret, payload: appendBytes(nil, rawKey)}).bytes(), rawOpts, ErrFormat},
		{"invite in sync packet", packet(headerFrame(h), rawFrame{typ: frameInvite, payload: appendInvite(nil, &Invite{Secret: []byte("s")})}).bytes(), rawOpts, ErrFormat},
		{"empty invite", packet(headerFrame(creation), rawFrame{typ: frameInvite, payload: appendInvite(nil, &Invite{})}).bytes(), rawOpts, ErrFormat},
		{"trailer count low", rawPacket{major: Version, frames: good(), tamper: func(t *trailer) { t.count-- }}.bytes(), rawOpts, ErrChecksum},
		{"trailer count high", rawPacket{major: Version, frames: good(), tamper: func(t *trailer) { t.count++ }}.bytes(), rawOpts, ErrChecksum},
		{"trailer digest wrong", rawPacket{major: Version, frames: good(), tamper: func(t *trailer) { t.digest[0] ^= 1 }}.bytes(), rawOpts, ErrChecksum},
		{"trailer extra bytes in v1.0", rawPacket{major: Version, frames: good(), trailerExtra: []byte{0}}.bytes(), rawOpts, ErrFormat},
		{"trailer short", cat(packet(good()...).bytes()[:len(packet(good()...).bytes())-98], []byte{1, 0}), rawOpts, ErrFormat},
		{"data after trailer", rawPacket{major: Version, frames: good(), after: []byte{0}}.bytes(), rawOpts, ErrFormat},
		{"packet after trailer", cat(packet(good()...).bytes(), packet(good()...).bytes()), rawOpts, ErrFormat},
		{"unsigned", rawPacket{major: Version, frames: good(), unsigned: true}.bytes(), rawOpts, ErrSignature},
		{"bad signature", rawPacket{major: Version, frames: good(), tamper: func(t *trailer) { t.sig[10] ^= 0x40 }}.bytes(), rawOpts, ErrSignature},
		{"wrong key", packet(good()...).bytes(), withKey(otherKey, nil), ErrSignature},
		{"public key refused", packet(good()...).bytes(), withKey(nil, errUnknownOrigin), errUnknownOrigin},
		{"public key refused is ErrSignature", packet(good()...).bytes(), withKey(nil, errUnknownOrigin), ErrSignature},
		{"public key short", packet(good()...).bytes(), withKey(otherKey[:31], nil), ErrSignature},
		{"public key nil", packet(good()...).bytes(), withKey(nil, nil), ErrSignature},
		{"frame over MaxFrame", packet(good()...).bytes(), ReaderOptions{MaxFrame: 8}, ErrTooLarge},
		{"packet over MaxPacket", packet(good()...).bytes(), ReaderOptions{MaxPacket: 40}, ErrTooLarge},
		{"huge declared frame", cat([]byte(Magic), []byte{Version, 0, 0, frameHeader}, appendUvarint(nil, 1<<62)), rawOpts, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := readAll(bytes.NewReader(tt.data), tt.opt)
			t.Log(err)
			if !errors.Is(err, tt.want) {
				t.Fatalf("read error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestReader_VersionError(t *testing.T) {
	err := readAll(bytes.NewReader(rawPacket{major: 9, frames: good()}.bytes()), rawOpts)
	var ve *VersionError
	if !errors.As(err, &ve) || ve.Got != 9 || ve.Want != Version {
		t.Fatalf("error = %#v, want *VersionError{Got: 9, Want: %d}", err, Version)
	}
}

// TestReader_NewerMinor checks the forward-compatibility rule: a newer minor
// version may append fields to any frame, and this reader skips them.
func TestReader_NewerMinor(t *testing.T) {
	frames := good()
	for i := range frames {
		frames[i].payload = append(frames[i].payload, 0xde, 0xad)
	}
	p := rawPacket{major: Version, minor: MinorVersion + 1, frames: frames, trailerExtra: []byte{0xbe, 0xef}}
	pr := NewReader(bytes.NewReader(p.bytes()), rawOpts)
	var n int
	for {
		_, err := pr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Next() = %v", err)
		}
		n++
	}
	if n != 2 {
		t.Errorf("read %d records, want 2", n)
	}
	// Unknown frame types stay an error, whatever the minor version.
	p.frames = append(p.frames, rawFrame{typ: 0x42})
	if err := readAll(bytes.NewReader(p.bytes()), rawOpts); !errors.Is(err, ErrFormat) {
		t.Errorf("unknown frame in newer minor: %v, want ErrFormat", err)
	}
}

// TestReader_Truncated cuts a packet at every offset: each prefix must fail
// with ErrTruncated, with or without a key.
func TestReader_Truncated(t *testing.T) {
	data := packet(good()...).bytes()
	for _, opt := range []ReaderOptions{{}, rawOpts} {
		for i := range data {
			err := readAll(bytes.NewReader(data[:i]), opt)
			if !errors.Is(err, ErrTruncated) {
				t.Fatalf("cut at %d of %d: %v, want ErrTruncated", i, len(data), err)
			}
		}
	}
	if err := readAll(bytes.NewReader(data), rawOpts); err != nil {
		t.Fatalf("whole packet: %v", err)
	}
}

// TestReader_BitFlips flips every bit of a packet: each change must be
// refused when the signature is checked.
func TestReader_BitFlips(t *testing.T) {
	data := packet(good()...).bytes()
	mut := make([]byte, len(data))
	for i := range len(data) * 8 {
		copy(mut, data)
		mut[i/8] ^= 1 << (i % 8)
		if err := readAll(bytes.NewReader(mut), rawOpts); err == nil {
			t.Errorf("bit %d of byte %d flipped: packet accepted", i%8, i/8)
		}
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestReader_StreamErrors(t *testing.T) {
	data := packet(good()...).bytes()
	errNet := errors.New("connection reset")
	tests := []struct {
		name string
		r    io.Reader
		want error
	}{
		{"unexpected EOF", io.MultiReader(bytes.NewReader(data[:20]), errReader{io.ErrUnexpectedEOF}), ErrTruncated},
		{"read error", io.MultiReader(bytes.NewReader(data[:20]), errReader{errNet}), errNet},
		{"read error after trailer", io.MultiReader(bytes.NewReader(data), errReader{errNet}), errNet},
		{"one byte at a time", &oneByteReader{data}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := readAll(tt.r, rawOpts); !errors.Is(err, tt.want) {
				t.Fatalf("read error = %v, want %v", err, tt.want)
			}
		})
	}
}

type oneByteReader struct{ b []byte }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = r.b[0]
	r.b = r.b[1:]
	return 1, nil
}

// TestReader_ErrorsStick checks that an error is returned again by every
// later call.
func TestReader_ErrorsStick(t *testing.T) {
	pr := NewReader(bytes.NewReader(packet(headerFrame(rawHeader()), rowFrame(Int(1))).bytes()), rawOpts)
	_, err := pr.Next()
	if !errors.Is(err, ErrFormat) {
		t.Fatalf("Next() = %v, want ErrFormat", err)
	}
	for range 3 {
		if _, err2 := pr.Next(); err2 != err {
			t.Fatalf("later Next() = %v, want %v", err2, err)
		}
	}
	if h, err := pr.Header(); err != nil || h == nil {
		t.Errorf("Header() after a record error = %v, %v; want the header", h, err)
	}
}

// allocated returns the bytes allocated while f runs.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestReader_LengthsDoNotAllocate checks that declared lengths and counts
// cost nothing until the bytes behind them arrive.
func TestReader_LengthsDoNotAllocate(t *testing.T) {
	pre := []byte{'M', 'S', 'P', 'K', Version, 0, 0}
	tests := []struct {
		name string
		data []byte
		opt  ReaderOptions
		want error
	}{
		{"frame over MaxFrame", cat(pre, []byte{frameHeader}, appendUvarint(nil, 1<<40)), ReaderOptions{MaxFrame: 1 << 30}, ErrTooLarge},
		{"frame over MaxPacket", cat(pre, []byte{frameHeader}, appendUvarint(nil, 1<<30)), ReaderOptions{MaxFrame: 1 << 31, MaxPacket: 1 << 20}, ErrTooLarge},
		{"frame under MaxFrame, stream ends", cat(pre, []byte{frameHeader}, appendUvarint(nil, 60<<20), make([]byte, 100)), ReaderOptions{}, ErrTruncated},
		{"count beyond frame", packet(headerFrame(rawHeader()), tableFrame(rawTable), rawFrame{typ: frameRow, payload: cat([]byte{1, 1, 'a', 1, 'a', 1, 0}, appendUvarint(nil, 1<<60))}).bytes(), ReaderOptions{}, ErrFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			n := allocated(func() { err = readAll(bytes.NewReader(tt.data), tt.opt) })
			if !errors.Is(err, tt.want) {
				t.Fatalf("read error = %v, want %v", err, tt.want)
			}
			if n > 4<<20 {
				t.Errorf("allocated %d bytes", n)
			}
		})
	}
}

func TestReader_MaxPacketExact(t *testing.T) {
	data := packet(good()...).bytes()
	if err := readAll(bytes.NewReader(data), ReaderOptions{MaxPacket: int64(len(data))}); err != nil {
		t.Errorf("MaxPacket = size: %v", err)
	}
	if err := readAll(bytes.NewReader(data), ReaderOptions{MaxPacket: int64(len(data) - 1)}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("MaxPacket = size-1: %v, want ErrTooLarge", err)
	}
}

func TestNewWriter_HeaderTooLarge(t *testing.T) {
	h := rawHeader()
	h.Family = string(make([]byte, 100))
	var buf bytes.Buffer
	if _, err := NewWriter(&buf, *h, WriterOptions{MaxFrame: 64}); !errors.Is(err, ErrTooLarge) || buf.Len() != 0 {
		t.Errorf("NewWriter() = %v, wrote %d bytes; want ErrTooLarge, nothing written", err, buf.Len())
	}
}
