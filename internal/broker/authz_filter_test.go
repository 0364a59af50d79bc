package broker

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/octofabric/octopus/internal/auth/acl"
)

// TestAuthzPatterns checks how bindings match: prefixed names, the literal
// wildcard, the principal wildcard, hosts, and DENY winning over a broader
// ALLOW.
func TestAuthzPatterns(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := newAuthzFixture(t, ctx)
	for _, name := range []string{"orders-eu", "orders-secret", "other"} {
		if _, err := f.adm.CreateTopic(ctx, 1, 1, nil, name); err != nil {
			t.Fatal(err)
		}
	}
	produce := func(topic string) int16 {
		return send[*kmsg.ProduceResponse](t, ctx, f.alice, produceReq(topic)).Topics[0].Partitions[0].ErrorCode
	}
	onHost := func(bd acl.Binding, host string) acl.Binding { bd.Host = host; return bd }
	anyone := func(bd acl.Binding) acl.Binding { bd.Principal = acl.WildcardPrincipal; return bd }
	for _, tc := range []struct {
		name  string
		acls  []acl.Binding
		topic string
		want  int16
	}{
		{"prefixed allow", []acl.Binding{prefixed(allow(acl.Topic, "orders-", acl.Write))}, "orders-eu", 0},
		{"prefixed allow, other topic", []acl.Binding{prefixed(allow(acl.Topic, "orders-", acl.Write))}, "other", 29},
		{"prefix is not a literal", []acl.Binding{allow(acl.Topic, "orders-", acl.Write)}, "orders-eu", 29},
		{"prefixed deny beats prefixed allow", []acl.Binding{
			prefixed(allow(acl.Topic, "orders-", acl.Write)), prefixed(deny(acl.Topic, "orders-sec", acl.Write))}, "orders-secret", 29},
		{"prefixed deny leaves siblings", []acl.Binding{
			prefixed(allow(acl.Topic, "orders-", acl.Write)), prefixed(deny(acl.Topic, "orders-sec", acl.Write))}, "orders-eu", 0},
		{"literal deny beats wildcard allow", []acl.Binding{
			allow(acl.Topic, acl.WildcardResource, acl.Write), deny(acl.Topic, "orders-eu", acl.Write)}, "orders-eu", 29},
		{"wildcard resource", []acl.Binding{allow(acl.Topic, acl.WildcardResource, acl.Write)}, "other", 0},
		{"wildcard principal", []acl.Binding{anyone(allow(acl.Topic, "other", acl.Write))}, "other", 0},
		{"deny ALL", []acl.Binding{allow(acl.Topic, "other", acl.Write), deny(acl.Topic, "other", acl.All)}, "other", 29},
		{"allow ALL", []acl.Binding{allow(acl.Topic, "other", acl.All)}, "other", 0},
		{"other host", []acl.Binding{onHost(allow(acl.Topic, "other", acl.Write), "10.9.9.9")}, "other", 29},
		{"this host", []acl.Binding{onHost(allow(acl.Topic, "other", acl.Write), "127.0.0.1")}, "other", 0},
		{"read does not imply write", []acl.Binding{allow(acl.Topic, "other", acl.Read)}, "other", 29},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.reset(t)
			f.grant(t, tc.acls...)
			if got := produce(tc.topic); got != tc.want {
				t.Errorf("produce to %s: code %d, want %d", tc.topic, got, tc.want)
			}
		})
	}
}

