package api

import (
	"errors"
	"net/http"

	"github.com/octofabric/octopus/internal/fabric"
	"github.com/octofabric/octopus/internal/store"
)

// userRequest is the body of POST /users.
type userRequest struct {
	Name string `json:"name"`
}

// newUser is the answer to POST /users: the token is shown only here.
type newUser struct {
	Identity      string `json:"identity"`
	Token         string `json:"token,omitempty"`
	Name          string `json:"name"`
	Namespace     string `json:"namespace"`
	TokenRedacted bool   `json:"token_redacted,omitempty"` // in an idempotent replay
}

// createUser creates a local identity with a token; administrators only.
func (a *API) createUser(w http.ResponseWriter, r *http.Request, c fabric.Caller) error {
	if !c.Admin {
		return &Error{Status: http.StatusForbidden, Code: CodeAdminOnly, Message: "only administrators may create users"}
	}
	var req userRequest
	if err := a.decode(w, r, &req, false); err != nil {
		return err
	}
	return a.idempotent(w, r, c, req, func() (created, error) {
		id, token, err := a.cfg.Local.CreateUser(r.Context(), req.Name)
		switch {
		case errors.Is(err, store.ErrInvalid):
			return created{}, badField("invalid_name", "name",
				`a user name is 1 to 64 letters, digits, '.', '_', '@' or '-', starts with a letter or digit, and is not "admin"`)
		case errors.Is(err, store.ErrConflict):
			return created{}, &Error{Status: http.StatusConflict, Code: CodeUserExists, Message: "a user of that name exists",
				Details: map[string]any{"field": "name"}}
		case err != nil:
			return created{}, &Error{Status: http.StatusServiceUnavailable, Code: CodeStoreUnavailable,
				Message: "creating the user failed; try again later", Err: err}
		}
		// The identity is stored with its namespace; Me reads it back.
		me, err := a.f.Me(r.Context(), fabric.Caller{ID: id.ID, Name: id.Name})
		if err != nil {
			return created{}, err
		}
		u := newUser{Identity: me.Identity, Token: token, Name: me.Name, Namespace: me.Namespace}
		red := u
		red.Token, red.TokenRedacted = "", true
		return created{status: http.StatusCreated, full: u, redacted: red}, nil
	})
}
