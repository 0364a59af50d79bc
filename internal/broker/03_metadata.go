package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/octofabric/octopus/internal/auth/acl"
)

// Metadata v0-v12. A single node leads every partition with itself as the
// only replica; unknown topics are created when auto-creation is on and the
// request allows it. Topics need DESCRIBE (see below).
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

	if r.version >= 8 && r.version <= 10 && req.IncludeClusterAuthorizedOperations {
		resp.AuthorizedOperations = 0 // Kafka's answer without DESCRIBE on the cluster
		if r.allowedCluster(acl.Describe) {
			resp.AuthorizedOperations = r.authorizedOps(acl.Cluster, acl.ClusterName, clusterOps...)
		}
	}
	topicOpsWanted := r.version >= 8 && req.IncludeTopicAuthorizedOperations
	withOps := func(mt kmsg.MetadataResponseTopic) kmsg.MetadataResponseTopic {
		if topicOpsWanted && mt.Topic != nil {
			mt.AuthorizedOperations = r.authorizedOps(acl.Topic, *mt.Topic, topicOps...)
		}
		return mt
	}
	refused := func(name *string, id [16]byte) kmsg.MetadataResponseTopic {
		mt := kmsg.NewMetadataResponseTopic()
		mt.Topic, mt.TopicID, mt.ErrorCode = name, id, kerr.TopicAuthorizationFailed.Code
		return mt
	}

	// v0 has no way to ask for all topics but an empty list; later
	// versions use a null list for that. Topics the principal may not
	// DESCRIBE are left out of the list.
	all := req.Topics == nil || (r.version == 0 && len(req.Topics) == 0)
	if all {
		for _, t := range b.sortedTopics() {
			if r.permits(acl.Describe, acl.Topic, t.name) {
				resp.Topics = append(resp.Topics, withOps(b.metadataTopic(t)))
			}
		}
		return resp, nil
	}
	// Named topics, as KafkaApis.handleTopicMetadataRequest: without
	// DESCRIBE the answer is TOPIC_AUTHORIZATION_FAILED whether or not the
	// topic exists; auto-creation also needs CREATE on the cluster or the
	// topic, and without it the answer is TOPIC_AUTHORIZATION_FAILED too.
	// A topic named by id that resolves is refused with its id but no name
	// (ids are not secret, names are).
	autoCreate := b.cfg.AutoCreateTopics && (r.version < 4 || req.AllowAutoTopicCreation)
	for _, rt := range req.Topics {
		var t *topic
		switch {
		case rt.Topic != nil:
			if !r.allowed(acl.Describe, acl.Topic, *rt.Topic) {
				resp.Topics = append(resp.Topics, refused(rt.Topic, [16]byte{}))
				continue
			}
			t = b.lookupTopic(*rt.Topic)
			if t == nil && autoCreate {
				if !r.permitsCluster(acl.Create) && !r.allowed(acl.Create, acl.Topic, *rt.Topic) {
					resp.Topics = append(resp.Topics, refused(rt.Topic, [16]byte{}))
					continue
				}
				var terr *topicErr
				t, terr = b.createTopic(*rt.Topic, -1, nil, false)
				if terr != nil && terr.code == kerr.TopicAlreadyExists.Code {
					t = b.lookupTopic(*rt.Topic) // created concurrently
				} else if terr != nil {
					mt := kmsg.NewMetadataResponseTopic()
					mt.Topic, mt.TopicID, mt.ErrorCode = rt.Topic, rt.TopicID, terr.code
					resp.Topics = append(resp.Topics, withOps(mt))
					continue
				}
			}
		case rt.TopicID != [16]byte{}:
			t = b.lookupTopicID(rt.TopicID)
			if t != nil && !r.allowed(acl.Describe, acl.Topic, t.name) {
				resp.Topics = append(resp.Topics, refused(nil, rt.TopicID))
				continue
			}
		}
		if t == nil {
			mt := kmsg.NewMetadataResponseTopic()
			mt.Topic, mt.TopicID = rt.Topic, rt.TopicID
			mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
			if rt.Topic == nil {
				mt.ErrorCode = kerr.UnknownTopicID.Code
			}
			resp.Topics = append(resp.Topics, withOps(mt))
			continue
		}
		resp.Topics = append(resp.Topics, withOps(b.metadataTopic(t)))
	}
	return resp, nil
}

func (b *Broker) metadataTopic(t *topic) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.name
	mt.Topic, mt.TopicID = &name, t.id
	mt.AuthorizedOperations = authorizedOpsOmitted
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
