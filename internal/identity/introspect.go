package identity

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Cache lifetimes of introspection answers. A positive answer is kept at
// most positiveTTL and never past the token's exp, so a token revoked at
// the provider keeps working here for at most a minute; a negative one
// (inactive, expired, lacking the scope) negativeTTL, enough to absorb a
// burst of retries with a bad token.
const (
	positiveTTL = 60 * time.Second
	negativeTTL = 5 * time.Second
)

// maxIntrospectionResponse bounds the answer read from the endpoint.
const maxIntrospectionResponse = 1 << 20

// nbfLeeway is the clock skew allowed on "nbf".
const nbfLeeway = time.Minute

// IntrospectionConfig configures NewIntrospection (--introspection-url,
// --introspection-client-id, --introspection-client-secret,
// --introspection-scope).
type IntrospectionConfig struct {
	// URL is the RFC 7662 endpoint, e.g.
	// https://auth.globus.org/v2/oauth2/token/introspect.
	URL string
	// ClientID and ClientSecret authenticate Octopus to the endpoint with
	// HTTP basic auth. They are sent as they are, not form-encoded first
	// (RFC 6749 2.3.1 asks for that, but Globus Auth and most servers
	// expect them raw, as the Globus SDK sends them).
	ClientID, ClientSecret string
	// Scope is required in the token's space-separated "scope" (for Globus,
	// the scope string of the Octopus resource server). A token without it
	// is ErrInsufficientScope.
	Scope string
	// Issuer, if set, prefixes identity IDs ("<issuer>|<sub>") and must
	// equal the answer's "iss" when it has one. Default: URL.
	Issuer string
	// Audience, if set, must be in the answer's "aud".
	Audience string
}

// Validate checks the configuration.
func (c *IntrospectionConfig) Validate() error {
	if err := checkProviderURL("introspection URL", c.URL); err != nil {
		return err
	}
	switch {
	case c.ClientID == "":
		return errors.New("identity: introspection client id is required")
	case c.ClientSecret == "":
		return errors.New("identity: introspection client secret is required")
	case c.Scope == "" || strings.ContainsAny(c.Scope, " \t\n"):
		return errors.New("identity: introspection needs one required scope (no spaces)")
	}
	return nil
}

// Introspection verifies opaque tokens by RFC 7662 introspection, as
// Globus Auth issues them. Answers are cached (see positiveTTL), at most
// WithCacheSize of them, keyed by the token's SHA-256 (the token itself is
// never kept); concurrent Verify calls for one token make one request.
type Introspection struct {
	cfg    IntrospectionConfig
	rules  introspectionRules
	o      options
	client *http.Client

	mu         sync.Mutex
	cache      map[[sha256.Size]byte]cacheEntry
	inflight   map[[sha256.Size]byte]*introspectCall
	lastRefuse time.Time // when a refusal of our credentials was last logged
}

// refuseLogInterval spaces the error logged while the endpoint refuses
// Octopus's credentials (every request fails then).
const refuseLogInterval = time.Minute

// cacheEntry is a cached answer, valid before until.
type cacheEntry struct {
	id    Identity
	err   error
	until time.Time
}

// introspectCall is a request in flight; done is closed when id and err
// are set.
type introspectCall struct {
	done chan struct{}
	id   Identity
	err  error
}

func (v *Introspection) shape() Shape { return ShapeOpaque }

// NewIntrospection returns a verifier calling the endpoint of cfg. Options:
// WithHTTPClient, WithTimeout, WithClock, WithLogger, WithCacheSize.
func NewIntrospection(cfg IntrospectionConfig, opts ...Option) (*Introspection, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	v := &Introspection{
		cfg: cfg,
		rules: introspectionRules{
			idPrefix: firstNonEmpty(cfg.Issuer, cfg.URL),
			issuer:   cfg.Issuer,
			scope:    cfg.Scope,
			audience: cfg.Audience,
		},
		o:        newOptions(opts),
		cache:    map[[sha256.Size]byte]cacheEntry{},
		inflight: map[[sha256.Size]byte]*introspectCall{},
	}
	if v.o.cacheSize < 1 {
		v.o.cacheSize = 1
	}
	v.client = v.o.httpClient()
	return v, nil
}

