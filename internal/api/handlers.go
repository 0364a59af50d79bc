package api

import (
	"context"
	"net/http"
	"time"

	"github.com/octofabric/octopus/internal/fabric"
)

// me answers GET /api/v1/me.
func (a *API) me(w http.ResponseWriter, r *http.Request, c fabric.Caller) error {
	me, err := a.f.Me(r.Context(), c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, me)
	return nil
}

// keyRequest is the body of POST /keys.
type keyRequest struct {
	Description string  `json:"description,omitempty"`
	ExpiresAt   *string `json:"expires_at,omitempty"` // RFC 3339
}

// createKey answers POST /api/v1/keys.
func (a *API) createKey(w http.ResponseWriter, r *http.Request, c fabric.Caller) error {
	var req keyRequest
	if err := a.decode(w, r, &req, true); err != nil {
		return err
	}
	spec := fabric.KeySpec{Description: req.Description}
	if req.ExpiresAt != nil {
		t, err := time.Parse(time.RFC3339, *req.ExpiresAt)
		if err != nil {
			return badField(CodeInvalidField, "expires_at", "expires_at must be an RFC 3339 time, e.g. 2030-01-02T15:04:05Z")
		}
		spec.ExpiresAt = &t
	}
	return a.idempotent(w, r, c, req, func() (created, error) {
		k, err := a.f.CreateKey(r.Context(), c, spec)
		if err != nil {
			return created{}, err
		}
		return created{
			status: http.StatusCreated,
			full:   k,
			redacted: redactedKey{Key: k.Key, BootstrapServers: k.BootstrapServers,
				SecurityProtocol: k.SecurityProtocol, SecretRedacted: true},
			undo: func(ctx context.Context) error { return a.f.RevokeKey(ctx, c, k.ID) },
		}, nil
	})
}

// redactedKey is what is stored, and replayed, of a new key: everything
// but the secret and the client settings (which hold the secret).
type redactedKey struct {
	fabric.Key
	BootstrapServers []string `json:"bootstrap_servers"`
	SecurityProtocol string   `json:"security_protocol"`
	SecretRedacted   bool     `json:"secret_redacted"`
}

