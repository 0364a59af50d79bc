// Package trigger holds what the parts of Octopus's managed triggers share:
// the trigger specification and its rules (this file), and the records and
// batches that flow through a trigger's pipeline (pipeline.go). The filter
// language is in trigger/filter, the HTTP action and its retry policy in
// trigger/invoke, and the engine that runs triggers as consumer groups in
// trigger/engine. The control plane (internal/fabric) checks ownership and
// stores specs; nothing here knows about identities.
package trigger

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Limits and defaults of a Spec.
const (
	MaxNameLen         = 100
	MaxTopics          = 10
	MinBatchSize       = 1
	MaxBatchSize       = 10_000
	DefaultBatchSize   = 100
	DefaultBatchWindow = 500     // ms
	MaxBatchWindow     = 300_000 // ms: 5 minutes, as Lambda's batching window
	DefaultTimeout     = 10_000  // ms
	MaxTimeout         = 900_000 // ms: 15 minutes
	DefaultMaxAttempts = 10      // calls of one batch, the first included
	MaxMaxAttempts     = 10_000
	DefaultMaxAge      = 21_600_000 // ms: 6 hours
	DefaultBackoffMin  = 200        // ms
	DefaultBackoffMax  = 60_000     // ms
	MaxBackoff         = 3_600_000  // ms
	DefaultConcMin     = 1
	DefaultConcMax     = 10
	MaxConcurrency     = 1000
	MaxHeaders         = 50
	MaxHeaderValueLen  = 8 << 10
	MaxURLLen          = 2048
)

// Ordering says how the batches of one partition may overlap.
const (
	// OrderPartition calls a partition's batches one at a time, in order
	// (the default).
	OrderPartition = "partition"
	// OrderNone lets up to Concurrency.Max batches of a partition be in
	// flight at once; offsets are still committed only below the lowest
	// unfinished batch.
	OrderNone = "none"
)

// Start is where a trigger begins reading a partition it has no committed
// offset for: "earliest", "latest", or an RFC 3339 time (the first record
// at or after it).
type Start struct {
	Kind string    // "earliest", "latest" or "timestamp"
	Time time.Time // for "timestamp"
}

func (s Start) MarshalJSON() ([]byte, error) {
	if s.Kind == "timestamp" {
		return json.Marshal(s.Time.UTC().Format(time.RFC3339Nano))
	}
	return json.Marshal(s.Kind)
}

func (s *Start) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		return fmt.Errorf(`start must be "earliest", "latest" or an RFC 3339 time`)
	}
	return s.parse(str)
}

func (s *Start) parse(str string) error {
	switch str {
	case "earliest", "latest":
		*s = Start{Kind: str}
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, str)
	if err != nil {
		return fmt.Errorf(`start must be "earliest", "latest" or an RFC 3339 time such as 2026-01-02T15:04:05Z, not %q`, str)
	}
	*s = Start{Kind: "timestamp", Time: t.UTC()}
	return nil
}

// Action is the HTTP call a trigger makes with each batch.
type Action struct {
	URL    string `json:"url"`
	Method string `json:"method,omitempty"` // POST (default) or PUT
	// Headers are sent with every call; values may be secrets (they are
	// stored encrypted and never shown again in full).
	Headers   map[string]string `json:"headers,omitempty"`
	TimeoutMs int               `json:"timeout_ms,omitempty"` // per call; default DefaultTimeout
}

// Retry is what happens when a call fails.
type Retry struct {
	// MaxAttempts bounds the calls of one batch, the first included.
	MaxAttempts int `json:"max_attempts,omitempty"`
	// MaxRecordAgeMs: a batch whose oldest record is older than this is
	// not called again; -1 means no limit.
	MaxRecordAgeMs int64 `json:"max_record_age_ms,omitempty"`
	// Backoff before attempt n+1 is a random time in [0, min(max,
	// min·2^(n-1))] ("full jitter"), or the answer's Retry-After if longer.
	BackoffMinMs int `json:"backoff_min_ms,omitempty"`
	BackoffMaxMs int `json:"backoff_max_ms,omitempty"`
}

