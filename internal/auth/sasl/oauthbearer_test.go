package sasl

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
)

const (
	testIssuer   = "https://issuer.example"
	testAudience = "octopus"
)

var testNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

type testKeys struct {
	rsa, rsaOther  *rsa.PrivateKey
	ec256, ec384   *ecdsa.PrivateKey
	jwksJSON       []byte
	jwksNoKidsJSON []byte
}

var (
	keysOnce sync.Once
	keys     testKeys
)

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func rsaJWK(kid string, k *rsa.PublicKey) map[string]string {
	return map[string]string{"kty": "RSA", "kid": kid, "use": "sig", "n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
}

func ecJWK(kid string, k *ecdsa.PrivateKey) map[string]string {
	pt, err := k.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		panic(err)
	}
	size := (len(pt) - 1) / 2
	crv := map[int]string{32: "P-256", 48: "P-384", 66: "P-521"}[size]
	return map[string]string{"kty": "EC", "kid": kid, "crv": crv, "x": b64(pt[1 : 1+size]), "y": b64(pt[1+size:])}
}

// loadKeys generates the test keys once: RSA generation is slow.
func loadKeys(t testing.TB) *testKeys {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		must := func(e error) {
			if e != nil {
				panic(e)
			}
		}
		keys.rsa, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		keys.rsaOther, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		keys.ec256, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		keys.ec384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		must(err)
		set := map[string]any{"keys": []any{
			rsaJWK("rsa1", &keys.rsa.PublicKey),
			ecJWK("ec256", keys.ec256),
			ecJWK("ec384", keys.ec384),
			map[string]string{"kty": "oct", "kid": "hmac", "k": b64([]byte("secret"))}, // must be ignored
		}}
		keys.jwksJSON, err = json.Marshal(set)
		must(err)
		keys.jwksNoKidsJSON, err = json.Marshal(map[string]any{"keys": []any{rsaJWK("", &keys.rsa.PublicKey)}})
		must(err)
	})
	return &keys
}

func oauthMechFor(t *testing.T, doc []byte, mod func(*OAuthBearerConfig)) Mechanism {
	t.Helper()
	set, err := ParseJWKS(doc)
	if err != nil {
		t.Fatal(err)
	}
	cfg := OAuthBearerConfig{Issuer: testIssuer, Audience: testAudience, JWKS: set, Now: func() time.Time { return testNow }}
	if mod != nil {
		mod(&cfg)
	}
	m, err := NewOAuthBearer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func goodClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss": testIssuer,
		"aud": []string{"other", testAudience},
		"sub": "alice",
		"exp": testNow.Add(time.Hour).Unix(),
		"nbf": testNow.Add(-time.Minute).Unix(),
		"iat": testNow.Add(-time.Minute).Unix(),
	}
}

