package testenv

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// OIDCProvider is a small OpenID Connect provider for tests, on loopback:
// discovery, a JWKS of one RSA key, the device-code flow (RFC 8628) and a
// token endpoint for the device_code and refresh_token grants. It stands in
// for the browser step: every device code is approved, as Subject, on its
// second poll (the first answers authorization_pending), or denied after
// SetDeny(true). Access tokens carry aud Audience; ID tokens aud ClientID.
type OIDCProvider struct {
	// Read-only after NewOIDCProvider.
	URL      string // the issuer
	Audience string
	ClientID string // the only client the endpoints accept
	Subject  string // who approves device codes
	Name     string // preferred_username of the tokens
	TokenTTL time.Duration

	key *rsa.PrivateKey

	mu        sync.Mutex
	deny      bool            // deny device codes instead of approving them
	polls     map[string]int  // device code → polls so far
	refresh   map[string]bool // refresh tokens not used yet
	refreshes int             // refresh_token grants answered
}

// SetDeny makes the provider deny (true) or approve device codes.
func (p *OIDCProvider) SetDeny(deny bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.deny = deny
}

// Refreshes returns how many refresh_token grants the provider answered.
func (p *OIDCProvider) Refreshes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refreshes
}

// NewOIDCProvider starts a provider, stopped when t ends, whose tokens
// last ttl.
func NewOIDCProvider(t testing.TB, audience, clientID string, ttl time.Duration) *OIDCProvider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &OIDCProvider{Audience: audience, ClientID: clientID, Subject: "s-1234", Name: "dana",
		TokenTTL: ttl, key: key, polls: map[string]int{}, refresh: map[string]bool{}}
	// Fields are set before Start, so handlers see them.
	srv := httptest.NewUnstartedServer(http.HandlerFunc(p.serve))
	p.URL = "http://" + srv.Listener.Addr().String()
	srv.Start()
	t.Cleanup(srv.Close)
	return p
}

func (p *OIDCProvider) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		writeJSON(w, http.StatusOK, map[string]any{
			"issuer":                                p.URL,
			"authorization_endpoint":                p.URL + "/authorize",
			"device_authorization_endpoint":         p.URL + "/device",
			"token_endpoint":                        p.URL + "/token",
			"jwks_uri":                              p.URL + "/jwks",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	case "/jwks":
		pub := p.key.PublicKey
		writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
			"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		}}})
	case "/device":
		if r.PostFormValue("client_id") != p.ClientID {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
			return
		}
		code := rand.Text()
		p.mu.Lock()
		p.polls[code] = 0
		p.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{
			"device_code": code, "user_code": "WDJB-MJHT", "verification_uri": p.URL + "/activate",
			"verification_uri_complete": p.URL + "/activate?user_code=WDJB-MJHT",
			"expires_in":                600, "interval": 1,
		})
	case "/token":
		p.token(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (p *OIDCProvider) token(w http.ResponseWriter, r *http.Request) {
	if r.PostFormValue("client_id") != p.ClientID {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch r.PostFormValue("grant_type") {
	case "urn:ietf:params:oauth:grant-type:device_code":
		code := r.PostFormValue("device_code")
		n, ok := p.polls[code]
		switch {
		case !ok:
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "expired_token"})
			return
		case n == 0:
			p.polls[code] = 1
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "authorization_pending"})
			return
		case p.deny:
			delete(p.polls, code)
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "access_denied"})
			return
		}
		delete(p.polls, code)
	case "refresh_token":
		if !p.refresh[r.PostFormValue("refresh_token")] {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
			return
		}
		delete(p.refresh, r.PostFormValue("refresh_token"))
		p.refreshes++
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	rt := rand.Text()
	p.refresh[rt] = true
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": p.sign(p.Audience), "id_token": p.sign(p.ClientID), "refresh_token": rt,
		"token_type": "Bearer", "expires_in": int(p.TokenTTL / time.Second),
	})
}

// Token returns an access token for Subject, as the provider issues them.
func (p *OIDCProvider) Token() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sign(p.Audience)
}

func (p *OIDCProvider) sign(aud string) string {
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": p.URL, "sub": p.Subject, "aud": aud, "preferred_username": p.Name,
		"iat": now.Unix(), "exp": now.Add(p.TokenTTL).Unix(), "jti": rand.Text(),
	})
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(p.key)
	if err != nil {
		panic(err) // an RSA key we made cannot fail to sign
	}
	return s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
