package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/octofabric/octopus/internal/auth/acl"
)

// OffsetCommit v2-v9 (Kafka 4 removed v0-v1; v10 names topics by id).
// Offsets are applied in request order on the read loop; waiting for them
// to be durable happens off it.
//
// As KafkaApis.handleOffsetCommitRequest: the group needs READ (else every
// partition fails with GROUP_AUTHORIZATION_FAILED), then each topic needs
// READ (TOPIC_AUTHORIZATION_FAILED); unknown topics and partitions fail
// with UNKNOWN_TOPIC_OR_PARTITION; only what remains reaches the group
// coordinator, and not at all if nothing remains.
func init() { register(8, 2, 9, handleOffsetCommit) }

func handleOffsetCommit(b *Broker, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.OffsetCommitRequest)
	if !r.allowed(acl.Read, acl.Group, req.Group) {
		return offsetCommitAll(req, kerr.GroupAuthorizationFailed.Code), nil
	}
	check := r.topicChecker(acl.Read)
	codes := make(map[string]map[int32]int16) // the handler's own answers
	valid := *req
	valid.Topics = nil
	for _, rt := range req.Topics {
		var code int16
		switch {
		case !check.ok(rt.Topic):
			code = kerr.TopicAuthorizationFailed.Code
		case b.lookupTopic(rt.Topic) == nil:
			code = kerr.UnknownTopicOrPartition.Code
		}
		vt := rt
		vt.Partitions = nil
		for _, rp := range rt.Partitions {
			c := code
			if c == 0 && b.lookupPartition(rt.Topic, rp.Partition) == nil {
				c = kerr.UnknownTopicOrPartition.Code
			}
			if c != 0 {
				if codes[rt.Topic] == nil {
					codes[rt.Topic] = make(map[int32]int16)
				}
				codes[rt.Topic][rp.Partition] = c
				continue
			}
			vt.Partitions = append(vt.Partitions, rp)
		}
		if len(vt.Partitions) > 0 {
			valid.Topics = append(valid.Topics, vt)
		}
	}
	if len(valid.Topics) == 0 {
		return offsetCommitMerge(req, codes, nil), nil
	}
	cresp, wait := b.groups.Commit(&valid, func(topic string, partition int32) bool {
		return b.lookupPartition(topic, partition) != nil
	})
	if wait == nil {
		return offsetCommitMerge(req, codes, cresp), nil
	}
	return r.later(func() (kmsg.Response, error) {
		if err := wait(); err != nil {
			b.logger.Error("committing offsets", "group", req.Group, "err", err)
		}
		return offsetCommitMerge(req, codes, cresp), nil
	})
}

// offsetCommitAll answers every partition of req with code.
func offsetCommitAll(req *kmsg.OffsetCommitRequest, code int16) *kmsg.OffsetCommitResponse {
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetCommitResponseTopicPartition()
			sp.Partition, sp.ErrorCode = rp.Partition, code
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// offsetCommitMerge answers req in request order: the handler's codes
// where it has one, else the coordinator's (cresp may be nil).
func offsetCommitMerge(req *kmsg.OffsetCommitRequest, codes map[string]map[int32]int16, cresp *kmsg.OffsetCommitResponse) *kmsg.OffsetCommitResponse {
	if cresp != nil && len(codes) == 0 {
		return cresp
	}
	committed := make(map[string]map[int32]int16)
	if cresp != nil {
		for _, t := range cresp.Topics {
			if committed[t.Topic] == nil {
				committed[t.Topic] = make(map[int32]int16)
			}
			for _, p := range t.Partitions {
				committed[t.Topic][p.Partition] = p.ErrorCode
			}
		}
	}
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetCommitResponseTopicPartition()
			sp.Partition = rp.Partition
			if c, ok := codes[rt.Topic][rp.Partition]; ok {
				sp.ErrorCode = c
			} else {
				sp.ErrorCode = committed[rt.Topic][rp.Partition]
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
