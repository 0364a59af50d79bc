package api

import (
	"context"
	"net/http"
	"reflect"
	"testing"

	"github.com/octofabric/octopus/internal/identity"
)

type stubProvider struct {
	eps identity.Endpoints
	err error
}

func (stubProvider) Issuer() string { return "https://id.example.org" }
func (p stubProvider) Endpoints(context.Context) (identity.Endpoints, error) {
	return p.eps, p.err
}

// TestLoginInfo checks GET /api/v1/login: public, "token" always,
// "device_code" only with a provider that offers it and a client ID, and
// 503 while the provider cannot be discovered.
func TestLoginInfo(t *testing.T) {
	e := newEnv(t)
	get := func(want int) LoginInfo {
		t.Helper()
		var li LoginInfo
		e.call("GET", "/api/v1/login", "", nil, want, &li)
		return li
	}
	if li := get(http.StatusOK); !reflect.DeepEqual(li, LoginInfo{Methods: []string{"token"}}) {
		t.Fatalf("without a provider: %+v", li)
	}
	device := identity.Endpoints{DeviceAuthorization: "https://id.example.org/device", Token: "https://id.example.org/token"}
	e.api.cfg.Login = &LoginConfig{Provider: stubProvider{eps: device}}
	if li := get(http.StatusOK); li.Issuer != "https://id.example.org" || li.DeviceCode != nil || len(li.Methods) != 1 {
		t.Fatalf("without a client ID: %+v", li)
	}
	e.api.cfg.Login = &LoginConfig{Provider: stubProvider{eps: identity.Endpoints{Token: device.Token}}, ClientID: "cli"}
	if li := get(http.StatusOK); li.DeviceCode != nil {
		t.Fatalf("a provider without the flow: %+v", li)
	}
	e.api.cfg.Login = &LoginConfig{Provider: stubProvider{eps: device}, ClientID: "cli", Scopes: []string{"openid"}}
	want := LoginInfo{Methods: []string{"token", "device_code"}, Issuer: "https://id.example.org",
		DeviceCode: &DeviceCodeInfo{DeviceAuthorizationEndpoint: device.DeviceAuthorization,
			TokenEndpoint: device.Token, ClientID: "cli", Scopes: []string{"openid"}}}
	if li := get(http.StatusOK); !reflect.DeepEqual(li, want) {
		t.Fatalf("with the flow: %+v", li)
	}
	e.api.cfg.Login = &LoginConfig{Provider: stubProvider{err: identity.ErrUnavailable}, ClientID: "cli"}
	get(http.StatusServiceUnavailable)
}
