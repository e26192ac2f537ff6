package multisite_test

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/hooks"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/syncpkt"
)

// Mastership requests proven by the replica that made each version
// (issue 18): the requester makes a request, the replica it is addressed
// to forwards or answers it. The hostile member is dublin, with its own
// real key, sending packets it signed itself; for a reopened request also
// the requester, bangalore.

// requestRecords returns the mastership request records of pkt.
func requestRecords(t *testing.T, pkt []byte) []*syncpkt.Setting {
	t.Helper()
	var out []*syncpkt.Setting
	for _, rec := range records(t, pkt) {
		if s, ok := rec.(*syncpkt.Setting); ok && (s.Key == "ms.request" || s.Key == "ms.response") {
			out = append(out, s)
		}
	}
	return out
}

// requestRecord returns the record of request id in pkt.
func requestRecord(t *testing.T, pkt []byte, id multisite.RequestID) *syncpkt.Setting {
	t.Helper()
	for _, s := range requestRecords(t, pkt) {
		var v map[string]any
		require.NoError(t, json.Unmarshal([]byte(s.Value), &v))
		if v["id"] == string(id) {
			return s
		}
	}
	t.Fatalf("no record of request %s in the packet", id)
	return nil
}

// editRequest returns an unsigned copy of the request record s with edit
// applied to its fields, under the key its state calls for.
func editRequest(t *testing.T, s *syncpkt.Setting, edit func(v map[string]any)) *syncpkt.Setting {
	t.Helper()
	var v map[string]any
	require.NoError(t, json.Unmarshal([]byte(s.Value), &v))
	edit(v)
	b, err := json.Marshal(v)
	require.NoError(t, err)
	key := "ms.response"
	if st := v["state"]; st == "pending" || st == "forwarded" {
		key = "ms.request"
	}
	return &syncpkt.Setting{Key: key, Value: string(b)}
}

// requestState is what a refused request packet must leave as it was:
// rows, epochs, the metadata of metaState and every request with its
// stored proof.
type requestState struct {
	Site     state
	Meta     map[string]string
	Requests []string
}

func requestStateOf(t *testing.T, s *dsite) requestState {
	t.Helper()
	rows, err := s.db.Query(`SELECT id, state, master, hops, version, ms_origin, ms_epoch, signer, proof, answer, links FROM ms_request ORDER BY id`)
	require.NoError(t, err)
	defer rows.Close()
	var reqs []string
	for rows.Next() {
		var id, st, master, origin string
		var hops, version int64
		var epoch sql.NullInt64
		var signer sql.NullString
		var proof []byte
		var answer string
		var links sql.NullString
		require.NoError(t, rows.Scan(&id, &st, &master, &hops, &version, &origin, &epoch, &signer, &proof, &answer, &links))
		b, _ := json.Marshal([]any{id, st, master, hops, version, origin, epoch, signer, proof, answer, links})
		reqs = append(reqs, string(b))
	}
	require.NoError(t, rows.Err())
	return requestState{Site: stateOf(t, s), Meta: metaState(t, s.db), Requests: reqs}
}

// watchingHooks counts every import hook call, OnRequest too.
func watchingHooks(n *int) multisite.ImportOptions {
	h := countingHooks(n)
	h.OnRequest = func(context.Context, hooks.Tx, hooks.Request) (hooks.Decision, string, error) {
		*n++
		return hooks.Grant, "granted by the hook", nil
	}
	return multisite.ImportOptions{Hooks: h}
}

// requireRequestRefused imports each packet at to: each is refused with want,
// leaves to as it was, and calls no hook.
func requireRequestRefused(t *testing.T, to *dsite, want error, pkts map[string][]byte) {
	t.Helper()
	for name, pkt := range pkts {
		before := requestStateOf(t, to)
		calls := 0
		_, err := importWith(to, pkt, watchingHooks(&calls))
		if !errors.Is(err, want) {
			t.Errorf("%s at %s: import = %v, want %v", name, to.name, err, want)
		}
		if diff := cmp.Diff(before, requestStateOf(t, to)); diff != "" {
			t.Errorf("%s changed %s (-before +after):\n%s", name, to.name, diff)
		}
		if calls != 0 {
			t.Errorf("%s at %s: %d hook calls", name, to.name, calls)
		}
	}
}

