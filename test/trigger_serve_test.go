package test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/octofabric/octopus/pkg/client"
)

// hook is a webhook receiver for the trigger tests: it checks every call's
// signature with the trigger's secret (set once known) and keeps the
// events of the calls.
type hook struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	secret []byte
	events []taskEvent
	calls  int
	bad    []string // why calls were refused
	team   []string // X-Team headers seen
}

type taskEvent struct {
	N       int    `json:"n"`
	Status  string `json:"status"`
	Attempt int    `json:"attempt"`
}

func newHook(t *testing.T) *hook {
	h := &hook{t: t}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		h.calls++
		if err := client.VerifyWebhook(h.secret, r.Header, body, time.Now(), 0); err != nil {
			h.bad = append(h.bad, err.Error())
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		h.team = append(h.team, r.Header.Get("X-Team"))
		var b struct {
			Records []struct {
				Value json.RawMessage `json:"value"`
			} `json:"records"`
		}
		if err := json.Unmarshal(body, &b); err != nil {
			h.bad = append(h.bad, "body: "+err.Error())
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		for _, rec := range b.Records {
			var ev taskEvent
			json.Unmarshal(rec.Value, &ev)
			h.events = append(h.events, ev)
		}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) setSecret(s []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.secret = s
}

// seen returns the distinct event numbers received, sorted.
func (h *hook) seen() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []int
	for _, ev := range h.events {
		if !slices.Contains(out, ev.N) {
			out = append(out, ev.N)
		}
	}
	slices.Sort(out)
	return out
}

// TestServeTriggers runs the trigger through the binary on the
// embedded broker: a user creates a key, a topic and the contract's
// trigger over REST; exactly the failed tasks of attempt 2 or more reach
// the webhook, signed; the invocation log and /metrics show the calls;
// pause holds deliveries and resume releases them; and after the server is
// killed (SIGKILL) and started again, every matching event still arrives.
func TestServeTriggers(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	kafkaAddr := ln.Addr().String()
	ln.Close()
	args := []string{"--listener", "SASL_PLAINTEXT://" + kafkaAddr, "--fsync", "never", "--trigger-allow-private"}
	c := startChild(t, dir, args...)
	h := newHook(t)
	s := triggerStory(t, c, dir, h)

	// Kill the server while deliveries are due, start it again on the same
	// data: what was not committed is delivered again, nothing is lost.
	c.Kill()
	c = startChild(t, dir, args...)
	s.produce(t, 200, 260)
	waitFor(t, 60*time.Second, "every matching event after the restart", func() bool {
		return slices.Equal(h.seen(), expectedTasks(0, 260))
	})
	if n := c.logs.String(); strings.Contains(n, "DATA RACE") {
		t.Fatal("a data race in the server")
	}
}

// TestServeTriggersOnKafka runs the same story with the control plane and
// its trigger engine on Apache Kafka (`octopus serve --kafka`).
func TestServeTriggersOnKafka(t *testing.T) {
	kafka := startSecureKafka(t)
	dir := t.TempDir()
	c := startChild(t, dir, "--kafka", kafka, "--kafka-command-config", kafkaAdminProperties(t, dir), "--trigger-allow-private")
	triggerStory(t, c, dir, newHook(t))
}

// taskStory is a user's topic and key, for producing more tasks.
type taskStory struct {
	topic string
	prod  *kgo.Client
	ctx   context.Context
}

func (s *taskStory) produce(t *testing.T, from, to int) {
	t.Helper()
	for n := from; n < to; n++ {
		v, _ := json.Marshal(taskEvent{N: n, Status: taskStatus(n), Attempt: n % 4})
		if err := s.prod.ProduceSync(s.ctx, &kgo.Record{Key: []byte(fmt.Sprint("task-", n%9)), Value: v}).FirstErr(); err != nil {
			t.Fatalf("produce task %d: %v", n, err)
		}
	}
}

func taskStatus(n int) string {
	if n%3 == 1 {
		return "ok"
	}
	return "failed"
}

// expectedTasks are the numbers in [from, to) the contract's filter
// matches: status failed and attempt ≥ 2.
func expectedTasks(from, to int) []int {
	var out []int
	for n := from; n < to; n++ {
		if taskStatus(n) == "failed" && n%4 >= 2 {
			out = append(out, n)
		}
	}
	return out
}

func triggerStory(t *testing.T, c *child, dir string, h *hook) *taskStory {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	base := "http://" + c.HTTPAddr()
	raw, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	admin := apiClient{t, base, strings.TrimSpace(string(raw))}
	var u struct {
		Token string `json:"token"`
	}
	name := fmt.Sprint("dana", time.Now().UnixNano()%1e9)
	admin.must(http.StatusCreated, "POST", "/api/v1/users", map[string]string{"name": name}, &u)
	a := apiClient{t, base, u.Token}
	var key apiKey
	a.must(http.StatusCreated, "POST", "/api/v1/keys", map[string]string{"description": "beamline"}, &key)
	var topic struct {
		Name string `json:"name"`
	}
	a.must(http.StatusCreated, "POST", "/api/v1/topics", map[string]any{"name": "tasks", "partitions": 3}, &topic)

	// The contract's request, with the receiver's URL.
	req := map[string]any{
		"name": "failed-tasks", "topic": topic.Name,
		"filter":     json.RawMessage(`[{"value": {"status": ["failed"], "attempt": [{"numeric": [">=", 2]}]}}]`),
		"action":     map[string]any{"url": h.srv.URL + "/hook", "headers": map[string]string{"X-Team": "beamline"}},
		"batch_size": 10, "batch_window_ms": 0, "start": "earliest",
	}
	var tr struct {
		ID            string `json:"id"`
		SigningSecret string `json:"signing_secret"`
	}
	a.must(http.StatusCreated, "POST", "/api/v1/triggers", req, &tr)
	if tr.ID == "" || tr.SigningSecret == "" {
		t.Fatalf("trigger answer %+v", tr)
	}
	secret, err := base64.RawURLEncoding.DecodeString(tr.SigningSecret)
	if err != nil {
		t.Fatalf("signing_secret: %v", err)
	}
	h.setSecret(secret)

	s := &taskStory{topic: topic.Name, prod: key.client(t, kgo.DefaultProduceTopic(topic.Name)), ctx: ctx}
	s.produce(t, 0, 120)
	waitFor(t, 60*time.Second, "the matching events", func() bool {
		return slices.Equal(h.seen(), expectedTasks(0, 120))
	})
	h.mu.Lock()
	if len(h.bad) > 0 || !slices.Contains(h.team, "beamline") || slices.ContainsFunc(h.team, func(s string) bool { return s != "beamline" }) {
		h.mu.Unlock()
		t.Fatalf("refused calls %v, X-Team headers %v", h.bad, h.team)
	}
	h.mu.Unlock()

	var logs struct {
		Invocations []struct {
			Status     string `json:"status"`
			HTTPStatus int    `json:"http_status"`
			Records    int    `json:"records"`
		} `json:"invocations"`
	}
	waitFor(t, 30*time.Second, "the invocation log", func() bool {
		a.must(http.StatusOK, "GET", "/api/v1/triggers/"+tr.ID+"/logs?status=ok", nil, &logs)
		n := 0
		for _, inv := range logs.Invocations {
			if inv.Status != "ok" || inv.HTTPStatus != 200 {
				t.Fatalf("log entry %+v under status=ok", inv)
			}
			n += inv.Records
		}
		return n >= len(expectedTasks(0, 120))
	})
	code, metrics, err := c.httpGet("/metrics")
	if err != nil || code != 200 || !strings.Contains(metrics, `octopus_trigger_invocations_total{code="200",status="ok",trigger="`+tr.ID+`"}`) {
		t.Fatalf("/metrics: %d %v, no ok invocations of %s", code, err, tr.ID)
	}

	a.must(http.StatusOK, "POST", "/api/v1/triggers/"+tr.ID+"/pause", nil, nil)
	time.Sleep(time.Second) // the engine stops the trigger (it is told at once)
	s.produce(t, 120, 200)
	time.Sleep(2 * time.Second)
	if got := h.seen(); !slices.Equal(got, expectedTasks(0, 120)) {
		t.Fatalf("deliveries while paused: %v", got[len(expectedTasks(0, 120)):])
	}
	a.must(http.StatusOK, "POST", "/api/v1/triggers/"+tr.ID+"/resume", nil, nil)
	waitFor(t, 60*time.Second, "the events produced while paused", func() bool {
		return slices.Equal(h.seen(), expectedTasks(0, 200))
	})
	return s
}