// Concurrency bounds how many batches of a trigger are in flight at once
// on one Octopus instance; the engine moves between Min and Max with lag.
type Concurrency struct {
	Min int `json:"min,omitempty"`
	Max int `json:"max,omitempty"`
}

// Spec is a trigger as its owner describes it. Fields with zero values take
// the defaults above (Normalize).
type Spec struct {
	Name   string   `json:"name"`
	Topics []string `json:"topics"` // full topic names
	// Filter is a JSON array of event patterns (trigger/filter); nil: every
	// record matches.
	Filter          json.RawMessage `json:"filter,omitempty"`
	Action          Action          `json:"action"`
	BatchSize       int             `json:"batch_size"`
	BatchWindowMs   int             `json:"batch_window_ms"`
	Start           Start           `json:"start"`
	Concurrency     Concurrency     `json:"concurrency"`
	Ordering        string          `json:"ordering"`
	Retry           Retry           `json:"retry"`
	DeadLetterTopic string          `json:"dead_letter_topic,omitempty"`
	Enabled         bool            `json:"enabled"`
}

// FieldError is a rule a Spec breaks; Field is the JSON path of the bad
// field ("action.url", "batch_size").
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

func bad(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Normalize fills in defaults for zero values; call it before Validate on
// a new spec. batchWindowSet says whether the request named
// batch_window_ms (0 is a valid window).
func (s *Spec) Normalize(batchWindowSet bool) {
	if s.BatchSize == 0 {
		s.BatchSize = DefaultBatchSize
	}
	if !batchWindowSet {
		s.BatchWindowMs = DefaultBatchWindow
	}
	if s.Start.Kind == "" {
		s.Start.Kind = "latest"
	}
	if s.Concurrency.Min == 0 {
		s.Concurrency.Min = DefaultConcMin
	}
	if s.Concurrency.Max == 0 {
		s.Concurrency.Max = max(DefaultConcMax, s.Concurrency.Min)
	}
	if s.Ordering == "" {
		s.Ordering = OrderPartition
	}
	if s.Action.Method == "" {
		s.Action.Method = "POST"
	}
	s.Action.Method = strings.ToUpper(s.Action.Method)
	if s.Action.TimeoutMs == 0 {
		s.Action.TimeoutMs = DefaultTimeout
	}
	r := &s.Retry
	if r.MaxAttempts == 0 {
		r.MaxAttempts = DefaultMaxAttempts
	}
	if r.MaxRecordAgeMs == 0 {
		r.MaxRecordAgeMs = DefaultMaxAge
	}
	if r.BackoffMinMs == 0 {
		r.BackoffMinMs = DefaultBackoffMin
	}
	if r.BackoffMaxMs == 0 {
		r.BackoffMaxMs = max(DefaultBackoffMax, r.BackoffMinMs)
	}
}

// Validate checks everything about a normalized spec that needs no other
// state: names of topics are checked by the caller (namespaces, access),
// the filter by trigger/filter, the URL's address when it is called.
func (s *Spec) Validate() *FieldError {
	switch {
	case s.Name == "" || len(s.Name) > MaxNameLen:
		return bad("name", "the name must be 1 to %d characters", MaxNameLen)
	case strings.IndexFunc(s.Name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
	}) >= 0:
		return bad("name", "the name may hold only letters, digits, '-', '_' and '.'")
	case len(s.Topics) == 0:
		return bad("topic", "a trigger needs a source topic")
	case len(s.Topics) > MaxTopics:
		return bad("topics", "at most %d source topics", MaxTopics)
	case s.BatchSize < MinBatchSize || s.BatchSize > MaxBatchSize:
		return bad("batch_size", "the batch size must be %d to %d", MinBatchSize, MaxBatchSize)
	case s.BatchWindowMs < 0 || s.BatchWindowMs > MaxBatchWindow:
		return bad("batch_window_ms", "the batching window must be 0 to %d ms", MaxBatchWindow)
	case s.Start.Kind != "earliest" && s.Start.Kind != "latest" && s.Start.Kind != "timestamp":
		return bad("start", `start must be "earliest", "latest" or an RFC 3339 time`)
	case s.Concurrency.Min < 1 || s.Concurrency.Min > MaxConcurrency:
		return bad("concurrency.min", "the minimum concurrency must be 1 to %d", MaxConcurrency)
	case s.Concurrency.Max < s.Concurrency.Min || s.Concurrency.Max > MaxConcurrency:
		return bad("concurrency.max", "the maximum concurrency must be the minimum (%d) to %d", s.Concurrency.Min, MaxConcurrency)
	case s.Ordering != OrderPartition && s.Ordering != OrderNone:
		return bad("ordering", `ordering must be %q or %q`, OrderPartition, OrderNone)
	case s.Retry.MaxAttempts < 1 || s.Retry.MaxAttempts > MaxMaxAttempts:
		return bad("retry.max_attempts", "the maximum attempts must be 1 to %d", MaxMaxAttempts)
	case s.Retry.MaxRecordAgeMs < -1 || s.Retry.MaxRecordAgeMs == 0:
		return bad("retry.max_record_age_ms", "the maximum record age must be positive, or -1 for no limit")
	case s.Retry.BackoffMinMs < 1 || s.Retry.BackoffMinMs > MaxBackoff:
		return bad("retry.backoff_min_ms", "the minimum backoff must be 1 to %d ms", MaxBackoff)
	case s.Retry.BackoffMaxMs < s.Retry.BackoffMinMs || s.Retry.BackoffMaxMs > MaxBackoff:
		return bad("retry.backoff_max_ms", "the maximum backoff must be the minimum (%d) to %d ms", s.Retry.BackoffMinMs, MaxBackoff)
	}
	seen := map[string]bool{}
	for i, t := range s.Topics {
		if seen[t] {
			return bad(fmt.Sprintf("topics[%d]", i), "topic %q is named twice", t)
		}
		seen[t] = true
	}
	return s.Action.validate()
}

