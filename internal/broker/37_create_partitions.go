package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/octofabric/octopus/internal/auth/acl"
)

// CreatePartitions v0-v3. Each topic needs ALTER (checked after duplicates
// and before existence, as ControllerApis.createPartitions).
func init() { register(37, 0, 3, handleCreatePartitions) }

func handleCreatePartitions(b *Broker, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.CreatePartitionsRequest)
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	seen := make(map[string]int)
	for _, rt := range req.Topics {
		seen[rt.Topic]++
	}
	for _, rt := range req.Topics {
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		fail := func(code int16, msg string) { st.ErrorCode, st.ErrorMessage = code, &msg }
		dup := seen[rt.Topic] > 1
		denied := !dup && !r.allowed(acl.Alter, acl.Topic, rt.Topic)
		var t *topic
		if !dup && !denied {
			t = b.lookupTopic(rt.Topic)
		}
		switch {
		case dup:
			fail(kerr.InvalidRequest.Code, "Duplicate topic in request.")
		case denied:
			st.ErrorCode = kerr.TopicAuthorizationFailed.Code // Kafka sends no message
		case t == nil:
			fail(kerr.UnknownTopicOrPartition.Code, "The topic '"+rt.Topic+"' does not exist.")
		case rt.Assignment != nil && !newPartitionsOnNodeZero(rt.Assignment):
			fail(kerr.InvalidReplicaAssignment.Code, "Replica assignments may name only broker 0 once per partition.")
		default:
			if terr := b.addPartitions(t, rt.Count, req.ValidateOnly); terr != nil {
				fail(terr.code, terr.msg)
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}

func newPartitionsOnNodeZero(as []kmsg.CreatePartitionsRequestTopicAssignment) bool {
	for _, a := range as {
		if len(a.Replicas) != 1 || a.Replicas[0] != nodeID {
			return false
		}
	}
	return true
}
