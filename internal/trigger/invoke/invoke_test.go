package invoke

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/octofabric/octopus/internal/trigger"
)

// received is one request as a test receiver saw it.
type received struct {
	Method string
	Header http.Header
	Body   []byte
}

// receiver is an httptest server that answers with answer(n) for its n-th
// request (from 1) and keeps what it got.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	got  []received
	hits atomic.Int32
}

func newReceiver(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{r.Method, r.Header.Clone(), body})
		rc.mu.Unlock()
		answer(int(rc.hits.Add(1)), w, r)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

func status(code int) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

var testSecret = []byte("s3cret-key")

func deployed(url string) trigger.Deployed {
	return trigger.Deployed{
		ID:     "trg-1",
		Secret: testSecret,
		Spec: trigger.Spec{
			Name: "on-failure",
			Action: trigger.Action{
				URL:       url,
				Headers:   map[string]string{"Authorization": "Bearer owner-token", "X-Team": "beamline"},
				TimeoutMs: 2000,
			},
		},
	}
}

func testBatch(n int) *trigger.Batch {
	b := &trigger.Batch{TriggerID: "trg-1", TriggerName: "on-failure", ID: "dlv-42", Attempt: 1}
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 891_000_000, time.UTC)
	for i := range n {
		b.Records = append(b.Records, trigger.Record{
			Topic: "lab.events", Partition: 3, Offset: int64(100 + i),
			Timestamp: t0.Add(time.Duration(i) * time.Millisecond),
			Key:       []byte("sensor-7"),
			Value:     []byte(`{"status":"failed","step":` + string(rune('0'+i%10)) + `}`),
			Headers:   []trigger.Header{{Key: "trace", Value: []byte("abc")}},
		})
	}
	return b
}

// newTestInvoker is an Invoker that may call the loopback receivers.
func newTestInvoker(t *testing.T, cfg Config) *Invoker {
	t.Helper()
	cfg.AllowPrivate = true
	iv := New(cfg)
	t.Cleanup(iv.Close)
	return iv
}

func callErr(t *testing.T, err error) *trigger.CallError {
	t.Helper()
	var ce *trigger.CallError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *trigger.CallError", err, err)
	}
	return ce
}

func TestCallSendsSignedBatch(t *testing.T) {
	rc := newReceiver(t, status(204))
	now := time.Unix(1_780_000_000, 0)
	iv := newTestInvoker(t, Config{UserAgent: "test-agent", Now: func() time.Time { return now }})
	b := testBatch(2)
	b.Attempt = 3
	if err := iv.Handler(deployed(rc.URL+"/hook?x=1")).Handle(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	reqs := rc.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != "POST" {
		t.Errorf("method %s, want POST", r.Method)
	}
	want := map[string]string{
		"Content-Type":        "application/json",
		"User-Agent":          "test-agent",
		"Authorization":       "Bearer owner-token",
		"X-Team":              "beamline",
		"X-Octopus-Trigger":   "trg-1",
		"X-Octopus-Delivery":  "dlv-42",
		"X-Octopus-Attempt":   "3",
		"X-Octopus-Timestamp": "1780000000",
	}
	for k, v := range want {
		if got := r.Header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	mac := hmac.New(sha256.New, testSecret)
	mac.Write([]byte("1780000000." + string(r.Body)))
	if got, want := r.Header.Get("X-Octopus-Signature"), "v1="+hex.EncodeToString(mac.Sum(nil)); got != want {
		t.Errorf("signature %q, want %q", got, want)
	}
	var body struct {
		Trigger  struct{ ID, Name string }
		Delivery string
		Attempt  int
		Records  []map[string]any
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("body %s: %v", r.Body, err)
	}
	if body.Trigger.ID != "trg-1" || body.Trigger.Name != "on-failure" || body.Delivery != "dlv-42" || body.Attempt != 3 || len(body.Records) != 2 {
		t.Errorf("body %s", r.Body)
	}
}

func TestCallMethodPut(t *testing.T) {
	rc := newReceiver(t, status(200))
	d := deployed(rc.URL)
	d.Spec.Action.Method = "PUT"
	if err := newTestInvoker(t, Config{}).Handler(d).Handle(context.Background(), testBatch(1)); err != nil {
		t.Fatal(err)
	}
	if m := rc.requests()[0].Method; m != "PUT" {
		t.Errorf("method %s, want PUT", m)
	}
}

func TestCallClassifiesAnswers(t *testing.T) {
	for _, tc := range []struct {
		code      int
		ok        bool
		permanent bool
	}{
		{200, true, false}, {201, true, false}, {204, true, false}, {299, true, false},
		{400, false, true}, {401, false, true}, {403, false, true}, {404, false, true}, {410, false, true}, {422, false, true},
		{408, false, false}, {429, false, false},
		{500, false, false}, {502, false, false}, {503, false, false}, {504, false, false}, {599, false, false},
		{301, false, true}, {304, false, true},
	} {
		rc := newReceiver(t, status(tc.code))
		err := newTestInvoker(t, Config{}).Handler(deployed(rc.URL)).Handle(context.Background(), testBatch(1))
		if tc.ok {
			if err != nil {
				t.Errorf("%d: %v, want success", tc.code, err)
			}
			continue
		}
		ce := callErr(t, err)
		if ce.Status != tc.code || ce.Permanent != tc.permanent {
			t.Errorf("%d: status %d permanent %v, want %d %v", tc.code, ce.Status, ce.Permanent, tc.code, tc.permanent)
		}
	}
}

func TestCallDoesNotFollowRedirects(t *testing.T) {
	var target atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { target.Add(1) }))
	defer other.Close()
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/moved?token=hush", http.StatusTemporaryRedirect)
	})
	err := newTestInvoker(t, Config{}).Handler(deployed(rc.URL)).Handle(context.Background(), testBatch(1))
	ce := callErr(t, err)
	if ce.Status != 307 || !ce.Permanent || !strings.Contains(ce.Error(), "redirects are not followed") {
		t.Errorf("got %v (permanent %v)", err, ce.Permanent)
	}
	if strings.Contains(ce.Error(), "hush") {
		t.Errorf("the error shows the Location's query: %v", err)
	}
	if target.Load() != 0 {
		t.Error("the redirect was followed")
	}
}