// TestAuthzMetadata checks that Metadata hides what the principal may not
// describe: the all-topics list, named topics, topics by id, and
// auto-creation without CREATE.
func TestAuthzMetadata(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := newAuthzFixture(t, ctx)
	for _, name := range []string{"t-a", "t-b1", "t-b2", "t-c"} {
		if _, err := f.adm.CreateTopic(ctx, 1, 1, nil, name); err != nil {
			t.Fatal(err)
		}
	}
	f.grant(t, allow(acl.Topic, "t-a", acl.Describe), prefixed(allow(acl.Topic, "t-b", acl.Read)))

	// kadm's ListTopics is an all-topics Metadata request.
	listed, err := kadm.NewClient(f.alice).ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := listed.Names(), []string{"t-a", "t-b1", "t-b2"}; !slices.Equal(got, want) {
		t.Errorf("alice lists %v, want %v", got, want)
	}
	all, err := f.adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Names()) != 6 { // t1, dt1 and the four above
		t.Errorf("admin lists %v", all.Names())
	}

	// Named topics, with authorized operations.
	req := kmsg.NewPtrMetadataRequest()
	for _, name := range []string{"t-a", "t-b1", "t-c", "absent"} {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, rt)
	}
	req.IncludeTopicAuthorizedOperations = true
	resp := send[*kmsg.MetadataResponse](t, ctx, f.alice, req)
	want := map[string]struct {
		code int16
		ops  int32
	}{
		"t-a":    {0, 1 << acl.Describe},
		"t-b1":   {0, 1<<acl.Read | 1<<acl.Describe},
		"t-c":    {kerr.TopicAuthorizationFailed.Code, authorizedOpsOmitted},
		"absent": {kerr.TopicAuthorizationFailed.Code, authorizedOpsOmitted},
	}
	for _, mt := range resp.Topics {
		w := want[*mt.Topic]
		if mt.ErrorCode != w.code || mt.AuthorizedOperations != w.ops {
			t.Errorf("%s: code %d ops %b, want %d %b", *mt.Topic, mt.ErrorCode, mt.AuthorizedOperations, w.code, w.ops)
		}
		if mt.ErrorCode != 0 && (mt.TopicID != [16]byte{} || len(mt.Partitions) > 0) {
			t.Errorf("%s: refused but answered id %x, %d partitions", *mt.Topic, mt.TopicID, len(mt.Partitions))
		}
	}

	// By id: an id is not secret, the name is.
	byID := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.TopicID = f.b.lookupTopic("t-c").id
	byID.Topics = append(byID.Topics, rt)
	mt := send[*kmsg.MetadataResponse](t, ctx, f.alice, byID).Topics[0]
	if mt.ErrorCode != kerr.TopicAuthorizationFailed.Code || mt.Topic != nil || mt.TopicID != rt.TopicID {
		t.Errorf("t-c by id: code %d, name %v", mt.ErrorCode, mt.Topic)
	}

	// Auto-creation needs CREATE; DESCRIBE alone gets TOPIC_AUTHORIZATION_FAILED.
	f.grant(t, allow(acl.Topic, "auto2", acl.Describe))
	if code := metadataCode(t, ctx, f.alice, "auto2", true); code != kerr.TopicAuthorizationFailed.Code {
		t.Errorf("auto-create without CREATE: code %d", code)
	}
	if f.b.lookupTopic("auto2") != nil {
		t.Error("auto2 was created without CREATE")
	}
	f.grant(t, allow(acl.Cluster, acl.ClusterName, acl.Create))
	if code := metadataCode(t, ctx, f.alice, "auto2", true); code != 0 || f.b.lookupTopic("auto2") == nil {
		t.Errorf("auto-create with CREATE on the cluster: code %d", code)
	}
}

