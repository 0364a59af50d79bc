package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/octofabric/octopus/internal/fabric"
	"github.com/octofabric/octopus/internal/identity"
	"github.com/octofabric/octopus/internal/store"
	"github.com/octofabric/octopus/internal/testenv"
)

// The tests run the API over real HTTP (httptest) on a real Fabric, on the
// embedded broker in this process (SASL_PLAINTEXT on loopback, ACLs
// enforced, User:admin a super user), with a SQLite store and the built-in
// token issuer. Nothing is mocked.

const adminPassword = testenv.AdminPassword

// logSink collects log output for checks and failure reports.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func (s *logSink) tail(n int) string {
	lines := strings.Split(strings.TrimRight(s.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// env is one control plane served over HTTP.
type env struct {
	t          *testing.T
	ctx        context.Context
	addr       string // the broker
	st         *store.Store
	f          *fabric.Fabric
	local      *identity.Local
	api        *API
	srv        *httptest.Server
	adminToken string
	apiLogs    *logSink
}

// startBroker runs the embedded broker as `octopus serve` does with a SASL
// listener (testenv.SecureBroker) and returns its address; its log is
// shown when t fails.
func startBroker(t *testing.T) string {
	t.Helper()
	logs := new(logSink)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("broker log:\n%s", logs.tail(30))
		}
	})
	return testenv.SecureBroker(t, testenv.BrokerOptions{Log: logs, LogLevel: slog.LevelInfo, FailedAuthDelay: 5 * time.Millisecond}).Addr
}

// newEnv starts a broker, a store, the built-in issuer, a Fabric and the
// API behind an httptest.Server.
func newEnv(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	e := &env{t: t, ctx: ctx, addr: startBroker(t), apiLogs: new(logSink)}
	dir := t.TempDir()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(dir, "octopus.db"))
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	e.st = st
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	e.local = identity.NewLocal(st, identity.WithLogger(quiet))
	if err := e.local.EnsureAdmin(ctx, dir); err != nil {
		t.Fatalf("EnsureAdmin: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, identity.AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	e.adminToken = strings.TrimSpace(string(b))
	fabLogs := new(logSink)
	f, err := fabric.New(fabric.Config{
		Store:  st,
		Kafka:  fabric.KafkaConfig{Bootstrap: []string{e.addr}, User: "admin", Password: adminPassword},
		Wait:   20 * time.Second,
		Logger: slog.New(slog.NewTextHandler(fabLogs, nil)),
	})
	if err != nil {
		t.Fatalf("fabric.New: %v", err)
	}
	t.Cleanup(f.Close)
	e.f = f
	e.api, err = New(Config{Fabric: f, Verifier: identity.Chain(e.local), Local: e.local, Store: st,
		Logger: slog.New(slog.NewJSONHandler(e.apiLogs, nil))})
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	e.srv = httptest.NewServer(e.api.Handler())
	t.Cleanup(e.srv.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("fabric log:\n%s\napi log:\n%s", fabLogs.tail(20), e.apiLogs.tail(20))
		}
	})
	return e
}

// resp is an HTTP answer.
type resp struct {
	status int
	header http.Header
	body   []byte
}

// apiErr is the error shape, decoded.
type apiErr struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details"`
}

// req is one request to send.
type req struct {
	method, path, token string
	body                any // nil: none; string or []byte: raw JSON; else marshalled
	header              map[string]string
}

// send sends r to the API. A body gets Content-Type application/json
// unless r.header sets one ("" for none).
func (e *env) send(r req) resp {
	e.t.Helper()
	var body io.Reader
	var raw []byte
	switch b := r.body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			e.t.Fatal(err)
		}
	}
	if r.body != nil {
		body = bytes.NewReader(raw)
	}
	hr, err := http.NewRequestWithContext(e.ctx, r.method, e.srv.URL+r.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if r.body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.header {
		if v == "" {
			hr.Header.Del(k)
		} else {
			hr.Header.Set(k, v)
		}
	}
	res, err := e.srv.Client().Do(hr)
	if err != nil {
		e.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// call sends a request, checks the status and decodes the answer into out
// (unless nil).
func (e *env) call(method, path, token string, body any, want int, out any) resp {
	e.t.Helper()
	r := e.send(req{method: method, path: path, token: token, body: body})
	if r.status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			e.t.Fatalf("%s %s: decoding %s: %v", method, path, r.body, err)
		}
	}
	return r
}

// wantErr checks that r is the error shape with status, code and, unless
// empty, details.field.
func (e *env) wantErr(what string, r resp, status int, code, field string) apiErr {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("%s: status %d, want %d: %s", what, r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		e.t.Fatalf("%s: Content-Type %q", what, ct)
	}
	var ae apiErr
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ae); err != nil {
		e.t.Fatalf("%s: not the error shape: %s: %v", what, r.body, err)
	}
	if ae.Code != code || ae.Message == "" {
		e.t.Fatalf("%s: %s, want code %q and a message", what, r.body, code)
	}
	if field != "" && ae.Details["field"] != field {
		e.t.Fatalf("%s: %s, want details.field %q", what, r.body, field)
	}
	return ae
}

// user is a local user made through POST /users.
type user struct {
	Identity, Token, Name, Namespace string
}

func (e *env) createUser(name string) user {
	e.t.Helper()
	var u user
	e.call("POST", "/api/v1/users", e.adminToken, map[string]string{"name": name}, http.StatusCreated, &u)
	if u.Identity != "local:"+name || !strings.HasPrefix(u.Token, identity.LocalPrefix) || u.Namespace == "" {
		e.t.Fatalf("POST /users = %+v", u)
	}
	return u
}

// newKey is the answer to POST /keys, as a client reads it.
type newKey struct {
	ID               string         `json:"id"`
	Username         string         `json:"username"`
	Secret           string         `json:"secret"`
	BootstrapServers []string       `json:"bootstrap_servers"`
	SASLMechanism    string         `json:"sasl_mechanism"`
	SecurityProtocol string         `json:"security_protocol"`
	Description      string         `json:"description"`
	ClientSettings   map[string]any `json:"client_settings"`
	SecretRedacted   bool           `json:"secret_redacted"`
}

func (e *env) createKey(u user, device string) newKey {
	e.t.Helper()
	var k newKey
	e.call("POST", "/api/v1/keys", u.Token, map[string]string{"description": device}, http.StatusCreated, &k)
	if k.ID == "" || k.Secret == "" || k.SASLMechanism != "SCRAM-SHA-512" || len(k.BootstrapServers) == 0 ||
		!strings.HasPrefix(k.Username, u.Namespace+".k-") || k.ClientSettings == nil {
		e.t.Fatalf("POST /keys = %+v", k)
	}
	return k
}

// client returns a franz-go client that logs in with k, as a key holder would.
func (e *env) client(k newKey, opts ...kgo.Opt) *kgo.Client {
	e.t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(k.BootstrapServers...),
		kgo.SASL(scram.Auth{User: k.Username, Pass: k.Secret}.AsSha512Mechanism()),
		kgo.RetryTimeout(5 * time.Second),
	}, opts...)...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(cl.Close)
	return cl
}

// newServer serves a over HTTP until t ends.
func newServer(t *testing.T, a *API) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return srv
}
