package broker

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/octofabric/octopus/internal/auth/acl"
	"github.com/octofabric/octopus/internal/auth/sasl"
	plog "github.com/octofabric/octopus/internal/log"
)

// adminPass is the password of User:admin, the superuser of every broker
// startAuthzBroker runs.
const adminPass = "admin-secret"

// startAuthzBroker runs a broker with ACLs enforced on a SASL_PLAINTEXT
// loopback listener for the test's lifetime. The superuser admin's SCRAM
// credential is written straight into the store, as `octopus serve` does
// for the first administrator; everyone else is created through Kafka's
// AlterUserScramCredentials.
func startAuthzBroker(t testing.TB, dir string, mod func(*Config)) (*Broker, string) {
	t.Helper()
	cfg := Config{
		DataDir:          dir,
		AutoCreateTopics: true,
		Fsync:            plog.FsyncNever,
		Logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
		Security: SecurityConfig{
			Authorize:       true,
			SuperUsers:      []string{"User:admin"},
			FailedAuthDelay: time.Millisecond,
		},
	}
	if mod != nil {
		mod(&cfg)
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Credentials().Lookup("admin", sasl.ScramSHA512); !ok {
		cred, err := sasl.NewScramCredential(sasl.ScramSHA512, adminPass, sasl.MinScramIterations)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Credentials().Upsert("admin", sasl.ScramSHA512, cred); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go b.ServeListener(ln, Listener{Protocol: SaslPlaintext})
	t.Cleanup(func() { b.Close() })
	return b, ln.Addr().String()
}

// saslClient is a franz-go client authenticating as user with SCRAM-SHA-512.
func saslClient(t testing.TB, addr, user, pass string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// addUser creates a SCRAM-SHA-512 user through AlterUserScramCredentials,
// as admin.
func addUser(t testing.TB, ctx context.Context, adm *kadm.Client, user, pass string) {
	t.Helper()
	res, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: user, Mechanism: kadm.ScramSha512, Iterations: 4096, Password: pass}})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Error(); err != nil {
		t.Fatalf("creating %s: %v", user, err)
	}
}

// allow and deny build a binding for User:alice from any host.
func allow(rt acl.ResourceType, name string, op acl.Operation) acl.Binding {
	return acl.Binding{ResourceType: rt, Name: name, Pattern: acl.Literal, Principal: "User:alice", Host: "*", Operation: op, Permission: acl.Allow}
}

func deny(rt acl.ResourceType, name string, op acl.Operation) acl.Binding {
	bd := allow(rt, name, op)
	bd.Permission = acl.Deny
	return bd
}

func prefixed(bd acl.Binding) acl.Binding {
	bd.Pattern = acl.Prefixed
	return bd
}

