package sasl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// maxOAuthMessage bounds the OAUTHBEARER initial client response.
const maxOAuthMessage = 64 << 10

// oauthAlgs are the only JWS algorithms accepted: asymmetric signatures.
// "none" and the HMAC algorithms are never accepted.
var oauthAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}

// OAuthBearerConfig configures NewOAuthBearer.
type OAuthBearerConfig struct {
	// Issuer is the required "iss" claim.
	Issuer string
	// Audience is a value the "aud" claim must contain.
	Audience string
	// JWKS holds the issuer's verification keys.
	JWKS *JWKS
	// PrincipalClaim names the claim holding the user name; default "sub".
	PrincipalClaim string
	// Leeway is the clock skew allowed on nbf and iat (Kafka's
	// sasl.oauthbearer.clock.skew.seconds defaults to 30 s; here 0 means
	// none). exp is enforced without leeway: the session lifetime is derived
	// from it and must be positive.
	Leeway time.Duration
	// OpenIDConfiguration, if set, is sent in the RFC 7628 error JSON as
	// "openid-configuration".
	OpenIDConfiguration string
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Validate checks required fields.
func (c *OAuthBearerConfig) Validate() error {
	switch {
	case c.Issuer == "":
		return errors.New("sasl: OAUTHBEARER issuer is required")
	case c.Audience == "":
		return errors.New("sasl: OAUTHBEARER audience is required")
	case c.JWKS == nil || len(c.JWKS.keys) == 0:
		return errors.New("sasl: OAUTHBEARER JWKS is required")
	case c.Leeway < 0:
		return errors.New("sasl: OAUTHBEARER leeway must not be negative")
	}
	return nil
}

// NewOAuthBearer returns the OAUTHBEARER mechanism (RFC 7628, KIP-255)
// accepting JWT bearer tokens signed by a key in cfg.JWKS, with the
// configured issuer and audience, an exp claim in the future and nbf (if
// present) in the past. The principal is "User:" + the principal claim;
// Lifetime is the time left until exp.
//
// On an invalid token the server answers with the RFC 7628 error JSON and
// waits for the client's single 0x01 byte before failing, as Kafka does.
func NewOAuthBearer(cfg OAuthBearerConfig) (Mechanism, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.PrincipalClaim == "" {
		cfg.PrincipalClaim = "sub"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	errJSON, _ := json.Marshal(struct {
		Status string `json:"status"`
		OIDC   string `json:"openid-configuration,omitempty"`
	}{"invalid_token", cfg.OpenIDConfiguration})
	return &oauthMech{cfg: cfg, errJSON: errJSON}, nil
}

type oauthMech struct {
	cfg     OAuthBearerConfig
	errJSON []byte
}

func (*oauthMech) Name() string { return "OAUTHBEARER" }

func (m *oauthMech) Start() Session { return &oauthSession{m: m} }

type oauthSession struct {
	m      *oauthMech
	state  int    // 0 awaiting initial response, 1 awaiting 0x01 after error, 2 ended
	reason string // why the token was rejected (secret-free)

	principal  string
	lifetime   time.Duration
	extensions map[string]string
}

func (s *oauthSession) Principal() string       { return s.principal }
func (s *oauthSession) Lifetime() time.Duration { return s.lifetime }

// Extensions returns the SASL extensions the client sent (RFC 7628 key=value
// pairs other than auth). They are not validated here.
func (s *oauthSession) Extensions() map[string]string { return s.extensions }

func (s *oauthSession) fail(kind error, detail string) ([]byte, bool, error) {
	s.state = 2
	return nil, false, authErr("OAUTHBEARER", kind, detail)
}

func (s *oauthSession) Step(msg []byte) ([]byte, bool, error) {
	switch s.state {
	case 0:
		return s.initial(msg)
	case 1:
		// RFC 7628 3.2.3: after the server's error the client sends
		// a single kvsep; only then does the exchange fail.
		if !bytes.Equal(msg, []byte{0x01}) {
			return s.fail(ErrMalformed, "expected 0x01 after error")
		}
		return s.fail(ErrAuthenticationFailed, s.reason)
	}
	return nil, false, authErr("OAUTHBEARER", ErrSequence, "")
}

// oauthInitial is a parsed initial client response.
type oauthInitial struct {
	authzid    string
	token      string
	extensions map[string]string
}

// parseOAuthInitial parses the RFC 7628 initial client response:
//
//	gs2-header kvsep *kvpair kvsep
//	gs2-header = "n," [ "a=" saslname ] ","
//	kvpair = key "=" value kvsep, key = 1*ALPHA, value = *(VCHAR / SP / HTAB / CR / LF)
//	auth = "auth=" scheme 1*SP token   (scheme "Bearer", any case)
func parseOAuthInitial(msg []byte) (r oauthInitial, detail string, ok bool) {
	if len(msg) > maxOAuthMessage {
		return r, "message too long", false
	}
	switch {
	case bytes.HasPrefix(msg, []byte("n,")):
	case bytes.HasPrefix(msg, []byte("y,")), bytes.HasPrefix(msg, []byte("p=")):
		return r, "channel binding not supported", false
	default:
		return r, "bad gs2 header", false
	}
	i := bytes.IndexByte(msg[2:], ',')
	if i < 0 {
		return r, "bad gs2 header", false
	}
	if az := msg[2 : 2+i]; len(az) > 0 {
		if !bytes.HasPrefix(az, []byte("a=")) {
			return r, "bad authorization id", false
		}
		name, ok := decodeSaslName(az[2:])
		if !ok || name == "" {
			return r, "bad authorization id", false
		}
		r.authzid = name
	}
	rest := msg[2+i+1:]
	if len(rest) < 3 || rest[0] != 0x01 || !bytes.HasSuffix(rest, []byte{0x01, 0x01}) {
		return r, "bad key/value framing", false
	}
	pairs := bytes.Split(rest[1:len(rest)-2], []byte{0x01})
	haveAuth := false
	for _, p := range pairs {
		k, v, ok := bytes.Cut(p, []byte("="))
		if !ok || !isAlpha(k) || !validKVValue(v) {
			return r, "bad key/value pair", false
		}
		key := string(k)
		if key == "auth" {
			if haveAuth {
				return r, "duplicate auth", false
			}
			haveAuth = true
			scheme, tok, ok := strings.Cut(string(v), " ")
			tok = strings.TrimLeft(tok, " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") || !isB64Token(tok) {
				return r, "bad auth value", false
			}
			r.token = tok
			continue
		}
		if r.extensions == nil {
			r.extensions = map[string]string{}
		}
		if _, dup := r.extensions[key]; dup {
			return r, "duplicate extension", false
		}
		r.extensions[key] = string(v)
	}
	if !haveAuth {
		return r, "missing auth", false
	}
	return r, "", true
}

func isAlpha(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

func validKVValue(b []byte) bool {
	for _, c := range b {
		if !(0x21 <= c && c <= 0x7e || c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			return false
		}
	}
	return true
}

// isB64Token: RFC 6750 b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
func isB64Token(s string) bool {
	if s == "" {
		return false
	}
	s = strings.TrimRight(s, "=")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~+/", c) >= 0) {
			return false
		}
	}
	return true
}

var errNoKey = errors.New("no matching key")

func (s *oauthSession) initial(msg []byte) ([]byte, bool, error) {
	r, detail, ok := parseOAuthInitial(msg)
	if !ok {
		if detail == "channel binding not supported" {
			return s.fail(ErrUnsupported, detail)
		}
		return s.fail(ErrMalformed, detail)
	}
	user, exp, reason := s.m.verify(r.token)
	if reason != "" {
		s.reason = reason
		s.state = 1
		return append([]byte(nil), s.m.errJSON...), false, nil
	}
	if r.authzid != "" && r.authzid != user {
		return s.fail(ErrAuthenticationFailed, "authorization id differs from token principal")
	}
	s.state = 2
	s.principal = UserPrincipal(user)
	s.lifetime = exp.Sub(s.m.cfg.Now())
	s.extensions = r.extensions
	return nil, true, nil
}

// verify checks the JWT and returns its principal and expiry, or a fixed,
// secret-free reason for rejecting it.
func (m *oauthMech) verify(token string) (user string, exp time.Time, reason string) {
	p := jwt.NewParser(
		jwt.WithValidMethods(oauthAlgs),
		jwt.WithIssuer(m.cfg.Issuer),
		jwt.WithAudience(m.cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(m.cfg.Leeway),
		jwt.WithTimeFunc(m.cfg.Now),
	)
	claims := jwt.MapClaims{}
	_, err := p.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		keys := m.cfg.JWKS.candidates(t.Method.Alg(), kid)
		if len(keys) == 0 {
			return nil, errNoKey
		}
		set := jwt.VerificationKeySet{Keys: make([]jwt.VerificationKey, len(keys))}
		for i, k := range keys {
			set.Keys[i] = k
		}
		return set, nil
	})
	if err != nil {
		return "", time.Time{}, jwtReason(err)
	}
	et, err := claims.GetExpirationTime()
	if err != nil || et == nil {
		return "", time.Time{}, "missing exp"
	}
	name, _ := claims[m.cfg.PrincipalClaim].(string)
	if name == "" {
		return "", time.Time{}, fmt.Sprintf("missing principal claim %q", m.cfg.PrincipalClaim)
	}
	if !et.Time.After(m.cfg.Now()) {
		return "", time.Time{}, "token expired"
	}
	return name, et.Time, ""
}

// jwtReason maps a jwt error to a fixed message: jwt's own messages are
// secret-free too, but fixed strings keep the client-visible text stable.
func jwtReason(err error) string {
	switch {
	case errors.Is(err, errNoKey):
		return "no matching verification key"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed token"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "invalid signature or algorithm"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "unverifiable token"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "missing required claim"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "token not yet valid"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "invalid issuer"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "invalid audience"
	}
	return "invalid token"
}
