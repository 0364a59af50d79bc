package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/octofabric/octopus/internal/testenv/controlplane"
	"github.com/octofabric/octopus/pkg/client"
)

// The tests run the SDK against the real API, a whole control plane in this
// process (controlplane.ControlPlane). Nothing is mocked.

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// apiCode returns err's API status and code, failing if err is no *Error.
func apiCode(t *testing.T, err error) (int, string) {
	t.Helper()
	var e *client.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want a *client.Error", err, err)
	}
	return e.Status, e.Code
}

// TestClientStory drives every route: users, keys, topics, grants and
// groups, and a produce/consume through KafkaClient with a key.
func TestClientStory(t *testing.T) {
	ctx := ctxT(t)
	s := controlplane.ControlPlane(t)
	admin := client.New(s.URL+"/", s.AdminToken)
	me, err := admin.Me(ctx)
	if err != nil || !me.Admin {
		t.Fatalf("admin Me: %+v %v", me, err)
	}
	if doc, err := client.New(s.URL, "").OpenAPI(ctx); err != nil || !strings.Contains(string(doc), "openapi") {
		t.Fatalf("OpenAPI: %v", err)
	}
	ua, err := admin.CreateUser(ctx, client.UserRequest{Name: "alice"})
	if err != nil || ua.Token == "" || ua.Identity == "" {
		t.Fatalf("CreateUser alice: %+v %v", ua, err)
	}
	ub, err := admin.CreateUser(ctx, client.UserRequest{Name: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	a, b := client.New(s.URL, ua.Token), client.New(s.URL, ub.Token, client.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}))
	if _, err := b.CreateUser(ctx, client.UserRequest{Name: "mallory"}); err == nil {
		t.Fatal("bob created a user")
	} else if st, code := apiCode(t, err); st != 403 || code == "" {
		t.Fatalf("bob's CreateUser: %d %q", st, code)
	}
	bme, err := b.Me(ctx)
	if err != nil || bme.Identity != ub.Identity {
		t.Fatalf("bob Me: %+v %v", bme, err)
	}

	// Keys, with an idempotent replay that carries no secret.
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	ka, err := a.CreateKey(ctx, client.KeyRequest{Description: "laptop", ExpiresAt: &exp, IdempotencyKey: "k1"})
	if err != nil || ka.Secret == "" || ka.SASLMechanism != "SCRAM-SHA-512" || len(ka.BootstrapServers) == 0 ||
		ka.ClientSettings == nil || ka.ExpiresAt == nil || !ka.ExpiresAt.Equal(exp) {
		t.Fatalf("CreateKey: %+v %v", ka, err)
	}
	replay, err := a.CreateKey(ctx, client.KeyRequest{Description: "laptop", ExpiresAt: &exp, IdempotencyKey: "k1"})
	if err != nil || replay.ID != ka.ID || replay.Secret != "" || !replay.SecretRedacted {
		t.Fatalf("replayed CreateKey: %+v %v", replay, err)
	}
	ka2, err := a.CreateKey(ctx, client.KeyRequest{})
	if err != nil {
		t.Fatal(err)
	}
	ks, err := a.ListKeys(ctx)
	if err != nil || len(ks) != 2 {
		t.Fatalf("ListKeys: %+v %v", ks, err)
	}
	if err := a.RevokeKey(ctx, ka2.ID); err != nil {
		t.Fatal(err)
	}
	if ks, err := a.ListKeys(ctx); err != nil || len(ks) != 1 || ks[0].ID != ka.ID {
		t.Fatalf("ListKeys after RevokeKey: %+v %v", ks, err)
	}
	kb, err := b.CreateKey(ctx, client.KeyRequest{Description: "bob"})
	if err != nil {
		t.Fatal(err)
	}

	// Topics.
	ret := int64(3_600_000)
	tp, err := a.CreateTopic(ctx, client.TopicRequest{Name: "events", Partitions: 2, RetentionMS: &ret,
		Configs: map[string]string{"cleanup.policy": "delete"}})
	if err != nil || !strings.HasSuffix(tp.Name, ".events") || tp.Partitions != 2 || !tp.Owned {
		t.Fatalf("CreateTopic: %+v %v", tp, err)
	}
	if _, err := a.CreateTopic(ctx, client.TopicRequest{Name: "bad/name"}); err == nil {
		t.Fatal("CreateTopic bad/name succeeded")
	} else if st, _ := apiCode(t, err); st != 400 {
		t.Fatalf("CreateTopic bad/name: %v", err)
	}
	ts, err := a.ListTopics(ctx)
	if err != nil || len(ts) != 1 || ts[0].Name != tp.Name {
		t.Fatalf("ListTopics: %+v %v", ts, err)
	}
	three := int32(3)
	up, err := a.UpdateTopic(ctx, "events", client.TopicPatch{Partitions: &three})
	if err != nil || up.Partitions != 3 {
		t.Fatalf("UpdateTopic: %+v %v", up, err)
	}
	if _, err := b.GetTopic(ctx, tp.Name); err == nil {
		t.Fatal("bob sees alice's topic before a grant")
	}
	if _, code := apiCode(t, errOf(a.GetTopic(ctx, "nope"))); code != "topic_not_found" {
		t.Fatalf("GetTopic nope: %q", code)
	}

	// Produce with alice's key through KafkaClient.
	pa, err := client.KafkaClient(ka)
	if err != nil {
		t.Fatal(err)
	}
	defer pa.Close()
	if err := pa.ProduceSync(ctx, &kgo.Record{Topic: tp.Name, Value: []byte("hello")}).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}

	// Grants: identities hold ':' (and '|' for OIDC), escaped in the path.
	g, err := a.PutGrant(ctx, "events", bme.Identity, client.Access{Read: true})
	if err != nil || g.Identity != bme.Identity || !g.Read || g.Write {
		t.Fatalf("PutGrant: %+v %v", g, err)
	}
	gs, err := a.ListGrants(ctx, "events")
	if err != nil || len(gs) != 1 {
		t.Fatalf("ListGrants: %+v %v", gs, err)
	}
	full, err := a.GetTopic(ctx, "events")
	if err != nil || len(full.Grants) != 1 {
		t.Fatalf("GetTopic by the owner: %+v %v", full, err)
	}
	bt, err := b.GetTopic(ctx, tp.Name)
	if err != nil || bt.Owned || !bt.Access.Read {
		t.Fatalf("bob's GetTopic: %+v %v", bt, err)
	}
	group := bme.Namespace + ".readers"
	cb, err := client.KafkaClient(kb, kgo.ConsumeTopics(tp.Name), kgo.ConsumerGroup(group),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 1 && ctx.Err() == nil {
		fs := cb.PollFetches(ctx)
		if errs := fs.Errors(); len(errs) > 0 {
			t.Fatalf("bob's fetch: %v", errs[0].Err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	if len(got) != 1 || got[0] != "hello" {
		t.Fatalf("bob consumed %q", got)
	}
	if err := cb.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	cb.Close()
	groups, err := a.TopicGroups(ctx, "events")
	if err != nil || len(groups) != 1 || groups[0].Group != group {
		t.Fatalf("TopicGroups: %+v %v", groups, err)
	}
	if err := a.DeleteGrant(ctx, "events", bme.Identity); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetTopic(ctx, tp.Name); err == nil {
		t.Fatal("bob sees alice's topic after the revoke")
	}

	re, err := a.RecreateTopic(ctx, "events")
	if err != nil || re.Name != tp.Name {
		t.Fatalf("RecreateTopic: %+v %v", re, err)
	}
	if err := a.DeleteTopic(ctx, "events"); err != nil {
		t.Fatal(err)
	}
	if _, code := apiCode(t, a.DeleteTopic(ctx, "events")); code != "topic_not_found" {
		t.Fatalf("second DeleteTopic: %q", code)
	}
}

func errOf[T any](_ T, err error) error { return err }

// TestClientErrors checks the error shape: no token, a bad token, and an
// answer that is not JSON.
func TestClientErrors(t *testing.T) {
	ctx := ctxT(t)
	s := controlplane.ControlPlane(t)
	st, code := apiCode(t, errOf(client.New(s.URL, "").Me(ctx)))
	if st != 401 || code == "" {
		t.Fatalf("Me without a token: %d %q", st, code)
	}
	st, code = apiCode(t, errOf(client.New(s.URL, "oct_nonsense").ListTopics(ctx)))
	if st != 401 || code == "" {
		t.Fatalf("ListTopics with a bad token: %d %q", st, code)
	}
	var e *client.Error
	errors.As(errOf(client.New(s.URL, "").Me(ctx)), &e)
	if !strings.Contains(e.Error(), e.Code) || e.Message == "" {
		t.Fatalf("Error(): %q", e.Error())
	}

	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream broke", http.StatusBadGateway)
	}))
	defer plain.Close()
	st, code = apiCode(t, errOf(client.New(plain.URL, "x").Me(ctx)))
	if st != 502 || code != "" {
		t.Fatalf("plain-text error: %d %q", st, code)
	}
	if _, err := client.New("http://127.0.0.1:1", "x").Me(ctx); err == nil {
		t.Fatal("Me against a closed port succeeded")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := client.New(s.URL, s.AdminToken).Me(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Me with a cancelled context: %v", err)
	}
}

// TestClientEscapesPaths checks that path segments are escaped, so an
// identity with '/', '|' or '?' reaches the server as one segment.
func TestClientEscapesPaths(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.EscapedPath())
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	c := client.New(srv.URL, "t")
	ctx := ctxT(t)
	if _, err := c.PutGrant(ctx, "a.b", "https://issuer/x|sub?y#z", client.Access{Read: true}); err != nil {
		t.Fatal(err)
	}
	if err := c.RevokeKey(ctx, "../users"); err != nil {
		t.Fatal(err)
	}
	want := []string{"/api/v1/topics/a.b/grants/https:%2F%2Fissuer%2Fx%7Csub%3Fy%23z", "/api/v1/keys/..%2Fusers"}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("paths %q, want %q", got, want)
	}
}

