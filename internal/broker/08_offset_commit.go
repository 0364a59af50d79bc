package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetCommit v2-v9 (Kafka 4 removed v0-v1; v10 names topics by id).
// Offsets are applied in request order on the read loop; waiting for them
// to be durable happens off it.
func init() { register(8, 2, 9, handleOffsetCommit) }

func handleOffsetCommit(b *Broker, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.OffsetCommitRequest)
	resp, wait := b.groups.Commit(req, func(topic string, partition int32) bool {
		return b.lookupPartition(topic, partition) != nil
	})
	if wait == nil {
		return resp, nil
	}
	return r.later(func() (kmsg.Response, error) {
		if err := wait(); err != nil {
			b.logger.Error("committing offsets", "group", req.Group, "err", err)
		}
		return resp, nil
	})
}
