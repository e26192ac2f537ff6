package syncpkt

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
)

// Tests of checkpoints (SPEC.md, Checkpoints): packets are built frame by
// frame, so they can break the chunk rules a Writer keeps.

func appendRawFrame(b []byte, f rawFrame) []byte {
	b = append(b, f.typ)
	b = appendUvarint(b, uint64(len(f.payload)))
	return append(b, f.payload...)
}

// rawSign signs msg with rawKey.
func rawSign(_ int, msg []byte) []byte { return ed25519.Sign(rawKey, msg) }

// chunkedPacket builds a packet of h and body, with a checkpoint after
// each body frame whose index is in cuts (an index twice: two checkpoints),
// the n-th signature (from 1; the trailer's is the last) made by sign.
func chunkedPacket(h *Header, body []rawFrame, cuts []int, sign func(n int, msg []byte) []byte) []byte {
	b := append([]byte(Magic), Version, MinorVersion, 0)
	b = appendRawFrame(b, headerFrame(h))
	n := 0
	for i, f := range body {
		b = appendRawFrame(b, f)
		for _, c := range cuts {
			if c != i {
				continue
			}
			n++
			c := checkpoint{digest: sha256.Sum256(b)}
			copy(c.sig[:], sign(n, CheckpointMessage(c.digest[:])))
			b = appendRawFrame(b, rawFrame{typ: frameCheckpoint, payload: appendCheckpoint(nil, &c)})
		}
	}
	n++
	t := trailer{count: uint64(len(body)), digest: sha256.Sum256(b)}
	copy(t.sig[:], sign(n, t.digest[:]))
	return appendRawFrame(b, rawFrame{typ: frameTrailer, payload: appendTrailer(nil, &t)})
}

// bigRows returns a table frame and n rows of 400 KiB: two rows fill a
// chunk, so a checkpoint comes after every second row (cuts 2, 4, …).
func bigRows(n int) (body []rawFrame, cuts []int) {
	body = []rawFrame{tableFrame(rawTable)}
	text := strings.Repeat("r", 400<<10)
	for i := range n {
		body = append(body, rowFrame(Int(int64(i)), Text(text)))
		if i%2 == 1 && i < n-1 {
			cuts = append(cuts, i+1)
		}
	}
	return body, cuts
}

// readRecords reads a packet and returns the records Next gave before its
// final result (nil for io.EOF).
func readRecords(pkt []byte, opt ReaderOptions) ([]Record, error) {
	r := NewReader(bytes.NewReader(pkt), opt)
	var recs []Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return recs, nil
		}
		if err != nil {
			if rec != nil {
				return nil, errors.New("a record with an error")
			}
			return recs, err
		}
		recs = append(recs, rec)
	}
}

func TestReader_ChunksVerifyBeforeTheirRecords(t *testing.T) {
	body, cuts := bigRows(6)
	if !slices.Equal(cuts, []int{2, 4}) {
		t.Fatalf("cuts %v", cuts)
	}
	good := chunkedPacket(rawHeader(), body, cuts, rawSign)
	if recs, err := readRecords(good, rawOpts); err != nil || len(recs) != 7 {
		t.Fatalf("good packet: %d records, %v; want 7, nil", len(recs), err)
	}
	other := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	for forged, want := range map[int]int{1: 0, 2: 3, 3: 5} {
		pkt := chunkedPacket(rawHeader(), body, cuts, func(n int, msg []byte) []byte {
			if n == forged {
				return ed25519.Sign(other, msg)
			}
			return rawSign(n, msg)
		})
		recs, err := readRecords(pkt, rawOpts)
		if !errors.Is(err, ErrSignature) || len(recs) != want {
			t.Errorf("signature %d forged: %d records, then %v; want %d records (the verified chunks), then ErrSignature", forged, len(recs), err, want)
		}
		// Without a key, the same packet reads (digests hold).
		if _, err := readRecords(pkt, ReaderOptions{}); err != nil {
			t.Errorf("signature %d forged, read without a key: %v", forged, err)
		}
	}
	// A byte changed in the second chunk: the first chunk's records, then
	// ErrChecksum.
	bad := bytes.Clone(good)
	i := bytes.LastIndex(bad, []byte("rrrr"))
	bad[i-(1<<20)] ^= 1
	if recs, err := readRecords(bad, rawOpts); !errors.Is(err, ErrChecksum) || len(recs) != 3 {
		t.Errorf("damaged second chunk: %d records, then %v; want 3, then ErrChecksum", len(recs), err)
	}
}

