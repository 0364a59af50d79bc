package identity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// oidcAlgs are the JWS algorithms accepted: asymmetric signatures only, as
// in internal/auth/sasl. "none" and HMAC (whose key would be the public
// key) never are.
var oidcAlgs = []string{
	oidc.RS256, oidc.RS384, oidc.RS512, oidc.PS256, oidc.PS384, oidc.PS512,
	oidc.ES256, oidc.ES384, oidc.ES512, oidc.EdDSA,
}

// OIDC verifies JWTs (ID tokens, or RFC 9068 access tokens) of one OpenID
// Connect provider: signature by a key of the provider's JWKS, "iss" equal
// to the issuer, "aud" containing the audience, "exp" in the future, "nbf"
// (if any) past, with go-oidc's 5-minute leeway. The JWKS is fetched when
// a token names a key not yet seen, so the provider may rotate keys at any
// time; tokens signed by a cached key need no network.
//
// Discovery happens in NewOIDC: a provider that cannot be reached then is
// an error, so a typo in --oidc-issuer stops the start, unless
// WithDiscoveryRetry is given (see there); cmd/octopus should give it,
// so that an identity-provider outage during a restart does not take the
// broker and local logins down with it.
type OIDC struct {
	issuer, audience string
	o                options
	client           *http.Client

	mu          sync.Mutex
	verifier    *oidc.IDTokenVerifier // nil until discovery succeeds
	endpoints   Endpoints             // from discovery, with verifier
	discovering bool                  // a Verify is running discovery
	lastTry     time.Time             // when discovery last started
	lastErr     error                 // why it last failed
}

func (v *OIDC) shape() Shape { return ShapeJWT }

// NewOIDC discovers the provider at issuerURL (its
// /.well-known/openid-configuration, whose "issuer" must equal issuerURL
// exactly) and returns a verifier of its tokens for audience. Options:
// WithHTTPClient, WithTimeout, WithClock, WithLogger, WithDiscoveryRetry.
// ctx bounds discovery only.
func NewOIDC(ctx context.Context, issuerURL, audience string, opts ...Option) (*OIDC, error) {
	if err := checkProviderURL("OIDC issuer", issuerURL); err != nil {
		return nil, err
	}
	if audience == "" {
		return nil, errors.New("identity: OIDC audience is required")
	}
	v := &OIDC{issuer: issuerURL, audience: audience, o: newOptions(opts)}
	v.client = v.o.httpClient()
	v.lastTry = v.o.now()
	verifier, eps, err := v.discover(ctx)
	switch {
	case err == nil:
		v.verifier, v.endpoints = verifier, eps
	case v.o.retryDiscovery && transient(err):
		v.lastErr = err
		v.o.logger.Warn("OIDC provider unreachable; will retry discovery", "issuer", issuerURL, "err", err)
	default:
		return nil, err
	}
	return v, nil
}

// Endpoints are the provider's OAuth endpoints that clients log in with.
// DeviceAuthorization is empty when the provider offers no device-code
// flow (RFC 8628).
type Endpoints struct {
	DeviceAuthorization string
	Token               string
}

// discover fetches the discovery document and builds the go-oidc verifier.
func (v *OIDC) discover(ctx context.Context) (*oidc.IDTokenVerifier, Endpoints, error) {
	ctx, cancel := context.WithTimeout(ctx, v.o.timeout)
	defer cancel()
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, v.client), v.issuer)
	if err != nil {
		return nil, Endpoints{}, fmt.Errorf("identity: OIDC discovery of %s: %w", v.issuer, err)
	}
	var doc struct {
		JWKSURI    string `json:"jwks_uri"`
		DeviceAuth string `json:"device_authorization_endpoint"`
		Token      string `json:"token_endpoint"`
	}
	if err := provider.Claims(&doc); err != nil {
		return nil, Endpoints{}, fmt.Errorf("identity: OIDC discovery of %s: %w", v.issuer, err)
	}
	if err := checkProviderURL("OIDC jwks_uri", doc.JWKSURI); err != nil {
		return nil, Endpoints{}, err
	}
	var eps Endpoints
	// Endpoints that are not proper URLs are left out rather than failing
	// token verification, which does not need them.
	if checkProviderURL("OIDC token_endpoint", doc.Token) == nil {
		eps.Token = doc.Token
		if doc.DeviceAuth != "" && checkProviderURL("OIDC device_authorization_endpoint", doc.DeviceAuth) == nil {
			eps.DeviceAuthorization = doc.DeviceAuth
		}
	}
	// The key set's context carries the client for its later fetches; its
	// cancellation is ignored by go-oidc.
	keys := &keySet{remote: oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), v.client), doc.JWKSURI)}
	return oidc.NewVerifier(v.issuer, keys, &oidc.Config{
		ClientID:             v.audience,
		SupportedSigningAlgs: oidcAlgs,
		Now:                  v.o.now,
	}), eps, nil
}

// Issuer returns the issuer URL tokens must carry.
func (v *OIDC) Issuer() string { return v.issuer }

