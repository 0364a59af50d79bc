package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/octofabric/octopus/internal/auth/acl"
)

// DeleteGroups v0-v2. Each group needs DELETE; as in Kafka a group named
// twice is answered once, and refused groups come after the others.
func init() { register(42, 0, 2, handleDeleteGroups) }

func handleDeleteGroups(b *Broker, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DeleteGroupsRequest)
	authorized := *req
	authorized.Groups = nil
	var refused []string
	seen := make(map[string]bool, len(req.Groups))
	for _, id := range req.Groups {
		if seen[id] {
			continue
		}
		seen[id] = true
		if r.allowed(acl.Delete, acl.Group, id) {
			authorized.Groups = append(authorized.Groups, id)
		} else {
			refused = append(refused, id)
		}
	}
	resp := b.groups.Delete(&authorized)
	for _, id := range refused {
		d := kmsg.NewDeleteGroupsResponseGroup()
		d.Group, d.ErrorCode = id, kerr.GroupAuthorizationFailed.Code
		resp.Groups = append(resp.Groups, d)
	}
	return resp, nil
}
