package multisite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/syncpkt"
)

// syncHandlers are the two routes an existing admin tool adds to its own
// http.ServeMux to be a sync endpoint for the replica in db: POST takes a
// packet in the request body and imports it, GET serves a packet with what
// the replica named in ?for= lacks. TLS and authentication are the tool's,
// as for its other routes; the packet's signature already proves which
// member wrote it.
func syncHandlers(mux *http.ServeMux, db *sql.DB) {
	mux.HandleFunc("POST /multisite/packet", func(w http.ResponseWriter, r *http.Request) {
		// Two limits: bytes on the wire (compressed), and the packet as
		// ImportPacket reads it, which also stops a decompression bomb.
		body := http.MaxBytesReader(w, r.Body, 64<<20)
		rep, err := multisite.ImportPacket(r.Context(), db, body, multisite.ImportOptions{MaxPacketSize: 256 << 20})
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig) || errors.Is(err, syncpkt.ErrTooLarge):
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		case err != nil:
			// Nothing was imported: a bad packet, one for another family
			// or replica, a gap, a refused change (all typed errors).
			http.Error(w, err.Error(), http.StatusUnprocessableEntity)
		default:
			fmt.Fprintln(w, rep) // ImportReport.String: one line for the sender's log
		}
	})
	mux.HandleFunc("GET /multisite/packet", func(w http.ResponseWriter, r *http.Request) {
		target, err := multisite.FindReplica(r.Context(), db, r.URL.Query().Get("for"))
		if errors.Is(err, replica.ErrUnknown) {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		// The packet streams to the client. Should the export fail half
		// way, the client gets a packet without its trailer and signature,
		// which ImportPacket refuses.
		if _, err := multisite.ExportPacket(r.Context(), db, target.ID, w, multisite.ExportOptions{}); err != nil {
			log.Printf("multisite: packet for %s: %v", target, err)
		}
	})
}

// Serve sync packets over HTTP from an existing admin tool: dublin pushes
// its change to boston's endpoint, pulls boston's, and a packet that is
// not one is refused with nothing changed.
func Example_httpSyncEndpoint() {
	ctx := context.Background()
	boston, dublin, _, cleanup := apiFamily(ctx)
	defer cleanup()

	mux := http.NewServeMux() // the admin tool's own mux
	syncHandlers(mux, boston)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// At dublin: a change, pushed to boston.
	if _, err := dublin.Exec(`INSERT INTO defect (id, headline) VALUES (?, 'dublin crash')`, exampleNextID(ctx, dublin)); err != nil {
		log.Fatal(err)
	}
	bostonInfo, err := multisite.FindReplica(ctx, dublin, "boston")
	if err != nil {
		log.Fatal(err)
	}
	var pkt bytes.Buffer
	if _, err := multisite.ExportPacket(ctx, dublin, bostonInfo.ID, &pkt, multisite.ExportOptions{}); err != nil {
		log.Fatal(err)
	}
	resp, err := http.Post(srv.URL+"/multisite/packet", "application/octet-stream", &pkt)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println("push:", resp.Status)

	// Pull what boston has for dublin and import it.
	resp, err = http.Get(srv.URL + "/multisite/packet?for=dublin")
	if err != nil {
		log.Fatal(err)
	}
	rep, err := multisite.ImportPacket(ctx, dublin, resp.Body, multisite.ImportOptions{})
	resp.Body.Close()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("pull:", resp.Status, "from boston:", rep.Origin == bostonInfo.ID)

	var n int
	if err := boston.QueryRow(`SELECT count(*) FROM defect WHERE headline = 'dublin crash'`).Scan(&n); err != nil {
		log.Fatal(err)
	}
	fmt.Println("boston has dublin's row:", n == 1)

	// Not a packet, and an unknown replica.
	resp, err = http.Post(srv.URL+"/multisite/packet", "application/octet-stream", bytes.NewReader([]byte("hello")))
	if err != nil {
		log.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	fmt.Println("garbage:", resp.Status)
	resp, err = http.Get(srv.URL + "/multisite/packet?for=atlantis")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println("unknown replica:", resp.Status)
	// Output:
	// push: 200 OK
	// pull: 200 OK from boston: true
	// boston has dublin's row: true
	// garbage: 422 Unprocessable Entity
	// unknown replica: 404 Not Found
}

// nextID takes a new key for defect from db's key range.
func exampleNextID(ctx context.Context, db *sql.DB) int64 {
	id, err := multisite.NextID(ctx, db, nil, "defect")
	if err != nil {
		log.Fatal(err)
	}
	return id
}
