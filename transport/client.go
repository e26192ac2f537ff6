package transport

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Client pushes packets to a [Handler] and pulls the packets it exports.
// The zero value is not usable: URL and Token are required. A Client is
// safe for concurrent use.
type Client struct {
	// URL is where the handler is mounted, e.g.
	// "https://boston.example.com/multisite"; "/packets" is appended.
	URL string
	// Token is the bearer token the server knows this replica by.
	Token string
	// HTTP sends the requests; nil means http.DefaultClient. Give it a
	// Transport with the TLS configuration your server needs, and a
	// Timeout if a hung server must not hang the caller (ctx does too).
	HTTP *http.Client
}

func (c *Client) do(req *http.Request) (*http.Response, error) {
	if c.URL == "" || c.Token == "" {
		return nil, fmt.Errorf("transport: Client needs a URL and a Token")
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("transport: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		line, _ := bufio.NewReader(io.LimitReader(resp.Body, 4096)).ReadString('\n')
		return nil, &StatusError{Code: resp.StatusCode, Message: strings.TrimSpace(line)}
	}
	return resp, nil
}

func (c *Client) endpoint() string { return strings.TrimSuffix(c.URL, "/") + "/packets" }

// Push sends the packet read from r to the server, which verifies it and
// stores or imports it. A refusal is a [*StatusError] (errors.Is with
// [ErrRejected], [ErrNotYet], [ErrTooLarge], [ErrUnauthorized],
// [ErrForbidden], [ErrBusy] or [ErrServer]).
func (c *Client) Push(ctx context.Context, r io.Reader) (*PushResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint(), r)
	if err != nil {
		return nil, fmt.Errorf("transport: %w", err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := c.do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var res PushResult
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&res); err != nil {
		return nil, fmt.Errorf("%w: push answer: %w", ErrServer, err)
	}
	return &res, nil
}

// Pull asks the server for a packet addressed to this client's replica
// and copies it to w. It returns the number of bytes written; a packet
// shorter than the server announced is an error (the importer would
// refuse it anyway).
func (c *Client) Pull(ctx context.Context, w io.Writer) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.endpoint(), nil)
	if err != nil {
		return 0, fmt.Errorf("transport: %w", err)
	}
	resp, err := c.do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("transport: pull: %w", err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return n, fmt.Errorf("%w: pull: %d of %d bytes", ErrServer, n, resp.ContentLength)
	}
	return n, nil
}