// send sends req straight to the broker (no coordinator look-up) and
// fails the test on a transport error.
func send[R kmsg.Response](t *testing.T, ctx context.Context, cl *kgo.Client, req kmsg.Request) R {
	t.Helper()
	resp, err := cl.SeedBrokers()[0].Request(ctx, req)
	if err != nil {
		t.Fatalf("%s: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp.(R)
}

// authzFixture is one broker with admin and alice connected, a topic t1
// (2 partitions, one record), a group g1 with a committed offset, and the
// topics and groups the table below consumes.
type authzFixture struct {
	b      *Broker
	addr   string
	admin  *kgo.Client
	adm    *kadm.Client
	alice  *kgo.Client
	t1ID   [16]byte
	dtopic string
}

func newAuthzFixture(t *testing.T, ctx context.Context) *authzFixture {
	t.Helper()
	b, addr := startAuthzBroker(t, t.TempDir(), nil)
	admin := saslClient(t, addr, "admin", adminPass)
	adm := kadm.NewClient(admin)
	addUser(t, ctx, adm, "alice", "alice-pw")
	for _, tc := range []struct {
		name string
		n    int32
	}{{"t1", 2}, {"dt1", 1}} {
		if _, err := adm.CreateTopic(ctx, tc.n, 1, nil, tc.name); err != nil {
			t.Fatal(err)
		}
	}
	if err := admin.ProduceSync(ctx, &kgo.Record{Topic: "t1", Partition: 0, Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"g1", "dg1"} {
		offs := kadm.Offsets{}
		offs.Add(kadm.Offset{Topic: "t1", Partition: 0, At: 1, LeaderEpoch: -1})
		if _, err := adm.CommitOffsets(ctx, g, offs); err != nil {
			t.Fatal(err)
		}
	}
	return &authzFixture{
		b: b, addr: addr, admin: admin, adm: adm,
		alice: saslClient(t, addr, "alice", "alice-pw"),
		t1ID:  b.lookupTopic("t1").id,
	}
}

// reset removes every binding.
func (f *authzFixture) reset(t *testing.T) {
	t.Helper()
	if _, err := f.b.authz.Delete([]acl.Filter{acl.AnyFilter}); err != nil {
		t.Fatal(err)
	}
}

func (f *authzFixture) grant(t *testing.T, bs ...acl.Binding) {
	t.Helper()
	if err := f.b.authz.Add(bs); err != nil {
		t.Fatal(err)
	}
}

// produceReq writes one record to partition 0 of topic.
func produceReq(topic string) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = rawBatch(-1, -1, -1, "v")
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

func fetchReq(topic string, id [16]byte) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis, req.MaxBytes = 0, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, id
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// TestAuthorizeEachAPI runs every API as alice three times: with no ACL
// (Kafka's refusal), with the ACLs Kafka requires (allowed), and with those
// ACLs plus a DENY for each (deny wins).
func TestAuthorizeEachAPI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	f := newAuthzFixture(t, ctx)
	cl := f.alice
	type tcase struct {
		name    string
		need    []acl.Binding
		refused int16 // the code without need
		ok      int16 // the code with need
		call    func(t *testing.T) int16
	}
	topic := func(name string, op acl.Operation) acl.Binding { return allow(acl.Topic, name, op) }
	group := func(name string, op acl.Operation) acl.Binding { return allow(acl.Group, name, op) }
	cluster := func(op acl.Operation) acl.Binding { return allow(acl.Cluster, acl.ClusterName, op) }
	const (
		taf = 29 // TOPIC_AUTHORIZATION_FAILED
		gaf = 30 // GROUP_AUTHORIZATION_FAILED
		caf = 31 // CLUSTER_AUTHORIZATION_FAILED
		xaf = 53 // TRANSACTIONAL_ID_AUTHORIZATION_FAILED
	)
	cases := []tcase{
		{"Produce", []acl.Binding{topic("t1", acl.Write)}, taf, 0, func(t *testing.T) int16 {
			return send[*kmsg.ProduceResponse](t, ctx, cl, produceReq("t1")).Topics[0].Partitions[0].ErrorCode
		}},
		{"Produce/unknown topic", []acl.Binding{topic("nope", acl.Write)}, taf, kerr.UnknownTopicOrPartition.Code, func(t *testing.T) int16 {
			return send[*kmsg.ProduceResponse](t, ctx, cl, produceReq("nope")).Topics[0].Partitions[0].ErrorCode
		}},
		{"Fetch", []acl.Binding{topic("t1", acl.Read)}, taf, 0, func(t *testing.T) int16 {
			return send[*kmsg.FetchResponse](t, ctx, cl, fetchReq("t1", f.t1ID)).Topics[0].Partitions[0].ErrorCode
		}},
		{"ListOffsets", []acl.Binding{topic("t1", acl.Describe)}, taf, 0, func(t *testing.T) int16 {
			req := kmsg.NewPtrListOffsetsRequest()
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = "t1"
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Timestamp = -1
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			return send[*kmsg.ListOffsetsResponse](t, ctx, cl, req).Topics[0].Partitions[0].ErrorCode
		}},
		{"OffsetForLeaderEpoch", []acl.Binding{topic("t1", acl.Describe)}, taf, 0, func(t *testing.T) int16 {
			req := kmsg.NewPtrOffsetForLeaderEpochRequest()
			req.ReplicaID = -1
			rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
			rt.Topic = "t1"
			rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
			rp.CurrentLeaderEpoch = -1
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			return send[*kmsg.OffsetForLeaderEpochResponse](t, ctx, cl, req).Topics[0].Partitions[0].ErrorCode
		}},
		{"Metadata", []acl.Binding{topic("t1", acl.Describe)}, taf, 0, func(t *testing.T) int16 {
			return metadataCode(t, ctx, cl, "t1", false)
		}},
		{"Metadata/unknown topic", []acl.Binding{topic("nope", acl.Describe)}, taf, kerr.UnknownTopicOrPartition.Code, func(t *testing.T) int16 {
			return metadataCode(t, ctx, cl, "nope", false)
		}},
		{"Metadata/auto-create", []acl.Binding{topic("auto1", acl.Describe), topic("auto1", acl.Create)}, taf, 0, func(t *testing.T) int16 {
			return metadataCode(t, ctx, cl, "auto1", true)
		}},
		{"CreateTopics", []acl.Binding{topic("ct1", acl.Create)}, taf, 0, func(t *testing.T) int16 {
			req := kmsg.NewPtrCreateTopicsRequest()
			rt := kmsg.NewCreateTopicsRequestTopic()
			rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "ct1", 1, 1
			req.Topics = append(req.Topics, rt)
			return send[*kmsg.CreateTopicsResponse](t, ctx, cl, req).Topics[0].ErrorCode
		}},
		{"DeleteTopics", []acl.Binding{topic("dt1", acl.Delete)}, taf, 0, func(t *testing.T) int16 {
			if f.b.lookupTopic("dt1") == nil { // deleted by the allowed call
				if _, err := f.adm.CreateTopic(ctx, 1, 1, nil, "dt1"); err != nil {
					t.Fatal(err)
				}
			}
			req := kmsg.NewPtrDeleteTopicsRequest()
			rt := kmsg.NewDeleteTopicsRequestTopic()
			rt.Topic = kmsg.StringPtr("dt1")
			req.Topics, req.TopicNames = append(req.Topics, rt), []string{"dt1"}
			return send[*kmsg.DeleteTopicsResponse](t, ctx, cl, req).Topics[0].ErrorCode
		}},
		{"CreatePartitions", []acl.Binding{topic("t1", acl.Alter)}, taf, 0, func(t *testing.T) int16 {
			req := kmsg.NewPtrCreatePartitionsRequest()
			rt := kmsg.NewCreatePartitionsRequestTopic()
			rt.Topic, rt.Count = "t1", int32(len(f.b.partitionsOf(f.b.lookupTopic("t1"))))+1
			req.Topics = append(req.Topics, rt)
			return send[*kmsg.CreatePartitionsResponse](t, ctx, cl, req).Topics[0].ErrorCode
		}},
		{"DeleteRecords", []acl.Binding{topic("t1", acl.Delete)}, taf, 0, func(t *testing.T) int16 {
			req := kmsg.NewPtrDeleteRecordsRequest()
			rt := kmsg.NewDeleteRecordsRequestTopic()
			rt.Topic = "t1"
			rp := kmsg.NewDeleteRecordsRequestTopicPartition()
			rp.Offset = 0
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			return send[*kmsg.DeleteRecordsResponse](t, ctx, cl, req).Topics[0].Partitions[0].ErrorCode
		}},
		{"DescribeConfigs/topic", []acl.Binding{topic("t1", acl.DescribeConfigs)}, taf, 0, func(t *testing.T) int16 {
			return describeConfigsCode(t, ctx, cl, kmsg.ConfigResourceTypeTopic, "t1")
		}},
		{"DescribeConfigs/broker", []acl.Binding{cluster(acl.DescribeConfigs)}, caf, 0, func(t *testing.T) int16 {
			return describeConfigsCode(t, ctx, cl, kmsg.ConfigResourceTypeBroker, "0")
		}},
		{"AlterConfigs", []acl.Binding{topic("t1", acl.AlterConfigs)}, taf, 0, func(t *testing.T) int16 {
			req := kmsg.NewPtrAlterConfigsRequest()
			rr := kmsg.NewAlterConfigsRequestResource()
			rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "t1"
			c := kmsg.NewAlterConfigsRequestResourceConfig()
			c.Name, c.Value = "retention.ms", kmsg.StringPtr("86400000")
			rr.Configs = append(rr.Configs, c)
			req.Resources = append(req.Resources, rr)
			return send[*kmsg.AlterConfigsResponse](t, ctx, cl, req).Resources[0].ErrorCode
		}},
		{"IncrementalAlterConfigs", []acl.Binding{topic("t1", acl.AlterConfigs)}, taf, 0, func(t *testing.T) int16 {
			req := kmsg.NewPtrIncrementalAlterConfigsRequest()
			rr := kmsg.NewIncrementalAlterConfigsRequestResource()
			rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "t1"
			c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
			c.Name, c.Op, c.Value = "retention.ms", kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr("3600000")
			rr.Configs = append(rr.Configs, c)
			req.Resources = append(req.Resources, rr)
			return send[*kmsg.IncrementalAlterConfigsResponse](t, ctx, cl, req).Resources[0].ErrorCode
		}},
		{"FindCoordinator/group", []acl.Binding{group("g1", acl.Describe)}, gaf, 0, func(t *testing.T) int16 {
			return findCoordinatorCode(t, ctx, cl, 0, "g1")
		}},
		{"FindCoordinator/transaction", []acl.Binding{allow(acl.TransactionalID, "tx1", acl.Describe)}, xaf, kerr.CoordinatorNotAvailable.Code, func(t *testing.T) int16 {
			return findCoordinatorCode(t, ctx, cl, 1, "tx1")
		}},
		{"JoinGroup", []acl.Binding{group("jg", acl.Read)}, gaf, kerr.MemberIDRequired.Code, func(t *testing.T) int16 {
			req := kmsg.NewPtrJoinGroupRequest()
			req.Group, req.ProtocolType = "jg", "consumer"
			req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = 10000, 10000
			p := kmsg.NewJoinGroupRequestProtocol()
			p.Name = "range"
			req.Protocols = append(req.Protocols, p)
			return send[*kmsg.JoinGroupResponse](t, ctx, cl, req).ErrorCode
		}},
		{"SyncGroup", []acl.Binding{group("g1", acl.Read)}, gaf, kerr.UnknownMemberID.Code, func(t *testing.T) int16 {
			req := kmsg.NewPtrSyncGroupRequest()
			req.Group, req.MemberID, req.Generation = "g1", "ghost", 1
			req.ProtocolType, req.Protocol = kmsg.StringPtr("consumer"), kmsg.StringPtr("range")
			return send[*kmsg.SyncGroupResponse](t, ctx, cl, req).ErrorCode
		}},
		{"Heartbeat", []acl.Binding{group("g1", acl.Read)}, gaf, kerr.UnknownMemberID.Code, func(t *testing.T) int16 {
			req := kmsg.NewPtrHeartbeatRequest()
			req.Group, req.MemberID, req.Generation = "g1", "ghost", 1
			return send[*kmsg.HeartbeatResponse](t, ctx, cl, req).ErrorCode
		}},
		{"LeaveGroup", []acl.Binding{group("g1", acl.Read)}, gaf, 0, func(t *testing.T) int16 {
			req := kmsg.NewPtrLeaveGroupRequest()
			req.Group = "g1"
			m := kmsg.NewLeaveGroupRequestMember()
			m.MemberID = "ghost"
			req.Members = append(req.Members, m)
			return send[*kmsg.LeaveGroupResponse](t, ctx, cl, req).ErrorCode
		}},
		{"OffsetCommit", []acl.Binding{group("g1", acl.Read), topic("t1", acl.Read)}, gaf, 0, func(t *testing.T) int16 {
			return offsetCommitCode(t, ctx, cl, "g1", "t1")
		}},
		{"OffsetFetch", []acl.Binding{group("g1", acl.Describe), topic("t1", acl.Describe)}, gaf, 0, func(t *testing.T) int16 {
			req := kmsg.NewPtrOffsetFetchRequest()
			rg := kmsg.NewOffsetFetchRequestGroup()
			rg.Group = "g1"
			rt := kmsg.NewOffsetFetchRequestGroupTopic()
			rt.Topic, rt.Partitions = "t1", []int32{0}
			rg.Topics = append(rg.Topics, rt)
			req.Groups = append(req.Groups, rg)
			g := send[*kmsg.OffsetFetchResponse](t, ctx, cl, req).Groups[0]
			if g.ErrorCode != 0 {
				return g.ErrorCode
			}
			p := g.Topics[0].Partitions[0]
			if p.ErrorCode == 0 && p.Offset != 1 {
				t.Errorf("OffsetFetch: offset %d, want 1", p.Offset)
			}
			return p.ErrorCode
		}},
		{"DescribeGroups", []acl.Binding{group("g1", acl.Describe)}, gaf, 0, func(t *testing.T) int16 {
			req := kmsg.NewPtrDescribeGroupsRequest()
			req.Groups = []string{"g1"}
			return send[*kmsg.DescribeGroupsResponse](t, ctx, cl, req).Groups[0].ErrorCode
		}},
		{"DeleteGroups", []acl.Binding{group("dg1", acl.Delete)}, gaf, 0, func(t *testing.T) int16 {
			req := kmsg.NewPtrDeleteGroupsRequest()
			req.Groups = []string{"dg1"}
			return send[*kmsg.DeleteGroupsResponse](t, ctx, cl, req).Groups[0].ErrorCode
		}},
		{"OffsetDelete", []acl.Binding{group("g1", acl.Delete), topic("t1", acl.Read)}, gaf, 0, func(t *testing.T) int16 {
			req := kmsg.NewPtrOffsetDeleteRequest()
			req.Group = "g1"
			rt := kmsg.NewOffsetDeleteRequestTopic()
			rt.Topic = "t1"
			rp := kmsg.NewOffsetDeleteRequestTopicPartition()
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp := send[*kmsg.OffsetDeleteResponse](t, ctx, cl, req)
			if resp.ErrorCode != 0 {
				return resp.ErrorCode
			}
			return resp.Topics[0].Partitions[0].ErrorCode
		}},
		{"InitProducerId", []acl.Binding{cluster(acl.IdempotentWrite)}, caf, 0, func(t *testing.T) int16 {
			return send[*kmsg.InitProducerIDResponse](t, ctx, cl, kmsg.NewPtrInitProducerIDRequest()).ErrorCode
		}},
		{"InitProducerId/write on a topic", []acl.Binding{topic("t1", acl.Write)}, caf, 0, func(t *testing.T) int16 {
			return send[*kmsg.InitProducerIDResponse](t, ctx, cl, kmsg.NewPtrInitProducerIDRequest()).ErrorCode
		}},
		{"DescribeAcls", []acl.Binding{cluster(acl.Describe)}, caf, 0, func(t *testing.T) int16 {
			req := kmsg.NewPtrDescribeACLsRequest()
			req.ResourceType, req.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
			req.Operation, req.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
			return send[*kmsg.DescribeACLsResponse](t, ctx, cl, req).ErrorCode
		}},
		{"CreateAcls", []acl.Binding{cluster(acl.Alter)}, caf, 0, func(t *testing.T) int16 {
			req := kmsg.NewPtrCreateACLsRequest()
			c := kmsg.NewCreateACLsRequestCreation()
			c.ResourceType, c.ResourceName, c.ResourcePatternType = kmsg.ACLResourceTypeTopic, "x", kmsg.ACLResourcePatternTypeLiteral
			c.Principal, c.Host = "User:nobody", "*"
			c.Operation, c.PermissionType = kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow
			req.Creations = append(req.Creations, c)
			return send[*kmsg.CreateACLsResponse](t, ctx, cl, req).Results[0].ErrorCode
		}},
		{"DeleteAcls", []acl.Binding{cluster(acl.Alter)}, caf, 0, func(t *testing.T) int16 {
			req := kmsg.NewPtrDeleteACLsRequest()
			fl := kmsg.NewDeleteACLsRequestFilter()
			fl.ResourceType, fl.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
			fl.Principal = kmsg.StringPtr("User:nobody")
			fl.Operation, fl.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
			req.Filters = append(req.Filters, fl)
			return send[*kmsg.DeleteACLsResponse](t, ctx, cl, req).Results[0].ErrorCode
		}},
		{"DescribeUserScramCredentials", []acl.Binding{cluster(acl.Describe)}, caf, 0, func(t *testing.T) int16 {
			return send[*kmsg.DescribeUserSCRAMCredentialsResponse](t, ctx, cl, kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()).ErrorCode
		}},
		{"AlterUserScramCredentials", []acl.Binding{cluster(acl.Alter)}, caf, 0, func(t *testing.T) int16 {
			req := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
			u := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
			u.Name, u.Mechanism, u.Iterations = "bob", 2, 4096
			u.Salt = []byte("salt")
			u.SaltedPassword, _ = sasl.SaltedPassword(sasl.ScramSHA512, "bob-pw", u.Salt, 4096)
			req.Upsertions = append(req.Upsertions, u)
			return send[*kmsg.AlterUserSCRAMCredentialsResponse](t, ctx, cl, req).Results[0].ErrorCode
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.reset(t)
			if got := tc.call(t); got != tc.refused {
				t.Errorf("without ACLs: code %d, want %d", got, tc.refused)
			}
			f.grant(t, tc.need...)
			if got := tc.call(t); got != tc.ok {
				t.Errorf("with %v: code %d, want %d", tc.need, got, tc.ok)
			}
			for _, bd := range tc.need {
				bd.Permission = acl.Deny
				f.grant(t, bd)
			}
			if got := tc.call(t); got != tc.refused {
				t.Errorf("with the ACLs and DENYs: code %d, want %d", got, tc.refused)
			}
		})
	}
	f.reset(t)
}

func metadataCode(t *testing.T, ctx context.Context, cl *kgo.Client, topic string, autoCreate bool) int16 {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics, req.AllowAutoTopicCreation = append(req.Topics, rt), autoCreate
	resp := send[*kmsg.MetadataResponse](t, ctx, cl, req)
	if len(resp.Topics) != 1 {
		t.Fatalf("metadata of %s: %d topics", topic, len(resp.Topics))
	}
	return resp.Topics[0].ErrorCode
}

func describeConfigsCode(t *testing.T, ctx context.Context, cl *kgo.Client, kind kmsg.ConfigResourceType, name string) int16 {
	t.Helper()
	req := kmsg.NewPtrDescribeConfigsRequest()
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kind, name
	req.Resources = append(req.Resources, rr)
	res := send[*kmsg.DescribeConfigsResponse](t, ctx, cl, req).Resources[0]
	if res.ErrorCode != 0 && len(res.Configs) > 0 {
		t.Errorf("refused DescribeConfigs of %s returned %d configs", name, len(res.Configs))
	}
	return res.ErrorCode
}

func findCoordinatorCode(t *testing.T, ctx context.Context, cl *kgo.Client, kind int8, key string) int16 {
	t.Helper()
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorType, req.CoordinatorKeys = kind, []string{key}
	return send[*kmsg.FindCoordinatorResponse](t, ctx, cl, req).Coordinators[0].ErrorCode
}

func offsetCommitCode(t *testing.T, ctx context.Context, cl *kgo.Client, group, topic string) int16 {
	t.Helper()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.Generation = group, -1
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Offset = 1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return send[*kmsg.OffsetCommitResponse](t, ctx, cl, req).Topics[0].Partitions[0].ErrorCode
}
