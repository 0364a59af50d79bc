// Package scenario is the client compatibility scenario as the Go-side
// programs run it: the Go clients (franz-go, sarama, kafka-go) in the test
// process, and the kcat driver, which runs kcat processes. The Python,
// JavaScript and Java programs under compat/ implement the same steps in
// their own language; compat/README.md is the specification all of them
// follow, and this file is its reference implementation.
//
// The scenario, against one broker, for one client library:
//
//  1. create the topic with 3 partitions (the client's admin API);
//  2. start group members A and B and wait until the group is stable with
//     both holding partitions, then produce Records records (keys, headers,
//     acks=all) and keep every acknowledgement;
//  3. A processes LeaveAfter records, commits exactly those and closes
//     (leaving the group); B, committing after every batch, must be handed
//     A's partitions and process the rest;
//  4. with A and B closed, produce More records; a new member C in the same
//     group must receive exactly those: committed offsets are resumed;
//  5. every acknowledged record was processed exactly once, at its
//     acknowledged partition and offset, with its key, value and headers.
//
// The members join before the first records exist so that the rebalance is
// real: a member alone in the group drains 300 records in milliseconds,
// before a second member has finished joining.
package scenario

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"time"
)

// Partitions is the topic's partition count.
const Partitions = 3

// Config is one run of the scenario.
type Config struct {
	Client      string   // name in the result, e.g. "franz-go"
	Bootstrap   string   // host:port
	Security    Security // how clients connect; the zero value is PLAINTEXT
	Topic       string
	Group       string
	Records     int           // N: records produced before the rebalance (default 300)
	More        int           // M: records produced for the restarted member (default 100)
	LeaveAfter  int           // K: records member A processes before leaving (default 50)
	CreateTopic bool          // create the topic with the client's admin API
	Timeout     time.Duration // whole run (default 120s)
	// Headers gives record i's headers; nil means [seq=i, client=Client].
	Headers func(i int) []Header
	// Logf, if set, receives progress lines (the test's t.Logf).
	Logf func(format string, args ...any)
}

