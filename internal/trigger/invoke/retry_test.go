package invoke

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/octofabric/octopus/internal/trigger"
)

// fakeTime is a clock that only Sleep moves; it records the waits.
type fakeTime struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeTime() *fakeTime {
	return &fakeTime{now: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
}

func (f *fakeTime) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeTime) Sleep(ctx context.Context, d time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sleeps = append(f.sleeps, d)
	f.now = f.now.Add(d)
	return ctx.Err()
}

func (f *fakeTime) Sleeps() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.sleeps...)
}

// options makes Retry use ft, with jitter always at its ceiling.
func (f *fakeTime) options() []RetryOption {
	return []RetryOption{WithSleep(f.Sleep), WithClock(f.Now), WithRand(func(n int64) int64 { return n - 1 })}
}

// invocations collects what an Observer gets.
type invocations struct {
	mu  sync.Mutex
	got []trigger.Invocation
}

func (iv *invocations) observe(inv trigger.Invocation) {
	iv.mu.Lock()
	iv.got = append(iv.got, inv)
	iv.mu.Unlock()
}

func (iv *invocations) statuses() string {
	iv.mu.Lock()
	defer iv.mu.Unlock()
	var s []string
	for _, inv := range iv.got {
		s = append(s, inv.Status)
	}
	return strings.Join(s, ",")
}

var testRetry = trigger.Retry{MaxAttempts: 5, MaxRecordAgeMs: -1, BackoffMinMs: 100, BackoffMaxMs: 1000}

func TestRetryUntilSuccess(t *testing.T) {
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n <= 2 {
			w.WriteHeader(503)
			return
		}
		w.WriteHeader(200)
	})
	ft, obs := newFakeTime(), &invocations{}
	h := trigger.Chain(newTestInvoker(t, Config{Now: ft.Now}).Handler(deployed(rc.URL)), Retry(testRetry, obs.observe, ft.options()...))
	b := testBatch(3)
	if err := h.Handle(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	reqs := rc.requests()
	if len(reqs) != 3 || b.Attempt != 3 {
		t.Fatalf("%d calls, Attempt %d; want 3", len(reqs), b.Attempt)
	}
	for i, r := range reqs {
		if d := r.Header.Get("X-Octopus-Delivery"); d != "dlv-42" {
			t.Errorf("call %d: delivery %q", i+1, d)
		}
		if a := r.Header.Get("X-Octopus-Attempt"); a != string(rune('1'+i)) {
			t.Errorf("call %d: attempt header %q", i+1, a)
		}
		if !strings.Contains(string(r.Body), `"attempt":`+string(rune('1'+i))+`,`) {
			t.Errorf("call %d: body %s", i+1, r.Body)
		}
	}
	if got := ft.Sleeps(); len(got) != 2 || got[0] != 100*time.Millisecond || got[1] != 200*time.Millisecond {
		t.Errorf("waits %v, want [100ms 200ms]", got)
	}
	if s := obs.statuses(); s != "retry,retry,ok" {
		t.Errorf("observed %s", s)
	}
	last := obs.got[2]
	want := trigger.Invocation{Trigger: "trg-1", Delivery: "dlv-42", Time: ft.Now(), Status: "ok", HTTPStatus: 200,
		Attempt: 3, Records: 3, Topic: "lab.events", Partition: 3, FirstOffset: 100, LastOffset: 102}
	if last != want {
		t.Errorf("observed %+v\nwant     %+v", last, want)
	}
	if first := obs.got[0]; first.HTTPStatus != 503 || first.Attempt != 1 || !strings.Contains(first.Error, "HTTP 503") {
		t.Errorf("first attempt observed as %+v", first)
	}
}

