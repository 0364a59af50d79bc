package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/octofabric/octopus/internal/auth/tlsconf"
)

// jwksFile writes a JWKS holding one fresh P-256 key and returns its path.
func jwksFile(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := key.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	doc := fmt.Sprintf(`{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","x":%q,"y":%q}]}`, enc(pt[1:33]), enc(pt[33:]))
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPlanSecurity(t *testing.T) {
	jwks := jwksFile(t)
	defaults := securityFlags{mechanisms: []string{"SCRAM-SHA-512", "SCRAM-SHA-256"}, oauthPrincipalClaim: "sub"}
	type want struct {
		mechs      string
		authorize  bool
		superUsers string
		clientAuth tlsconf.ClientAuth
		oauth      bool
	}
	for _, tc := range []struct {
		name      string
		listeners []string
		edit      func(*securityFlags)
		want      want
		err       string
	}{
		{name: "plaintext only", listeners: nil,
			want: want{mechs: "SCRAM-SHA-512,SCRAM-SHA-256"}},
		{name: "SASL authorizes and makes admin a super user", listeners: []string{"SASL_PLAINTEXT://127.0.0.1:0"},
			want: want{mechs: "SCRAM-SHA-512,SCRAM-SHA-256", authorize: true, superUsers: "User:admin"}},
		{name: "super users kept, admin added once", listeners: []string{"SASL_SSL://127.0.0.1:0"},
			edit: func(f *securityFlags) { f.tlsAuto = true; f.superUsers = []string{"User:alice,User:admin", "User:bob"} },
			want: want{mechs: "SCRAM-SHA-512,SCRAM-SHA-256", authorize: true, superUsers: "User:alice,User:admin,User:bob"}},
		{name: "SSL with a client CA requires certificates and authorizes", listeners: []string{"SSL://127.0.0.1:0"},
			edit: func(f *securityFlags) { f.tlsAuto = true; f.tlsClientCA = "ca.pem" },
			want: want{mechs: "SCRAM-SHA-512,SCRAM-SHA-256", authorize: true, superUsers: "User:admin", clientAuth: tlsconf.ClientAuthRequired}},
		{name: "SSL with requested certificates does not authorize", listeners: []string{"SSL://127.0.0.1:0"},
			edit: func(f *securityFlags) {
				f.tlsCert, f.tlsKey, f.tlsClientCA, f.tlsClientAuth = "c", "k", "ca.pem", "Requested"
			},
			want: want{mechs: "SCRAM-SHA-512,SCRAM-SHA-256", clientAuth: tlsconf.ClientAuthRequested}},
		{name: "mechanisms normalised and deduplicated", listeners: []string{"SASL_PLAINTEXT://127.0.0.1:0"},
			edit: func(f *securityFlags) { f.mechanisms = []string{"plain", " scram-sha-256", "PLAIN"} },
			want: want{mechs: "PLAIN,SCRAM-SHA-256", authorize: true, superUsers: "User:admin"}},
		{name: "an issuer adds OAUTHBEARER", listeners: []string{"SASL_PLAINTEXT://127.0.0.1:0"},
			edit: func(f *securityFlags) {
				f.oauthIssuer, f.oauthAudience, f.oauthJWKS = "https://id.example", "octopus", jwks
			},
			want: want{mechs: "SCRAM-SHA-512,SCRAM-SHA-256,OAUTHBEARER", authorize: true, superUsers: "User:admin", oauth: true}},

		{name: "SSL without certificate", listeners: []string{"SSL://127.0.0.1:0"}, err: "--tls-cert and --tls-key, or --tls-auto"},
		{name: "cert without key", listeners: []string{"SSL://127.0.0.1:0"},
			edit: func(f *securityFlags) { f.tlsCert = "c" }, err: "go together"},
		{name: "auto and cert", listeners: []string{"SSL://127.0.0.1:0"},
			edit: func(f *securityFlags) { f.tlsAuto, f.tlsCert, f.tlsKey = true, "c", "k" }, err: "do not also give"},
		{name: "TLS flags without a TLS listener", listeners: []string{"SASL_PLAINTEXT://127.0.0.1:0"},
			edit: func(f *securityFlags) { f.tlsCert, f.tlsKey = "c", "k" }, err: "no SSL or SASL_SSL listener"},
		{name: "required without a CA", listeners: []string{"SSL://127.0.0.1:0"},
			edit: func(f *securityFlags) { f.tlsAuto, f.tlsClientAuth = true, "required" }, err: "needs --tls-client-ca"},
		{name: "client CA with auth none", listeners: []string{"SSL://127.0.0.1:0"},
			edit: func(f *securityFlags) { f.tlsAuto, f.tlsClientCA, f.tlsClientAuth = true, "ca.pem", "none" }, err: "unused"},
		{name: "bad client auth", listeners: []string{"SSL://127.0.0.1:0"},
			edit: func(f *securityFlags) { f.tlsAuto, f.tlsClientAuth = true, "want" }, err: "want none, requested or required"},
		{name: "unknown mechanism", listeners: []string{"SASL_PLAINTEXT://127.0.0.1:0"},
			edit: func(f *securityFlags) { f.mechanisms = []string{"GSSAPI"} }, err: "unknown mechanism"},
		{name: "no mechanisms", listeners: []string{"SASL_PLAINTEXT://127.0.0.1:0"},
			edit: func(f *securityFlags) { f.mechanisms = nil }, err: "none given"},
		{name: "OAUTHBEARER without issuer", listeners: []string{"SASL_PLAINTEXT://127.0.0.1:0"},
			edit: func(f *securityFlags) { f.mechanisms = []string{"OAUTHBEARER"} }, err: "needs --oauth-issuer, --oauth-audience and --oauth-jwks"},
		{name: "issuer without JWKS", listeners: []string{"SASL_PLAINTEXT://127.0.0.1:0"},
			edit: func(f *securityFlags) { f.oauthIssuer, f.oauthAudience = "https://id.example", "octopus" }, err: "--oauth-jwks"},
		{name: "JWKS file missing", listeners: []string{"SASL_PLAINTEXT://127.0.0.1:0"},
			edit: func(f *securityFlags) {
				f.oauthIssuer, f.oauthAudience, f.oauthJWKS = "https://id.example", "octopus", "/nonexistent/jwks.json"
			}, err: "--oauth-jwks"},
		{name: "audience without issuer", listeners: []string{"SASL_PLAINTEXT://127.0.0.1:0"},
			edit: func(f *securityFlags) { f.oauthAudience = "octopus" }, err: "need --oauth-issuer"},
		{name: "negative max reauth", listeners: []string{"SASL_PLAINTEXT://127.0.0.1:0"},
			edit: func(f *securityFlags) { f.maxReauth = -1 }, err: "negative"},
		{name: "bad super user", listeners: []string{"SASL_PLAINTEXT://127.0.0.1:0"},
			edit: func(f *securityFlags) { f.superUsers = []string{"alice"} }, err: "want User:NAME"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plans, err := planListeners(listenerFlags{kafkaListen: defaultListen, listeners: tc.listeners})
			if err != nil {
				t.Fatal(err)
			}
			f := defaults
			f.mechanisms = slices.Clone(defaults.mechanisms)
			if tc.edit != nil {
				tc.edit(&f)
			}
			sp, err := planSecurity(f, plans)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := want{
				mechs:      strings.Join(sp.Config.Mechanisms, ","),
				authorize:  sp.Config.Authorize,
				superUsers: strings.Join(sp.Config.SuperUsers, ","),
				clientAuth: sp.ClientAuth,
				oauth:      sp.Config.OAuthBearer != nil,
			}
			if got != tc.want {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
			if sp.Config.OAuthBearer != nil && sp.Config.OAuthBearer.PrincipalClaim != "sub" {
				t.Errorf("principal claim %q, want sub", sp.Config.OAuthBearer.PrincipalClaim)
			}
		})
	}
}

func TestPlainWarning(t *testing.T) {
	for _, tc := range []struct {
		listener string
		warn     bool
	}{
		{"SASL_PLAINTEXT://0.0.0.0:9094", true},
		{"SASL_PLAINTEXT://127.0.0.1:9094", false},
		{"SASL_SSL://0.0.0.0:9094", false},
	} {
		plans, err := planListeners(listenerFlags{kafkaListen: defaultListen, listeners: []string{tc.listener}})
		if err != nil {
			t.Fatal(err)
		}
		sp, err := planSecurity(securityFlags{mechanisms: []string{"PLAIN"}, tlsAuto: strings.HasPrefix(tc.listener, "SASL_SSL")}, plans)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(sp.Warnings) > 0; got != tc.warn {
			t.Errorf("%s with PLAIN: warnings %q, want a warning: %v", tc.listener, sp.Warnings, tc.warn)
		}
	}
}

func TestParseSuperUsers(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string // joined with "|"
		err  bool
	}{
		{in: nil, want: ""},
		{in: []string{"User:a,User:b"}, want: "User:a|User:b"},
		{in: []string{"User:a;User:b"}, want: "User:a|User:b"},
		{in: []string{" User:a ; User:b ;"}, want: "User:a|User:b"},
		{in: []string{"User:a", "User:b,User:a"}, want: "User:a|User:b"},
		{in: []string{"User:CN=alice,O=Example,C=DE;User:bob"}, want: "User:CN=alice,O=Example,C=DE|User:bob"},
		{in: []string{"User:CN=alice,O=Example,User:bob"}, want: "User:CN=alice,O=Example|User:bob"},
		{in: []string{"alice"}, err: true},
		{in: []string{"User:"}, err: true},
		{in: []string{"Group:ops"}, err: true},
	} {
		got, err := parseSuperUsers(tc.in)
		if (err != nil) != tc.err || strings.Join(got, "|") != tc.want {
			t.Errorf("parseSuperUsers(%q) = %q, %v; want %q (error %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
}
