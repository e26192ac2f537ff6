package multisite_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/hooks"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/multisite-go/multisite/mastership"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/schema"
	"github.com/multisite-go/multisite/syncpkt"
	"github.com/stretchr/testify/require"
)

// reqFamily is boston (which masters every defect), bangalore and dublin
// on one dialect, each knowing the others.
func reqFamily(t *testing.T, open func(string) *sql.DB) (boston, blr, dub *dsite) {
	t.Helper()
	boston = newDSite(t, open("boston"), "boston")
	seedPortable(t, boston, 5)
	info, err := multisite.Activate(ctx, boston.db, multisite.ActivateOptions{Name: "boston"})
	require.NoError(t, err)
	boston.id = info.ID
	blr = replicateTo(t, boston, open("bangalore"), "bangalore")
	dub = replicateTo(t, boston, open("dublin"), "dublin")
	for _, s := range []*dsite{blr, dub} {
		dsync(t, s, boston)
	}
	for _, s := range []*dsite{blr, dub} {
		dsync(t, boston, s)
	}
	return boston, blr, dub
}

// send exports from -> to and imports with opt.
func send(t *testing.T, from, to *dsite, opt multisite.ImportOptions) *multisite.ImportReport {
	t.Helper()
	rep, err := importWith(to, dexport(t, from, to), opt)
	require.NoError(t, err, "%s -> %s", from.name, to.name)
	return rep
}

// ack imports at to an acknowledgement from from.
func ack(t *testing.T, from, to *dsite) {
	t.Helper()
	var buf bytes.Buffer
	_, err := multisite.WriteAck(ctx, from.db, to.id, &buf)
	require.NoError(t, err)
	_, err = importWith(to, buf.Bytes(), multisite.ImportOptions{})
	require.NoError(t, err)
}

// requestAt returns the request id as s knows it.
func requestAt(t *testing.T, s *dsite, id multisite.RequestID) multisite.Request {
	t.Helper()
	rs, err := multisite.Requests(ctx, s.db, multisite.RequestFilter{ID: id})
	require.NoError(t, err)
	require.Len(t, rs, 1, "%s knows request %s", s.name, id)
	return rs[0]
}

// granting is an OnRequest hook that grants every request and records
// what it saw.
func granting(seen *[]hooks.Request) multisite.ImportOptions {
	return multisite.ImportOptions{Hooks: &hooks.Hooks{OnRequest: func(_ context.Context, _ hooks.Tx, r hooks.Request) (hooks.Decision, string, error) {
		*seen = append(*seen, r)
		return hooks.Grant, "ok from the hook", nil
	}}}
}

