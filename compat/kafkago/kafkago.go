// Package kafkago runs the compatibility scenario (compat/scenario) with
// segmentio/kafka-go: Client.CreateTopics for the topic, a Writer (hash
// balancer, acks=all) and a group Reader with synchronous commits
// (CommitInterval 0) and its default balancers (range, round robin).
package kafkago

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/octofabric/octopus/compat/scenario"
)

// Module is the client's module path; its version is read from the binary.
const Module = "github.com/segmentio/kafka-go"

// fetchWait bounds one FetchMessage, so the member notices when its part is
// done.
const fetchWait = 200 * time.Millisecond

// Run runs the scenario with kafka-go. logTo, if not nil, receives the
// reader's and writer's logs.
func Run(ctx context.Context, cfg scenario.Config, logTo io.Writer) scenario.Result {
	cfg.Client = "kafka-go"
	d := &driver{bootstrap: cfg.Bootstrap}
	if logTo != nil {
		d.logger = log.New(logTo, "[kafka-go] ", log.Lmicroseconds)
	}
	return scenario.Run(ctx, cfg, scenario.ModuleVersion(Module), d)
}

type driver struct {
	bootstrap string
	logger    *log.Logger // nil: no logs
}

func (d *driver) logs() (info, errs kafka.Logger) {
	if d.logger == nil {
		return nil, nil
	}
	return d.logger, kafka.LoggerFunc(func(f string, a ...any) { d.logger.Printf("ERROR "+f, a...) })
}

func (d *driver) CreateTopic(ctx context.Context, topic string, partitions int32) error {
	cl := &kafka.Client{Addr: kafka.TCP(d.bootstrap)}
	resp, err := cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{
		Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: int(partitions), ReplicationFactor: 1}},
	})
	if err != nil {
		return err
	}
	return resp.Errors[topic]
}

// Produce uses a synchronous Writer and takes the acknowledged positions
// from its Completion callback.
func (d *driver) Produce(ctx context.Context, topic string, recs []*scenario.Record) error {
	byKey := make(map[string]*scenario.Record, len(recs))
	msgs := make([]kafka.Message, len(recs))
	for i, r := range recs {
		byKey[r.Key] = r
		msgs[i] = kafka.Message{Key: []byte(r.Key), Value: []byte(r.Value)}
		for _, h := range r.Headers {
			msgs[i].Headers = append(msgs[i].Headers, kafka.Header{Key: h.Key, Value: []byte(h.Value)})
		}
	}
	var mu sync.Mutex
	info, errs := d.logs()
	w := &kafka.Writer{
		Addr:         kafka.TCP(d.bootstrap),
		Topic:        topic,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 10 * time.Millisecond,
		Logger:       info,
		ErrorLogger:  errs,
		Completion: func(done []kafka.Message, err error) {
			if err != nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, m := range done {
				if r := byKey[string(m.Key)]; r != nil {
					r.Partition, r.Offset = int32(m.Partition), m.Offset
				}
			}
		},
	}
	err := w.WriteMessages(ctx, msgs...)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return err
}

func (d *driver) Consume(ctx context.Context, m *scenario.Member) error {
	info, errs := d.logs()
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:        []string{d.bootstrap},
		GroupID:        m.Config.Group,
		Topic:          m.Config.Topic,
		StartOffset:    kafka.FirstOffset,
		CommitInterval: 0, // synchronous commits
		MaxWait:        250 * time.Millisecond,
		Logger:         info,
		ErrorLogger:    errs,
	})
	for !m.Done() {
		fctx, cancel := context.WithTimeout(ctx, fetchWait)
		msg, err := r.FetchMessage(fctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				r.Close()
				return ctx.Err()
			}
			if errors.Is(err, context.DeadlineExceeded) {
				continue
			}
			r.Close()
			return fmt.Errorf("FetchMessage: %w", err)
		}
		rec := scenario.Record{Partition: int32(msg.Partition), Offset: msg.Offset, Key: string(msg.Key), Value: string(msg.Value)}
		for _, h := range msg.Headers {
			rec.Headers = append(rec.Headers, scenario.Header{Key: h.Key, Value: string(h.Value)})
		}
		if !m.Process(rec) {
			break
		}
		if err := r.CommitMessages(ctx, msg); err != nil {
			r.Close()
			return fmt.Errorf("CommitMessages %s[%d]@%d: %w", msg.Topic, msg.Partition, msg.Offset, err)
		}
	}
	if err := r.Close(); err != nil { // leaves the group
		return fmt.Errorf("Close: %w", err)
	}
	return nil
}
