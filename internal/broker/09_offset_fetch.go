package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/octofabric/octopus/internal/auth/acl"
)

// OffsetFetch v1-v9 (Kafka 4 removed v0; v10 names topics by id).
//
// As KafkaApis.handleOffsetFetchRequest, per group: the group needs
// DESCRIBE (else GROUP_AUTHORIZATION_FAILED and no topics); named topics
// the principal may not DESCRIBE are answered TOPIC_AUTHORIZATION_FAILED
// after the others; a request for all of a group's offsets leaves such
// topics out.
func init() { register(9, 1, 9, handleOffsetFetch) }

func handleOffsetFetch(b *Broker, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.OffsetFetchRequest)
	if b.authz == nil {
		return b.groups.Fetch(req), nil
	}
	check := r.topicChecker(acl.Describe)
	if r.version >= 8 {
		resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
		for _, rg := range req.Groups {
			resp.Groups = append(resp.Groups, fetchGroupAuthorized(b, r, check, rg))
		}
		return resp, nil
	}
	// v1-v7 carry one group at the top level; answer it as a v8 group and
	// fold the result back.
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = req.Group
	if req.Topics != nil {
		rg.Topics = make([]kmsg.OffsetFetchRequestGroupTopic, 0, len(req.Topics))
		for _, t := range req.Topics {
			rg.Topics = append(rg.Topics, kmsg.OffsetFetchRequestGroupTopic{Topic: t.Topic, Partitions: t.Partitions})
		}
	}
	g := fetchGroupAuthorized(b, r, check, rg)
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	resp.ErrorCode = g.ErrorCode
	for _, t := range g.Topics {
		rt := kmsg.NewOffsetFetchResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetFetchResponseTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata, rp.ErrorCode = p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}

// fetchGroupAuthorized answers one group of an OffsetFetch.
func fetchGroupAuthorized(b *Broker, r *request, check *topicChecker, rg kmsg.OffsetFetchRequestGroup) kmsg.OffsetFetchResponseGroup {
	if !r.allowed(acl.Describe, acl.Group, rg.Group) {
		g := kmsg.NewOffsetFetchResponseGroup()
		g.Group, g.ErrorCode = rg.Group, kerr.GroupAuthorizationFailed.Code
		return g
	}
	one := func(rg kmsg.OffsetFetchRequestGroup) kmsg.OffsetFetchResponseGroup {
		creq := kmsg.NewPtrOffsetFetchRequest()
		creq.Version = 8
		creq.Groups = []kmsg.OffsetFetchRequestGroup{rg}
		return b.groups.Fetch(creq).Groups[0]
	}
	if rg.Topics == nil { // all of the group's offsets
		g := one(rg)
		if g.ErrorCode == 0 {
			kept := g.Topics[:0]
			for _, t := range g.Topics {
				if r.permits(acl.Describe, acl.Topic, t.Topic) {
					kept = append(kept, t)
				}
			}
			g.Topics = kept
		}
		return g
	}
	authorized := rg
	authorized.Topics = make([]kmsg.OffsetFetchRequestGroupTopic, 0, len(rg.Topics)) // never nil: nil asks for all
	var refused []kmsg.OffsetFetchRequestGroupTopic
	for _, t := range rg.Topics {
		if check.ok(t.Topic) {
			authorized.Topics = append(authorized.Topics, t)
		} else {
			refused = append(refused, t)
		}
	}
	g := one(authorized)
	if g.ErrorCode != 0 {
		return g
	}
	for _, t := range refused {
		rt := kmsg.NewOffsetFetchResponseGroupTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch = p, -1, -1
			rp.Metadata = kmsg.StringPtr("")
			rp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			rt.Partitions = append(rt.Partitions, rp)
		}
		g.Topics = append(g.Topics, rt)
	}
	return g
}
