package broker

import "github.com/twmb/franz-go/pkg/kmsg"

// ListGroups v0-v5.
func init() { register(16, 0, 5, handleListGroups) }

func handleListGroups(b *Broker, r *request) (kmsg.Response, error) {
	return b.groups.List(r.kreq.(*kmsg.ListGroupsRequest)), nil
}