func (a *Action) validate() *FieldError {
	if a.URL == "" {
		return bad("action.url", "the action needs a URL")
	}
	if len(a.URL) > MaxURLLen {
		return bad("action.url", "the URL is longer than %d bytes", MaxURLLen)
	}
	u, err := url.Parse(a.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return bad("action.url", "the URL must be an absolute http:// or https:// URL")
	}
	if u.User != nil {
		return bad("action.url", "put credentials in action.headers, not in the URL")
	}
	if a.Method != "POST" && a.Method != "PUT" {
		return bad("action.method", "the method must be POST or PUT")
	}
	if a.TimeoutMs < 1 || a.TimeoutMs > MaxTimeout {
		return bad("action.timeout_ms", "the timeout must be 1 to %d ms", MaxTimeout)
	}
	if len(a.Headers) > MaxHeaders {
		return bad("action.headers", "at most %d headers", MaxHeaders)
	}
	for k, v := range a.Headers {
		field := "action.headers." + k
		switch {
		case !validHeaderName(k):
			return bad(field, "not a valid HTTP header name")
		case reservedHeader(k):
			return bad(field, "this header is set by Octopus")
		case len(v) > MaxHeaderValueLen || strings.ContainsAny(v, "\r\n\x00"):
			return bad(field, "the value must be at most %d bytes without CR, LF or NUL", MaxHeaderValueLen)
		}
	}
	return nil
}

// validHeaderName reports whether k is an RFC 9110 token.
func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if r > 0x7e || r <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}

// reservedHeader: headers the invoker sets itself or that HTTP owns.
func reservedHeader(k string) bool {
	switch strings.ToLower(k) {
	case "content-type", "content-length", "host", "transfer-encoding", "connection", "user-agent":
		return true
	}
	return strings.HasPrefix(strings.ToLower(k), "x-octopus-")
}
