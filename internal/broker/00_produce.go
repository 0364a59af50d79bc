package broker

import (
	"context"
	"encoding/binary"
	"errors"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/octofabric/octopus/internal/auth/acl"
	plog "github.com/octofabric/octopus/internal/log"
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

	// Authorization first, as KafkaApis.handleProduceRequest: transactional
	// records need WRITE on their transactional id (else every partition
	// fails), then each topic needs WRITE. Both come before any existence
	// check, so a refused producer learns nothing about topics.
	txnDenied := false
	if req.TransactionID != nil || hasTransactionalRecords(req) {
		txnDenied = req.TransactionID == nil || !r.allowed(acl.Write, acl.TransactionalID, *req.TransactionID)
	}

	// First the response skeleton and the appends to make; then the
	// appends; then, for acks=all, the wait for durability.
	var jobs []appendJob
	for _, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		topicDenied := !txnDenied && !r.allowed(acl.Write, acl.Topic, rt.Topic)
		var t *topic
		var parts []*partition
		if !txnDenied && !topicDenied {
			if t = b.lookupTopic(rt.Topic); t != nil {
				parts = b.partitionsOf(t)
			}
		}
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.BaseOffset, sp.LogAppendTime, sp.LogStartOffset = -1, -1, -1
			switch {
			case txnDenied:
				sp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
			case topicDenied:
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
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
				jobs = append(jobs, appendJob{p: parts[rp.Partition], records: rp.Records, ti: len(resp.Topics), pi: len(st.Partitions)})
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	runAppends(jobs)

	failed := false
	var waits []appendJob
	for _, j := range jobs {
		sp := &resp.Topics[j.ti].Partitions[j.pi]
		if j.err != nil {
			sp.ErrorCode, sp.ErrorMessage = errorCode(j.err), errMessage(j.err)
			if recordValidationError(j.err) {
				sp.LogStartOffset = j.p.log.LogStartOffset() // as Kafka reports it for these
			}
			continue
		}
		b.metrics.bytesIn.Add(float64(len(j.records)))
		sp.BaseOffset = j.res.BaseOffset
		sp.LogAppendTime = j.res.LogAppendTime
		sp.LogStartOffset = j.p.log.LogStartOffset()
		if req.Acks == -1 && !j.p.log.Durable(j.res.LastOffset+1) {
			waits = append(waits, j)
		}
	}
	for i := range resp.Topics {
		for _, sp := range resp.Topics[i].Partitions {
			if sp.ErrorCode != 0 {
				failed = true
				b.metrics.produceErrors.WithLabelValues(strconv.Itoa(int(sp.ErrorCode))).Inc()
			}
		}
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
			if err := w.p.log.WaitDurable(ctx, w.res.LastOffset+1); err != nil {
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

// appendJob is one partition's records of a Produce request.
type appendJob struct {
	p       *partition
	records []byte
	ti, pi  int // response topic and partition index
	res     plog.AppendResult
	err     error
}

// parallelAppendBytes is the request size above which partitions are
// appended concurrently: validating CRCs and copying into the page cache
// is CPU work that other cores can share, and partitions are independent.
const parallelAppendBytes = 256 << 10

func runAppends(jobs []appendJob) {
	total := 0
	for _, j := range jobs {
		total += len(j.records)
	}
	workers := min(runtime.GOMAXPROCS(0), len(jobs))
	if workers < 2 || total < parallelAppendBytes {
		for i := range jobs {
			jobs[i].res, jobs[i].err = jobs[i].p.log.Append(jobs[i].records)
		}
		return
	}
	var next atomic.Int32
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(jobs) {
					return
				}
				jobs[i].res, jobs[i].err = jobs[i].p.log.Append(jobs[i].records)
			}
		}()
	}
	wg.Wait()
}

// hasTransactionalRecords reports whether the first batch of any partition
// is transactional (Kafka's RequestUtils.hasTransactionalRecords). Only
// message format v2 batches (magic 2 at byte 16) have the flag: bit 4 of
// the attributes at bytes 21-22.
func hasTransactionalRecords(req *kmsg.ProduceRequest) bool {
	for i := range req.Topics {
		for j := range req.Topics[i].Partitions {
			rec := req.Topics[i].Partitions[j].Records
			if len(rec) >= 23 && rec[16] == 2 && binary.BigEndian.Uint16(rec[21:])&0x10 != 0 {
				return true
			}
		}
	}
	return false
}

var errProduceAcks0 = errors.New("a produce request with acks=0 failed; closing the connection as Kafka does")

// recordValidationError reports errors about the records themselves, for
// which Kafka's response carries the partition's log start offset; for
// size, CRC and storage errors it carries -1.
func recordValidationError(err error) bool {
	return !errors.Is(err, plog.ErrMessageTooLarge) && !errors.Is(err, plog.ErrCorrupt) &&
		!errors.Is(err, plog.ErrStorage) && !errors.Is(err, plog.ErrClosed)
}

func errMessage(err error) *string {
	if err == nil {
		return nil
	}
	s := err.Error()
	return &s
}