func sign(t *testing.T, method jwt.SigningMethod, kid string, key crypto.PrivateKey, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestOAuthBearerFranzClient(t *testing.T) {
	k := loadKeys(t)
	m := oauthMechFor(t, k.jwksJSON, nil)
	for _, tc := range []struct {
		name   string
		method jwt.SigningMethod
		kid    string
		key    crypto.PrivateKey
	}{
		{"RS256", jwt.SigningMethodRS256, "rsa1", k.rsa},
		{"RS384", jwt.SigningMethodRS384, "rsa1", k.rsa},
		{"RS512", jwt.SigningMethodRS512, "rsa1", k.rsa},
		{"PS256", jwt.SigningMethodPS256, "rsa1", k.rsa},
		{"ES256", jwt.SigningMethodES256, "ec256", k.ec256},
		{"ES384", jwt.SigningMethodES384, "ec384", k.ec384},
		{"ES256 no kid", jwt.SigningMethodES256, "", k.ec256},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := sign(t, tc.method, tc.kid, tc.key, goodClaims())
			s, err := drive(t, m, oauth.Auth{Token: tok, Extensions: map[string]string{"traceId": "abc 123"}}.AsMechanism())
			if err != nil {
				t.Fatal(err)
			}
			if s.Principal() != "User:alice" {
				t.Fatalf("principal %q", s.Principal())
			}
			if s.Lifetime() != time.Hour {
				t.Fatalf("lifetime %v", s.Lifetime())
			}
			ext := s.(interface{ Extensions() map[string]string }).Extensions()
			if ext["traceId"] != "abc 123" {
				t.Fatalf("extensions %v", ext)
			}
		})
	}

	// authzid equal to the principal is fine; a configurable principal claim.
	if _, err := drive(t, m, oauth.Auth{Zid: "alice", Token: sign(t, jwt.SigningMethodRS256, "rsa1", k.rsa, goodClaims())}.AsMechanism()); err != nil {
		t.Fatal(err)
	}
	mc := oauthMechFor(t, k.jwksNoKidsJSON, func(c *OAuthBearerConfig) { c.PrincipalClaim = "preferred_username" })
	cl := goodClaims()
	cl["preferred_username"] = "bob"
	s, err := drive(t, mc, oauth.Auth{Token: sign(t, jwt.SigningMethodRS256, "", k.rsa, cl)}.AsMechanism())
	if err != nil || s.Principal() != "User:bob" {
		t.Fatalf("custom claim: %v %q", err, s.Principal())
	}
}

func TestOAuthBearerRejectsTokens(t *testing.T) {
	k := loadKeys(t)
	m := oauthMechFor(t, k.jwksJSON, nil)
	with := func(f func(jwt.MapClaims)) jwt.MapClaims { c := goodClaims(); f(c); return c }
	rs := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodRS256, "rsa1", k.rsa, c) }
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, goodClaims()).SignedString(jwt.UnsafeAllowNoneSignatureType)
	hs := func(kid string) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, goodClaims())
		tok.Header["kid"] = kid
		s, _ := tok.SignedString([]byte("secret"))
		return s
	}
	for _, tc := range []struct {
		name, token, reason string
	}{
		{"wrong key", sign(t, jwt.SigningMethodRS256, "rsa1", k.rsaOther, goodClaims()), "invalid signature or algorithm"},
		{"unknown kid", sign(t, jwt.SigningMethodRS256, "nope", k.rsa, goodClaims()), "no matching verification key"},
		{"EC key for RSA kid", sign(t, jwt.SigningMethodES256, "rsa1", k.ec256, goodClaims()), "no matching verification key"},
		{"curve mismatch", sign(t, jwt.SigningMethodES256, "ec384", k.ec256, goodClaims()), "no matching verification key"},
		{"alg none", none, "invalid signature or algorithm"},
		{"HS256 with oct kid", hs("hmac"), "invalid signature or algorithm"},
		{"HS256 with rsa kid", hs("rsa1"), "invalid signature or algorithm"},
		{"wrong aud", rs(with(func(c jwt.MapClaims) { c["aud"] = "someone-else" })), "invalid audience"},
		{"no aud", rs(with(func(c jwt.MapClaims) { delete(c, "aud") })), "missing required claim"},
		{"wrong iss", rs(with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" })), "invalid issuer"},
		{"expired", rs(with(func(c jwt.MapClaims) { c["exp"] = testNow.Add(-time.Second).Unix() })), "token expired"},
		{"nbf in future", rs(with(func(c jwt.MapClaims) { c["nbf"] = testNow.Add(time.Minute).Unix() })), "token not yet valid"},
		{"missing exp", rs(with(func(c jwt.MapClaims) { delete(c, "exp") })), "missing required claim"},
		{"missing sub", rs(with(func(c jwt.MapClaims) { delete(c, "sub") })), `missing principal claim "sub"`},
		{"garbage", "abc.def.ghi", "malformed token"},
		{"tampered payload", tamperPayload(rs(goodClaims())), "invalid signature or algorithm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := drive(t, m, oauth.Auth{Token: tc.token}.AsMechanism())
			wantKind(t, err, ErrAuthenticationFailed)
			if !strings.HasSuffix(err.Error(), ": "+tc.reason) {
				t.Fatalf("error %q, want reason %q", err, tc.reason)
			}
			if strings.Contains(err.Error(), tc.token) {
				t.Fatal("error leaks the token")
			}
			if s.Principal() != "" || s.Lifetime() != 0 {
				t.Fatal("principal set on failure")
			}
		})
	}
}

