package syncpkt_test

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/multisite-go/multisite/syncpkt"
)

func TestNewWriter_RejectsHeader(t *testing.T) {
	tests := []struct {
		name   string
		change func(h *syncpkt.Header)
	}{
		{"zero kind", func(h *syncpkt.Header) { h.Kind = 0 }},
		{"unknown kind", func(h *syncpkt.Header) { h.Kind = 9 }},
		{"no family", func(h *syncpkt.Header) { h.Family = "" }},
		{"no origin", func(h *syncpkt.Header) { h.Origin = "" }},
		{"no target", func(h *syncpkt.Header) { h.Target = "" }},
		{"created too early", func(h *syncpkt.Header) { h.Created = time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"created too late", func(h *syncpkt.Header) { h.Created = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"empty base key", func(h *syncpkt.Header) { h.Base[""] = 1 }},
		{"empty upto key", func(h *syncpkt.Header) { h.Upto[""] = 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := testHeader()
			tt.change(&h)
			if err := h.Validate(); !errors.Is(err, syncpkt.ErrFormat) {
				t.Errorf("Validate() = %v, want ErrFormat", err)
			}
			var buf bytes.Buffer
			w, err := syncpkt.NewWriter(&buf, h, signed)
			if !errors.Is(err, syncpkt.ErrFormat) || w != nil {
				t.Errorf("NewWriter() = %v, %v; want nil, ErrFormat", w, err)
			}
			if buf.Len() != 0 {
				t.Errorf("NewWriter wrote %d bytes for an invalid header", buf.Len())
			}
		})
	}
}

func TestWriter_RejectsRecord(t *testing.T) {
	row := func(vs ...syncpkt.Value) *syncpkt.Row {
		return &syncpkt.Row{Version: 1, Master: "a", Origin: "a", Values: vs}
	}
	cols := func(cs ...syncpkt.Column) *syncpkt.Table { return &syncpkt.Table{Name: "t", Columns: cs} }
	tests := []struct {
		name   string
		before []syncpkt.Record
		rec    syncpkt.Record
		want   error
	}{
		{"nil", nil, nil, syncpkt.ErrFormat},
		{"nil row", []syncpkt.Record{issueTable}, (*syncpkt.Row)(nil), syncpkt.ErrFormat},
		{"nil table", nil, (*syncpkt.Table)(nil), syncpkt.ErrFormat},
		{"nil invite", nil, (*syncpkt.Invite)(nil), syncpkt.ErrFormat},
		{"row before table", nil, row(syncpkt.Int(1), syncpkt.Null(), syncpkt.Null()), syncpkt.ErrFormat},
		{"too few values", []syncpkt.Record{issueTable}, row(syncpkt.Int(1)), syncpkt.ErrFormat},
		{"too many values", []syncpkt.Record{issueTable}, row(syncpkt.Int(1), syncpkt.Null(), syncpkt.Null(), syncpkt.Null()), syncpkt.ErrFormat},
		{"unknown value kind", []syncpkt.Record{issueTable}, row(syncpkt.Int(1), syncpkt.Value{Kind: 9}, syncpkt.Null()), syncpkt.ErrFormat},
		{"table without name", nil, &syncpkt.Table{Columns: issueTable.Columns}, syncpkt.ErrFormat},
		{"table without columns", nil, cols(), syncpkt.ErrFormat},
		{"table without key", nil, cols(syncpkt.Column{Name: "a"}), syncpkt.ErrFormat},
		{"column without name", nil, cols(syncpkt.Column{Key: 1}), syncpkt.ErrFormat},
		{"duplicate column", nil, cols(syncpkt.Column{Name: "a", Key: 1}, syncpkt.Column{Name: "a"}), syncpkt.ErrFormat},
		{"negative key", nil, cols(syncpkt.Column{Name: "a", Key: 1}, syncpkt.Column{Name: "b", Key: -1}), syncpkt.ErrFormat},
		{"key past columns", nil, cols(syncpkt.Column{Name: "a", Key: 2}), syncpkt.ErrFormat},
		{"key gap", nil, cols(syncpkt.Column{Name: "a", Key: 1}, syncpkt.Column{Name: "b"}, syncpkt.Column{Name: "c", Key: 3}), syncpkt.ErrFormat},
		{"repeated key", nil, cols(syncpkt.Column{Name: "a", Key: 1}, syncpkt.Column{Name: "b", Key: 1}), syncpkt.ErrFormat},
		{"transfer without table", nil, &syncpkt.Transfer{Key: []syncpkt.Value{syncpkt.Int(1)}}, syncpkt.ErrFormat},
		{"transfer without key", nil, &syncpkt.Transfer{Table: "t"}, syncpkt.ErrFormat},
		{"replica without id", nil, &syncpkt.Replica{Name: "x"}, syncpkt.ErrFormat},
		{"setting without key", nil, &syncpkt.Setting{Value: "x"}, syncpkt.ErrFormat},
		{"invite in sync packet", nil, &syncpkt.Invite{Secret: []byte("s")}, syncpkt.ErrFormat},
		{"too large", []syncpkt.Record{issueTable}, row(syncpkt.Int(1), syncpkt.Text(string(make([]byte, 2000))), syncpkt.Null()), syncpkt.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w, err := syncpkt.NewWriter(&buf, testHeader(), syncpkt.WriterOptions{Sign: signed.Sign, MaxFrame: 1000})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range tt.before {
				if err := w.Write(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Write(tt.rec); !errors.Is(err, tt.want) {
				t.Fatalf("Write() = %v, want %v", err, tt.want)
			}
			// A refused record leaves the writer usable and the packet valid.
			if err := w.Close(); err != nil {
				t.Fatalf("Close() after refused record: %v", err)
			}
			if _, recs, _, err := readPacket(buf.Bytes(), verified); err != nil || len(recs) != len(tt.before) {
				t.Fatalf("read back: %d records, %v; want %d, nil", len(recs), err, len(tt.before))
			}
		})
	}
}

func TestWriter_InviteInCreationPacket(t *testing.T) {
	h := testHeader()
	h.Kind = syncpkt.KindCreation
	if _, _, _, err := readPacket(writePacket(t, h, signed, &syncpkt.Invite{Secret: []byte("one-time secret")}), verified); err != nil {
		t.Fatal(err)
	}
}

func TestWriter_Close(t *testing.T) {
	var buf bytes.Buffer
	w, err := syncpkt.NewWriter(&buf, testHeader(), syncpkt.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
	if err := w.Write(issueTable); !errors.Is(err, syncpkt.ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
	// Unsigned: readable without a key, refused with one.
	if _, _, _, err := readPacket(buf.Bytes(), syncpkt.ReaderOptions{}); err != nil {
		t.Errorf("unsigned packet without key: %v", err)
	}
	if _, _, _, err := readPacket(buf.Bytes(), verified); !errors.Is(err, syncpkt.ErrSignature) {
		t.Errorf("unsigned packet with key: %v, want ErrSignature", err)
	}
}

func TestWriter_SignErrors(t *testing.T) {
	errHSM := errors.New("hsm offline")
	tests := []struct {
		name string
		sign func([]byte) ([]byte, error)
		want error
	}{
		{"signer fails", func([]byte) ([]byte, error) { return nil, errHSM }, errHSM},
		{"short signature", func([]byte) ([]byte, error) { return make([]byte, 10), nil }, syncpkt.ErrSignature},
		{"bad private key", syncpkt.Ed25519Signer(testKey[:10]), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := syncpkt.NewWriter(io.Discard, testHeader(), syncpkt.WriterOptions{Sign: tt.sign})
			if err != nil {
				t.Fatal(err)
			}
			err = w.Close()
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("Close() = %v, want %v", err, tt.want)
			}
			if err2 := w.Close(); err2 != err {
				t.Errorf("second Close() = %v, want %v", err2, err)
			}
		})
	}
}

type failWriter struct {
	n   int // bytes accepted before failing
	err error
}

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) <= f.n {
		f.n -= len(p)
		return len(p), nil
	}
	n := f.n
	f.n = 0
	return n, f.err
}

func TestWriter_WriteErrorSticks(t *testing.T) {
	errDisk := errors.New("disk full")
	w, err := syncpkt.NewWriter(&failWriter{n: 100, err: errDisk}, testHeader(), signed)
	if err != nil {
		t.Fatal(err)
	}
	big := syncpkt.Text(string(make([]byte, 100<<10)))
	if err := w.Write(issueTable); err != nil {
		t.Fatal(err) // still buffered
	}
	var first error
	for i := 0; first == nil && i < 10; i++ {
		first = w.Write(&syncpkt.Row{Values: []syncpkt.Value{syncpkt.Int(1), big, syncpkt.Null()}})
	}
	if !errors.Is(first, errDisk) {
		t.Fatalf("Write() = %v, want %v", first, errDisk)
	}
	if err := w.Write(issueTable); !errors.Is(err, errDisk) {
		t.Errorf("later Write() = %v, want %v", err, errDisk)
	}
	if err := w.Close(); !errors.Is(err, errDisk) {
		t.Errorf("Close() = %v, want %v", err, errDisk)
	}
}