func TestRequest_GrantedByHookTravelsBack(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		boston, blr, dub := reqFamily(t, open)
		id, err := multisite.RequestMastership(ctx, blr.db, "defect", []any{1}, "ravi takes it over")
		require.NoError(t, err)
		again, err := multisite.RequestMastership(ctx, blr.db, "defect", []any{1}, "asked twice")
		require.NoError(t, err)
		if again != id {
			t.Errorf("a second request for the same row made %s, want the open %s", again, id)
		}
		r := requestAt(t, blr, id)
		if r.State != multisite.RequestPending || r.Master != boston.id || r.Requester != blr.id || !cmp.Equal(r.Key, []any{int64(1)}) {
			t.Errorf("request at bangalore = %+v", r)
		}

		pkt := dexport(t, blr, boston)
		var seen []hooks.Request
		_, err = importWith(boston, pkt, granting(&seen))
		require.NoError(t, err)
		if len(seen) != 1 || seen[0].ID != string(id) || seen[0].From != blr.id || seen[0].Master != boston.id ||
			seen[0].Reason != "ravi takes it over" || seen[0].Table != "defect" || !cmp.Equal(seen[0].Key, []any{int64(1)}) {
			t.Fatalf("hook saw %+v", seen)
		}
		if m := boston.masterOf(t, "defect", "id", 1); m != blr.id {
			t.Errorf("boston says defect 1 is mastered by %s after the grant", m)
		}
		// The same packet again: no second request, no second decision.
		_, err = importWith(boston, pkt, granting(&seen))
		require.NoError(t, err)
		if len(seen) != 1 {
			t.Errorf("duplicate packet asked the hook again: %d calls", len(seen))
		}
		rs, err := multisite.Requests(ctx, boston.db, multisite.RequestFilter{})
		require.NoError(t, err)
		if len(rs) != 1 || rs[0].State != multisite.RequestGranted || rs[0].Answer != "ok from the hook" {
			t.Errorf("boston's requests after a duplicate packet: %+v", rs)
		}

		// The answer and the transfer travel back together.
		send(t, boston, blr, multisite.ImportOptions{})
		r = requestAt(t, blr, id)
		if r.State != multisite.RequestGranted || r.Answer != "ok from the hook" || !r.Delivered {
			t.Errorf("request at bangalore after the answer = %+v", r)
		}
		blr.mustExec(t, `UPDATE defect SET owner = 'ravi' WHERE id = 1`)
		// Every member learns of the request and its answer.
		send(t, boston, dub, multisite.ImportOptions{})
		if r := requestAt(t, dub, id); r.State != multisite.RequestGranted {
			t.Errorf("dublin sees %+v", r)
		}
		for _, from := range []*dsite{blr, boston, dub} {
			for _, to := range []*dsite{blr, boston, dub} {
				if from != to {
					send(t, from, to, multisite.ImportOptions{})
				}
			}
		}
		dconverged(t, boston, blr, dub)
	})
}

func TestRequest_AdministratorGrantsAndDenies(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		boston, blr, dub := reqFamily(t, open)
		grant, err := multisite.RequestMastership(ctx, blr.db, "defect", []any{2}, "")
		require.NoError(t, err)
		deny, err := multisite.RequestMastership(ctx, dub.db, "project", []any{"CORE"}, "dublin owns core now")
		require.NoError(t, err)
		send(t, blr, boston, multisite.ImportOptions{})
		// A hook that defers leaves the request for the administrator.
		send(t, dub, boston, multisite.ImportOptions{Hooks: &hooks.Hooks{OnRequest: func(context.Context, hooks.Tx, hooks.Request) (hooks.Decision, string, error) {
			return hooks.Defer, "", nil
		}}})
		for _, id := range []multisite.RequestID{grant, deny} {
			if r := requestAt(t, boston, id); r.State != multisite.RequestPending || !r.Delivered {
				t.Errorf("request %s at boston = %+v, want pending", id, r)
			}
		}
		// Only the replica asked decides.
		if _, err := multisite.GrantRequest(ctx, blr.db, grant); !errors.Is(err, multisite.ErrRequestState) {
			t.Errorf("grant at the requester = %v, want ErrRequestState", err)
		}
		if _, err := multisite.GrantRequest(ctx, boston.db, "nosuch"); !errors.Is(err, multisite.ErrNoRequest) {
			t.Errorf("grant of unknown request = %v, want ErrNoRequest", err)
		}
		r, err := multisite.GrantRequest(ctx, boston.db, grant)
		require.NoError(t, err)
		if r.State != multisite.RequestGranted {
			t.Errorf("granted request = %+v", r)
		}
		var rse *multisite.RequestStateError
		if _, err := multisite.GrantRequest(ctx, boston.db, grant); !errors.As(err, &rse) || rse.State != multisite.RequestGranted {
			t.Errorf("granting twice = %v, want *RequestStateError", err)
		}
		r, err = multisite.DenyRequest(ctx, boston.db, deny, "core stays in boston")
		require.NoError(t, err)
		if r.State != multisite.RequestDenied {
			t.Errorf("denied request = %+v", r)
		}
		send(t, boston, blr, multisite.ImportOptions{})
		send(t, boston, dub, multisite.ImportOptions{})
		if r := requestAt(t, blr, grant); r.State != multisite.RequestGranted {
			t.Errorf("bangalore sees %+v", r)
		}
		if m := blr.masterOf(t, "defect", "id", 2); m != blr.id {
			t.Errorf("defect 2 is mastered by %s at bangalore, want bangalore", m)
		}
		if r := requestAt(t, dub, deny); r.State != multisite.RequestDenied || r.Answer != "core stays in boston" {
			t.Errorf("dublin sees %+v", r)
		}
		if m := dub.masterOf(t, "project", "code", "CORE"); m != boston.id {
			t.Errorf("denied row moved to %s", m)
		}
	})
}

