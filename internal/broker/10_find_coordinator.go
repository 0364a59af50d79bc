package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// FindCoordinator v0-v6: this node coordinates every group. Transaction
// coordinators are not offered (no transactions yet).
func init() { register(10, 0, 6, handleFindCoordinator) }

func handleFindCoordinator(b *Broker, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.FindCoordinatorRequest)
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	host, port := r.c.advertised()
	answer := func(key string) (int16, *string) {
		switch {
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
		c.NodeID, c.Host, c.Port = nodeID, host, port
		if c.ErrorCode != 0 {
			c.NodeID, c.Host, c.Port = -1, "", -1
		}
		resp.Coordinators = append(resp.Coordinators, c)
	}
	return resp, nil
}
