package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/octofabric/octopus/internal/fabric"
	"github.com/octofabric/octopus/internal/identity"
)

// Error is an API error: the one shape every failed request answers with,
//
//	{"code": "invalid_name", "message": "…", "details": {"field": "name"}}
//
// Details is omitted when empty; for 400 it names the bad field ("field")
// and, for path parameters and headers, where it is ("in": "path",
// "header"). Fabric's errors keep their codes (invalid_name,
// topic_not_found, no_access, …); the API adds the codes below.
type Error struct {
	Status  int            `json:"-"`
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
	Err     error          `json:"-"` // the cause, for the log line of 5xx answers
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func (e *Error) Unwrap() error { return e.Err }

// The codes the API itself gives (Fabric's codes pass through).
const (
	CodeInvalidJSON          = "invalid_json"            // 400: malformed JSON or not one object
	CodeUnknownField         = "unknown_field"           // 400: a field the request does not have
	CodeInvalidType          = "invalid_type"            // 400: a field of the wrong JSON type or out of range
	CodeTrailingData         = "trailing_data"           // 400: more after the JSON value
	CodeMissingBody          = "missing_body"            // 400: the route needs a JSON body
	CodeInvalidField         = "invalid_field"           // 400: a value the API cannot parse (expires_at)
	CodeInvalidIdemKey       = "invalid_idempotency_key" // 400: a malformed Idempotency-Key header
	CodeUnauthenticated      = "unauthenticated"         // 401: no bearer token
	CodeInvalidToken         = "invalid_token"           // 401: malformed, unknown, revoked or foreign token
	CodeExpiredToken         = "expired_token"           // 401: the token has expired
	CodeInsufficientScope    = "insufficient_scope"      // 403: the token lacks the required scope
	CodeAdminOnly            = "admin_only"              // 403: administrators only
	CodeRouteNotFound        = "route_not_found"         // 404: no such API path
	CodeMethodNotAllowed     = "method_not_allowed"      // 405, with Allow
	CodeUserExists           = "user_exists"             // 409: POST /users with a taken name
	CodeIdempotencyConflict  = "idempotency_key_reused"  // 409: same Idempotency-Key, another request
	CodeBodyTooLarge         = "body_too_large"          // 413
	CodeUnsupportedMediaType = "unsupported_media_type"  // 415: a body that is not application/json
	CodeIdentityUnavailable  = "identity_unavailable"    // 503: the identity provider did not answer
	CodeStoreUnavailable     = "store_unavailable"       // 503: the metadata store failed
	CodeInternal             = "internal"                // 500
)

// fabricStatus is the HTTP status of each fabric.Kind.
var fabricStatus = map[fabric.Kind]int{
	fabric.Invalid:         http.StatusBadRequest,
	fabric.Unauthenticated: http.StatusUnauthorized,
	fabric.Forbidden:       http.StatusForbidden,
	fabric.NotFound:        http.StatusNotFound,
	fabric.Conflict:        http.StatusConflict,
	fabric.Unavailable:     http.StatusServiceUnavailable,
}

// toError turns any error a handler returns into an *Error.
func toError(err error) *Error {
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	var fe *fabric.Error
	if errors.As(err, &fe) {
		status, ok := fabricStatus[fe.Kind]
		if !ok {
			status = http.StatusInternalServerError
		}
		e := &Error{Status: status, Code: fe.Code, Message: fe.Message, Err: fe.Err}
		if fe.Field != "" {
			e.Details = map[string]any{"field": fe.Field}
		}
		return e
	}
	switch {
	case errors.Is(err, identity.ErrNoToken):
		return &Error{Status: http.StatusUnauthorized, Code: CodeUnauthenticated, Message: "a bearer token is required (Authorization: Bearer TOKEN)"}
	case errors.Is(err, identity.ErrExpiredToken):
		return &Error{Status: http.StatusUnauthorized, Code: CodeExpiredToken, Message: "the token has expired"}
	case errors.Is(err, identity.ErrInvalidToken):
		return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Message: "the token is malformed, unknown, revoked, expired or from another issuer"}
	case errors.Is(err, identity.ErrInsufficientScope):
		return &Error{Status: http.StatusForbidden, Code: CodeInsufficientScope, Message: "the token lacks the required scope"}
	case errors.Is(err, identity.ErrUnavailable):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeIdentityUnavailable, Message: "the identity provider is unavailable; try again later", Err: err}
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error", Err: err}
}

// writeError writes err as an API error and returns what it wrote. It is
// the only place errors become HTTP answers. A 401 carries
// WWW-Authenticate: Bearer (RFC 6750), with error="invalid_token" when a
// token was presented; a 403 for a missing scope carries
// error="insufficient_scope".
func (a *API) writeError(w http.ResponseWriter, err error) *Error {
	e := toError(err)
	switch {
	case e.Status == http.StatusUnauthorized && e.Code == CodeUnauthenticated:
		w.Header().Set("WWW-Authenticate", `Bearer realm="octopus"`)
	case e.Status == http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="octopus", error="invalid_token"`)
	case e.Code == CodeInsufficientScope:
		w.Header().Set("WWW-Authenticate", `Bearer realm="octopus", error="insufficient_scope"`)
	}
	writeJSON(w, e.Status, e)
	return e
}

// writeJSON writes v as the JSON answer with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"code":"internal","message":"encoding the answer failed"}`)
	}
	writeRaw(w, status, b)
}

// writeRaw writes a JSON body that is already encoded.
func writeRaw(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(body)
	w.Write([]byte("\n"))
}

// badField is a 400 naming the bad field.
func badField(code, field, message string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: code, Message: message, Details: map[string]any{"field": field}}
}
