package fabric

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/octofabric/octopus/internal/store"
)

// planes are the event planes the story runs against.
var planes = []struct {
	name  string
	start func(t testing.TB) string
}{
	{"embedded", startEmbedded},
	{"kafka", startKafka},
}

// TestStory runs the control plane's whole story against each event
// plane, with real Kafka clients over TCP logging in with the keys Fabric
// hands out.
func TestStory(t *testing.T) {
	for _, p := range planes {
		t.Run(p.name, func(t *testing.T) {
			if testing.Short() && p.name == "kafka" {
				t.Skip("-short: no Apache Kafka")
			}
			addr := p.start(t)
			start := time.Now()
			runStory(t, addr, openStore(t))
			t.Logf("story on %s took %v", p.name, time.Since(start).Round(time.Millisecond))
		})
	}
}

// story is one run's state and helpers.
type story struct {
	t    *testing.T
	last time.Time // of the previous step
	ctx  context.Context
	f    *Fabric
	addr string
}

func runStory(t *testing.T, addr string, st *store.Store) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	logs := new(logSink)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("fabric log:\n%s", logs.tail(40))
		}
	})
	s := &story{t: t, ctx: ctx, f: newFabric(t, addr, st, logs), addr: addr}
	tag := fmt.Sprintf("%06x", rand.Uint32()&0xffffff)
	alice := Caller{ID: "local:alice-" + tag, Name: "Alice " + tag}
	bob := Caller{ID: "local:bob-" + tag, Name: "Bob " + tag}

	meA := s.me(alice)
	meB := s.me(bob)
	if meA.Namespace != "alice-"+tag || meB.Namespace != "bob-"+tag {
		t.Fatalf("namespaces %q, %q; want alice-%s, bob-%s", meA.Namespace, meB.Namespace, tag, tag)
	}

	s.step("start")
	// A creates a key and a topic, and produces with the key at once.
	a1 := s.createKey(alice, "laptop")
	if !strings.HasPrefix(a1.Username, meA.Namespace+".k-") || len(a1.Secret) < 40 ||
		a1.Mechanism != "SCRAM-SHA-512" || len(a1.BootstrapServers) != 1 || a1.BootstrapServers[0] != addr {
		t.Fatalf("new key %+v", a1.Key)
	}
	if a1.Settings.Librdkafka["sasl.password"] != a1.Secret || !strings.Contains(a1.Settings.JavaProperties, a1.Username) ||
		a1.Settings.KafkaPython["sasl_plain_username"] != a1.Username || !strings.Contains(a1.Settings.FranzGo, a1.Secret) {
		t.Fatalf("client settings %+v", a1.Settings)
	}
	spec := TopicSpec{Name: "events", Partitions: 2}
	tp, err := s.f.CreateTopic(ctx, alice, spec)
	if err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	topic := tp.Name
	if topic != meA.Namespace+".events" || tp.Partitions != 2 || !tp.Owned {
		t.Fatalf("CreateTopic = %+v", tp)
	}
	// Idempotent: the same request, short or full name, gives the same topic.
	for _, name := range []string{"events", topic} {
		again, err := s.f.CreateTopic(ctx, alice, TopicSpec{Name: name, Partitions: 2})
		if err != nil || again.Name != topic || !again.CreatedAt.Equal(tp.CreatedAt) {
			t.Fatalf("CreateTopic again (%s) = %+v, %v; want the same topic", name, again, err)
		}
	}
	s.wantErr(func() error {
		_, err := s.f.CreateTopic(ctx, alice, TopicSpec{Name: "events", Partitions: 3})
		return err
	},
		Conflict, "topic_exists", "")
	s.produce(a1, topic, "one", "two", "three")

	s.step("A: key, topic, produce")
	// B, with a key of its own, cannot read it.
	b1 := s.createKey(bob, "workstation")
	if got := s.metadata(b1, topic); got != "TOPIC_AUTHORIZATION_FAILED" {
		t.Fatalf("B's metadata of %s before the grant: %s, want TOPIC_AUTHORIZATION_FAILED", topic, got)
	}
	if got := s.fetch(b1, topic); got != "TOPIC_AUTHORIZATION_FAILED" {
		t.Fatalf("B's fetch of %s before the grant: %s, want TOPIC_AUTHORIZATION_FAILED", topic, got)
	}
	s.wantErr(func() error { _, err := s.f.GetTopic(ctx, bob, topic); return err }, Forbidden, "no_access", "")

	s.step("B denied")
	// A grants B read; B consumes in a group of its namespace, cannot write.
	g, err := s.f.PutGrant(ctx, alice, topic, meB.Identity, Access{Read: true})
	if err != nil || g.Identity != meB.Identity || !g.Read || g.Write || g.Namespace != meB.Namespace {
		t.Fatalf("PutGrant = %+v, %v", g, err)
	}
	if g2, err := s.f.PutGrant(ctx, alice, topic, meB.Identity, Access{Read: true}); err != nil || g2.CreatedAt != g.CreatedAt {
		t.Fatalf("PutGrant again = %+v, %v; want the same grant", g2, err)
	}
	if gs, err := s.f.ListGrants(ctx, alice, "events"); err != nil || len(gs) != 1 ||
		gs[0].Identity != g.Identity || gs[0].Access() != (Access{Read: true}) || !gs[0].CreatedAt.Equal(g.CreatedAt) {
		t.Fatalf("ListGrants = %+v, %v; want [%+v]", gs, err, g)
	}
	s.wantErr(func() error { _, err := s.f.ListGrants(ctx, bob, topic); return err }, Forbidden, "not_owner", "")
	groupB := meB.Namespace + ".readers"
	if got := s.consume(b1, topic, groupB, 3); strings.Join(got, ",") != "one,three,two" {
		t.Fatalf("B consumed %v", got)
	}
	if got := s.produceErr(b1, topic); got != "TOPIC_AUTHORIZATION_FAILED" {
		t.Fatalf("B's produce with a read grant: %s, want TOPIC_AUTHORIZATION_FAILED", got)
	}
	if got := s.consumeErr(b1, topic, meA.Namespace+".stolen"); got != "GROUP_AUTHORIZATION_FAILED" {
		t.Fatalf("B consuming in a group of A's namespace: %s, want GROUP_AUTHORIZATION_FAILED", got)
	}
	groups, err := s.f.TopicGroups(ctx, alice, topic)
	if err != nil || len(groups) != 1 || groups[0].Group != groupB || groups[0].Lag != 0 || len(groups[0].Partitions) == 0 {
		t.Fatalf("TopicGroups = %+v, %v; want %s with lag 0", groups, err, groupB)
	}
	s.wantErr(func() error { _, err := s.f.TopicGroups(ctx, bob, topic); return err }, Forbidden, "not_owner", "")
	list, err := s.f.ListTopics(ctx, bob)
	if err != nil || len(list) != 1 || list[0].Name != topic || list[0].Owned || list[0].Access != (Access{Read: true}) {
		t.Fatalf("B's ListTopics = %+v, %v", list, err)
	}
	if bt, err := s.f.GetTopic(ctx, bob, topic); err != nil || bt.Grants != nil || bt.Partitions != 2 {
		t.Fatalf("B's GetTopic = %+v, %v; want no grants shown", bt, err)
	}

	s.step("grant, consume, lag")
	// A key B creates later inherits the grant.
	b2 := s.createKey(bob, "hpc")
	if got := s.metadata(b2, topic); got != "NONE" {
		t.Fatalf("B's second key, metadata of %s: %s", topic, got)
	}

	s.step("B's second key")
	// Recreate keeps the spec and the grants, and drops the data.
	if _, err := s.f.RecreateTopic(ctx, alice, topic); err != nil {
		t.Fatalf("RecreateTopic: %v", err)
	}
	if n := s.endOffsets(topic); n != 0 {
		t.Fatalf("%d records after RecreateTopic", n)
	}
	if got := s.metadata(b2, topic); got != "NONE" {
		t.Fatalf("B after RecreateTopic: %s, want the grant kept", got)
	}

	s.step("recreate")
	// Update: more partitions, a retention.
	hour := int64(3600_000)
	up, err := s.f.UpdateTopic(ctx, alice, "events", TopicUpdate{Partitions: 3, RetentionMs: &hour})
	if err != nil || up.Partitions != 3 || up.Configs["retention.ms"] != "3600000" {
		t.Fatalf("UpdateTopic = %+v, %v", up, err)
	}
	desc, err := s.f.GetTopic(ctx, alice, "events")
	if err != nil || desc.Partitions != 3 || len(desc.Grants) != 1 || desc.Grants[0].Identity != meB.Identity {
		t.Fatalf("GetTopic after update = %+v, %v", desc, err)
	}
	s.checkRetention(topic, "3600000")
	s.wantErr(func() error { _, err := s.f.UpdateTopic(ctx, alice, "events", TopicUpdate{Partitions: 2}); return err },
		Invalid, "invalid_partitions", "partitions")

	s.step("update")
	// A revokes the grant: B is refused, with either key, on new clients.
	if err := s.f.DeleteGrant(ctx, alice, topic, meB.Identity); err != nil {
		t.Fatalf("DeleteGrant: %v", err)
	}
	if err := s.f.DeleteGrant(ctx, alice, topic, meB.Identity); err != nil {
		t.Fatalf("DeleteGrant again: %v", err)
	}
	for _, k := range []NewKey{b1, b2} {
		if got := s.metadata(k, topic); got != "TOPIC_AUTHORIZATION_FAILED" {
			t.Fatalf("B (%s) after the grant was revoked: %s", k.Description, got)
		}
	}

	s.step("grant revoked")
	// A second key for A on another device leaves the first working;
	// revoking the first leaves the second working.
	a2 := s.createKey(alice, "beamline")
	s.produce(a1, topic, "from-a1")
	s.produce(a2, topic, "from-a2")
	if keys, err := s.f.ListKeys(ctx, alice); err != nil || len(keys) != 2 {
		t.Fatalf("ListKeys(A) = %+v, %v", keys, err)
	}
	// A connection a1 opened before its revocation stays open (neither
	// plane drops it), but every request on it is refused from then on.
	open := s.client(a1, kgo.DefaultProduceTopic(topic), kgo.DisableIdempotentWrite(), kgo.RecordRetries(0))
	if err := open.ProduceSync(ctx, kgo.StringRecord("before")).FirstErr(); err != nil {
		t.Fatalf("produce on a1's open connection: %v", err)
	}
	s.revoke(alice, a1)
	s.produce(a2, topic, "after-revoke")
	err = open.ProduceSync(ctx, kgo.StringRecord("after")).FirstErr()
	if got := outcome(err); got != "TOPIC_AUTHORIZATION_FAILED" && got != "SASL_AUTHENTICATION_FAILED" {
		t.Fatalf("produce on a1's connection opened before its revocation: %s, want a refusal", got)
	} else {
		t.Logf("a1's open connection after revocation: %s", got)
	}

	s.step("second key, revoke first")
	// Revoking B's key ends its logins; B's other key still logs in.
	s.revoke(bob, b1)
	if got := s.login(b2); got != "NONE" {
		t.Fatalf("B's other key after revoking one: %s", got)
	}
	if err := s.f.RevokeKey(ctx, bob, b1.ID); err != nil {
		t.Fatalf("RevokeKey again: %v", err)
	}
	s.wantErr(func() error { return s.f.RevokeKey(ctx, alice, b2.ID) }, NotFound, "key_not_found", "")

	s.step("revoke B's key")
	s.badInput(alice, bob, meA, meB, topic)

	s.step("bad input")
	// Delete: the owner only; afterwards the name is free and unknown.
	s.wantErr(func() error { return s.f.DeleteTopic(ctx, bob, topic) }, Forbidden, "no_access", "")
	if err := s.f.DeleteTopic(ctx, alice, topic); err != nil {
		t.Fatalf("DeleteTopic: %v", err)
	}
	s.wantErr(func() error { _, err := s.f.GetTopic(ctx, alice, topic); return err }, NotFound, "topic_not_found", "")
	s.wantErr(func() error { _, err := s.f.GetTopic(ctx, bob, topic); return err }, Forbidden, "no_access", "")
	if got := s.metadata(a2, topic); got != "UNKNOWN_TOPIC_OR_PARTITION" {
		t.Fatalf("A's metadata of the deleted topic: %s", got)
	}
	s.step("delete")
}

