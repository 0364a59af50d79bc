package identity

import (
	"encoding/base64"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/golang-jwt/jwt/v5"
)

// newTestOIDC starts a provider with key and a verifier of it for
// audience "octopus" on clk.
func newTestOIDC(t *testing.T, clk *clock, key signingKey, opts ...Option) (*provider, *OIDC) {
	t.Helper()
	p := newProvider(t, key)
	v, err := NewOIDC(ctxT(t), p.issuer, "octopus", append([]Option{WithClock(clk.now), quiet}, opts...)...)
	must(t, err, "NewOIDC")
	return p, v
}

func TestOIDCValid(t *testing.T) {
	clk := newClock()
	key := newRSAKey(t, "k1")
	p, v := newTestOIDC(t, clk, key)
	exp := clk.now().Add(time.Hour)
	for _, tc := range []struct {
		name     string
		extra    jwt.MapClaims
		wantName string
		scopes   []string
	}{
		{"preferred_username", jwt.MapClaims{"preferred_username": "alice", "email": "a@example.org", "scope": "openid octopus"}, "alice", []string{"openid", "octopus"}},
		{"email", jwt.MapClaims{"email": "a@example.org", "scp": []string{"octopus"}}, "a@example.org", []string{"octopus"}},
		{"sub", jwt.MapClaims{}, "sub-1", nil},
		{"audience list", jwt.MapClaims{"aud": []string{"other", "octopus"}}, "sub-1", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := p.claims(clk.now(), "sub-1")
			for k, x := range tc.extra {
				c[k] = x
			}
			id, err := v.Verify(ctxT(t), key.sign(t, c))
			must(t, err, "Verify")
			want := Identity{ID: p.issuer + "|sub-1", Name: tc.wantName, Source: SourceOIDC, ExpiresAt: exp, Scopes: tc.scopes}
			if !id.ExpiresAt.Equal(want.ExpiresAt) {
				t.Fatalf("ExpiresAt %v, want %v", id.ExpiresAt, want.ExpiresAt)
			}
			id.ExpiresAt = want.ExpiresAt
			if !reflect.DeepEqual(id, want) {
				t.Fatalf("identity %+v, want %+v", id, want)
			}
		})
	}
	if n := p.jwksHits.Load(); n != 1 {
		t.Fatalf("JWKS fetched %d times, want once (cached)", n)
	}
}

func TestOIDCRejects(t *testing.T) {
	clk := newClock()
	key := newRSAKey(t, "k1")
	p, v := newTestOIDC(t, clk, key)
	now := clk.now()
	with := func(k string, x any) jwt.MapClaims {
		c := p.claims(now, "sub-1")
		if x == nil {
			delete(c, k)
		} else {
			c[k] = x
		}
		return c
	}
	forger := newRSAKey(t, "k1") // another key under the same kid
	b64 := base64.RawURLEncoding.EncodeToString
	payload := b64([]byte(`{"iss":"` + p.issuer + `","sub":"x","aud":"octopus","exp":` + strconv.FormatInt(now.Add(time.Hour).Unix(), 10) + `}`))
	for _, tc := range []struct {
		name  string
		token string
		want  error
	}{
		{"expired", key.sign(t, with("exp", now.Add(-time.Minute).Unix())), ErrExpiredToken},
		{"wrong audience", key.sign(t, with("aud", "someone-else")), ErrInvalidToken},
		{"foreign issuer", key.sign(t, with("iss", "https://evil.example.org")), ErrInvalidToken},
		{"no sub", key.sign(t, with("sub", nil)), ErrInvalidToken},
		{"not yet valid", key.sign(t, with("nbf", now.Add(time.Hour).Unix())), ErrInvalidToken},
		{"forged signature", forger.sign(t, p.claims(now, "sub-1")), ErrInvalidToken},
		{"alg none", b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + payload + ".", ErrInvalidToken},
		{"alg none with signature", b64([]byte(`{"alg":"none"}`)) + "." + payload + ".c2ln", ErrInvalidToken},
		{"alg HS256", hs256(t, payload), ErrInvalidToken},
		{"tampered payload", tamper(key.sign(t, p.claims(now, "sub-1")), payload), ErrInvalidToken},
		{"malformed", "abc.def.ghi", ErrInvalidToken},
		{"opaque", "not-a-jwt", ErrInvalidToken},
		{"empty", "", ErrNoToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(ctxT(t), tc.token)
			wantErr(t, err, tc.want, tc.token, tc.name)
		})
	}
}

