package test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// secRuns numbers TestSecurityDifferential runs within one test binary
// (-count), whose Kafka keeps every earlier run's users and ACLs.
var secRuns atomic.Int32

// TestSecurityDifferential proves Octopus authenticates and authorizes as
// Apache Kafka does: one scripted sequence (SCRAM credentials, a user
// without ACLs, ACLs added one by one, DescribeAcls and DeleteAcls filters,
// failed and changed credentials) runs against Kafka with SASL and the
// StandardAuthorizer (scripts/kafka.sh, KAFKA_SECURITY=sasl) and against an
// in-process Octopus configured alike; every allowed/denied outcome and
// error code must be equal.
func TestSecurityDifferential(t *testing.T) {
	kafkaAddr := startSecureKafka(t)
	octoAddr, _ := startSecureOctopus(t, secOctopusOpts{})

	vers := secVersions(t, kafkaAddr, octoAddr)
	tag := fmt.Sprintf("sec%d", secRuns.Add(1))
	kafka := &secTarget{name: "kafka", addr: kafkaAddr, tag: tag, vers: vers}
	octo := &secTarget{name: "octopus", addr: octoAddr, tag: tag, vers: vers}
	t.Logf("Kafka (SASL) at %s, Octopus (SASL) at %s, names start with %s", kafkaAddr, octoAddr, tag)

	ko, oo := newObservations(t), newObservations(t)
	okK := t.Run("kafka", func(t *testing.T) { ko.t = t; secSequence(t, kafka, ko) })
	okO := t.Run("octopus", func(t *testing.T) { oo.t = t; secSequence(t, octo, oo) })
	if !okK {
		t.Logf("the Kafka run failed; observations so far, Kafka:\n%s", ko)
		t.FailNow()
	}
	if !okO {
		t.Errorf("the Octopus run failed; comparing what it observed")
	}
	compareObservations(t, ko, oo, nil)
}

// secActor is one authenticated user of a sequence, with helpers that send
// one request each and return what the user sees: an error code (or a
// client-side failure) and, for listings, the run's entries.
type secActor struct {
	t   *testing.T
	d   *secTarget
	c   cred
	cl  *kgo.Client
	ids map[string][16]byte // topic ids, learnt by the admin
}

func (d *secTarget) actor(t *testing.T, c cred, ids map[string][16]byte) *secActor {
	return &secActor{t: t, d: d, c: c, cl: d.client(t, c), ids: ids}
}

func (a *secActor) do(req kmsg.Request) (kmsg.Response, string) { return a.d.request(a.cl, req) }

// metadataAll lists the run's topics that Metadata (all topics) shows.
func (a *secActor) metadataAll() []string {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = nil
	resp, failed := a.do(req)
	if resp == nil {
		return []string{failed}
	}
	out := []string{}
	for _, rt := range resp.(*kmsg.MetadataResponse).Topics {
		if rt.Topic != nil && strings.HasPrefix(*rt.Topic, a.d.tag+".") {
			out = append(out, a.d.norm(*rt.Topic)+" "+errName(rt.ErrorCode))
		}
	}
	slices.Sort(out)
	return out
}

// metadata is the error Metadata gives for one named topic.
func (a *secActor) metadata(topic string) string {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, failed := a.do(req)
	if resp == nil {
		return failed
	}
	for _, rt := range resp.(*kmsg.MetadataResponse).Topics {
		if rt.Topic != nil && *rt.Topic == topic {
			return errName(rt.ErrorCode)
		}
	}
	return "topic missing from the response"
}

// produce writes one record to partition 0 with acks=all.
func (a *secActor) produce(topic string) string {
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic, rt.TopicID = topic, a.ids[topic]
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = oracleBatch(time.Now().UnixMilli(), []byte("k"), []byte(a.c.user))
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, failed := a.do(req)
	if resp == nil {
		return failed
	}
	var out []string
	for _, st := range resp.(*kmsg.ProduceResponse).Topics {
		for _, sp := range st.Partitions {
			out = append(out, errName(sp.ErrorCode))
		}
	}
	return strings.Join(out, " ")
}

// produceKgo produces one record with a real, idempotent kgo producer (a
// new client, so it starts with InitProducerId).
func (a *secActor) produceKgo(topic string) string {
	cl := a.d.client(a.t, a.c, kgo.DefaultProduceTopic(topic), kgo.RecordRetries(3), kgo.ProduceRequestTimeout(5*time.Second))
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return a.d.outcome(cl.ProduceSync(ctx, &kgo.Record{Value: []byte("kgo " + a.c.user)}).FirstErr())
}

// fetch reads partition 0 from offset 0 without waiting.
func (a *secActor) fetch(topic string) string {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes, req.SessionEpoch = -1, 0, 0, 1<<20, -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, a.ids[topic]
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LastFetchedEpoch, rp.LogStartOffset = 1<<20, -1, -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, failed := a.do(req)
	if resp == nil {
		return failed
	}
	r := resp.(*kmsg.FetchResponse)
	if r.ErrorCode != 0 {
		return "top-level " + errName(r.ErrorCode)
	}
	var out []string
	for _, st := range r.Topics {
		for _, sp := range st.Partitions {
			out = append(out, errName(sp.ErrorCode))
		}
	}
	return strings.Join(out, " ")
}