// newRequestRecord is a request record made up from fields.
func newRequestRecord(t *testing.T, v map[string]any) *syncpkt.Setting {
	t.Helper()
	return editRequest(t, &syncpkt.Setting{Key: "ms.request", Value: "{}"}, func(m map[string]any) {
		for k, x := range v {
			m[k] = x
		}
	})
}

// forwardLink is the link of hop of request id by which by addresses to,
// signed with by's key over the message of SPEC.md ("Proofs": the domain,
// then family, request ID, hop as a uvarint, to).
func forwardLink(t *testing.T, by *dsite, id string, hop int, to replica.ID) map[string]any {
	t.Helper()
	family, key := siteKey(t, &by.site)
	str := func(b []byte, v string) []byte { return append(binary.AppendUvarint(b, uint64(len(v))), v...) }
	msg := []byte("multisite request forward v1\x00")
	msg = str(msg, family)
	msg = str(msg, id)
	msg = binary.AppendUvarint(msg, uint64(hop))
	msg = str(msg, string(to))
	return map[string]any{"to": string(to), "by": string(by.id), "proof": ed25519.Sign(key, msg)}
}

// signedBy gives s the proof of key under the name signer.
func signedBy(t *testing.T, s *syncpkt.Setting, by *dsite, signer replica.ID) *syncpkt.Setting {
	t.Helper()
	family, key := siteKey(t, &by.site)
	c := *s
	return signSetting(family, key, signer, &c)
}

// TestRequestProof_ForgedRequestInAnothersName: dublin makes up a request
// in bangalore's name; the master (and bangalore) refuse it however it is
// signed, and bangalore's own request is granted afterwards.
func TestRequestProof_ForgedRequestInAnothersName(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		boston, blr, dub := reqFamily(t, open)
		forged := newRequestRecord(t, map[string]any{"id": "forged-1", "table": "defect", "key": []any{2}, "requester": string(blr.id),
			"master": string(boston.id), "state": "pending", "reason": "give it to bangalore", "created": "2026-12-01T10:00:00Z",
			"updated": "2026-12-01T10:00:00Z", "version": 1, "origin": string(blr.id), "epoch": 1})
		inDublinsName := editRequest(t, forged, func(v map[string]any) { v["origin"] = string(dub.id) })
		pkts := map[string][]byte{
			"signed by dublin as itself":         forge(t, &dub.site, &boston.site, signedBy(t, forged, dub, dub.id)),
			"signed by dublin as bangalore":      forge(t, &dub.site, &boston.site, signedBy(t, forged, dub, blr.id)),
			"no proof":                           forge(t, &dub.site, &boston.site, forged),
			"made by dublin for bangalore":       forge(t, &dub.site, &boston.site, signedBy(t, inDublinsName, dub, dub.id)),
			"signed by dublin as bangalore, hub": forge(t, &dub.site, &blr.site, signedBy(t, forged, dub, blr.id)),
		}
		for name, want := range map[string]error{"signed by dublin as itself": multisite.ErrAuthority, "signed by dublin as bangalore": multisite.ErrProof,
			"no proof": multisite.ErrProof, "made by dublin for bangalore": multisite.ErrAuthority} {
			requireRequestRefused(t, boston, want, map[string][]byte{name: pkts[name]})
		}
		requireRequestRefused(t, blr, multisite.ErrProof, map[string][]byte{"at bangalore": pkts["signed by dublin as bangalore, hub"]})
		if m := boston.masterOf(t, "defect", "id", 2); m != boston.id {
			t.Fatalf("defect 2 moved to %s", m)
		}

		// The genuine members still sync, and bangalore's own request works.
		id, err := multisite.RequestMastership(ctx, blr.db, "defect", []any{2}, "mine")
		require.NoError(t, err)
		var seen []hooks.Request
		send(t, blr, boston, granting(&seen))
		send(t, boston, blr, multisite.ImportOptions{})
		send(t, boston, dub, multisite.ImportOptions{})
		send(t, dub, boston, multisite.ImportOptions{})
		if r := requestAt(t, blr, id); r.State != multisite.RequestGranted || len(seen) != 1 || blr.masterOf(t, "defect", "id", 2) != blr.id {
			t.Errorf("bangalore's request %+v, hook calls %d", r, len(seen))
		}
		if r := requestAt(t, dub, id); r.State != multisite.RequestGranted {
			t.Errorf("dublin sees %+v", r)
		}
	})
}

