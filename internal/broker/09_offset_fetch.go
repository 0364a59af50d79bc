package broker

import "github.com/twmb/franz-go/pkg/kmsg"

// OffsetFetch v1-v9 (Kafka 4 removed v0; v10 names topics by id).
func init() { register(9, 1, 9, handleOffsetFetch) }

func handleOffsetFetch(b *Broker, r *request) (kmsg.Response, error) {
	return b.groups.Fetch(r.kreq.(*kmsg.OffsetFetchRequest)), nil
}
