package broker

import (
	"net"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/octofabric/octopus/internal/auth/acl"
)

// JoinGroup v2-v9 (Kafka 4 removed v0-v1). The group needs READ. The call
// waits, off the read loop, until the rebalance completes.
func init() { register(11, 2, 9, handleJoinGroup) }

func handleJoinGroup(b *Broker, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.JoinGroupRequest)
	if !r.allowed(acl.Read, acl.Group, req.Group) {
		// JoinGroupRequest.getErrorResponse.
		resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		resp.Generation = -1
		resp.LeaderID, resp.MemberID = "", ""
		if r.version < 7 {
			resp.Protocol = kmsg.StringPtr("")
		}
		return resp, nil
	}
	host := r.c.nc.RemoteAddr().String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = "/" + h
	}
	return r.later(func() (kmsg.Response, error) {
		resp := b.groups.Join(r.ctx, req, r.clientID, host)
		if resp == nil {
			return nil, r.ctx.Err()
		}
		return resp, nil
	})
}
