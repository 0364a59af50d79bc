package broker

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/octofabric/octopus/internal/broker/group"
)

// TestConsumerGroupRebalanceAndCommit runs two kgo group members with each
// client-side balancer: they split the partitions, one leaves, the other
// takes everything over, and committed offsets survive a broker restart.
func TestConsumerGroupRebalanceAndCommit(t *testing.T) {
	for _, bal := range []struct {
		name string
		b    kgo.GroupBalancer
	}{
		{"range", kgo.RangeBalancer()},
		{"roundrobin", kgo.RoundRobinBalancer()},
		{"sticky", kgo.StickyBalancer()},
		{"cooperative-sticky", kgo.CooperativeStickyBalancer()},
	} {
		t.Run(bal.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			dir := t.TempDir()
			quick := func(c *Config) {
				c.Groups = group.Config{InitialRebalanceDelay: -1, MinSessionTimeout: 100 * time.Millisecond}
			}
			b, addr := startBroker(t, dir, quick)
			adm := kadm.NewClient(newClient(t, addr))
			if _, err := adm.CreateTopic(ctx, 4, 1, nil, "work"); err != nil {
				t.Fatal(err)
			}
			prod := newClient(t, addr, kgo.DefaultProduceTopic("work"))
			produce := func(from, to int) {
				for i := from; i < to; i++ {
					prod.Produce(ctx, &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprint(i))}, nil)
				}
				if err := prod.Flush(ctx); err != nil {
					t.Fatal(err)
				}
			}

			var mu sync.Mutex
			seen := map[string]string{} // value -> member that consumed it
			assigned := map[string]int{}
			member := func(name string) *kgo.Client {
				return newClient(t, addr, kgo.ConsumerGroup("workers"), kgo.ConsumeTopics("work"),
					kgo.Balancers(bal.b), kgo.SessionTimeout(2*time.Second), kgo.HeartbeatInterval(100*time.Millisecond),
					kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
					kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
						mu.Lock()
						assigned[name] += len(m["work"])
						mu.Unlock()
					}),
					kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
						mu.Lock()
						assigned[name] -= len(m["work"])
						mu.Unlock()
					}))
			}
			until := func(cond func() bool, what string, clients map[string]*kgo.Client) {
				for {
					mu.Lock()
					ok := cond()
					mu.Unlock()
					if ok {
						return
					}
					if ctx.Err() != nil {
						t.Fatalf("timed out waiting for %s (assigned %v, consumed %d)", what, assigned, len(seen))
					}
					for name, cl := range clients {
						pctx, pcancel := context.WithTimeout(ctx, 50*time.Millisecond)
						fs := cl.PollFetches(pctx)
						pcancel()
						fs.EachRecord(func(r *kgo.Record) {
							mu.Lock()
							seen[string(r.Value)] = name
							mu.Unlock()
						})
						if err := cl.CommitUncommittedOffsets(ctx); err != nil && ctx.Err() == nil {
							t.Errorf("commit: %v", err)
						}
					}
				}
			}
			a, c := member("a"), member("c")
			both := map[string]*kgo.Client{"a": a, "c": c}
			until(func() bool { return assigned["a"] > 0 && assigned["c"] > 0 && assigned["a"]+assigned["c"] == 4 }, "both members assigned", both)
			const n = 200
			produce(0, n)
			until(func() bool { return len(seen) == n }, "the first records", both)
			byMember := map[string]int{}
			for _, m := range seen {
				byMember[m]++
			}
			if byMember["a"] == 0 || byMember["c"] == 0 {
				t.Fatalf("partitions were not shared: %v", byMember)
			}
			// c leaves; a must take over every partition.
			c.Close()
			produce(n, 2*n)
			until(func() bool { return len(seen) == 2*n && assigned["a"] == 4 }, "a to take over", map[string]*kgo.Client{"a": a})
			if err := a.CommitUncommittedOffsets(ctx); err != nil {
				t.Fatal(err)
			}
			a.Close()

			b.Close()
			_, addr = startBroker(t, dir, quick)
			adm = kadm.NewClient(newClient(t, addr))
			offs, err := adm.FetchOffsets(ctx, "workers")
			if err != nil {
				t.Fatal(err)
			}
			var total int64
			offs.Each(func(o kadm.OffsetResponse) { total += o.At })
			if total != 2*n {
				t.Fatalf("committed offsets after restart sum to %d, want %d", total, 2*n)
			}
		})
	}
}