// badInput checks that each bad request fails with the right error and
// changes nothing.
func (s *story) badInput(alice, bob Caller, meA, meB Me, topic string) {
	t, ctx, f := s.t, s.ctx, s.f
	before, err := f.ListTopics(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", MaxTopicName-len(meA.Namespace)) // one too many with "ns."
	neg := int64(-2)
	cases := []struct {
		name  string
		call  func() error
		kind  Kind
		code  string
		field string
	}{
		{"empty name", func() error { _, err := f.CreateTopic(ctx, alice, TopicSpec{}); return err }, Invalid, "invalid_name", "name"},
		{"bad characters", func() error { _, err := f.CreateTopic(ctx, alice, TopicSpec{Name: "a b"}); return err }, Invalid, "invalid_name", "name"},
		{"unicode", func() error { _, err := f.CreateTopic(ctx, alice, TopicSpec{Name: "événement"}); return err }, Invalid, "invalid_name", "name"},
		{"path ../x", func() error { _, err := f.CreateTopic(ctx, alice, TopicSpec{Name: "../x"}); return err }, Invalid, "invalid_name", "name"},
		{"path a/b", func() error { _, err := f.CreateTopic(ctx, alice, TopicSpec{Name: "a/b"}); return err }, Invalid, "invalid_name", "name"},
		{"backslash", func() error { _, err := f.CreateTopic(ctx, alice, TopicSpec{Name: `a\b`}); return err }, Invalid, "invalid_name", "name"},
		{"dot", func() error { _, err := f.CreateTopic(ctx, alice, TopicSpec{Name: "."}); return err }, Invalid, "invalid_name", "name"},
		{"dot dot", func() error { _, err := f.CreateTopic(ctx, alice, TopicSpec{Name: ".."}); return err }, Invalid, "invalid_name", "name"},
		{"trailing dot", func() error { _, err := f.CreateTopic(ctx, alice, TopicSpec{Name: meA.Namespace + "."}); return err }, Invalid, "invalid_name", "name"},
		{"overlong", func() error {
			_, err := f.CreateTopic(ctx, alice, TopicSpec{Name: strings.Repeat("y", 250)})
			return err
		}, Invalid, "invalid_name", "name"},
		{"overlong with namespace", func() error { _, err := f.CreateTopic(ctx, alice, TopicSpec{Name: long}); return err }, Invalid, "invalid_name", "name"},
		{"partitions -1", func() error { _, err := f.CreateTopic(ctx, alice, TopicSpec{Name: "p", Partitions: -1}); return err }, Invalid, "invalid_partitions", "partitions"},
		{"partitions 1001", func() error { _, err := f.CreateTopic(ctx, alice, TopicSpec{Name: "p", Partitions: 1001}); return err }, Invalid, "invalid_partitions", "partitions"},
		{"retention -2", func() error { _, err := f.CreateTopic(ctx, alice, TopicSpec{Name: "p", RetentionMs: &neg}); return err }, Invalid, "invalid_retention", "retention_ms"},
		{"unknown config", func() error {
			_, err := f.CreateTopic(ctx, alice, TopicSpec{Name: "p", Configs: map[string]string{"unclean.leader.election.enable": "true"}})
			return err
		}, Invalid, "unknown_config", "configs.unclean.leader.election.enable"},
		{"config not a number", func() error {
			_, err := f.CreateTopic(ctx, alice, TopicSpec{Name: "p", Configs: map[string]string{"retention.bytes": "lots"}})
			return err
		}, Invalid, "invalid_config", "configs.retention.bytes"},
		{"another namespace", func() error { _, err := f.CreateTopic(ctx, alice, TopicSpec{Name: meB.Namespace + ".x"}); return err }, Forbidden, "not_your_namespace", ""},
		{"another identity's topic: grant", func() error { _, err := f.PutGrant(ctx, bob, topic, meB.Identity, Access{Read: true}); return err }, Forbidden, "no_access", ""},
		{"another identity's topic: update", func() error { _, err := f.UpdateTopic(ctx, bob, topic, TopicUpdate{Partitions: 5}); return err }, Forbidden, "no_access", ""},
		{"another identity's topic: recreate", func() error { _, err := f.RecreateTopic(ctx, bob, topic); return err }, Forbidden, "no_access", ""},
		{"another namespace, no such topic", func() error { _, err := f.GetTopic(ctx, bob, meA.Namespace+".nope"); return err }, Forbidden, "no_access", ""},
		{"own namespace, no such topic", func() error { _, err := f.GetTopic(ctx, alice, "nope"); return err }, NotFound, "topic_not_found", ""},
		{"unknown grantee", func() error { _, err := f.PutGrant(ctx, alice, topic, "local:nobody", Access{Read: true}); return err }, NotFound, "identity_not_found", ""},
		{"grant to self", func() error { _, err := f.PutGrant(ctx, alice, topic, meA.Identity, Access{Read: true}); return err }, Invalid, "self_grant", "identity"},
		{"unknown key", func() error { return f.RevokeKey(ctx, alice, "nokey") }, NotFound, "key_not_found", ""},
		{"key expiring in the past", func() error {
			past := time.Now().Add(-time.Minute)
			_, err := f.CreateKey(ctx, alice, KeySpec{ExpiresAt: &past})
			return err
		}, Invalid, "invalid_expiry", "expires_at"},
		{"key description with control characters", func() error { _, err := f.CreateKey(ctx, alice, KeySpec{Description: "a\nb"}); return err }, Invalid, "invalid_description", "description"},
		{"no caller", func() error { _, err := f.ListTopics(ctx, Caller{}); return err }, Unauthenticated, "no_identity", ""},
	}
	for _, c := range cases {
		t.Run("bad input/"+c.name, func(t *testing.T) {
			s := *s
			s.t = t
			s.wantErr(c.call, c.kind, c.code, c.field)
		})
	}
	after, err := f.ListTopics(ctx, alice)
	if err != nil || len(after) != len(before) {
		t.Fatalf("topics after bad input: %d (%v), before %d", len(after), err, len(before))
	}
	if keys, err := f.ListKeys(ctx, alice); err != nil || len(keys) != 1 {
		t.Fatalf("A's keys after bad input: %+v, %v", keys, err)
	}
}

// step logs how long the previous step took.
func (s *story) step(name string) {
	now := time.Now()
	if !s.last.IsZero() {
		s.t.Logf("%-40s %v", name, now.Sub(s.last).Round(time.Millisecond))
	}
	s.last = now
}

func (s *story) me(c Caller) Me {
	s.t.Helper()
	m, err := s.f.Me(s.ctx, c)
	if err != nil {
		s.t.Fatalf("Me(%s): %v", c.ID, err)
	}
	again, err := s.f.Me(s.ctx, c)
	if err != nil || again != m {
		s.t.Fatalf("Me(%s) again = %+v, %v; want %+v", c.ID, again, err, m)
	}
	return m
}

func (s *story) createKey(c Caller, device string) NewKey {
	s.t.Helper()
	start := time.Now()
	k, err := s.f.CreateKey(s.ctx, c, KeySpec{Description: device})
	if err != nil {
		s.t.Fatalf("CreateKey(%s, %s): %v", c.ID, device, err)
	}
	s.t.Logf("CreateKey(%s) took %v", device, time.Since(start).Round(time.Millisecond))
	// Usable at once: it logs in on the first try.
	if got := s.login(k); got != "NONE" {
		s.t.Fatalf("logging in with the new key %s: %s", k.Username, got)
	}
	return k
}

func (s *story) revoke(c Caller, k NewKey) {
	s.t.Helper()
	if err := s.f.RevokeKey(s.ctx, c, k.ID); err != nil {
		s.t.Fatalf("RevokeKey(%s): %v", k.Description, err)
	}
	if got := s.login(k); got != "SASL_AUTHENTICATION_FAILED" {
		s.t.Fatalf("logging in with the revoked key %s: %s, want SASL_AUTHENTICATION_FAILED", k.Username, got)
	}
	keys, err := s.f.ListKeys(s.ctx, c)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, x := range keys {
		if x.ID == k.ID {
			s.t.Fatalf("revoked key %s still listed", k.ID)
		}
	}
}

// wantErr fails unless call returns an *Error of kind, code and field.
func (s *story) wantErr(call func() error, kind Kind, code, field string) {
	s.t.Helper()
	err := call()
	var e *Error
	if !errors.As(err, &e) || e.Kind != kind || e.Code != code || e.Field != field {
		s.t.Fatalf("error %v; want %v %s field %q", err, kind, code, field)
	}
	if e.Message == "" {
		s.t.Fatalf("error %v without a message", err)
	}
}

// client returns a franz-go client logging in with key k, closed with the test.
func (s *story) client(k NewKey, opts ...kgo.Opt) *kgo.Client {
	s.t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(k.BootstrapServers...),
		kgo.SASL(scram.Auth{User: k.Username, Pass: k.Secret}.AsSha512Mechanism()),
		kgo.ClientID("fabric-story"),
		kgo.RetryTimeout(5 * time.Second),
	}, opts...)...)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(cl.Close)
	return cl
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

