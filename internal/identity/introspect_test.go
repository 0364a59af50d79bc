package identity

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	testClientID     = "octopus-client"
	testClientSecret = "s3cret+/="
	testScope        = "urn:globus:auth:scope:octopus.example.org:all"
)

// introspector is an RFC 7662 endpoint that checks Octopus's client
// credentials and answers from a table of tokens.
type introspector struct {
	srv    *httptest.Server
	hits   atomic.Int32
	status atomic.Int32  // if non-zero, answer with it instead
	delay  atomic.Int64  // nanoseconds to wait before answering
	stop   chan struct{} // closed when the test ends: waits end

	mu      sync.Mutex
	answers map[string]map[string]any // token → answer; unknown: inactive
}

// tkPrefix makes test tokens distinct from words of error messages, so
// that wantErr's check that no message contains the token means something.
const tkPrefix = "Tk9q-"

func tk(name string) string { return tkPrefix + name }

func newIntrospector(t testing.TB) *introspector {
	t.Helper()
	in := &introspector{answers: map[string]map[string]any{}, stop: make(chan struct{})}
	in.srv = httptest.NewServer(http.HandlerFunc(in.serve))
	t.Cleanup(in.srv.Close)
	t.Cleanup(func() { close(in.stop) }) // runs first
	return in
}

