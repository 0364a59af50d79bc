package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestStory runs the control plane's story through HTTP: the administrator
// creates users A and B; A creates a key and a topic and produces with a
// Kafka client using the returned key; B cannot read; A grants B read
// (PUT with B's escaped identity); B consumes with its own key in a group
// of its namespace; A revokes the grant and B is refused.
func TestStory(t *testing.T) {
	e := newEnv(t)
	a := e.createUser("alice")
	b := e.createUser("bob")
	var meA, meB struct {
		Identity, Name, Namespace string
		Admin                     bool
	}
	e.call("GET", "/api/v1/me", a.Token, nil, http.StatusOK, &meA)
	e.call("GET", "/api/v1/me", b.Token, nil, http.StatusOK, &meB)
	if meA.Identity != a.Identity || meA.Namespace != a.Namespace || meA.Admin || meB.Identity != "local:bob" {
		t.Fatalf("GET /me = %+v, %+v", meA, meB)
	}
	var meAdmin struct{ Admin bool }
	if e.call("GET", "/api/v1/me", e.adminToken, nil, http.StatusOK, &meAdmin); !meAdmin.Admin {
		t.Fatal("the administrator's /me says admin false")
	}

	// A: a key and a topic (short name in, full name out), and produce.
	ka := e.createKey(a, "laptop")
	var tp struct {
		Name       string
		Partitions int32
		Owned      bool
		CreatedAt  time.Time `json:"created_at"`
	}
	e.call("POST", "/api/v1/topics", a.Token, map[string]any{"name": "events", "partitions": 2}, http.StatusCreated, &tp)
	topic := a.Namespace + ".events"
	if tp.Name != topic || tp.Partitions != 2 || !tp.Owned {
		t.Fatalf("POST /topics = %+v", tp)
	}
	// The same request again, by short or full name: 200, the same topic.
	for _, name := range []string{"events", topic} {
		var again struct {
			Name      string
			CreatedAt time.Time `json:"created_at"`
		}
		e.call("POST", "/api/v1/topics", a.Token, map[string]any{"name": name, "partitions": 2}, http.StatusOK, &again)
		if again.Name != topic || !again.CreatedAt.Equal(tp.CreatedAt) {
			t.Fatalf("POST /topics again = %+v", again)
		}
	}
	e.wantErr("POST /topics, other spec", e.send(req{method: "POST", path: "/api/v1/topics", token: a.Token,
		body: map[string]any{"name": "events", "partitions": 3}}), http.StatusConflict, "topic_exists", "")
	produce(t, e.client(ka, kgo.DefaultProduceTopic(topic)), "one", "two", "three")

	// B cannot read it, in Kafka or through the API.
	kb := e.createKey(b, "workstation")
	if got := metadata(t, e.client(kb), topic); got != "TOPIC_AUTHORIZATION_FAILED" {
		t.Fatalf("B's metadata before the grant: %s", got)
	}
	topicPath := "/api/v1/topics/" + topic
	e.wantErr("B GET A's topic", e.send(req{method: "GET", path: topicPath, token: b.Token}), http.StatusForbidden, "no_access", "")

	// A grants B read, with B's identity path-escaped (':' need not be
	// escaped, but may be).
	grantPath := topicPath + "/grants/" + strings.ReplaceAll(url.PathEscape(meB.Identity), ":", "%3A")
	if !strings.Contains(grantPath, "local%3Abob") {
		t.Fatalf("grant path %s does not escape the identity", grantPath)
	}
	var g struct {
		Identity, Namespace string
		Read, Write         bool
	}
	e.call("PUT", grantPath, a.Token, map[string]bool{"read": true, "write": false}, http.StatusOK, &g)
	if g.Identity != meB.Identity || !g.Read || g.Write || g.Namespace != meB.Namespace {
		t.Fatalf("PUT grant = %+v", g)
	}
	e.call("PUT", grantPath, a.Token, `{"read": true}`, http.StatusOK, nil) // idempotent
	var gl struct{ Grants []struct{ Identity string } }
	e.call("GET", topicPath+"/grants", a.Token, nil, http.StatusOK, &gl)
	if len(gl.Grants) != 1 || gl.Grants[0].Identity != meB.Identity {
		t.Fatalf("GET grants = %+v", gl)
	}
	e.wantErr("B lists A's grants", e.send(req{method: "GET", path: topicPath + "/grants", token: b.Token}),
		http.StatusForbidden, "not_owner", "")

	// B consumes with its own key in a group of its namespace.
	group := meB.Namespace + ".readers"
	if got := consume(t, e.client(kb, kgo.ConsumeTopics(topic), kgo.ConsumerGroup(group),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit()), 3); strings.Join(got, ",") != "one,three,two" {
		t.Fatalf("B consumed %v", got)
	}
	var groups struct {
		Groups []struct {
			Group string
			Lag   int64
		}
	}
	e.call("GET", topicPath+"/groups", a.Token, nil, http.StatusOK, &groups)
	if len(groups.Groups) != 1 || groups.Groups[0].Group != group || groups.Groups[0].Lag != 0 {
		t.Fatalf("GET groups = %+v", groups)
	}
	var bt struct {
		Topics []struct {
			Name   string
			Owned  bool
			Access struct{ Read, Write bool }
		}
	}
	e.call("GET", "/api/v1/topics", b.Token, nil, http.StatusOK, &bt)
	if len(bt.Topics) != 1 || bt.Topics[0].Name != topic || bt.Topics[0].Owned || !bt.Topics[0].Access.Read {
		t.Fatalf("B's GET /topics = %+v", bt)
	}

	// A revokes the grant; B is refused.
	e.call("DELETE", grantPath, a.Token, nil, http.StatusNoContent, nil)
	e.call("DELETE", grantPath, a.Token, nil, http.StatusNoContent, nil)
	if got := metadata(t, e.client(kb), topic); got != "TOPIC_AUTHORIZATION_FAILED" {
		t.Fatalf("B's metadata after the revocation: %s", got)
	}

	// Update, recreate, describe.
	var up struct {
		Partitions int32
		Configs    map[string]string
	}
	e.call("PATCH", topicPath, a.Token, `{"partitions": 3, "retention_ms": 3600000}`, http.StatusOK, &up)
	if up.Partitions != 3 || up.Configs["retention.ms"] != "3600000" {
		t.Fatalf("PATCH = %+v", up)
	}
	up.Configs = nil
	e.call("PATCH", topicPath, a.Token, `{"configs": {"retention.ms": null}}`, http.StatusOK, &up)
	if _, ok := up.Configs["retention.ms"]; ok {
		t.Fatalf("PATCH with null kept retention.ms: %+v", up)
	}
	e.call("POST", topicPath+"/recreate", a.Token, nil, http.StatusOK, nil)
	e.call("GET", "/api/v1/topics/events", a.Token, nil, http.StatusOK, &up)
	if up.Partitions != 3 {
		t.Fatalf("GET after recreate = %+v", up)
	}

	// A second key for A on another device; revoking the first leaves it.
	ka2 := e.createKey(a, "beamline")
	produce(t, e.client(ka, kgo.DefaultProduceTopic(topic)), "from-a1")
	var keys struct{ Keys []map[string]any }
	e.call("GET", "/api/v1/keys", a.Token, nil, http.StatusOK, &keys)
	if len(keys.Keys) != 2 {
		t.Fatalf("GET /keys = %+v", keys)
	}
	for _, k := range keys.Keys {
		if _, ok := k["secret"]; ok {
			t.Fatalf("GET /keys shows a secret")
		}
	}
	e.call("DELETE", "/api/v1/keys/"+ka.ID, a.Token, nil, http.StatusNoContent, nil)
	if got := login(t, e.client(ka, kgo.RequestRetries(0))); got != "SASL_AUTHENTICATION_FAILED" {
		t.Fatalf("login with a revoked key: %s", got)
	}
	produce(t, e.client(ka2, kgo.DefaultProduceTopic(topic)), "from-a2")
	e.wantErr("B deletes A's key", e.send(req{method: "DELETE", path: "/api/v1/keys/" + ka2.ID, token: b.Token}),
		http.StatusNotFound, "key_not_found", "")

	// Delete: afterwards the topic is unknown.
	e.wantErr("B deletes A's topic", e.send(req{method: "DELETE", path: topicPath, token: b.Token}), http.StatusForbidden, "no_access", "")
	e.call("DELETE", topicPath, a.Token, nil, http.StatusNoContent, nil)
	e.wantErr("GET deleted topic", e.send(req{method: "GET", path: topicPath, token: a.Token}), http.StatusNotFound, "topic_not_found", "")

	// No secret or token reached the request log.
	logs := e.apiLogs.String()
	for _, s := range []string{ka.Secret, ka2.Secret, kb.Secret, a.Token, b.Token, e.adminToken} {
		if strings.Contains(logs, s) {
			t.Fatal("a secret or token is in the API log")
		}
	}
}