// listOffsets asks for partition 0's latest offset.
func (a *secActor) listOffsets(topic string) string {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp, rp.CurrentLeaderEpoch = -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, failed := a.do(req)
	if resp == nil {
		return failed
	}
	var out []string
	for _, st := range resp.(*kmsg.ListOffsetsResponse).Topics {
		for _, sp := range st.Partitions {
			out = append(out, errName(sp.ErrorCode))
		}
	}
	return strings.Join(out, " ")
}

// createTopic creates a one-partition topic.
func (a *secActor) createTopic(topic string) string {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 15000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, 1, 1
	req.Topics = append(req.Topics, rt)
	resp, failed := a.do(req)
	if resp == nil {
		return failed
	}
	var out []string
	for _, st := range resp.(*kmsg.CreateTopicsResponse).Topics {
		out = append(out, errName(st.ErrorCode))
	}
	return strings.Join(out, " ")
}

// deleteTopic deletes a topic by name.
func (a *secActor) deleteTopic(topic string) string {
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TimeoutMillis = 15000
	req.TopicNames = []string{topic}
	rt := kmsg.NewDeleteTopicsRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, failed := a.do(req)
	if resp == nil {
		return failed
	}
	var out []string
	for _, st := range resp.(*kmsg.DeleteTopicsResponse).Topics {
		out = append(out, errName(st.ErrorCode))
	}
	return strings.Join(out, " ")
}

// describeConfigs describes one config of a topic.
func (a *secActor) describeConfigs(topic string) string {
	req := kmsg.NewPtrDescribeConfigsRequest()
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName, rr.ConfigNames = kmsg.ConfigResourceTypeTopic, topic, []string{"retention.ms"}
	req.Resources = append(req.Resources, rr)
	resp, failed := a.do(req)
	if resp == nil {
		return failed
	}
	var out []string
	for _, r := range resp.(*kmsg.DescribeConfigsResponse).Resources {
		out = append(out, errName(r.ErrorCode))
	}
	return strings.Join(out, " ")
}

// describeCluster is DescribeCluster's error, and whether it listed a
// broker.
func (a *secActor) describeCluster() string {
	req := kmsg.NewPtrDescribeClusterRequest()
	resp, failed := a.do(req)
	if resp == nil {
		return failed
	}
	r := resp.(*kmsg.DescribeClusterResponse)
	return fmt.Sprintf("%s brokers=%d", errName(r.ErrorCode), len(r.Brokers))
}

// initProducerID asks for an idempotent producer id.
func (a *secActor) initProducerID() string {
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionTimeoutMillis, req.ProducerID, req.ProducerEpoch = 60000, -1, -1
	resp, failed := a.do(req)
	if resp == nil {
		return failed
	}
	return errName(resp.(*kmsg.InitProducerIDResponse).ErrorCode)
}

// findCoordinator looks up a group's coordinator.
func (a *secActor) findCoordinator(group string) string {
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorKey, req.CoordinatorKeys = group, []string{group}
	resp, failed := a.do(req)
	if resp == nil {
		return failed
	}
	r := resp.(*kmsg.FindCoordinatorResponse)
	if len(r.Coordinators) > 0 {
		return errName(r.Coordinators[0].ErrorCode)
	}
	return errName(r.ErrorCode)
}

// joinGroup sends a first JoinGroup (no member id) for a consumer of topic;
// an authorized one gets MEMBER_ID_REQUIRED (v4+).
func (a *secActor) joinGroup(group, topic string) string {
	req := kmsg.NewPtrJoinGroupRequest()
	req.Group, req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = group, 10000, 10000
	req.ProtocolType = "consumer"
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name, p.Metadata = "range", consumerMetadata(topic)
	req.Protocols = append(req.Protocols, p)
	resp, failed := a.do(req)
	if resp == nil {
		return failed
	}
	return errName(resp.(*kmsg.JoinGroupResponse).ErrorCode)
}

// offsetCommit commits offset 1 of topic's partition 0 for a simple group
// (generation -1).
func (a *secActor) offsetCommit(group, topic string) string {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.Generation, req.MemberID = group, -1, ""
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic, rt.TopicID = topic, a.ids[topic]
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Offset, rp.LeaderEpoch = 1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, failed := a.do(req)
	if resp == nil {
		return failed
	}
	var out []string
	for _, st := range resp.(*kmsg.OffsetCommitResponse).Topics {
		for _, sp := range st.Partitions {
			out = append(out, errName(sp.ErrorCode))
		}
	}
	return strings.Join(out, " ")
}

