package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/multisite-go/multisite/examples/internal/plan"
)

// listenAddr is where a site's serve listens by default: its listen
// address, or the port of its url on every interface.
func listenAddr(s plan.Site) string {
	if s.Listen != "" {
		return s.Listen
	}
	u, err := url.Parse(s.URL)
	if err != nil || u.Host == "" {
		return ""
	}
	if p := u.Port(); p != "" {
		return ":" + p
	}
	if u.Scheme == "https" {
		return ":443"
	}
	return ":80"
}

// serveHTTP serves h on addr until ctx is done, then shuts down cleanly:
// requests under way get up to 30 s to finish. The first line on stdout
// says where it listens (the port chosen, for ":0").
func serveHTTP(ctx context.Context, e *env, h http.Handler, addr, cert, key string, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return &exitError{code: exitFail, err: err}
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	scheme := "http"
	if cert != "" {
		scheme = "https"
	}
	fmt.Fprintf(e.stdout, "serving on %s://%s/packets\n", scheme, ln.Addr())
	log.Info("multiutil serve: started", "addr", ln.Addr().String(), "tls", cert != "")
	done := make(chan error, 1)
	go func() {
		if cert != "" {
			done <- srv.ServeTLS(ln, cert, key)
		} else {
			done <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-done:
		return &exitError{code: exitFail, err: err}
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	if serr := <-done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	log.Info("multiutil serve: stopped", "err", err)
	if err != nil {
		return &exitError{code: exitFail, err: err}
	}
	return nil
}

func writeJSONCompact(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}
