package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/octofabric/octopus/internal/testenv"
)

// TestCLIDeviceLogin logs in through an OpenID Connect provider's
// device-code flow: `octopus serve --oidc-issuer … --oidc-cli-client-id …`
// advertises it, `octopus login --device` prints the code and waits until
// the provider approves, saves the token the server accepts, and a later
// command refreshes it when it is about to expire. A denied login fails
// and saves nothing; --paste still takes a token; a server without the
// flow says so.
func TestCLIDeviceLogin(t *testing.T) {
	// Tokens last less than the CLI's one-minute refresh margin.
	p := testenv.NewOIDCProvider(t, "octopus", "octopus-cli", 30*time.Second)
	dir := t.TempDir()
	c := startChild(t, dir, "--listener", "SASL_PLAINTEXT://127.0.0.1:0", "--fsync", "never",
		"--oidc-issuer", p.URL, "--oidc-audience", "octopus", "--oidc-cli-client-id", "octopus-cli")
	e := &cliEnv{t: t, server: "http://" + c.HTTPAddr(), cfg: t.TempDir(), dir: t.TempDir()}
	identity := p.URL + "|" + p.Subject

	r := e.ok("", nil, "login", "--device")
	for _, want := range []string{p.URL + "/activate", "WDJB-MJHT"} {
		if !strings.Contains(r.stderr, want) {
			t.Fatalf("login --device did not show %q:\n%s", want, r.stderr)
		}
	}
	if !strings.Contains(r.stdout, "as "+identity) {
		t.Fatalf("login --device: %s", r.stdout)
	}
	saved := func() map[string]any {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(e.cfg, "octopus", "credentials.json"))
		if err != nil {
			t.Fatal(err)
		}
		var creds struct {
			Servers map[string]map[string]any `json:"servers"`
		}
		decodeJSON(t, string(b), &creds)
		return creds.Servers[e.server]
	}
	first := saved()
	// The access token carries the server's audience, so it is the one kept.
	if first["token_kind"] != "access_token" || first["refresh_token"] == "" || first["token"] == "" {
		t.Fatalf("saved login %v", first)
	}

	// The token expires within the margin: whoami refreshes it first.
	r = e.ok("", nil, "whoami", "-o", "json")
	var me struct {
		Identity string `json:"identity"`
	}
	decodeJSON(t, r.stdout, &me)
	if me.Identity != identity {
		t.Fatalf("whoami after login: %s", r.stdout)
	}
	if n := p.Refreshes(); n != 1 {
		t.Fatalf("refreshes = %d, want 1", n)
	}
	if second := saved(); second["token"] == first["token"] || second["refresh_token"] == first["refresh_token"] {
		t.Fatal("the refreshed token was not saved")
	}

	// The user denies: the login fails and the saved login stays.
	before := saved()
	p.SetDeny(true)
	e.fails(1, "access_denied", nil, "login", "--device")
	if after := saved(); after["token"] != before["token"] {
		t.Fatal("a denied login changed the saved token")
	}
	p.SetDeny(false)

	// --paste reads a token from stdin even though the flow is offered.
	r = e.ok(p.Token()+"\n", nil, "login", "--paste", "-o", "json")
	var out struct {
		Me struct {
			Identity string `json:"identity"`
		} `json:"me"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.Me.Identity != identity {
		t.Fatalf("login --paste: %v %s", err, r.stdout)
	}

	// A server without an identity provider offers no device flow.
	plain, _ := newCLIEnv(t)
	plain.fails(1, "offers no device-code login", nil, "login", "--device")
}
