// Package api is the control plane's REST API under /api/v1: a thin
// transport over internal/fabric. Handlers decode a request, call one
// Fabric method and encode its answer; every rule lives in Fabric.
//
// # Shape
//
// Every handler returns an error; writeError, the one function that writes
// errors, turns it into {"code", "message", "details"} with the status of
// its kind (see errors.go). Routes are Go 1.22 net/http ServeMux patterns;
// each path also gets a method-less pattern that answers 405 with Allow,
// and "/" answers 404, both in the same JSON shape. The routes are
// described by openapi.json, served at /api/v1/openapi.json, and a test
// checks that the two agree.
//
// # Authentication
//
// Every route but openapi.json and login needs "Authorization: Bearer TOKEN",
// verified by Config.Verifier. No, a malformed, an invalid or an expired
// token is 401 with WWW-Authenticate: Bearer; a verifier that cannot
// answer is 503. Tokens, secrets and bodies are never logged or echoed.
//
// # Path parameters
//
// {topic} is a topic's short or full name, {id} a key's or a trigger's ID
// and {identity} an identity's ID as GET /api/v1/me answers it
// ("local:bob", "https://issuer|sub"). Clients must path-escape {identity}
// (url.PathEscape: "/" as %2F); handlers read the decoded value.
//
// # Idempotency
//
// Topics, grants and triggers are idempotent by nature (Fabric). POST
// /keys, POST /users and POST /triggers accept an Idempotency-Key header
// (see idempotency.go).
package api

import (
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/octofabric/octopus/internal/fabric"
	"github.com/octofabric/octopus/internal/identity"
	"github.com/octofabric/octopus/internal/store"
	"github.com/octofabric/octopus/internal/trigger"
)

// DefaultMaxBodyBytes bounds a request body unless Config says otherwise.
const DefaultMaxBodyBytes = 1 << 20

// Config configures an API.
type Config struct {
	Fabric   *fabric.Fabric    // required
	Verifier identity.Verifier // required
	// Local is the built-in issuer behind POST /api/v1/users; nil: that
	// route does not exist (404).
	Local *identity.Local
	// Login, if set, is advertised by GET /api/v1/login; nil: only "token".
	Login        *LoginConfig
	Store        *store.Store // required: idempotency records
	Logger       *slog.Logger // default slog.Default()
	MaxBodyBytes int64        // default DefaultMaxBodyBytes
	// TriggerLogs serves GET /api/v1/triggers/{id}/logs; nil: that route
	// answers 503 triggers_unavailable.
	TriggerLogs trigger.LogReader
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
}

// Validate reports a configuration that cannot work. New calls it after
// filling in defaults.
func (c *Config) Validate() error {
	switch {
	case c.Fabric == nil:
		return errors.New("api: no Fabric")
	case c.Verifier == nil:
		return errors.New("api: no token Verifier")
	case c.Store == nil:
		return errors.New("api: no metadata store (for idempotency records)")
	case c.MaxBodyBytes < 0:
		return errors.New("api: MaxBodyBytes is negative")
	}
	return nil
}

// API is the REST API. Create it with New; it is safe for concurrent use.
type API struct {
	cfg    Config
	f      *fabric.Fabric
	log    *slog.Logger
	mux    *http.ServeMux
	routes []string // "METHOD /path" of every route, for tests
}

// New builds the API and its routes.
func New(cfg Config) (*API, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &API{cfg: cfg, f: cfg.Fabric, log: cfg.Logger, mux: http.NewServeMux()}
	a.register()
	return a, nil
}

// Handler serves every /api/v1/... path.
func (a *API) Handler() http.Handler { return a.mux }

// handlerFunc is a route's handler. c is the verified caller (zero on
// public routes). An error it returns is written by writeError, so it must
// not have written anything before returning one.
type handlerFunc func(w http.ResponseWriter, r *http.Request, c fabric.Caller) error

