package api

import (
	"embed"
	"net/http"

	"github.com/octofabric/octopus/internal/fabric"
)

// openAPIDoc is the OpenAPI 3.1 description of this API; TestOpenAPIRoutes
// checks that it and the routes agree.
//
//go:embed openapi.json
var files embed.FS

var openAPIDoc = mustRead(files, "openapi.json")

func mustRead(fs embed.FS, name string) []byte {
	b, err := fs.ReadFile(name)
	if err != nil {
		panic(err) // embedded at build time: cannot happen
	}
	return b
}

// OpenAPI returns the OpenAPI document (a copy).
func OpenAPI() []byte { return append([]byte(nil), openAPIDoc...) }

func (a *API) openAPI(w http.ResponseWriter, r *http.Request, _ fabric.Caller) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.WriteHeader(http.StatusOK)
	w.Write(openAPIDoc)
	return nil
}
