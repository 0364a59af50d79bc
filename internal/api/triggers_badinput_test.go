package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestTriggerBadInput sends every kind of bad trigger request and checks
// the error's status, code and field, and that none changed anything.
func TestTriggerBadInput(t *testing.T) {
	e := newTriggerEnv(t, &fakeLogs{})
	a := e.createUser("alice")
	b := e.createUser("bob")
	e.call("POST", "/api/v1/topics", a.Token, `{"name": "tasks"}`, http.StatusCreated, nil)
	e.call("POST", "/api/v1/topics", b.Token, `{"name": "secret"}`, http.StatusCreated, nil)
	var mine, bobs triggerJSON
	e.call("POST", "/api/v1/triggers", a.Token, contract(a.Namespace), http.StatusCreated, &mine)
	e.call("POST", "/api/v1/triggers", b.Token, `{"name": "b", "topic": "secret", "action": {"url": "https://example.org/b"}}`,
		http.StatusCreated, &bobs)
	expiring, err := e.local.Issue(e.ctx, a.Identity, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}

	// body returns a valid create body with one field replaced (or added).
	body := func(field string, raw string) string {
		var m map[string]any
		if err := json.Unmarshal([]byte(`{"name": "new", "topic": "tasks", "action": {"url": "https://example.org/hook"}}`), &m); err != nil {
			t.Fatal(err)
		}
		if raw == "<absent>" {
			delete(m, field)
		} else {
			var v any
			if err := json.Unmarshal([]byte(raw), &v); err != nil {
				t.Fatalf("%s: %v", raw, err)
			}
			m[field] = v
		}
		out, _ := json.Marshal(m)
		return string(out)
	}
	url := func(u string) string { return body("action", `{"url": "`+u+`"}`) }
	six := `[` + strings.Repeat(`{"value": {"a": ["x"]}},`, 5) + `{"value": {"a": ["x"]}}]`
	huge := `{"name": "x", "topic": "tasks", "action": {"url": "https://example.org/` + strings.Repeat("x", 2<<20) + `"}}`
	trg := "/api/v1/triggers"
	bob := trg + "/" + bobs.ID
	cases := []struct {
		name        string
		r           req
		status      int
		code, field string
	}{
		// Names.
		{"no name", req{method: "POST", path: trg, body: body("name", "<absent>")}, 400, "invalid_name", "name"},
		{"empty name", req{method: "POST", path: trg, body: body("name", `""`)}, 400, "invalid_name", "name"},
		{"name with a space", req{method: "POST", path: trg, body: body("name", `"a b"`)}, 400, "invalid_name", "name"},
		{"name with a slash", req{method: "POST", path: trg, body: body("name", `"../x"`)}, 400, "invalid_name", "name"},
		{"name too long", req{method: "POST", path: trg, body: body("name", `"`+strings.Repeat("n", 101)+`"`)}, 400, "invalid_name", "name"},
		{"name a number", req{method: "POST", path: trg, body: body("name", `5`)}, 400, "invalid_type", "name"},
		// Batching and the rest of the spec.
		{"batch_size 0", req{method: "POST", path: trg, body: body("batch_size", `0`)}, 400, "invalid_trigger", "batch_size"},
		{"batch_size 10001", req{method: "POST", path: trg, body: body("batch_size", `10001`)}, 400, "invalid_trigger", "batch_size"},
		{"batch_size fractional", req{method: "POST", path: trg, body: body("batch_size", `1.5`)}, 400, "invalid_type", "batch_size"},
		{"batch_window_ms -1", req{method: "POST", path: trg, body: body("batch_window_ms", `-1`)}, 400, "invalid_trigger", "batch_window_ms"},
		{"batch_window_ms 300001", req{method: "POST", path: trg, body: body("batch_window_ms", `300001`)}, 400, "invalid_trigger", "batch_window_ms"},
		{"start yesterday", req{method: "POST", path: trg, body: body("start", `"yesterday"`)}, 400, "invalid_trigger", "start"},
		{"start a number", req{method: "POST", path: trg, body: body("start", `1`)}, 400, "invalid_type", "start"},
		{"ordering random", req{method: "POST", path: trg, body: body("ordering", `"random"`)}, 400, "invalid_trigger", "ordering"},
		{"concurrency max < min", req{method: "POST", path: trg, body: body("concurrency", `{"min": 5, "max": 2}`)}, 400, "invalid_trigger", "concurrency.max"},
		{"max_attempts 0", req{method: "POST", path: trg, body: body("retry", `{"max_attempts": 0}`)}, 400, "invalid_trigger", "retry.max_attempts"},
		// Topics.
		{"no topic", req{method: "POST", path: trg, body: body("topic", "<absent>")}, 400, "invalid_trigger", "topic"},
		{"topic and topics", req{method: "POST", path: trg, body: body("topics", `["tasks"]`)}, 400, "invalid_topics", "topic"},
		{"topic with a slash", req{method: "POST", path: trg, body: body("topic", `"a/b"`)}, 400, "invalid_name", "topic"},
		{"11 topics", req{method: "POST", path: trg, body: strings.Replace(body("topic", "<absent>"), `{`,
			`{"topics": ["a","b","c","d","e","f","g","h","i","j","k"],`, 1)}, 400, "invalid_trigger", "topics"},
		{"another's topic", req{method: "POST", path: trg, body: body("topic", `"`+b.Namespace+`.secret"`)}, 403, "no_access", ""},
		{"another's missing topic", req{method: "POST", path: trg, body: body("topic", `"`+b.Namespace+`.none"`)}, 403, "no_access", ""},
		{"own missing topic", req{method: "POST", path: trg, body: body("topic", `"none"`)}, 404, "topic_not_found", ""},
		{"dead letters to the source", req{method: "POST", path: trg, body: body("dead_letter_topic", `"tasks"`)}, 400, "invalid_dead_letter_topic", "dead_letter_topic"},
		{"dead letters to another's", req{method: "POST", path: trg, body: body("dead_letter_topic", `"`+b.Namespace+`.secret"`)}, 403, "no_access", ""},
		// URLs.
		{"no URL", req{method: "POST", path: trg, body: body("action", `{}`)}, 400, "invalid_url", "action.url"},
		{"not a URL", req{method: "POST", path: trg, body: url("not a url")}, 400, "invalid_url", "action.url"},
		{"relative URL", req{method: "POST", path: trg, body: url("/hook")}, 400, "invalid_url", "action.url"},
		{"ftp URL", req{method: "POST", path: trg, body: url("ftp://example.org/x")}, 400, "invalid_url", "action.url"},
		{"credentials in the URL", req{method: "POST", path: trg, body: url("https://user:pw@example.org/x")}, 400, "invalid_url", "action.url"},
		{"loopback URL", req{method: "POST", path: trg, body: url("http://127.0.0.1:8080/x")}, 400, "target_refused", "action.url"},
		{"localhost URL", req{method: "POST", path: trg, body: url("http://localhost/x")}, 400, "target_refused", "action.url"},
		{"private URL", req{method: "POST", path: trg, body: url("https://10.1.2.3/x")}, 400, "target_refused", "action.url"},
		{"IPv6 loopback URL", req{method: "POST", path: trg, body: url("http://[::1]/x")}, 400, "target_refused", "action.url"},
		{"method GET", req{method: "POST", path: trg, body: body("action", `{"url": "https://example.org/x", "method": "GET"}`)}, 400, "invalid_trigger", "action.method"},
		{"reserved header", req{method: "POST", path: trg, body: body("action", `{"url": "https://example.org/x", "headers": {"X-Octopus-Signature": "x"}}`)}, 400, "invalid_trigger", "action.headers.X-Octopus-Signature"},
		{"header with CRLF", req{method: "POST", path: trg, body: body("action", `{"url": "https://example.org/x", "headers": {"X-A": "a\r\nB: c"}}`)}, 400, "invalid_trigger", "action.headers.X-A"},
		// Filters.
		{"filter value not a list", req{method: "POST", path: trg, body: body("filter", `[{"value": {"status": "failed"}}]`)}, 400, "invalid_filter", "filter[0].value.status"},
		{"filter bad operator", req{method: "POST", path: trg, body: body("filter", `[{"value": {"x": [{"prefix": 1}]}}]`)}, 400, "invalid_filter", "filter[0].value.x[0].prefix"},
		{"filter 6 patterns", req{method: "POST", path: trg, body: body("filter", six)}, 400, "invalid_filter", "filter[5]"},
		{"filter empty", req{method: "POST", path: trg, body: body("filter", `[]`)}, 400, "invalid_filter", "filter"},
		{"filter an object", req{method: "POST", path: trg, body: body("filter", `{"value": {}}`)}, 400, "invalid_filter", "filter"},
		// JSON.
		{"unknown field", req{method: "POST", path: trg, body: body("colour", `"red"`)}, 400, "unknown_field", "colour"},
		{"unknown action field", req{method: "POST", path: trg, body: body("action", `{"url": "https://example.org/x", "verb": "POST"}`)}, 400, "unknown_field", "verb"},
		{"malformed JSON", req{method: "POST", path: trg, body: `{"name": `}, 400, "invalid_json", ""},
		{"trailing data", req{method: "POST", path: trg, body: body("name", `"x"`) + `{}`}, 400, "trailing_data", ""},
		{"no body", req{method: "POST", path: trg}, 400, "missing_body", ""},
		{"oversized body", req{method: "POST", path: trg, body: huge}, 413, "body_too_large", ""},
		{"text/plain", req{method: "POST", path: trg, body: `{}`, header: map[string]string{"Content-Type": "text/plain"}}, 415, "unsupported_media_type", ""},
		{"bad idempotency key", req{method: "POST", path: trg, body: body("name", `"x"`), header: map[string]string{"Idempotency-Key": "\u00e9"}}, 400, "invalid_idempotency_key", "Idempotency-Key"},
		// Updates.
		{"PATCH batch_size 0", req{method: "PATCH", path: trg + "/" + mine.ID, body: `{"batch_size": 0}`}, 400, "invalid_trigger", "batch_size"},
		{"PATCH unknown field", req{method: "PATCH", path: trg + "/" + mine.ID, body: `{"size": 1}`}, 400, "unknown_field", "size"},
		{"PATCH private URL", req{method: "PATCH", path: trg + "/" + mine.ID, body: `{"action": {"url": "http://192.168.1.1/"}}`}, 400, "target_refused", "action.url"},
		{"PATCH rename to a taken name", req{method: "PATCH", path: trg + "/" + mine.ID, body: `{"name": "failed-tasks", "topic": "` + b.Namespace + `.secret"}`}, 403, "no_access", ""},
		// Another identity's trigger is not there.
		{"GET another's", req{method: "GET", path: bob}, 404, "trigger_not_found", ""},
		{"PATCH another's", req{method: "PATCH", path: bob, body: `{"batch_size": 5}`}, 404, "trigger_not_found", ""},
		{"DELETE another's", req{method: "DELETE", path: bob}, 404, "trigger_not_found", ""},
		{"pause another's", req{method: "POST", path: bob + "/pause"}, 404, "trigger_not_found", ""},
		{"resume another's", req{method: "POST", path: bob + "/resume"}, 404, "trigger_not_found", ""},
		{"rotate another's", req{method: "POST", path: bob + "/rotate-secret"}, 404, "trigger_not_found", ""},
		{"logs of another's", req{method: "GET", path: bob + "/logs"}, 404, "trigger_not_found", ""},
		{"unknown trigger", req{method: "GET", path: trg + "/trg_nothing"}, 404, "trigger_not_found", ""},
		{"path trick", req{method: "GET", path: trg + "/..%2Fkeys"}, 404, "trigger_not_found", ""},
		// Logs queries.
		{"logs limit 0", req{method: "GET", path: trg + "/" + mine.ID + "/logs?limit=0"}, 400, "invalid_field", "limit"},
		{"logs limit 1001", req{method: "GET", path: trg + "/" + mine.ID + "/logs?limit=1001"}, 400, "invalid_field", "limit"},
		{"logs bad status", req{method: "GET", path: trg + "/" + mine.ID + "/logs?status=great"}, 400, "invalid_field", "status"},
		{"logs bad since", req{method: "GET", path: trg + "/" + mine.ID + "/logs?since=yesterday"}, 400, "invalid_field", "since"},
		{"logs until before since", req{method: "GET", path: trg + "/" + mine.ID + "/logs?since=2030-01-02T00:00:00Z&until=2030-01-01T00:00:00Z"}, 400, "invalid_field", "until"},
		// Tokens.
		{"no token", req{method: "POST", path: trg, body: body("name", `"x"`), header: map[string]string{"Authorization": ""}}, 401, "unauthenticated", ""},
		{"expired token", req{method: "POST", path: trg, token: expiring, body: body("name", `"x"`)}, 401, "invalid_token", ""},
		{"foreign token", req{method: "GET", path: trg, token: "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"}, 401, "invalid_token", ""},
		// Routing.
		{"GET pause", req{method: "GET", path: trg + "/" + mine.ID + "/pause"}, 405, "method_not_allowed", ""},
		{"PUT triggers", req{method: "PUT", path: trg}, 405, "method_not_allowed", ""},
	}
	time.Sleep(5 * time.Millisecond) // the expiring token is past its millisecond
	for _, c := range cases {
		if c.r.token == "" && c.code != "unauthenticated" {
			c.r.token = a.Token
		}
		e.wantErr(c.name, e.send(c.r), c.status, c.code, c.field)
	}

	// Nothing changed: alice still has her one trigger at version 1, bob his.
	var list struct{ Triggers []triggerJSON }
	e.call("GET", trg, a.Token, nil, http.StatusOK, &list)
	if len(list.Triggers) != 1 || list.Triggers[0].ID != mine.ID || list.Triggers[0].Version != 1 || list.Triggers[0].BatchSize != 10 {
		t.Fatalf("alice's triggers after bad input: %+v", list.Triggers)
	}
	e.call("GET", trg, b.Token, nil, http.StatusOK, &list)
	if len(list.Triggers) != 1 || list.Triggers[0].Version != 1 || list.Triggers[0].State != "enabled" {
		t.Fatalf("bob's triggers after bad input: %+v", list.Triggers)
	}
}

