package api

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/octofabric/octopus/internal/fabric"
)

// FuzzDecode feeds arbitrary bodies to the request decoder with every
// request type the handlers decode: it must answer a value or an *Error
// with a 4xx status, never panic.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"name":"events","partitions":2,"retention_ms":1000,"configs":{"a":"b"}}`,
		`{"partitions":null,"configs":{"x":null}}`,
		`{"read":true,"write":false}`,
		`{"description":"pc","expires_at":"2027-01-01T00:00:00Z"}`,
		`{"name":"alice"}`, `null`, `[]`, `{} {}`, `{"colour":1}`, `{"name":7}`, ``, `{`,
	} {
		f.Add([]byte(s))
	}
	a := &API{cfg: Config{MaxBodyBytes: 4 << 10}}
	f.Fuzz(func(t *testing.T, body []byte) {
		dsts := []func() any{
			func() any { return new(topicRequest) }, func() any { return new(topicPatch) },
			func() any { return new(keyRequest) }, func() any { return new(userRequest) },
			func() any { return new(fabric.Access) },
		}
		for _, dst := range dsts {
			for _, optional := range []bool{false, true} {
				r := httptest.NewRequest(http.MethodPost, "/api/v1/x", bytes.NewReader(body))
				r.Header.Set("Content-Type", "application/json")
				err := a.decode(httptest.NewRecorder(), r, dst(), optional)
				if err == nil {
					continue
				}
				var e *Error
				if !errors.As(err, &e) || e.Status < 400 || e.Status > 499 || e.Code == "" {
					t.Fatalf("body %q: error %v is not a 4xx API error", body, err)
				}
			}
		}
	})
}
