package fabric

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"sync"
	"time"

	"github.com/octofabric/octopus/internal/secretbox"
	"github.com/octofabric/octopus/internal/store"
	"github.com/octofabric/octopus/internal/trigger"
	"github.com/octofabric/octopus/internal/trigger/filter"
)

// Managed triggers, from the control plane's side: who may create what,
// and how a trigger is kept. The engine (trigger/engine) runs what
// Triggers returns.
//
//   - A trigger belongs to the identity that created it; another identity's
//     trigger is NotFound. Names are unique per owner.
//   - Its source topics (1 to trigger.MaxTopics) must be ones the owner may
//     read — its own or granted READ — and the dead-letter topic one it may
//     write, never a source topic. A topic the caller may not use answers
//     403 or 404 exactly as lookup decides, so triggers leak no topics.
//   - Creating is idempotent: the same name and spec again answers the
//     existing trigger (Created false, no secret); the same name with
//     another spec is a Conflict.
//   - Every change bumps Version; changes are optimistic (store.UpdateTrigger)
//     and retried on a race.
//   - Header values and the signing secret are sealed in the store with
//     Config.Secrets (secretbox), and never shown after they are set: answers
//     carry header names with RedactedValue, and the secret only in the
//     answers of CreateTrigger and RotateTriggerSecret.
//   - A trigger whose owner lost read access to a source topic (grant
//     revoked, topic deleted) or write access to its dead-letter topic, or
//     whose secrets do not open, is StateBlocked, and Triggers hands it to
//     the engine disabled. It runs again, from its committed position, when
//     the access is back.

// Trigger states, Trigger.State.
const (
	StateEnabled = "enabled"
	StatePaused  = "paused"
	StateBlocked = "blocked"
)

// RedactedValue stands for every header value in answers.
const RedactedValue = "[redacted]"

// signingSecretBytes is the length of a signing secret.
const signingSecretBytes = 32