// TestRequestProof_ForgedAnswer: bangalore's request waits at boston, the
// master; dublin answers it "granted" in boston's name, or in its own:
// refused at boston and at bangalore, whose view stays pending, the row
// stays boston's; boston's own answer goes through afterwards.
func TestRequestProof_ForgedAnswer(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		boston, blr, dub := reqFamily(t, open)
		id, err := multisite.RequestMastership(ctx, blr.db, "defect", []any{3}, "please")
		require.NoError(t, err)
		send(t, blr, boston, multisite.ImportOptions{}) // no hook: it waits for boston's administrator
		pkt := dexport(t, boston, dub)
		pending := requestRecord(t, pkt, id)
		_, err = importWith(dub, pkt, multisite.ImportOptions{})
		require.NoError(t, err)
		require.Equal(t, string(blr.id), pending.Signer, "boston forwards bangalore's proof")
		granted := editRequest(t, pending, func(v map[string]any) {
			v["state"], v["answer"], v["version"], v["origin"], v["epoch"] = "granted", "yes", 2, string(boston.id), 1000
		})
		byDublin := editRequest(t, granted, func(v map[string]any) { v["origin"], v["master"] = string(dub.id), string(dub.id) })
		forwarded := editRequest(t, pending, func(v map[string]any) {
			v["state"], v["master"], v["hops"], v["version"], v["origin"], v["epoch"] = "forwarded", string(dub.id), 1, 2, string(dub.id), 1000
		})
		for _, to := range []*dsite{boston, blr} {
			requireRequestRefused(t, to, multisite.ErrProof, map[string][]byte{
				"granted in boston's name": forge(t, &dub.site, &to.site, signedBy(t, granted, dub, boston.id)),
				"granted without a proof":  forge(t, &dub.site, &to.site, granted),
			})
			requireRequestRefused(t, to, multisite.ErrAuthority, map[string][]byte{
				"granted by boston, signed by dublin": forge(t, &dub.site, &to.site, signedBy(t, granted, dub, dub.id)),
				"granted by dublin":                   forge(t, &dub.site, &to.site, signedBy(t, byDublin, dub, dub.id)),
				"forwarded by dublin to itself":       forge(t, &dub.site, &to.site, signedBy(t, forwarded, dub, dub.id)),
			})
		}
		if r := requestAt(t, blr, id); r.State != multisite.RequestPending {
			t.Errorf("bangalore sees %+v", r)
		}
		for _, s := range []*dsite{boston, blr} {
			if m := s.masterOf(t, "defect", "id", 3); m != boston.id {
				t.Errorf("defect 3 is mastered by %s at %s", m, s.name)
			}
		}

		// boston's own grant.
		_, err = multisite.GrantRequest(ctx, boston.db, id)
		require.NoError(t, err)
		send(t, boston, blr, multisite.ImportOptions{})
		send(t, boston, dub, multisite.ImportOptions{})
		send(t, dub, boston, multisite.ImportOptions{})
		if r := requestAt(t, blr, id); r.State != multisite.RequestGranted || blr.masterOf(t, "defect", "id", 3) != blr.id {
			t.Errorf("bangalore sees %+v", r)
		}
	})
}

