package syncpkt_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/multisite-go/multisite/syncpkt"
)

var update = flag.Bool("update", false, "rewrite testdata/*.pkt and testdata/*.json")

// goldenPacket is the decoded form of a test vector, as stored in
// testdata/NAME.json.
type goldenPacket struct {
	Size    int
	Digest  string // hex SHA-256 of every byte before the trailer
	Header  *syncpkt.Header
	Records []goldenRecord
}

// goldenRecord holds exactly one record.
type goldenRecord struct {
	Table    *syncpkt.Table   `json:",omitempty"`
	Row      *goldenRow       `json:",omitempty"`
	Transfer *goldenTransfer  `json:",omitempty"`
	Replica  *syncpkt.Replica `json:",omitempty"`
	Setting  *syncpkt.Setting `json:",omitempty"`
	Invite   *syncpkt.Invite  `json:",omitempty"`
}

type goldenRow struct {
	Version uint64
	Master  string
	Origin  string
	Epoch   uint64
	Deleted bool
	Values  []string
}

type goldenTransfer struct {
	Table    string
	Key      []string
	Version  uint64
	From, To string
	Epoch    uint64
}

// goldenValue writes a value as "kind:text", exact for every kind; a long
// text or blob of one repeated byte as "kind:hh*count".
func goldenValue(v syncpkt.Value) string {
	if b := []byte(v.Text + string(v.Blob)); len(b) > 64 && bytes.Count(b, b[:1]) == len(b) {
		return fmt.Sprintf("%s:%02x*%d", v.Kind, b[0], len(b))
	}
	switch v.Kind {
	case syncpkt.ValueInt:
		return "int:" + strconv.FormatInt(v.Int, 10)
	case syncpkt.ValueFloat:
		return "float:" + strconv.FormatFloat(v.Float, 'g', -1, 64)
	case syncpkt.ValueText:
		return "text:" + v.Text
	case syncpkt.ValueBlob:
		return "blob:" + hex.EncodeToString(v.Blob)
	}
	return v.Kind.String()
}

func goldenValues(vs []syncpkt.Value) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = goldenValue(v)
	}
	return out
}

func toGolden(t *testing.T, data []byte, opt syncpkt.ReaderOptions) *goldenPacket {
	t.Helper()
	h, recs, r, err := readPacket(data, opt)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	g := &goldenPacket{Size: len(data), Digest: hex.EncodeToString(r.Digest()), Header: h}
	for _, rec := range recs {
		var gr goldenRecord
		switch rec := rec.(type) {
		case *syncpkt.Table:
			gr.Table = rec
		case *syncpkt.Row:
			gr.Row = &goldenRow{rec.Version, rec.Master, rec.Origin, rec.Epoch, rec.Deleted, goldenValues(rec.Values)}
		case *syncpkt.Transfer:
			gr.Transfer = &goldenTransfer{rec.Table, goldenValues(rec.Key), rec.Version, rec.From, rec.To, rec.Epoch}
		case *syncpkt.Replica:
			gr.Replica = rec
		case *syncpkt.Setting:
			gr.Setting = rec
		case *syncpkt.Invite:
			gr.Invite = rec
		default:
			t.Fatalf("unexpected record %T", rec)
		}
		g.Records = append(g.Records, gr)
	}
	return g
}

