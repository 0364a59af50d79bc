// Package franzgo runs the compatibility scenario (compat/scenario) with
// franz-go: kadm for the topic, kgo for producing and consuming. The
// consumer keeps kgo's defaults (cooperative-sticky balancer) with
// autocommit off and BlockRebalanceOnPoll, so a batch is processed and
// committed before a rebalance can take its partitions away.
package franzgo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/octofabric/octopus/compat/scenario"
)

// Module is the client's module path; its version is read from the binary.
const Module = "github.com/twmb/franz-go"

// pollWait bounds one poll, so the member notices when its part is done.
const pollWait = 200 * time.Millisecond

// Run runs the scenario with franz-go. log, if not nil, receives kgo's
// debug log.
func Run(ctx context.Context, cfg scenario.Config, log io.Writer) scenario.Result {
	cfg.Client = "franz-go"
	return scenario.Run(ctx, cfg, scenario.ModuleVersion(Module), &driver{bootstrap: cfg.Bootstrap, sec: cfg.Security, log: log})
}

type driver struct {
	bootstrap string
	sec       scenario.Security
	log       io.Writer
}

// client is a kgo client with the run's security: kgo.DialTLSConfig and
// the SCRAM-SHA-512 mechanism of pkg/sasl/scram under SASL_SSL.
func (d *driver) client(extra ...kgo.Opt) (*kgo.Client, error) {
	sec, err := d.sec.KgoOpts()
	if err != nil {
		return nil, err
	}
	opts := append([]kgo.Opt{kgo.SeedBrokers(d.bootstrap)}, sec...)
	if d.log != nil {
		opts = append(opts, kgo.WithLogger(kgo.BasicLogger(d.log, kgo.LogLevelDebug, func() string { return time.Now().Format("15:04:05.000000 ") })))
	}
	return kgo.NewClient(append(opts, extra...)...)
}

func (d *driver) CreateTopic(ctx context.Context, topic string, partitions int32) error {
	cl, err := d.client()
	if err != nil {
		return err
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, nil, topic)
	if err != nil {
		return err
	}
	return resp.Err
}

// Produce uses ProduceSync with kgo's defaults: acks=all, idempotent.
func (d *driver) Produce(ctx context.Context, topic string, recs []*scenario.Record) error {
	cl, err := d.client(kgo.DefaultProduceTopic(topic))
	if err != nil {
		return err
	}
	defer cl.Close()
	krs := make([]*kgo.Record, len(recs))
	of := make(map[*kgo.Record]*scenario.Record, len(recs))
	for i, r := range recs {
		kr := &kgo.Record{Key: []byte(r.Key), Value: []byte(r.Value)}
		for _, h := range r.Headers {
			kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: []byte(h.Value)})
		}
		krs[i] = kr
		of[kr] = r
	}
	// The results come in the order the records were acknowledged.
	for _, res := range cl.ProduceSync(ctx, krs...) {
		if res.Err != nil {
			return fmt.Errorf("record %s: %w", res.Record.Key, res.Err)
		}
		of[res.Record].Partition, of[res.Record].Offset = res.Record.Partition, res.Record.Offset
	}
	return nil
}

func (d *driver) Consume(ctx context.Context, m *scenario.Member) error {
	cl, err := d.client(
		kgo.ConsumerGroup(m.Config.Group),
		kgo.ConsumeTopics(m.Config.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
	)
	if err != nil {
		return err
	}
	defer cl.CloseAllowingRebalance() // leaves the group
	for !m.Done() {
		pctx, cancel := context.WithTimeout(ctx, pollWait)
		fs := cl.PollRecords(pctx, 0)
		cancel()
		if err := ctx.Err(); err != nil {
			cl.AllowRebalance()
			return err
		}
		var ferr error
		fs.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				ferr = fmt.Errorf("fetch %s[%d]: %w", topic, p, err)
			}
		})
		if ferr != nil {
			cl.AllowRebalance()
			return ferr
		}
		var processed []*kgo.Record
		stopped := false
		fs.EachRecord(func(kr *kgo.Record) {
			if stopped = stopped || !m.Process(toRecord(kr)); !stopped {
				processed = append(processed, kr)
			}
		})
		if len(processed) > 0 {
			if err := cl.CommitRecords(ctx, processed...); err != nil {
				cl.AllowRebalance()
				return fmt.Errorf("commit: %w", err)
			}
		}
		cl.AllowRebalance()
	}
	return nil
}

func toRecord(kr *kgo.Record) scenario.Record {
	r := scenario.Record{Partition: kr.Partition, Offset: kr.Offset, Key: string(kr.Key), Value: string(kr.Value)}
	for _, h := range kr.Headers {
		r.Headers = append(r.Headers, scenario.Header{Key: h.Key, Value: string(h.Value)})
	}
	return r
}