// TestAuthzGroupsAndCluster checks the listing and describing APIs that
// filter rather than refuse.
func TestAuthzGroupsAndCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := newAuthzFixture(t, ctx)
	alice := kadm.NewClient(f.alice)

	groups := func() []string {
		t.Helper()
		lg, err := alice.ListGroups(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return lg.Groups()
	}
	if got := groups(); len(got) != 0 {
		t.Errorf("no ACLs: groups %v", got)
	}
	f.grant(t, allow(acl.Group, "g1", acl.Read))
	if got := groups(); !slices.Equal(got, []string{"g1"}) {
		t.Errorf("READ g1: groups %v", got)
	}
	f.grant(t, allow(acl.Cluster, acl.ClusterName, acl.Describe))
	if got := groups(); !slices.Equal(got, []string{"dg1", "g1"}) {
		t.Errorf("DESCRIBE cluster: groups %v", got)
	}

	// DescribeCluster answers anyone; its authorized operations need
	// DESCRIBE on the cluster.
	dc := kmsg.NewPtrDescribeClusterRequest()
	dc.IncludeClusterAuthorizedOperations = true
	f.reset(t)
	if r := send[*kmsg.DescribeClusterResponse](t, ctx, f.alice, dc); r.ErrorCode != 0 || r.ClusterAuthorizedOperations != 0 {
		t.Errorf("no ACLs: DescribeCluster code %d ops %b", r.ErrorCode, r.ClusterAuthorizedOperations)
	}
	f.grant(t, allow(acl.Cluster, acl.ClusterName, acl.Describe), allow(acl.Cluster, acl.ClusterName, acl.Alter))
	if r := send[*kmsg.DescribeClusterResponse](t, ctx, f.alice, dc); r.ClusterAuthorizedOperations != 1<<acl.Describe|1<<acl.Alter {
		t.Errorf("DESCRIBE+ALTER: ops %b", r.ClusterAuthorizedOperations)
	}

	// DescribeGroups with authorized operations.
	f.grant(t, allow(acl.Group, "g1", acl.Read))
	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Groups, dg.IncludeAuthorizedOperations = []string{"g1", "dg1"}, true
	for _, g := range send[*kmsg.DescribeGroupsResponse](t, ctx, f.alice, dg).Groups {
		switch g.Group {
		case "g1":
			if g.ErrorCode != 0 || g.AuthorizedOperations != 1<<acl.Read|1<<acl.Describe {
				t.Errorf("g1: code %d ops %b", g.ErrorCode, g.AuthorizedOperations)
			}
		case "dg1":
			if g.ErrorCode != kerr.GroupAuthorizationFailed.Code || g.AuthorizedOperations != authorizedOpsOmitted {
				t.Errorf("dg1: code %d ops %b", g.ErrorCode, g.AuthorizedOperations)
			}
		}
	}

	// OffsetCommit: the group's READ first, then each topic's.
	if code := offsetCommitCode(t, ctx, f.alice, "g1", "t1"); code != kerr.TopicAuthorizationFailed.Code {
		t.Errorf("commit without READ on t1: code %d", code)
	}
	// OffsetFetch of all of a group's offsets leaves out undescribable topics.
	f.grant(t, allow(acl.Group, "g1", acl.Describe))
	of := kmsg.NewPtrOffsetFetchRequest()
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = "g1" // Topics nil: all
	of.Groups = append(of.Groups, rg)
	if g := send[*kmsg.OffsetFetchResponse](t, ctx, f.alice, of).Groups[0]; g.ErrorCode != 0 || len(g.Topics) != 0 {
		t.Errorf("all offsets without DESCRIBE on t1: code %d topics %v", g.ErrorCode, g.Topics)
	}
	f.grant(t, allow(acl.Topic, "t1", acl.Describe))
	if g := send[*kmsg.OffsetFetchResponse](t, ctx, f.alice, of).Groups[0]; len(g.Topics) != 1 || g.Topics[0].Topic != "t1" {
		t.Errorf("all offsets with DESCRIBE on t1: topics %v", g.Topics)
	}
}

// TestAuthzNoTopicNameLeaks checks that refusals about topics the principal
// may not describe never carry their names or ids, and that a topic deleted
// by id is named only to those who may describe it.
func TestAuthzNoTopicNameLeaks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := newAuthzFixture(t, ctx)
	if _, err := f.adm.CreateTopic(ctx, 1, 1, nil, "hidden-topic"); err != nil {
		t.Fatal(err)
	}
	id := f.b.lookupTopic("hidden-topic").id
	check := func(what string, msg *string) {
		t.Helper()
		if msg != nil && strings.Contains(*msg, "hidden") {
			t.Errorf("%s: message %q names the topic", what, *msg)
		}
	}

	dc := kmsg.NewPtrDescribeConfigsRequest()
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "hidden-topic"
	dc.Resources = append(dc.Resources, rr)
	res := send[*kmsg.DescribeConfigsResponse](t, ctx, f.alice, dc).Resources[0]
	check("DescribeConfigs", res.ErrorMessage)
	if res.ErrorCode != kerr.TopicAuthorizationFailed.Code || res.ErrorMessage == nil || *res.ErrorMessage != msgTopicAuthFailed {
		t.Errorf("DescribeConfigs: code %d message %v", res.ErrorCode, res.ErrorMessage)
	}

	cp := kmsg.NewPtrCreatePartitionsRequest()
	cpt := kmsg.NewCreatePartitionsRequestTopic()
	cpt.Topic, cpt.Count = "hidden-topic", 5
	cp.Topics = append(cp.Topics, cpt)
	cpr := send[*kmsg.CreatePartitionsResponse](t, ctx, f.alice, cp).Topics[0]
	check("CreatePartitions", cpr.ErrorMessage)

	// Delete by id: without DESCRIBE the answer has the id only; with
	// DESCRIBE (but not DELETE) it has the name too.
	del := func() kmsg.DeleteTopicsResponseTopic {
		req := kmsg.NewPtrDeleteTopicsRequest()
		rt := kmsg.NewDeleteTopicsRequestTopic()
		rt.TopicID = id
		req.Topics = append(req.Topics, rt)
		return send[*kmsg.DeleteTopicsResponse](t, ctx, f.alice, req).Topics[0]
	}
	if r := del(); r.ErrorCode != kerr.TopicAuthorizationFailed.Code || r.Topic != nil {
		t.Errorf("delete by id without DESCRIBE: code %d name %v", r.ErrorCode, r.Topic)
	} else {
		check("DeleteTopics", r.ErrorMessage)
	}
	f.grant(t, allow(acl.Topic, "hidden-topic", acl.Describe))
	if r := del(); r.ErrorCode != kerr.TopicAuthorizationFailed.Code || r.Topic == nil || *r.Topic != "hidden-topic" {
		t.Errorf("delete by id with DESCRIBE: code %d name %v", r.ErrorCode, r.Topic)
	}
	if f.b.lookupTopic("hidden-topic") == nil {
		t.Fatal("topic deleted without DELETE")
	}

	// CreateTopics: without DESCRIBE_CONFIGS the created topic's configs
	// and counts are withheld.
	f.grant(t, allow(acl.Topic, "made", acl.Create))
	ct := kmsg.NewPtrCreateTopicsRequest()
	ctt := kmsg.NewCreateTopicsRequestTopic()
	ctt.Topic, ctt.NumPartitions, ctt.ReplicationFactor = "made", 3, 1
	ct.Topics = append(ct.Topics, ctt)
	made := send[*kmsg.CreateTopicsResponse](t, ctx, f.alice, ct).Topics[0]
	if made.ErrorCode != 0 || made.ConfigErrorCode != kerr.TopicAuthorizationFailed.Code || made.NumPartitions != -1 || len(made.Configs) != 0 {
		t.Errorf("create without DESCRIBE_CONFIGS: code %d config code %d partitions %d configs %d",
			made.ErrorCode, made.ConfigErrorCode, made.NumPartitions, len(made.Configs))
	}
}

