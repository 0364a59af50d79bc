package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/octofabric/octopus/internal/identity"
)

// TestBadInput sends every kind of bad request and checks the error shape,
// status, code and named field of each, and that none changed any state.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	a := e.createUser("alice")
	b := e.createUser("bob")
	e.createKey(a, "laptop")
	e.call("POST", "/api/v1/topics", a.Token, `{"name": "events"}`, http.StatusCreated, nil)
	e.call("POST", "/api/v1/topics", b.Token, `{"name": "secret"}`, http.StatusCreated, nil)
	long := strings.Repeat("x", 250)
	huge := `{"name": "` + strings.Repeat("x", 2<<20) + `"}`
	grants := "/api/v1/topics/events/grants/"
	cases := []struct {
		name          string
		r             req
		status        int
		code, field   string
		allow, wwwAut string
	}{
		// Names and path tricks.
		{"dot-dot name", req{method: "POST", path: "/api/v1/topics", body: `{"name": "../x"}`}, 400, "invalid_name", "name", "", ""},
		{"slash name", req{method: "POST", path: "/api/v1/topics", body: `{"name": "a/b"}`}, 400, "invalid_name", "name", "", ""},
		{"space name", req{method: "POST", path: "/api/v1/topics", body: `{"name": "a b"}`}, 400, "invalid_name", "name", "", ""},
		{"overlong name", req{method: "POST", path: "/api/v1/topics", body: `{"name": "` + long + `"}`}, 400, "invalid_name", "name", "", ""},
		{"empty name", req{method: "POST", path: "/api/v1/topics", body: `{"partitions": 1}`}, 400, "invalid_name", "name", "", ""},
		{"path ..%2Fx", req{method: "GET", path: "/api/v1/topics/..%2Fx"}, 400, "invalid_name", "topic", "", ""},
		{"path a%2Fb", req{method: "DELETE", path: "/api/v1/topics/a%2Fb"}, 400, "invalid_name", "topic", "", ""},
		{"path ..%2F..%2Fkeys grants", req{method: "PUT", path: "/api/v1/topics/..%2F..%2Fkeys/grants/local:bob", body: `{"read": true}`}, 400, "invalid_name", "topic", "", ""},
		{"overlong path name", req{method: "GET", path: "/api/v1/topics/" + long}, 400, "invalid_name", "topic", "", ""},
		// Partitions, configs, retention.
		{"partitions -1", req{method: "POST", path: "/api/v1/topics", body: `{"name": "x", "partitions": -1}`}, 400, "invalid_partitions", "partitions", "", ""},
		{"partitions 100000", req{method: "POST", path: "/api/v1/topics", body: `{"name": "x", "partitions": 100000}`}, 400, "invalid_partitions", "partitions", "", ""},
		{"partitions beyond int32", req{method: "POST", path: "/api/v1/topics", body: `{"name": "x", "partitions": 99999999999}`}, 400, "invalid_type", "partitions", "", ""},
		{"partitions a string", req{method: "POST", path: "/api/v1/topics", body: `{"name": "x", "partitions": "2"}`}, 400, "invalid_type", "partitions", "", ""},
		{"partitions fractional", req{method: "POST", path: "/api/v1/topics", body: `{"name": "x", "partitions": 1.5}`}, 400, "invalid_type", "partitions", "", ""},
		{"unknown config", req{method: "POST", path: "/api/v1/topics", body: `{"name": "x", "configs": {"foo": "1"}}`}, 400, "unknown_config", "configs.foo", "", ""},
		{"config not a string", req{method: "POST", path: "/api/v1/topics", body: `{"name": "x", "configs": {"retention.ms": 5}}`}, 400, "invalid_type", "configs", "", ""},
		{"retention 0", req{method: "POST", path: "/api/v1/topics", body: `{"name": "x", "retention_ms": 0}`}, 400, "invalid_retention", "retention_ms", "", ""},
		{"patch partitions down", req{method: "PATCH", path: "/api/v1/topics/events", body: `{"partitions": 100000}`}, 400, "invalid_partitions", "partitions", "", ""},
		// JSON.
		{"unknown field", req{method: "POST", path: "/api/v1/topics", body: `{"name": "x", "colour": "red"}`}, 400, "unknown_field", "colour", "", ""},
		{"unknown grant field", req{method: "PUT", path: grants + "local:bob", body: `{"read": true, "admin": true}`}, 400, "unknown_field", "admin", "", ""},
		{"malformed JSON", req{method: "POST", path: "/api/v1/topics", body: `{"name": `}, 400, "invalid_json", "", "", ""},
		{"malformed JSON 2", req{method: "POST", path: "/api/v1/topics", body: `{name: "x"}`}, 400, "invalid_json", "", "", ""},
		{"trailing data", req{method: "POST", path: "/api/v1/topics", body: `{"name": "x"} {"name": "y"}`}, 400, "trailing_data", "", "", ""},
		{"trailing garbage", req{method: "POST", path: "/api/v1/topics", body: `{"name": "x"}]`}, 400, "trailing_data", "", "", ""},
		{"array body", req{method: "POST", path: "/api/v1/topics", body: `[{"name": "x"}]`}, 400, "invalid_json", "", "", ""},
		{"null body", req{method: "POST", path: "/api/v1/topics", body: `null`}, 400, "invalid_json", "", "", ""},
		{"empty body", req{method: "POST", path: "/api/v1/topics", body: ``}, 400, "missing_body", "", "", ""},
		{"no body", req{method: "PUT", path: grants + "local:bob"}, 400, "missing_body", "", "", ""},
		{"grant read a string", req{method: "PUT", path: grants + "local:bob", body: `{"read": "yes"}`}, 400, "invalid_type", "read", "", ""},
		{"text/plain", req{method: "POST", path: "/api/v1/topics", body: `{"name": "x"}`, header: map[string]string{"Content-Type": "text/plain"}}, 415, "unsupported_media_type", "", "", ""},
		{"form", req{method: "POST", path: "/api/v1/keys", body: `description=x`, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, 415, "unsupported_media_type", "", "", ""},
		{"no content type", req{method: "POST", path: "/api/v1/topics", body: `{"name": "x"}`, header: map[string]string{"Content-Type": ""}}, 415, "unsupported_media_type", "", "", ""},
		{"oversized body", req{method: "POST", path: "/api/v1/topics", body: huge}, 413, "body_too_large", "", "", ""},
		// Keys.
		{"expiry not RFC 3339", req{method: "POST", path: "/api/v1/keys", body: `{"expires_at": "tomorrow"}`}, 400, "invalid_field", "expires_at", "", ""},
		{"expiry past", req{method: "POST", path: "/api/v1/keys", body: `{"expires_at": "2001-01-01T00:00:00Z"}`}, 400, "invalid_expiry", "expires_at", "", ""},
		{"description long", req{method: "POST", path: "/api/v1/keys", body: `{"description": "` + strings.Repeat("d", 201) + `"}`}, 400, "invalid_description", "description", "", ""},
		{"bad idempotency key", req{method: "POST", path: "/api/v1/keys", body: `{}`, header: map[string]string{"Idempotency-Key": strings.Repeat("k", 201)}}, 400, "invalid_idempotency_key", "Idempotency-Key", "", ""},
		{"unknown key", req{method: "DELETE", path: "/api/v1/keys/nope"}, 404, "key_not_found", "", "", ""},
		// Another identity's things; unknown things.
		{"topic in another namespace", req{method: "POST", path: "/api/v1/topics", body: `{"name": "bob.x"}`}, 403, "not_your_namespace", "", "", ""},
		{"another's topic", req{method: "GET", path: "/api/v1/topics/bob.secret"}, 403, "no_access", "", "", ""},
		{"another's missing topic", req{method: "GET", path: "/api/v1/topics/bob.nothing"}, 403, "no_access", "", "", ""},
		{"patch another's topic", req{method: "PATCH", path: "/api/v1/topics/bob.secret", body: `{"partitions": 2}`}, 403, "no_access", "", "", ""},
		{"grant on another's topic", req{method: "PUT", path: "/api/v1/topics/bob.secret/grants/local:alice", body: `{"read": true}`}, 403, "no_access", "", "", ""},
		{"groups of another's topic", req{method: "GET", path: "/api/v1/topics/bob.secret/groups"}, 403, "no_access", "", "", ""},
		{"unknown topic", req{method: "GET", path: "/api/v1/topics/nothing"}, 404, "topic_not_found", "", "", ""},
		{"recreate unknown topic", req{method: "POST", path: "/api/v1/topics/nothing/recreate"}, 404, "topic_not_found", "", "", ""},
		{"grant to unknown identity", req{method: "PUT", path: grants + "local:nobody", body: `{"read": true}`}, 404, "identity_not_found", "", "", ""},
		{"grant to escaped odd identity", req{method: "PUT", path: grants + "https:%2F%2Fissuer%7Csub%2F..", body: `{"read": true}`}, 404, "identity_not_found", "", "", ""},
		{"grant to self", req{method: "PUT", path: grants + "local:alice", body: `{"read": true}`}, 400, "self_grant", "identity", "", ""},
		// Users.
		{"users by non-admin", req{method: "POST", path: "/api/v1/users", body: `{"name": "mallory"}`}, 403, "admin_only", "", "", ""},
		// Routing.
		{"unknown path", req{method: "GET", path: "/api/v1/nothing"}, 404, "route_not_found", "", "", ""},
		{"unknown path deeper", req{method: "GET", path: "/api/v1/topics/events/nothing"}, 404, "route_not_found", "", "", ""},
		{"405 topics", req{method: "PUT", path: "/api/v1/topics"}, 405, "method_not_allowed", "", "GET, HEAD, POST", ""},
		{"405 me", req{method: "DELETE", path: "/api/v1/me"}, 405, "method_not_allowed", "", "GET, HEAD", ""},
		{"405 topic", req{method: "POST", path: "/api/v1/topics/events"}, 405, "method_not_allowed", "", "DELETE, GET, HEAD, PATCH", ""},
		{"405 grant", req{method: "GET", path: grants + "local:bob"}, 405, "method_not_allowed", "", "DELETE, PUT", ""},
		{"405 keys id", req{method: "GET", path: "/api/v1/keys/x"}, 405, "method_not_allowed", "", "DELETE", ""},
	}
	for _, c := range cases {
		if c.r.token == "" {
			c.r.token = a.Token
		}
		r := e.send(c.r)
		e.wantErr(c.name, r, c.status, c.code, c.field)
		if c.allow != "" && r.header.Get("Allow") != c.allow {
			t.Errorf("%s: Allow %q, want %q", c.name, r.header.Get("Allow"), c.allow)
		}
	}

	// Administrator-only bad input.
	e.wantErr("user name with a slash", e.send(req{method: "POST", path: "/api/v1/users", token: e.adminToken, body: `{"name": "../x"}`}),
		400, "invalid_name", "name")
	e.wantErr("user named admin", e.send(req{method: "POST", path: "/api/v1/users", token: e.adminToken, body: `{"name": "admin"}`}),
		400, "invalid_name", "name")
	e.wantErr("existing user", e.send(req{method: "POST", path: "/api/v1/users", token: e.adminToken, body: `{"name": "alice"}`}),
		409, "user_exists", "")

	// Nothing changed.
	var ts struct {
		Topics []struct {
			Name       string
			Partitions int32
		}
	}
	e.call("GET", "/api/v1/topics", a.Token, nil, http.StatusOK, &ts)
	if len(ts.Topics) != 1 || ts.Topics[0].Name != a.Namespace+".events" || ts.Topics[0].Partitions != 1 {
		t.Fatalf("A's topics after bad input: %+v", ts)
	}
	var ks struct{ Keys []any }
	e.call("GET", "/api/v1/keys", a.Token, nil, http.StatusOK, &ks)
	if len(ks.Keys) != 1 {
		t.Fatalf("A's keys after bad input: %d", len(ks.Keys))
	}
	var gs struct{ Grants []any }
	e.call("GET", "/api/v1/topics/events/grants", a.Token, nil, http.StatusOK, &gs)
	if len(gs.Grants) != 0 {
		t.Fatalf("grants after bad input: %+v", gs)
	}
	if _, err := e.st.GetIdentity(e.ctx, "local:mallory"); err == nil {
		t.Fatal("a non-administrator created a user")
	}
}

