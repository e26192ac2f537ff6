package transport_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/internal/testdb"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/transport"
)

// family is a family of three replicas: boston (which serves), bangalore
// and dublin (its peers), each with its own database.
type family struct {
	boston, bangalore, dublin       *sql.DB
	bostonID, bangaloreID, dublinID replica.ID
}

var tokens = map[string]string{"bangalore": "blr-secret", "dublin": "dub-secret"}

func newFamily(t *testing.T, open func(string) *sql.DB) *family {
	t.Helper()
	ctx := context.Background()
	f := &family{boston: open("boston"), bangalore: open("bangalore"), dublin: open("dublin")}
	_, err := f.boston.Exec(`CREATE TABLE defect (id BIGINT PRIMARY KEY, headline VARCHAR(200) NOT NULL)`)
	require.NoError(t, err)
	_, err = f.boston.Exec(`INSERT INTO defect (id, headline) VALUES (1, 'crash on save')`)
	require.NoError(t, err)
	info, err := multisite.Activate(ctx, f.boston, multisite.ActivateOptions{Name: "boston"})
	require.NoError(t, err)
	f.bostonID = info.ID
	for _, site := range []struct {
		name string
		db   *sql.DB
		id   *replica.ID
	}{{"bangalore", f.bangalore, &f.bangaloreID}, {"dublin", f.dublin, &f.dublinID}} {
		var pkt bytes.Buffer
		i, _, err := multisite.Replicate(ctx, f.boston, site.name, &pkt, multisite.ReplicateOptions{})
		require.NoError(t, err)
		_, err = multisite.CreateReplica(ctx, site.db, &pkt, multisite.CreateOptions{})
		require.NoError(t, err)
		// Its first packet to boston enrols the key it made.
		var ack bytes.Buffer
		_, err = multisite.WriteAck(ctx, site.db, f.bostonID, &ack)
		require.NoError(t, err)
		_, err = multisite.ImportPacket(ctx, f.boston, &ack, multisite.ImportOptions{})
		require.NoError(t, err)
		require.NoError(t, multisite.SetState(ctx, site.db, replica.Active))
		*site.id = i.ID
	}
	return f
}

// export returns a packet from db for target.
func export(t *testing.T, db *sql.DB, target replica.ID) []byte {
	t.Helper()
	var b bytes.Buffer
	_, err := multisite.ExportPacket(context.Background(), db, target, &b, multisite.ExportOptions{})
	require.NoError(t, err)
	return b.Bytes()
}

