package client_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/octofabric/octopus/internal/testenv/controlplane"
	"github.com/octofabric/octopus/internal/trigger"
	"github.com/octofabric/octopus/pkg/client"
)

// logReader answers every logs query with one invocation and remembers
// the query.
type logReader struct {
	mu sync.Mutex
	q  trigger.LogQuery
}

func (l *logReader) Logs(_ context.Context, id string, q trigger.LogQuery) ([]trigger.Invocation, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.q = q
	return []trigger.Invocation{{Trigger: id, Status: trigger.StatusFailed, HTTPStatus: 503, Attempt: 2, Records: 4}}, nil
}

// TestClientTriggers drives every trigger method of the SDK.
func TestClientTriggers(t *testing.T) {
	ctx := ctxT(t)
	logs := &logReader{}
	s := controlplane.ControlPlaneWithLogs(t, logs)
	url := s.URL
	admin := client.New(url, s.AdminToken)
	u, err := admin.CreateUser(ctx, client.UserRequest{Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	a := client.New(url, u.Token)
	if _, err := a.CreateTopic(ctx, client.TopicRequest{Name: "tasks"}); err != nil {
		t.Fatal(err)
	}

	zero := 0
	req := client.TriggerRequest{
		Name: "failed-tasks", Topic: "tasks",
		Filter:        json.RawMessage(`[{"value": {"status": ["failed"]}}]`),
		Action:        client.TriggerAction{URL: "https://example.org/hook", Headers: map[string]string{"X-Team": "beamline"}},
		BatchSize:     10,
		BatchWindowMs: &zero,
		Start:         "earliest",
		Retry:         &client.TriggerRetry{MaxAttempts: 3},
	}
	nt, err := a.CreateTrigger(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if key, err := base64.RawURLEncoding.DecodeString(nt.SigningSecret); err != nil || len(key) != 32 {
		t.Fatalf("signing secret %q: %v", nt.SigningSecret, err)
	}
	if nt.State != "enabled" || nt.Topics[0] != u.Namespace+".tasks" || nt.BatchWindowMs != 0 || nt.BatchSize != 10 ||
		nt.Retry.MaxAttempts != 3 || nt.Retry.BackoffMinMs == 0 || nt.Action.Headers["X-Team"] != "[redacted]" || nt.Start != "earliest" {
		t.Fatalf("CreateTrigger = %+v", nt)
	}
	again, err := a.CreateTrigger(ctx, req)
	if err != nil || again.ID != nt.ID || again.SigningSecret != "" {
		t.Fatalf("CreateTrigger again = %+v, %v", again, err)
	}
	req.Name, req.IdempotencyKey = "other", "idem-1"
	first, err := a.CreateTrigger(ctx, req)
	replay, err2 := a.CreateTrigger(ctx, req)
	if err != nil || err2 != nil || first.SigningSecret == "" || replay.SigningSecret != "" || !replay.SigningSecretRedacted || replay.ID != first.ID {
		t.Fatalf("idempotent CreateTrigger: %+v %v / %+v %v", first, err, replay, err2)
	}

	ts, err := a.ListTriggers(ctx)
	if err != nil || len(ts) != 2 || ts[0].Name != "failed-tasks" {
		t.Fatalf("ListTriggers = %+v, %v", ts, err)
	}
	fifty, none := 50, ""
	up, err := a.UpdateTrigger(ctx, nt.ID, client.TriggerPatch{BatchSize: &fifty, DeadLetterTopic: &none,
		Action: &client.TriggerActionPatch{Headers: map[string]string{}}})
	if err != nil || up.Version != 2 || up.BatchSize != 50 || up.BatchWindowMs != 0 || len(up.Action.Headers) != 0 || string(up.Filter) == "" {
		t.Fatalf("UpdateTrigger = %+v, %v", up, err)
	}
	if p, err := a.PauseTrigger(ctx, nt.ID); err != nil || p.State != "paused" {
		t.Fatalf("PauseTrigger = %+v, %v", p, err)
	}
	if r, err := a.ResumeTrigger(ctx, nt.ID); err != nil || r.State != "enabled" || r.Version != 4 {
		t.Fatalf("ResumeTrigger = %+v, %v", r, err)
	}
	rot, err := a.RotateTriggerSecret(ctx, nt.ID)
	if err != nil || rot.SigningSecret == "" || rot.SigningSecret == nt.SigningSecret {
		t.Fatalf("RotateTriggerSecret = %+v, %v", rot, err)
	}
	if g, err := a.GetTrigger(ctx, nt.ID); err != nil || g.Version != 5 {
		t.Fatalf("GetTrigger = %+v, %v", g, err)
	}
	invs, err := a.TriggerLogs(ctx, nt.ID, client.TriggerLogQuery{Status: "failed", Since: "2h", Limit: 5})
	logs.mu.Lock()
	q := logs.q
	logs.mu.Unlock()
	if err != nil || len(invs) != 1 || invs[0].HTTPStatus != 503 || invs[0].Trigger != nt.ID ||
		q.Status != "failed" || q.Limit != 5 || time.Since(q.Since) < 2*time.Hour-time.Minute {
		t.Fatalf("TriggerLogs = %+v, %v (query %+v)", invs, err, q)
	}

	// Filters.
	key := "job-1"
	match, err := a.TestFilter(ctx, client.FilterTestRequest{Filter: json.RawMessage(`[{"key": [{"prefix": "job-"}]}]`),
		Record: client.FilterTestRecord{Key: &key, Value: json.RawMessage(`{"a": 1}`)}})
	if err != nil || !match {
		t.Fatalf("TestFilter = %v, %v", match, err)
	}
	_, err = a.TestFilter(ctx, client.FilterTestRequest{Filter: json.RawMessage(`[{"value": {"a": 1}}]`)})
	if st, code := apiCode(t, err); st != 400 || code != "invalid_filter" || err.(*client.Error).Details["field"] != "filter[0].value.a" {
		t.Fatalf("TestFilter of a bad filter: %v", err)
	}

	// Errors come typed; another identity sees nothing.
	_, err = a.CreateTrigger(ctx, client.TriggerRequest{Name: "bad", Topic: "tasks", Action: client.TriggerAction{URL: "http://127.0.0.1/x"}})
	if st, code := apiCode(t, err); st != 400 || code != "target_refused" {
		t.Fatalf("private URL: %v", err)
	}
	if _, err := admin.GetTrigger(ctx, nt.ID); err == nil {
		t.Fatal("the administrator read alice's trigger")
	} else if st, code := apiCode(t, err); st != http.StatusNotFound || code != "trigger_not_found" {
		t.Fatalf("another's trigger: %v", err)
	}
	if err := a.DeleteTrigger(ctx, nt.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.GetTrigger(ctx, nt.ID); err == nil || !strings.Contains(err.Error(), "trigger_not_found") {
		t.Fatalf("GetTrigger after delete: %v", err)
	}
}
