package api

import (
	"context"
	"net/http"

	"github.com/octofabric/octopus/internal/fabric"
	"github.com/octofabric/octopus/internal/identity"
)

// LoginConfig tells clients how to get a token from the OpenID Connect
// provider the server trusts (GET /api/v1/login).
type LoginConfig struct {
	// Provider is the verifier of the provider's tokens; its discovery
	// gives the endpoints.
	Provider interface {
		Issuer() string
		Endpoints(ctx context.Context) (identity.Endpoints, error)
	}
	// ClientID is a public OAuth client registered with the provider for
	// the command line and scripts (no secret); empty: no device flow.
	ClientID string
	Scopes   []string // asked for in the device flow
}

// LoginInfo is the answer of GET /api/v1/login: the ways to get a token.
// Methods always holds "token" (paste or pass a token); "device_code"
// is added, with DeviceCode, when the provider offers RFC 8628.
type LoginInfo struct {
	Methods    []string        `json:"methods"`
	Issuer     string          `json:"issuer,omitempty"`
	DeviceCode *DeviceCodeInfo `json:"device_code,omitempty"`
}

// DeviceCodeInfo is what a client needs for the device-code flow.
type DeviceCodeInfo struct {
	DeviceAuthorizationEndpoint string   `json:"device_authorization_endpoint"`
	TokenEndpoint               string   `json:"token_endpoint"`
	ClientID                    string   `json:"client_id"`
	Scopes                      []string `json:"scopes"`
}

// login answers GET /api/v1/login (public). A provider whose discovery
// fails answers 503 rather than hiding the device flow.
func (a *API) login(w http.ResponseWriter, r *http.Request, _ fabric.Caller) error {
	info := LoginInfo{Methods: []string{"token"}}
	if lc := a.cfg.Login; lc != nil && lc.Provider != nil {
		info.Issuer = lc.Provider.Issuer()
		if lc.ClientID != "" {
			eps, err := lc.Provider.Endpoints(r.Context())
			if err != nil {
				return err
			}
			if eps.DeviceAuthorization != "" {
				info.Methods = append(info.Methods, "device_code")
				info.DeviceCode = &DeviceCodeInfo{DeviceAuthorizationEndpoint: eps.DeviceAuthorization,
					TokenEndpoint: eps.Token, ClientID: lc.ClientID, Scopes: append([]string{}, lc.Scopes...)}
			}
		}
	}
	writeJSON(w, http.StatusOK, info)
	return nil
}
