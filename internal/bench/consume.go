package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ConsumeConfig describes a consume run: Consumers clients read Topic from
// its start until Records records have arrived or Duration has passed.
type ConsumeConfig struct {
	Brokers []string
	Topic   string
	// Records to read; 0 means every record below the high watermarks
	// listed when the run starts.
	Records   int64
	Duration  time.Duration // cap on the run (default MaxRunTime)
	Consumers int           // kgo clients consuming concurrently (default 1)
	// FetchMaxBytes is kgo.FetchMaxBytes; 0 keeps kgo's default (50 MB).
	FetchMaxBytes int
	// FetchMaxPartitionBytes is kgo.FetchMaxPartitionBytes; 0 keeps kgo's
	// default (1 MB).
	FetchMaxPartitionBytes int
	// Group, if set, makes the consumers one consumer group of that name
	// (starting at the earliest offset when it has no commits). Empty means
	// direct reads: the topic's partitions are split among the consumers
	// and each reads its share with kgo.ConsumePartitions.
	Group string

	Label    string
	Workload string
	Opts     []kgo.Opt
}

func (c *ConsumeConfig) defaults() error {
	if len(c.Brokers) == 0 {
		return errors.New("bench: no brokers")
	}
	if c.Topic == "" {
		return errors.New("bench: no topic")
	}
	if c.Duration <= 0 {
		c.Duration = MaxRunTime
	}
	if c.Consumers <= 0 {
		c.Consumers = 1
	}
	return nil
}

// Consume runs the configured consume load. Elapsed runs from the creation
// of the clients (so it includes connecting and, for groups, joining) to the
// fetch that delivered the last counted record; FirstRecord is the time to
// the first one. Reaching the Duration cap before Records is not an error:
// the rates are over what was read. Fetch errors other than shutdown stop
// the run and are returned with the result.
func Consume(ctx context.Context, cfg ConsumeConfig) (Result, error) {
	if err := cfg.defaults(); err != nil {
		return Result{}, err
	}
	res := Result{Mode: ModeConsume, Label: cfg.Label, Workload: cfg.Workload, Topic: cfg.Topic,
		Clients: cfg.Consumers, BatchBytes: cfg.FetchMaxBytes}

	admCl, adm, err := newAdmin(cfg.Brokers, cfg.Opts)
	if err != nil {
		return res, err
	}
	parts, err := waitTopic(ctx, adm, cfg.Topic, 15*time.Second)
	if err != nil {
		admCl.Close()
		return res, err
	}
	res.Partitions = len(parts)
	target := cfg.Records
	if target <= 0 {
		starts, err1 := adm.ListStartOffsets(ctx, cfg.Topic)
		ends, err2 := adm.ListEndOffsets(ctx, cfg.Topic)
		if err := errors.Join(err1, err2, starts.Error(), ends.Error()); err != nil {
			admCl.Close()
			return res, fmt.Errorf("bench: list offsets: %w", err)
		}
		ends.Each(func(o kadm.ListedOffset) {
			if s, ok := starts.Lookup(o.Topic, o.Partition); ok {
				target += o.Offset - s.Offset
			}
		})
	}
	admCl.Close()
	if target <= 0 {
		return res, fmt.Errorf("bench: topic %s has no records to consume", cfg.Topic)
	}

	base := []kgo.Opt{kgo.SeedBrokers(cfg.Brokers...)}
	if cfg.FetchMaxBytes > 0 {
		base = append(base, kgo.FetchMaxBytes(int32(cfg.FetchMaxBytes)))
	}
	if cfg.FetchMaxPartitionBytes > 0 {
		base = append(base, kgo.FetchMaxPartitionBytes(int32(cfg.FetchMaxPartitionBytes)))
	}
	var perClient [][]kgo.Opt
	if cfg.Group != "" {
		for range cfg.Consumers {
			perClient = append(perClient, []kgo.Opt{
				kgo.ConsumerGroup(cfg.Group),
				kgo.ConsumeTopics(cfg.Topic),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			})
		}
	} else {
		n := min(cfg.Consumers, len(parts))
		shares := make([]map[int32]kgo.Offset, n)
		for i, p := range parts {
			if shares[i%n] == nil {
				shares[i%n] = make(map[int32]kgo.Offset)
			}
			shares[i%n][p] = kgo.NewOffset().AtStart()
		}
		for _, sh := range shares {
			perClient = append(perClient, []kgo.Opt{
				kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{cfg.Topic: sh}),
			})
		}
		res.Clients = n
	}

	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	start := time.Now()
	clients := make([]*kgo.Client, 0, len(perClient))
	defer func() {
		for _, cl := range clients {
			cl.Close()
		}
	}()
	for _, extra := range perClient {
		opts := append(append(append([]kgo.Opt(nil), base...), extra...), cfg.Opts...)
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return res, fmt.Errorf("bench: consumer client: %w", err)
		}
		clients = append(clients, cl)
	}

	var (
		records, bytes, fetchErrs atomic.Int64
		first, last               atomic.Int64 // nanoseconds since start
		errOnce                   sync.Once
		firstErr                  error
		wg                        sync.WaitGroup
	)
	for _, cl := range clients {
		wg.Go(func() {
			for runCtx.Err() == nil {
				fetches := cl.PollFetches(runCtx)
				var n, b int64
				fetches.EachError(func(_ string, _ int32, err error) {
					if isStopErr(err) {
						return
					}
					fetchErrs.Add(1)
					errOnce.Do(func() { firstErr = err })
					cancel()
				})
				fetches.EachRecord(func(r *kgo.Record) {
					n++
					b += int64(len(r.Value) + len(r.Key))
				})
				if n == 0 {
					continue
				}
				at := int64(time.Since(start))
				first.CompareAndSwap(0, at)
				bytes.Add(b)
				total := records.Add(n)
				for {
					cur := last.Load()
					if cur >= at || last.CompareAndSwap(cur, at) {
						break
					}
				}
				if total >= target {
					cancel()
				}
			}
		})
	}
	wg.Wait()

	res.Records = records.Load()
	res.Bytes = bytes.Load()
	res.Errors = fetchErrs.Load()
	res.Elapsed = time.Duration(last.Load())
	res.FirstRecord = time.Duration(first.Load())
	if res.Records > 0 {
		res.RecordSize = int(res.Bytes / res.Records)
	}
	switch {
	case firstErr != nil:
		return res, fmt.Errorf("bench: consume: %w", firstErr)
	case ctx.Err() != nil:
		return res, ctx.Err()
	}
	return res, nil
}