func TestCallTimeout(t *testing.T) {
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	d := deployed(rc.URL)
	d.Spec.Action.TimeoutMs = 50
	start := time.Now()
	err := newTestInvoker(t, Config{}).Handler(d).Handle(context.Background(), testBatch(1))
	ce := callErr(t, err)
	if ce.Status != 0 || ce.Permanent || !strings.Contains(ce.Error(), "no answer within 50 ms") {
		t.Errorf("got %v (permanent %v)", err, ce.Permanent)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("the call took %v", el)
	}
}

func TestCallCanceledByCaller(t *testing.T) {
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	err := newTestInvoker(t, Config{}).Handler(deployed(rc.URL)).Handle(ctx, testBatch(1))
	if err != context.Canceled {
		t.Errorf("got %v, want context.Canceled as it is", err)
	}
}

func TestCallRefusedConnectionIsRetryable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	err = newTestInvoker(t, Config{}).Handler(deployed("http://"+addr)).Handle(context.Background(), testBatch(1))
	ce := callErr(t, err)
	if ce.Status != 0 || ce.Permanent {
		t.Errorf("got %v (permanent %v), want a retryable failure without status", err, ce.Permanent)
	}
}

func TestCallResetIsRetryable(t *testing.T) {
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.(*net.TCPConn).SetLinger(0) // RST
			conn.Close()
		}
	})
	err := newTestInvoker(t, Config{}).Handler(deployed(rc.URL)).Handle(context.Background(), testBatch(1))
	if ce := callErr(t, err); ce.Status != 0 || ce.Permanent {
		t.Errorf("got %v (permanent %v), want a retryable failure without status", err, ce.Permanent)
	}
}

func TestCallErrorKeepsStartOfBody(t *testing.T) {
	long := "oops\x00\n\tcontrol  \xff" + strings.Repeat("é", 2000)
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(500)
		io.WriteString(w, long)
	})
	err := newTestInvoker(t, Config{}).Handler(deployed(rc.URL+"/?sig=hush")).Handle(context.Background(), testBatch(1))
	msg := err.Error()
	if !strings.HasPrefix(msg, "HTTP 500: Internal Server Error; body: oops control \uFFFDéé") {
		t.Errorf("error %q", msg)
	}
	if !utf8.ValidString(msg) || len(msg) > 600 {
		t.Errorf("error of %d bytes, valid UTF-8 %v", len(msg), utf8.ValidString(msg))
	}
	for _, secret := range []string{"hush", "owner-token"} {
		if strings.Contains(msg, secret) {
			t.Errorf("error shows %q: %s", secret, msg)
		}
	}
}

func TestCallReusesConnections(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(500)
		w.Write(make([]byte, 10_000)) // drained, so the connection stays usable
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	h := newTestInvoker(t, Config{}).Handler(deployed(srv.URL))
	for range 10 {
		h.Handle(context.Background(), testBatch(1))
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 10 sequential calls, want 1", n)
	}
}

func TestCallBadURLIsPermanent(t *testing.T) {
	err := newTestInvoker(t, Config{}).Handler(deployed("http://bad host/")).Handle(context.Background(), testBatch(1))
	if ce := callErr(t, err); !ce.Permanent {
		t.Errorf("got %v, want a permanent failure", err)
	}
}

func TestCallConcurrent(t *testing.T) {
	rc := newReceiver(t, status(200))
	h := newTestInvoker(t, Config{}).Handler(deployed(rc.URL))
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			b := testBatch(1 + i%3)
			b.Attempt = i + 1
			if err := h.Handle(context.Background(), b); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, r := range rc.requests() {
		mac := hmac.New(sha256.New, testSecret)
		mac.Write([]byte(r.Header.Get("X-Octopus-Timestamp") + "." + string(r.Body)))
		if r.Header.Get("X-Octopus-Signature") != "v1="+hex.EncodeToString(mac.Sum(nil)) {
			t.Errorf("a concurrent call's signature does not match its body")
		}
	}
}
