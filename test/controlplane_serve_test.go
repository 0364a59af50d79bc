package test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// apiClient calls the control plane's REST API of a child `octopus serve`.
type apiClient struct {
	t     *testing.T
	base  string
	token string
}

// call sends body (if not nil) as JSON and decodes the answer into out (if
// not nil); it returns the status.
func (a apiClient) call(method, path string, body, out any) int {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			a.t.Fatalf("%s %s: %d %q: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

func (a apiClient) must(status int, method, path string, body, out any) {
	a.t.Helper()
	var raw json.RawMessage
	if got := a.call(method, path, body, &raw); got != status {
		a.t.Fatalf("%s %s: status %d, want %d: %s", method, path, got, status, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			a.t.Fatal(err)
		}
	}
}

type apiKey struct {
	ID               string   `json:"id"`
	Username         string   `json:"username"`
	Secret           string   `json:"secret"`
	BootstrapServers []string `json:"bootstrap_servers"`
	SASLMechanism    string   `json:"sasl_mechanism"`
}

func (k apiKey) client(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	if k.SASLMechanism != "SCRAM-SHA-512" || len(k.BootstrapServers) == 0 {
		t.Fatalf("key %+v", k)
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(k.BootstrapServers...),
		kgo.SASL(scram.Auth{User: k.Username, Pass: k.Secret}.AsSha512Mechanism())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// TestServeControlPlane runs the control plane's story against the binary:
// the administrator creates two users; A creates a key and a topic and
// produces with a real Kafka client; B cannot read it until A grants it;
// B then consumes with its own key in a group of its namespace.
func TestServeControlPlane(t *testing.T) {
	dir := t.TempDir()
	c := startChild(t, dir, "--listener", "SASL_PLAINTEXT://127.0.0.1:0", "--fsync", "never")
	serveStory(t, c, dir, "alice", "bob")
}

// TestServeControlPlaneOnKafka runs the same story with `octopus serve
// --kafka`: the control plane alone, on Apache Kafka 4.4 with SCRAM and
// StandardAuthorizer, keys and grants made through Kafka's admin API.
func TestServeControlPlaneOnKafka(t *testing.T) {
	kafka := startSecureKafka(t)
	dir := t.TempDir()
	c := startChild(t, dir, "--kafka", kafka, "--kafka-command-config", kafkaAdminProperties(t, dir))
	// Names unique per run: Kafka outlives the test's store.
	tag := fmt.Sprint(time.Now().UnixNano() % 1e9)
	serveStory(t, c, dir, "alice"+tag, "bob"+tag)
}

// kafkaAdminProperties writes the secured Kafka's administrator settings,
// in the Java client's properties form, for --kafka-command-config.
func kafkaAdminProperties(t *testing.T, dir string) string {
	t.Helper()
	cfg := filepath.Join(dir, "kafka-admin.properties")
	props := "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\n" +
		"sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"admin\" password=\"" + secAdminPassword + "\";\n"
	if err := os.WriteFile(cfg, []byte(props), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func serveStory(t *testing.T, c *child, dir, nameA, nameB string) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := "http://" + c.HTTPAddr()

	raw, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "admin.token")); fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin.token mode %o", fi.Mode().Perm())
	}
	admin := apiClient{t, base, strings.TrimSpace(string(raw))}
	if strings.Contains(c.logs.String(), admin.token) {
		t.Fatal("the administrator's token is in the log")
	}
	if got := (apiClient{t, base, ""}).call("GET", "/api/v1/openapi.json", nil, nil); got != http.StatusOK {
		t.Fatalf("openapi.json: %d", got)
	}
	if got := (apiClient{t, base, ""}).call("GET", "/api/v1/me", nil, nil); got != http.StatusUnauthorized {
		t.Fatalf("/me without a token: %d, want 401", got)
	}

	type user struct {
		Identity string `json:"identity"`
		Token    string `json:"token"`
	}
	var ua, ub user
	admin.must(http.StatusCreated, "POST", "/api/v1/users", map[string]string{"name": nameA}, &ua)
	admin.must(http.StatusCreated, "POST", "/api/v1/users", map[string]string{"name": nameB}, &ub)
	a, b := apiClient{t, base, ua.Token}, apiClient{t, base, ub.Token}
	var me struct {
		Identity  string `json:"identity"`
		Namespace string `json:"namespace"`
	}
	b.must(http.StatusOK, "GET", "/api/v1/me", nil, &me)
	if me.Identity != ub.Identity || me.Namespace == "" {
		t.Fatalf("bob's /me: %+v (created as %q)", me, ub.Identity)
	}
	if got := b.call("POST", "/api/v1/users", map[string]string{"name": "mallory"}, nil); got != http.StatusForbidden {
		t.Fatalf("POST /users by a non-administrator: %d, want 403", got)
	}

	var ka, kb apiKey
	a.must(http.StatusCreated, "POST", "/api/v1/keys", map[string]string{"description": "laptop"}, &ka)
	b.must(http.StatusCreated, "POST", "/api/v1/keys", map[string]string{"description": "cluster"}, &kb)
	var topic struct {
		Name string `json:"name"`
	}
	a.must(http.StatusCreated, "POST", "/api/v1/topics", map[string]any{"name": "events", "partitions": 2}, &topic)
	if !strings.HasSuffix(topic.Name, ".events") || topic.Name == "events" {
		t.Fatalf("topic name %q, want <namespace>.events", topic.Name)
	}

	prod := ka.client(t, kgo.DefaultProduceTopic(topic.Name))
	for i := range 5 {
		if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprint("event-", i))}).FirstErr(); err != nil {
			t.Fatalf("A produces with its key: %v", err)
		}
	}

	consume := func(group string) (int, error) {
		cl := kb.client(t, kgo.ConsumeTopics(topic.Name), kgo.ConsumerGroup(group),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		got := 0
		for got < 5 {
			pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
			fs := cl.PollFetches(pctx)
			pcancel()
			if err := fs.Err0(); err != nil {
				return got, err
			}
			got += fs.NumRecords()
		}
		return got, nil
	}
	group := me.Namespace + ".readers"
	if _, err := consume(group); !errors.Is(err, kerr.TopicAuthorizationFailed) && !errors.Is(err, kerr.GroupAuthorizationFailed) {
		t.Fatalf("B reads A's topic before a grant: %v, want an authorization error", err)
	}
	a.must(http.StatusOK, "PUT", "/api/v1/topics/"+url.PathEscape(topic.Name)+"/grants/"+url.PathEscape(ub.Identity),
		map[string]bool{"read": true, "write": false}, nil)
	if n, err := consume(group + "2"); err != nil || n != 5 {
		t.Fatalf("B reads after the grant: %d records, %v", n, err)
	}
}
