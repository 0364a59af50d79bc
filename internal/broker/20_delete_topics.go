package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/octofabric/octopus/internal/auth/acl"
)

// DeleteTopics v0-v6 (v6 may name topics by id).
//
// As ControllerApis.deleteTopics: DELETE on the cluster allows every topic,
// else each needs DELETE. A name the principal may not DESCRIBE is refused
// with TOPIC_AUTHORIZATION_FAILED before its existence is checked; an id
// that resolves to a topic the principal may not delete is refused with
// its name only if the principal may DESCRIBE it.
func init() { register(20, 0, 6, handleDeleteTopics) }

func handleDeleteTopics(b *Broker, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DeleteTopicsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	names := req.TopicNames
	type target struct {
		name *string
		id   [16]byte
	}
	var targets []target
	if r.version >= 6 {
		for _, t := range req.Topics {
			targets = append(targets, target{t.Topic, t.TopicID})
		}
	} else {
		for i := range names {
			targets = append(targets, target{name: &names[i]})
		}
	}
	clusterDelete := r.permitsCluster(acl.Delete)
	describable := func(name string) bool { return clusterDelete || r.permits(acl.Describe, acl.Topic, name) }
	deletable := func(name string) bool { return clusterDelete || r.allowed(acl.Delete, acl.Topic, name) }
	refuse := func(st *kmsg.DeleteTopicsResponseTopic) {
		st.ErrorCode, st.ErrorMessage = kerr.TopicAuthorizationFailed.Code, kmsg.StringPtr(msgTopicAuthFailed)
	}
	for _, tg := range targets {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic, st.TopicID = tg.name, tg.id
		if tg.name != nil && !describable(*tg.name) {
			st.TopicID = [16]byte{}
			refuse(&st)
			resp.Topics = append(resp.Topics, st)
			continue
		}
		var t *topic
		if tg.name != nil {
			t = b.lookupTopic(*tg.name)
		} else {
			t = b.lookupTopicID(tg.id)
		}
		switch {
		case t == nil && tg.name == nil:
			st.ErrorCode = kerr.UnknownTopicID.Code
		case t == nil:
			st.ErrorCode = kerr.UnknownTopicOrPartition.Code
		case !deletable(t.name):
			if tg.name == nil && describable(t.name) {
				name := t.name
				st.Topic = &name
			}
			refuse(&st)
		default:
			name := t.name
			st.Topic, st.TopicID = &name, t.id
			if terr := b.deleteTopic(t); terr != nil {
				st.ErrorCode, st.ErrorMessage = terr.code, &terr.msg
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