// TestReader_PacketCutAtACheckpoint: a packet cut after a checkpoint, with
// a trailer made of the checkpoint's digest and signature, is refused: a
// checkpoint's signature covers a message of its own.
func TestReader_PacketCutAtACheckpoint(t *testing.T) {
	body, cuts := bigRows(4)
	pkt := chunkedPacket(rawHeader(), body, cuts, rawSign)
	// The first checkpoint: its head, then the digest of what precedes it.
	var c *checkpoint
	end := 0
	for i := range len(pkt) - 2 {
		if pkt[i] != frameCheckpoint || pkt[i+1] != DigestSize+SignatureSize {
			continue
		}
		d := decoder{b: pkt[i+2 : i+2+DigestSize+SignatureSize]}
		cp, err := decodeCheckpoint(&d)
		if sum := sha256.Sum256(pkt[:i]); err == nil && bytes.Equal(sum[:], cp.digest[:]) {
			c, end = cp, i
			break
		}
	}
	if c == nil {
		t.Fatal("did not find the checkpoint")
	}
	tr := trailer{count: uint64(cuts[0] + 1), digest: c.digest, sig: c.sig}
	cut := appendRawFrame(bytes.Clone(pkt[:end]), rawFrame{typ: frameTrailer, payload: appendTrailer(nil, &tr)})
	if recs, err := readRecords(cut, rawOpts); !errors.Is(err, ErrSignature) || len(recs) != 0 {
		t.Errorf("packet cut at its checkpoint: %d records, then %v; want none, then ErrSignature", len(recs), err)
	}
}

func TestReader_ChunkRules(t *testing.T) {
	body, _ := bigRows(4)
	for _, tt := range []struct {
		name string
		cuts []int
	}{
		{"no checkpoint", nil},
		{"checkpoint early", []int{1, 3}},
		{"empty chunk", []int{2, 2}},
		{"checkpoint right before the trailer", []int{2, 4}},
	} {
		pkt := chunkedPacket(rawHeader(), body, tt.cuts, rawSign)
		if _, err := readRecords(pkt, rawOpts); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v, want ErrFormat", tt.name, err)
		}
	}
	// One frame larger than a chunk is a chunk of its own.
	huge := []rawFrame{tableFrame(rawTable), rowFrame(Int(1), Text(strings.Repeat("h", 3<<20))), rowFrame(Int(2), Text("x"))}
	pkt := chunkedPacket(rawHeader(), huge, []int{0, 1}, rawSign)
	if recs, err := readRecords(pkt, rawOpts); err != nil || len(recs) != 3 {
		t.Errorf("frame larger than a chunk: %d records, %v", len(recs), err)
	}
}

// TestReader_Successor: a packet signed with a key the receiver does not
// hold verifies when its first chunk carries the origin's entry with that
// key and Successor vouches for it; otherwise it is refused.
func TestReader_Successor(t *testing.T) {
	next := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	nextPub := next.Public().(ed25519.PublicKey)
	entry := &Replica{ID: "a", Name: "A", Number: 1, PublicKey: nextPub, State: "active", Version: 2}
	body, cuts := bigRows(4)
	body = slices.Insert(body, 0, rawFrame{typ: frameReplica, payload: appendReplica(nil, entry)})
	for i := range cuts {
		cuts[i]++
	}
	pkt := chunkedPacket(rawHeader(), body, cuts, func(_ int, msg []byte) []byte { return ed25519.Sign(next, msg) })
	held := rawKey.Public().(ed25519.PublicKey)
	vouch := func(cur ed25519.PublicKey, first []Record) ed25519.PublicKey {
		for _, rec := range first {
			if e, ok := rec.(*Replica); ok && e.ID == "a" && (cur == nil || cur.Equal(held)) {
				return e.PublicKey
			}
		}
		return nil
	}
	// The entry in the second chunk instead: too late, the packet's key
	// is settled by its first chunk.
	late := slices.Insert(slices.Clone(body[1:]), 4, body[0]) // table, r0, r1 | r2, entry, r3
	latePkt := chunkedPacket(rawHeader(), late, []int{2}, func(_ int, msg []byte) []byte { return ed25519.Sign(next, msg) })
	if recs, err := readRecords(latePkt, ReaderOptions{PublicKey: StaticPublicKey(held), Successor: vouch}); !errors.Is(err, ErrSignature) || len(recs) != 0 {
		t.Errorf("entry in the second chunk: %d records, %v; want none, ErrSignature", len(recs), err)
	}
	for _, tt := range []struct {
		name string
		opt  ReaderOptions
		ok   bool
	}{
		{"held key, no successor", ReaderOptions{PublicKey: StaticPublicKey(held)}, false},
		{"held key, successor refuses", ReaderOptions{PublicKey: StaticPublicKey(held), Successor: func(ed25519.PublicKey, []Record) ed25519.PublicKey { return nil }}, false},
		{"held key, successor vouches", ReaderOptions{PublicKey: StaticPublicKey(held), Successor: vouch}, true},
		{"no key held, successor vouches", ReaderOptions{PublicKey: StaticPublicKey(nil), Successor: vouch}, true},
		{"no key held, no successor", ReaderOptions{PublicKey: StaticPublicKey(nil)}, false},
	} {
		recs, err := readRecords(pkt, tt.opt)
		if tt.ok && (err != nil || len(recs) != len(body)) {
			t.Errorf("%s: %d records, %v; want all", tt.name, len(recs), err)
		}
		if !tt.ok && (!errors.Is(err, ErrSignature) || len(recs) != 0) {
			t.Errorf("%s: %d records, %v; want none, ErrSignature", tt.name, len(recs), err)
		}
	}
}

