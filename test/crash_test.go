package test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	crashTopic      = "crash"
	crashPartitions = 3
)

// TestCrashRecovery kills `octopus serve --fsync always` with SIGKILL while
// an acks=all producer writes to it, restarts it on the same data dir, and
// checks that every acknowledged record survived: present at the offset it
// was acknowledged at, intact, in produce order. Records that were written
// but not acknowledged may be present or not. It runs crashCycles cycles
// (100 with -tags crash100, 3 with -short) on one data dir, so later cycles
// also recover logs that earlier crashes left behind. OCTOPUS_CRASH_SEED
// repeats a run's kill times.
func TestCrashRecovery(t *testing.T) {
	cycles := crashCycles
	if testing.Short() {
		cycles = 3
	}
	seed := time.Now().UnixNano()
	if s := os.Getenv("OCTOPUS_CRASH_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseInt(s, 10, 64); err != nil {
			t.Fatalf("OCTOPUS_CRASH_SEED: %v", err)
		}
	}
	t.Logf("OCTOPUS_CRASH_SEED=%d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))

	st := &crashState{acked: map[int]crashAck{}, from: map[int32]int64{}}
	dir := t.TempDir()
	for cycle := range cycles {
		c := startChild(t, dir, "--fsync", "always")
		if cycle == 0 {
			createTopic(t, c.Addr(), crashTopic, crashPartitions)
		} else {
			st.verify(t, c.Addr(), false)
		}
		st.produceUntilKilled(t, c, time.Duration(100+rng.IntN(401))*time.Millisecond)
		if t.Failed() {
			t.Fatalf("cycle %d failed", cycle)
		}
	}
	c := startChild(t, dir, "--fsync", "always")
	st.verify(t, c.Addr(), false)
	st.verify(t, c.Addr(), true)
	c.Stop()
	t.Logf("%d cycles: %d records sent, %d acknowledged", cycles, st.next, len(st.acked))
}

type crashAck struct {
	partition int32
	offset    int64
	cycle     int
}

// crashState is what the producer was told across all cycles.
type crashState struct {
	mu     sync.Mutex
	next   int              // next sequence number to send
	acked  map[int]crashAck // acknowledged sequence numbers
	first  []int            // per cycle: its first sequence number
	dupOK  []bool           // per cycle: a produce request may have been reissued
	from   map[int32]int64  // per partition: where the last cycle's records start
	counts []int            // per cycle: records acknowledged
}

func crashKey(seq int) []byte { return strconv.AppendInt([]byte("k"), int64(seq), 10) }

// crashValue is seq's record value: "crash|seq|" and a filler derived from
// seq, so that a record is intact exactly when its value equals this.
func crashValue(seq int) []byte {
	v := fmt.Appendf(nil, "crash|%d|", seq)
	fill := byte('a' + seq%26)
	return append(v, bytes.Repeat([]byte{fill}, 16+seq%240)...)
}

// crashHooks notices produce requests that failed before the kill: kgo
// reissues those, and without idempotence a reissued request may be written
// twice, which Kafka allows.
type crashHooks struct {
	killed atomic.Bool
	risky  atomic.Bool
}

func (h *crashHooks) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key == 0 && err != nil && !h.killed.Load() {
		h.risky.Store(true)
	}
}

func (h *crashHooks) OnBrokerRead(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key == 0 && err != nil && !h.killed.Load() {
		h.risky.Store(true)
	}
}

func (h *crashHooks) OnBrokerDisconnect(meta kgo.BrokerMetadata, _ net.Conn) {
	if meta.NodeID >= 0 && !h.killed.Load() {
		h.risky.Store(true)
	}
}

