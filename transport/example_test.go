package transport_test

import (
	"bytes"
	"context"
	"database/sql"
	"log"
	"log/slog"
	"net/http"
	"os"

	"github.com/multisite-go/multisite"
	"github.com/multisite-go/multisite/mastership"
	"github.com/multisite-go/multisite/replica"
	"github.com/multisite-go/multisite/transport"
)

// Mount the sync endpoint in an admin tool that already serves HTTP: the
// tool keeps its own mux, TLS and logging; peers authenticate with their
// own bearer tokens.
func ExampleNewHandler() {
	var db *sql.DB // the tool's own replica database, opened elsewhere
	h, err := transport.NewHandler(db, transport.HandlerOptions{
		Tokens: map[string]string{"bangalore": os.Getenv("MULTISITE_TOKEN_BANGALORE")},
		Bay:    "/srv/multisite/inbound", // verified packets wait here; empty imports at once
		Export: multisite.ExportOptions{Policy: mastership.PerTable{"defect": "boston"}},
		Logger: slog.Default(),
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/multisite/", http.StripPrefix("/multisite", h))
	srv := &http.Server{Addr: ":8443", Handler: mux}
	log.Fatal(srv.ListenAndServeTLS("cert.pem", "key.pem"))
}

// One round with a hub from a spoke: push what the hub lacks, pull what
// the hub has for us, import it.
func ExampleClient() {
	ctx := context.Background()
	var db *sql.DB     // this site's replica
	var hub replica.ID // the hub's replica ID (multisite.ReadStatus lists them)
	c := &transport.Client{URL: "https://boston.example.com/multisite", Token: os.Getenv("MULTISITE_TOKEN")}

	var out bytes.Buffer
	if _, err := multisite.ExportPacket(ctx, db, hub, &out, multisite.ExportOptions{}); err != nil {
		log.Fatal(err)
	}
	if _, err := c.Push(ctx, &out); err != nil {
		log.Fatal(err)
	}
	var in bytes.Buffer
	if _, err := c.Pull(ctx, &in); err != nil {
		log.Fatal(err)
	}
	if _, err := multisite.ImportPacket(ctx, db, &in, multisite.ImportOptions{}); err != nil {
		log.Fatal(err)
	}
}