// TestAuthzClients runs real producers and a consumer group under ACLs,
// as an application would use them.
func TestAuthzClients(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	f := newAuthzFixture(t, ctx)
	addUser(t, ctx, f.adm, "bob", "bob-pw")
	if _, err := f.adm.CreateTopic(ctx, 2, 1, nil, "orders-eu"); err != nil {
		t.Fatal(err)
	}
	acls := kadm.NewACLs().Topics("orders-").ResourcePatternType(kadm.ACLPatternPrefixed).
		Allow("User:alice").Operations(kadm.OpWrite)
	if _, err := f.adm.CreateACLs(ctx, acls); err != nil {
		t.Fatal(err)
	}
	for _, b := range []*kadm.ACLBuilder{
		kadm.NewACLs().Topics("orders-").ResourcePatternType(kadm.ACLPatternPrefixed).Allow("User:bob").Operations(kadm.OpRead),
		kadm.NewACLs().Groups("billing").Allow("User:bob").Operations(kadm.OpRead),
	} {
		if res, err := f.adm.CreateACLs(ctx, b); err != nil || res[0].Err != nil {
			t.Fatalf("CreateACLs: %v %v", err, res)
		}
	}

	// alice: an idempotent producer (InitProducerId passes through WRITE
	// on a topic).
	prod := saslClient(t, f.addr, "alice", "alice-pw", kgo.DefaultProduceTopic("orders-eu"))
	for i := 0; i < 20; i++ {
		if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := prod.ProduceSync(ctx, &kgo.Record{Topic: "t1", Value: []byte("no")}).FirstErr(); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("alice producing to t1: %v", err)
	}

	// bob: a consumer group member.
	cons := saslClient(t, f.addr, "bob", "bob-pw", kgo.ConsumeTopics("orders-eu"), kgo.ConsumerGroup("billing"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := 0
	for got < 20 {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of 20", got)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		got += fs.NumRecords()
	}
	if err := cons.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	offs, err := kadm.NewClient(cons).FetchOffsets(ctx, "billing")
	if err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	offs.Each(func(o kadm.OffsetResponse) { total += o.At })
	if total != 20 {
		t.Errorf("committed offsets sum to %d, want 20", total)
	}
	// bob may not produce.
	bp := saslClient(t, f.addr, "bob", "bob-pw", kgo.DefaultProduceTopic("orders-eu"), kgo.DisableIdempotentWrite())
	if err := bp.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr(); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("bob producing: %v", err)
	}
}
