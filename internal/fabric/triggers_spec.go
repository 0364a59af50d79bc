package fabric

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/octofabric/octopus/internal/secretbox"
	"github.com/octofabric/octopus/internal/store"
	"github.com/octofabric/octopus/internal/trigger"
	"github.com/octofabric/octopus/internal/trigger/filter"
	"github.com/octofabric/octopus/internal/trigger/invoke"
)

// TriggerFields are the fields of a trigger that a create or an update
// gives, in the JSON of trigger.Spec; a nil field is not given. A create
// fills the fields not given with trigger.Spec's defaults (enabled: true);
// an update keeps them. A field given as 0 (or "") where 0 is no valid
// value is refused rather than taken as "the default".
type TriggerFields struct {
	Name *string `json:"name,omitempty"`
	// Topic is one source topic, short or full; Topics several. Give one
	// of them.
	Topic  *string  `json:"topic,omitempty"`
	Topics []string `json:"topics,omitempty"`
	// Filter is a JSON array of event patterns (trigger/filter); JSON null
	// in an update removes the filter.
	Filter          json.RawMessage    `json:"filter,omitempty"`
	Action          *ActionFields      `json:"action,omitempty"`
	BatchSize       *int               `json:"batch_size,omitempty"`
	BatchWindowMs   *int               `json:"batch_window_ms,omitempty"`
	Start           *string            `json:"start,omitempty"` // earliest, latest or an RFC 3339 time
	Concurrency     *ConcurrencyFields `json:"concurrency,omitempty"`
	Ordering        *string            `json:"ordering,omitempty"`
	Retry           *RetryFields       `json:"retry,omitempty"`
	DeadLetterTopic *string            `json:"dead_letter_topic,omitempty"` // "" in an update removes it
	Enabled         *bool              `json:"enabled,omitempty"`
}

// ActionFields are the given fields of a trigger's action. Headers, when
// given, replace all headers ({} removes them).
type ActionFields struct {
	URL       *string           `json:"url,omitempty"`
	Method    *string           `json:"method,omitempty"`
	Headers   map[string]string `json:"headers,omitempty"`
	TimeoutMs *int              `json:"timeout_ms,omitempty"`
}

// ConcurrencyFields are the given fields of a trigger's concurrency.
type ConcurrencyFields struct {
	Min *int `json:"min,omitempty"`
	Max *int `json:"max,omitempty"`
}

// RetryFields are the given fields of a trigger's retry policy.
type RetryFields struct {
	MaxAttempts    *int   `json:"max_attempts,omitempty"`
	MaxRecordAgeMs *int64 `json:"max_record_age_ms,omitempty"`
	BackoffMinMs   *int   `json:"backoff_min_ms,omitempty"`
	BackoffMaxMs   *int   `json:"backoff_max_ms,omitempty"`
}

func set[T any](dst *T, p *T) {
	if p != nil {
		*dst = *p
	}
}

// apply writes the given fields over s.
func (in *TriggerFields) apply(s *trigger.Spec) error {
	if in.Topic != nil && in.Topics != nil {
		return invalid("topic", "invalid_topics", "give topic or topics, not both")
	}
	set(&s.Name, in.Name)
	if in.Topic != nil {
		s.Topics = []string{*in.Topic}
	} else if in.Topics != nil {
		s.Topics = append([]string{}, in.Topics...)
	}
	if in.Filter != nil {
		f, err := compactFilter(in.Filter)
		if err != nil {
			return err
		}
		s.Filter = f
	}
	if a := in.Action; a != nil {
		set(&s.Action.URL, a.URL)
		set(&s.Action.Method, a.Method)
		set(&s.Action.TimeoutMs, a.TimeoutMs)
		if a.Headers != nil {
			s.Action.Headers = make(map[string]string, len(a.Headers))
			for k, v := range a.Headers {
				s.Action.Headers[k] = v
			}
		}
	}
	set(&s.BatchSize, in.BatchSize)
	set(&s.BatchWindowMs, in.BatchWindowMs)
	if in.Start != nil {
		b, _ := json.Marshal(*in.Start)
		if err := s.Start.UnmarshalJSON(b); err != nil {
			return invalid("start", "invalid_trigger", "%s", err.Error())
		}
	}
	if c := in.Concurrency; c != nil {
		set(&s.Concurrency.Min, c.Min)
		set(&s.Concurrency.Max, c.Max)
	}
	set(&s.Ordering, in.Ordering)
	if r := in.Retry; r != nil {
		set(&s.Retry.MaxAttempts, r.MaxAttempts)
		set(&s.Retry.MaxRecordAgeMs, r.MaxRecordAgeMs)
		set(&s.Retry.BackoffMinMs, r.BackoffMinMs)
		set(&s.Retry.BackoffMaxMs, r.BackoffMaxMs)
	}
	set(&s.DeadLetterTopic, in.DeadLetterTopic)
	set(&s.Enabled, in.Enabled)
	return nil
}

