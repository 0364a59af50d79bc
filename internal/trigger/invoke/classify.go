package invoke

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/octofabric/octopus/internal/trigger"
)

const (
	// maxAnswer bounds what is read of any answer; the rest is left unread
	// and the connection closed.
	maxAnswer = 64 << 10
	// maxSnippet is how much of a failed answer's body the error keeps.
	maxSnippet = 512
	// maxRetryAfter caps a receiver's Retry-After.
	maxRetryAfter = time.Hour
)

// classify turns an answer into the handler's result: nil for 2xx, else a
// *trigger.CallError. It reads (at most maxAnswer of) the body so the
// connection can be reused; the caller closes it.
func classify(resp *http.Response, now time.Time) error {
	code := resp.StatusCode
	if code >= 200 && code <= 299 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
		return nil
	}
	var head [maxSnippet]byte
	n, _ := io.ReadFull(resp.Body, head[:])
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer-int64(n)))

	ce := &trigger.CallError{Status: code}
	msg := http.StatusText(code)
	if msg == "" {
		msg = "status " + strconv.Itoa(code)
	}
	switch {
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		ce.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now)
	case code >= 300 && code <= 399:
		ce.Permanent = true
		msg = "redirects are not followed"
		if loc := resp.Header.Get("Location"); loc != "" {
			msg += " (the answer points to " + redactURL(loc) + ")"
		}
	default:
		ce.Permanent = true
	}
	if s := snippet(head[:n]); s != "" {
		msg += "; body: " + s
	}
	ce.Err = errors.New(msg)
	return ce
}

// parseRetryAfter reads a Retry-After value, delta-seconds or an HTTP-date,
// capped at maxRetryAfter; anything else (and a date in the past) is 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if v[0] >= '0' && v[0] <= '9' {
		secs, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			var ne *strconv.NumError
			if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
				return maxRetryAfter // all digits, just too many
			}
			return 0
		}
		if secs >= uint64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		return time.Duration(secs) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	d := t.Sub(now)
	switch {
	case d < 0:
		return 0
	case d > maxRetryAfter:
		return maxRetryAfter
	}
	return d
}

// snippet makes the start of a failed answer's body safe for the
// invocation log: valid UTF-8 (a rune cut at the end is dropped), control
// characters as spaces, runs of space collapsed.
func snippet(b []byte) string {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				b = b[:i]
			}
			break
		}
	}
	var sb strings.Builder
	space := false
	for _, r := range strings.ToValidUTF8(string(b), "\uFFFD") {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = true
			continue
		}
		if space && sb.Len() > 0 {
			sb.WriteByte(' ')
		}
		space = false
		sb.WriteRune(r)
	}
	return sb.String()
}

// redactURL drops what may be a secret (user info, query) from a URL
// before it goes to a log.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "an unparsable URL"
	}
	u.User, u.RawQuery, u.Fragment, u.RawFragment = nil, "", "", ""
	return u.String()
}

// callFailed turns a transport error into the handler's result. parent is
// the caller's context: when it ended, its error is returned as it is (not
// a call failure). A refused address is permanent; every other failure
// without an answer (timeout, reset, refused connection, DNS) may pass.
func callFailed(parent, call context.Context, err error, timeoutMs int) error {
	if perr := parent.Err(); perr != nil {
		return perr
	}
	var ae *AddressError
	if errors.As(err, &ae) {
		return &trigger.CallError{Permanent: true, Err: ae}
	}
	if errors.Is(call.Err(), context.DeadlineExceeded) {
		return &trigger.CallError{Err: fmt.Errorf("no answer within %d ms (the action's timeout)", timeoutMs)}
	}
	// url.Error repeats the method and URL; the URL may hold a secret.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &trigger.CallError{Err: err}
}
