// Package bench drives any Kafka bootstrap address with franz-go (kgo, kadm)
// and measures what a client sees: produce and consume throughput, produce
// latency (enqueue to acknowledgement) and end-to-end latency. It is the
// engine of `octopus bench` and bench/compare.sh, and it is broker-agnostic
// on purpose: Octopus, kfake and Apache Kafka are measured by the same code
// with the same settings.
//
// Every run is bounded by a record count, a duration, or both.
package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// MaxRunTime caps the send phase of a run given only a record count.
const MaxRunTime = 10 * time.Minute

// drainTimeout bounds how long a run waits, after it stops sending, for
// outstanding records to be acknowledged or delivered.
const drainTimeout = 30 * time.Second

// parseAcks maps "all"/"-1", "1" and "0" to kgo's acks; idempotent writes
// are only possible with acks=all.
func parseAcks(s string) (acks kgo.Acks, idempotentOK bool, err error) {
	switch strings.ToLower(s) {
	case "", "all", "-1":
		return kgo.AllISRAcks(), true, nil
	case "1", "leader":
		return kgo.LeaderAck(), false, nil
	case "0", "none":
		return kgo.NoAck(), false, nil
	}
	return kgo.Acks{}, false, fmt.Errorf("bench: acks %q: want all, 1 or 0", s)
}

// parseCompression maps a codec name to kgo's codec.
func parseCompression(s string) (kgo.CompressionCodec, error) {
	switch strings.ToLower(s) {
	case "", "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("bench: compression %q: want none, gzip, snappy, lz4 or zstd", s)
}

// ensureTopic creates topic with the given partitions (replication factor
// 1) unless it exists, waits until its metadata lists a leader for every
// partition and every leader answers ListOffsets for it, and returns the
// partition IDs, sorted.
//
// The second wait matters for Apache Kafka: its metadata names the leader
// of a new partition a moment before that broker acts as leader, and a
// produce in between fails with NOT_LEADER_OR_FOLLOWER, after which kgo
// waits out its 5 s minimum metadata age before retrying — a stall that
// would be the harness's, not the broker's.
func ensureTopic(ctx context.Context, adm *kadm.Client, topic string, partitions int) ([]int32, error) {
	if partitions <= 0 {
		partitions = 1
	}
	_, err := adm.CreateTopic(ctx, int32(partitions), 1, nil, topic)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return nil, fmt.Errorf("bench: create topic %s: %w", topic, err)
	}
	parts, err := waitTopic(ctx, adm, topic, 15*time.Second)
	if err != nil {
		return nil, err
	}
	return parts, waitLeaders(ctx, adm, topic, 15*time.Second)
}

// waitLeaders polls ListOffsets until every partition of topic answers
// without error, up to timeout.
func waitLeaders(ctx context.Context, adm *kadm.Client, topic string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err == nil {
			err = ends.Error()
		}
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: topic %s: leaders not ready: %w", topic, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitTopic polls metadata until topic exists with a leader for every
// partition, up to timeout.
func waitTopic(ctx context.Context, adm *kadm.Client, topic string, timeout time.Duration) ([]int32, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		md, err := adm.Metadata(ctx, topic)
		if err == nil {
			td, ok := md.Topics[topic]
			switch {
			case !ok:
				err = kerr.UnknownTopicOrPartition
			case td.Err != nil:
				err = td.Err
			case len(td.Partitions) == 0:
				err = errors.New("no partitions")
			default:
				ps := make([]int32, 0, len(td.Partitions))
				for _, p := range td.Partitions {
					if p.Err != nil || p.Leader < 0 {
						err = fmt.Errorf("partition %d has no leader (%v)", p.Partition, p.Err)
						break
					}
					ps = append(ps, p.Partition)
				}
				if err == nil {
					slices.Sort(ps)
					return ps, nil
				}
			}
		}
		last = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("bench: topic %s not ready: %w", topic, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// payload is a buffer of random upper-case letters; records take windows of
// it at random offsets. Letters (about 4.7 bits of entropy per byte) make
// compressed runs neither trivially compressible nor incompressible, and the
// buffer is much larger than a batch so windows rarely repeat within one.
type payload struct {
	buf  []byte
	size int
}

const payloadBuf = 8 << 20

func newPayload(size int, seed uint64) *payload {
	r := rand.New(rand.NewPCG(seed, 0x0c70))
	buf := make([]byte, payloadBuf+size)
	for i := range buf {
		buf[i] = 'A' + byte(r.IntN(26))
	}
	return &payload{buf: buf, size: size}
}

// value returns a window of the buffer; callers must not modify it.
func (p *payload) value(r *rand.Rand) []byte {
	off := r.IntN(payloadBuf)
	return p.buf[off : off+p.size : off+p.size]
}

// newAdmin returns an admin client on a fresh kgo client; close the kgo
// client when done.
func newAdmin(brokers []string, extra []kgo.Opt) (*kgo.Client, *kadm.Client, error) {
	opts := append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, extra...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("bench: client: %w", err)
	}
	return cl, kadm.NewClient(cl), nil
}

// isStopErr reports errors that only mean the run is being shut down.
func isStopErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, kgo.ErrClientClosed)
}

// DeleteTopics deletes topics, ignoring those that do not exist.
func DeleteTopics(ctx context.Context, brokers []string, topics ...string) error {
	if len(topics) == 0 {
		return nil
	}
	cl, adm, err := newAdmin(brokers, nil)
	if err != nil {
		return err
	}
	defer cl.Close()
	resps, err := adm.DeleteTopics(ctx, topics...)
	if err != nil {
		return fmt.Errorf("bench: delete topics: %w", err)
	}
	var errs []error
	for _, r := range resps.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.UnknownTopicOrPartition) {
			errs = append(errs, fmt.Errorf("bench: delete topic %s: %w", r.Topic, r.Err))
		}
	}
	return errors.Join(errs...)
}
