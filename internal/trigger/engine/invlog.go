package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/octofabric/octopus/internal/trigger"
)

// invocationLog is the internal topic of invocation records: JSON
// trigger.Invocation values keyed by trigger ID, so that one trigger's
// records share a partition (franz-go's default key hashing, the same as
// Kafka's) and a read scans that partition only. Writes are asynchronous
// and best effort: a lost log record loses no event.
type invocationLog struct {
	e      *Engine
	topic  string
	parts  int32
	warned atomic.Int64 // unix seconds of the last write-failure warning
}

// Read limits: a query scans about maxScan records or for maxScanTime.
const (
	maxScan     = 500_000
	maxScanTime = 10 * time.Second
	maxLimit    = 1000
)

func (l *invocationLog) ensureTopic(ctx context.Context) error {
	adm := kadm.NewClient(l.e.prod)
	ret := strconv.FormatInt(l.e.cfg.LogRetention.Milliseconds(), 10)
	r, err := adm.CreateTopic(ctx, l.parts, -1, map[string]*string{"retention.ms": &ret, "cleanup.policy": kadm.StringPtr("delete")}, l.topic)
	if err == nil {
		err = r.Err
	}
	if errors.Is(err, kerr.TopicAlreadyExists) {
		return nil
	}
	return err
}

func (l *invocationLog) write(inv trigger.Invocation) {
	b, err := json.Marshal(inv)
	if err != nil {
		return // a struct of plain fields always encodes
	}
	l.e.prod.Produce(context.Background(), &kgo.Record{Topic: l.topic, Key: []byte(inv.Trigger), Value: b, Timestamp: inv.Time},
		func(_ *kgo.Record, err error) {
			if err == nil {
				return
			}
			l.e.metrics.logErrors.Inc()
			now := time.Now().Unix()
			if last := l.warned.Load(); now-last >= 60 && l.warned.CompareAndSwap(last, now) {
				l.e.log.Warn("writing the trigger invocation log (warned once a minute)", "topic", l.topic, "err", err)
			}
		})
}

// read returns the newest q.Limit invocations of a trigger that match q,
// oldest first.
func (l *invocationLog) read(ctx context.Context, id string, q trigger.LogQuery) ([]trigger.Invocation, error) {
	limit := q.Limit
	if limit <= 0 || limit > maxLimit {
		limit = 100
	}
	adm := kadm.NewClient(l.e.prod)
	td, err := adm.ListTopics(ctx, l.topic)
	if err != nil {
		return nil, err
	}
	t, ok := td[l.topic]
	if !ok || t.Err != nil || len(t.Partitions) == 0 {
		return nil, nil // nothing logged yet
	}
	part := int32(kgo.StickyKeyPartitioner(nil).ForTopic(l.topic).Partition(&kgo.Record{Key: []byte(id)}, len(t.Partitions)))
	ends, err := adm.ListEndOffsets(ctx, l.topic)
	if err != nil {
		return nil, err
	}
	end, ok := ends.Lookup(l.topic, part)
	if !ok || end.Err != nil {
		return nil, fmt.Errorf("end offset of %s[%d]: %v", l.topic, part, end.Err)
	}
	var starts kadm.ListedOffsets
	if q.Since.IsZero() {
		starts, err = adm.ListStartOffsets(ctx, l.topic)
	} else {
		starts, err = adm.ListOffsetsAfterMilli(ctx, q.Since.UnixMilli(), l.topic)
	}
	if err != nil {
		return nil, err
	}
	start, ok := starts.Lookup(l.topic, part)
	if !ok || start.Err != nil {
		return nil, fmt.Errorf("start offset of %s[%d]: %v", l.topic, part, start.Err)
	}
	if start.Offset >= end.Offset {
		return nil, nil
	}
	// The newest matches are wanted, and other triggers share the
	// partition: scan windows ending at the end offset, each 8 times the
	// last, until one holds limit matches or reaches the start. The
	// windows' total stays within 8/7 of one full scan.
	ctx, cancel := context.WithTimeout(ctx, maxScanTime)
	defer cancel()
	var found []trigger.Invocation
	from, scanned := max(start.Offset, end.Offset-int64(4*limit)), int64(0)
	for {
		got, err := l.scan(ctx, id, q, part, from, end.Offset)
		if err != nil {
			if found != nil && errors.Is(err, context.DeadlineExceeded) {
				return found, nil // the newest window that completed
			}
			return nil, err
		}
		found = got
		scanned += end.Offset - from
		if len(found) >= limit || from == start.Offset || scanned >= maxScan {
			break
		}
		from = max(start.Offset, end.Offset-8*(end.Offset-from))
	}
	if len(found) > limit {
		found = found[len(found)-limit:]
	}
	return found, nil
}

// scan returns the invocations of trigger id matching q in offsets
// [from, to) of the log's partition part, oldest first.
func (l *invocationLog) scan(ctx context.Context, id string, q trigger.LogQuery, part int32, from, to int64) ([]trigger.Invocation, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.ClientID("octopus-trigger-log-reader"),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{l.topic: {part: kgo.NewOffset().At(from)}}),
		kgo.FetchMaxWait(100 * time.Millisecond),
	}, l.e.cfg.Kafka...)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	found := []trigger.Invocation{}
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		done := false
		fs.EachRecord(func(r *kgo.Record) {
			if done || r.Offset >= to {
				done = true
				return
			}
			done = r.Offset == to-1
			if string(r.Key) != id {
				return
			}
			var inv trigger.Invocation
			if json.Unmarshal(r.Value, &inv) == nil && matchQuery(inv, q) {
				found = append(found, inv)
			}
		})
		if done {
			return found, nil
		}
	}
}

func matchQuery(inv trigger.Invocation, q trigger.LogQuery) bool {
	return (q.Status == "" || inv.Status == q.Status) &&
		(q.Since.IsZero() || !inv.Time.Before(q.Since)) &&
		(q.Until.IsZero() || inv.Time.Before(q.Until))
}