// goldenVectors are the packets in testdata. Changing one changes the wire
// format's test vectors: regenerate with -update and review the diff.
func goldenVectors() []struct {
	name string
	h    syncpkt.Header
	opt  syncpkt.WriterOptions
	recs []syncpkt.Record
} {
	created := time.Date(2025, 11, 26, 12, 0, 0, 0, time.UTC)
	sync := syncpkt.Header{
		Kind: syncpkt.KindSync, Family: "acme-defects", Origin: "boston", Target: "paris",
		SchemaVersion: 12, CodePage: "utf-8", Created: created,
		Base: map[string]uint64{"boston": 41, "paris": 17},
		Upto: map[string]uint64{"boston": 42, "paris": 17},
	}
	creation := syncpkt.Header{
		Kind: syncpkt.KindCreation, Family: "acme-defects", Origin: "boston", Target: "tokyo",
		SchemaVersion: 12, CodePage: "utf-8", Created: created,
		Upto: map[string]uint64{"boston": 42, "paris": 17},
	}
	minimal := syncpkt.Header{Kind: syncpkt.KindSync, Family: "f", Origin: "a", Target: "b"}
	ack := syncpkt.Header{
		Kind: syncpkt.KindAck, Family: "acme-defects", Origin: "paris", Target: "boston",
		SchemaVersion: 12, CodePage: "utf-8", Created: created,
		Upto: map[string]uint64{"boston": 40, "paris": 17},
		Gaps: map[string]uint64{"boston": 40},
	}
	part := sync
	part.Part = 2
	defect := &syncpkt.Table{Name: "defect", Columns: []syncpkt.Column{
		{Name: "id", Type: "INTEGER", NotNull: true, Key: 1},
		{Name: "title", Type: "TEXT", NotNull: true},
		{Name: "severity", Type: "REAL"},
		{Name: "attachment", Type: "BLOB"},
		{Name: "closed", Type: "TEXT"},
	}}
	attachment := &syncpkt.Table{Name: "attachment", Columns: []syncpkt.Column{
		{Name: "id", Type: "INTEGER", NotNull: true, Key: 1},
		{Name: "body", Type: "BLOB"},
	}}
	big := func(id int64, b byte) *syncpkt.Row {
		return &syncpkt.Row{Version: 1, Master: "boston", Origin: "boston", Creator: "boston", Epoch: 42, Values: []syncpkt.Value{
			syncpkt.Int(id), syncpkt.Blob(bytes.Repeat([]byte{b}, 600<<10))}}
	}
	compressed := signed
	compressed.Compress = true
	tokyoKey := make([]byte, 64)
	for i := range tokyoKey {
		tokyoKey[i] = byte(0x80 + i)
	}
	return []struct {
		name string
		h    syncpkt.Header
		opt  syncpkt.WriterOptions
		recs []syncpkt.Record
	}{
		{name: "minimal", h: minimal, opt: signed},
		{name: "unsigned", h: minimal},
		{name: "sync", h: sync, opt: signed, recs: []syncpkt.Record{
			defect,
			&syncpkt.Row{Version: 7, Master: "boston", Origin: "boston", Creator: "boston", Epoch: 42, Values: []syncpkt.Value{
				syncpkt.Int(1001), syncpkt.Text("Crash on save — ünïcode"), syncpkt.Float(2.5),
				syncpkt.Blob([]byte{0xde, 0xad, 0xbe, 0xef}), syncpkt.Null()}},
			&syncpkt.Row{Version: 3, Master: "paris", Origin: "boston", Creator: "boston", Epoch: 41, Values: []syncpkt.Value{
				syncpkt.Int(-5), syncpkt.Text(""), syncpkt.Float(-0.125), syncpkt.Blob([]byte{}), syncpkt.Text("2025-11-25T10:00:00Z")}},
			&syncpkt.Row{Version: 9, Master: "boston", Origin: "boston", Creator: "boston", Epoch: 42, Deleted: true, Values: []syncpkt.Value{
				syncpkt.Int(1002), syncpkt.Null(), syncpkt.Null(), syncpkt.Null(), syncpkt.Null()}},
			&syncpkt.Transfer{Table: "defect", Key: []syncpkt.Value{syncpkt.Int(-5)}, Version: 3, From: "boston", To: "paris", Epoch: 41},
		}},
		{name: "ack", h: ack, opt: signed},
		// Three chunks: 1.8 MiB of frames, compressed to a few hundred
		// bytes. Each 600 KiB row but the first starts a chunk.
		{name: "chunked", h: sync, opt: compressed, recs: []syncpkt.Record{
			attachment, big(1, 0x00), big(2, 0x11), big(3, 0x22),
			&syncpkt.Row{Version: 1, Master: "boston", Origin: "boston", Creator: "boston", Epoch: 42, Values: []syncpkt.Value{
				syncpkt.Int(4), syncpkt.Blob([]byte("small"))}},
		}},
		{name: "part", h: part, opt: signed, recs: []syncpkt.Record{
			defect,
			&syncpkt.Row{Version: 10, Master: "boston", Origin: "boston", Creator: "boston", Epoch: 42, Values: []syncpkt.Value{
				syncpkt.Int(1003), syncpkt.Text("second part"), syncpkt.Null(), syncpkt.Null(), syncpkt.Null()}},
			&syncpkt.Setting{Key: syncpkt.PartsSetting, Value: "2"},
		}},
		{name: "creation", h: creation, opt: signed, recs: []syncpkt.Record{
			&syncpkt.Setting{Key: "codepage", Value: "utf-8"},
			&syncpkt.Replica{ID: "boston", Name: "Boston", Number: 1, PublicKey: testPublic, State: "active", Version: 1},
			&syncpkt.Replica{ID: "tokyo", Name: "Tokyo", Number: 3, PublicKey: []byte{}, State: "receive-only", Version: 1},
			&syncpkt.Invite{Secret: tokyoKey[:32]},
			&syncpkt.Table{Name: "defect", Create: true, Columns: defect.Columns},
			&syncpkt.Row{Version: 1, Master: "boston", Origin: "boston", Creator: "boston", Epoch: 1, Values: []syncpkt.Value{
				syncpkt.Int(1), syncpkt.Text("first"), syncpkt.Null(), syncpkt.Null(), syncpkt.Null()}},
		}},
	}
}