func TestRequest_ForwardedToTheNewMaster(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		boston, blr, dub := reqFamily(t, open)
		id, err := multisite.RequestMastership(ctx, blr.db, "defect", []any{3}, "")
		require.NoError(t, err)
		// Meanwhile boston hands the row to dublin.
		_, err = multisite.TransferMastership(ctx, boston.db, "defect", dub.id, []any{3})
		require.NoError(t, err)
		var seen []hooks.Request
		send(t, blr, boston, granting(&seen))
		if len(seen) != 0 {
			t.Errorf("boston, no longer the master, was asked to decide: %+v", seen)
		}
		r := requestAt(t, boston, id)
		if r.State != multisite.RequestForwarded || r.Master != dub.id || r.Hops != 1 {
			t.Fatalf("request at boston = %+v, want forwarded to dublin", r)
		}
		// The request and the transfer reach dublin in one packet.
		send(t, boston, dub, granting(&seen))
		if len(seen) != 1 || seen[0].Master != dub.id {
			t.Fatalf("dublin's hook saw %+v", seen)
		}
		send(t, dub, blr, multisite.ImportOptions{})
		if r := requestAt(t, blr, id); r.State != multisite.RequestGranted {
			t.Errorf("bangalore sees %+v", r)
		}
		if m := blr.masterOf(t, "defect", "id", 3); m != blr.id {
			t.Errorf("defect 3 is mastered by %s at bangalore", m)
		}
		blr.mustExec(t, `UPDATE defect SET state = 'mine' WHERE id = 3`)
		send(t, blr, boston, multisite.ImportOptions{})
		send(t, dub, boston, multisite.ImportOptions{})
		send(t, boston, dub, multisite.ImportOptions{})
		send(t, boston, blr, multisite.ImportOptions{})
		dconverged(t, boston, blr, dub)
		if r := requestAt(t, boston, id); r.State != multisite.RequestGranted {
			t.Errorf("boston sees %+v at the end", r)
		}
	})
}

func TestRequest_FailsWhenTheRowIsGone(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		boston, blr, _ := reqFamily(t, open)
		id, err := multisite.RequestMastership(ctx, blr.db, "defect", []any{4}, "")
		require.NoError(t, err)
		boston.mustExec(t, `DELETE FROM defect WHERE id = 4`)
		var seen []hooks.Request
		send(t, blr, boston, granting(&seen))
		if len(seen) != 0 {
			t.Errorf("hook asked about a row that is gone: %+v", seen)
		}
		send(t, boston, blr, multisite.ImportOptions{})
		r := requestAt(t, blr, id)
		if r.State != multisite.RequestFailed || r.Answer == "" {
			t.Errorf("bangalore sees %+v, want failed with a reason", r)
		}
		t.Logf("answer: %s", r.Answer)
	})
}

// TestRequest_ThroughAHub: dublin and bangalore exchange packets only with
// boston; dublin's request for a row bangalore masters, and the answer,
// are relayed.
func TestRequest_ThroughAHub(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		boston, blr, dub := reqFamily(t, open)
		_, err := multisite.TransferMastership(ctx, boston.db, "defect", blr.id, []any{5})
		require.NoError(t, err)
		send(t, boston, blr, multisite.ImportOptions{})
		send(t, boston, dub, multisite.ImportOptions{})
		id, err := multisite.RequestMastership(ctx, dub.db, "defect", []any{5}, "via the hub")
		require.NoError(t, err)
		var seen []hooks.Request
		send(t, dub, boston, granting(&seen))
		send(t, boston, blr, granting(&seen))
		if len(seen) != 1 || seen[0].Master != blr.id {
			t.Fatalf("hooks saw %+v, want bangalore's", seen)
		}
		send(t, blr, boston, multisite.ImportOptions{})
		send(t, boston, dub, multisite.ImportOptions{})
		if r := requestAt(t, dub, id); r.State != multisite.RequestGranted {
			t.Errorf("dublin sees %+v", r)
		}
		if m := dub.masterOf(t, "defect", "id", 5); m != dub.id {
			t.Errorf("defect 5 is mastered by %s at dublin", m)
		}
	})
}

