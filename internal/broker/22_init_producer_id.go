package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// InitProducerId v0-v4 for idempotent (not transactional) producers: a new
// producer id, epoch 0, never reused across restarts.
//
// As KafkaApis.handleInitProducerIdRequest: a transactional id needs WRITE
// on it; without one the principal needs IDEMPOTENT_WRITE on the cluster
// or WRITE on some topic (KIP-679), else CLUSTER_AUTHORIZATION_FAILED.
func init() { register(22, 0, 4, handleInitProducerID) }

func handleInitProducerID(b *Broker, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.InitProducerIDRequest)
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		// No transactions yet: every transactional id is refused the way
		// Kafka refuses one without WRITE.
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return resp, nil
	}
	if a := b.authz; a != nil && !a.AuthorizeIdempotentWrite(r.c.principal, r.c.host) {
		b.metrics.denied.WithLabelValues(kmsg.NameForKey(r.key)).Inc()
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp, nil
	}
	id, err := b.pids.allocate()
	if err != nil {
		b.logger.Error("allocating producer id", "err", err)
		resp.ErrorCode = kerr.KafkaStorageError.Code
		return resp, nil
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return resp, nil
}