// TestRequestProof_SettledNeverReopens: a denied request made pending
// again by its requester, or forwarded by another member, is refused
// wherever the answer is held.
func TestRequestProof_SettledNeverReopens(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		boston, blr, dub := reqFamily(t, open)
		id, err := multisite.RequestMastership(ctx, blr.db, "defect", []any{4}, "please")
		require.NoError(t, err)
		send(t, blr, boston, multisite.ImportOptions{})
		_, err = multisite.DenyRequest(ctx, boston.db, id, "no")
		require.NoError(t, err)
		send(t, boston, blr, multisite.ImportOptions{})
		pkt := dexport(t, boston, dub)
		denied := requestRecord(t, pkt, id)
		_, err = importWith(dub, pkt, multisite.ImportOptions{})
		require.NoError(t, err)
		require.Equal(t, string(boston.id), denied.Signer, "boston signs its answer")
		var v map[string]any
		require.NoError(t, json.Unmarshal([]byte(denied.Value), &v))
		require.Equal(t, "denied", v["state"])
		again := editRequest(t, denied, func(v map[string]any) {
			v["state"], v["version"], v["origin"], v["master"], v["answer"], v["epoch"] = "pending", 3, string(blr.id), string(boston.id), "", 1000
		})
		regranted := editRequest(t, denied, func(v map[string]any) {
			v["state"], v["version"], v["answer"], v["epoch"] = "granted", 3, "changed my mind", 1000
		})
		onward := editRequest(t, denied, func(v map[string]any) {
			v["state"], v["version"], v["hops"], v["origin"], v["master"], v["epoch"] = "forwarded", 3, 2, string(dub.id), string(blr.id), 1000
		})
		for _, to := range []*dsite{boston, blr, dub} {
			from := dub
			if to == dub {
				from = blr
			}
			requireRequestRefused(t, to, multisite.ErrAuthority, map[string][]byte{
				"pending again by the requester": forge(t, &from.site, &to.site, signedBy(t, again, blr, blr.id)),
				"forwarded on by dublin":         forge(t, &from.site, &to.site, signedBy(t, onward, dub, dub.id)),
			})
		}
		// The master itself cannot take its answer back either: a
		// settled request never changes (shown with boston's real key).
		requireRequestRefused(t, blr, multisite.ErrAuthority, map[string][]byte{
			"granted after denied, by boston": forge(t, &boston.site, &blr.site, signedBy(t, regranted, boston, boston.id)),
		})
		if r := requestAt(t, blr, id); r.State != multisite.RequestDenied {
			t.Errorf("bangalore sees %+v", r)
		}
		send(t, blr, boston, multisite.ImportOptions{})
		send(t, dub, boston, multisite.ImportOptions{})
		send(t, boston, blr, multisite.ImportOptions{})
	})
}

// TestRequestProof_ThroughAHub: bangalore asks boston for a row boston has
// handed to dublin; boston forwards the request, dublin grants it, and
// the answer reaches bangalore through boston: every version carries its
// maker's proof, stored at the hub and forwarded as it was.
func TestRequestProof_ThroughAHub(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		boston, blr, dub := reqFamily(t, open)
		id, err := multisite.RequestMastership(ctx, blr.db, "defect", []any{5}, "")
		require.NoError(t, err)
		_, err = multisite.TransferMastership(ctx, boston.db, "defect", dub.id, []any{5})
		require.NoError(t, err)
		send(t, blr, boston, multisite.ImportOptions{})
		pkt := dexport(t, boston, dub)
		if s := requestRecord(t, pkt, id); s.Signer != string(boston.id) || len(s.Proof) == 0 {
			t.Errorf("boston's forward is signed by %q", s.Signer)
		}
		var seen []hooks.Request
		_, err = importWith(dub, pkt, granting(&seen))
		require.NoError(t, err)
		require.Len(t, seen, 1)
		send(t, dub, boston, multisite.ImportOptions{})
		var signer string
		var stored []byte
		require.NoError(t, boston.db.QueryRow(boston.d.Rebind(`SELECT signer, proof FROM ms_request WHERE id = ?`), string(id)).Scan(&signer, &stored))
		if signer != string(dub.id) || len(stored) != 64 {
			t.Errorf("boston stores the answer's proof as %q, %d bytes", signer, len(stored))
		}
		pkt = dexport(t, boston, blr)
		if s := requestRecord(t, pkt, id); s.Signer != string(dub.id) || !cmp.Equal(s.Proof, stored) {
			t.Errorf("the hub forwards the answer signed by %q", s.Signer)
		}
		_, err = importWith(blr, pkt, multisite.ImportOptions{})
		require.NoError(t, err)
		if r := requestAt(t, blr, id); r.State != multisite.RequestGranted || r.Origin != dub.id {
			t.Errorf("bangalore sees %+v", r)
		}
		if m := blr.masterOf(t, "defect", "id", 5); m != blr.id {
			t.Errorf("defect 5 is mastered by %s at bangalore", m)
		}
	})
}

