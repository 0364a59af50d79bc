package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/octofabric/octopus/internal/auth/acl"
)

// ListGroups v0-v5. DESCRIBE on the cluster lists every group; otherwise
// only the groups the principal may DESCRIBE are listed (no error).
func init() { register(16, 0, 5, handleListGroups) }

func handleListGroups(b *Broker, r *request) (kmsg.Response, error) {
	resp := b.groups.List(r.kreq.(*kmsg.ListGroupsRequest))
	if r.permitsCluster(acl.Describe) {
		return resp, nil
	}
	kept := resp.Groups[:0]
	for _, g := range resp.Groups {
		if r.permits(acl.Describe, acl.Group, g.Group) {
			kept = append(kept, g)
		}
	}
	resp.Groups = kept
	return resp, nil
}