// Trigger is a trigger as its owner sees it: the spec with header values
// redacted, and no secret.
type Trigger struct {
	ID      string `json:"id"`
	Owner   string `json:"owner"` // the owner's identity ID
	Version int64  `json:"version"`
	// State is StateEnabled, StatePaused or StateBlocked, StateReason why
	// it is blocked.
	State       string `json:"state"`
	StateReason string `json:"state_reason,omitempty"`
	trigger.Spec
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// NewTrigger is the answer to CreateTrigger and RotateTriggerSecret.
type NewTrigger struct {
	Trigger
	// SigningSecret is the key of the trigger's HMAC-SHA256 signatures in
	// unpadded base64url: the 32 bytes it encodes are the key. Shown only
	// here; empty when a create found the trigger existing.
	SigningSecret string `json:"signing_secret,omitempty"`
	// Created is false when a create found the same trigger existing.
	Created bool `json:"-"`
}

// secrets returns Config.Secrets, or Unavailable without it.
func (f *Fabric) secrets() (*secretbox.Box, error) {
	if f.cfg.Secrets == nil {
		return nil, &Error{Kind: Unavailable, Code: "triggers_unavailable",
			Message: "triggers need a secret key, and this server has none (see docs/TRIGGERS.md)"}
	}
	return f.cfg.Secrets, nil
}

func (f *Fabric) triggerChanged() {
	if f.cfg.TriggerChanged != nil {
		f.cfg.TriggerChanged()
	}
}

func newSigningSecret() []byte {
	b := make([]byte, signingSecretBytes)
	rand.Read(b)
	return b
}

// CreateTrigger creates a trigger of the caller (see the rules above) and
// returns it with its signing secret; the same request again returns the
// existing trigger without it.
func (f *Fabric) CreateTrigger(ctx context.Context, c Caller, in TriggerFields) (NewTrigger, error) {
	box, err := f.secrets()
	if err != nil {
		return NewTrigger{}, err
	}
	id, err := f.EnsureIdentity(ctx, c)
	if err != nil {
		return NewTrigger{}, err
	}
	spec := trigger.Spec{Enabled: true}
	if err := in.apply(&spec); err != nil {
		return NewTrigger{}, err
	}
	spec.Normalize(in.BatchWindowMs != nil)
	in.restoreZeros(&spec)
	if err := f.checkSpec(ctx, id, &spec, in.Topic != nil); err != nil {
		return NewTrigger{}, err
	}
	if old, found, err := f.existingTrigger(ctx, box, id, spec); found || err != nil {
		return old, err
	}
	tid := store.NewTriggerID()
	secret := newSigningSecret()
	row, err := f.store.CreateTrigger(ctx, store.Trigger{ID: tid, OwnerID: id.ID, Name: spec.Name,
		Enabled: spec.Enabled, Spec: sealSpec(box, tid, spec), Secret: box.Seal(secret, secretAD(tid))})
	if isStoreConflict(err) {
		// A concurrent create of the same name came first.
		if old, found, err := f.existingTrigger(ctx, box, id, spec); found || err != nil {
			return old, err
		}
	}
	if err != nil {
		return NewTrigger{}, storeErr("create trigger", err)
	}
	f.log.Info("trigger created", "trigger", tid, "name", spec.Name, "owner", id.ID, "topics", spec.Topics)
	f.triggerChanged()
	t, err := f.view(ctx, box, row, newAccessMemo())
	if err != nil {
		return NewTrigger{}, err
	}
	return NewTrigger{Trigger: t, SigningSecret: base64.RawURLEncoding.EncodeToString(secret), Created: true}, nil
}

// existingTrigger finds the caller's trigger named spec.Name: found with
// the same spec, a Conflict with another.
func (f *Fabric) existingTrigger(ctx context.Context, box *secretbox.Box, id store.Identity, spec trigger.Spec) (NewTrigger, bool, error) {
	row, err := f.store.GetTriggerByName(ctx, id.ID, spec.Name)
	if isStoreNotFound(err) {
		return NewTrigger{}, false, nil
	}
	if err != nil {
		return NewTrigger{}, false, storeErr("create trigger", err)
	}
	old, err := parseSpec(row)
	if err != nil {
		return NewTrigger{}, false, storeErr("create trigger", err)
	}
	if openHeaders(box, row.ID, &old) != nil || !sameSpec(old, spec) {
		return NewTrigger{}, false, conflict("trigger_exists", "you have a trigger named %q with another spec (%s)", spec.Name, row.ID)
	}
	t, err := f.view(ctx, box, row, newAccessMemo())
	if err != nil {
		return NewTrigger{}, false, err
	}
	return NewTrigger{Trigger: t}, true, nil
}

// ownTrigger returns the caller's trigger tid; another identity's is
// NotFound, as if it did not exist.
func (f *Fabric) ownTrigger(ctx context.Context, id store.Identity, tid string) (store.Trigger, error) {
	nf := notFound("trigger_not_found", "no trigger %q", tid)
	if !validTriggerID(tid) {
		return store.Trigger{}, nf
	}
	row, err := f.store.GetTrigger(ctx, tid)
	if isStoreNotFound(err) || err == nil && row.OwnerID != id.ID {
		return store.Trigger{}, nf
	}
	if err != nil {
		return store.Trigger{}, storeErr("get trigger", err)
	}
	return row, nil
}

// view is a stored trigger as its owner sees it, with its state.
func (f *Fabric) view(ctx context.Context, box *secretbox.Box, row store.Trigger, m *accessMemo) (Trigger, error) {
	d, reason, err := f.inspect(ctx, box, row, m)
	if err != nil {
		return Trigger{}, err
	}
	t := Trigger{ID: row.ID, Owner: row.OwnerID, Version: row.Version, State: StatePaused,
		Spec: redacted(d.Spec), CreatedAt: row.CreatedAt, UpdatedAt: row.UpdatedAt}
	switch {
	case reason != "":
		t.State, t.StateReason = StateBlocked, reason
	case row.Enabled:
		t.State = StateEnabled
	}
	return t, nil
}

// inspect opens a stored trigger for the engine and says why it cannot
// run ("" if it can). Secrets that do not open block it; d.Spec keeps the
// header names then.
func (f *Fabric) inspect(ctx context.Context, box *secretbox.Box, row store.Trigger, m *accessMemo) (trigger.Deployed, string, error) {
	d, unsealed, err := f.opened.get(box, row)
	if err != nil {
		return trigger.Deployed{}, "", storeErr("read trigger", err)
	}
	reason, err := f.blockedReason(ctx, row.OwnerID, d.Spec, m)
	if err != nil {
		return trigger.Deployed{}, "", storeErr("read trigger", err)
	}
	if reason == "" {
		reason = unsealed
	}
	return d, reason, nil
}

// openedTriggers keeps each trigger's parsed spec and opened secrets for
// its current version, since every change bumps the version: the engine
// reads all triggers every few seconds, and parsing and opening them again
// would cost more than the rest of the reading. Entries are shared: their
// maps and slices must not be changed.
type openedTriggers struct {
	mu sync.Mutex
	m  map[string]openedTrigger // by trigger ID
}

type openedTrigger struct {
	d        trigger.Deployed
	unsealed string // why the secrets do not open, or ""
}

// get returns row opened: its spec with header values opened (or, when
// they do not open, redacted, with the reason) and its signing secret.
func (o *openedTriggers) get(box *secretbox.Box, row store.Trigger) (trigger.Deployed, string, error) {
	o.mu.Lock()
	e, ok := o.m[row.ID]
	o.mu.Unlock()
	if ok && e.d.Version == row.Version {
		return e.d, e.unsealed, nil
	}
	spec, err := parseSpec(row)
	if err != nil {
		return trigger.Deployed{}, "", err
	}
	e = openedTrigger{d: trigger.Deployed{ID: row.ID, Owner: row.OwnerID, Version: row.Version, Spec: spec}}
	if err := openHeaders(box, row.ID, &e.d.Spec); err != nil {
		e.d.Spec = redacted(e.d.Spec) // never hand out sealed values as headers
		e.unsealed = err.Error()
	}
	if e.d.Secret, err = box.Open(row.Secret, secretAD(row.ID)); err != nil && e.unsealed == "" {
		e.unsealed = errUnsealed.Error()
	}
	o.mu.Lock()
	if o.m == nil {
		o.m = map[string]openedTrigger{}
	}
	o.m[row.ID] = e
	o.mu.Unlock()
	return e.d, e.unsealed, nil
}

// keep forgets every trigger but those in ids.
func (o *openedTriggers) keep(ids map[string]bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for id := range o.m {
		if !ids[id] {
			delete(o.m, id)
		}
	}
}

// GetTrigger returns one of the caller's triggers.
func (f *Fabric) GetTrigger(ctx context.Context, c Caller, tid string) (Trigger, error) {
	box, err := f.secrets()
	if err != nil {
		return Trigger{}, err
	}
	id, err := f.EnsureIdentity(ctx, c)
	if err != nil {
		return Trigger{}, err
	}
	row, err := f.ownTrigger(ctx, id, tid)
	if err != nil {
		return Trigger{}, err
	}
	return f.view(ctx, box, row, newAccessMemo())
}

// ListTriggers returns the caller's triggers in name order.
func (f *Fabric) ListTriggers(ctx context.Context, c Caller) ([]Trigger, error) {
	box, err := f.secrets()
	if err != nil {
		return nil, err
	}
	id, err := f.EnsureIdentity(ctx, c)
	if err != nil {
		return nil, err
	}
	rows, err := f.store.ListTriggers(ctx, id.ID, store.Page{})
	if err != nil {
		return nil, storeErr("list triggers", err)
	}
	m := newAccessMemo()
	out := make([]Trigger, 0, len(rows))
	for _, row := range rows {
		t, err := f.view(ctx, box, row, m)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// UpdateTrigger changes the given fields of one of the caller's triggers
// and checks the result as CreateTrigger does; fields not given keep
// their values (headers, when given, replace all headers).
func (f *Fabric) UpdateTrigger(ctx context.Context, c Caller, tid string, in TriggerFields) (Trigger, error) {
	return f.modify(ctx, c, tid, func(id store.Identity, box *secretbox.Box, row *store.Trigger) (bool, error) {
		spec, err := parseSpec(*row)
		if err != nil {
			return false, storeErr("update trigger", err)
		}
		if in.Action == nil || in.Action.Headers == nil {
			if err := openHeaders(box, row.ID, &spec); err != nil {
				return false, conflict("secrets_unreadable", "%s; give action.headers to set the headers again", err)
			}
		}
		if err := in.apply(&spec); err != nil {
			return false, err
		}
		spec.Normalize(true)
		in.restoreZeros(&spec)
		if err := f.checkSpec(ctx, id, &spec, in.Topic != nil); err != nil {
			return false, err
		}
		row.Name, row.Enabled, row.Spec = spec.Name, spec.Enabled, sealSpec(box, row.ID, spec)
		return true, nil
	})
}

// PauseTrigger stops one of the caller's triggers where it is; pausing a
// paused trigger changes nothing.
func (f *Fabric) PauseTrigger(ctx context.Context, c Caller, tid string) (Trigger, error) {
	return f.setEnabled(ctx, c, tid, false)
}

// ResumeTrigger starts a paused trigger again from its committed position.
func (f *Fabric) ResumeTrigger(ctx context.Context, c Caller, tid string) (Trigger, error) {
	return f.setEnabled(ctx, c, tid, true)
}

func (f *Fabric) setEnabled(ctx context.Context, c Caller, tid string, on bool) (Trigger, error) {
	return f.modify(ctx, c, tid, func(_ store.Identity, _ *secretbox.Box, row *store.Trigger) (bool, error) {
		if row.Enabled == on {
			return false, nil
		}
		spec, err := parseSpec(*row)
		if err != nil {
			return false, storeErr("update trigger", err)
		}
		spec.Enabled = on
		b, err := json.Marshal(spec) // header values stay sealed as they are
		if err != nil {
			return false, storeErr("update trigger", err)
		}
		row.Enabled, row.Spec = on, string(b)
		return true, nil
	})
}

// RotateTriggerSecret gives one of the caller's triggers a new signing
// secret, shown only in this answer; the old one signs nothing from the
// moment the engine restarts the trigger (within seconds).
func (f *Fabric) RotateTriggerSecret(ctx context.Context, c Caller, tid string) (NewTrigger, error) {
	secret := newSigningSecret()
	t, err := f.modify(ctx, c, tid, func(_ store.Identity, box *secretbox.Box, row *store.Trigger) (bool, error) {
		row.Secret = box.Seal(secret, secretAD(row.ID))
		return true, nil
	})
	if err != nil {
		return NewTrigger{}, err
	}
	return NewTrigger{Trigger: t, SigningSecret: base64.RawURLEncoding.EncodeToString(secret)}, nil
}

// modify reads one of the caller's triggers, lets change edit its row,
// and writes the row if the trigger did not change meanwhile — else it
// reads it again and retries. change reports whether it changed anything.
func (f *Fabric) modify(ctx context.Context, c Caller, tid string,
	change func(id store.Identity, box *secretbox.Box, row *store.Trigger) (bool, error)) (Trigger, error) {
	box, err := f.secrets()
	if err != nil {
		return Trigger{}, err
	}
	id, err := f.EnsureIdentity(ctx, c)
	if err != nil {
		return Trigger{}, err
	}
	for range 5 {
		row, err := f.ownTrigger(ctx, id, tid)
		if err != nil {
			return Trigger{}, err
		}
		next := row
		changed, err := change(id, box, &next)
		if err != nil {
			return Trigger{}, err
		}
		if !changed {
			return f.view(ctx, box, row, newAccessMemo())
		}
		got, err := f.store.UpdateTrigger(ctx, next)
		switch {
		case err == nil:
			f.log.Info("trigger changed", "trigger", tid, "owner", id.ID, "version", got.Version, "enabled", got.Enabled)
			f.triggerChanged()
			return f.view(ctx, box, got, newAccessMemo())
		case isStoreNotFound(err):
			return Trigger{}, notFound("trigger_not_found", "no trigger %q", tid)
		case isStoreConflict(err):
			cur, gerr := f.store.GetTrigger(ctx, tid)
			if gerr == nil && cur.Version == row.Version {
				return Trigger{}, conflict("trigger_exists", "you have another trigger named %q", next.Name)
			}
			// Another change came first: apply this one to its result.
		default:
			return Trigger{}, storeErr("update trigger", err)
		}
	}
	return Trigger{}, conflict("trigger_busy", "trigger %q kept changing during the update; try again", tid)
}

// DeleteTrigger deletes one of the caller's triggers; the engine stops it
// within seconds.
func (f *Fabric) DeleteTrigger(ctx context.Context, c Caller, tid string) error {
	if _, err := f.secrets(); err != nil {
		return err
	}
	id, err := f.EnsureIdentity(ctx, c)
	if err != nil {
		return err
	}
	if _, err := f.ownTrigger(ctx, id, tid); err != nil {
		return err
	}
	if err := f.store.DeleteTrigger(ctx, tid); err != nil && !isStoreNotFound(err) {
		return storeErr("delete trigger", err)
	}
	f.log.Info("trigger deleted", "trigger", tid, "owner", id.ID)
	f.triggerChanged()
	return nil
}

// TestFilter compiles a filter (a JSON array of event patterns) and
// reports whether rec matches it; a filter that does not compile is
// Invalid with the field naming the place (filter[0].value.status).
func (f *Fabric) TestFilter(raw json.RawMessage, rec *filter.Record) (bool, error) {
	compact, err := compactFilter(raw)
	if err != nil {
		return false, err
	}
	if compact == nil {
		return false, invalid("filter", "invalid_filter", "a filter is required: a JSON array of 1 to 5 event patterns")
	}
	flt, err := filter.Compile(compact)
	if err != nil {
		return false, filterErr(err)
	}
	return flt.Match(rec), nil
}

// Triggers returns every trigger, its header values and signing secret
// opened, for the engine (trigger.Source). A blocked trigger comes
// disabled, so that the engine stops it and keeps its position.
func (f *Fabric) Triggers(ctx context.Context) ([]trigger.Deployed, error) {
	box, err := f.secrets()
	if err != nil {
		return nil, err
	}
	m := newAccessMemo()
	var out []trigger.Deployed
	seen := map[string]bool{}
	p := store.Page{Limit: 500}
	for {
		rows, err := f.store.ListAllTriggers(ctx, p)
		if err != nil {
			return nil, storeErr("list triggers", err)
		}
		for _, row := range rows {
			d, reason, err := f.inspect(ctx, box, row, m)
			if err != nil {
				return nil, err
			}
			if reason != "" {
				d.Spec.Enabled = false
				f.log.Debug("trigger blocked", "trigger", row.ID, "owner", row.OwnerID, "reason", reason)
			}
			seen[row.ID] = true
			out = append(out, d)
		}
		if len(rows) < p.Limit {
			f.opened.keep(seen)
			return out, nil
		}
		p.After = rows[len(rows)-1].ID
	}
}

var _ trigger.Source = (*Fabric)(nil)
