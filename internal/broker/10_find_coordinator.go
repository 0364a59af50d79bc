package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/octofabric/octopus/internal/auth/acl"
)

// FindCoordinator v0-v6: this node coordinates every group. Transaction
// coordinators are not offered (no transactions yet). A group key needs
// DESCRIBE on the group, a transactional id DESCRIBE on it, checked first
// as in KafkaApis.getCoordinator.
func init() { register(10, 0, 6, handleFindCoordinator) }

func handleFindCoordinator(b *Broker, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.FindCoordinatorRequest)
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	host, port := r.c.advertised()
	answer := func(key string) (int16, *string) {
		// Before v4 Kafka sends an error's default message; v4+ an empty one.
		authFail := func(e *kerr.Error) (int16, *string) {
			if r.version >= 4 {
				return e.Code, kmsg.StringPtr("")
			}
			msg := authMessage(e)
			return e.Code, &msg
		}
		switch {
		case req.CoordinatorType == 0 && !r.allowed(acl.Describe, acl.Group, key):
			return authFail(kerr.GroupAuthorizationFailed)
		case req.CoordinatorType == 1 && !r.allowed(acl.Describe, acl.TransactionalID, key):
			return authFail(kerr.TransactionalIDAuthorizationFailed)
		case req.CoordinatorType != 0:
			msg := "Octopus has no transaction coordinator yet"
			return kerr.CoordinatorNotAvailable.Code, &msg
		case key == "" && r.version < 4:
			msg := "group id is empty"
			return kerr.InvalidRequest.Code, &msg
		}
		return 0, nil
	}
	if r.version < 4 {
		resp.ErrorCode, resp.ErrorMessage = answer(req.CoordinatorKey)
		resp.NodeID, resp.Host, resp.Port = nodeID, host, port
		if resp.ErrorCode != 0 {
			resp.NodeID, resp.Host, resp.Port = -1, "", -1
		}
		return resp, nil
	}
	for _, key := range req.CoordinatorKeys {
		c := kmsg.NewFindCoordinatorResponseCoordinator()
		c.Key = key
		c.ErrorCode, c.ErrorMessage = answer(key)
		if c.ErrorMessage == nil {
			c.ErrorMessage = kmsg.StringPtr("") // as Kafka's v4+ answers
		}
		c.NodeID, c.Host, c.Port = nodeID, host, port
		if c.ErrorCode != 0 {
			c.NodeID, c.Host, c.Port = -1, "", -1
		}
		resp.Coordinators = append(resp.Coordinators, c)
	}
	return resp, nil
}