func TestRetryBackoff(t *testing.T) {
	fail := trigger.HandlerFunc(func(context.Context, *trigger.Batch) error {
		return &trigger.CallError{Status: 500, Err: errors.New("boom")}
	})
	p := trigger.Retry{MaxAttempts: 8, MaxRecordAgeMs: -1, BackoffMinMs: 100, BackoffMaxMs: 1000}
	ft := newFakeTime()
	var ceilings []int64
	n := func(max int64) int64 { ceilings = append(ceilings, max); return max / 2 }
	err := Retry(p, nil, WithSleep(ft.Sleep), WithClock(ft.Now), WithRand(n))(fail).Handle(context.Background(), testBatch(1))
	var ex *Exhausted
	if !errors.As(err, &ex) || ex.Attempts != 8 || trigger.StatusOf(err) != 500 {
		t.Fatalf("got %v, want Exhausted after 8 attempts wrapping the HTTP 500", err)
	}
	ms := time.Millisecond
	want := []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1000 * ms, 1000 * ms, 1000 * ms}
	for i, c := range ceilings {
		if time.Duration(c) != want[i]+1 {
			t.Errorf("wait %d drawn from [0, %v), want [0, %v]", i+1, time.Duration(c), want[i])
		}
		if got := ft.Sleeps()[i]; got != time.Duration(c/2) {
			t.Errorf("wait %d: %v, want the drawn %v", i+1, got, time.Duration(c/2))
		}
	}
	if len(ceilings) != 7 {
		t.Errorf("%d waits, want 7", len(ceilings))
	}
}

func TestRetryHangingReceiverExhausts(t *testing.T) {
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	d := deployed(rc.URL)
	d.Spec.Action.TimeoutMs = 30
	ft, obs := newFakeTime(), &invocations{}
	p := testRetry
	p.MaxAttempts = 3
	h := trigger.Chain(newTestInvoker(t, Config{}).Handler(d), Retry(p, obs.observe, ft.options()...))
	err := h.Handle(context.Background(), testBatch(1))
	var ex *Exhausted
	if !errors.As(err, &ex) || ex.Attempts != 3 || trigger.StatusOf(err) != 0 || !strings.Contains(err.Error(), "no answer within 30 ms") {
		t.Fatalf("got %v, want Exhausted after 3 timeouts", err)
	}
	if s := obs.statuses(); s != "retry,retry,failed" {
		t.Errorf("observed %s", s)
	}
	if n := rc.hits.Load(); n != 3 {
		t.Errorf("%d calls, want 3", n)
	}
}

func TestRetryHonoursRetryAfter(t *testing.T) {
	ft := newFakeTime()
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		switch n {
		case 1:
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(429)
		case 2:
			w.Header().Set("Retry-After", ft.Now().Add(20*time.Second).Format(http.TimeFormat))
			w.WriteHeader(503)
		case 3:
			w.Header().Set("Retry-After", "0") // shorter than the backoff
			w.WriteHeader(503)
		default:
			w.WriteHeader(200)
		}
	})
	h := trigger.Chain(newTestInvoker(t, Config{Now: ft.Now}).Handler(deployed(rc.URL)), Retry(testRetry, nil, ft.options()...))
	if err := h.Handle(context.Background(), testBatch(1)); err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{7 * time.Second, 20 * time.Second, 400 * time.Millisecond}
	got := ft.Sleeps()
	if len(got) != len(want) {
		t.Fatalf("waits %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("waits %v, want %v", got, want)
		}
	}
}

func TestRetryFailsFast(t *testing.T) {
	for _, code := range []int{400, 404, 302} {
		rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Location", "https://elsewhere.example/")
			w.WriteHeader(code)
		})
		ft, obs := newFakeTime(), &invocations{}
		h := trigger.Chain(newTestInvoker(t, Config{}).Handler(deployed(rc.URL)), Retry(testRetry, obs.observe, ft.options()...))
		err := h.Handle(context.Background(), testBatch(1))
		var ex *Exhausted
		if !errors.As(err, &ex) || ex.Attempts != 1 || trigger.StatusOf(err) != code {
			t.Errorf("%d: got %v, want Exhausted after 1 attempt", code, err)
		}
		if len(ft.Sleeps()) != 0 || rc.hits.Load() != 1 || obs.statuses() != "failed" {
			t.Errorf("%d: %d waits, %d calls, observed %s", code, len(ft.Sleeps()), rc.hits.Load(), obs.statuses())
		}
	}
}

