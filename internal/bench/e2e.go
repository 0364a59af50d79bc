package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// E2EConfig describes an end-to-end latency run: one producer sends Rate
// records a second for Duration, each stamped with its send time, and one
// consumer reading the same partitions measures send-to-receive latency.
type E2EConfig struct {
	Brokers    []string
	Topic      string
	Partitions int           // to create Topic if missing (default 1)
	RecordSize int           // value bytes, at least 9 (default 1024)
	Rate       int           // records per second (default 1000)
	Duration   time.Duration // send phase (default 10 s)

	Acks               string // as ProduceConfig
	DisableIdempotence bool
	Linger             time.Duration // as ProduceConfig; a negative value means none
	BatchMaxBytes      int
	Compression        string

	Label    string
	Workload string
	Opts     []kgo.Opt
}

// e2eHeader is the value prefix: 8 bytes of send time (nanoseconds since the
// run's base, monotonic) and 1 byte that is 1 for warm-up records.
const e2eHeader = 9

// warmup is how many records are sent, and must arrive, before the measured
// phase, so the consumer's connection and first fetch are not measured.
const warmup = 10

// E2E runs the end-to-end latency measurement. Records is the number of
// measured records received; Errors counts produce failures plus records
// not received within 30 s of the end of sending.
func E2E(ctx context.Context, cfg E2EConfig) (Result, error) {
	if cfg.RecordSize <= 0 {
		cfg.RecordSize = 1024
	}
	if cfg.RecordSize < e2eHeader {
		return Result{}, fmt.Errorf("bench: e2e needs records of at least %d bytes", e2eHeader)
	}
	if cfg.Rate <= 0 {
		cfg.Rate = 1000
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 10 * time.Second
	}
	pc := ProduceConfig{
		Brokers: cfg.Brokers, Topic: cfg.Topic, Partitions: cfg.Partitions,
		RecordSize: cfg.RecordSize, Duration: cfg.Duration, Acks: cfg.Acks,
		DisableIdempotence: cfg.DisableIdempotence, Linger: cfg.Linger,
		BatchMaxBytes: cfg.BatchMaxBytes, Compression: cfg.Compression, Opts: cfg.Opts,
	}
	if err := pc.defaults(); err != nil {
		return Result{}, err
	}
	popts, err := pc.clientOpts()
	if err != nil {
		return Result{}, err
	}
	res := Result{
		Mode: ModeE2E, Label: cfg.Label, Workload: cfg.Workload, Topic: cfg.Topic,
		RecordSize: pc.RecordSize, Clients: 1, Acks: pc.Acks,
		Compression: pc.Compression, BatchBytes: pc.BatchMaxBytes,
	}

	admCl, adm, err := newAdmin(cfg.Brokers, cfg.Opts)
	if err != nil {
		return res, err
	}
	parts, err := ensureTopic(ctx, adm, cfg.Topic, pc.Partitions)
	var ends map[int32]kgo.Offset
	if err == nil {
		ls, lerr := adm.ListEndOffsets(ctx, cfg.Topic)
		if err = errors.Join(lerr, ls.Error()); err == nil {
			ends = make(map[int32]kgo.Offset)
			for _, p := range parts {
				o, _ := ls.Lookup(cfg.Topic, p)
				ends[p] = kgo.NewOffset().At(o.Offset)
			}
		}
	}
	admCl.Close()
	if err != nil {
		return res, err
	}
	res.Partitions = len(parts)

	prod, err := kgo.NewClient(popts...)
	if err != nil {
		return res, fmt.Errorf("bench: producer client: %w", err)
	}
	defer prod.Close()
	copts := append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{cfg.Topic: ends}),
		kgo.FetchMaxWait(100 * time.Millisecond),
	}, cfg.Opts...)
	cons, err := kgo.NewClient(copts...)
	if err != nil {
		return res, fmt.Errorf("bench: consumer client: %w", err)
	}
	defer cons.Close()

	base := time.Now()
	hist := NewHistogram()
	var received, warmed, bytes atomic.Int64
	warmDone := make(chan struct{})
	var closeWarm sync.Once
	consCtx, consCancel := context.WithCancel(ctx)
	defer consCancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		for consCtx.Err() == nil {
			cons.PollFetches(consCtx).EachRecord(func(r *kgo.Record) {
				now := time.Since(base)
				if len(r.Value) < e2eHeader {
					return
				}
				if r.Value[8] == 1 {
					if warmed.Add(1) >= warmup {
						closeWarm.Do(func() { close(warmDone) })
					}
					return
				}
				hist.Record(now - time.Duration(binary.BigEndian.Uint64(r.Value)))
				received.Add(1)
				bytes.Add(int64(len(r.Value) + len(r.Key)))
			})
		}
	})

	var (
		sent, failed atomic.Int64
		errOnce      sync.Once
		firstErr     error
	)
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			failed.Add(1)
			errOnce.Do(func() { firstErr = err })
		}
	}
	send := func(warm bool) {
		v := make([]byte, cfg.RecordSize)
		binary.BigEndian.PutUint64(v, uint64(time.Since(base)))
		if warm {
			v[8] = 1
		}
		for i := e2eHeader; i < len(v); i++ {
			v[i] = 'a' + byte(i%26)
		}
		prod.Produce(ctx, &kgo.Record{Value: v}, promise)
	}
	for range warmup {
		send(true)
	}
	select {
	case <-warmDone:
	case <-time.After(drainTimeout):
		return res, errors.New("bench: e2e: warm-up records never arrived")
	case <-ctx.Done():
		return res, ctx.Err()
	}

	// Send at the fixed rate: every millisecond, whatever is due, until
	// Rate*Duration records are out (late ticks are caught up, not lost).
	total := max(1, int64(float64(cfg.Rate)*cfg.Duration.Seconds()))
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	for ctx.Err() == nil && sent.Load() < total {
		due := min(total, int64(time.Since(start).Seconds()*float64(cfg.Rate))+1)
		for sent.Load() < due {
			send(false)
			sent.Add(1)
		}
		if sent.Load() < total {
			<-tick.C
		}
	}
	tick.Stop()
	res.Elapsed = time.Since(start)
	flushCtx, flushCancel := context.WithTimeout(ctx, drainTimeout)
	_ = prod.Flush(flushCtx)
	flushCancel()

	want := sent.Load() - failed.Load()
	deadline := time.Now().Add(drainTimeout)
	for received.Load() < want && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	consCancel()
	wg.Wait()

	res.Records = received.Load()
	res.Bytes = bytes.Load()
	res.Errors = failed.Load() + max(0, want-res.Records)
	res.Latency = hist.Summary()
	if firstErr != nil {
		return res, fmt.Errorf("bench: e2e produce: %w", firstErr)
	}
	if res.Records < want {
		return res, fmt.Errorf("bench: e2e: received %d of %d records", res.Records, want)
	}
	return res, ctx.Err()
}
