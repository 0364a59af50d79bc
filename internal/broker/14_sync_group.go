package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/octofabric/octopus/internal/auth/acl"
)

// SyncGroup v0-v5. The group needs READ. Followers wait, off the read
// loop, for the leader's assignment.
func init() { register(14, 0, 5, handleSyncGroup) }

func handleSyncGroup(b *Broker, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.SyncGroupRequest)
	if !r.allowed(acl.Read, acl.Group, req.Group) {
		resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
		resp.ErrorCode, resp.MemberAssignment = kerr.GroupAuthorizationFailed.Code, []byte{}
		return resp, nil
	}
	return r.later(func() (kmsg.Response, error) {
		resp := b.groups.Sync(r.ctx, req)
		if resp == nil {
			return nil, r.ctx.Err()
		}
		return resp, nil
	})
}
