package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/octofabric/octopus/internal/auth/acl"
)

// CreateTopics v0-v7. Replica assignments are refused beyond the one node;
// a replication factor other than 1 (or -1, the default) is invalid here.
//
// As ControllerApis.createTopics: CREATE on the cluster allows every topic,
// else each topic needs CREATE (TOPIC_AUTHORIZATION_FAILED, "Authorization
// failed."). A created topic's configs, partition count and replication
// factor are returned only with DESCRIBE_CONFIGS on it; without, v5+
// answers ConfigErrorCode TOPIC_AUTHORIZATION_FAILED and -1 counts.
func init() { register(19, 0, 7, handleCreateTopics) }

func handleCreateTopics(b *Broker, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.CreateTopicsRequest)
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	seen := make(map[string]int)
	for _, rt := range req.Topics {
		seen[rt.Topic]++
	}
	answered := make(map[string]bool)
	clusterCreate := r.permitsCluster(acl.Create)
	for _, rt := range req.Topics {
		if answered[rt.Topic] {
			continue // Kafka answers a name given twice once
		}
		answered[rt.Topic] = true
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		st.NumPartitions, st.ReplicationFactor = -1, -1
		fail := func(code int16, msg string) {
			st.ErrorCode, st.ErrorMessage = code, &msg
		}
		configs := make(map[string]string)
		for _, c := range rt.Configs {
			if c.Value != nil {
				configs[c.Name] = *c.Value
			}
		}
		switch {
		case seen[rt.Topic] > 1:
			fail(kerr.InvalidRequest.Code, "Create topics request from client contains duplicate topic: "+rt.Topic)
		case !clusterCreate && !r.allowed(acl.Create, acl.Topic, rt.Topic):
			fail(kerr.TopicAuthorizationFailed.Code, "Authorization failed.")
		case rt.ReplicationFactor != -1 && rt.ReplicationFactor != 1 && len(rt.ReplicaAssignment) == 0:
			fail(kerr.InvalidReplicationFactor.Code, "Replication factor must be 1 on a single-node broker.")
		case len(rt.ReplicaAssignment) > 0 && !singleNodeAssignment(rt.ReplicaAssignment):
			fail(kerr.InvalidReplicaAssignment.Code, "Replica assignments may name only broker 0 once per partition.")
		default:
			n := rt.NumPartitions
			if len(rt.ReplicaAssignment) > 0 {
				if n != -1 {
					fail(kerr.InvalidRequest.Code, "Both numPartitions and replicaAssignments were set.")
					break
				}
				n = int32(len(rt.ReplicaAssignment))
			}
			t, terr := b.createTopic(rt.Topic, n, configs, req.ValidateOnly)
			if terr != nil {
				fail(terr.code, terr.msg)
				break
			}
			if t != nil {
				st.TopicID = t.id
			}
			if !r.permits(acl.DescribeConfigs, acl.Topic, rt.Topic) {
				st.ConfigErrorCode = kerr.TopicAuthorizationFailed.Code
				break
			}
			if t != nil {
				st.NumPartitions = int32(len(b.partitionsOf(t)))
			} else if n > 0 {
				st.NumPartitions = n
			} else {
				st.NumPartitions = b.cfg.DefaultPartitions
			}
			st.ReplicationFactor = 1
			if r.version >= 5 && t != nil {
				for _, c := range b.describeTopicConfigs(t, nil, false, false) {
					cc := kmsg.NewCreateTopicsResponseTopicConfig()
					cc.Name, cc.Value, cc.Source, cc.IsSensitive = c.Name, c.Value, int8(c.Source), false
					cc.ReadOnly = c.ReadOnly
					st.Configs = append(st.Configs, cc)
				}
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}

func singleNodeAssignment(as []kmsg.CreateTopicsRequestTopicReplicaAssignment) bool {
	for i, a := range as {
		if a.Partition != int32(i) || len(a.Replicas) != 1 || a.Replicas[0] != nodeID {
			return false
		}
	}
	return true
}