func (c *Config) defaults() {
	if c.Records == 0 {
		c.Records = 300
	}
	if c.More == 0 {
		c.More = 100
	}
	if c.LeaveAfter == 0 {
		c.LeaveAfter = 50
	}
	if c.Timeout == 0 {
		c.Timeout = 120 * time.Second
	}
	if c.Headers == nil {
		client := c.Client
		c.Headers = func(i int) []Header {
			return []Header{{"seq", strconv.Itoa(i)}, {"client", client}}
		}
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
}

// Header is a record header.
type Header struct{ Key, Value string }

// Record is a record produced or consumed. Partition is -1 until the
// record is acknowledged, and stays -1 for a client that does not report
// acknowledgements (kcat).
type Record struct {
	Partition int32
	Offset    int64
	Key       string
	Value     string
	Headers   []Header
}

// Driver is one client library's side of the scenario.
type Driver interface {
	// CreateTopic creates topic with partitions partitions and
	// replication factor 1.
	CreateTopic(ctx context.Context, topic string, partitions int32) error
	// Produce sends recs with acks=all and returns when every one is
	// acknowledged, with Partition and Offset set from the acks where the
	// client reports them.
	Produce(ctx context.Context, topic string, recs []*Record) error
	// Consume runs one member of the group, subscribed to the topic,
	// starting from the earliest offset when nothing is committed, with
	// automatic commits off. For every record it calls m.Process, and
	// stops processing when that returns false; after every batch it
	// commits exactly the processed records (the next offset per
	// partition). When m.Done() it commits, closes the consumer (leaving
	// the group) and returns. It returns early only on an error.
	Consume(ctx context.Context, m *Member) error
}

// Result is the one JSON line every client program prints.
type Result struct {
	Client     string `json:"client"`
	Version    string `json:"version"`
	Produced   int    `json:"produced"`
	Consumed   int    `json:"consumed"`
	Duplicates int    `json:"duplicates"`
	Missing    int    `json:"missing"`
	OK         bool   `json:"ok"`
	Error      string `json:"error"`
	// Details beyond the required fields.
	Bad        int    `json:"bad"`         // records with a wrong key, value, headers, partition or offset
	A          int    `json:"a"`           // records processed by member A
	B          int    `json:"b"`           // by member B
	TakenOver  int    `json:"taken_over"`  // by B on partitions A had processed from
	C          int    `json:"c"`           // by the restarted member C
	HandoverMS int64  `json:"handover_ms"` // from A's close to B's first record on A's partitions
	Notes      string `json:"notes,omitempty"`
}

// Run runs the scenario with d and returns its result; it never panics on a
// client failure, which it reports in Result.Error.
func Run(ctx context.Context, cfg Config, version string, d Driver) Result {
	cfg.defaults()
	if err := cfg.Security.Validate(); err != nil {
		return Result{Client: cfg.Client, Version: version, Error: err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	l := newLedger(cfg)
	err := run(ctx, cfg, d, l)
	res := l.result(err)
	res.Version = version
	return res
}

func run(ctx context.Context, cfg Config, d Driver, l *ledger) error {
	if cfg.CreateTopic {
		if err := d.CreateTopic(ctx, cfg.Topic, Partitions); err != nil {
			return fmt.Errorf("step 1, create topic: %w", err)
		}
		cfg.Logf("created topic %s", cfg.Topic)
	}

	a, b := l.member("A"), l.member("B")
	aDone, bDone := consume(ctx, d, a), consume(ctx, d, b)
	if err := waitStable(ctx, cfg, 2, aDone, bDone); err != nil {
		return fmt.Errorf("step 2, members A and B join: %w", err)
	}
	cfg.Logf("group %s stable with A and B", cfg.Group)

	if err := produce(ctx, cfg, d, l, 0, cfg.Records); err != nil {
		return fmt.Errorf("step 2, produce %d: %w", cfg.Records, err)
	}
	cfg.Logf("produced %d", cfg.Records)

	select {
	case err := <-aDone:
		if err != nil {
			return fmt.Errorf("step 3, member A: %w", err)
		}
	case err := <-bDone:
		return fmt.Errorf("step 3, member B returned before A left: %v", err)
	case <-ctx.Done():
		return fmt.Errorf("step 3, waiting for member A to process %d records and leave: %w", cfg.LeaveAfter, ctx.Err())
	}
	l.left()
	cfg.Logf("A processed %d and left", a.count())
	select {
	case err := <-bDone:
		if err != nil {
			return fmt.Errorf("step 3, member B: %w", err)
		}
	case <-ctx.Done():
		return fmt.Errorf("step 3, waiting for member B to process the rest after A left: %w", ctx.Err())
	}
	cfg.Logf("B processed %d, %d of them on A's partitions", b.count(), l.takenOver)

	if err := produce(ctx, cfg, d, l, cfg.Records, cfg.Records+cfg.More); err != nil {
		return fmt.Errorf("step 4, produce %d more: %w", cfg.More, err)
	}
	c := l.member("C")
	select {
	case err := <-consume(ctx, d, c):
		if err != nil {
			return fmt.Errorf("step 4, member C: %w", err)
		}
	case <-ctx.Done():
		return fmt.Errorf("step 4, waiting for member C to receive the %d new records: %w", cfg.More, ctx.Err())
	}
	cfg.Logf("C processed %d", c.count())
	return nil
}

func consume(ctx context.Context, d Driver, m *Member) <-chan error {
	done := make(chan error, 1)
	go func() {
		err := d.Consume(ctx, m)
		if err == nil && !m.Done() {
			err = errors.New("consumer returned before its part was done")
		}
		done <- err
	}()
	return done
}

func produce(ctx context.Context, cfg Config, d Driver, l *ledger, from, to int) error {
	l.sending(to)
	recs := make([]*Record, 0, to-from)
	for i := from; i < to; i++ {
		recs = append(recs, l.expected(i))
	}
	err := d.Produce(ctx, cfg.Topic, recs)
	l.acked(recs, err == nil)
	return err
}

// ModuleVersion is the version of module path linked into this binary.
func ModuleVersion(path string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, m := range bi.Deps {
		if m.Path == path {
			if m.Replace != nil {
				return m.Replace.Version
			}
			return m.Version
		}
	}
	return "unknown"
}