// restoreZeros undoes what Normalize made of fields given as zero, so
// that Validate refuses them: a batch size of 0 is a mistake, not a
// request for the default.
func (in *TriggerFields) restoreZeros(s *trigger.Spec) {
	zero := func(p *int, dst *int) {
		if p != nil && *p == 0 {
			*dst = 0
		}
	}
	zero(in.BatchSize, &s.BatchSize)
	if a := in.Action; a != nil {
		zero(a.TimeoutMs, &s.Action.TimeoutMs)
		if a.Method != nil && *a.Method == "" {
			s.Action.Method = ""
		}
	}
	if c := in.Concurrency; c != nil {
		zero(c.Min, &s.Concurrency.Min)
		zero(c.Max, &s.Concurrency.Max)
	}
	if in.Ordering != nil && *in.Ordering == "" {
		s.Ordering = ""
	}
	if r := in.Retry; r != nil {
		zero(r.MaxAttempts, &s.Retry.MaxAttempts)
		zero(r.BackoffMinMs, &s.Retry.BackoffMinMs)
		zero(r.BackoffMaxMs, &s.Retry.BackoffMaxMs)
		if r.MaxRecordAgeMs != nil && *r.MaxRecordAgeMs == 0 {
			s.Retry.MaxRecordAgeMs = 0
		}
	}
}

// compactFilter returns a filter without insignificant spaces, so that
// the same filter compares equal however it was written; JSON null (or
// nothing) is no filter.
func compactFilter(raw json.RawMessage) (json.RawMessage, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return nil, nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, t); err != nil {
		return nil, invalid("filter", "invalid_filter", "the filter is not JSON")
	}
	return b.Bytes(), nil
}

// filterErr is the error of a filter that does not compile: Invalid, the
// field naming the place in the filter (filter[0].value.status).
func filterErr(err error) error {
	var fe *filter.Error
	if errors.As(err, &fe) {
		return invalid("filter"+fe.Path, "invalid_filter", "filter%s: %s", fe.Path, fe.Message)
	}
	return invalid("filter", "invalid_filter", "%s", err.Error())
}

// specErr turns a rule a spec breaks into an Invalid error.
func specErr(fe *trigger.FieldError, topicAlias bool) error {
	code := "invalid_trigger"
	switch {
	case fe.Field == "name":
		code = "invalid_name"
	case fe.Field == "action.url":
		code = "invalid_url"
	}
	field := fe.Field
	if topicAlias && (field == "topics[0]" || field == "topics") {
		field = "topic"
	}
	return invalid(field, code, "%s", fe.Message)
}

// checkSpec checks a normalized spec against everything: the spec's own
// rules, the filter, the URL, and the owner's access — read on each source
// topic, write on the dead-letter topic. Topic names become full names.
// Errors: Invalid first, then Forbidden or NotFound as lookup decides.
func (f *Fabric) checkSpec(ctx context.Context, id store.Identity, s *trigger.Spec, topicAlias bool) error {
	for i, name := range s.Topics {
		full, _, err := resolveTopic(id.Namespace, name)
		if err != nil {
			field := fmt.Sprintf("topics[%d]", i)
			if topicAlias {
				field = "topic"
			}
			return renameField(err, field)
		}
		s.Topics[i] = full
	}
	if s.DeadLetterTopic != "" {
		full, _, err := resolveTopic(id.Namespace, s.DeadLetterTopic)
		if err != nil {
			return renameField(err, "dead_letter_topic")
		}
		s.DeadLetterTopic = full
	}
	if fe := s.Validate(); fe != nil {
		return specErr(fe, topicAlias)
	}
	if s.Filter != nil {
		if _, err := filter.Compile(s.Filter); err != nil {
			return filterErr(err)
		}
	}
	if err := invoke.CheckURL(s.Action.URL, f.cfg.AllowPrivateTargets); err != nil {
		var ae *invoke.AddressError
		if errors.As(err, &ae) {
			return invalid("action.url", "target_refused", "%s", err.Error())
		}
		return invalid("action.url", "invalid_url", "%s", err.Error())
	}
	for _, t := range s.Topics {
		if t == s.DeadLetterTopic {
			return invalid("dead_letter_topic", "invalid_dead_letter_topic", "the dead-letter topic must not be a source topic of the trigger")
		}
	}
	for _, t := range s.Topics {
		a, err := f.lookup(ctx, id, t, false)
		if err != nil {
			return err
		}
		if !a.owner && !a.grant.Read {
			return forbidden("no_read_access", "a trigger needs read access to topic %q; you may only write it", t)
		}
	}
	if s.DeadLetterTopic != "" {
		a, err := f.lookup(ctx, id, s.DeadLetterTopic, false)
		if err != nil {
			return err
		}
		if !a.owner && !a.grant.Write {
			return forbidden("no_write_access", "the dead-letter topic needs write access; you may only read topic %q", s.DeadLetterTopic)
		}
	}
	return nil
}

// renameField gives an Invalid error of resolveTopic the caller's field.
func renameField(err error, field string) error {
	var e *Error
	if errors.As(err, &e) && e.Kind == Invalid {
		c := *e
		c.Field = field
		return &c
	}
	return err
}