func TestRetryStopsAtMaxRecordAge(t *testing.T) {
	ft := newFakeTime()
	fail := trigger.HandlerFunc(func(context.Context, *trigger.Batch) error {
		return &trigger.CallError{Status: 503, RetryAfter: 8 * time.Second, Err: errors.New("busy")}
	})
	for _, tc := range []struct {
		maxAgeMs int64
		attempts int
	}{
		{60_000, 2}, // ages at the calls: 50 s, 58 s; the next would be 66 s
		{-1, 5},     // no limit: up to MaxAttempts
		{40_000, 1}, // already too old for a second call
	} {
		ft.now = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
		b := testBatch(2)
		b.Records[0].Timestamp = ft.now.Add(-40 * time.Second)
		b.Records[1].Timestamp = ft.now.Add(-50 * time.Second) // the oldest need not be first
		p := testRetry
		p.MaxRecordAgeMs = tc.maxAgeMs
		err := Retry(p, nil, ft.options()...)(fail).Handle(context.Background(), b)
		var ex *Exhausted
		if !errors.As(err, &ex) || ex.Attempts != tc.attempts {
			t.Errorf("max age %d ms: got %v, want Exhausted after %d attempts", tc.maxAgeMs, err, tc.attempts)
			continue
		}
		if tc.maxAgeMs > 0 && !strings.Contains(ex.Reason, "maximum record age") {
			t.Errorf("max age %d ms: reason %q", tc.maxAgeMs, ex.Reason)
		}
	}
}

func TestRetryStopsWhenContextEnds(t *testing.T) {
	fail := trigger.HandlerFunc(func(context.Context, *trigger.Batch) error {
		return &trigger.CallError{Status: 503, Err: errors.New("busy")}
	})
	// While waiting (the real sleep): the wait is the backoff of 1 h.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	p := trigger.Retry{MaxAttempts: 3, MaxRecordAgeMs: -1, BackoffMinMs: 3_600_000, BackoffMaxMs: 3_600_000}
	obs := &invocations{}
	start := time.Now()
	if err := Retry(p, obs.observe, WithRand(func(n int64) int64 { return n - 1 }))(fail).Handle(ctx, testBatch(1)); err != context.Canceled {
		t.Errorf("canceled while waiting: got %v, want context.Canceled", err)
	}
	if time.Since(start) > 5*time.Second || obs.statuses() != "retry" {
		t.Errorf("took %v, observed %s", time.Since(start), obs.statuses())
	}

	// While calling: the call's failure is not an attempt.
	ctx, cancel = context.WithCancel(context.Background())
	obs = &invocations{}
	interrupted := trigger.HandlerFunc(func(context.Context, *trigger.Batch) error {
		cancel()
		return &trigger.CallError{Err: errors.New("connection reset")}
	})
	if err := Retry(testRetry, obs.observe)(interrupted).Handle(ctx, testBatch(1)); err != context.Canceled {
		t.Errorf("canceled while calling: got %v, want context.Canceled", err)
	}
	if s := obs.statuses(); s != "" {
		t.Errorf("an interrupted call was observed as %s", s)
	}
}

func TestRetryOtherErrorsAreRetried(t *testing.T) {
	calls := 0
	h := trigger.HandlerFunc(func(context.Context, *trigger.Batch) error {
		if calls++; calls < 3 {
			return errors.New("not a call error")
		}
		return nil
	})
	ft := newFakeTime()
	if err := Retry(testRetry, nil, ft.options()...)(h).Handle(context.Background(), testBatch(1)); err != nil || calls != 3 {
		t.Errorf("got %v after %d calls", err, calls)
	}
}

func TestRetryDefaults(t *testing.T) {
	r := Retry(trigger.Retry{}, nil)(nil).(*retrier)
	if r.maxAtt != trigger.DefaultMaxAttempts || r.maxAge != trigger.DefaultMaxAge*time.Millisecond ||
		r.minB != trigger.DefaultBackoffMin*time.Millisecond || r.maxB != trigger.DefaultBackoffMax*time.Millisecond {
		t.Errorf("zero Retry gives %+v", r)
	}
}
