package broker

import "github.com/twmb/franz-go/pkg/kmsg"

// LeaveGroup v0-v5.
func init() { register(13, 0, 5, handleLeaveGroup) }

func handleLeaveGroup(b *Broker, r *request) (kmsg.Response, error) {
	return b.groups.Leave(r.kreq.(*kmsg.LeaveGroupRequest)), nil
}