// offsetFetch fetches the group's offset for topic's partition 0: the
// group's error, then each partition's offset and error.
func (a *secActor) offsetFetch(group, topic string) string {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic, rt.Partitions = topic, []int32{0}
	req.Topics = append(req.Topics, rt)
	g := kmsg.NewOffsetFetchRequestGroup()
	g.Group, g.MemberEpoch = group, -1
	gt := kmsg.NewOffsetFetchRequestGroupTopic()
	gt.Topic, gt.TopicID, gt.Partitions = topic, a.ids[topic], []int32{0}
	g.Topics = append(g.Topics, gt)
	req.Groups = append(req.Groups, g)
	resp, failed := a.do(req)
	if resp == nil {
		return failed
	}
	r := resp.(*kmsg.OffsetFetchResponse)
	code := r.ErrorCode
	var parts []string
	add := func(p int32, off int64, c int16) { parts = append(parts, fmt.Sprintf("p%d=%d %s", p, off, errName(c))) }
	if len(r.Groups) > 0 {
		code = r.Groups[0].ErrorCode
		for _, st := range r.Groups[0].Topics {
			for _, sp := range st.Partitions {
				add(sp.Partition, sp.Offset, sp.ErrorCode)
			}
		}
	} else {
		for _, st := range r.Topics {
			for _, sp := range st.Partitions {
				add(sp.Partition, sp.Offset, sp.ErrorCode)
			}
		}
	}
	return strings.TrimSpace(errName(code) + " " + strings.Join(parts, " "))
}

// consumeGroup consumes topic with a real kgo consumer, as a member of
// group unless it is "", until want records arrived (or 20 s passed),
// commits, leaves, and returns how many it got and the first error it saw.
func (a *secActor) consumeGroup(group, topic string, want int) string {
	opts := []kgo.Opt{
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200 * time.Millisecond),
	}
	if group != "" {
		opts = append(opts, kgo.ConsumerGroup(group), kgo.SessionTimeout(10*time.Second), kgo.DisableAutoCommit())
	}
	cl := a.d.client(a.t, a.c, opts...)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got, firstErr := 0, "NONE"
	for got < want && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachError(func(_ string, _ int32, err error) {
			if firstErr == "NONE" && ctx.Err() == nil {
				firstErr = a.d.outcome(err)
			}
		})
		if firstErr != "NONE" {
			break
		}
		got += fs.NumRecords()
	}
	switch {
	case firstErr != "NONE":
	case got < want:
		firstErr = "timeout"
	case group == "":
	default:
		firstErr = a.d.outcome(cl.CommitUncommittedOffsets(ctx))
	}
	return fmt.Sprintf("records=%d err=%s", got, firstErr)
}

// describeSCRAMRaw is DescribeUserScramCredentials of users: the top-level
// error, then each result's user and error. users is never null: Kafka 4.4
// fails with a NullPointerException, and never answers, when a user without
// DESCRIBE on the cluster asks for all users.
func (a *secActor) describeSCRAMRaw(users ...string) string {
	req := kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()
	req.Users = []kmsg.DescribeUserSCRAMCredentialsRequestUser{}
	for _, u := range users {
		ru := kmsg.NewDescribeUserSCRAMCredentialsRequestUser()
		ru.Name = u
		req.Users = append(req.Users, ru)
	}
	resp, failed := a.do(req)
	if resp == nil {
		return failed
	}
	r := resp.(*kmsg.DescribeUserSCRAMCredentialsResponse)
	out := errName(r.ErrorCode)
	for _, res := range r.Results {
		out += fmt.Sprintf(" [%q %s]", a.d.norm(res.User), errName(res.ErrorCode))
	}
	return out
}

// alterSCRAMRaw tries to delete user's SCRAM-SHA-512 credential and
// returns each result's error.
func (a *secActor) alterSCRAMRaw(user string) string {
	req := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	del := kmsg.NewAlterUserSCRAMCredentialsRequestDeletion()
	del.Name, del.Mechanism = user, 2
	req.Deletions = append(req.Deletions, del)
	resp, failed := a.do(req)
	if resp == nil {
		return failed
	}
	var out []string
	for _, r := range resp.(*kmsg.AlterUserSCRAMCredentialsResponse).Results {
		out = append(out, a.d.norm(r.User)+" "+errName(r.ErrorCode))
	}
	return strings.Join(out, " ")
}

// Shorthands for ACL specs.
const (
	rTopic   = kmsg.ACLResourceTypeTopic
	rGroup   = kmsg.ACLResourceTypeGroup
	rCluster = kmsg.ACLResourceTypeCluster
	rAny     = kmsg.ACLResourceTypeAny
	pLiteral = kmsg.ACLResourcePatternTypeLiteral
	pPrefix  = kmsg.ACLResourcePatternTypePrefixed
	pMatch   = kmsg.ACLResourcePatternTypeMatch
	pAny     = kmsg.ACLResourcePatternTypeAny
	allow    = kmsg.ACLPermissionTypeAllow
	deny     = kmsg.ACLPermissionTypeDeny
	anyPerm  = kmsg.ACLPermissionTypeAny
	opAny    = kmsg.ACLOperationAny
)

