// Package identity tells the REST API who is calling: it verifies a bearer
// token and returns the Identity behind it. Three verifiers exist, one per
// kind of token, and Chain routes a token to the right one by its shape:
//
//	oct_…            Local: the built-in issuer of single sites; only the
//	                 SHA-256 of a token is stored (internal/store)
//	xxx.yyy.zzz      OIDC: a JWT checked against an OpenID provider's
//	                 discovery document and JWKS (github.com/coreos/go-oidc)
//	anything else    Introspection: an opaque token (Globus Auth) checked by
//	                 RFC 7662 introspection, answers cached briefly
//
// Errors are the sentinels below, tested with errors.Is. ErrUnavailable means
// the answer could not be had (provider down, database error): the caller
// should answer 503, not 401. No error message ever contains the token.
//
// Concurrency: every verifier is safe for concurrent use; the few shared
// fields are guarded by one mutex per verifier, held only for map and field
// access, never across I/O.
package identity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Identity is the caller a token stands for.
type Identity struct {
	// ID is stable and unique across sources: "local:<name>" for the
	// built-in issuer, "<issuer>|<sub>" for OIDC and introspection.
	ID string
	// Name is for display and for deriving a namespace (NamespaceFor).
	Name string
	// Admin is true only for local administrators.
	Admin bool
	// Source is SourceLocal, SourceOIDC or SourceIntrospection.
	Source string
	// ExpiresAt is when the token stops being valid; zero: never.
	ExpiresAt time.Time
	// Scopes are the OAuth scopes the token carries (nil for local tokens).
	Scopes []string
}

// clone returns id with its own copy of Scopes.
func (id Identity) clone() Identity {
	id.Scopes = slices.Clone(id.Scopes)
	return id
}

// The values of Identity.Source.
const (
	SourceLocal         = "local"
	SourceOIDC          = "oidc"
	SourceIntrospection = "introspection"
)

// Verifier turns a bearer token into an Identity.
type Verifier interface {
	Verify(ctx context.Context, token string) (Identity, error)
}

// The errors of Verify, tested with errors.Is. The returned error wraps one
// of them and says why, without the token.
var (
	// ErrNoToken: no token was presented (answer 401).
	ErrNoToken = errors.New("no bearer token")
	// ErrInvalidToken: malformed, unknown, revoked, badly signed, from a
	// foreign issuer or for another audience (answer 401).
	ErrInvalidToken = errors.New("invalid token")
	// ErrExpiredToken: the token was valid but has expired (answer 401).
	ErrExpiredToken = errors.New("token expired")
	// ErrInsufficientScope: the token lacks the required scope (answer 403,
	// RFC 6750 insufficient_scope).
	ErrInsufficientScope = errors.New("insufficient scope")
	// ErrUnavailable: the identity provider or the metadata store could not
	// give an answer (answer 503; the token may well be valid).
	ErrUnavailable = errors.New("identity provider unavailable")
)

// MaxTokenLen bounds a token's length; longer ones are ErrInvalidToken
// before any work is done. JWTs with many claims stay far below it.
const MaxTokenLen = 8 << 10

// Shape is what a token looks like, which decides the verifier that gets it.
type Shape int

const (
	// ShapeNone is the empty string.
	ShapeNone Shape = iota
	// ShapeLocal starts with LocalPrefix.
	ShapeLocal
	// ShapeJWT is three dot-separated base64url parts (JWS compact form);
	// the signature part may be empty (alg "none", rejected later).
	ShapeJWT
	// ShapeOpaque is any other token of printable ASCII without spaces.
	ShapeOpaque
	// ShapeInvalid has bytes no token may have, or is too long.
	ShapeInvalid
)

func (s Shape) String() string {
	switch s {
	case ShapeNone:
		return "none"
	case ShapeLocal:
		return "local"
	case ShapeJWT:
		return "jwt"
	case ShapeOpaque:
		return "opaque"
	}
	return "invalid"
}

// ShapeOf classifies a token. Tokens are RFC 6750 b64token characters in
// practice; anything outside printable ASCII (or a space) is ShapeInvalid.
func ShapeOf(token string) Shape {
	if token == "" {
		return ShapeNone
	}
	if len(token) > MaxTokenLen {
		return ShapeInvalid
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; c <= ' ' || c > '~' {
			return ShapeInvalid
		}
	}
	if strings.HasPrefix(token, LocalPrefix) {
		return ShapeLocal
	}
	if parts := strings.Split(token, "."); len(parts) == 3 &&
		parts[0] != "" && parts[1] != "" &&
		isBase64URL(parts[0]) && isBase64URL(parts[1]) && isBase64URL(parts[2]) {
		return ShapeJWT
	}
	return ShapeOpaque
}

// isBase64URL reports whether s has only base64url characters (no padding).
func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// shaped is a verifier that handles one shape of token.
type shaped interface {
	Verifier
	shape() Shape
}

// chain routes tokens by shape.
type chain struct {
	local, jwt, opaque Verifier
}