// TestKafkaClientRefusesIncompleteKeys checks KafkaClient's validation.
func TestKafkaClientRefusesIncompleteKeys(t *testing.T) {
	ok := client.NewKey{Key: client.Key{Username: "ns.k-x", SASLMechanism: "SCRAM-SHA-512"},
		Secret: "s", BootstrapServers: []string{"127.0.0.1:1"}}
	for name, mut := range map[string]func(*client.NewKey){
		"no servers": func(k *client.NewKey) { k.BootstrapServers = nil },
		"no secret":  func(k *client.NewKey) { k.Secret = "" },
		"mechanism":  func(k *client.NewKey) { k.SASLMechanism = "PLAIN" },
		"protocol":   func(k *client.NewKey) { k.SecurityProtocol = "SSL" },
		"missing CA": func(k *client.NewKey) {
			k.SecurityProtocol = "SASL_SSL"
			k.ClientSettings = &client.ClientSettings{Librdkafka: map[string]string{"ssl.ca.location": "/nonexistent/ca.pem"}}
		},
	} {
		k := ok
		mut(&k)
		if cl, err := client.KafkaClient(k); err == nil {
			cl.Close()
			t.Errorf("%s: no error", name)
		}
	}
	k := ok
	k.SecurityProtocol = "SASL_SSL"
	cl, err := client.KafkaClient(k)
	if err != nil {
		t.Fatal(err)
	}
	cl.Close()
}

func TestKafkaClientCACert(t *testing.T) {
	key := client.NewKey{Key: client.Key{Username: "ns.k-1", SASLMechanism: "SCRAM-SHA-512"}, Secret: "s",
		BootstrapServers: []string{"127.0.0.1:1"}, SecurityProtocol: "SASL_SSL", CACert: "not a certificate"}
	if _, err := client.KafkaClient(key); err == nil || !strings.Contains(err.Error(), "ca_cert") {
		t.Fatalf("a ca_cert without a certificate: %v", err)
	}
}