// TestFilterTest checks POST /api/v1/filters/test: how a record's value,
// key, headers and metadata are matched, and the errors.
func TestFilterTest(t *testing.T) {
	e := newTriggerEnv(t, nil)
	a := e.createUser("alice")
	failed := `[{"value": {"status": ["failed"]}}]`
	for _, c := range []struct {
		name, body string
		match      bool
	}{
		{"JSON object value", `{"filter": ` + failed + `, "record": {"value": {"status": "failed", "attempt": 3}}}`, true},
		{"other value", `{"filter": ` + failed + `, "record": {"value": {"status": "ok"}}}`, false},
		{"a JSON string is the value's bytes", `{"filter": ` + failed + `, "record": {"value": "{\"status\": \"failed\"}"}}`, true},
		{"a plain string value", `{"filter": [{"value": ["boom"]}], "record": {"value": "boom"}}`, true},
		{"a number value is its text", `{"filter": [{"value": [{"numeric": [">", 2]}]}], "record": {"value": 3}}`, true},
		{"numeric range", `{"filter": [{"value": {"attempt": [{"numeric": [">=", 2]}]}}], "record": {"value": {"attempt": 1}}}`, false},
		{"key", `{"filter": [{"key": [{"prefix": "job-"}]}], "record": {"key": "job-7", "value": {}}}`, true},
		{"no key", `{"filter": [{"key": [{"exists": true}]}], "record": {"value": {}}}`, false},
		{"headers", `{"filter": [{"headers": {"site": ["aps"]}}], "record": {"headers": {"site": "aps"}, "value": {}}}`, true},
		{"topic and partition", `{"filter": [{"topic": ["a.t"], "partition": [1]}], "record": {"topic": "a.t", "partition": 1}}`, true},
		{"no record", `{"filter": [{"topic": ["a.t"]}]}`, false},
	} {
		var out struct{ Match *bool }
		e.call("POST", "/api/v1/filters/test", a.Token, c.body, http.StatusOK, &out)
		if out.Match == nil || *out.Match != c.match {
			t.Errorf("%s: match %v, want %v", c.name, out.Match, c.match)
		}
	}
	for _, c := range []struct {
		name, body  string
		status      int
		code, field string
	}{
		{"bad place", `{"filter": [{"value": {"status": "failed"}}], "record": {}}`, 400, "invalid_filter", "filter[0].value.status"},
		{"second pattern", `{"filter": [{"value": {"a": ["x"]}}, {"value": {"n": [{"numeric": ["<"]}]}}]}`, 400, "invalid_filter", "filter[1].value.n[0].numeric"},
		{"no filter", `{"record": {"value": 1}}`, 400, "invalid_filter", "filter"},
		{"unknown record field", `{"filter": ` + failed + `, "record": {"colour": 1}}`, 400, "unknown_field", "colour"},
		{"key a number", `{"filter": ` + failed + `, "record": {"key": 1}}`, 400, "invalid_type", "record.key"},
		{"malformed", `{"filter": [`, 400, "invalid_json", ""},
	} {
		e.wantErr(c.name, e.send(req{method: "POST", path: "/api/v1/filters/test", token: a.Token, body: c.body}), c.status, c.code, c.field)
	}
	e.wantErr("no token", e.send(req{method: "POST", path: "/api/v1/filters/test", body: `{"filter": ` + failed + `}`}),
		401, "unauthenticated", "")
}
