package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestOpenAPI checks that the served document is valid JSON with openapi,
// info, paths and components, that every $ref resolves, and that its
// operations and the routes in the mux are the same set of method + path.
func TestOpenAPI(t *testing.T) {
	e := newEnv(t)
	r := e.call("GET", "/api/v1/openapi.json", "", nil, http.StatusOK, nil)
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	var doc map[string]any
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.0") && !strings.HasPrefix(v, "3.1") {
		t.Fatalf("openapi %q", doc["openapi"])
	}
	info, _ := doc["info"].(map[string]any)
	if info["title"] == nil || info["version"] == nil {
		t.Fatalf("info %v", info)
	}
	paths, _ := doc["paths"].(map[string]any)
	comps, _ := doc["components"].(map[string]any)
	if len(paths) == 0 || len(comps) == 0 {
		t.Fatal("no paths or components")
	}

	var documented []string
	verbs := []string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}
	for p, item := range paths {
		for m, op := range item.(map[string]any) {
			if !slices.Contains(verbs, m) {
				continue
			}
			documented = append(documented, strings.ToUpper(m)+" "+p)
			o := op.(map[string]any)
			if rs, _ := o["responses"].(map[string]any); len(rs) == 0 || o["operationId"] == nil {
				t.Errorf("%s %s: no responses or operationId", m, p)
			}
		}
	}
	routes := slices.Clone(e.api.routes)
	slices.Sort(routes)
	slices.Sort(documented)
	for _, r := range routes {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(routes, d) {
			t.Errorf("openapi.json has %s, which is no route", d)
		}
	}
	if len(routes) < 15 {
		t.Errorf("only %d routes: %v", len(routes), routes)
	}

	// Every $ref points at something.
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				var cur any = doc
				for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
					m, _ := cur.(map[string]any)
					cur = m[part]
				}
				if cur == nil {
					t.Errorf("$ref %s resolves to nothing", ref)
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)

	// The contract's field names are in the schemas.
	schemas := comps["schemas"].(map[string]any)
	for schema, fields := range map[string][]string{
		"Me":           {"identity", "namespace"},
		"NewUser":      {"identity", "token"},
		"Key":          {"id", "username", "sasl_mechanism"},
		"TopicRequest": {"name", "partitions"},
		"Access":       {"read", "write"},
		"Error":        {"code", "message", "details"},
	} {
		props := schemas[schema].(map[string]any)["properties"].(map[string]any)
		for _, f := range fields {
			if props[f] == nil {
				t.Errorf("schema %s lacks %s", schema, f)
			}
		}
	}
	newKey, _ := json.Marshal(schemas["NewKey"])
	for _, f := range []string{"secret", "bootstrap_servers", "client_settings", "secret_redacted"} {
		if !strings.Contains(string(newKey), `"`+f+`"`) {
			t.Errorf("schema NewKey lacks %s", f)
		}
	}
}