// login logs in with k on a new client and sends Metadata for no topic.
func (s *story) login(k NewKey) string {
	cl := s.client(k, kgo.RequestRetries(0))
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{}
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	_, err := req.RequestWith(ctx, cl)
	return outcome(err)
}

// metadata asks, on a new client as k, for topic's metadata and returns
// the topic's error.
func (s *story) metadata(k NewKey, topic string) string {
	cl := s.client(k)
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, mt)
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return outcome(err)
	}
	for _, t := range resp.Topics {
		return outcome(kerr.ErrorForCode(t.ErrorCode))
	}
	return "no topic in the answer"
}

// fetch sends one Fetch of partition 0 as k and returns its error.
func (s *story) fetch(k NewKey, topic string) string {
	cl := s.client(k, kgo.MaxVersions(kversion.V3_0_0())) // Fetch v12: topics by name
	defer cl.Close()
	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis, req.MaxBytes = 10, 1<<20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = topic
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	req.Topics = append(req.Topics, ft)
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	resp, err := cl.Request(ctx, req)
	if err != nil {
		return outcome(err)
	}
	r := resp.(*kmsg.FetchResponse)
	if r.ErrorCode != 0 {
		return outcome(kerr.ErrorForCode(r.ErrorCode))
	}
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			return outcome(kerr.ErrorForCode(p.ErrorCode))
		}
	}
	return "no partition in the answer"
}

