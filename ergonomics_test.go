package multisite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/syncpkt"
)

func TestFindReplica(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		ctx := context.Background()
		sites := familyOn(t, open, 2, "boston", "dublin")
		boston, dublin := sites[0], sites[1]
		tests := []struct {
			name, lookup string
			want         replica.ID
			err          error
		}{
			{"own name", "boston", boston.id, nil},
			{"other member", "dublin", dublin.id, nil},
			{"by ID", string(dublin.id), dublin.id, nil},
			{"unknown", "atlantis", "", replica.ErrUnknown},
			{"empty", "", "", replica.ErrUnknown},
			{"case matters", "Boston", "", replica.ErrUnknown},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := multisite.FindReplica(ctx, boston.db, tt.lookup)
				if !errors.Is(err, tt.err) {
					t.Fatalf("FindReplica(%q) error = %v, want %v", tt.lookup, err, tt.err)
				}
				if tt.err != nil {
					var ue *multisite.UnknownReplicaError
					if !errors.As(err, &ue) || ue.Name != tt.lookup {
						t.Errorf("error = %#v, want *UnknownReplicaError{Name: %q}", err, tt.lookup)
					}
					return
				}
				if got.ID != tt.want {
					t.Errorf("FindReplica(%q) = %s, want %s", tt.lookup, got.ID, tt.want)
				}
				// The entry is the registry's, with its name and state.
				st, err := multisite.ReadStatus(ctx, boston.db)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range st.Replicas {
					if r.ID == got.ID {
						if diff := cmp.Diff(r, got); diff != "" {
							t.Errorf("entry differs from ReadStatus (-want +got):\n%s", diff)
						}
					}
				}
			})
		}
	})
}

func TestFindReplica_NotAReplica(t *testing.T) {
	db := testdb.SQLite(t, "plain")
	_, err := multisite.FindReplica(context.Background(), db, "boston")
	if !errors.Is(err, multisite.ErrNotActivated) {
		t.Fatalf("error = %v, want ErrNotActivated", err)
	}
}

func TestImportReport_String(t *testing.T) {
	tests := []struct {
		name string
		rep  *multisite.ImportReport
		want string
	}{
		{
			"sync with everything",
			&multisite.ImportReport{
				Origin: "a1", Kind: "sync",
				Epochs: map[replica.ID][2]uint64{"a1": {2, 5}, "b2": {0, 1}},
				Tables: map[string]*multisite.TableCounts{
					"defect":  {Inserted: 10, Updated: 3, Deleted: 1},
					"project": {Inserted: 2, Unchanged: 4},
				},
				Transfers:   1,
				Conflicts:   []multisite.Conflict{{Table: "project", Key: "X"}},
				Collisions:  []multisite.Collision{{Table: "user"}, {Table: "user"}},
				Migrated:    []int64{3},
				CodePage:    "windows-1252",
				Restored:    true,
				RefusedKeys: []replica.ID{"c3"},
				Bytes:       4300,
			},
			"sync packet from a1: epochs a1 3..5, b2 1; 12 inserted, 3 updated, 1 deleted, 4 unchanged in 2 tables; 1 transfer; 1 creation conflict; 2 collisions; 1 migration; code page now windows-1252; restore complete, active again; 1 refused key; 4.2 KiB",
		},
		{
			"duplicate",
			&multisite.ImportReport{Origin: "a1", Kind: "sync", Duplicate: true, Bytes: 300},
			"sync packet from a1: duplicate, nothing new; 0 inserted, 0 updated, 0 deleted, 0 unchanged in 0 tables; 300 B",
		},
		{
			"creation",
			&multisite.ImportReport{Origin: "a1", Kind: "creation", Epochs: map[replica.ID][2]uint64{"a1": {0, 7}},
				Tables: map[string]*multisite.TableCounts{"defect": {Inserted: 1}}, Bytes: 3 << 20},
			"creation packet from a1: epochs a1 1..7; 1 inserted, 0 updated, 0 deleted, 0 unchanged in 1 table; 3.0 MiB",
		},
		{"nil", nil, "no import"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.rep.String(); got != tt.want {
				t.Errorf("String() =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestImportReport_StringOfARealImport checks the summary against what an
// import on a real family reports.
func TestImportReport_StringOfARealImport(t *testing.T) {
	sites := newFamily(t, 2, "boston", "dublin")
	boston, dublin := sites[0], sites[1]
	mustExec(t, boston.db, `UPDATE defect SET headline = 'changed' WHERE id IN (1, 2)`)
	var buf bytes.Buffer
	st, err := multisite.ExportPacket(ctx, boston.db, dublin.id, &buf, multisite.ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rep := importInto(t, dublin, buf.Bytes())
	got := rep.String()
	for _, want := range []string{"sync packet from " + string(boston.id), "0 inserted, 2 updated, 0 deleted"} {
		if !strings.Contains(got, want) {
			t.Errorf("String() = %q, want it to contain %q", got, want)
		}
	}
	gotStats := st.String()
	for _, want := range []string{"packet for " + string(dublin.id), "2 rows (0 deletions) in 1 table"} {
		if !strings.Contains(gotStats, want) {
			t.Errorf("ExportStats.String() = %q, want it to contain %q", gotStats, want)
		}
	}
}

func TestExportStats_String(t *testing.T) {
	st := multisite.ExportStats{Target: "t9", Epoch: 7, Rows: 15, Deletes: 1, Transfers: 1, Tables: map[string]int{"a": 10, "b": 5}, Bytes: 3200}
	want := "packet for t9 up to epoch 7: 15 rows (1 deletion) in 2 tables, 1 transfer; 3.1 KiB"
	if got := st.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// TestImportOptions_PacketLimits checks the explicit
// way to lift the default limit, and that a small limit still holds.
func TestImportOptions_PacketLimits(t *testing.T) {
	sites := newFamily(t, 3, "boston", "dublin")
	boston, dublin := sites[0], sites[1]
	mustExec(t, boston.db, `UPDATE defect SET headline = 'changed' WHERE id = 1`)
	pkt := export(t, boston, dublin)
	tests := []struct {
		name string
		max  int64
		want error
	}{
		{"too small", 64, syncpkt.ErrTooLarge},
		{"unlimited", -1, nil},
		{"default", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := multisite.ImportPacket(ctx, dublin.db, bytes.NewReader(pkt), multisite.ImportOptions{MaxPacketSize: tt.max})
			if !errors.Is(err, tt.want) {
				t.Fatalf("ImportPacket(MaxPacketSize %d) error = %v, want %v", tt.max, err, tt.want)
			}
		})
	}
}