func TestGolden(t *testing.T) {
	for _, tt := range goldenVectors() {
		t.Run(tt.name, func(t *testing.T) {
			pkt := filepath.Join("testdata", tt.name+".pkt")
			js := filepath.Join("testdata", tt.name+".json")
			data := writePacket(t, tt.h, tt.opt, tt.recs...)
			ropt := verified
			if tt.opt.Sign == nil {
				ropt = syncpkt.ReaderOptions{}
				if _, _, _, err := readPacket(data, verified); !errors.Is(err, syncpkt.ErrSignature) {
					t.Errorf("unsigned vector with a key: %v, want ErrSignature", err)
				}
			}
			if *update {
				g, err := json.MarshalIndent(toGolden(t, data, ropt), "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(pkt, data, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(js, append(g, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(pkt)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(data, want) {
				i := 0
				for i < min(len(data), len(want)) && data[i] == want[i] {
					i++
				}
				t.Errorf("writer output differs from %s at byte %d (%d bytes, want %d): the wire format changed", pkt, i, len(data), len(want))
			}

			// The stored vector decodes to the stored JSON.
			raw, err := os.ReadFile(js)
			if err != nil {
				t.Fatal(err)
			}
			var wantG goldenPacket
			if err := json.Unmarshal(raw, &wantG); err != nil {
				t.Fatalf("%s: %v", js, err)
			}
			if diff := cmp.Diff(&wantG, toGolden(t, want, ropt)); diff != "" {
				t.Errorf("%s decoded (-%s +got):\n%s", pkt, js, diff)
			}
		})
	}
}

// TestSpecVectors checks that the test-vector table in SPEC.md matches the
// files in testdata, so the spec cannot drift from the vectors.
func TestSpecVectors(t *testing.T) {
	spec, err := os.ReadFile("SPEC.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(spec, []byte(hex.EncodeToString(testPublic))) {
		t.Errorf("SPEC.md does not give the test public key %x", testPublic)
	}
	for _, tt := range goldenVectors() {
		data, err := os.ReadFile(filepath.Join("testdata", tt.name+".pkt"))
		if err != nil {
			t.Fatal(err)
		}
		_, _, r, err := readPacket(data, syncpkt.ReaderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		row := fmt.Sprintf("| `%s.pkt` | %d | `%x` | `%x` |", tt.name, len(data), sum, r.Digest())
		if !bytes.Contains(spec, []byte(row)) {
			t.Errorf("SPEC.md lacks the row\n%s", row)
		}
	}
}

// TestReader_RefusesVersion1 checks that a packet of the previous major
// version (before acknowledgements, parts and gap reports) is refused with
// a typed error naming both versions, before anything else is read.
func TestReader_RefusesVersion1(t *testing.T) {
	for _, tt := range goldenVectors() {
		t.Run(tt.name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tt.name+".pkt"))
			if err != nil {
				t.Fatal(err)
			}
			data[4] = 1 // major version 1
			_, _, _, err = readPacket(data, syncpkt.ReaderOptions{})
			var ve *syncpkt.VersionError
			if !errors.Is(err, syncpkt.ErrVersion) || !errors.As(err, &ve) {
				t.Fatalf("read version 1 packet: %v, want ErrVersion", err)
			}
			if diff := cmp.Diff(syncpkt.VersionError{Got: 1, Want: syncpkt.Version}, *ve); diff != "" {
				t.Errorf("VersionError (-want +got):\n%s", diff)
			}
		})
	}
}