// tamperPayload swaps the payload for one naming another subject, keeping
// the original signature.
func tamperPayload(tok string) string {
	parts := strings.Split(tok, ".")
	c := goodClaims()
	c["sub"] = "admin"
	p, _ := json.Marshal(c)
	parts[1] = base64.RawURLEncoding.EncodeToString(p)
	return strings.Join(parts, ".")
}

func TestOAuthBearerErrorStep(t *testing.T) {
	k := loadKeys(t)
	m := oauthMechFor(t, k.jwksJSON, func(c *OAuthBearerConfig) {
		c.OpenIDConfiguration = "https://issuer.example/.well-known/openid-configuration"
	})
	bad := "n,,\x01auth=Bearer abc.def.ghi\x01\x01"

	s := m.Start()
	reply, done, err := s.Step([]byte(bad))
	if err != nil || done {
		t.Fatalf("first step: done=%v err=%v", done, err)
	}
	var ej map[string]string
	if err := json.Unmarshal(reply, &ej); err != nil || ej["status"] != "invalid_token" || ej["openid-configuration"] == "" {
		t.Fatalf("error JSON %q: %v", reply, err)
	}
	_, _, err = s.Step([]byte{1})
	wantKind(t, err, ErrAuthenticationFailed)
	_, _, err = s.Step([]byte{1})
	wantKind(t, err, ErrSequence)

	s = m.Start()
	s.Step([]byte(bad))
	_, _, err = s.Step([]byte("again"))
	wantKind(t, err, ErrMalformed)

	// authzid that differs from the token principal fails at once.
	good := sign(t, jwt.SigningMethodRS256, "rsa1", k.rsa, goodClaims())
	_, _, err = m.Start().Step([]byte("n,a=admin,\x01auth=Bearer " + good + "\x01\x01"))
	wantKind(t, err, ErrAuthenticationFailed)
}

func TestOAuthBearerMalformed(t *testing.T) {
	k := loadKeys(t)
	m := oauthMechFor(t, k.jwksJSON, nil)
	for _, tc := range []struct {
		name, msg string
		kind      error
	}{
		{"empty", "", ErrMalformed},
		{"no gs2", "\x01auth=Bearer x\x01\x01", ErrMalformed},
		{"channel binding", "p=tls-unique,,\x01auth=Bearer x\x01\x01", ErrUnsupported},
		{"no kvsep", "n,,auth=Bearer x\x01\x01", ErrMalformed},
		{"missing final kvsep", "n,,\x01auth=Bearer x\x01", ErrMalformed},
		{"no auth", "n,,\x01foo=bar\x01\x01", ErrMalformed},
		{"no pairs", "n,,\x01\x01", ErrMalformed},
		{"empty pair", "n,,\x01auth=Bearer x\x01\x01\x01", ErrMalformed},
		{"not bearer", "n,,\x01auth=Basic x\x01\x01", ErrMalformed},
		{"no token", "n,,\x01auth=Bearer \x01\x01", ErrMalformed},
		{"bad token char", "n,,\x01auth=Bearer a,b\x01\x01", ErrMalformed},
		{"dup auth", "n,,\x01auth=Bearer x\x01auth=Bearer y\x01\x01", ErrMalformed},
		{"dup ext", "n,,\x01a=1\x01a=2\x01auth=Bearer x\x01\x01", ErrMalformed},
		{"bad key", "n,,\x01k1=v\x01auth=Bearer x\x01\x01", ErrMalformed},
		{"bad value", "n,,\x01k=\x00\x01auth=Bearer x\x01\x01", ErrMalformed},
		{"bad authzid", "n,b=x,\x01auth=Bearer x\x01\x01", ErrMalformed},
		{"too long", "n,,\x01auth=Bearer " + strings.Repeat("a", maxOAuthMessage) + "\x01\x01", ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, done, err := m.Start().Step([]byte(tc.msg))
			if done {
				t.Fatal("accepted")
			}
			wantKind(t, err, tc.kind)
		})
	}
}