// Chain returns a Verifier that sends each token to the verifier for its
// shape: "oct_" tokens to the *Local, JWTs to the *OIDC (or, when none is
// given, to the *Introspection: some providers issue JWT access tokens and
// introspect them too), other tokens to the *Introspection. A token no given
// verifier handles is ErrInvalidToken. Nil verifiers are skipped, so a
// caller may pass the ones it configured. Chain panics on a verifier of
// another type or on two of the same type: a programming error.
func Chain(verifiers ...Verifier) Verifier {
	var c chain
	for _, v := range verifiers {
		if isNil(v) {
			continue
		}
		s, ok := v.(shaped)
		if !ok {
			panic(fmt.Sprintf("identity: Chain: %T is not a verifier of this package", v))
		}
		slot := map[Shape]*Verifier{ShapeLocal: &c.local, ShapeJWT: &c.jwt, ShapeOpaque: &c.opaque}[s.shape()]
		if *slot != nil {
			panic(fmt.Sprintf("identity: Chain: two verifiers of type %T", v))
		}
		*slot = v
	}
	return c
}

// isNil reports whether v is nil or a nil pointer of one of this package's
// verifier types.
func isNil(v Verifier) bool {
	switch v := v.(type) {
	case nil:
		return true
	case *Local:
		return v == nil
	case *OIDC:
		return v == nil
	case *Introspection:
		return v == nil
	}
	return false
}

// Verify implements Verifier.
func (c chain) Verify(ctx context.Context, token string) (Identity, error) {
	var v Verifier
	switch shape := ShapeOf(token); shape {
	case ShapeNone:
		return Identity{}, ErrNoToken
	case ShapeLocal:
		v = c.local
	case ShapeJWT:
		v = c.jwt
		if v == nil {
			v = c.opaque
		}
	case ShapeOpaque:
		v = c.opaque
	}
	if v == nil {
		return Identity{}, invalidf("no verifier is configured for this kind of token")
	}
	return v.Verify(ctx, token)
}

// BearerToken returns the token of an "Authorization: Bearer TOKEN" header
// (the scheme is case-insensitive, RFC 7235). No header is ErrNoToken;
// another scheme or a malformed value is ErrInvalidToken.
func BearerToken(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", ErrNoToken
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", invalidf("the Authorization header is not a Bearer token")
	}
	token = strings.TrimSpace(token)
	if s := ShapeOf(token); s == ShapeNone || s == ShapeInvalid {
		return "", invalidf("the Authorization header holds a malformed token")
	}
	return token, nil
}

// invalidf returns an ErrInvalidToken error with a reason. Reasons never
// contain the token.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidToken, fmt.Sprintf(format, args...))
}

// unavailable returns an ErrUnavailable error naming what failed.
func unavailable(what string, err error) error {
	return fmt.Errorf("%w: %s: %v", ErrUnavailable, what, err)
}

// redact removes the token, and any long piece of it, from a message taken
// from a dependency's error.
func redact(msg, token string) string {
	if token == "" {
		return msg
	}
	msg = strings.ReplaceAll(msg, token, "[token]")
	for _, part := range strings.Split(token, ".") {
		if len(part) >= 8 {
			msg = strings.ReplaceAll(msg, part, "[token]")
		}
	}
	return msg
}

// Option configures a verifier (NewLocal, NewOIDC, NewIntrospection); each
// says which verifiers use it.
type Option func(*options)

type options struct {
	now            func() time.Time
	logger         *slog.Logger
	client         *http.Client
	timeout        time.Duration
	retryDiscovery bool
	retryInterval  time.Duration
	cacheSize      int
}

func newOptions(opts []Option) options {
	o := options{
		now:           time.Now,
		logger:        slog.Default(),
		timeout:       10 * time.Second,
		retryInterval: 30 * time.Second,
		cacheSize:     10000,
	}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithClock sets the clock (all verifiers); default time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithLogger sets the logger (all verifiers); default slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithHTTPClient sets the HTTP client that calls the provider (OIDC,
// Introspection), e.g. to trust a private CA. Its Transport is wrapped, not
// replaced. Default: a client with the timeout of WithTimeout.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.client = c } }

// WithTimeout bounds each call to the provider (OIDC, Introspection);
// default 10 s.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithDiscoveryRetry makes NewOIDC succeed when the provider cannot be
// reached at start (connection refused, timeout, HTTP 5xx or 429): Verify
// then answers ErrUnavailable and tries discovery again, at most once per
// interval (0: 30 s), until it succeeds. A definite misconfiguration (HTTP
// 4xx, issuer mismatch, a malformed document) still fails NewOIDC.
func WithDiscoveryRetry(interval time.Duration) Option {
	return func(o *options) {
		o.retryDiscovery = true
		if interval > 0 {
			o.retryInterval = interval
		}
	}
}

// WithCacheSize bounds the number of cached introspection answers
// (Introspection); default 10,000.
func WithCacheSize(n int) Option { return func(o *options) { o.cacheSize = n } }
