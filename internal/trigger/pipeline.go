package trigger

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Header is one Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Record is one Kafka record as a trigger delivers it.
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	Timestamp time.Time
	Key       []byte // nil: no key
	Value     []byte // nil: null value
	Headers   []Header
}

// Batch is what one call of a trigger's action delivers: records of one
// partition, in offset order, so that commits follow batches.
type Batch struct {
	TriggerID   string
	TriggerName string
	// ID names the delivery: the same for every attempt of this batch, so
	// a receiver can drop a repeat (at-least-once delivery).
	ID      string
	Records []Record
	// Attempt is the number of this call of the batch, from 1; the retry
	// stage sets it.
	Attempt int
}

// Oldest returns the timestamp of the batch's oldest record.
func (b *Batch) Oldest() time.Time {
	var t time.Time
	for i, r := range b.Records {
		if i == 0 || r.Timestamp.Before(t) {
			t = r.Timestamp
		}
	}
	return t
}

// Handler delivers a batch. A nil error means done: the batch's offsets may
// be committed. Stages wrap handlers (retry, timeout, dead letters), each
// in a file of its own.
type Handler interface {
	Handle(ctx context.Context, b *Batch) error
}

// HandlerFunc is a function as a Handler.
type HandlerFunc func(ctx context.Context, b *Batch) error

func (f HandlerFunc) Handle(ctx context.Context, b *Batch) error { return f(ctx, b) }

// Stage is one step of a pipeline: it wraps the handler after it.
type Stage func(Handler) Handler

// Chain returns h wrapped in stages, the first outermost:
// Chain(h, a, b) calls a, which calls b, which calls h.
func Chain(h Handler, stages ...Stage) Handler {
	for i := len(stages) - 1; i >= 0; i-- {
		h = stages[i](h)
	}
	return h
}

// CallError is a failed call of an action: the HTTP status (0 when there
// was no answer: timeout, refused connection, refused address), whether
// retrying can help, and how long the receiver asked to wait.
type CallError struct {
	Status     int
	Permanent  bool          // a 4xx other than 408 and 429, or a refused address
	RetryAfter time.Duration // from the answer's Retry-After; 0 if none
	Err        error
}

func (e *CallError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("HTTP %d: %v", e.Status, e.Err)
	}
	return e.Err.Error()
}

func (e *CallError) Unwrap() error { return e.Err }

// StatusOf returns the HTTP status of a call's error (200 for nil, 0 when
// no answer came).
func StatusOf(err error) int {
	if err == nil {
		return 200
	}
	var ce *CallError
	if errors.As(err, &ce) {
		return ce.Status
	}
	return 0
}