// TestRequest_LostPacketsAreCovered: packets carrying the request and the
// answer are lost; the next ones carry them again.
func TestRequest_LostPacketsAreCovered(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		boston, blr, _ := reqFamily(t, open)
		id, err := multisite.RequestMastership(ctx, blr.db, "defect", []any{1}, "")
		require.NoError(t, err)
		_ = dexport(t, blr, boston) // lost
		// The next packet leaves a gap: boston refuses it and says so in
		// its acknowledgement; then bangalore sends both again.
		if _, err := importWith(boston, dexport(t, blr, boston), multisite.ImportOptions{}); !errors.Is(err, replica.ErrGap) {
			t.Fatalf("packet after a lost one: %v, want ErrGap", err)
		}
		ack(t, boston, blr)
		var seen []hooks.Request
		send(t, blr, boston, granting(&seen))
		if len(seen) != 1 {
			t.Fatalf("the resent request reached the hook %d times", len(seen))
		}
		_ = dexport(t, boston, blr) // lost
		// Or the sender resends what was not acknowledged in time.
		time.Sleep(2 * time.Millisecond)
		var buf bytes.Buffer
		_, err = multisite.ExportPacket(ctx, boston.db, blr.id, &buf, multisite.ExportOptions{ResendAfter: time.Millisecond})
		require.NoError(t, err)
		_, err = importWith(blr, buf.Bytes(), multisite.ImportOptions{})
		require.NoError(t, err)
		if r := requestAt(t, blr, id); r.State != multisite.RequestGranted {
			t.Errorf("bangalore sees %+v", r)
		}
		if m := blr.masterOf(t, "defect", "id", 1); m != blr.id {
			t.Errorf("defect 1 is mastered by %s at bangalore", m)
		}
	})
}

// TestRequest_HookErrorAbortsImport: a failing OnRequest hook aborts the
// import; nothing is changed and the request is decided by the next import.
func TestRequest_HookErrorAbortsImport(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		boston, blr, _ := reqFamily(t, open)
		_, err := multisite.RequestMastership(ctx, blr.db, "defect", []any{1}, "")
		require.NoError(t, err)
		pkt := dexport(t, blr, boston)
		before := stateOf(t, boston)
		boom := errors.New("no decisions today")
		_, err = importWith(boston, pkt, multisite.ImportOptions{Hooks: &hooks.Hooks{OnRequest: func(context.Context, hooks.Tx, hooks.Request) (hooks.Decision, string, error) {
			return hooks.Defer, "", boom
		}}})
		var he *hooks.Error
		if !errors.As(err, &he) || he.Point != hooks.OnRequest || !errors.Is(err, boom) {
			t.Fatalf("import = %v, want *hooks.Error at on-request", err)
		}
		requireUnchanged(t, before, boston)
		rs, err := multisite.Requests(ctx, boston.db, multisite.RequestFilter{})
		require.NoError(t, err)
		if len(rs) != 0 {
			t.Errorf("aborted import kept requests %+v", rs)
		}
		var seen []hooks.Request
		_, err = importWith(boston, pkt, granting(&seen))
		require.NoError(t, err)
		if len(seen) != 1 {
			t.Errorf("hook saw %d requests on the second import", len(seen))
		}
	})
}