// Verify implements Verifier.
func (v *Introspection) Verify(ctx context.Context, token string) (Identity, error) {
	switch ShapeOf(token) {
	case ShapeNone:
		return Identity{}, ErrNoToken
	case ShapeInvalid:
		return Identity{}, invalidf("malformed token")
	case ShapeLocal: // never sent to a third party
		return Identity{}, invalidf("a local token is not introspected")
	}
	key := sha256.Sum256([]byte(token))
	now := v.o.now()

	v.mu.Lock()
	if e, ok := v.cache[key]; ok && now.Before(e.until) {
		v.mu.Unlock()
		return e.id.clone(), e.err
	}
	c, ok := v.inflight[key]
	if !ok {
		c = &introspectCall{done: make(chan struct{})}
		v.inflight[key] = c
		// The request outlives a caller that gives up: the others wait.
		go v.run(context.WithoutCancel(ctx), key, token, c)
	}
	v.mu.Unlock()

	select {
	case <-c.done:
		return c.id.clone(), c.err
	case <-ctx.Done():
		return Identity{}, unavailable("introspection", fmt.Errorf("%w: %w", errContextDone, ctx.Err()))
	}
}

// run makes the request for c, then caches the answer unless it is
// ErrUnavailable.
func (v *Introspection) run(ctx context.Context, key [sha256.Size]byte, token string, c *introspectCall) {
	c.id, c.err = v.introspect(ctx, token)
	now := v.o.now()
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.inflight, key)
	close(c.done)
	until := now.Add(negativeTTL)
	switch {
	case c.err == nil:
		until = now.Add(positiveTTL)
		if !c.id.ExpiresAt.IsZero() && c.id.ExpiresAt.Before(until) {
			until = c.id.ExpiresAt
		}
	case errors.Is(c.err, ErrUnavailable):
		return
	}
	v.putLocked(key, cacheEntry{id: c.id, err: c.err, until: until}, now)
}

// putLocked caches e, first making room: expired entries go, then, if the
// cache is still full, arbitrary ones until a tenth is free.
func (v *Introspection) putLocked(key [sha256.Size]byte, e cacheEntry, now time.Time) {
	if len(v.cache) >= v.o.cacheSize {
		for k, old := range v.cache {
			if !now.Before(old.until) {
				delete(v.cache, k)
			}
		}
		for k := range v.cache {
			if len(v.cache) < v.o.cacheSize-v.o.cacheSize/10 {
				break
			}
			delete(v.cache, k)
		}
	}
	v.cache[key] = e
}

// introspect asks the endpoint about token.
func (v *Introspection) introspect(ctx context.Context, token string) (Identity, error) {
	ctx, cancel := context.WithTimeout(ctx, v.o.timeout)
	defer cancel()
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.cfg.URL, strings.NewReader(form.Encode()))
	if err != nil {
		return Identity{}, unavailable("introspection", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(v.cfg.ClientID, v.cfg.ClientSecret)
	resp, err := v.client.Do(req)
	if err != nil {
		var se *statusError
		if errors.As(err, &se) && (se.code == http.StatusUnauthorized || se.code == http.StatusForbidden) {
			v.logRefusal(se.code)
		}
		return Identity{}, unavailable("introspection", redactErr(err, token))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxIntrospectionResponse+1))
	if err != nil {
		return Identity{}, unavailable("introspection", redactErr(err, token))
	}
	if len(body) > maxIntrospectionResponse {
		return Identity{}, unavailable("introspection", errors.New("answer larger than 1 MiB"))
	}
	return parseIntrospection(body, v.o.now(), v.rules)
}

// logRefusal logs, at most once per refuseLogInterval, that the endpoint
// refused Octopus's client credentials.
func (v *Introspection) logRefusal(code int) {
	now := v.o.now()
	v.mu.Lock()
	due := now.Sub(v.lastRefuse) >= refuseLogInterval
	if due {
		v.lastRefuse = now
	}
	v.mu.Unlock()
	if due {
		v.o.logger.Error("introspection endpoint refused Octopus's client credentials; check the client id and secret",
			"url", v.cfg.URL, "status", code)
	}
}

