package broker

import "github.com/twmb/franz-go/pkg/kmsg"

// OffsetDelete v0.
func init() { register(47, 0, 0, handleOffsetDelete) }

func handleOffsetDelete(b *Broker, r *request) (kmsg.Response, error) {
	return b.groups.DeleteOffsets(r.kreq.(*kmsg.OffsetDeleteRequest)), nil
}