func TestRequestMastership_Errors(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		boston, blr, _ := reqFamily(t, open)
		// A row whose master the registry does not know (here forged by
		// hand with capture off).
		ownerBypass(t, blr, `UPDATE defect SET ms_master = 'ghost' WHERE id = 5`)
		id, err := multisite.NextID(ctx, blr.db, nil, "defect")
		require.NoError(t, err)
		blr.mustExec(t, `INSERT INTO defect (id, project, headline) VALUES (?, 'CORE', 'mine')`, id)
		before := stateOf(t, blr)
		var ame *multisite.AlreadyMasterError
		var ue *replica.UnknownError
		tests := []struct {
			name  string
			table string
			key   []any
			check func(error) bool
		}{
			{"row mastered here", "defect", []any{id}, func(err error) bool { return errors.As(err, &ame) && errors.Is(err, multisite.ErrAlreadyMaster) }},
			{"unknown row", "defect", []any{999}, func(err error) bool { return errors.Is(err, mastership.ErrNoRow) }},
			{"unknown table", "nosuch", []any{1}, func(err error) bool { return errors.Is(err, schema.ErrUnknownTable) }},
			{"wrong key length", "defect_tag", []any{1}, func(err error) bool { return err != nil }},
			{"unknown replica", "defect", []any{5}, func(err error) bool { return errors.As(err, &ue) && ue.ID == "ghost" }},
		}
		for _, tt := range tests {
			_, err := multisite.RequestMastership(ctx, blr.db, tt.table, tt.key, "")
			if !tt.check(err) {
				t.Errorf("%s: error = %v", tt.name, err)
			}
		}
		requireUnchanged(t, before, blr)
		rs, err := multisite.Requests(ctx, blr.db, multisite.RequestFilter{})
		require.NoError(t, err)
		if len(rs) != 0 {
			t.Errorf("refused requests were recorded: %+v", rs)
		}
		_ = boston
	})
}

// TestRequest_PacketRecords: the request travels as a Setting record
// "ms.request" and the answer as "ms.response", as SPEC.md says.
func TestRequest_PacketRecords(t *testing.T) {
	boston, blr, _ := reqFamily(t, sqliteOpen(t))
	id, err := multisite.RequestMastership(ctx, blr.db, "defect_tag", []any{"crash", 1}, "tags too")
	require.NoError(t, err)
	settings := func(pkt []byte) map[string][]map[string]any {
		r := syncpkt.NewReader(bytes.NewReader(pkt), syncpkt.ReaderOptions{})
		_, err := r.Header()
		require.NoError(t, err)
		out := map[string][]map[string]any{}
		for {
			rec, err := r.Next()
			if err == io.EOF {
				return out
			}
			require.NoError(t, err)
			if s, ok := rec.(*syncpkt.Setting); ok && s.Key != "code_page" {
				var v map[string]any
				require.NoError(t, json.Unmarshal([]byte(s.Value), &v), s.Value)
				out[s.Key] = append(out[s.Key], v)
			}
		}
	}
	pkt := dexport(t, blr, boston)
	got := settings(pkt)["ms.request"]
	if len(got) != 1 || got[0]["id"] != string(id) || got[0]["state"] != "pending" || got[0]["table"] != "defect_tag" ||
		!cmp.Equal(got[0]["key"], []any{"crash", 1.0}) || got[0]["requester"] != string(blr.id) || got[0]["master"] != string(boston.id) {
		t.Errorf("ms.request records %v", got)
	}
	var seen []hooks.Request
	_, err = importWith(boston, pkt, granting(&seen))
	require.NoError(t, err)
	if len(seen) != 1 || !cmp.Equal(seen[0].Key, []any{"crash", int64(1)}) {
		t.Errorf("hook saw %+v", seen)
	}
	back := settings(dexport(t, boston, blr))
	if r := back["ms.response"]; len(r) != 1 || r[0]["state"] != "granted" || r[0]["origin"] != string(boston.id) {
		t.Errorf("ms.response records %v (all settings %v)", r, back)
	}
}