// TestRequestProof_UnprovenCopy: a version held without a proof (from
// before metadata format 10) travels without one; a receiver that holds it
// takes the copy (it changes nothing), one that lacks it refuses the packet.
func TestRequestProof_UnprovenCopy(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		boston, blr, dub := reqFamily(t, open)
		id, err := multisite.RequestMastership(ctx, blr.db, "defect", []any{2}, "")
		require.NoError(t, err)
		pkt := dexport(t, blr, boston)
		_, err = importWith(boston, pkt, multisite.ImportOptions{})
		require.NoError(t, err)
		own := requestRecord(t, pkt, id)
		unproven := &syncpkt.Setting{Key: own.Key, Value: own.Value}
		// boston holds it: the unproven copy changes nothing there.
		before := requestStateOf(t, boston)
		_, err = importWith(boston, forge(t, &dub.site, &boston.site, unproven), multisite.ImportOptions{})
		require.NoError(t, err)
		if after := requestStateOf(t, boston); !cmp.Equal(before.Requests, after.Requests) {
			t.Errorf("an unproven copy changed boston's requests: %v -> %v", before.Requests, after.Requests)
		}
		// dublin lacks it: refused, rows and requests as they were, no
		// hook called (the refusal notes a gap, to ask for a resend, as
		// for an unproven row image).
		before = requestStateOf(t, dub)
		calls := 0
		if _, err := importWith(dub, forge(t, &boston.site, &dub.site, unproven), watchingHooks(&calls)); !errors.Is(err, multisite.ErrProof) {
			t.Errorf("dublin imports an unproven request it lacks: %v", err)
		}
		if after := requestStateOf(t, dub); !cmp.Equal(before.Site, after.Site) || !cmp.Equal(before.Requests, after.Requests) || calls != 0 {
			t.Errorf("a refused unproven request changed dublin (%d hook calls): %v -> %v", calls, before.Requests, after.Requests)
		}
		// A request boston holds without a proof is forwarded without one.
		boston.mustExec(t, `UPDATE ms_request SET signer = NULL, proof = NULL`)
		pkt = dexport(t, boston, dub)
		if s := requestRecord(t, pkt, id); s.Signer != "" || len(s.Proof) != 0 {
			t.Errorf("boston forwards a proof it does not hold: %q", s.Signer)
		}
		if _, err := importWith(dub, pkt, multisite.ImportOptions{}); !errors.Is(err, multisite.ErrProof) {
			t.Errorf("dublin imports an unproven request it lacks: %v", err)
		}
	})
}

// reqFamily4 is reqFamily with a fourth member, tokyo, that every member
// knows.
func reqFamily4(t *testing.T, open func(string) *sql.DB) (boston, blr, dub, tokyo *dsite) {
	t.Helper()
	boston, blr, dub = reqFamily(t, open)
	tokyo = replicateTo(t, boston, open("tokyo"), "tokyo")
	dsync(t, tokyo, boston)
	for _, s := range []*dsite{blr, dub, tokyo} {
		dsync(t, boston, s)
	}
	return boston, blr, dub, tokyo
}

// requestLinksOf returns the forward links of request record s.
func requestLinksOf(t *testing.T, s *syncpkt.Setting) []map[string]any {
	t.Helper()
	var v struct {
		Links []map[string]any `json:"links"`
	}
	require.NoError(t, json.Unmarshal([]byte(s.Value), &v))
	return v.Links
}

// TestRequestProof_MissedForward: bangalore asks boston for a row boston
// has handed to dublin; boston forwards it (version 2), dublin grants it
// (version 3). tokyo holds version 1 and gets version 3 from boston, a hub
// that holds only the newest: it never saw the forward, and takes the
// answer because its chain of links proves boston addressed dublin.
func TestRequestProof_MissedForward(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		boston, blr, dub, tokyo := reqFamily4(t, open)
		id, err := multisite.RequestMastership(ctx, blr.db, "defect", []any{5}, "")
		require.NoError(t, err)
		_, err = multisite.TransferMastership(ctx, boston.db, "defect", dub.id, []any{5})
		require.NoError(t, err)
		pkt := dexport(t, blr, tokyo)
		if links := requestLinksOf(t, requestRecord(t, pkt, id)); len(links) != 1 || links[0]["by"] != string(blr.id) || links[0]["to"] != string(boston.id) {
			t.Errorf("bangalore's request carries links %v", links)
		}
		_, err = importWith(tokyo, pkt, multisite.ImportOptions{})
		require.NoError(t, err)
		require.Equal(t, uint64(1), requestAt(t, tokyo, id).Version)
		send(t, blr, boston, multisite.ImportOptions{})
		var seen []hooks.Request
		send(t, boston, dub, granting(&seen))
		require.Len(t, seen, 1)
		send(t, dub, boston, multisite.ImportOptions{})
		pkt = dexport(t, boston, tokyo)
		answer := requestRecord(t, pkt, id)
		if links := requestLinksOf(t, answer); len(links) != 2 || links[1]["by"] != string(boston.id) || links[1]["to"] != string(dub.id) || answer.Signer != string(dub.id) {
			t.Errorf("the answer through boston: signer %q, links %v", answer.Signer, links)
		}
		_, err = importWith(tokyo, pkt, multisite.ImportOptions{})
		require.NoError(t, err)
		if r := requestAt(t, tokyo, id); r.State != multisite.RequestGranted || r.Version != 3 || r.Origin != dub.id || r.Hops != 1 {
			t.Errorf("tokyo sees %+v", r)
		}
		send(t, boston, blr, multisite.ImportOptions{})
		if r := requestAt(t, blr, id); r.State != multisite.RequestGranted || blr.masterOf(t, "defect", "id", 5) != blr.id {
			t.Errorf("bangalore sees %+v", r)
		}
	})
}