func TestJWKSAndConfig(t *testing.T) {
	k := loadKeys(t)
	path := filepath.Join(t.TempDir(), "jwks.json")
	os.WriteFile(path, k.jwksJSON, 0o600)
	set, err := LoadJWKSFile(path)
	if err != nil || len(set.keys) != 3 {
		t.Fatalf("load: %v (%d keys; oct must be skipped)", err, len(set.keys))
	}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	offCurve := ecJWK("x", k.ec256)
	offCurve["y"] = offCurve["x"]
	for name, doc := range map[string]any{
		"only oct":  map[string]any{"keys": []any{map[string]string{"kty": "oct", "k": "c2VjcmV0"}}},
		"empty":     map[string]any{"keys": []any{}},
		"small RSA": map[string]any{"keys": []any{rsaJWK("s", &small.PublicKey)}},
		"off curve": map[string]any{"keys": []any{offCurve}},
		"bad curve": map[string]any{"keys": []any{map[string]string{"kty": "EC", "crv": "P-192", "x": "AA", "y": "AA"}}},
		"bad n":     map[string]any{"keys": []any{map[string]string{"kty": "RSA", "n": "!!", "e": "AQAB"}}},
	} {
		b, _ := json.Marshal(doc)
		if _, err := ParseJWKS(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := ParseJWKS([]byte("{")); err == nil {
		t.Error("bad JSON accepted")
	}
	for _, cfg := range []OAuthBearerConfig{
		{Audience: "a", JWKS: set},
		{Issuer: "i", JWKS: set},
		{Issuer: "i", Audience: "a"},
		{Issuer: "i", Audience: "a", JWKS: set, Leeway: -1},
	} {
		if _, err := NewOAuthBearer(cfg); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
	// An "alg" on a key pins it: an RS256 key does not verify RS512 tokens.
	pinned := rsaJWK("rsa1", &k.rsa.PublicKey)
	pinned["alg"] = "RS256"
	doc, _ := json.Marshal(map[string]any{"keys": []any{pinned}})
	m := oauthMechFor(t, doc, nil)
	if _, err := drive(t, m, oauth.Auth{Token: sign(t, jwt.SigningMethodRS512, "rsa1", k.rsa, goodClaims())}.AsMechanism()); err == nil {
		t.Fatal("alg-pinned key verified another alg")
	}
	// Leeway admits an nbf slightly in the future, but never an expired
	// token: the session lifetime must be positive.
	ml := oauthMechFor(t, k.jwksJSON, func(c *OAuthBearerConfig) { c.Leeway = 30 * time.Second })
	cl := goodClaims()
	cl["nbf"] = testNow.Add(10 * time.Second).Unix()
	if _, err := drive(t, ml, oauth.Auth{Token: sign(t, jwt.SigningMethodRS256, "rsa1", k.rsa, cl)}.AsMechanism()); err != nil {
		t.Fatal(err)
	}
	cl = goodClaims()
	cl["exp"] = testNow.Add(-10 * time.Second).Unix()
	_, err = drive(t, ml, oauth.Auth{Token: sign(t, jwt.SigningMethodRS256, "rsa1", k.rsa, cl)}.AsMechanism())
	if !errors.Is(err, ErrAuthenticationFailed) || !strings.HasSuffix(err.Error(), "token expired") {
		t.Fatalf("expired within leeway: %v", err)
	}
}