// TestRequest_OlderReplicaGetsTheTables: a replica activated before
// requests existed (no ms_request, ms_collision) gets them when first
// needed; deactivation removes them.
func TestRequest_OlderReplicaGetsTheTables(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		boston, blr, _ := reqFamily(t, open)
		for _, s := range []*dsite{boston, blr} {
			s.mustExec(t, `DROP TABLE ms_request`)
			s.mustExec(t, `DROP TABLE ms_collision`)
			rs, err := multisite.Requests(ctx, s.db, multisite.RequestFilter{})
			require.NoError(t, err)
			if len(rs) != 0 {
				t.Errorf("%s lists %v", s.name, rs)
			}
		}
		send(t, boston, blr, multisite.ImportOptions{})
		id, err := multisite.RequestMastership(ctx, blr.db, "defect", []any{1}, "")
		require.NoError(t, err)
		var seen []hooks.Request
		send(t, blr, boston, granting(&seen))
		send(t, boston, blr, multisite.ImportOptions{})
		if r := requestAt(t, blr, id); r.State != multisite.RequestGranted || len(seen) != 1 {
			t.Errorf("bangalore sees %+v, hook calls %d", r, len(seen))
		}
		require.NoError(t, multisite.Deactivate(ctx, blr.db))
		for _, table := range []string{"ms_request", "ms_collision"} {
			if _, ok, err := blr.d.Describe(ctx, blr.db, table); err != nil || ok {
				t.Errorf("%s after Deactivate: exists=%v, %v", table, ok, err)
			}
		}
	})
}

// TestRequest_MalformedRecordsRefused: a request record that breaks the
// rules of SPEC.md fails the whole packet and changes nothing.
func TestRequest_MalformedRecordsRefused(t *testing.T) {
	boston, blr, _ := reqFamily(t, sqliteOpen(t))
	good := map[string]any{"id": "r1", "table": "defect", "key": []any{1}, "requester": string(blr.id), "master": string(boston.id),
		"state": "pending", "created": "2026-01-02T03:04:05Z", "updated": "2026-01-02T03:04:05Z", "version": 1, "origin": string(blr.id), "epoch": 1}
	with := func(k string, v any) string {
		m := map[string]any{}
		for kk, vv := range good {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return string(b)
	}
	tests := []struct {
		name, key, value string
		want             error
	}{
		{"not JSON", "ms.request", "{", multisite.ErrPacket},
		{"no ID", "ms.request", with("id", nil), multisite.ErrPacket},
		{"empty key", "ms.request", with("key", []any{}), multisite.ErrPacket},
		{"bad key value", "ms.request", with("key", []any{true}), multisite.ErrPacket},
		{"settled state under ms.request", "ms.request", with("state", "granted"), multisite.ErrPacket},
		{"open state under ms.response", "ms.response", with("state", "pending"), multisite.ErrPacket},
		{"unknown state", "ms.request", with("state", "maybe"), multisite.ErrPacket},
		{"version 0", "ms.request", with("version", 0), multisite.ErrPacket},
		{"epoch 0", "ms.request", with("epoch", 0), multisite.ErrPacket},
		{"unknown requester", "ms.request", with("requester", "ghost"), replica.ErrUnknown},
		{"unknown master", "ms.request", with("master", "ghost"), replica.ErrUnknown},
	}
	before := stateOf(t, boston)
	for _, tt := range tests {
		pkt := forge(t, &blr.site, &boston.site, &syncpkt.Setting{Key: tt.key, Value: tt.value})
		_, err := importWith(boston, pkt, multisite.ImportOptions{})
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: import = %v, want %v", tt.name, err, tt.want)
		}
	}
	requireUnchanged(t, before, boston)
	// The well-formed record applies, and an unknown field is ignored.
	// (It needs the requester's proof: see request_proof_test.go.)
	family, key := siteKey(t, &blr.site)
	good["links"] = []any{forwardLink(t, blr, "r1", 0, boston.id)}
	rec := signSetting(family, key, blr.id, &syncpkt.Setting{Key: "ms.request", Value: with("future", "field")})
	_, err := importWith(boston, forge(t, &blr.site, &boston.site, rec), multisite.ImportOptions{})
	require.NoError(t, err)
	if r := requestAt(t, boston, "r1"); r.State != multisite.RequestPending || r.Master != boston.id {
		t.Errorf("boston holds %+v", r)
	}
}