func (in *introspector) serve(w http.ResponseWriter, r *http.Request) {
	in.hits.Add(1)
	r.ParseForm() // then the server notices a client that gives up
	if d := in.delay.Load(); d > 0 {
		select {
		case <-time.After(time.Duration(d)):
		case <-r.Context().Done():
			return
		case <-in.stop:
			return
		}
	}
	if c := in.status.Load(); c != 0 {
		http.Error(w, "nope", int(c))
		return
	}
	if id, secret, ok := r.BasicAuth(); !ok || id != testClientID || secret != testClientSecret {
		w.Header().Set("WWW-Authenticate", `Basic realm="introspect"`)
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		return
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	in.mu.Lock()
	a, ok := in.answers[r.PostFormValue("token")]
	in.mu.Unlock()
	if !ok {
		a = map[string]any{"active": false}
	}
	writeJSON(w, a)
}

// set makes token's answer active with the given fields over defaults.
func (in *introspector) set(token string, now time.Time, fields map[string]any) {
	a := map[string]any{
		"active": true, "scope": "openid " + testScope, "sub": "sub-" + token,
		"username": "user-" + token, "client_id": "cli", "token_type": "Bearer",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "iss": "https://auth.example.org",
	}
	for k, v := range fields {
		if v == nil {
			delete(a, k)
		} else {
			a[k] = v
		}
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.answers[token] = a
}

func (in *introspector) config() IntrospectionConfig {
	return IntrospectionConfig{URL: in.srv.URL + "/introspect", ClientID: testClientID, ClientSecret: testClientSecret, Scope: testScope}
}

func newTestIntrospection(t *testing.T, in *introspector, clk *clock, cfg IntrospectionConfig, opts ...Option) *Introspection {
	t.Helper()
	v, err := NewIntrospection(cfg, append([]Option{WithClock(clk.now), WithTimeout(2 * time.Second), quiet}, opts...)...)
	must(t, err, "NewIntrospection")
	return v
}

func TestIntrospectionValid(t *testing.T) {
	clk := newClock()
	in := newIntrospector(t)
	v := newTestIntrospection(t, in, clk, in.config())
	now := clk.now()
	in.set("tok-a", now, nil)
	in.set("tok-b", now, map[string]any{"username": nil, "email": "b@example.org"})
	in.set("tok-c", now, map[string]any{"username": nil, "nbf": now.Add(-time.Minute).Unix(), "exp": float64(now.Add(time.Hour).Unix()) + 0.5})

	id, err := v.Verify(ctxT(t), "tok-a")
	must(t, err, "Verify")
	want := Identity{ID: in.config().URL + "|sub-tok-a", Name: "user-tok-a", Source: SourceIntrospection,
		ExpiresAt: now.Add(time.Hour), Scopes: []string{"openid", testScope}}
	if !reflect.DeepEqual(id, want) {
		t.Fatalf("identity %+v, want %+v", id, want)
	}
	id, err = v.Verify(ctxT(t), "tok-b")
	must(t, err, "Verify")
	if id.Name != "b@example.org" {
		t.Fatalf("name %q, want the email", id.Name)
	}
	id, err = v.Verify(ctxT(t), "tok-c")
	must(t, err, "Verify")
	if id.Name != "sub-tok-c" || !id.ExpiresAt.Equal(now.Add(time.Hour+500*time.Millisecond)) {
		t.Fatalf("identity %+v", id)
	}

	cfg := in.config()
	cfg.Issuer = "https://auth.example.org"
	cfg.Audience = "octopus"
	in.set("tok-d", now, map[string]any{"aud": []string{"other", "octopus"}})
	id, err = newTestIntrospection(t, in, clk, cfg).Verify(ctxT(t), "tok-d")
	must(t, err, "Verify with issuer and audience")
	if id.ID != "https://auth.example.org|sub-tok-d" {
		t.Fatalf("ID %q", id.ID)
	}
}

func TestIntrospectionRejects(t *testing.T) {
	clk := newClock()
	in := newIntrospector(t)
	cfg := in.config()
	cfg.Issuer = "https://auth.example.org"
	cfg.Audience = "octopus"
	v := newTestIntrospection(t, in, clk, cfg)
	now := clk.now()
	aud := map[string]any{"aud": "octopus"}
	with := func(k string, x any) map[string]any { return map[string]any{"aud": "octopus", k: x} }
	in.set(tk("ok"), now, aud)
	in.set(tk("inactive"), now, with("active", false))
	in.set(tk("expired"), now, with("exp", now.Add(-time.Second).Unix()))
	in.set(tk("future"), now, with("nbf", now.Add(time.Hour).Unix()))
	in.set(tk("noscope"), now, with("scope", "openid email"))
	in.set(tk("prefix-scope"), now, with("scope", testScope+":extra"))
	in.set(tk("foreign"), now, with("iss", "https://evil.example.org"))
	in.set(tk("other-aud"), now, map[string]any{"aud": []string{"someone-else"}})
	in.set(tk("nosub"), now, with("sub", nil))
	in.set(tk("string-active"), now, with("active", "true"))
	for _, tc := range []struct {
		token string
		want  error
	}{
		{tk("inactive"), ErrInvalidToken},
		{tk("unknown-token"), ErrInvalidToken},
		{tk("expired"), ErrExpiredToken},
		{tk("future"), ErrInvalidToken},
		{tk("noscope"), ErrInsufficientScope},
		{tk("prefix-scope"), ErrInsufficientScope},
		{tk("foreign"), ErrInvalidToken},
		{tk("other-aud"), ErrInvalidToken},
		{tk("nosub"), ErrInvalidToken},
		{tk("string-active"), ErrUnavailable},
		{"", ErrNoToken},
		{"bad token", ErrInvalidToken},
	} {
		t.Run(strings.TrimPrefix(tc.token, tkPrefix), func(t *testing.T) {
			_, err := v.Verify(ctxT(t), tc.token)
			wantErr(t, err, tc.want, tc.token, tc.token)
		})
	}
	_, err := v.Verify(ctxT(t), tk("ok"))
	must(t, err, "Verify ok")
}

func TestIntrospectionUnavailable(t *testing.T) {
	clk := newClock()
	in := newIntrospector(t)
	log, logged := logBuffer()
	now := clk.now()
	in.set(tk("tok"), now, nil)

	cfg := in.config()
	cfg.ClientSecret = "wrong"
	_, err := newTestIntrospection(t, in, clk, cfg, WithLogger(log)).Verify(ctxT(t), tk("tok"))
	wantErr(t, err, ErrUnavailable, tk("tok"), "wrong client secret")
	if want := "refused Octopus's client credentials"; !strings.Contains(logged.String(), want) {
		t.Fatalf("log %q lacks %q", logged.String(), want)
	}

	v := newTestIntrospection(t, in, clk, in.config())
	for _, code := range []int{500, 503, 429, 404} {
		in.status.Store(int32(code))
		_, err := v.Verify(ctxT(t), tk("tok"))
		wantErr(t, err, ErrUnavailable, tk("tok"), fmt.Sprint("HTTP ", code))
	}
	in.status.Store(0)

	// Timeouts: the endpoint hangs.
	in.delay.Store(int64(time.Minute))
	slow := newTestIntrospection(t, in, clk, in.config(), WithTimeout(100*time.Millisecond))
	start := time.Now()
	_, err = slow.Verify(ctxT(t), tk("tok"))
	wantErr(t, err, ErrUnavailable, tk("tok"), "hanging endpoint")
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("timeout took %v", d)
	}
	in.delay.Store(0)

	// Failures are not cached: the next call succeeds.
	_, err = v.Verify(ctxT(t), tk("tok"))
	must(t, err, "Verify after the endpoint recovered")

	in.srv.Close()
	_, err = newTestIntrospection(t, in, clk, in.config()).Verify(ctxT(t), tk("tok"))
	wantErr(t, err, ErrUnavailable, tk("tok"), "endpoint gone")
}

func TestIntrospectionCache(t *testing.T) {
	clk := newClock()
	in := newIntrospector(t)
	v := newTestIntrospection(t, in, clk, in.config())
	now := clk.now()
	in.set(tk("tok"), now, nil)
	in.set(tk("short"), now, map[string]any{"exp": now.Add(10 * time.Second).Unix()})

	// A burst of concurrent requests makes one call.
	in.delay.Store(int64(100 * time.Millisecond))
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			_, err := v.Verify(ctxT(t), tk("tok"))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err, "concurrent Verify")
	}
	in.delay.Store(0)
	if n := in.hits.Load(); n != 1 {
		t.Fatalf("%d calls for a burst, want 1", n)
	}

	hits := func(want int32, what string) {
		t.Helper()
		if n := in.hits.Load(); n != want {
			t.Fatalf("%s: %d calls, want %d", what, n, want)
		}
	}
	// Positive answers: kept up to 60 s.
	clk.advance(59 * time.Second)
	_, err := v.Verify(ctxT(t), tk("tok"))
	must(t, err, "Verify at 59 s")
	hits(1, "at 59 s")
	clk.advance(2 * time.Second)
	_, err = v.Verify(ctxT(t), tk("tok"))
	must(t, err, "Verify at 61 s")
	hits(2, "at 61 s")

	// Never past exp.
	_, err = v.Verify(ctxT(t), tk("short"))
	wantErr(t, err, ErrExpiredToken, tk("short"), "short-lived token, 61 s on")
	in.set(tk("short2"), clk.now(), map[string]any{"exp": clk.now().Add(10 * time.Second).Unix()})
	_, err = v.Verify(ctxT(t), tk("short2"))
	must(t, err, "short2")
	hits(4, "after short2")
	clk.advance(10 * time.Second)
	_, err = v.Verify(ctxT(t), tk("short2"))
	wantErr(t, err, ErrExpiredToken, tk("short2"), "short2 at exp")
	hits(5, "short2 at exp: asked again")

	// Negative answers: a few seconds.
	for range 3 {
		_, err = v.Verify(ctxT(t), tk("unknown"))
		wantErr(t, err, ErrInvalidToken, tk("unknown"), "unknown token")
	}
	hits(6, "unknown token, three times")
	clk.advance(negativeTTL)
	_, err = v.Verify(ctxT(t), tk("unknown"))
	wantErr(t, err, ErrInvalidToken, tk("unknown"), "unknown token later")
	hits(7, "unknown token after the negative TTL")

	// A token revoked at the provider stops working within a minute.
	in.mu.Lock()
	delete(in.answers, tk("tok"))
	in.mu.Unlock()
	clk.advance(positiveTTL)
	_, err = v.Verify(ctxT(t), tk("tok"))
	wantErr(t, err, ErrInvalidToken, tk("tok"), "revoked at the provider")
}

