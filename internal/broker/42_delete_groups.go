package broker

import "github.com/twmb/franz-go/pkg/kmsg"

// DeleteGroups v0-v2.
func init() { register(42, 0, 2, handleDeleteGroups) }

func handleDeleteGroups(b *Broker, r *request) (kmsg.Response, error) {
	return b.groups.Delete(r.kreq.(*kmsg.DeleteGroupsRequest)), nil
}
