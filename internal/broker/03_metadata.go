package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Metadata v0-v12. A single node leads every partition with itself as the
// only replica; unknown topics are created when auto-creation is on and the
// request allows it.
func init() { register(3, 0, 12, handleMetadata) }

func handleMetadata(b *Broker, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.MetadataRequest)
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	host, port := r.c.advertised()
	br := kmsg.NewMetadataResponseBroker()
	br.NodeID, br.Host, br.Port = nodeID, host, port
	resp.Brokers = []kmsg.MetadataResponseBroker{br}
	resp.ClusterID = &b.clusterID
	resp.ControllerID = nodeID

	// v0 has no way to ask for all topics but an empty list; later
	// versions use a null list for that.
	all := req.Topics == nil || (r.version == 0 && len(req.Topics) == 0)
	if all {
		for _, t := range b.sortedTopics() {
			resp.Topics = append(resp.Topics, b.metadataTopic(t))
		}
		return resp, nil
	}
	autoCreate := b.cfg.AutoCreateTopics && (r.version < 4 || req.AllowAutoTopicCreation)
	for _, rt := range req.Topics {
		var t *topic
		switch {
		case rt.Topic != nil:
			t = b.lookupTopic(*rt.Topic)
			if t == nil && autoCreate {
				var terr *topicErr
				t, terr = b.createTopic(*rt.Topic, -1, nil, false)
				if terr != nil && terr.code == kerr.TopicAlreadyExists.Code {
					t = b.lookupTopic(*rt.Topic) // created concurrently
				} else if terr != nil {
					mt := kmsg.NewMetadataResponseTopic()
					mt.Topic, mt.TopicID, mt.ErrorCode = rt.Topic, rt.TopicID, terr.code
					resp.Topics = append(resp.Topics, mt)
					continue
				}
			}
		case rt.TopicID != [16]byte{}:
			t = b.lookupTopicID(rt.TopicID)
		}
		if t == nil {
			mt := kmsg.NewMetadataResponseTopic()
			mt.Topic, mt.TopicID = rt.Topic, rt.TopicID
			mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
			if rt.Topic == nil {
				mt.ErrorCode = kerr.UnknownTopicID.Code
			}
			resp.Topics = append(resp.Topics, mt)
			continue
		}
		resp.Topics = append(resp.Topics, b.metadataTopic(t))
	}
	return resp, nil
}

func (b *Broker) metadataTopic(t *topic) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.name
	mt.Topic, mt.TopicID = &name, t.id
	mt.AuthorizedOperations = -2147483648 // not requested / not computed
	for _, p := range b.partitionsOf(t) {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = p.index
		mp.Leader = nodeID
		mp.LeaderEpoch = 0
		mp.Replicas = []int32{nodeID}
		mp.ISR = []int32{nodeID}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}