// hs256 returns a token over payload signed with HMAC, as an attacker
// would using the provider's public key as the secret.
func hs256(t *testing.T, payload string) string {
	t.Helper()
	head := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","kid":"k1"}`))
	sig, err := jwt.SigningMethodHS256.Sign(head+"."+payload, []byte("public key bytes"))
	must(t, err, "HS256")
	return head + "." + payload + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// tamper replaces the payload of a signed token.
func tamper(token, payload string) string {
	parts := strings.Split(token, ".")
	return parts[0] + "." + payload + "." + parts[2]
}

func TestOIDCForeignIssuerFetchesNothing(t *testing.T) {
	clk := newClock()
	key := newRSAKey(t, "k1")
	p, v := newTestOIDC(t, clk, key)
	c := p.claims(clk.now(), "sub-1")
	c["iss"] = "https://evil.example.org"
	for range 5 {
		_, err := v.Verify(ctxT(t), key.sign(t, c))
		wantErr(t, err, ErrInvalidToken, "", "foreign issuer")
	}
	if n := p.jwksHits.Load(); n != 0 {
		t.Fatalf("JWKS fetched %d times for foreign tokens, want 0", n)
	}
}

func TestOIDCKeyRotation(t *testing.T) {
	clk := newClock()
	k1, k2 := newRSAKey(t, "k1"), newECKey(t, "k2")
	p, v := newTestOIDC(t, clk, k1)
	_, err := v.Verify(ctxT(t), k1.sign(t, p.claims(clk.now(), "a")))
	must(t, err, "Verify with k1")

	settle()
	p.setKeys(t, k1, k2) // the provider publishes k2, then signs with it
	id, err := v.Verify(ctxT(t), k2.sign(t, p.claims(clk.now(), "b")))
	must(t, err, "Verify with k2 after rotation")
	if id.ID != p.issuer+"|b" {
		t.Fatalf("ID %q", id.ID)
	}
	if n := p.jwksHits.Load(); n != 2 {
		t.Fatalf("JWKS fetched %d times, want 2 (once per new key)", n)
	}

	settle()
	p.setKeys(t, k2) // k1 retired: its tokens fail once the set is refetched
	_, err = v.Verify(ctxT(t), newECKey(t, "k3").sign(t, p.claims(clk.now(), "c")))
	wantErr(t, err, ErrInvalidToken, "", "unknown key k3")
	_, err = v.Verify(ctxT(t), k2.sign(t, p.claims(clk.now(), "b")))
	must(t, err, "Verify with k2 after k1 retired")
}

// settle waits for go-oidc to finish a JWKS fetch: its fetching goroutine
// hands the keys to the waiting Verify before it marks the fetch finished,
// and a Verify in between joins the finished fetch and sees the old keys.
// A real key rotation is never microseconds after a fetch.
func settle() { time.Sleep(50 * time.Millisecond) }

func TestOIDCProviderDown(t *testing.T) {
	clk := newClock()
	k1, k2 := newRSAKey(t, "k1"), newRSAKey(t, "k2")
	p, v := newTestOIDC(t, clk, k1, WithTimeout(2*time.Second))
	tok1 := k1.sign(t, p.claims(clk.now(), "a"))
	_, err := v.Verify(ctxT(t), tok1)
	must(t, err, "Verify")

	// The provider answers 503: a token needing a new key cannot be checked.
	settle()
	p.setKeys(t, k1, k2)
	p.failing.Store(true)
	tok2 := k2.sign(t, p.claims(clk.now(), "b"))
	_, err = v.Verify(ctxT(t), tok2)
	wantErr(t, err, ErrUnavailable, tok2, "provider answering 503")
	// Tokens of cached keys need no provider.
	_, err = v.Verify(ctxT(t), tok1)
	must(t, err, "Verify with a cached key while the provider fails")

	// The provider is gone: connection refused.
	p.srv.Close()
	_, err = v.Verify(ctxT(t), tok2)
	wantErr(t, err, ErrUnavailable, tok2, "provider gone")
}

func TestOIDCDiscoveryFailsAtStart(t *testing.T) {
	key := newRSAKey(t, "k1")
	p := newProvider(t, key)
	p.discIssue.Store("https://other.example.org")
	_, err := NewOIDC(ctxT(t), p.issuer, "octopus", quiet)
	var mismatch *oidc.IssuerMismatchError
	if !errors.As(err, &mismatch) {
		t.Fatalf("issuer mismatch: error %v", err)
	}
	p.discIssue.Store("")

	_, err = NewOIDC(ctxT(t), p.issuer+"/nowhere", "octopus", quiet)
	if err == nil {
		t.Fatal("discovery 404: no error")
	}
	p.srv.Close()
	_, err = NewOIDC(ctxT(t), p.issuer, "octopus", quiet)
	if err == nil {
		t.Fatal("provider down at start: no error")
	}
	// With retry, a provider that is down is no error, a 404 still is.
	_, err = NewOIDC(ctxT(t), p.issuer, "octopus", WithDiscoveryRetry(0), quiet)
	must(t, err, "NewOIDC with retry, provider down")

	for _, bad := range []string{"http://idp.example.org", "ftp://x", "https://", "::"} {
		if _, err := NewOIDC(ctxT(t), bad, "octopus"); err == nil {
			t.Errorf("issuer %q accepted", bad)
		}
	}
	if _, err := NewOIDC(ctxT(t), "https://idp.example.org", ""); err == nil {
		t.Error("empty audience accepted")
	}
}

func TestOIDCDiscoveryRetry(t *testing.T) {
	clk := newClock()
	key := newRSAKey(t, "k1")
	p := newProvider(t, key)
	p.failing.Store(true)
	v, err := NewOIDC(ctxT(t), p.issuer, "octopus", WithClock(clk.now), WithDiscoveryRetry(10*time.Second), quiet)
	must(t, err, "NewOIDC with the provider failing")

	tok := key.sign(t, p.claims(clk.now(), "a"))
	_, err = v.Verify(ctxT(t), tok)
	wantErr(t, err, ErrUnavailable, tok, "before discovery")

	p.failing.Store(false)
	hits := p.discHits.Load()
	_, err = v.Verify(ctxT(t), tok)
	wantErr(t, err, ErrUnavailable, tok, "within the retry interval")
	if p.discHits.Load() != hits {
		t.Fatal("discovery retried within the interval")
	}
	clk.advance(11 * time.Second)
	tok = key.sign(t, p.claims(clk.now(), "a"))
	id, err := v.Verify(ctxT(t), tok)
	must(t, err, "Verify after the provider came back")
	if id.ID != p.issuer+"|a" {
		t.Fatalf("ID %q", id.ID)
	}
}

func TestOIDCErrorsAreTyped(t *testing.T) {
	// Every error of Verify is one of the sentinels.
	clk := newClock()
	key := newRSAKey(t, "k1")
	_, v := newTestOIDC(t, clk, key)
	for _, tok := range []string{"a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "x"} {
		_, err := v.Verify(ctxT(t), tok)
		if !errors.Is(err, ErrInvalidToken) {
			t.Errorf("Verify(%q): %v", tok, err)
		}
	}
}