func TestReader_RecordLimits(t *testing.T) {
	var body []rawFrame
	for range 10 {
		body = append(body, rawFrame{typ: frameSetting, payload: appendSetting(nil, &Setting{Key: "k", Value: strings.Repeat("v", 1000)})})
	}
	pkt := chunkedPacket(rawHeader(), body, nil, rawSign)
	for _, tt := range []struct {
		name string
		opt  ReaderOptions
		want error
	}{
		{"defaults", rawOpts, nil},
		{"MaxRecords 10", ReaderOptions{MaxRecords: 10}, nil},
		{"MaxRecords 9", ReaderOptions{MaxRecords: 9}, ErrTooLarge},
		{"MaxMeta 9000", ReaderOptions{MaxMeta: 9000}, ErrTooLarge},
		{"no limits", ReaderOptions{MaxRecords: -1, MaxMeta: -1}, nil},
	} {
		recs, err := readRecords(pkt, tt.opt)
		if !errors.Is(err, tt.want) || (tt.want != nil && len(recs) != 0) {
			t.Errorf("%s: %d records, %v; want %v (and no record when refused)", tt.name, len(recs), err, tt.want)
		}
	}
}

// TestWriter_Checkpoints: the writer ends a chunk exactly where the format
// says, Size counts the checkpoint a record brings, and the reader reads it.
func TestWriter_Checkpoints(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, *rawHeader(), WriterOptions{Sign: Ed25519Signer(rawKey)})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rawTable); err != nil {
		t.Fatal(err)
	}
	text := strings.Repeat("w", 400<<10)
	for i := range 5 {
		row := &Row{Version: 1, Master: "a", Origin: "a", Epoch: 1, Values: []Value{Int(int64(i)), Text(text)}}
		size, err := w.Size(row)
		if err != nil {
			t.Fatal(err)
		}
		frame := frameSize(len(appendRow(nil, row)))
		if want := frame + map[bool]int64{true: checkpointFrameSize}[i == 2 || i == 4]; size != want {
			t.Errorf("row %d: Size %d, want %d", i, size, want)
		}
		n := w.N()
		if err := w.Write(row); err != nil {
			t.Fatal(err)
		}
		if w.N()-n != size {
			t.Errorf("row %d took %d bytes, Size said %d", i, w.N()-n, size)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := bytes.Count(buf.Bytes(), []byte{frameCheckpoint, DigestSize + SignatureSize}); got != 2 {
		t.Errorf("%d checkpoints, want 2", got)
	}
	if recs, err := readRecords(buf.Bytes(), rawOpts); err != nil || len(recs) != 6 {
		t.Errorf("read back: %d records, %v", len(recs), err)
	}
}

// FuzzCheckpoints feeds packets with chunks of 512 bytes (the format's are
// 1 MiB; the size is the fuzz target's, so short inputs hold several
// checkpoints) to a Reader with a key and a Successor. Errors are fine; a
// panic, a record returned with an error, or a record returned from a
// packet that is not the seed's own bytes before a checkpoint that
// verified, is a bug. Its seeds run in every go test.
func FuzzCheckpoints(f *testing.F) {
	defer func(n int64) { chunkSize = n }(chunkSize)
	chunkSize = 512
	other := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	body := []rawFrame{tableFrame(rawTable)}
	var cuts []int
	for i := range 8 {
		body = append(body, rowFrame(Int(int64(i)), Text(strings.Repeat("f", 200))))
		if i%2 == 1 && i < 7 {
			cuts = append(cuts, i+1)
		}
	}
	f.Add(chunkedPacket(rawHeader(), body, cuts, rawSign))
	f.Add(chunkedPacket(rawHeader(), body, cuts, func(n int, msg []byte) []byte {
		if n == 2 {
			return ed25519.Sign(other, msg)
		}
		return rawSign(n, msg)
	}))
	f.Add(chunkedPacket(rawHeader(), body, []int{1, 3, 5}, rawSign))
	f.Add(chunkedPacket(rawHeader(), body, nil, rawSign))
	vouch := func(cur ed25519.PublicKey, first []Record) ed25519.PublicKey {
		for _, rec := range first {
			if e, ok := rec.(*Replica); ok {
				return e.PublicKey
			}
		}
		return nil
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		chunkSize = 512
		for _, opt := range []ReaderOptions{rawOpts, {PublicKey: StaticPublicKey(nil), Successor: vouch}, {MaxRecords: 3, MaxMeta: 100}} {
			r := NewReader(bytes.NewReader(b), opt)
			for {
				rec, err := r.Next()
				if err != nil {
					if rec != nil {
						t.Fatalf("Next returned %T with error %v", rec, err)
					}
					break
				}
				if opt.PublicKey != nil && opt.Successor == nil && r.key == nil {
					t.Fatal("a record returned without a key")
				}
				if opt.PublicKey != nil && !r.verified {
					t.Fatal("a record returned from a chunk that did not verify")
				}
			}
		}
	})
}
