package invoke

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/octofabric/octopus/internal/trigger"
)

// Observer receives every outcome of a batch for the invocation log: each
// call (ok, retry, failed) and what became of a final failure
// (dead_lettered, dropped). Error texts never hold header values or
// secrets. It is called synchronously and must not block for long.
type Observer func(trigger.Invocation)

// Exhausted is a batch that failed for good: a permanent failure, or
// retries used up (attempts or record age). The engine must not retry it;
// DeadLetter turns it into a committed batch.
type Exhausted struct {
	Last     error  // the last call's error, a *trigger.CallError for Invoker calls
	Attempts int    // calls made
	Reason   string // why there is no further attempt
}

func (e *Exhausted) Error() string {
	return fmt.Sprintf("gave up after %d attempt(s), %s: %v", e.Attempts, e.Reason, e.Last)
}

func (e *Exhausted) Unwrap() error { return e.Last }

// RetryOption replaces a dependency of Retry, for tests.
type RetryOption func(*retrier)

// WithSleep replaces the wait between attempts; it must return ctx.Err()
// if ctx ends first.
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) RetryOption {
	return func(r *retrier) { r.sleep = sleep }
}

// WithClock replaces the clock (record age, invocation times, latency).
func WithClock(now func() time.Time) RetryOption {
	return func(r *retrier) { r.now = now }
}

// WithRand replaces the jitter source: n must return a number in [0, max).
func WithRand(n func(max int64) int64) RetryOption {
	return func(r *retrier) { r.randN = n }
}

type retrier struct {
	next       trigger.Handler
	obs        Observer
	maxAtt     int
	maxAge     time.Duration // < 0: no limit
	minB, maxB time.Duration
	sleep      func(context.Context, time.Duration) error
	now        func() time.Time
	randN      func(int64) int64
}

// Retry calls the next handler until it succeeds, numbering the attempts
// (b.Attempt, from 1). A retryable failure waits a full-jitter backoff,
// rand[0, min(max, min·2^(attempt-1))], or the answer's Retry-After if
// longer. It gives up with an *Exhausted after p.MaxAttempts calls, on a
// permanent failure, or when the batch's oldest record would be older than
// p.MaxRecordAgeMs at the next attempt. If ctx ends while calling or
// waiting it returns ctx.Err(): the batch is not done and must not be
// committed. Zero fields of p take the Spec's defaults.
func Retry(p trigger.Retry, obs Observer, opts ...RetryOption) trigger.Stage {
	return func(next trigger.Handler) trigger.Handler {
		r := &retrier{
			next:   next,
			obs:    obs,
			maxAtt: p.MaxAttempts,
			maxAge: time.Duration(p.MaxRecordAgeMs) * time.Millisecond,
			minB:   time.Duration(p.BackoffMinMs) * time.Millisecond,
			maxB:   time.Duration(p.BackoffMaxMs) * time.Millisecond,
			sleep:  sleepCtx,
			now:    time.Now,
			randN:  rand.Int64N,
		}
		if r.maxAtt <= 0 {
			r.maxAtt = trigger.DefaultMaxAttempts
		}
		if p.MaxRecordAgeMs == 0 {
			r.maxAge = trigger.DefaultMaxAge * time.Millisecond
		}
		if r.minB <= 0 {
			r.minB = trigger.DefaultBackoffMin * time.Millisecond
		}
		if r.maxB < r.minB {
			r.maxB = max(r.minB, trigger.DefaultBackoffMax*time.Millisecond)
		}
		for _, o := range opts {
			o(r)
		}
		return r
	}
}

func (r *retrier) Handle(ctx context.Context, b *trigger.Batch) error {
	for attempt := 1; ; attempt++ {
		b.Attempt = attempt
		start := r.now()
		err := r.next.Handle(ctx, b)
		latency := r.now().Sub(start)
		if err == nil {
			r.observe(b, start, latency, trigger.StatusOK, nil)
			return nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr // interrupted, not failed: the engine re-delivers
		}

		var reason string
		var wait time.Duration
		var ce *trigger.CallError
		isCall := errors.As(err, &ce)
		switch {
		case isCall && ce.Permanent:
			reason = "the failure is permanent"
		case attempt >= r.maxAtt:
			reason = fmt.Sprintf("the maximum of %d attempts is reached", r.maxAtt)
		default:
			wait = r.backoff(attempt)
			if isCall && ce.RetryAfter > wait {
				wait = ce.RetryAfter
			}
			// A batch without timestamps has no age.
			if oldest := b.Oldest(); r.maxAge >= 0 && !oldest.IsZero() && r.now().Add(wait).Sub(oldest) > r.maxAge {
				reason = fmt.Sprintf("the oldest record would be older than the maximum record age (%v)", r.maxAge)
			}
		}
		if reason != "" {
			r.observe(b, start, latency, trigger.StatusFailed, err)
			return &Exhausted{Last: err, Attempts: attempt, Reason: reason}
		}
		r.observe(b, start, latency, trigger.StatusRetry, err)
		if err := r.sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// backoff is the full-jitter wait after a failed attempt (from 1).
func (r *retrier) backoff(attempt int) time.Duration {
	ceil := r.maxB
	if shift := attempt - 1; shift < 62 && r.minB <= r.maxB>>shift {
		ceil = r.minB << shift
	}
	return time.Duration(r.randN(int64(ceil) + 1))
}

func (r *retrier) observe(b *trigger.Batch, at time.Time, latency time.Duration, status string, err error) {
	if r.obs == nil {
		return
	}
	inv := invocation(b, at, status, err)
	inv.Attempt = b.Attempt
	inv.LatencyMs = float64(latency) / float64(time.Millisecond)
	r.obs(inv)
}

// invocation fills in what an Invocation says about b and err.
func invocation(b *trigger.Batch, at time.Time, status string, err error) trigger.Invocation {
	inv := trigger.Invocation{
		Trigger:  b.TriggerID,
		Delivery: b.ID,
		Time:     at,
		Status:   status,
		Records:  len(b.Records),
	}
	if n := len(b.Records); n > 0 {
		inv.Topic = b.Records[0].Topic
		inv.Partition = b.Records[0].Partition
		inv.FirstOffset = b.Records[0].Offset
		inv.LastOffset = b.Records[n-1].Offset
	}
	if err != nil {
		inv.HTTPStatus = trigger.StatusOf(err)
		inv.Error = err.Error()
	} else {
		inv.HTTPStatus = trigger.StatusOf(nil)
	}
	return inv
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
