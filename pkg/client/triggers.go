package client

import (
	"context"
	"net/url"
	"strconv"
)

// CreateTrigger creates a trigger of the caller (POST /api/v1/triggers).
// The answer carries the signing secret, the only time it is shown; when
// the same trigger existed, the answer is it without the secret.
func (c *Client) CreateTrigger(ctx context.Context, req TriggerRequest) (NewTrigger, error) {
	var t NewTrigger
	err := c.do(ctx, "POST", v1+"/triggers", idem(req.IdempotencyKey), req, &t)
	return t, err
}

// ListTriggers lists the caller's triggers (GET /api/v1/triggers).
func (c *Client) ListTriggers(ctx context.Context) ([]Trigger, error) {
	var out struct {
		Triggers []Trigger `json:"triggers"`
	}
	err := c.do(ctx, "GET", v1+"/triggers", nil, nil, &out)
	return out.Triggers, err
}

// GetTrigger returns one of the caller's triggers (GET
// /api/v1/triggers/{id}).
func (c *Client) GetTrigger(ctx context.Context, id string) (Trigger, error) {
	var t Trigger
	err := c.do(ctx, "GET", v1+"/triggers/"+seg(id), nil, nil, &t)
	return t, err
}

// UpdateTrigger changes the given fields of a trigger (PATCH
// /api/v1/triggers/{id}).
func (c *Client) UpdateTrigger(ctx context.Context, id string, p TriggerPatch) (Trigger, error) {
	var t Trigger
	err := c.do(ctx, "PATCH", v1+"/triggers/"+seg(id), nil, p, &t)
	return t, err
}

// DeleteTrigger deletes a trigger (DELETE /api/v1/triggers/{id}).
func (c *Client) DeleteTrigger(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", v1+"/triggers/"+seg(id), nil, nil, nil)
}

// PauseTrigger pauses a trigger (POST /api/v1/triggers/{id}/pause).
func (c *Client) PauseTrigger(ctx context.Context, id string) (Trigger, error) {
	var t Trigger
	err := c.do(ctx, "POST", v1+"/triggers/"+seg(id)+"/pause", nil, nil, &t)
	return t, err
}

// ResumeTrigger resumes a paused trigger (POST
// /api/v1/triggers/{id}/resume).
func (c *Client) ResumeTrigger(ctx context.Context, id string) (Trigger, error) {
	var t Trigger
	err := c.do(ctx, "POST", v1+"/triggers/"+seg(id)+"/resume", nil, nil, &t)
	return t, err
}

// RotateTriggerSecret gives a trigger a new signing secret, shown only in
// the answer (POST /api/v1/triggers/{id}/rotate-secret).
func (c *Client) RotateTriggerSecret(ctx context.Context, id string) (NewTrigger, error) {
	var t NewTrigger
	err := c.do(ctx, "POST", v1+"/triggers/"+seg(id)+"/rotate-secret", nil, nil, &t)
	return t, err
}

// TriggerLogs returns a trigger's invocations, newest first (GET
// /api/v1/triggers/{id}/logs).
func (c *Client) TriggerLogs(ctx context.Context, id string, q TriggerLogQuery) ([]Invocation, error) {
	v := url.Values{}
	for k, s := range map[string]string{"status": q.Status, "since": q.Since, "until": q.Until} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	path := v1 + "/triggers/" + seg(id) + "/logs"
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	var out struct {
		Invocations []Invocation `json:"invocations"`
	}
	err := c.do(ctx, "GET", path, nil, nil, &out)
	return out.Invocations, err
}

// TestFilter reports whether a record matches a filter (POST
// /api/v1/filters/test); a bad filter is a 400 *Error whose
// Details["field"] names the bad place (filter[0].value.status).
func (c *Client) TestFilter(ctx context.Context, req FilterTestRequest) (bool, error) {
	var out struct {
		Match bool `json:"match"`
	}
	err := c.do(ctx, "POST", v1+"/filters/test", nil, req, &out)
	return out.Match, err
}
