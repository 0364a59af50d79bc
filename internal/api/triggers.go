package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/octofabric/octopus/internal/fabric"
	"github.com/octofabric/octopus/internal/trigger"
)

// Managed triggers under /api/v1/triggers, and the filter tester. Bodies
// are fabric.TriggerFields (the JSON of trigger.Spec, with "topic" for one
// source topic); Fabric holds every rule. Answers show header names with
// the value "[redacted]", and the signing secret only in the answers of a
// create (201) and of rotate-secret. POST /triggers takes an
// Idempotency-Key as POST /keys does; a replay carries no secret.

// Limits of GET /triggers/{id}/logs.
const (
	DefaultLogLimit = 100
	MaxLogLimit     = 1000
)

// CodeTriggersUnavailable is the 503 of a server without the invocation
// log (Config.TriggerLogs) or without a secret key (Fabric's code).
const CodeTriggersUnavailable = "triggers_unavailable"

// registerTriggers adds the trigger routes.
func (a *API) registerTriggers(add func(method, path string, public bool, h handlerFunc)) {
	const v1 = "/api/v1"
	add("POST", v1+"/triggers", false, a.createTrigger)
	add("GET", v1+"/triggers", false, a.listTriggers)
	add("GET", v1+"/triggers/{id}", false, a.getTrigger)
	add("PATCH", v1+"/triggers/{id}", false, a.updateTrigger)
	add("DELETE", v1+"/triggers/{id}", false, a.deleteTrigger)
	add("POST", v1+"/triggers/{id}/pause", false, a.pauseTrigger)
	add("POST", v1+"/triggers/{id}/resume", false, a.resumeTrigger)
	add("POST", v1+"/triggers/{id}/rotate-secret", false, a.rotateTriggerSecret)
	add("GET", v1+"/triggers/{id}/logs", false, a.triggerLogs)
	add("POST", v1+"/filters/test", false, a.testFilter)
}

// redactedTrigger is what is remembered, and replayed, of a new trigger:
// everything but the signing secret.
type redactedTrigger struct {
	fabric.Trigger
	SecretRedacted bool `json:"signing_secret_redacted,omitempty"`
}

// createTrigger answers POST /api/v1/triggers: 201 with the signing
// secret, or 200 when the same trigger existed.
func (a *API) createTrigger(w http.ResponseWriter, r *http.Request, c fabric.Caller) error {
	var req fabric.TriggerFields
	if err := a.decode(w, r, &req, false); err != nil {
		return err
	}
	return a.idempotent(w, r, c, req, func() (created, error) {
		nt, err := a.f.CreateTrigger(r.Context(), c, req)
		if err != nil {
			return created{}, err
		}
		status := http.StatusCreated
		if !nt.Created {
			status = http.StatusOK
		}
		// No undo: a create of the same name is the same trigger, so a
		// concurrent repeat made nothing to take back.
		return created{status: status, full: nt,
			redacted: redactedTrigger{Trigger: nt.Trigger, SecretRedacted: nt.Created}}, nil
	})
}

// listTriggers answers GET /api/v1/triggers.
func (a *API) listTriggers(w http.ResponseWriter, r *http.Request, c fabric.Caller) error {
	ts, err := a.f.ListTriggers(r.Context(), c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"triggers": ts})
	return nil
}

// getTrigger answers GET /api/v1/triggers/{id}.
func (a *API) getTrigger(w http.ResponseWriter, r *http.Request, c fabric.Caller) error {
	t, err := a.f.GetTrigger(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

// updateTrigger answers PATCH /api/v1/triggers/{id}.
func (a *API) updateTrigger(w http.ResponseWriter, r *http.Request, c fabric.Caller) error {
	var req fabric.TriggerFields
	if err := a.decode(w, r, &req, false); err != nil {
		return err
	}
	t, err := a.f.UpdateTrigger(r.Context(), c, r.PathValue("id"), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

// deleteTrigger answers DELETE /api/v1/triggers/{id}.
func (a *API) deleteTrigger(w http.ResponseWriter, r *http.Request, c fabric.Caller) error {
	if err := a.f.DeleteTrigger(r.Context(), c, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// pauseTrigger answers POST /api/v1/triggers/{id}/pause.
func (a *API) pauseTrigger(w http.ResponseWriter, r *http.Request, c fabric.Caller) error {
	t, err := a.f.PauseTrigger(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

// resumeTrigger answers POST /api/v1/triggers/{id}/resume.
func (a *API) resumeTrigger(w http.ResponseWriter, r *http.Request, c fabric.Caller) error {
	t, err := a.f.ResumeTrigger(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

// rotateTriggerSecret answers POST /api/v1/triggers/{id}/rotate-secret.
func (a *API) rotateTriggerSecret(w http.ResponseWriter, r *http.Request, c fabric.Caller) error {
	t, err := a.f.RotateTriggerSecret(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

// queryErr is a 400 about a query parameter.
func queryErr(field, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidField, Message: fmt.Sprintf(format, args...),
		Details: map[string]any{"field": field, "in": "query"}}
}

// logQuery reads the query of GET /triggers/{id}/logs.
func logQuery(r *http.Request, now time.Time) (trigger.LogQuery, error) {
	v := r.URL.Query()
	q := trigger.LogQuery{Status: v.Get("status"), Limit: DefaultLogLimit}
	switch q.Status {
	case "", trigger.StatusOK, trigger.StatusRetry, trigger.StatusFailed, trigger.StatusDeadLettered, trigger.StatusDropped:
	default:
		return q, queryErr("status", "status must be one of %s, %s, %s, %s, %s", trigger.StatusOK, trigger.StatusRetry,
			trigger.StatusFailed, trigger.StatusDeadLettered, trigger.StatusDropped)
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		s := v.Get(p.name)
		if s == "" {
			continue
		}
		t, err := parseLogTime(s, now)
		if err != nil {
			return q, queryErr(p.name, "%s must be an RFC 3339 time (2026-01-02T15:04:05Z) or a duration before now (1h, 30m)", p.name)
		}
		*p.dst = t
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && q.Until.Before(q.Since) {
		return q, queryErr("until", "until is before since")
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLogLimit {
			return q, queryErr("limit", "limit must be 1 to %d", MaxLogLimit)
		}
		q.Limit = n
	}
	return q, nil
}

var errBadTime = errors.New("not a time or a duration")

// parseLogTime reads an RFC 3339 time or a positive duration, which means
// that long before now.
func parseLogTime(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return time.Time{}, errBadTime
	}
	return now.Add(-d).UTC(), nil
}

// triggerLogs answers GET /api/v1/triggers/{id}/logs: the newest
// invocations first, at most limit.
func (a *API) triggerLogs(w http.ResponseWriter, r *http.Request, c fabric.Caller) error {
	if a.cfg.TriggerLogs == nil {
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeTriggersUnavailable,
			Message: "this server keeps no invocation log (it runs no trigger engine)"}
	}
	q, err := logQuery(r, time.Now())
	if err != nil {
		return err
	}
	t, err := a.f.GetTrigger(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return err
	}
	invs, err := a.cfg.TriggerLogs.Logs(r.Context(), t.ID, q)
	if err != nil {
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeTriggersUnavailable,
			Message: "reading the invocation log failed; try again", Err: err}
	}
	if invs == nil {
		invs = []trigger.Invocation{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"invocations": invs})
	return nil
}
