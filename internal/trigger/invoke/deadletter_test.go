package invoke

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/octofabric/octopus/internal/trigger"
)

// fakeProducer keeps what it is given, or fails with err.
type fakeProducer struct {
	mu    sync.Mutex
	topic string
	recs  []trigger.Record
	calls int
	err   error
}

func (p *fakeProducer) Produce(_ context.Context, topic string, recs []trigger.Record) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if p.err != nil {
		return p.err
	}
	p.topic, p.recs = topic, append(p.recs, recs...)
	return nil
}

func headerMap(t *testing.T, hs []trigger.Header) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, h := range hs {
		if _, dup := m[h.Key]; dup {
			t.Errorf("header %s twice", h.Key)
		}
		m[h.Key] = string(h.Value)
	}
	return m
}

func TestDeadLetterWritesFailedBatch(t *testing.T) {
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(503)
		w.Write([]byte("maintenance"))
	})
	ft, obs, p := newFakeTime(), &invocations{}, &fakeProducer{}
	r := testRetry
	r.MaxAttempts = 3
	h := trigger.Chain(newTestInvoker(t, Config{}).Handler(deployed(rc.URL)),
		DeadLetter(p, "lab.triggers.dlq", obs.observe), Retry(r, obs.observe, ft.options()...))
	b := testBatch(2)
	b.Records[1].Key, b.Records[1].Value, b.Records[1].Headers = nil, []byte{0xff, 0}, nil
	if err := h.Handle(context.Background(), b); err != nil {
		t.Fatalf("got %v, want nil (dead-lettered, commit)", err)
	}
	if s := obs.statuses(); s != "retry,retry,failed,dead_lettered" {
		t.Errorf("observed %s", s)
	}
	if dl := obs.got[3]; dl.Attempt != 3 || dl.HTTPStatus != 503 || dl.Records != 2 || !strings.Contains(dl.Error, "maintenance") {
		t.Errorf("dead letter observed as %+v", dl)
	}
	if p.topic != "lab.triggers.dlq" || len(p.recs) != 2 {
		t.Fatalf("produced %d records to %q", len(p.recs), p.topic)
	}
	for i, got := range p.recs {
		orig := b.Records[i]
		if got.Topic != "lab.triggers.dlq" || !reflect.DeepEqual(got.Key, orig.Key) || !reflect.DeepEqual(got.Value, orig.Value) || !got.Timestamp.IsZero() {
			t.Errorf("record %d: %+v from %+v", i, got, orig)
		}
		if n := len(orig.Headers); n > 0 && !reflect.DeepEqual(got.Headers[:n], orig.Headers) {
			t.Errorf("record %d: headers %v do not start with the original %v", i, got.Headers, orig.Headers)
		}
		m := headerMap(t, got.Headers[len(orig.Headers):])
		want := map[string]string{
			"octopus.dlq.trigger":   "trg-1",
			"octopus.dlq.delivery":  "dlv-42",
			"octopus.dlq.topic":     "lab.events",
			"octopus.dlq.partition": "3",
			"octopus.dlq.offset":    []string{"100", "101"}[i],
			"octopus.dlq.timestamp": []string{"2026-03-04T05:06:07.891Z", "2026-03-04T05:06:07.892Z"}[i],
			"octopus.dlq.attempts":  "3",
			"octopus.dlq.status":    "503",
			"octopus.dlq.error":     "HTTP 503: Service Unavailable; body: maintenance",
		}
		if !reflect.DeepEqual(m, want) {
			t.Errorf("record %d: dead-letter headers %v\nwant %v", i, m, want)
		}
	}
	if b.Records[0].Headers[0].Key != "trace" || len(b.Records[0].Headers) != 1 {
		t.Errorf("the batch's own headers changed: %v", b.Records[0].Headers)
	}
}

func TestDeadLetterDropsWithoutTopic(t *testing.T) {
	obs := &invocations{}
	failed := trigger.HandlerFunc(func(context.Context, *trigger.Batch) error {
		return &Exhausted{Last: &trigger.CallError{Status: 400, Permanent: true, Err: errors.New("bad")}, Attempts: 1, Reason: "permanent"}
	})
	if err := DeadLetter(nil, "", obs.observe)(failed).Handle(context.Background(), testBatch(1)); err != nil {
		t.Errorf("got %v, want nil (dropped, commit)", err)
	}
	if s := obs.statuses(); s != "dropped" || obs.got[0].HTTPStatus != 400 || obs.got[0].Attempt != 1 {
		t.Errorf("observed %+v", obs.got)
	}
}

func TestDeadLetterProducerFailure(t *testing.T) {
	obs := &invocations{}
	p := &fakeProducer{err: errors.New("not enough replicas")}
	failed := trigger.HandlerFunc(func(context.Context, *trigger.Batch) error {
		return &Exhausted{Last: &trigger.CallError{Status: 500, Err: errors.New("boom")}, Attempts: 10}
	})
	err := DeadLetter(p, "dlq", obs.observe)(failed).Handle(context.Background(), testBatch(1))
	if err == nil || !errors.Is(err, p.err) {
		t.Errorf("got %v, want the producer's error (no commit)", err)
	}
	var ex *Exhausted
	if errors.As(err, &ex) {
		t.Error("the producer's failure is reported as a final failure")
	}
	if s := obs.statuses(); s != "failed" || !strings.Contains(obs.got[0].Error, "not enough replicas") {
		t.Errorf("observed %+v", obs.got)
	}
}

func TestDeadLetterPassesOtherOutcomes(t *testing.T) {
	retryable := &trigger.CallError{Status: 503, Err: errors.New("busy")}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want error
	}{
		{"success", context.Background(), nil, nil},
		{"not final", context.Background(), retryable, retryable},
		{"canceled", ctx, context.Canceled, context.Canceled},
		{"final but canceled", ctx, &Exhausted{Last: retryable, Attempts: 2}, context.Canceled},
	} {
		p, obs := &fakeProducer{}, &invocations{}
		next := trigger.HandlerFunc(func(context.Context, *trigger.Batch) error { return tc.err })
		if err := DeadLetter(p, "dlq", obs.observe)(next).Handle(tc.ctx, testBatch(1)); err != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
		if p.calls != 0 || len(obs.got) != 0 {
			t.Errorf("%s: %d produce calls, observed %v", tc.name, p.calls, obs.got)
		}
	}
}