// TestRequestProof_ClaimedForward: bangalore's request waits at boston.
// dublin claims boston forwarded it to dublin and answers it (granted, or
// a same-numbered denial to block the real answer): with a link signed by
// itself, a link in boston's name, the forward link left out, or no links
// at all. boston and bangalore, which hold version 1 and would miss a
// forward, refuse every one, and so does tokyo, which holds nothing;
// boston's own grant goes through afterwards.
func TestRequestProof_ClaimedForward(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		boston, blr, dub, tokyo := reqFamily4(t, open)
		id, err := multisite.RequestMastership(ctx, blr.db, "defect", []any{2}, "please")
		require.NoError(t, err)
		send(t, blr, boston, multisite.ImportOptions{}) // no hook: it waits for boston's administrator
		pkt := dexport(t, boston, dub)
		pending := requestRecord(t, pkt, id)
		_, err = importWith(dub, pkt, multisite.ImportOptions{})
		require.NoError(t, err)
		link0 := requestLinksOf(t, pending)
		require.Len(t, link0, 1)
		claim := func(state string, links ...map[string]any) *syncpkt.Setting {
			return editRequest(t, pending, func(v map[string]any) {
				v["state"], v["answer"], v["version"], v["hops"], v["origin"], v["master"], v["epoch"] = state, "mine now", 3, 1, string(dub.id), string(dub.id), 1000
				if links == nil {
					delete(v, "links")
				} else {
					v["links"] = links
				}
			})
		}
		own := forwardLink(t, dub, string(id), 1, dub.id)    // dublin's real key, as itself
		forged := forwardLink(t, dub, string(id), 1, dub.id) // dublin's key, in boston's name
		forged["by"] = string(boston.id)
		forgedFirst := forwardLink(t, dub, string(id), 0, dub.id) // bangalore's link 0, made up by dublin
		forgedFirst["by"] = string(blr.id)
		askedDublin := editRequest(t, claim("granted", forgedFirst), func(v map[string]any) { v["version"], v["hops"] = 2, 0 })
		for _, to := range []*dsite{boston, blr, tokyo} {
			requireRequestRefused(t, to, multisite.ErrAuthority, map[string][]byte{
				"granted, link signed by dublin as itself": forge(t, &dub.site, &to.site, signedBy(t, claim("granted", link0[0], own), dub, dub.id)),
				"granted, the forward link left out":       forge(t, &dub.site, &to.site, signedBy(t, claim("granted", link0[0]), dub, dub.id)),
				"denied, link signed by dublin as itself":  forge(t, &dub.site, &to.site, signedBy(t, claim("denied", link0[0], own), dub, dub.id)),
			})
			refused := requireRequestRefused
			if to == tokyo {
				// tokyo lacks dublin's epochs: a packet refused for a
				// proof notes a gap there (to ask for it again), as any
				// ErrProof refusal of a member's packet does.
				refused = requireRequestRefusedKeepsData
			}
			refused(t, to, multisite.ErrProof, map[string][]byte{
				"granted, a link in boston's name": forge(t, &dub.site, &to.site, signedBy(t, claim("granted", link0[0], forged), dub, dub.id)),
				"denied, a link in boston's name":  forge(t, &dub.site, &to.site, signedBy(t, claim("denied", link0[0], forged), dub, dub.id)),
				"granted, no links":                forge(t, &dub.site, &to.site, signedBy(t, claim("granted"), dub, dub.id)),
				"granted, bangalore asked dublin":  forge(t, &dub.site, &to.site, signedBy(t, askedDublin, dub, dub.id)),
			})
		}
		if r := requestAt(t, blr, id); r.State != multisite.RequestPending || r.Version != 1 {
			t.Errorf("bangalore sees %+v", r)
		}
		// A genuine forward link cannot be moved to another hop either.
		moved := editRequest(t, pending, func(v map[string]any) {
			v["state"], v["version"], v["hops"], v["origin"], v["master"], v["epoch"] = "forwarded", 3, 2, string(dub.id), string(tokyo.id), 1000
			v["links"] = []any{link0[0], forged, forwardLink(t, dub, string(id), 2, tokyo.id)}
		})
		requireRequestRefused(t, boston, multisite.ErrProof, map[string][]byte{
			"forwarded on by dublin after a link in boston's name": forge(t, &dub.site, &boston.site, signedBy(t, moved, dub, dub.id)),
		})

		// boston's own grant reaches everyone.
		_, err = multisite.GrantRequest(ctx, boston.db, id)
		require.NoError(t, err)
		for _, s := range []*dsite{blr, dub, tokyo} {
			send(t, boston, s, multisite.ImportOptions{})
		}
		send(t, dub, boston, multisite.ImportOptions{})
		for _, s := range []*dsite{blr, tokyo} {
			if r := requestAt(t, s, id); r.State != multisite.RequestGranted || r.Origin != boston.id {
				t.Errorf("%s sees %+v", s.name, r)
			}
		}
		if m := blr.masterOf(t, "defect", "id", 2); m != blr.id {
			t.Errorf("defect 2 is mastered by %s at bangalore", m)
		}
	})
}