// produce writes values to topic as k, failing the test on an error.
func (s *story) produce(k NewKey, topic string, values ...string) {
	s.t.Helper()
	cl := s.client(k, kgo.DefaultProduceTopic(topic))
	defer cl.Close()
	ctx, cancel := context.WithTimeout(s.ctx, 15*time.Second)
	defer cancel()
	var rs []*kgo.Record
	for _, v := range values {
		rs = append(rs, kgo.StringRecord(v))
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		s.t.Fatalf("produce to %s as %s (%s): %v", topic, k.Username, k.Description, err)
	}
}

// produceErr produces one record as k and returns the outcome.
func (s *story) produceErr(k NewKey, topic string) string {
	cl := s.client(k, kgo.DefaultProduceTopic(topic), kgo.DisableIdempotentWrite())
	defer cl.Close()
	ctx, cancel := context.WithTimeout(s.ctx, 15*time.Second)
	defer cancel()
	return outcome(cl.ProduceSync(ctx, kgo.StringRecord("x")).FirstErr())
}

// consume reads n records of topic in group as k, commits, and returns
// the values sorted.
func (s *story) consume(k NewKey, topic, group string, n int) []string {
	s.t.Helper()
	cl := s.client(k, kgo.ConsumeTopics(topic), kgo.ConsumerGroup(group),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	defer cl.Close()
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	var got []string
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			s.t.Fatalf("consuming %s in %s as %s: %d of %d records: %v", topic, group, k.Username, len(got), n, fs.Errors())
		}
		for _, e := range fs.Errors() {
			s.t.Fatalf("consuming %s in %s as %s: partition %d: %v", topic, group, k.Username, e.Partition, e.Err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		s.t.Fatalf("commit in %s: %v", group, err)
	}
	cl.LeaveGroup()
	slices.Sort(got)
	return got
}

// consumeErr joins group as k and returns the first error polling gives.
func (s *story) consumeErr(k NewKey, topic, group string) string {
	cl := s.client(k, kgo.ConsumeTopics(topic), kgo.ConsumerGroup(group), kgo.DisableAutoCommit())
	defer cl.Close()
	ctx, cancel := context.WithTimeout(s.ctx, 15*time.Second)
	defer cancel()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return "timeout"
		}
		for _, e := range fs.Errors() {
			return outcome(e.Err)
		}
	}
}

