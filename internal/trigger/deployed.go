package trigger

import (
	"context"
	"time"
)

// Deployed is a trigger as the engine runs it: its spec with header values
// decrypted, and its signing secret. Version changes with every update, so
// the engine can tell that a running trigger must restart.
type Deployed struct {
	ID      string
	Owner   string // the owner's identity ID
	Version int64
	Spec    Spec
	Secret  []byte // HMAC-SHA256 key of the X-Octopus-Signature header
}

// Source lists the triggers an engine should run: every trigger, enabled or
// not (a disabled one is stopped), whose owner may still read its topics.
type Source interface {
	Triggers(ctx context.Context) ([]Deployed, error)
}

// Invocation outcomes, the Status of an Invocation.
const (
	StatusOK           = "ok"            // 2xx: the batch is done
	StatusRetry        = "retry"         // failed; will be called again
	StatusFailed       = "failed"        // failed for good; goes to the dead letters
	StatusDeadLettered = "dead_lettered" // the batch was written to the dead-letter topic
	StatusDropped      = "dropped"       // failed for good, and no dead-letter topic
)

// Invocation is one call's outcome, or what became of a batch that failed
// for good, as the invocation log keeps it.
type Invocation struct {
	Trigger     string    `json:"trigger"`
	Delivery    string    `json:"delivery"`
	Time        time.Time `json:"time"`
	Status      string    `json:"status"`
	HTTPStatus  int       `json:"http_status,omitempty"` // 0: no answer
	Attempt     int       `json:"attempt"`
	Records     int       `json:"records"`
	Topic       string    `json:"topic"`
	Partition   int32     `json:"partition"`
	FirstOffset int64     `json:"first_offset"`
	LastOffset  int64     `json:"last_offset"`
	LatencyMs   float64   `json:"latency_ms"`
	Error       string    `json:"error,omitempty"`
}

// LogQuery selects invocations of one trigger: Status "" for any, a time
// range (zero: open), and at most Limit (the newest ones).
type LogQuery struct {
	Status       string
	Since, Until time.Time
	Limit        int
}

// LogReader serves a trigger's invocation log (GET /triggers/{id}/logs).
type LogReader interface {
	Logs(ctx context.Context, triggerID string, q LogQuery) ([]Invocation, error)
}
