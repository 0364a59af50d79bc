package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/octofabric/octopus/internal/auth/acl"
)

// DescribeGroups v0-v5. Each group needs DESCRIBE; as in Kafka the refused
// ones come first in the response, then the described ones, which carry
// their authorized operations when asked (v3+).
func init() { register(15, 0, 5, handleDescribeGroups) }

func handleDescribeGroups(b *Broker, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DescribeGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	authorized := *req
	authorized.Groups = nil
	for _, id := range req.Groups {
		if r.allowed(acl.Describe, acl.Group, id) {
			authorized.Groups = append(authorized.Groups, id)
			continue
		}
		d := kmsg.NewDescribeGroupsResponseGroup() // DescribeGroupsResponse.groupError
		d.Group, d.ErrorCode = id, kerr.GroupAuthorizationFailed.Code
		d.State, d.ProtocolType, d.Protocol = "", "", ""
		d.AuthorizedOperations = authorizedOpsOmitted
		resp.Groups = append(resp.Groups, d)
	}
	described := b.groups.Describe(&authorized)
	for _, d := range described.Groups {
		if r.version >= 3 && req.IncludeAuthorizedOperations && d.ErrorCode == 0 {
			d.AuthorizedOperations = r.authorizedOps(acl.Group, d.Group, groupOps...)
		}
		resp.Groups = append(resp.Groups, d)
	}
	return resp, nil
}