// endOffsets returns the sum of topic's end offsets, as admin.
func (s *story) endOffsets(topic string) int64 {
	s.t.Helper()
	os, err := s.f.adm.ListEndOffsets(s.ctx, topic)
	if err == nil {
		err = os.Error()
	}
	if err != nil {
		s.t.Fatalf("ListEndOffsets(%s): %v", topic, err)
	}
	var n int64
	os.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

// checkRetention checks the event plane's retention.ms of topic.
func (s *story) checkRetention(topic, want string) {
	s.t.Helper()
	rs, err := s.f.adm.DescribeTopicConfigs(s.ctx, topic)
	if err != nil {
		s.t.Fatal(err)
	}
	rc, err := rs.On(topic, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, c := range rc.Configs {
		if c.Key == "retention.ms" {
			if c.Value == nil || *c.Value != want {
				s.t.Fatalf("retention.ms of %s in the event plane: %v, want %s", topic, c.MaybeValue(), want)
			}
			return
		}
	}
	s.t.Fatalf("no retention.ms in %s's configs", topic)
}

// TestRevokeEndsSessions shows what happens to a connection that logged
// in with a key before the key was revoked: its requests are denied at
// once (the ACLs are gone), and at its next re-authentication, which
// connections.max.reauth.ms forces, the session ends for good.
func TestRevokeEndsSessions(t *testing.T) {
	for _, p := range planes {
		t.Run(p.name, func(t *testing.T) {
			if testing.Short() && p.name == "kafka" {
				t.Skip("-short: no Apache Kafka")
			}
			addr := p.start(t)
			logs := new(logSink)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			s := &story{t: t, ctx: ctx, f: newFabric(t, addr, openStore(t), logs), addr: addr}
			carol := Caller{ID: fmt.Sprintf("local:carol-%06x", rand.Uint32()&0xffffff), Name: "carol"}
			k := s.createKey(carol, "sensor")
			tp, err := s.f.CreateTopic(ctx, carol, TopicSpec{Name: "readings"})
			if err != nil {
				t.Fatal(err)
			}
			cl := s.client(k, kgo.DefaultProduceTopic(tp.Name), kgo.DisableIdempotentWrite(), kgo.RecordDeliveryTimeout(5*time.Second))
			if err := cl.ProduceSync(ctx, kgo.StringRecord("before")).FirstErr(); err != nil {
				t.Fatalf("produce before revoking: %v", err)
			}
			if err := s.f.RevokeKey(ctx, carol, k.ID); err != nil {
				t.Fatal(err)
			}
			// TOPIC_AUTHORIZATION_FAILED while the producer's session lives on
			// (SASL_AUTHENTICATION_FAILED if it re-authenticated meanwhile).
			got := outcome(cl.ProduceSync(ctx, kgo.StringRecord("just after")).FirstErr())
			if got != "TOPIC_AUTHORIZATION_FAILED" && got != "SASL_AUTHENTICATION_FAILED" {
				t.Fatalf("produce on the open connection just after revoking: %s", got)
			}
			t.Logf("produce on the open connection just after revoking: %s", got)
			// After the longest session, it has ended for good.
			time.Sleep(testMaxReauth + time.Second)
			err = cl.ProduceSync(ctx, kgo.StringRecord("after reauth")).FirstErr()
			if got := outcome(err); got != "SASL_AUTHENTICATION_FAILED" {
				t.Fatalf("produce on the old client after max reauth: %s, want SASL_AUTHENTICATION_FAILED", got)
			}
		})
	}
}
