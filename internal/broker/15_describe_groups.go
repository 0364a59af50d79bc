package broker

import "github.com/twmb/franz-go/pkg/kmsg"

// DescribeGroups v0-v5.
func init() { register(15, 0, 5, handleDescribeGroups) }

func handleDescribeGroups(b *Broker, r *request) (kmsg.Response, error) {
	return b.groups.Describe(r.kreq.(*kmsg.DescribeGroupsRequest)), nil
}