func count(t *testing.T, db *sql.DB, where string) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM defect WHERE `+where).Scan(&n))
	return n
}

func serve(t *testing.T, db *sql.DB, opt transport.HandlerOptions) *httptest.Server {
	t.Helper()
	if opt.Tokens == nil {
		opt.Tokens = tokens
	}
	h, err := transport.NewHandler(db, opt)
	require.NoError(t, err)
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func client(srv *httptest.Server, token string) *transport.Client {
	return &transport.Client{URL: srv.URL, Token: token, HTTP: srv.Client()}
}

// TestPushPull moves a change each way over TLS: bangalore pushes its new
// row to boston (imported at once), then pulls boston's change.
func TestPushPull(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, open func(string) *sql.DB) {
		ctx := context.Background()
		f := newFamily(t, open)
		srv := serve(t, f.boston, transport.HandlerOptions{})
		c := client(srv, tokens["bangalore"])

		id, err := multisite.NextID(ctx, f.bangalore, nil, "defect")
		require.NoError(t, err)
		// The key is inlined: placeholders differ between dialects.
		_, err = f.bangalore.Exec(fmt.Sprintf(`INSERT INTO defect (id, headline) VALUES (%d, 'from bangalore')`, id))
		require.NoError(t, err)
		pkt := export(t, f.bangalore, f.bostonID)

		res, err := c.Push(ctx, bytes.NewReader(pkt))
		if err != nil {
			t.Fatalf("Push: %v", err)
		}
		want := &transport.PushResult{Status: "imported", Origin: "bangalore", OriginID: string(f.bangaloreID), Target: "boston",
			Bytes: int64(len(pkt)), Tables: map[string]transport.TableCounts{"defect": {Inserted: 1}}}
		if d := cmp.Diff(want, res); d != "" {
			t.Errorf("Push result (-want +got):\n%s", d)
		}
		if n := count(t, f.boston, "headline = 'from bangalore'"); n != 1 {
			t.Errorf("boston has %d rows from bangalore, want 1", n)
		}
		res, err = c.Push(ctx, bytes.NewReader(pkt))
		if err != nil || res.Status != "duplicate" {
			t.Errorf("second Push = %+v, %v; want status duplicate", res, err)
		}

		_, err = f.boston.Exec(`UPDATE defect SET headline = 'crash on save (fixed)' WHERE id = 1`)
		require.NoError(t, err)
		var in bytes.Buffer
		if _, err := c.Pull(ctx, &in); err != nil {
			t.Fatalf("Pull: %v", err)
		}
		rep, err := multisite.ImportPacket(ctx, f.bangalore, &in, multisite.ImportOptions{})
		if err != nil {
			t.Fatalf("import pulled packet: %v", err)
		}
		if rep.Origin != f.bostonID {
			t.Errorf("pulled packet's origin = %s, want boston %s", rep.Origin, f.bostonID)
		}
		if n := count(t, f.bangalore, "headline = 'crash on save (fixed)'"); n != 1 {
			t.Errorf("bangalore has %d fixed rows after the pull, want 1", n)
		}
		hb, err := multisite.ContentHash(ctx, f.boston)
		require.NoError(t, err)
		hl, err := multisite.ContentHash(ctx, f.bangalore)
		require.NoError(t, err)
		if hb != hl {
			t.Errorf("content hashes differ after push and pull: boston %s, bangalore %s", hb, hl)
		}
	})
}

// TestPushToBay stores a verified packet in the inbound bay, whole, under
// a *.pkt name, and applies nothing yet.
func TestPushToBay(t *testing.T) {
	ctx := context.Background()
	f := newFamily(t, func(name string) *sql.DB { return testdb.SQLite(t, name) })
	bay := t.TempDir()
	srv := serve(t, f.boston, transport.HandlerOptions{Bay: bay})
	_, err := f.bangalore.Exec(`INSERT INTO defect (id, headline) VALUES (?, 'queued')`, mustNextID(t, f.bangalore))
	require.NoError(t, err)
	pkt := export(t, f.bangalore, f.bostonID)

	res, err := client(srv, tokens["bangalore"]).Push(ctx, bytes.NewReader(pkt))
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	if res.Status != "stored" || res.File == "" {
		t.Fatalf("Push = %+v, want stored in a file", res)
	}
	entries, err := os.ReadDir(bay)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if d := cmp.Diff([]string{res.File}, names); d != "" {
		t.Errorf("bay holds (-want +got):\n%s", d)
	}
	got, err := os.ReadFile(filepath.Join(bay, res.File))
	require.NoError(t, err)
	if !bytes.Equal(got, pkt) {
		t.Errorf("stored packet differs from the one pushed (%d vs %d bytes)", len(got), len(pkt))
	}
	if n := count(t, f.boston, "headline = 'queued'"); n != 0 {
		t.Errorf("boston applied the packet already: %d rows", n)
	}
	if _, err := multisite.ImportPacket(ctx, f.boston, bytes.NewReader(got), multisite.ImportOptions{}); err != nil {
		t.Errorf("import the stored packet: %v", err)
	}
}

func mustNextID(t *testing.T, db *sql.DB) int64 {
	t.Helper()
	id, err := multisite.NextID(context.Background(), db, nil, "defect")
	require.NoError(t, err)
	return id
}

// TestRefused sends what must be refused and checks the status code, the
// sentinel, and that neither the database nor the bay changed.
func TestRefused(t *testing.T) {
	ctx := context.Background()
	f := newFamily(t, func(name string) *sql.DB { return testdb.SQLite(t, name) })
	_, err := f.bangalore.Exec(`INSERT INTO defect (id, headline) VALUES (?, 'x')`, mustNextID(t, f.bangalore))
	require.NoError(t, err)
	// bangalore learns of dublin from boston.
	_, err = multisite.ImportPacket(ctx, f.bangalore, bytes.NewReader(export(t, f.boston, f.bangaloreID)), multisite.ImportOptions{})
	require.NoError(t, err)
	good := export(t, f.bangalore, f.bostonID)
	forDublin := export(t, f.bangalore, f.dublinID)
	badSig := bytes.Clone(good)
	badSig[len(badSig)-1] ^= 0xff
	fromDublin := export(t, f.dublin, f.bostonID)

	tests := []struct {
		name   string
		token  string
		body   []byte
		max    int64
		code   int
		target error
	}{
		{"no token", "", good, 0, http.StatusUnauthorized, transport.ErrUnauthorized},
		{"unknown token", "guess", good, 0, http.StatusUnauthorized, transport.ErrUnauthorized},
		{"bad signature", tokens["bangalore"], badSig, 0, http.StatusUnprocessableEntity, transport.ErrRejected},
		{"truncated", tokens["bangalore"], good[:len(good)/2], 0, http.StatusUnprocessableEntity, transport.ErrRejected},
		{"not a packet", tokens["bangalore"], []byte("hello, world"), 0, http.StatusUnprocessableEntity, transport.ErrRejected},
		{"for another replica", tokens["bangalore"], forDublin, 0, http.StatusUnprocessableEntity, transport.ErrRejected},
		{"origin is not the sender", tokens["bangalore"], fromDublin, 0, http.StatusForbidden, transport.ErrForbidden},
		{"too large", tokens["bangalore"], good, int64(len(good) - 1), http.StatusRequestEntityTooLarge, transport.ErrTooLarge},
	}
	for _, bayMode := range []bool{false, true} {
		for _, tt := range tests {
			name := tt.name
			if bayMode {
				name += " (bay)"
			}
			t.Run(name, func(t *testing.T) {
				bay := ""
				if bayMode {
					bay = t.TempDir()
				}
				before, err := multisite.ContentHash(ctx, f.boston)
				require.NoError(t, err)
				srv := serve(t, f.boston, transport.HandlerOptions{Bay: bay, MaxPacketSize: tt.max})
				c := &transport.Client{URL: srv.URL, Token: tt.token, HTTP: srv.Client()}
				var res *transport.PushResult
				if tt.token == "" {
					// The client refuses to send without a token: ask by hand.
					resp, err := srv.Client().Post(srv.URL+"/packets", "application/octet-stream", bytes.NewReader(tt.body))
					require.NoError(t, err)
					resp.Body.Close()
					if resp.StatusCode != tt.code {
						t.Errorf("status = %d, want %d", resp.StatusCode, tt.code)
					}
				} else {
					res, err = c.Push(ctx, bytes.NewReader(tt.body))
					var se *transport.StatusError
					if !errors.As(err, &se) || se.Code != tt.code || !errors.Is(err, tt.target) {
						t.Errorf("Push = %+v, %v; want status %d (%v)", res, err, tt.code, tt.target)
					}
				}
				after, err := multisite.ContentHash(ctx, f.boston)
				require.NoError(t, err)
				if before != after {
					t.Errorf("boston's content changed")
				}
				if bay != "" {
					if entries, _ := os.ReadDir(bay); len(entries) != 0 {
						t.Errorf("bay not empty: %d entries", len(entries))
					}
				}
			})
		}
	}
}

// TestPullRefused: a pull needs a token of a member, and only GET and
// POST are served.
func TestPullRefused(t *testing.T) {
	f := newFamily(t, func(name string) *sql.DB { return testdb.SQLite(t, name) })
	srv := serve(t, f.boston, transport.HandlerOptions{Tokens: map[string]string{"bangalore": "b", "tokyo": "t", "boston": "self"}})
	tests := []struct {
		name, token string
		target      error
	}{
		{"unknown token", "x", transport.ErrUnauthorized},
		{"not a member yet", "t", transport.ErrNotYet},
		{"the local replica's own", "self", transport.ErrForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			_, err := client(srv, tt.token).Pull(context.Background(), &b)
			if !errors.Is(err, tt.target) || b.Len() != 0 {
				t.Errorf("Pull = %d bytes, %v; want %v and nothing", b.Len(), err, tt.target)
			}
		})
	}
	req, err := http.NewRequest(http.MethodDelete, srv.URL+"/packets", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer b")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") == "" {
		t.Errorf("DELETE = %d (Allow %q), want 405 with Allow", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// TestNewHandlerOptions refuses options that cannot work.
func TestNewHandlerOptions(t *testing.T) {
	db := testdb.SQLite(t, "x")
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	tests := []struct {
		name string
		opt  transport.HandlerOptions
	}{
		{"no tokens", transport.HandlerOptions{}},
		{"empty token", transport.HandlerOptions{Tokens: map[string]string{"a": ""}}},
		{"shared token", transport.HandlerOptions{Tokens: map[string]string{"a": "t", "b": "t"}}},
		{"negative limit", transport.HandlerOptions{Tokens: tokens, MaxPacketSize: -1}},
		{"bay is a file", transport.HandlerOptions{Tokens: tokens, Bay: file}},
		{"missing bay", transport.HandlerOptions{Tokens: tokens, Bay: file + ".d"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := transport.NewHandler(db, tt.opt); !errors.Is(err, transport.ErrOptions) {
				t.Errorf("NewHandler error = %v, want ErrOptions", err)
			}
		})
	}
}

// TestBusy: beyond MaxConcurrent requests under way, the handler answers
// 503 with Retry-After at once.
func TestBusy(t *testing.T) {
	f := newFamily(t, func(name string) *sql.DB { return testdb.SQLite(t, name) })
	srv := serve(t, f.boston, transport.HandlerOptions{MaxConcurrent: 1})
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := client(srv, tokens["bangalore"]).Push(context.Background(), pr)
		done <- err
	}()
	// The first push holds the only slot while its body trickles in.
	_, err := pw.Write([]byte("MSPK"))
	require.NoError(t, err)
	// The server may not have taken the first request yet: ask until
	// it has (a pull that gets in first is harmless).
	for i := 0; ; i++ {
		var b bytes.Buffer
		_, err = client(srv, tokens["dublin"]).Pull(context.Background(), &b)
		if errors.Is(err, transport.ErrBusy) {
			break
		}
		if i == 100 {
			t.Fatalf("a request beyond MaxConcurrent: %v, want ErrBusy", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	pw.Close()
	if err := <-done; !errors.Is(err, transport.ErrRejected) {
		t.Errorf("the trickled push of a non-packet: %v, want ErrRejected", err)
	}
}
