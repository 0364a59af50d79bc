package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/oauth2"
)

// LoginInfo is how to get a token for a server (GET /api/v1/login).
// Methods holds "token" and, when the server's identity provider offers
// the OAuth device-code flow (RFC 8628), "device_code" with DeviceCode.
type LoginInfo struct {
	Methods    []string        `json:"methods"`
	Issuer     string          `json:"issuer,omitempty"`
	DeviceCode *DeviceCodeInfo `json:"device_code,omitempty"`
}

// DeviceCodeInfo is the provider's side of the device-code flow.
type DeviceCodeInfo struct {
	DeviceAuthorizationEndpoint string   `json:"device_authorization_endpoint"`
	TokenEndpoint               string   `json:"token_endpoint"`
	ClientID                    string   `json:"client_id"`
	Scopes                      []string `json:"scopes"`
}

// LoginInfo asks the server how to log in; it needs no token.
func (c *Client) LoginInfo(ctx context.Context) (LoginInfo, error) {
	var li LoginInfo
	err := c.do(ctx, "GET", v1+"/login", nil, nil, &li)
	return li, err
}

// Token is what the identity provider issued. Which of AccessToken and
// IDToken the server accepts depends on the provider (the audience the
// server checks); DeviceLogin.Wait tries both.
type Token struct {
	AccessToken  string
	IDToken      string // empty if the provider sent none
	RefreshToken string // empty if the provider sent none
	Expiry       time.Time
}

// DeviceLogin is a device-code login in progress: show the user
// VerificationURI and UserCode (or VerificationURIComplete), then Wait.
type DeviceLogin struct {
	UserCode                string
	VerificationURI         string
	VerificationURIComplete string // may be empty
	ExpiresAt               time.Time

	cfg  *oauth2.Config
	resp *oauth2.DeviceAuthResponse
	hc   *http.Client
}

func (d DeviceCodeInfo) oauth() *oauth2.Config {
	return &oauth2.Config{ClientID: d.ClientID, Scopes: d.Scopes,
		Endpoint: oauth2.Endpoint{DeviceAuthURL: d.DeviceAuthorizationEndpoint, TokenURL: d.TokenEndpoint,
			AuthStyle: oauth2.AuthStyleInParams}}
}

// StartDeviceLogin asks the provider for a device code (RFC 8628 §3.1),
// with the Client's HTTP client.
func (c *Client) StartDeviceLogin(ctx context.Context, info DeviceCodeInfo) (*DeviceLogin, error) {
	if info.DeviceAuthorizationEndpoint == "" || info.TokenEndpoint == "" || info.ClientID == "" {
		return nil, errors.New("octopus client: the server offers no device-code login")
	}
	cfg := info.oauth()
	resp, err := cfg.DeviceAuth(oauthContext(ctx, c.hc))
	if err != nil {
		return nil, fmt.Errorf("asking the identity provider for a device code: %w", err)
	}
	return &DeviceLogin{UserCode: resp.UserCode, VerificationURI: resp.VerificationURI,
		VerificationURIComplete: resp.VerificationURIComplete, ExpiresAt: resp.Expiry,
		cfg: cfg, resp: resp, hc: c.hc}, nil
}

// Wait polls the provider until the user approves, denies, or the code
// expires (RFC 8628 §3.4–3.5, with its slow_down rule).
func (d *DeviceLogin) Wait(ctx context.Context) (Token, error) {
	t, err := d.cfg.DeviceAccessToken(oauthContext(ctx, d.hc), d.resp)
	if err != nil {
		return Token{}, fmt.Errorf("device login: %w", err)
	}
	return fromOAuth(t), nil
}

// RefreshToken exchanges a refresh token for new tokens at the provider.
func (c *Client) RefreshToken(ctx context.Context, info DeviceCodeInfo, refresh string) (Token, error) {
	t, err := info.oauth().TokenSource(oauthContext(ctx, c.hc), &oauth2.Token{RefreshToken: refresh}).Token()
	if err != nil {
		return Token{}, fmt.Errorf("refreshing the token: %w", err)
	}
	tok := fromOAuth(t)
	if tok.RefreshToken == "" {
		tok.RefreshToken = refresh // the provider keeps the old one valid
	}
	return tok, nil
}

func fromOAuth(t *oauth2.Token) Token {
	tok := Token{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, Expiry: t.Expiry}
	if id, ok := t.Extra("id_token").(string); ok {
		tok.IDToken = id
	}
	return tok
}

func oauthContext(ctx context.Context, hc *http.Client) context.Context {
	if hc == nil || hc == http.DefaultClient {
		return ctx
	}
	return context.WithValue(ctx, oauth2.HTTPClient, hc)
}