// Endpoints returns the provider's login endpoints, running discovery
// first if it has not succeeded yet (see current).
func (v *OIDC) Endpoints(ctx context.Context) (Endpoints, error) {
	if _, err := v.current(ctx); err != nil {
		return Endpoints{}, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.endpoints, nil
}

// current returns the verifier, running discovery first if it has not
// succeeded yet and the retry interval has passed; only one caller runs
// it, the others get ErrUnavailable meanwhile.
func (v *OIDC) current(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	v.mu.Lock()
	if v.verifier != nil {
		defer v.mu.Unlock()
		return v.verifier, nil
	}
	if v.discovering || v.o.now().Sub(v.lastTry) < v.o.retryInterval {
		err := v.lastErr
		v.mu.Unlock()
		return nil, unavailable("OIDC discovery", err)
	}
	v.discovering, v.lastTry = true, v.o.now()
	v.mu.Unlock()

	verifier, eps, err := v.discover(context.WithoutCancel(ctx))

	v.mu.Lock()
	defer v.mu.Unlock()
	v.discovering = false
	if err != nil {
		v.lastErr = err
		v.o.logger.Warn("OIDC discovery failed; will retry", "issuer", v.issuer, "err", err)
		return nil, unavailable("OIDC discovery", err)
	}
	v.verifier, v.endpoints, v.lastErr = verifier, eps, nil
	v.o.logger.Info("OIDC provider discovered", "issuer", v.issuer)
	return verifier, nil
}

// jwtClaims are the claims read from a verified token.
type jwtClaims struct {
	Subject           string          `json:"sub"`
	PreferredUsername string          `json:"preferred_username"`
	Email             string          `json:"email"`
	Scope             string          `json:"scope"` // RFC 9068, RFC 8693: space-separated
	Scp               json.RawMessage `json:"scp"`   // Okta, Azure: an array (or a string)
}

// Verify implements Verifier.
func (v *OIDC) Verify(ctx context.Context, token string) (Identity, error) {
	if err := v.precheck(token); err != nil {
		return Identity{}, err
	}
	verifier, err := v.current(ctx)
	if err != nil {
		return Identity{}, err
	}
	var fetch fetchOutcome
	idt, err := verifier.Verify(context.WithValue(ctx, fetchOutcomeKey{}, &fetch), token)
	if err != nil {
		var expired *oidc.TokenExpiredError
		switch {
		case fetch.err != nil:
			return Identity{}, unavailable("OIDC JWKS", fetch.err)
		case errors.As(err, &expired):
			return Identity{}, fmt.Errorf("%w: expired at %s", ErrExpiredToken, expired.Expiry.UTC().Format(time.RFC3339))
		}
		return Identity{}, invalidf("%s", redact(err.Error(), token))
	}
	var c jwtClaims
	if err := idt.Claims(&c); err != nil {
		return Identity{}, invalidf("claims: %s", redact(err.Error(), token))
	}
	if c.Subject == "" {
		return Identity{}, invalidf("no sub claim")
	}
	id := Identity{
		ID:        v.issuer + "|" + c.Subject,
		Name:      firstNonEmpty(c.PreferredUsername, c.Email, c.Subject),
		Source:    SourceOIDC,
		ExpiresAt: idt.Expiry,
		Scopes:    scopes(c.Scope),
	}
	if len(c.Scp) > 0 {
		var list []string
		var one string
		if json.Unmarshal(c.Scp, &list) == nil {
			id.Scopes = append(id.Scopes, list...)
		} else if json.Unmarshal(c.Scp, &one) == nil {
			id.Scopes = append(id.Scopes, scopes(one)...)
		}
	}
	return id, nil
}

// precheck rejects, without any network call, a token that is not a JWS
// of an accepted algorithm or whose (unverified) issuer is another: such
// tokens must not make the verifier fetch the JWKS again.
func (v *OIDC) precheck(token string) error {
	switch ShapeOf(token) {
	case ShapeNone:
		return ErrNoToken
	case ShapeJWT:
	default:
		return invalidf("not a JWT")
	}
	parts := strings.Split(token, ".")
	var header struct {
		Alg string `json:"alg"`
	}
	if err := decodeSegment(parts[0], &header); err != nil {
		return invalidf("malformed JWT header")
	}
	if !slices.Contains(oidcAlgs, header.Alg) {
		return invalidf("JWT algorithm %q is not accepted", truncate(header.Alg, 16))
	}
	if parts[2] == "" {
		return invalidf("JWT has no signature")
	}
	var payload struct {
		Issuer string `json:"iss"`
	}
	if err := decodeSegment(parts[1], &payload); err != nil {
		return invalidf("malformed JWT payload")
	}
	if payload.Issuer != v.issuer {
		return invalidf("token from issuer %q, want %q", truncate(payload.Issuer, 200), v.issuer)
	}
	return nil
}

// decodeSegment decodes one base64url part of a JWS as a JSON object.
func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// truncate shortens s for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// scopes splits a space-separated scope string; nil when there are none.
func scopes(s string) []string {
	if f := strings.Fields(s); len(f) > 0 {
		return f
	}
	return nil
}

// firstNonEmpty returns the first non-empty string.
func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// keySet wraps go-oidc's remote key set to tell a provider outage from a
// bad signature: go-oidc flattens the cause into a string, so the fetch
// failure is reported through a fetchOutcome in the context instead.
type keySet struct {
	remote *oidc.RemoteKeySet
}

type fetchOutcomeKey struct{}

// fetchOutcome records why fetching the JWKS failed during one Verify.
type fetchOutcome struct {
	err error
}

// VerifySignature implements oidc.KeySet.
func (k *keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	payload, err := k.remote.VerifySignature(ctx, jwt)
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w: %w", errContextDone, err)
		}
		if out, ok := ctx.Value(fetchOutcomeKey{}).(*fetchOutcome); ok && fetchFailed(err) {
			out.err = err
		}
	}
	return payload, err
}
