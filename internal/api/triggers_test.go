package api

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/octofabric/octopus/internal/fabric"
	"github.com/octofabric/octopus/internal/identity"
	"github.com/octofabric/octopus/internal/secretbox"
	"github.com/octofabric/octopus/internal/trigger"
)

// fakeLogs is a trigger.LogReader that remembers the last query.
type fakeLogs struct {
	mu    sync.Mutex
	id    string
	query trigger.LogQuery
	out   []trigger.Invocation
}

func (l *fakeLogs) Logs(_ context.Context, id string, q trigger.LogQuery) ([]trigger.Invocation, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.id, l.query = id, q
	return l.out, nil
}

func (l *fakeLogs) last() (string, trigger.LogQuery) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.id, l.query
}

// newTriggerEnv is newEnv with a Fabric that has a secret key, and the
// API serving logs (nil: none).
func newTriggerEnv(t *testing.T, logs trigger.LogReader) *env {
	t.Helper()
	e := newEnv(t)
	key := make([]byte, secretbox.KeySize)
	rand.Read(key)
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	f, err := fabric.New(fabric.Config{
		Store:   e.st,
		Kafka:   fabric.KafkaConfig{Bootstrap: []string{e.addr}, User: "admin", Password: adminPassword},
		Wait:    20 * time.Second,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Secrets: box,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	e.f = f
	cfg := Config{Fabric: f, Verifier: identity.Chain(e.local), Local: e.local, Store: e.st,
		Logger: slog.New(slog.NewJSONHandler(e.apiLogs, nil))}
	if logs != nil {
		cfg.TriggerLogs = logs
	}
	if e.api, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	e.srv = newServer(t, e.api)
	return e
}

// triggerJSON is a trigger as a client reads it.
type triggerJSON struct {
	ID                    string           `json:"id"`
	Version               int64            `json:"version"`
	State                 string           `json:"state"`
	Name                  string           `json:"name"`
	Topics                []string         `json:"topics"`
	BatchSize             int              `json:"batch_size"`
	BatchWindowMs         int              `json:"batch_window_ms"`
	Start                 string           `json:"start"`
	Enabled               bool             `json:"enabled"`
	Filter                []map[string]any `json:"filter"`
	Action                map[string]any   `json:"action"`
	SigningSecret         string           `json:"signing_secret"`
	SigningSecretRedacted bool             `json:"signing_secret_redacted"`
	Retry                 map[string]any   `json:"retry"`
	Concurrency           map[string]int   `json:"concurrency"`
}

// contract is the request outside tests rely on (docs/TRIGGERS.md).
func contract(ns string) string {
	return `{"name": "failed-tasks", "topic": "` + ns + `.tasks",
	 "filter": [{"value": {"status": ["failed"], "attempt": [{"numeric": [">=", 2]}]}}],
	 "action": {"url": "https://example.org/hook", "headers": {"X-Team": "beamline"}},
	 "batch_size": 10, "batch_window_ms": 0, "start": "earliest"}`
}

// TestTriggerRoutes drives every trigger route as a client would.
func TestTriggerRoutes(t *testing.T) {
	logs := &fakeLogs{out: []trigger.Invocation{{Trigger: "x", Status: "ok", Records: 3, HTTPStatus: 200}}}
	e := newTriggerEnv(t, logs)
	a := e.createUser("alice")
	e.call("POST", "/api/v1/topics", a.Token, `{"name": "tasks"}`, http.StatusCreated, nil)

	// The contract: accepted, answered with the id and the secret once.
	var tr triggerJSON
	r := e.call("POST", "/api/v1/triggers", a.Token, contract(a.Namespace), http.StatusCreated, &tr)
	secret, err := base64.RawURLEncoding.DecodeString(tr.SigningSecret)
	if !strings.HasPrefix(tr.ID, "trg_") || err != nil || len(secret) != 32 || tr.State != "enabled" || tr.Version != 1 ||
		tr.BatchSize != 10 || tr.BatchWindowMs != 0 || tr.Start != "earliest" || !tr.Enabled || len(tr.Topics) != 1 ||
		tr.Topics[0] != a.Namespace+".tasks" || tr.Action["headers"].(map[string]any)["X-Team"] != "[redacted]" || len(tr.Filter) != 1 {
		t.Fatalf("POST /triggers: %s", r.body)
	}
	answers := []string{string(r.body)}
	// Again: 200, the same trigger, no secret.
	var again triggerJSON
	r = e.call("POST", "/api/v1/triggers", a.Token, contract(a.Namespace), http.StatusOK, &again)
	answers = append(answers, string(r.body))
	if again.ID != tr.ID || again.SigningSecret != "" {
		t.Fatalf("POST /triggers again: %s", r.body)
	}
	// batch_window_ms absent: 500.
	var def triggerJSON
	e.call("POST", "/api/v1/triggers", a.Token, `{"name": "defaults", "topics": ["tasks"], "action": {"url": "https://example.org/x"}}`,
		http.StatusCreated, &def)
	if def.BatchWindowMs != 500 || def.BatchSize != 100 || def.Start != "latest" || def.Concurrency["max"] != 10 {
		t.Fatalf("defaults: %+v", def)
	}
	// An Idempotency-Key replays the first answer without the secret.
	body := `{"name": "idem", "topic": "tasks", "action": {"url": "https://example.org/i", "headers": {"X-Token": "tok-9f8e7d"}}}`
	first := e.send(req{method: "POST", path: "/api/v1/triggers", token: a.Token, body: body, header: map[string]string{"Idempotency-Key": "k1"}})
	replay := e.send(req{method: "POST", path: "/api/v1/triggers", token: a.Token, body: body, header: map[string]string{"Idempotency-Key": "k1"}})
	var f1, f2 triggerJSON
	decodeBody(t, first, &f1)
	decodeBody(t, replay, &f2)
	if first.status != 201 || replay.status != 201 || replay.header.Get("Idempotency-Replayed") != "true" ||
		f1.SigningSecret == "" || f2.SigningSecret != "" || !f2.SigningSecretRedacted || f2.ID != f1.ID {
		t.Fatalf("idempotent create: %d %s / %d %s", first.status, first.body, replay.status, replay.body)
	}
	answers = append(answers, string(first.body), string(replay.body))

	// Read, change, pause, resume, rotate.
	var list struct{ Triggers []triggerJSON }
	r = e.call("GET", "/api/v1/triggers", a.Token, nil, http.StatusOK, &list)
	answers = append(answers, string(r.body))
	if len(list.Triggers) != 3 || list.Triggers[0].Name != "defaults" || list.Triggers[1].Name != "failed-tasks" {
		t.Fatalf("GET /triggers: %s", r.body)
	}
	path := "/api/v1/triggers/" + tr.ID
	var up triggerJSON
	r = e.call("PATCH", path, a.Token, `{"batch_size": 50}`, http.StatusOK, &up)
	answers = append(answers, string(r.body))
	if up.Version != 2 || up.BatchSize != 50 || up.BatchWindowMs != 0 || up.Start != "earliest" || len(up.Filter) != 1 ||
		up.Action["headers"].(map[string]any)["X-Team"] != "[redacted]" {
		t.Fatalf("PATCH: %s", r.body)
	}
	var p triggerJSON
	e.call("POST", path+"/pause", a.Token, nil, http.StatusOK, &p)
	if p.State != "paused" || p.Enabled || p.Version != 3 {
		t.Fatalf("pause: %+v", p)
	}
	e.call("POST", path+"/resume", a.Token, nil, http.StatusOK, &p)
	if p.State != "enabled" || p.Version != 4 {
		t.Fatalf("resume: %+v", p)
	}
	var rot triggerJSON
	e.call("POST", path+"/rotate-secret", a.Token, nil, http.StatusOK, &rot)
	if rot.SigningSecret == "" || rot.SigningSecret == tr.SigningSecret || rot.Version != 5 {
		t.Fatalf("rotate-secret: %+v", rot)
	}
	var got triggerJSON
	r = e.call("GET", path, a.Token, nil, http.StatusOK, &got)
	answers = append(answers, string(r.body))
	if got.SigningSecret != "" || got.Version != 5 {
		t.Fatalf("GET after rotate: %s", r.body)
	}

	// Logs: the query reaches the reader.
	var lr struct{ Invocations []trigger.Invocation }
	before := time.Now()
	e.call("GET", path+"/logs?status=failed&since=1h&until=2030-01-02T03:04:05Z&limit=7", a.Token, nil, http.StatusOK, &lr)
	id, q := logs.last()
	if id != tr.ID || q.Status != "failed" || q.Limit != 7 || !q.Until.Equal(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) ||
		q.Since.Before(before.Add(-time.Hour-time.Second)) || q.Since.After(time.Now().Add(-time.Hour)) || len(lr.Invocations) != 1 {
		t.Fatalf("logs query %+v for %s; answer %+v", q, id, lr)
	}
	e.call("GET", path+"/logs", a.Token, nil, http.StatusOK, &lr)
	if _, q := logs.last(); q.Limit != DefaultLogLimit || q.Status != "" || !q.Since.IsZero() {
		t.Fatalf("default logs query %+v", q)
	}

	// Secrets never in an answer nor in the log.
	for _, s := range answers {
		if strings.Contains(s, "beamline") || strings.Contains(s, "tok-9f8e7d") {
			t.Fatalf("a header value in an answer: %s", s)
		}
	}
	if l := e.apiLogs.String(); strings.Contains(l, "beamline") || strings.Contains(l, tr.SigningSecret) {
		t.Fatal("a secret in the API log")
	}

	e.call("DELETE", path, a.Token, nil, http.StatusNoContent, nil)
	e.wantErr("GET after DELETE", e.send(req{method: "GET", path: path, token: a.Token}), 404, "trigger_not_found", "")

	// Without a log reader, logs are 503; without a secret key, triggers are.
	noLogs, err := New(Config{Fabric: e.f, Verifier: identity.Chain(e.local), Store: e.st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = newServer(t, noLogs)
	e.wantErr("logs without a reader", e.send(req{method: "GET", path: "/api/v1/triggers/" + def.ID + "/logs", token: a.Token}),
		503, "triggers_unavailable", "")
	plain := newEnv(t)
	pa := plain.createUser("alice")
	plain.wantErr("triggers without a key", plain.send(req{method: "GET", path: "/api/v1/triggers", token: pa.Token}),
		503, "triggers_unavailable", "")
}

func decodeBody(t *testing.T, r resp, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}
