// Package invoke is a trigger's action: the signed HTTP call of a batch
// (Invoker), the address policy that keeps triggers off the internal
// network (CheckURL), and the pipeline stages around the call: Retry with
// backoff and DeadLetter. What a receiver gets is documented in
// docs/TRIGGERS_ACTIONS.md.
//
// The engine builds a trigger's pipeline as
//
//	trigger.Chain(iv.Handler(d), invoke.DeadLetter(p, topic, obs), invoke.Retry(d.Spec.Retry, obs))
//
// so a batch is called until it succeeds or fails for good, and a final
// failure is written to the dead-letter topic (or dropped) and committed.
package invoke

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/octofabric/octopus/internal/trigger"
)

// Request headers of every call.
const (
	HeaderTrigger   = "X-Octopus-Trigger"
	HeaderDelivery  = "X-Octopus-Delivery"
	HeaderAttempt   = "X-Octopus-Attempt"
	HeaderTimestamp = "X-Octopus-Timestamp"
	HeaderSignature = "X-Octopus-Signature"
)

// DefaultUserAgent is the User-Agent of calls when Config names none.
const DefaultUserAgent = "Octopus-Trigger/1"

// Config configures an Invoker. The zero value is ready: public addresses
// only, Octopus's own transport, the wall clock.
type Config struct {
	// AllowPrivate lifts the address policy (--trigger-allow-private):
	// loopback, private, link-local and the like may be called.
	AllowPrivate bool
	// Transport replaces the Invoker's transport, for tests. The address
	// policy is part of the default transport, so it does not apply to
	// another one.
	Transport http.RoundTripper
	// UserAgent of every call; DefaultUserAgent if empty.
	UserAgent string
	// Now is the clock of X-Octopus-Timestamp and Retry-After dates.
	Now func() time.Time
}

// Invoker calls trigger actions. It pools keep-alive connections for all
// its handlers and is safe for concurrent use.
type Invoker struct {
	hc  *http.Client
	tr  *http.Transport // nil if Config.Transport was given
	ua  string
	now func() time.Time
}

// New returns an Invoker.
func New(cfg Config) *Invoker {
	iv := &Invoker{ua: cfg.UserAgent, now: cfg.Now}
	if iv.ua == "" {
		iv.ua = DefaultUserAgent
	}
	if iv.now == nil {
		iv.now = time.Now
	}
	rt := cfg.Transport
	if rt == nil {
		iv.tr = newTransport(cfg.AllowPrivate)
		rt = iv.tr
	}
	iv.hc = &http.Client{
		Transport: rt,
		// A 3xx is returned as it is and fails for good: following it
		// would let a public receiver point Octopus at a private address,
		// and a moved endpoint should be fixed in the trigger.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return iv
}

func newTransport(allowPrivate bool) *http.Transport {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.ControlContext = dialControl
	}
	return &http.Transport{
		Proxy:                  nil, // a proxy would dial for us, past the policy
		DialContext:            d.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           1000,
		MaxIdleConnsPerHost:    100, // a busy trigger's concurrency; above it, connections churn
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		DisableCompression:     true, // answers are drained, not read
		MaxResponseHeaderBytes: maxAnswer,
	}
}

// Close closes the Invoker's idle connections.
func (iv *Invoker) Close() {
	if iv.tr != nil {
		iv.tr.CloseIdleConnections()
	}
}

// Handler returns the handler that calls d's action once per Handle, with
// the batch's Attempt (set by Retry) in the body and headers.
func (iv *Invoker) Handler(d trigger.Deployed) trigger.Handler {
	a := d.Spec.Action
	h := &handler{iv: iv, url: a.URL, method: a.Method, timeoutMs: a.TimeoutMs}
	if h.method == "" {
		h.method = http.MethodPost
	}
	if h.timeoutMs <= 0 {
		h.timeoutMs = trigger.DefaultTimeout
	}
	h.header = make(http.Header, len(a.Headers)+4)
	for k, v := range a.Headers {
		h.header.Set(k, v)
	}
	// Set after the owner's headers, so they cannot be overridden.
	h.header.Set("Content-Type", "application/json")
	h.header.Set("User-Agent", iv.ua)
	h.header.Set(HeaderTrigger, d.ID)
	secret := bytes.Clone(d.Secret)
	h.macs.New = func() any { return hmac.New(sha256.New, secret) }
	return h
}

type handler struct {
	iv        *Invoker
	url       string
	method    string
	timeoutMs int
	header    http.Header // the same for every call; cloned per call
	macs      sync.Pool   // of hash.Hash keyed with the trigger's secret
}

// Handle makes one call of b.
func (h *handler) Handle(ctx context.Context, b *trigger.Batch) error {
	body := encodeBody(b)
	ts := strconv.FormatInt(h.iv.now().Unix(), 10)

	call, cancel := context.WithTimeout(ctx, time.Duration(h.timeoutMs)*time.Millisecond)
	defer cancel()
	// The body is not pooled: the transport may still read it after Do
	// returns (an early answer), so it must not be reused.
	req, err := http.NewRequestWithContext(call, h.method, h.url, bytes.NewReader(body))
	if err != nil {
		return &trigger.CallError{Permanent: true, Err: err}
	}
	req.Header = h.header.Clone()
	req.Header[HeaderDelivery] = []string{b.ID}
	req.Header[HeaderAttempt] = []string{strconv.Itoa(b.Attempt)}
	req.Header[HeaderTimestamp] = []string{ts}
	req.Header[HeaderSignature] = []string{h.sign(ts, body)}

	resp, err := h.iv.hc.Do(req)
	if err != nil {
		return callFailed(ctx, call, err, h.timeoutMs)
	}
	defer resp.Body.Close()
	return classify(resp, h.iv.now())
}

// sign returns the X-Octopus-Signature value: v1= and the hex HMAC-SHA256
// of timestamp "." body.
func (h *handler) sign(ts string, body []byte) string {
	mac := h.macs.Get().(hash.Hash)
	mac.Reset()
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	var sum [sha256.Size]byte
	var out [3 + 2*sha256.Size]byte
	copy(out[:], "v1=")
	hex.Encode(out[3:], mac.Sum(sum[:0]))
	h.macs.Put(mac)
	return string(out[:])
}