// redactErr is err with the token removed from its message.
func redactErr(err error, token string) error {
	if msg := redact(err.Error(), token); msg != err.Error() {
		return errors.New(msg)
	}
	return err
}

// introspectionAnswer is RFC 7662's response, with the fields Globus Auth
// adds (username, email). Numbers are float64: some servers send
// fractional seconds.
type introspectionAnswer struct {
	Active   *bool           `json:"active"`
	Scope    string          `json:"scope"`
	Subject  string          `json:"sub"`
	Username string          `json:"username"`
	Email    string          `json:"email"`
	Issuer   string          `json:"iss"`
	Audience json.RawMessage `json:"aud"`
	Exp      *float64        `json:"exp"`
	Nbf      *float64        `json:"nbf"`
}

// introspectionRules are what parseIntrospection checks an answer against.
type introspectionRules struct {
	idPrefix string // identity IDs are idPrefix|sub
	issuer   string // if set, a present "iss" must equal it
	scope    string // required in "scope"
	audience string // if set, required in "aud"
}

// parseIntrospection judges an introspection answer at now: an answer that
// is not a JSON object with a boolean "active" is ErrUnavailable (the
// provider misbehaves); "active": false, a foreign "iss", a missing
// audience, a missing "sub" or a future "nbf" is ErrInvalidToken; a past
// "exp" ErrExpiredToken; a missing scope ErrInsufficientScope.
func parseIntrospection(body []byte, now time.Time, r introspectionRules) (Identity, error) {
	var a introspectionAnswer
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&a); err != nil {
		return Identity{}, unavailable("introspection", fmt.Errorf("malformed answer: %v", err))
	}
	if a.Active == nil {
		return Identity{}, unavailable("introspection", errors.New(`answer has no boolean "active"`))
	}
	if !*a.Active {
		return Identity{}, invalidf("token is not active")
	}
	id := Identity{Source: SourceIntrospection, Scopes: scopes(a.Scope)}
	if a.Exp != nil {
		exp, ok := unixTime(*a.Exp)
		if !ok {
			return Identity{}, invalidf("exp out of range")
		}
		if !now.Before(exp) {
			return Identity{}, fmt.Errorf("%w: expired at %s", ErrExpiredToken, exp.UTC().Format(time.RFC3339))
		}
		id.ExpiresAt = exp
	}
	if a.Nbf != nil {
		nbf, ok := unixTime(*a.Nbf)
		if !ok || now.Add(nbfLeeway).Before(nbf) {
			return Identity{}, invalidf("token not valid yet")
		}
	}
	if r.issuer != "" && a.Issuer != "" && a.Issuer != r.issuer {
		return Identity{}, invalidf("token from issuer %q, want %q", truncate(a.Issuer, 200), r.issuer)
	}
	if r.audience != "" && !audienceHas(a.Audience, r.audience) {
		return Identity{}, invalidf("token is not for audience %q", r.audience)
	}
	if a.Subject == "" {
		return Identity{}, invalidf("answer has no sub")
	}
	if !slices.Contains(id.Scopes, r.scope) {
		return Identity{}, fmt.Errorf("%w: token lacks scope %q", ErrInsufficientScope, r.scope)
	}
	id.ID = r.idPrefix + "|" + a.Subject
	id.Name = firstNonEmpty(a.Username, a.Email, a.Subject)
	return id, nil
}

// unixTime converts seconds since the epoch, refusing values no token has.
func unixTime(sec float64) (time.Time, bool) {
	if !(sec >= 0 && sec < 1<<40) { // also false for NaN
		return time.Time{}, false
	}
	whole := int64(sec)
	return time.Unix(whole, int64((sec-float64(whole))*1e9)).UTC(), true
}

// audienceHas reports whether an "aud" (a string or an array of strings)
// contains want.
func audienceHas(raw json.RawMessage, want string) bool {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return one == want
	}
	var list []string
	return json.Unmarshal(raw, &list) == nil && slices.Contains(list, want)
}
