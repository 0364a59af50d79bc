// Package client is the Go SDK of Octopus's REST API (/api/v1): a typed
// method for every route, errors in the API's one shape (*Error), and
// KafkaClient, which builds a franz-go client from a key.
//
// The command line (`octopus login|key|topic|trigger|produce|consume`) is
// written on this package, so anything a user can type is reachable by a
// program.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Client calls one Octopus server with one bearer token. It is safe for
// concurrent use.
type Client struct {
	base  string // without a trailing slash
	token string
	hc    *http.Client
	agent string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the Client send its requests with hc (timeouts,
// proxies, TLS) instead of http.DefaultClient.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithUserAgent sets the User-Agent header of every request.
func WithUserAgent(ua string) Option { return func(c *Client) { c.agent = ua } }

// New returns a client of the server at baseURL (e.g. http://127.0.0.1:8000;
// a trailing /api/v1 is accepted) that authenticates with token ("" for
// none).
func New(baseURL, token string, opts ...Option) *Client {
	base := strings.TrimRight(baseURL, "/")
	base = strings.TrimSuffix(base, "/api/v1")
	c := &Client{base: base, token: token, hc: http.DefaultClient, agent: "octopus-go-client"}
	for _, o := range opts {
		o(c)
	}
	return c
}

// BaseURL returns the server's URL as given to New, without /api/v1.
func (c *Client) BaseURL() string { return c.base }

// Error is an answer of the API other than 2xx, in its one error shape.
// Code is machine-readable (e.g. "topic_not_found"); for a 400,
// Details["field"] names the bad field.
type Error struct {
	Status  int            `json:"-"`
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if e.Code == "" {
		return fmt.Sprintf("%d: %s", e.Status, msg)
	}
	return fmt.Sprintf("%s (%d): %s", e.Code, e.Status, msg)
}

// maxErrorBody bounds how much of a non-JSON error answer is kept.
const maxErrorBody = 4 << 10

// do sends a request to path (below the server's root, already escaped)
// with body (nil: none) as JSON and decodes a 2xx answer into out (nil:
// discard). header adds request headers.
func (c *Client) do(ctx context.Context, method, path string, header map[string]string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("octopus client: encode %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("octopus client: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.agent != "" {
		req.Header.Set("User-Agent", c.agent)
	}
	for k, v := range header {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		e := &Error{Status: resp.StatusCode}
		if json.Unmarshal(raw, e) != nil || e.Code == "" {
			e.Code, e.Details = "", nil
			e.Message = strings.TrimSpace(string(raw))
		}
		return e
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("octopus client: decode the answer to %s %s (%d): %w", method, path, resp.StatusCode, err)
	}
	return nil
}

// seg escapes one path segment: identities hold ':', '|' and '/'.
func seg(s string) string { return url.PathEscape(s) }

// idem is the Idempotency-Key header, if set.
func idem(key string) map[string]string {
	if key == "" {
		return nil
	}
	return map[string]string{"Idempotency-Key": key}
}