func TestIntrospectionCacheBounded(t *testing.T) {
	clk := newClock()
	in := newIntrospector(t)
	v := newTestIntrospection(t, in, clk, in.config(), WithCacheSize(20))
	for i := range 200 {
		tok := fmt.Sprintf("tok-%d", i)
		in.set(tok, clk.now(), nil)
		_, err := v.Verify(ctxT(t), tok)
		must(t, err, "Verify")
	}
	v.mu.Lock()
	n := len(v.cache)
	v.mu.Unlock()
	if n > 20 {
		t.Fatalf("cache holds %d answers, bound 20", n)
	}
}

func TestIntrospectionConfigValidate(t *testing.T) {
	good := IntrospectionConfig{URL: "https://auth.example.org/v2/oauth2/token/introspect", ClientID: "c", ClientSecret: "s", Scope: "x"}
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for name, mod := range map[string]func(*IntrospectionConfig){
		"http":      func(c *IntrospectionConfig) { c.URL = "http://auth.example.org/introspect" },
		"no url":    func(c *IntrospectionConfig) { c.URL = "" },
		"no id":     func(c *IntrospectionConfig) { c.ClientID = "" },
		"no secret": func(c *IntrospectionConfig) { c.ClientSecret = "" },
		"no scope":  func(c *IntrospectionConfig) { c.Scope = "" },
		"two scope": func(c *IntrospectionConfig) { c.Scope = "a b" },
	} {
		c := good
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
