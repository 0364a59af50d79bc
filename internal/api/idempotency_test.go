package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestIdempotencyKeys checks POST /keys with Idempotency-Key: a repeat
// replays the first answer without the secret and creates nothing; the
// same key with another body is 409; the scope is the caller; without the
// header every call creates a key; concurrent repeats create one key.
func TestIdempotencyKeys(t *testing.T) {
	e := newEnv(t)
	a := e.createUser("alice")
	b := e.createUser("bob")
	post := func(u user, key, body string) resp {
		return e.send(req{method: "POST", path: "/api/v1/keys", token: u.Token, body: body,
			header: map[string]string{"Idempotency-Key": key}})
	}
	decode := func(r resp) newKey {
		t.Helper()
		var k newKey
		if err := json.Unmarshal(r.body, &k); err != nil {
			t.Fatalf("%s: %v", r.body, err)
		}
		return k
	}

	first := post(a, "laptop-1", `{"description": "laptop"}`)
	if first.status != http.StatusCreated || first.header.Get("Idempotency-Replayed") != "" {
		t.Fatalf("first: %d %v %s", first.status, first.header, first.body)
	}
	k1 := decode(first)
	if k1.Secret == "" || k1.ClientSettings == nil || k1.SecretRedacted {
		t.Fatalf("first answer %+v", k1)
	}
	// The same request (spelt differently) replays the answer, redacted.
	for _, body := range []string{`{"description": "laptop"}`, `{ "description":"laptop" }`} {
		again := post(a, "laptop-1", body)
		if again.status != http.StatusCreated || again.header.Get("Idempotency-Replayed") != "true" {
			t.Fatalf("replay: %d %v %s", again.status, again.header, again.body)
		}
		k := decode(again)
		if k.ID != k1.ID || k.Username != k1.Username || k.Secret != "" || k.ClientSettings != nil || !k.SecretRedacted ||
			k.SASLMechanism != "SCRAM-SHA-512" || len(k.BootstrapServers) == 0 {
			t.Fatalf("replay %+v, want key %s without secret", k, k1.ID)
		}
		if strings.Contains(string(again.body), k1.Secret) {
			t.Fatal("the replay holds the secret")
		}
	}
	// Another request with the key: 409, nothing created.
	e.wantErr("reused key", post(a, "laptop-1", `{"description": "phone"}`), http.StatusConflict, "idempotency_key_reused", "Idempotency-Key")
	// Another caller's key of the same name is its own.
	if r := post(b, "laptop-1", `{"description": "laptop"}`); r.status != http.StatusCreated || decode(r).Secret == "" {
		t.Fatalf("B with A's idempotency key: %d %s", r.status, r.body)
	}
	// Without the header, each call creates a key.
	k2 := e.createKey(a, "laptop")
	k3 := e.createKey(a, "laptop")
	if k2.ID == k3.ID || k2.ID == k1.ID {
		t.Fatal("POST /keys without Idempotency-Key returned an existing key")
	}
	// Concurrent repeats: one key.
	var wg sync.WaitGroup
	ids := make([]string, 3)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.send(req{method: "POST", path: "/api/v1/keys", token: a.Token, body: `{"description": "hpc"}`,
				header: map[string]string{"Idempotency-Key": "hpc"}})
			if r.status == http.StatusCreated {
				var k newKey
				json.Unmarshal(r.body, &k)
				ids[i] = k.ID
			}
		}()
	}
	wg.Wait()
	if ids[0] == "" || ids[0] != ids[1] || ids[1] != ids[2] {
		t.Fatalf("concurrent repeats answered keys %v", ids)
	}
	var ks struct{ Keys []struct{ ID string } }
	e.call("GET", "/api/v1/keys", a.Token, nil, http.StatusOK, &ks)
	if len(ks.Keys) != 4 { // k1, k2, k3, hpc
		t.Fatalf("A has %d keys, want 4: %+v", len(ks.Keys), ks)
	}
	if strings.Contains(e.apiLogs.String(), k1.Secret) {
		t.Fatal("a secret is in the API log")
	}
}

// TestIdempotencyUsers checks POST /users with Idempotency-Key: a repeat
// replays the answer without the token; another name with the key is 409.
func TestIdempotencyUsers(t *testing.T) {
	e := newEnv(t)
	post := func(key, body string) resp {
		return e.send(req{method: "POST", path: "/api/v1/users", token: e.adminToken, body: body,
			header: map[string]string{"Idempotency-Key": key}})
	}
	var u1, u2 struct {
		Identity, Token, Name, Namespace string
		TokenRedacted                    bool `json:"token_redacted"`
	}
	r := post("carol-1", `{"name": "carol"}`)
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &u1) != nil || u1.Token == "" || u1.TokenRedacted {
		t.Fatalf("first: %d %s", r.status, r.body)
	}
	r = post("carol-1", `{"name": "carol"}`)
	if r.status != http.StatusCreated || r.header.Get("Idempotency-Replayed") != "true" || json.Unmarshal(r.body, &u2) != nil ||
		u2.Token != "" || !u2.TokenRedacted || u2.Identity != u1.Identity || u2.Namespace != u1.Namespace {
		t.Fatalf("replay: %d %s", r.status, r.body)
	}
	e.wantErr("reused key", post("carol-1", `{"name": "dave"}`), http.StatusConflict, "idempotency_key_reused", "Idempotency-Key")
	// Without the key, a repeat is a conflict.
	e.wantErr("repeat without key", e.send(req{method: "POST", path: "/api/v1/users", token: e.adminToken, body: `{"name": "carol"}`}),
		http.StatusConflict, "user_exists", "name")
	// The first token works.
	e.call("GET", "/api/v1/me", u1.Token, nil, http.StatusOK, nil)
}