// register installs every route, the 405 answers and the 404 fallback.
func (a *API) register() {
	methods := map[string][]string{} // path → methods
	add := func(method, path string, public bool, h handlerFunc) {
		pattern := method + " " + path
		a.routes = append(a.routes, pattern)
		methods[path] = append(methods[path], method)
		a.mux.Handle(pattern, a.wrap(pattern, public, h))
	}
	const v1 = "/api/v1"
	add("GET", v1+"/openapi.json", true, a.openAPI)
	add("GET", v1+"/login", true, a.login)
	add("GET", v1+"/me", false, a.me)
	if a.cfg.Local != nil {
		add("POST", v1+"/users", false, a.createUser)
	}
	add("POST", v1+"/keys", false, a.createKey)
	add("GET", v1+"/keys", false, a.listKeys)
	add("DELETE", v1+"/keys/{id}", false, a.revokeKey)
	add("POST", v1+"/topics", false, a.createTopic)
	add("GET", v1+"/topics", false, a.listTopics)
	add("GET", v1+"/topics/{topic}", false, a.getTopic)
	add("PATCH", v1+"/topics/{topic}", false, a.updateTopic)
	add("DELETE", v1+"/topics/{topic}", false, a.deleteTopic)
	add("POST", v1+"/topics/{topic}/recreate", false, a.recreateTopic)
	add("GET", v1+"/topics/{topic}/grants", false, a.listGrants)
	add("PUT", v1+"/topics/{topic}/grants/{identity}", false, a.putGrant)
	add("DELETE", v1+"/topics/{topic}/grants/{identity}", false, a.deleteGrant)
	add("GET", v1+"/topics/{topic}/groups", false, a.topicGroups)
	a.registerTriggers(add)

	for path, ms := range methods {
		if slices.Contains(ms, "GET") {
			ms = append(ms, "HEAD")
		}
		sort.Strings(ms)
		allow := strings.Join(ms, ", ")
		a.mux.Handle(path, a.wrap(path, true, func(w http.ResponseWriter, r *http.Request, _ fabric.Caller) error {
			w.Header().Set("Allow", allow)
			return &Error{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed,
				Message: "method " + r.Method + " is not allowed here; allowed: " + allow}
		}))
	}
	a.mux.Handle("/", a.wrap("/", true, func(w http.ResponseWriter, r *http.Request, _ fabric.Caller) error {
		return &Error{Status: http.StatusNotFound, Code: CodeRouteNotFound, Message: "no such API path"}
	}))
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// wrap makes h an http.Handler: it authenticates the caller (unless
// public), turns a returned error or a panic into an error answer, and
// logs one line per request: method, route pattern, status, duration and
// the caller's identity — never a token or a body.
func (a *API) wrap(pattern string, public bool, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		w := &statusWriter{ResponseWriter: rw}
		var (
			c   fabric.Caller
			err error
		)
		func() {
			defer func() {
				if p := recover(); p != nil {
					if p == http.ErrAbortHandler {
						panic(p)
					}
					a.log.Error("api: handler panicked", "route", pattern, "panic", p)
					err = &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error"}
				}
			}()
			if !public {
				if c, err = a.authenticate(r); err != nil {
					return
				}
			}
			err = h(w, r, c)
		}()
		var ae *Error
		if err != nil {
			ae = a.writeError(w, err)
		}
		status := w.status
		if status == 0 {
			status = http.StatusOK
		}
		attrs := []any{"method", r.Method, "route", pattern, "status", status,
			"duration_ms", float64(time.Since(start).Microseconds()) / 1000, "identity", c.ID}
		level := slog.LevelInfo
		if ae != nil {
			attrs = append(attrs, "code", ae.Code)
			if ae.Status >= 500 {
				level = slog.LevelWarn
				if ae.Err != nil {
					attrs = append(attrs, "err", ae.Err.Error())
				}
			}
		}
		a.log.Log(r.Context(), level, "api request", attrs...)
	})
}

// authenticate verifies the request's bearer token.
func (a *API) authenticate(r *http.Request) (fabric.Caller, error) {
	token, err := identity.BearerToken(r)
	if err != nil {
		return fabric.Caller{}, err
	}
	id, err := a.cfg.Verifier.Verify(r.Context(), token)
	if err != nil {
		return fabric.Caller{}, err
	}
	return fabric.Caller{ID: id.ID, Name: id.Name, Admin: id.Admin}, nil
}