// requireRequestRefusedKeepsData is requireRequestRefused for a refusal
// that may note a gap: rows, epochs and requests stay as they were.
func requireRequestRefusedKeepsData(t *testing.T, to *dsite, want error, pkts map[string][]byte) {
	t.Helper()
	for name, pkt := range pkts {
		before := requestStateOf(t, to)
		calls := 0
		_, err := importWith(to, pkt, watchingHooks(&calls))
		if !errors.Is(err, want) {
			t.Errorf("%s at %s: import = %v, want %v", name, to.name, err, want)
		}
		after := requestStateOf(t, to)
		if diff := cmp.Diff(before.Site, after.Site); diff != "" {
			t.Errorf("%s changed %s (-before +after):\n%s", name, to.name, diff)
		}
		if diff := cmp.Diff(before.Requests, after.Requests); diff != "" {
			t.Errorf("%s changed the requests of %s (-before +after):\n%s", name, to.name, diff)
		}
		if calls != 0 {
			t.Errorf("%s at %s: %d hook calls", name, to.name, calls)
		}
	}
}

// TestRequestProof_NoLinksFromBefore: a version held without links (from
// before metadata format 12) travels without them: a receiver that holds
// it takes the copy (it changes nothing), one that lacks it refuses the
// packet, nothing written.
func TestRequestProof_NoLinksFromBefore(t *testing.T) {
	testdb.ForEachParallel(t, func(t *testing.T, open func(string) *sql.DB) {
		boston, blr, dub := reqFamily(t, open)
		id, err := multisite.RequestMastership(ctx, blr.db, "defect", []any{2}, "")
		require.NoError(t, err)
		send(t, blr, boston, multisite.ImportOptions{})
		blr.mustExec(t, `UPDATE ms_request SET links = NULL`)
		pkt := dexport(t, blr, dub)
		rec := requestRecord(t, pkt, id)
		if links := requestLinksOf(t, rec); len(links) != 0 || rec.Signer != string(blr.id) {
			t.Errorf("bangalore sends links it does not hold: %v (signer %q)", links, rec.Signer)
		}
		before := requestStateOf(t, boston)
		_, err = importWith(boston, forge(t, &blr.site, &boston.site, rec), multisite.ImportOptions{})
		require.NoError(t, err)
		if after := requestStateOf(t, boston); !cmp.Equal(before.Requests, after.Requests) {
			t.Errorf("a copy without links changed boston's requests: %v -> %v", before.Requests, after.Requests)
		}
		requireRequestRefusedKeepsData(t, dub, multisite.ErrProof, map[string][]byte{"without links": pkt})
	})
}