// outcome names an error as Kafka does, or "NONE".
func outcome(err error) string {
	var ke *kerr.Error
	switch {
	case err == nil:
		return "NONE"
	case errors.As(err, &ke):
		return ke.Message
	}
	return "error: " + err.Error()
}

func produce(t *testing.T, cl *kgo.Client, values ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var rs []*kgo.Record
	for _, v := range values {
		rs = append(rs, kgo.StringRecord(v))
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// login sends Metadata for no topic.
func login(t *testing.T, cl *kgo.Client) string {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := req.RequestWith(ctx, cl)
	return outcome(err)
}

// metadata asks for topic's metadata and returns the topic's error.
func metadata(t *testing.T, cl *kgo.Client, topic string) string {
	req := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, mt)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return outcome(err)
	}
	for _, tp := range resp.Topics {
		return outcome(kerr.ErrorForCode(tp.ErrorCode))
	}
	return "no topic in the answer"
}

// consume reads n records, commits, and returns the values sorted.
func consume(t *testing.T, cl *kgo.Client, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []string
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consuming: %d of %d records: %v", len(got), n, fs.Errors())
		}
		for _, e := range fs.Errors() {
			t.Fatalf("consuming: partition %d: %v", e.Partition, e.Err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	cl.LeaveGroup()
	slices.Sort(got)
	return got
}