// authFailed is the outcome of a refused credential.
var authFailed = errName(kerr.SaslAuthenticationFailed.Code)

// secSequence is the scripted sequence of TestSecurityDifferential. It
// records every outcome in o; only a failure of the setup (as the super
// user) stops it.
func secSequence(t *testing.T, d *secTarget, o *observations) {
	var (
		adminOnly = d.topic("admin-only")
		aliceA    = d.topic("alice-a")
		aliceB    = d.topic("alice-b")
		shared    = d.topic("shared.")
		sharedX   = d.topic("shared.x")
		sharedY   = d.topic("shared.y")
		groupA    = d.topic("group-alice")
		groupB    = d.topic("group-bob")
		aliceName = d.user("alice")
		bobName   = d.user("bob")
		alicePr   = "User:" + aliceName
		bobPr     = "User:" + bobName
	)
	alice := cred{aliceName, "alice-secret", "SCRAM-SHA-512"}
	bob := cred{bobName, "bob-secret", "SCRAM-SHA-512"}
	bob256 := cred{bobName, "bob-secret-256", "SCRAM-SHA-256"}

	// Setup, as the super user: topics, records, group coordinators.
	ids := map[string][16]byte{}
	root := d.actor(t, admin, ids)
	adm := kadm.NewClient(root.cl)
	for _, topic := range []string{adminOnly, aliceA, aliceB, sharedX, sharedY} {
		if got := root.createTopic(topic); got != "NONE" {
			t.Fatalf("%s: admin creates %s: %s", d.name, topic, got)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, topic := range []string{adminOnly, aliceA, aliceB, sharedX, sharedY} {
		for root.listOffsets(topic) != "NONE" || root.metadata(topic) != "NONE" {
			if time.Now().After(deadline) {
				t.Fatalf("%s: topic %s not ready: metadata %s, list offsets %s", d.name, topic, root.metadata(topic), root.listOffsets(topic))
			}
			time.Sleep(50 * time.Millisecond)
		}
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
		resp, failed := root.do(req)
		if resp == nil {
			t.Fatalf("%s: metadata %s: %s", d.name, topic, failed)
		}
		ids[topic] = resp.(*kmsg.MetadataResponse).Topics[0].TopicID
	}
	for range 3 {
		if got := root.produce(sharedX); got != "NONE" {
			t.Fatalf("%s: admin produces to %s: %s", d.name, sharedX, got)
		}
	}
	deadline = time.Now().Add(45 * time.Second) // Kafka creates __consumer_offsets now
	for _, g := range []string{groupA, groupB} {
		for root.findCoordinator(g) != "NONE" || !strings.HasPrefix(root.offsetFetch(g, sharedX), "NONE") {
			if time.Now().After(deadline) {
				t.Fatalf("%s: no coordinator for %s: %s", d.name, g, root.findCoordinator(g))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	o.add("setup/admin-metadata-all", root.metadataAll())

	// SCRAM credentials, created and described by the admin.
	// A user may appear once per request: bob's two mechanisms together
	// are refused, then created one request each.
	o.add("scram/create-two-mechanisms-one-request", d.alterSCRAMs(adm, nil, []kadm.UpsertSCRAM{
		{User: aliceName, Mechanism: kadm.ScramSha512, Iterations: 4096, Password: alice.pass},
		{User: bobName, Mechanism: kadm.ScramSha512, Iterations: 4096, Password: bob.pass},
		{User: bobName, Mechanism: kadm.ScramSha256, Iterations: 8192, Password: bob256.pass},
	}))
	o.add("scram/create-bob-sha512", d.alterSCRAMs(adm, nil, []kadm.UpsertSCRAM{{User: bobName, Mechanism: kadm.ScramSha512, Iterations: 4096, Password: bob.pass}}))
	o.add("scram/create-bob-sha256", d.alterSCRAMs(adm, nil, []kadm.UpsertSCRAM{{User: bobName, Mechanism: kadm.ScramSha256, Iterations: 8192, Password: bob256.pass}}))
	o.add("scram/create-visible", d.waitSCRAM(adm, aliceName, d.norm(aliceName)+" NONE [SCRAM-SHA-512=iterations=4096]"))
	o.add("scram/create-visible-bob", d.waitSCRAM(adm, bobName, d.norm(bobName)+" NONE [SCRAM-SHA-256=iterations=8192 SCRAM-SHA-512=iterations=4096]"))
	o.add("scram/describe-named-and-unknown", d.describeSCRAMs(adm, aliceName, bobName, d.user("nobody")))
	o.add("scram/describe-all", d.describeSCRAMs(adm))
	o.add("scram/describe-duplicate-user", d.describeSCRAMs(adm, aliceName, aliceName))
	salt := []byte("0123456789abcdef01234567")
	o.add("scram/upsert-iterations-1024", d.alterSCRAMs(adm, nil, []kadm.UpsertSCRAM{{User: d.user("carol"), Mechanism: kadm.ScramSha512, Iterations: 1024, Salt: salt, SaltedPassword: make([]byte, 64)}}))
	o.add("scram/upsert-iterations-20000", d.alterSCRAMs(adm, nil, []kadm.UpsertSCRAM{{User: d.user("carol"), Mechanism: kadm.ScramSha512, Iterations: 20000, Salt: salt, SaltedPassword: make([]byte, 64)}}))
	o.add("scram/delete-unknown-user", d.alterSCRAMs(adm, []kadm.DeleteSCRAM{{User: d.user("nobody"), Mechanism: kadm.ScramSha512}}, nil))
	o.add("scram/upsert-and-delete-one-user", d.alterSCRAMs(adm,
		[]kadm.DeleteSCRAM{{User: d.user("dave"), Mechanism: kadm.ScramSha512}},
		[]kadm.UpsertSCRAM{{User: d.user("dave"), Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "dave-secret"}}))
	o.add("scram/upsert-empty-user", d.alterSCRAMs(adm, nil, []kadm.UpsertSCRAM{{User: "", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "x"}}))
	o.add("auth/alice", d.authenticateEventually(t, alice, "NONE"))
	o.add("auth/bob-sha512", d.authenticateEventually(t, bob, "NONE"))
	o.add("auth/bob-sha256", d.authenticateEventually(t, bob256, "NONE"))
	o.add("auth/admin-plain", d.authenticate(t, cred{"admin", secAdminPassword, "PLAIN"}))

	// Alice without any ACL.
	al := d.actor(t, alice, ids)
	o.add("alice/no-acls/metadata-all", al.metadataAll())
	o.add("alice/no-acls/metadata-admin-topic", al.metadata(adminOnly))
	o.add("alice/no-acls/metadata-unknown-topic", al.metadata(d.topic("no-such-topic")))
	o.add("alice/no-acls/produce", al.produce(aliceA))
	o.add("alice/no-acls/produce-kgo", al.produceKgo(aliceA))
	o.add("alice/no-acls/fetch", al.fetch(aliceA))
	o.add("alice/no-acls/consume-kgo", al.consumeGroup("", aliceA, 1))
	o.add("alice/no-acls/consume-kgo-group", al.consumeGroup(groupA, aliceA, 1))
	o.add("alice/no-acls/list-offsets", al.listOffsets(aliceA))
	o.add("alice/no-acls/create-topic", al.createTopic(d.topic("alice-new")))
	o.add("alice/no-acls/delete-topic", al.deleteTopic(adminOnly))
	o.add("alice/no-acls/describe-configs", al.describeConfigs(aliceA))
	o.add("alice/no-acls/describe-cluster", al.describeCluster())
	o.add("alice/no-acls/init-producer-id", al.initProducerID())
	o.add("alice/no-acls/find-coordinator", al.findCoordinator(groupA))
	o.add("alice/no-acls/join-group", al.joinGroup(groupA, aliceA))
	o.add("alice/no-acls/offset-commit", al.offsetCommit(groupA, aliceA))
	o.add("alice/no-acls/offset-fetch", al.offsetFetch(groupA, aliceA))
	o.add("alice/no-acls/create-acls", d.createACLs(al.cl, aclSpec{rTopic, aliceA, pLiteral, alicePr, "*", kmsg.ACLOperationRead, allow}))
	code, bs := d.describeACLs(al.cl, aclSpec{rAny, "", pAny, "", "", opAny, anyPerm})
	o.add("alice/no-acls/describe-acls", append([]string{code}, bs...))
	o.add("alice/no-acls/delete-acls", d.deleteACLs(al.cl, aclSpec{rTopic, aliceA, pLiteral, "", "", opAny, anyPerm}))
	o.add("alice/no-acls/describe-scram", al.describeSCRAMRaw(bobName))
	o.add("alice/no-acls/describe-scram-empty-list", al.describeSCRAMRaw())
	o.add("alice/no-acls/alter-scram", al.alterSCRAMRaw(bobName))
	o.add("admin/topic-survived-alice", root.metadata(adminOnly))

	// ACLs, added one step at a time; each step waits until the ACL is
	// visible and re-runs what it changes.
	step := func(name string, specs ...aclSpec) {
		o.add("acl/"+name+"/create", d.createACLs(root.cl, specs...))
		for i, a := range specs {
			o.add(fmt.Sprintf("acl/%s/visible-%d", name, i), d.waitACL(root.cl, a, true))
		}
	}
	step("alice-write-topic", aclSpec{rTopic, aliceA, pLiteral, alicePr, "*", kmsg.ACLOperationWrite, allow})
	o.add("alice/write/metadata-all", al.metadataAll())
	o.add("alice/write/metadata", al.metadata(aliceA))
	o.add("alice/write/produce", al.produce(aliceA))
	o.add("alice/write/produce-kgo", al.produceKgo(aliceA))
	o.add("alice/write/fetch", al.fetch(aliceA))
	o.add("alice/write/list-offsets", al.listOffsets(aliceA))
	o.add("alice/write/init-producer-id", al.initProducerID())
	o.add("alice/write/describe-configs", al.describeConfigs(aliceA))
	o.add("alice/write/delete-topic", al.deleteTopic(aliceA))
	o.add("alice/write/produce-other-topic", al.produce(aliceB))

	bo := d.actor(t, bob, ids)
	step("bob-read-prefixed", aclSpec{rTopic, shared, pPrefix, bobPr, "*", kmsg.ACLOperationRead, allow})
	o.add("bob/read-prefixed/metadata-all", bo.metadataAll())
	o.add("bob/read-prefixed/fetch-x", bo.fetch(sharedX))
	o.add("bob/read-prefixed/fetch-y", bo.fetch(sharedY))
	o.add("bob/read-prefixed/list-offsets-x", bo.listOffsets(sharedX))
	o.add("bob/read-prefixed/produce-x", bo.produce(sharedX))
	o.add("bob/read-prefixed/fetch-alice-topic", bo.fetch(aliceA))
	o.add("bob/read-prefixed/join-group", bo.joinGroup(groupB, sharedX))
	o.add("bob/read-prefixed/offset-commit", bo.offsetCommit(groupB, sharedX))
	o.add("alice/bob-read-prefixed/fetch-x", al.fetch(sharedX))

	step("bob-read-group", aclSpec{rGroup, groupB, pLiteral, bobPr, "*", kmsg.ACLOperationRead, allow})
	o.add("bob/read-group/consume-kgo", bo.consumeGroup(groupB, sharedX, 3))
	o.add("bob/read-group/offset-fetch", bo.offsetFetch(groupB, sharedX))
	o.add("bob/read-group/offset-commit", bo.offsetCommit(groupB, sharedX))
	o.add("bob/read-group/offset-fetch-after-commit", bo.offsetFetch(groupB, sharedX))
	o.add("bob/read-group/join-group", bo.joinGroup(groupB, sharedX))
	o.add("bob/read-group/offset-commit-unreadable-topic", bo.offsetCommit(groupB, aliceA))
	o.add("bob/read-group/find-coordinator-other-group", bo.findCoordinator(groupA))
	o.add("alice/bob-read-group/join-group", al.joinGroup(groupB, sharedX))

	step("bob-deny-y", aclSpec{rTopic, sharedY, pLiteral, bobPr, "*", kmsg.ACLOperationRead, deny})
	o.add("bob/deny-y/fetch-y", bo.fetch(sharedY))
	o.add("bob/deny-y/metadata-y", bo.metadata(sharedY))
	o.add("bob/deny-y/list-offsets-y", bo.listOffsets(sharedY))
	o.add("bob/deny-y/fetch-x", bo.fetch(sharedX))
	o.add("bob/deny-y/metadata-all", bo.metadataAll())

	step("alice-describe-wildcard", aclSpec{rTopic, "*", pLiteral, alicePr, "*", kmsg.ACLOperationDescribe, allow})
	o.add("alice/wildcard/metadata-all", al.metadataAll())
	o.add("alice/wildcard/metadata-admin-topic", al.metadata(adminOnly))
	o.add("alice/wildcard/list-offsets-admin-topic", al.listOffsets(adminOnly))
	o.add("alice/wildcard/fetch-admin-topic", al.fetch(adminOnly))
	o.add("alice/wildcard/produce-admin-topic", al.produce(adminOnly))
	o.add("alice/wildcard/describe-configs-admin-topic", al.describeConfigs(adminOnly))

	step("alice-read-hosts",
		aclSpec{rTopic, aliceA, pLiteral, alicePr, "127.0.0.1", kmsg.ACLOperationRead, allow},
		aclSpec{rTopic, aliceB, pLiteral, alicePr, "10.20.30.40", kmsg.ACLOperationRead, allow})
	o.add("alice/hosts/fetch-loopback-acl", al.fetch(aliceA))
	o.add("alice/hosts/consume-kgo", al.consumeGroup("", aliceA, 2))
	o.add("alice/hosts/fetch-other-host-acl", al.fetch(aliceB))
	o.add("alice/hosts/offset-commit-no-group-acl", al.offsetCommit(groupA, aliceA))

	// Odd bindings, one request each, for a principal and topic of their
	// own (a binding one broker accepts must not show in the filters
	// below).
	probe, carolPr := d.topic("probe"), "User:"+d.user("carol")
	for _, c := range []struct {
		key string
		a   aclSpec
	}{
		{"operation-any", aclSpec{rTopic, probe, pLiteral, carolPr, "*", opAny, allow}},
		{"pattern-match", aclSpec{rTopic, probe, pMatch, carolPr, "*", kmsg.ACLOperationRead, allow}},
		{"resource-any", aclSpec{rAny, probe, pLiteral, carolPr, "*", kmsg.ACLOperationRead, allow}},
		{"permission-any", aclSpec{rTopic, probe, pLiteral, carolPr, "*", kmsg.ACLOperationRead, anyPerm}},
		{"principal-without-type", aclSpec{rTopic, probe, pLiteral, d.user("carol"), "*", kmsg.ACLOperationRead, allow}},
		{"cluster-other-name", aclSpec{rCluster, "not-kafka-cluster", pLiteral, carolPr, "*", kmsg.ACLOperationAlter, allow}},
		{"empty-name", aclSpec{rTopic, "", pLiteral, carolPr, "*", kmsg.ACLOperationRead, allow}},
		{"empty-host", aclSpec{rTopic, probe, pLiteral, carolPr, "", kmsg.ACLOperationRead, allow}},
		{"host-not-an-address", aclSpec{rTopic, probe, pLiteral, carolPr, "not an address", kmsg.ACLOperationRead, allow}},
		{"cluster-alter", aclSpec{rCluster, "kafka-cluster", pLiteral, carolPr, "*", kmsg.ACLOperationAlter, allow}},
		{"group-prefixed-delete", aclSpec{rGroup, probe, pPrefix, carolPr, "*", kmsg.ACLOperationDelete, deny}},
		{"transactional-id", aclSpec{kmsg.ACLResourceTypeTransactionalId, probe, pLiteral, carolPr, "*", kmsg.ACLOperationWrite, allow}},
	} {
		o.add("acl/create-odd/"+c.key, d.createACLs(root.cl, c.a))
	}

	// DescribeAcls filters.
	describe := func(key string, f aclSpec) {
		code, bs := d.describeACLs(root.cl, f)
		o.add("describe-acls/"+key, append([]string{code}, bs...))
	}
	describe("literal-topic", aclSpec{rTopic, aliceA, pLiteral, "", "", opAny, anyPerm})
	describe("prefixed-topic", aclSpec{rTopic, shared, pPrefix, "", "", opAny, anyPerm})
	describe("prefixed-topic-as-literal", aclSpec{rTopic, shared, pLiteral, "", "", opAny, anyPerm})
	describe("match-topic-y", aclSpec{rTopic, sharedY, pMatch, "", "", opAny, anyPerm})
	describe("match-topic-alice-a", aclSpec{rTopic, aliceA, pMatch, "", "", opAny, anyPerm})
	describe("any-pattern-topic-y", aclSpec{rTopic, sharedY, pAny, "", "", opAny, anyPerm})
	describe("any-alice", aclSpec{rAny, "", pAny, alicePr, "", opAny, anyPerm})
	describe("any-bob-deny", aclSpec{rAny, "", pAny, bobPr, "", opAny, deny})
	describe("groups", aclSpec{rGroup, "", pAny, "", "", opAny, anyPerm})
	describe("host-10.20.30.40", aclSpec{rAny, "", pAny, "", "10.20.30.40", opAny, anyPerm})
	describe("op-read-allow", aclSpec{rTopic, "", pAny, alicePr, "", kmsg.ACLOperationRead, allow})
	describe("nothing", aclSpec{rTopic, d.topic("nothing"), pLiteral, "", "", opAny, anyPerm})
	// An invalid filter: Kafka closes the connection, so it gets a client
	// of its own.
	code, bs = d.describeACLs(d.client(t, admin), aclSpec{rTopic, aliceA, kmsg.ACLResourcePatternTypeUnknown, "", "", opAny, anyPerm})
	o.add("describe-acls/invalid-pattern-unknown", append([]string{code}, bs...))

	// DeleteAcls filters; each deletion is awaited, then its effect checked.
	denyY := aclSpec{rTopic, sharedY, pLiteral, bobPr, "*", kmsg.ACLOperationRead, deny}
	o.add("delete-acls/exact-deny", d.deleteACLs(root.cl, denyY))
	o.add("delete-acls/exact-deny-gone", d.waitACL(root.cl, denyY, false))
	o.add("bob/deny-deleted/fetch-y", bo.fetch(sharedY))
	o.add("delete-acls/match-shared-x-bob", d.deleteACLs(root.cl, aclSpec{rTopic, sharedX, pMatch, bobPr, "", opAny, anyPerm}))
	o.add("delete-acls/match-shared-x-bob-gone", d.waitACL(root.cl, aclSpec{rTopic, shared, pPrefix, bobPr, "*", kmsg.ACLOperationRead, allow}, false))
	o.add("bob/prefixed-deleted/fetch-x", bo.fetch(sharedX))
	o.add("delete-acls/two-filters", d.deleteACLs(root.cl,
		aclSpec{rAny, "", pAny, alicePr, "10.20.30.40", opAny, anyPerm},
		aclSpec{rTopic, d.topic("nothing"), pLiteral, "", "", opAny, anyPerm}))
	o.add("delete-acls/any-alice", d.deleteACLs(root.cl, aclSpec{rAny, "", pAny, alicePr, "", opAny, anyPerm}))
	o.add("delete-acls/any-alice-gone", d.waitACL(root.cl, aclSpec{rAny, "", pAny, alicePr, "", opAny, anyPerm}, false))
	o.add("delete-acls/invalid-pattern-unknown", d.deleteACLs(d.client(t, admin), aclSpec{rTopic, aliceA, kmsg.ACLResourcePatternTypeUnknown, "", "", opAny, anyPerm}))
	o.add("delete-acls/any-carol", d.deleteACLs(root.cl, aclSpec{rAny, "", pAny, carolPr, "", opAny, anyPerm}))
	o.add("delete-acls/any-carol-gone", d.waitACL(root.cl, aclSpec{rAny, "", pAny, carolPr, "", opAny, anyPerm}, false))
	code, bs = d.describeACLs(root.cl, aclSpec{rAny, "", pAny, "", "", opAny, anyPerm})
	o.add("describe-acls/remaining", append([]string{code}, bs...))
	o.add("alice/acls-deleted/metadata-all", al.metadataAll())
	o.add("alice/acls-deleted/produce", al.produce(aliceA))
	o.add("alice/acls-deleted/fetch", al.fetch(aliceA))

	// Authentication failures and credential changes.
	o.add("auth/alice-wrong-password", d.authenticate(t, cred{aliceName, "not-her-password", "SCRAM-SHA-512"}))
	o.add("auth/alice-sha256-without-credential", d.authenticate(t, cred{aliceName, alice.pass, "SCRAM-SHA-256"}))
	o.add("auth/unknown-user", d.authenticate(t, cred{d.user("nobody"), "x", "SCRAM-SHA-512"}))
	o.add("auth/admin-plain-wrong-password", d.authenticate(t, cred{"admin", "wrong", "PLAIN"}))
	o.add("handshake/unknown-mechanism", d.unknownMechanism(t))

	o.add("scram/delete-bob-sha512", d.alterSCRAMs(adm, []kadm.DeleteSCRAM{{User: bobName, Mechanism: kadm.ScramSha512}}, nil))
	o.add("scram/delete-bob-sha512-visible", d.waitSCRAM(adm, bobName, d.norm(bobName)+" NONE [SCRAM-SHA-256=iterations=8192]"))
	o.add("auth/bob-sha512-deleted", d.authenticateEventually(t, bob, authFailed))
	o.add("auth/bob-sha256-kept", d.authenticateEventually(t, bob256, "NONE"))
	o.add("scram/delete-bob-sha256", d.alterSCRAMs(adm, []kadm.DeleteSCRAM{{User: bobName, Mechanism: kadm.ScramSha256}}, nil))
	o.add("scram/delete-bob-sha256-visible", d.waitSCRAM(adm, bobName, d.norm(bobName)+" RESOURCE_NOT_FOUND(91) []"))
	o.add("auth/bob-sha256-deleted", d.authenticateEventually(t, bob256, authFailed))
	o.add("scram/delete-bob-again", d.alterSCRAMs(adm, []kadm.DeleteSCRAM{{User: bobName, Mechanism: kadm.ScramSha256}}, nil))

	newAlice := cred{aliceName, "alice-new-secret", "SCRAM-SHA-512"}
	o.add("scram/update-alice", d.alterSCRAMs(adm, nil, []kadm.UpsertSCRAM{{User: aliceName, Mechanism: kadm.ScramSha512, Iterations: 8192, Password: newAlice.pass}}))
	o.add("scram/update-alice-visible", d.waitSCRAM(adm, aliceName, d.norm(aliceName)+" NONE [SCRAM-SHA-512=iterations=8192]"))
	o.add("auth/alice-new-password", d.authenticateEventually(t, newAlice, "NONE"))
	o.add("auth/alice-old-password", d.authenticateEventually(t, alice, authFailed))
	o.add("scram/describe-all-at-end", d.describeSCRAMs(adm))

	if d.name == "octopus" {
		// Octopus's PLAIN checks the SCRAM store; Kafka's checks its JAAS
		// user list, which knows only admin.
		if got := d.authenticate(t, cred{aliceName, newAlice.pass, "PLAIN"}); got != "NONE" {
			t.Errorf("octopus: PLAIN as alice with her SCRAM password: %s, want NONE", got)
		}
		knownDifference(t, "PLAIN authenticates against the SCRAM credentials in Octopus, against a JAAS user list in Kafka; only admin's PLAIN login is compared")
	}
}

// unknownMechanism sends SaslHandshake for a mechanism nobody offers: the
// error, the offered mechanisms (sorted) and whether the broker then closes
// the connection.
func (d *secTarget) unknownMechanism(t *testing.T) string {
	t.Helper()
	w := dialSASL(t, d.addr)
	defer w.conn.Close()
	r := w.handshake("NOT-A-MECHANISM")
	mechs := slices.Clone(r.SupportedMechanisms)
	slices.Sort(mechs)
	closed := "closed"
	if err := waitClosed(w.conn, 5*time.Second); err != nil {
		closed = err.Error()
	}
	return fmt.Sprintf("%s %v %s", errName(r.ErrorCode), mechs, closed)
}