// Sealing. A trigger's header values and signing secret are sealed with
// Config.Secrets, bound to the trigger's ID and the field, so that a value
// copied to another trigger or header does not open there.

func headerAD(triggerID, name string) string { return "trigger:" + triggerID + "\x00header:" + name }

func secretAD(triggerID string) []byte { return []byte("trigger:" + triggerID + "\x00signing-secret") }

// sealSpec returns s as stored: its JSON with every header value sealed.
func sealSpec(box *secretbox.Box, triggerID string, s trigger.Spec) string {
	c := s
	if len(s.Action.Headers) > 0 {
		c.Action.Headers = make(map[string]string, len(s.Action.Headers))
		for k, v := range s.Action.Headers {
			c.Action.Headers[k] = box.SealString(v, headerAD(triggerID, k))
		}
	}
	b, err := json.Marshal(c)
	if err != nil {
		panic(err) // a Spec always encodes
	}
	return string(b)
}

// parseSpec returns a stored spec with its header values still sealed;
// Enabled is the row's.
func parseSpec(row store.Trigger) (trigger.Spec, error) {
	var s trigger.Spec
	if err := json.Unmarshal([]byte(row.Spec), &s); err != nil {
		return trigger.Spec{}, fmt.Errorf("trigger %s: stored spec: %w", row.ID, err)
	}
	s.Enabled = row.Enabled
	return s, nil
}

// errUnsealed means a trigger's secrets do not open with Config.Secrets.
var errUnsealed = errors.New("the server's secret key does not open this trigger's secrets (was the key changed?)")

// openHeaders replaces s's sealed header values by their plaintext.
func openHeaders(box *secretbox.Box, triggerID string, s *trigger.Spec) error {
	if len(s.Action.Headers) == 0 {
		return nil
	}
	open := make(map[string]string, len(s.Action.Headers))
	for k, v := range s.Action.Headers {
		pt, err := box.OpenString(v, headerAD(triggerID, k))
		if err != nil {
			return errUnsealed
		}
		open[k] = pt
	}
	s.Action.Headers = open
	return nil
}

// sameSpec says whether two specs ask for the same trigger; Enabled is
// not compared (a paused trigger created again stays paused).
func sameSpec(a, b trigger.Spec) bool {
	a.Enabled, b.Enabled = false, false
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// redacted returns s with every header value replaced by RedactedValue.
func redacted(s trigger.Spec) trigger.Spec {
	if len(s.Action.Headers) > 0 {
		h := make(map[string]string, len(s.Action.Headers))
		for k := range s.Action.Headers {
			h[k] = RedactedValue
		}
		s.Action.Headers = h
	}
	return s
}

// accessMemo remembers, for one listing, the topics and grants it read,
// so that many triggers on one topic cost one query.
type accessMemo struct {
	topics map[string]*store.Topic // nil: no such topic
	grants map[[2]string]store.Grant
}

func newAccessMemo() *accessMemo {
	return &accessMemo{topics: map[string]*store.Topic{}, grants: map[[2]string]store.Grant{}}
}

// may reports whether identity owner may read (or write) topic now.
func (m *accessMemo) may(ctx context.Context, st *store.Store, owner, topic string, write bool) (bool, error) {
	t, ok := m.topics[topic]
	if !ok {
		row, err := st.GetTopic(ctx, topic)
		switch {
		case err == nil:
			t = &row
		case !isStoreNotFound(err):
			return false, err
		}
		m.topics[topic] = t
	}
	if t == nil {
		return false, nil
	}
	if t.OwnerID == owner {
		return true, nil
	}
	k := [2]string{topic, owner}
	g, ok := m.grants[k]
	if !ok {
		var err error
		g, err = st.GetGrant(ctx, topic, owner)
		if err != nil && !isStoreNotFound(err) {
			return false, err
		}
		m.grants[k] = g
	}
	if write {
		return g.Write, nil
	}
	return g.Read, nil
}

// blockedReason says why the owner of a trigger may no longer run it, or
// "": a source topic it may not read, a dead-letter topic it may not
// write. It names no topic the owner did not name itself, and does not
// tell a deleted topic of another namespace from a revoked grant.
func (f *Fabric) blockedReason(ctx context.Context, owner string, s trigger.Spec, m *accessMemo) (string, error) {
	for _, t := range s.Topics {
		ok, err := m.may(ctx, f.store, owner, t, false)
		if err != nil {
			return "", err
		}
		if !ok {
			return fmt.Sprintf("no read access to source topic %q: it was deleted or the grant revoked", t), nil
		}
	}
	if d := s.DeadLetterTopic; d != "" {
		ok, err := m.may(ctx, f.store, owner, d, true)
		if err != nil {
			return "", err
		}
		if !ok {
			return fmt.Sprintf("no write access to dead-letter topic %q: it was deleted or the grant revoked", d), nil
		}
	}
	return "", nil
}

// validTriggerID tells an ID that cannot name a trigger, so that a path
// like ../x is NotFound without a query.
func validTriggerID(id string) bool {
	return strings.HasPrefix(id, store.TriggerIDPrefix) && len(id) <= 64 &&
		strings.IndexFunc(id, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') }) < 0
}
