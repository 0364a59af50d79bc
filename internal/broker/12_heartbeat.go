package broker

import "github.com/twmb/franz-go/pkg/kmsg"

// Heartbeat v0-v4.
func init() { register(12, 0, 4, handleHeartbeat) }

func handleHeartbeat(b *Broker, r *request) (kmsg.Response, error) {
	return b.groups.Heartbeat(r.kreq.(*kmsg.HeartbeatRequest)), nil
}
