package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/octofabric/octopus/internal/auth/acl"
)

// OffsetDelete v0. As KafkaApis.handleOffsetDeleteRequest: the group needs
// DELETE (else GROUP_AUTHORIZATION_FAILED for the whole request), each
// topic READ (TOPIC_AUTHORIZATION_FAILED); unknown topics and partitions
// fail with UNKNOWN_TOPIC_OR_PARTITION; the rest goes to the coordinator,
// whose group-level error, if any, replaces the whole answer.
func init() { register(47, 0, 0, handleOffsetDelete) }

func handleOffsetDelete(b *Broker, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.OffsetDeleteRequest)
	if !r.allowed(acl.Delete, acl.Group, req.Group) {
		resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return resp, nil
	}
	check := r.topicChecker(acl.Read)
	valid := *req
	valid.Topics = nil
	var failed []kmsg.OffsetDeleteResponseTopic
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
		ft := kmsg.NewOffsetDeleteResponseTopic()
		ft.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			c := code
			if c == 0 && b.lookupPartition(rt.Topic, rp.Partition) == nil {
				c = kerr.UnknownTopicOrPartition.Code
			}
			if c == 0 {
				vt.Partitions = append(vt.Partitions, rp)
				continue
			}
			sp := kmsg.NewOffsetDeleteResponseTopicPartition()
			sp.Partition, sp.ErrorCode = rp.Partition, c
			ft.Partitions = append(ft.Partitions, sp)
		}
		if len(vt.Partitions) > 0 {
			valid.Topics = append(valid.Topics, vt)
		}
		if len(ft.Partitions) > 0 {
			failed = append(failed, ft)
		}
	}
	resp := b.groups.DeleteOffsets(&valid)
	if resp.ErrorCode != 0 {
		return resp, nil
	}
	resp.Topics = append(failed, resp.Topics...)
	return resp, nil
}
