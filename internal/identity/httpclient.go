package identity

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
)

// statusTransport turns every answer outside 2xx into a *statusError and
// every transport failure into an *unreachableError, so that callers (and
// go-oidc, which wraps with %w on these paths) keep a typed cause: an
// outage is ErrUnavailable, not a bad token.
type statusTransport struct {
	base http.RoundTripper
}

// statusError is an HTTP answer outside 2xx from the provider.
type statusError struct {
	code int
}

func (e *statusError) Error() string {
	return fmt.Sprintf("HTTP %d %s", e.code, http.StatusText(e.code))
}

// unreachableError is a failure to get any HTTP answer.
type unreachableError struct {
	err error
}

func (e *unreachableError) Error() string { return e.err.Error() }
func (e *unreachableError) Unwrap() error { return e.err }

// RoundTrip implements http.RoundTripper.
func (t *statusTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, &unreachableError{err}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // lets the connection be reused
		resp.Body.Close()
		return nil, &statusError{resp.StatusCode}
	}
	return resp, nil
}

// httpClient returns the client that calls the provider: the configured
// one (or a new one) with its transport wrapped by statusTransport and a
// timeout.
func (o options) httpClient() *http.Client {
	c := &http.Client{}
	if o.client != nil {
		*c = *o.client
	}
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.Transport = &statusTransport{base: base}
	if c.Timeout == 0 {
		c.Timeout = o.timeout
	}
	return c
}

// fetchFailed reports whether err comes from failing to get a 2xx answer
// from the provider (or from running out of time doing so).
func fetchFailed(err error) bool {
	var se *statusError
	var ue *unreachableError
	var ne net.Error
	return errors.As(err, &se) || errors.As(err, &ue) || errors.As(err, &ne) ||
		errors.Is(err, errContextDone)
}

// errContextDone marks a wait that ended with the caller's context.
var errContextDone = errors.New("request context ended")

// transient reports whether a failure may go away by itself: no answer, a
// timeout, HTTP 5xx or 429. Other 4xx answers mean misconfiguration.
func transient(err error) bool {
	var se *statusError
	if errors.As(err, &se) {
		return se.code >= 500 || se.code == http.StatusTooManyRequests
	}
	var ue *unreachableError
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne)
}

// checkProviderURL accepts https URLs, and http ones only on a loopback
// host (tests, a provider on the same machine).
func checkProviderURL(what, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("identity: %s %q: %w", what, raw, err)
	}
	if u.Host == "" {
		return fmt.Errorf("identity: %s %q: no host", what, raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
			return nil
		}
		return fmt.Errorf("identity: %s %q: must be https (http only on a loopback host)", what, raw)
	}
	return fmt.Errorf("identity: %s %q: must be https", what, raw)
}
