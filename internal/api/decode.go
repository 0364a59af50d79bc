package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// decode reads the request body, one JSON object, into dst:
//
//   - a body must be Content-Type application/json (415 otherwise);
//   - it may be at most Config.MaxBodyBytes long (413);
//   - unknown fields, malformed JSON, a field of the wrong type and data
//     after the value are 400, naming the field where there is one.
//
// An empty body is a 400 missing_body unless optional, when dst stays as
// it is.
func (a *API) decode(w http.ResponseWriter, r *http.Request, dst any, optional bool) error {
	if r.ContentLength == 0 && len(r.TransferEncoding) == 0 && r.Header.Get("Content-Type") == "" {
		if optional {
			return nil
		}
		return &Error{Status: http.StatusBadRequest, Code: CodeMissingBody, Message: "a JSON body is required"}
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return &Error{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMediaType,
			Message: "the body must be JSON, with Content-Type: application/json"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeBodyTooLarge,
				Message: fmt.Sprintf("the body is larger than %d bytes", mbe.Limit), Details: map[string]any{"limit": mbe.Limit}}
		}
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "reading the body failed", Err: err}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if optional {
			return nil
		}
		return &Error{Status: http.StatusBadRequest, Code: CodeMissingBody, Message: "a JSON body is required"}
	}
	if bytes.HasPrefix(bytes.TrimSpace(body), []byte("null")) {
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "the body must be a JSON object"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return &Error{Status: http.StatusBadRequest, Code: CodeTrailingData, Message: "the body holds more than one JSON value"}
	}
	return nil
}

// jsonError describes a decoding error, naming the field where it can.
func jsonError(err error) *Error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON,
			Message: "malformed JSON: " + se.Error(), Details: map[string]any{"offset": se.Offset}}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "malformed JSON: the body ends early"}
	case errors.As(err, &te):
		if te.Field == "" {
			return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "the body must be a JSON object"}
		}
		return badField(CodeInvalidType, te.Field,
			fmt.Sprintf("field %q: a JSON %s does not fit (want %s)", te.Field, te.Value, jsonType(te.Type.String())))
	}
	// encoding/json reports unknown fields only as text.
	if rest, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name, uerr := strconv.Unquote(rest)
		if uerr != nil {
			name = rest
		}
		return badField(CodeUnknownField, name, fmt.Sprintf("unknown field %q", name))
	}
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "malformed JSON", Err: err}
}

// jsonType names a Go type as JSON would.
func jsonType(goType string) string {
	switch {
	case strings.Contains(goType, "int"):
		return "an integer in range"
	case strings.Contains(goType, "bool"):
		return "true or false"
	case strings.Contains(goType, "string"):
		return "a string"
	case strings.HasPrefix(goType, "map"):
		return "an object"
	}
	return goType
}
