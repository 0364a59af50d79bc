package identity

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/octofabric/octopus/internal/store"
)

// The tests run real HTTP servers of their own: an OpenID provider
// (discovery document and JWKS, tokens signed with generated RSA and EC
// keys) and an RFC 7662 introspection endpoint. The store is SQLite in a
// temp dir (PostgreSQL is covered by internal/store's own suite).

// ctxT returns a context that ends with the test.
func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// openStore opens a new SQLite store in a temp dir, closed when t ends,
// and returns it with its directory.
func openStore(t testing.TB) (*store.Store, string) {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(ctxT(t), "sqlite://"+filepath.Join(dir, "octopus.db"))
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st, dir
}

// must fails t if err is not nil.
func must(t testing.TB, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// wantErr fails t unless errors.Is(err, target) and err's message does
// not contain token.
func wantErr(t testing.TB, err, target error, token, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error %v, want %v", what, err, target)
	}
	if token != "" && strings.Contains(err.Error(), token) {
		t.Fatalf("%s: error message contains the token: %v", what, err)
	}
}

// clock is a settable clock for WithClock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().UTC().Truncate(time.Second)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// quiet keeps the verifiers' logs out of the test output.
var quiet = WithLogger(slog.New(slog.DiscardHandler))

// logBuffer returns a logger writing text to a buffer, to check what is
// logged.
func logBuffer() (*slog.Logger, *syncBuffer) {
	var b syncBuffer
	return slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug})), &b
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// signingKey is a key of the test OpenID provider.
type signingKey struct {
	kid    string
	method jwt.SigningMethod
	priv   crypto.Signer
}

func newRSAKey(t testing.TB, kid string) signingKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	must(t, err, "rsa.GenerateKey")
	return signingKey{kid: kid, method: jwt.SigningMethodRS256, priv: k}
}

func newECKey(t testing.TB, kid string) signingKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err, "ecdsa.GenerateKey")
	return signingKey{kid: kid, method: jwt.SigningMethodES256, priv: k}
}

// jwk is the key's public half as a JWK.
func (k signingKey) jwk(t testing.TB) map[string]string {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	switch pub := k.priv.Public().(type) {
	case *rsa.PublicKey:
		return map[string]string{"kty": "RSA", "kid": k.kid, "use": "sig", "alg": k.method.Alg(),
			"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes())}
	case *ecdsa.PublicKey:
		raw, err := pub.Bytes() // 0x04 || X || Y
		must(t, err, "ecdsa public key bytes")
		n := (len(raw) - 1) / 2
		return map[string]string{"kty": "EC", "kid": k.kid, "use": "sig", "alg": k.method.Alg(),
			"crv": "P-256", "x": b64(raw[1 : 1+n]), "y": b64(raw[1+n:])}
	}
	t.Fatalf("unknown key type %T", k.priv)
	return nil
}

// sign returns a JWT of claims signed by k.
func (k signingKey) sign(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(k.method, claims)
	tok.Header["kid"] = k.kid
	s, err := tok.SignedString(k.priv)
	must(t, err, "sign JWT")
	return s
}

// provider is a small OpenID provider: discovery document and JWKS.
type provider struct {
	srv       *httptest.Server
	issuer    string
	mu        sync.Mutex
	jwks      []map[string]string // the public keys served
	jwksHits  atomic.Int32
	discHits  atomic.Int32
	failing   atomic.Bool  // answer 503 to everything
	discIssue atomic.Value // if a non-empty string, the "issuer" announced
}

// newProvider starts a provider serving keys, stopped when t ends.
func newProvider(t testing.TB, keys ...signingKey) *provider {
	t.Helper()
	p := &provider{}
	p.setKeys(t, keys...)
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	p.issuer = p.srv.URL
	return p
}

func (p *provider) serve(w http.ResponseWriter, r *http.Request) {
	if p.failing.Load() {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		p.discHits.Add(1)
		iss := p.issuer
		if s, _ := p.discIssue.Load().(string); s != "" {
			iss = s
		}
		writeJSON(w, map[string]any{
			"issuer":                                iss,
			"authorization_endpoint":                p.issuer + "/authorize",
			"token_endpoint":                        p.issuer + "/token",
			"jwks_uri":                              p.issuer + "/jwks",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	case "/jwks":
		p.jwksHits.Add(1)
		p.mu.Lock()
		keys := p.jwks
		p.mu.Unlock()
		writeJSON(w, map[string]any{"keys": keys})
	default:
		http.NotFound(w, r)
	}
}

// setKeys replaces the keys the JWKS serves (a key rotation).
func (p *provider) setKeys(t testing.TB, keys ...signingKey) {
	t.Helper()
	jwks := []map[string]string{}
	for _, k := range keys {
		jwks = append(jwks, k.jwk(t))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.jwks = jwks
}

// claims returns valid claims for sub at now, for audience "octopus".
func (p *provider) claims(now time.Time, sub string) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": p.issuer, "sub": sub, "aud": "octopus",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
