package syncpkt_test

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/multisite-go/multisite/syncpkt"
)

func TestRoundTrip(t *testing.T) {
	creation := testHeader()
	creation.Kind = syncpkt.KindCreation
	noMaps := testHeader()
	noMaps.Base, noMaps.Upto = nil, map[string]uint64{}
	zeroTime := testHeader()
	zeroTime.Created = time.Time{}
	local := testHeader()
	local.Created = time.Date(2030, 1, 2, 3, 4, 5, 6, time.FixedZone("CET", 3600))
	extremes := testHeader()
	extremes.SchemaVersion = math.MinInt64
	extremes.Created = time.Unix(0, math.MaxInt64)
	extremes.Base = map[string]uint64{"z": math.MaxUint64, "a": 0, "m": 1 << 35}

	composite := &syncpkt.Table{
		Name:   "link",
		Create: true,
		Columns: []syncpkt.Column{
			{Name: "note", Type: "TEXT"},
			{Name: "to", Type: "TEXT", NotNull: true, Key: 2},
			{Name: "from", Type: "INTEGER", NotNull: true, Key: 1},
		},
	}

	tests := []struct {
		name string
		h    syncpkt.Header
		recs []syncpkt.Record
	}{
		{name: "empty", h: testHeader()},
		{name: "header without maps", h: noMaps},
		{name: "header zero time", h: zeroTime},
		{name: "header local time", h: local},
		{name: "header extremes", h: extremes},
		{name: "table", h: testHeader(), recs: []syncpkt.Record{issueTable}},
		{name: "composite key table", h: creation, recs: []syncpkt.Record{composite}},
		{name: "row", h: testHeader(), recs: []syncpkt.Record{
			issueTable,
			&syncpkt.Row{Version: 4, Master: "site-a", Origin: "site-a", Epoch: 5,
				Values: []syncpkt.Value{syncpkt.Int(1), syncpkt.Text("crash"), syncpkt.Float(0.5)}},
		}},
		{name: "tombstone", h: testHeader(), recs: []syncpkt.Record{
			issueTable,
			&syncpkt.Row{Version: math.MaxUint64, Master: "site-b", Origin: "site-a", Epoch: math.MaxUint64, Deleted: true,
				Values: []syncpkt.Value{syncpkt.Int(2), syncpkt.Null(), syncpkt.Null()}},
		}},
		{name: "rows of two tables", h: creation, recs: []syncpkt.Record{
			issueTable,
			&syncpkt.Row{Version: 1, Master: "a", Origin: "a", Epoch: 1,
				Values: []syncpkt.Value{syncpkt.Int(1), syncpkt.Text("x"), syncpkt.Null()}},
			composite,
			&syncpkt.Row{Version: 1, Master: "a", Origin: "a", Epoch: 1,
				Values: []syncpkt.Value{syncpkt.Null(), syncpkt.Text("b"), syncpkt.Int(1)}},
		}},
		{name: "transfer", h: testHeader(), recs: []syncpkt.Record{
			&syncpkt.Transfer{Table: "link", Key: []syncpkt.Value{syncpkt.Int(1), syncpkt.Text("b")},
				Version: 9, From: "site-a", To: "site-b", Epoch: 5},
		}},
		{name: "replica", h: creation, recs: []syncpkt.Record{
			&syncpkt.Replica{ID: "site-a", Name: "Boston", Number: 1, PublicKey: testPublic, State: "active", Version: 3},
			&syncpkt.Replica{ID: "site-c", Number: -1, PublicKey: []byte{}},
		}},
		{name: "setting", h: creation, recs: []syncpkt.Record{
			&syncpkt.Setting{Key: "codepage", Value: "utf-8"},
			&syncpkt.Setting{Key: "empty", Value: ""},
		}},
		{name: "invite", h: creation, recs: []syncpkt.Record{
			&syncpkt.Invite{Secret: []byte("one-time secret")},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := writePacket(t, tt.h, signed, tt.recs...)
			h, recs, _, err := readPacket(data, verified)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if diff := cmp.Diff(&tt.h, h, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
			if h.Created.Location() != time.UTC {
				t.Errorf("Created location = %v, want UTC", h.Created.Location())
			}
			if diff := cmp.Diff(tt.recs, recs, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRoundTrip_Values(t *testing.T) {
	big := bytes.Repeat([]byte{0xAB}, 1000)
	tests := []struct {
		name string
		v    syncpkt.Value
	}{
		{"null", syncpkt.Null()},
		{"int zero", syncpkt.Int(0)},
		{"int one", syncpkt.Int(1)},
		{"int negative", syncpkt.Int(-1)},
		{"int max", syncpkt.Int(math.MaxInt64)},
		{"int min", syncpkt.Int(math.MinInt64)},
		{"float zero", syncpkt.Float(0)},
		{"float negative zero", syncpkt.Float(math.Copysign(0, -1))},
		{"float", syncpkt.Float(3.141592653589793)},
		{"float denormal", syncpkt.Float(math.SmallestNonzeroFloat64)},
		{"float max", syncpkt.Float(math.MaxFloat64)},
		{"float inf", syncpkt.Float(math.Inf(1))},
		{"float -inf", syncpkt.Float(math.Inf(-1))},
		{"float nan", syncpkt.Float(math.NaN())},
		{"text empty", syncpkt.Text("")},
		{"text", syncpkt.Text("hello")},
		{"text unicode", syncpkt.Text("Grüße, 世界 🌍")},
		{"text nul and invalid utf-8", syncpkt.Text("a\x00b\xff")},
		{"text long", syncpkt.Text(strings.Repeat("x", 70000))},
		{"blob empty", syncpkt.Blob([]byte{})},
		{"blob nil", syncpkt.Blob(nil)},
		{"blob", syncpkt.Blob([]byte{0, 1, 2, 0xff})},
		{"blob long", syncpkt.Blob(big)},
	}
	table := &syncpkt.Table{Name: "t", Columns: []syncpkt.Column{
		{Name: "k", Type: "INTEGER", Key: 1}, {Name: "v", Type: "ANY"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			row := &syncpkt.Row{Version: 1, Master: "a", Origin: "a", Epoch: 1,
				Values: []syncpkt.Value{syncpkt.Int(1), tt.v}}
			xfer := &syncpkt.Transfer{Table: "t", Key: []syncpkt.Value{tt.v}, From: "a", To: "b"}
			data := writePacket(t, testHeader(), signed, table, row, xfer)
			_, recs, _, err := readPacket(data, verified)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			got := recs[1].(*syncpkt.Row).Values[1]
			if !got.Equal(tt.v) {
				t.Errorf("row value = %v (%#v), want %v", got, got, tt.v)
			}
			if got.Kind == syncpkt.ValueBlob && got.Blob == nil {
				t.Errorf("decoded blob is nil, want non-nil")
			}
			if got := recs[2].(*syncpkt.Transfer).Key[0]; !got.Equal(tt.v) {
				t.Errorf("transfer key = %v, want %v", got, tt.v)
			}
		})
	}
}

// TestWriter_Deterministic checks that equal inputs give equal bytes, whatever
// the iteration order of the header's maps.
func TestWriter_Deterministic(t *testing.T) {
	h := testHeader()
	h.Base = map[string]uint64{}
	for i := range 50 {
		h.Base[strings.Repeat("r", i+1)] = uint64(i)
	}
	rows := []syncpkt.Record{issueTable, &syncpkt.Row{Version: 1, Master: "a", Origin: "a", Epoch: 1,
		Values: []syncpkt.Value{syncpkt.Int(1), syncpkt.Text("x"), syncpkt.Float(1)}}}
	first := writePacket(t, h, signed, rows...)
	for range 20 {
		if got := writePacket(t, h, signed, rows...); !bytes.Equal(got, first) {
			t.Fatal("same inputs gave different bytes")
		}
	}
}

// TestReader_HeaderOnly checks that Header alone reads no further than the
// header and returns the same header every time.
func TestReader_HeaderOnly(t *testing.T) {
	data := writePacket(t, testHeader(), signed, issueTable)
	r := syncpkt.NewReader(bytes.NewReader(data), verified)
	h1, err := r.Header()
	if err != nil {
		t.Fatal(err)
	}
	h2, err := r.Header()
	if err != nil || h1 != h2 {
		t.Fatalf("second Header() = %p, %v; want %p, nil", h2, err, h1)
	}
	if r.Digest() != nil {
		t.Error("Digest() before EOF is not nil")
	}
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err == nil || r.Digest() == nil {
		t.Fatalf("Next() at end = %v, Digest() = %x; want io.EOF and a digest", err, r.Digest())
	}
	if r.N() != int64(len(data)) {
		t.Errorf("N() = %d, want %d", r.N(), len(data))
	}
}