// listKeys answers GET /api/v1/keys.
func (a *API) listKeys(w http.ResponseWriter, r *http.Request, c fabric.Caller) error {
	ks, err := a.f.ListKeys(r.Context(), c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": ks})
	return nil
}

// revokeKey answers DELETE /api/v1/keys/{id}.
func (a *API) revokeKey(w http.ResponseWriter, r *http.Request, c fabric.Caller) error {
	if err := a.f.RevokeKey(r.Context(), c, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// topicRequest is the body of POST /topics.
type topicRequest struct {
	Name        string            `json:"name"`
	Partitions  int32             `json:"partitions"`
	RetentionMs *int64            `json:"retention_ms,omitempty"`
	Configs     map[string]string `json:"configs,omitempty"`
}

// createTopic answers POST /api/v1/topics: 201, or 200 when the same topic existed.
func (a *API) createTopic(w http.ResponseWriter, r *http.Request, c fabric.Caller) error {
	var req topicRequest
	if err := a.decode(w, r, &req, false); err != nil {
		return err
	}
	start := time.Now().UTC().Truncate(time.Microsecond)
	t, err := a.f.CreateTopic(r.Context(), c, fabric.TopicSpec{Name: req.Name, Partitions: req.Partitions,
		RetentionMs: req.RetentionMs, Configs: req.Configs})
	if err != nil {
		return err
	}
	// Fabric answers a repeated create with the existing topic; one that
	// was created before this request began is such a repeat.
	status := http.StatusCreated
	if t.CreatedAt.Before(start) {
		status = http.StatusOK
	}
	writeJSON(w, status, t)
	return nil
}

// listTopics answers GET /api/v1/topics.
func (a *API) listTopics(w http.ResponseWriter, r *http.Request, c fabric.Caller) error {
	ts, err := a.f.ListTopics(r.Context(), c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"topics": ts})
	return nil
}

// topicParam is the {topic} path parameter. Fabric checks it; its errors
// about "name" are about this parameter (pathErr).
func topicParam(r *http.Request) string { return r.PathValue("topic") }

// pathErr renames Fabric's field "name" to the path parameter "topic",
// and says that "identity" is a path parameter.
func pathErr(err error) error {
	e := toError(err)
	switch e.Details["field"] {
	case "name":
		e.Details = map[string]any{"field": "topic", "in": "path"}
	case "identity":
		e.Details = map[string]any{"field": "identity", "in": "path"}
	}
	return e
}

// getTopic answers GET /api/v1/topics/{topic}.
func (a *API) getTopic(w http.ResponseWriter, r *http.Request, c fabric.Caller) error {
	t, err := a.f.GetTopic(r.Context(), c, topicParam(r))
	if err != nil {
		return pathErr(err)
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

// topicPatch is the body of PATCH /topics/{topic}.
type topicPatch struct {
	Partitions  int32              `json:"partitions,omitempty"`
	RetentionMs *int64             `json:"retention_ms,omitempty"`
	Configs     map[string]*string `json:"configs,omitempty"` // null resets a config
}

// updateTopic answers PATCH /api/v1/topics/{topic}.
func (a *API) updateTopic(w http.ResponseWriter, r *http.Request, c fabric.Caller) error {
	var req topicPatch
	if err := a.decode(w, r, &req, false); err != nil {
		return err
	}
	t, err := a.f.UpdateTopic(r.Context(), c, topicParam(r), fabric.TopicUpdate{Partitions: req.Partitions,
		RetentionMs: req.RetentionMs, Configs: req.Configs})
	if err != nil {
		return pathErr(err)
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

// deleteTopic answers DELETE /api/v1/topics/{topic}.
func (a *API) deleteTopic(w http.ResponseWriter, r *http.Request, c fabric.Caller) error {
	if err := a.f.DeleteTopic(r.Context(), c, topicParam(r)); err != nil {
		return pathErr(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// recreateTopic answers POST /api/v1/topics/{topic}/recreate.
func (a *API) recreateTopic(w http.ResponseWriter, r *http.Request, c fabric.Caller) error {
	t, err := a.f.RecreateTopic(r.Context(), c, topicParam(r))
	if err != nil {
		return pathErr(err)
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

// listGrants answers GET /api/v1/topics/{topic}/grants.
func (a *API) listGrants(w http.ResponseWriter, r *http.Request, c fabric.Caller) error {
	gs, err := a.f.ListGrants(r.Context(), c, topicParam(r))
	if err != nil {
		return pathErr(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"grants": gs})
	return nil
}

// putGrant answers PUT /api/v1/topics/{topic}/grants/{identity}.
func (a *API) putGrant(w http.ResponseWriter, r *http.Request, c fabric.Caller) error {
	var acc fabric.Access
	if err := a.decode(w, r, &acc, false); err != nil {
		return err
	}
	g, err := a.f.PutGrant(r.Context(), c, topicParam(r), r.PathValue("identity"), acc)
	if err != nil {
		return pathErr(err)
	}
	writeJSON(w, http.StatusOK, g)
	return nil
}

// deleteGrant answers DELETE /api/v1/topics/{topic}/grants/{identity}.
func (a *API) deleteGrant(w http.ResponseWriter, r *http.Request, c fabric.Caller) error {
	if err := a.f.DeleteGrant(r.Context(), c, topicParam(r), r.PathValue("identity")); err != nil {
		return pathErr(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// topicGroups answers GET /api/v1/topics/{topic}/groups.
func (a *API) topicGroups(w http.ResponseWriter, r *http.Request, c fabric.Caller) error {
	gs, err := a.f.TopicGroups(r.Context(), c, topicParam(r))
	if err != nil {
		return pathErr(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"groups": gs})
	return nil
}