// TestAuth checks 401 (no, garbage, foreign, expired and revoked tokens,
// with WWW-Authenticate: Bearer), 403, 503 from the identity provider, and
// that no token appears in an answer or a log line.
func TestAuth(t *testing.T) {
	e := newEnv(t)
	a := e.createUser("alice")
	expiring, err := e.local.Issue(e.ctx, a.Identity, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	revoked, err := e.local.Issue(e.ctx, a.Identity, 0)
	if err != nil {
		t.Fatal(err)
	}
	e.call("GET", "/api/v1/me", revoked, nil, http.StatusOK, nil)
	if err := e.local.Revoke(e.ctx, revoked); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	tokens := []string{expiring, revoked, a.Token, e.adminToken}

	for _, c := range []struct {
		name, auth, code string
	}{
		{"no token", "", "unauthenticated"},
		{"garbage", "Bearer garbage-token", "invalid_token"},
		{"not bearer", "Basic YWxpY2U6c2VjcmV0", "invalid_token"},
		{"malformed", "Bearer a b", "invalid_token"},
		{"foreign JWT", "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "invalid_token"},
		{"forged local", "Bearer " + identity.LocalPrefix + strings.Repeat("A", 43), "invalid_token"},
		{"expired", "Bearer " + expiring, "invalid_token"},
		{"revoked", "Bearer " + revoked, "invalid_token"},
	} {
		for _, path := range []string{"/api/v1/me", "/api/v1/topics", "/api/v1/keys"} {
			r := e.send(req{method: "GET", path: path, header: map[string]string{"Authorization": c.auth}})
			e.wantErr(c.name+" "+path, r, http.StatusUnauthorized, c.code, "")
			if h := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
				t.Errorf("%s: WWW-Authenticate %q", c.name, h)
			}
			for _, tok := range tokens {
				if strings.Contains(string(r.body), tok) {
					t.Fatalf("%s: the answer echoes a token", c.name)
				}
			}
		}
	}
	// 401 comes before anything else: a bad body without a token is 401.
	e.wantErr("bad body, no token", e.send(req{method: "POST", path: "/api/v1/topics", body: `{`}), 401, "unauthenticated", "")
	// 403 is not 401.
	e.wantErr("users by non-admin", e.send(req{method: "POST", path: "/api/v1/users", token: a.Token, body: `{"name": "x"}`}),
		http.StatusForbidden, "admin_only", "")
	// The OpenAPI document needs no token.
	e.call("GET", "/api/v1/openapi.json", "", nil, http.StatusOK, nil)

	// The verifier's errors: 503 when the provider cannot answer (not
	// 401), 401 for an expired OIDC token, 403 for a missing scope.
	srv := e.srv
	for _, c := range []struct {
		err          error
		status       int
		code, wwwAut string
	}{
		{identity.ErrUnavailable, http.StatusServiceUnavailable, "identity_unavailable", ""},
		{identity.ErrExpiredToken, http.StatusUnauthorized, "expired_token", `error="invalid_token"`},
		{identity.ErrInsufficientScope, http.StatusForbidden, "insufficient_scope", `error="insufficient_scope"`},
	} {
		v, err := New(Config{Fabric: e.f, Store: e.st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Verifier: verifierFunc(func(context.Context, string) (identity.Identity, error) {
				return identity.Identity{}, fmt.Errorf("%w: from the provider", c.err)
			})})
		if err != nil {
			t.Fatal(err)
		}
		e.srv = newServer(t, v)
		r := e.send(req{method: "GET", path: "/api/v1/me", token: a.Token})
		e.wantErr(c.code, r, c.status, c.code, "")
		if h := r.header.Get("WWW-Authenticate"); !strings.Contains(h, c.wwwAut) {
			t.Errorf("%s: WWW-Authenticate %q", c.code, h)
		}
		// Without Local, POST /users does not exist.
		e.wantErr("no /users without Local", e.send(req{method: "POST", path: "/api/v1/users", token: a.Token, body: `{"name": "x"}`}),
			http.StatusNotFound, "route_not_found", "")
	}
	e.srv = srv

	// The log has one line per request, and no token.
	logs := e.apiLogs.String()
	for _, tok := range tokens {
		if strings.Contains(logs, tok) {
			t.Fatal("a token is in the API log")
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var l struct {
			Msg, Method, Route string
			Status             int
			DurationMs         *float64 `json:"duration_ms"`
			Identity           *string
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil || l.Msg != "api request" || l.Method == "" ||
			l.Route == "" || l.Status == 0 || l.DurationMs == nil || l.Identity == nil {
			t.Fatalf("log line %s: %+v, %v", line, l, err)
		}
	}
}

type verifierFunc func(ctx context.Context, token string) (identity.Identity, error)

func (f verifierFunc) Verify(ctx context.Context, token string) (identity.Identity, error) {
	return f(ctx, token)
}

// TestConfig checks New's validation and defaults.
func TestConfig(t *testing.T) {
	e := newEnv(t)
	v := identity.Chain(e.local)
	for _, c := range []Config{
		{Verifier: v, Store: e.st},
		{Fabric: e.f, Store: e.st},
		{Fabric: e.f, Verifier: v},
		{Fabric: e.f, Verifier: v, Store: e.st, MaxBodyBytes: -1},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) = nil error", c)
		}
	}
	small, err := New(Config{Fabric: e.f, Verifier: v, Store: e.st, MaxBodyBytes: 64,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if small.cfg.MaxBodyBytes != 64 {
		t.Fatal("MaxBodyBytes not kept")
	}
	e.srv = newServer(t, small)
	e.wantErr("body over 64 bytes", e.send(req{method: "POST", path: "/api/v1/topics", token: e.adminToken,
		body: `{"name": "` + strings.Repeat("x", 64) + `"}`}), http.StatusRequestEntityTooLarge, "body_too_large", "")
	if e.api.cfg.MaxBodyBytes != DefaultMaxBodyBytes || e.api.cfg.Logger == nil {
		t.Fatalf("defaults: %+v", e.api.cfg)
	}
}