// produceUntilKilled produces records as fast as the broker takes them,
// SIGKILLs the child after d, and records which records were acknowledged.
func (st *crashState) produceUntilKilled(t *testing.T, c *child, d time.Duration) {
	t.Helper()
	hooks := new(crashHooks)
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(c.Addr()),
		kgo.DefaultProduceTopic(crashTopic),
		kgo.DisableIdempotentWrite(),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.MaxBufferedRecords(5000),
		kgo.ProducerLinger(time.Millisecond),
		kgo.WithHooks(hooks),
	)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		promises sync.WaitGroup
		acked    atomic.Int64
		stopped  = make(chan struct{})
		cycle    = len(st.counts)
	)
	st.first = append(st.first, st.next)
	go func() {
		defer close(stopped)
		for ctx.Err() == nil {
			seq := st.next
			st.next++
			promises.Add(1)
			cl.Produce(ctx, &kgo.Record{Key: crashKey(seq), Value: crashValue(seq)}, func(r *kgo.Record, err error) {
				defer promises.Done()
				if err != nil {
					return
				}
				acked.Add(1)
				st.mu.Lock()
				st.acked[seq] = crashAck{r.Partition, r.Offset, cycle}
				st.mu.Unlock()
			})
		}
	}()
	time.Sleep(d)
	hooks.killed.Store(true)
	c.Kill()
	cancel()
	<-stopped
	cl.Close() // fails what is still buffered or in flight
	if !waitGroupTimeout(&promises, 30*time.Second) {
		t.Fatalf("cycle %d: record promises still pending 30s after closing the client", cycle)
	}
	st.dupOK = append(st.dupOK, hooks.risky.Load())
	st.counts = append(st.counts, int(acked.Load()))
	if acked.Load() == 0 {
		t.Errorf("cycle %d: no record acknowledged in %v: the test proves nothing", cycle, d)
	}
	t.Logf("cycle %d: killed after %v: %d sent so far, %d acknowledged this cycle", cycle, d, st.next, acked.Load())
}

// cycleOf returns the cycle that sent seq.
func (st *crashState) cycleOf(seq int) int {
	i, found := slices.BinarySearch(st.first, seq)
	if !found {
		i--
	}
	return i
}

func waitGroupTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-done:
		return true
	case <-timer.C:
		return false
	}
}

// verify reads the records written since the last verify (all records when
// full) and checks them against what the producer was told.
func (st *crashState) verify(t *testing.T, addr string, full bool) {
	t.Helper()
	from := st.from
	if full {
		from = nil
	}
	got, end := consumeKgoFrom(t, addr, crashTopic, from)
	st.mu.Lock()
	defer st.mu.Unlock()

	errs := 0
	fail := func(format string, args ...any) {
		t.Helper()
		if errs++; errs <= 10 {
			t.Errorf(format, args...)
		}
	}
	type pos struct {
		p   int32
		off int64
	}
	at := make(map[pos]rec, len(got))
	seen := map[int]int{}
	lastSeq := map[int32]int{}
	for _, g := range got {
		at[pos{g.Partition, g.Offset}] = g
		s, err := g.seq()
		if err != nil || s < 0 || s >= st.next {
			fail("p%d@%d: not a record the producer sent (%v): %v", g.Partition, g.Offset, err, g)
			continue
		}
		if !bytes.Equal(g.Value, crashValue(s)) || !bytes.Equal(g.Key, crashKey(s)) {
			fail("p%d@%d: record %d is damaged: %v", g.Partition, g.Offset, s, g)
		}
		seen[s]++
		dupOK := st.dupOK[st.cycleOf(s)]
		if seen[s] > 1 && !dupOK {
			fail("p%d@%d: record %d appears %d times though no produce request was reissued", g.Partition, g.Offset, s, seen[s])
		}
		if last, ok := lastSeq[g.Partition]; ok && s <= last && !dupOK {
			fail("p%d@%d: record %d stored after record %d (out of produce order)", g.Partition, g.Offset, s, last)
		}
		lastSeq[g.Partition] = s
	}
	checked := 0
	for s, a := range st.acked {
		if f, ok := from[a.partition]; ok && a.offset < f {
			continue
		}
		checked++
		g, ok := at[pos{a.partition, a.offset}]
		switch {
		case !ok:
			fail("record %d acknowledged at p%d@%d in cycle %d is lost (end offset now %d)", s, a.partition, a.offset, a.cycle, end[a.partition])
		case !bytes.Equal(g.Value, crashValue(s)):
			fail("record %d acknowledged at p%d@%d in cycle %d: found %v instead", s, a.partition, a.offset, a.cycle, g)
		}
	}
	if errs > 10 {
		t.Errorf("… and %d more", errs-10)
	}
	if errs > 0 {
		t.FailNow()
	}
	if !full {
		st.from = end
	}
	t.Logf("verified %d records read (%d acknowledged) up to end offsets %v", len(got), checked, end)
}
