package broker

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Produce v0-v11. v0-v2 are advertised, as Kafka 4 does, only because
// librdkafka turns compression off unless they are; a request of those
// versions (message format v0/v1) gets UNSUPPORTED_VERSION per partition.
//
// Batches are appended on the read loop, in request order; waiting for an
// acks=all write to become durable happens off it, so one fsync can cover
// many requests (group commit).
const produceKey = 0

func init() { register(produceKey, 0, 11, handleProduce) }

func handleProduce(b *Broker, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.ProduceRequest)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)

	type wait struct {
		p      *partition
		ti, pi int   // response topic and partition index
		offset int64 // durable once every offset below this is
	}
	var waits []wait
	failed := false
	for _, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		t := b.lookupTopic(rt.Topic)
		var parts []*partition
		if t != nil {
			parts = b.partitionsOf(t)
		}
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.BaseOffset, sp.LogAppendTime, sp.LogStartOffset = -1, -1, -1
			switch {
			case r.version <= 2:
				sp.ErrorCode = kerr.UnsupportedVersion.Code
			case req.TransactionID != nil:
				sp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
			case t == nil:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case rp.Partition < 0 || int(rp.Partition) >= len(parts):
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case req.Acks != 0 && req.Acks != 1 && req.Acks != -1:
				sp.ErrorCode = kerr.InvalidRequiredAcks.Code
			default:
				p := parts[rp.Partition]
				res, err := p.log.Append(rp.Records)
				if err != nil {
					sp.ErrorCode = errorCode(err)
					sp.ErrorMessage = errMessage(err)
					break
				}
				b.metrics.bytesIn.Add(float64(len(rp.Records)))
				sp.BaseOffset = res.BaseOffset
				sp.LogStartOffset = p.log.LogStartOffset()
				if req.Acks == -1 {
					waits = append(waits, wait{p: p, ti: len(resp.Topics), pi: len(st.Partitions), offset: res.LastOffset + 1})
				}
			}
			if sp.ErrorCode != 0 {
				failed = true
				b.metrics.produceErrors.WithLabelValues(strconv.Itoa(int(sp.ErrorCode))).Inc()
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if req.Acks == 0 {
		// No response; Kafka closes the connection on an error so the
		// producer notices.
		if failed {
			return nil, errProduceAcks0
		}
		return nil, nil
	}
	if len(waits) == 0 {
		return resp, nil
	}
	return r.later(func() (kmsg.Response, error) {
		timeout := time.Duration(req.TimeoutMillis) * time.Millisecond
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		ctx, cancel := context.WithTimeout(r.ctx, timeout)
		defer cancel()
		for _, w := range waits {
			if err := w.p.log.WaitDurable(ctx, w.offset); err != nil {
				sp := &resp.Topics[w.ti].Partitions[w.pi]
				sp.ErrorCode = errorCode(err)
				sp.ErrorMessage = errMessage(err)
				sp.BaseOffset = -1
				b.metrics.produceErrors.WithLabelValues(strconv.Itoa(int(sp.ErrorCode))).Inc()
			}
		}
		return resp, nil
	})
}

var errProduceAcks0 = errors.New("a produce request with acks=0 failed; closing the connection as Kafka does")

func errMessage(err error) *string {
	if err == nil {
		return nil
	}
	s := err.Error()
	return &s
}
