package invoke

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/octofabric/octopus/internal/trigger"
)

// Producer writes records to a topic; the engine's Kafka producer. It
// returns when the records are stored (acks=all) or have failed.
type Producer interface {
	Produce(ctx context.Context, topic string, recs []trigger.Record) error
}

// Headers a dead-lettered record carries after its own.
const (
	DLQTrigger   = "octopus.dlq.trigger"   // the trigger's ID
	DLQDelivery  = "octopus.dlq.delivery"  // the batch's delivery ID
	DLQTopic     = "octopus.dlq.topic"     // where the record was read
	DLQPartition = "octopus.dlq.partition" // decimal
	DLQOffset    = "octopus.dlq.offset"    // decimal
	DLQTimestamp = "octopus.dlq.timestamp" // RFC 3339 with ms, UTC; "" if none
	DLQAttempts  = "octopus.dlq.attempts"  // calls made, decimal
	DLQStatus    = "octopus.dlq.status"    // the last answer's HTTP status, "0" for none
	DLQError     = "octopus.dlq.error"     // the last error, at most maxDLQError bytes
)

const maxDLQError = 1024

// DeadLetter writes a batch that failed for good (an *Exhausted from the
// stages after it) to topic, reports it as dead_lettered and returns nil,
// so the engine commits it. With topic "" the batch is reported as dropped
// and committed. If the producer fails, its error is returned: the batch is
// not committed and will be delivered again (at least once). Any other
// error, and the context's, passes through.
func DeadLetter(p Producer, topic string, obs Observer) trigger.Stage {
	return func(next trigger.Handler) trigger.Handler {
		return trigger.HandlerFunc(func(ctx context.Context, b *trigger.Batch) error {
			err := next.Handle(ctx, b)
			var ex *Exhausted
			if err == nil || !errors.As(err, &ex) {
				return err
			}
			if cerr := ctx.Err(); cerr != nil {
				return cerr // shutting down: not done, delivered again later
			}
			if topic == "" {
				report(obs, b, ex, trigger.StatusDropped, time.Now(), 0, nil)
				return nil
			}
			start := time.Now()
			perr := p.Produce(ctx, topic, deadLetters(topic, b, ex))
			if perr != nil {
				if cerr := ctx.Err(); cerr != nil {
					return cerr
				}
				perr = fmt.Errorf("writing the dead letters to %s: %w", topic, perr)
				report(obs, b, ex, trigger.StatusFailed, start, time.Since(start), perr)
				return perr
			}
			report(obs, b, ex, trigger.StatusDeadLettered, start, time.Since(start), nil)
			return nil
		})
	}
}

// report tells obs what became of a batch that failed for good; the error
// is the producer's if it failed, else the last call's.
func report(obs Observer, b *trigger.Batch, ex *Exhausted, status string, at time.Time, latency time.Duration, perr error) {
	if obs == nil {
		return
	}
	inv := invocation(b, at, status, ex.Last)
	inv.Attempt = ex.Attempts
	inv.LatencyMs = float64(latency) / float64(time.Millisecond)
	if perr != nil {
		inv.Error = perr.Error()
	}
	obs(inv)
}

// deadLetters returns b's records as they go to the dead-letter topic:
// key, value and headers as read, then the octopus.dlq.* headers.
// Partition and Offset are -1 (the producer picks the partition, by key);
// Timestamp is zero, so the producer stamps the time of writing and
// retention counts from then (the original is in octopus.dlq.timestamp).
func deadLetters(topic string, b *trigger.Batch, ex *Exhausted) []trigger.Record {
	status := strconv.Itoa(trigger.StatusOf(ex.Last))
	attempts := strconv.Itoa(ex.Attempts)
	msg := ex.Last.Error()
	if len(msg) > maxDLQError {
		msg = validString(msg[:maxDLQError])
	}
	out := make([]trigger.Record, len(b.Records))
	for i := range b.Records {
		r := &b.Records[i]
		ts := ""
		if !r.Timestamp.IsZero() {
			ts = formatTime(r.Timestamp)
		}
		hs := make([]trigger.Header, 0, len(r.Headers)+9)
		hs = append(hs, r.Headers...)
		hs = append(hs,
			trigger.Header{Key: DLQTrigger, Value: []byte(b.TriggerID)},
			trigger.Header{Key: DLQDelivery, Value: []byte(b.ID)},
			trigger.Header{Key: DLQTopic, Value: []byte(r.Topic)},
			trigger.Header{Key: DLQPartition, Value: strconv.AppendInt(nil, int64(r.Partition), 10)},
			trigger.Header{Key: DLQOffset, Value: strconv.AppendInt(nil, r.Offset, 10)},
			trigger.Header{Key: DLQTimestamp, Value: []byte(ts)},
			trigger.Header{Key: DLQAttempts, Value: []byte(attempts)},
			trigger.Header{Key: DLQStatus, Value: []byte(status)},
			trigger.Header{Key: DLQError, Value: []byte(msg)},
		)
		out[i] = trigger.Record{Topic: topic, Partition: -1, Offset: -1, Key: r.Key, Value: r.Value, Headers: hs}
	}
	return out
}
