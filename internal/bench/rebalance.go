package bench

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// RebalanceConfig describes a consumer-group rebalance measurement: Members
// franz-go group members consume Topic (Partitions partitions, created if
// missing, left empty). Members-1 of them join and settle; then the last
// one starts, and the join time runs from its start until every member owns
// at least one partition and together they own each partition exactly once.
// Then the first member leaves (Close, which sends LeaveGroup), and the
// leave time runs from that until the remaining members own every partition
// again. Each iteration uses a new group.
type RebalanceConfig struct {
	Brokers    []string
	Topic      string
	Group      string // group name prefix (default "octopus-bench-rebalance"); iteration i uses Group-i
	Partitions int    // default 8
	Members    int    // default 4, at least 2
	Iterations int    // default 1
	// Timeout bounds each wait (settling, join, leave); default 30 s.
	Timeout time.Duration
	// Heartbeat is kgo.HeartbeatInterval (default 100 ms): members learn of
	// a rebalance on their next heartbeat, so kgo's 3 s default would make
	// the figure mostly heartbeat phase, not broker.
	Heartbeat time.Duration
	// Balancer is cooperative-sticky (default, kgo's default), sticky,
	// range or roundrobin.
	Balancer string

	Label    string
	Workload string // prefix of the two rows' names (default "rebalance <Members> members <Partitions>p")
	Opts     []kgo.Opt
}

func (c *RebalanceConfig) defaults() error {
	if len(c.Brokers) == 0 {
		return errors.New("bench: no brokers")
	}
	if c.Topic == "" {
		return errors.New("bench: no topic")
	}
	if c.Group == "" {
		c.Group = "octopus-bench-rebalance"
	}
	if c.Partitions <= 0 {
		c.Partitions = 8
	}
	if c.Members == 0 {
		c.Members = 4
	}
	if c.Members < 2 {
		return errors.New("bench: rebalance needs at least 2 members")
	}
	if c.Iterations <= 0 {
		c.Iterations = 1
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 100 * time.Millisecond
	}
	if c.Workload == "" {
		c.Workload = fmt.Sprintf("rebalance %d members %dp", c.Members, c.Partitions)
	}
	return nil
}

func parseBalancer(s string) (kgo.GroupBalancer, error) {
	switch strings.ToLower(s) {
	case "", "cooperative-sticky":
		return kgo.CooperativeStickyBalancer(), nil
	case "sticky":
		return kgo.StickyBalancer(), nil
	case "range":
		return kgo.RangeBalancer(), nil
	case "roundrobin":
		return kgo.RoundRobinBalancer(), nil
	}
	return nil, fmt.Errorf("bench: balancer %q: want cooperative-sticky, sticky, range or roundrobin", s)
}

// ownership tracks which partitions each member owns, from the members'
// assignment callbacks, and tells a waiter when the live members own every
// partition exactly once, each at least one.
type ownership struct {
	mu         sync.Mutex
	partitions int
	owned      []map[int32]bool // by member index
	live       []bool
	want       int           // live members the waiter expects
	done       chan struct{} // closed when the condition holds; nil when nobody waits
	at         time.Time     // when it first held
}

func newOwnership(members, partitions int) *ownership {
	o := &ownership{partitions: partitions, owned: make([]map[int32]bool, members), live: make([]bool, members)}
	for i := range o.owned {
		o.owned[i] = map[int32]bool{}
	}
	return o
}

// change applies an assignment callback of member i and re-checks.
func (o *ownership) change(i int, parts map[string][]int32, add bool) {
	now := time.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, ps := range parts {
		for _, p := range ps {
			if add {
				o.owned[i][p] = true
			} else {
				delete(o.owned[i], p)
			}
		}
	}
	o.checkLocked(now)
}

// setLive marks member i as live or gone and re-checks.
func (o *ownership) setLive(i int, live bool) {
	now := time.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	o.live[i] = live
	o.checkLocked(now)
}

// expect arms the condition for n live members and returns a channel closed
// once it holds (at once if it already does).
func (o *ownership) expect(n int) <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.want, o.done, o.at = n, make(chan struct{}), time.Time{}
	ch := o.done
	o.checkLocked(time.Now())
	return ch
}

// when returns the time the armed condition first held.
func (o *ownership) when() time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.at
}

func (o *ownership) checkLocked(now time.Time) {
	if o.done == nil || !o.at.IsZero() {
		return
	}
	live, total := 0, 0
	seen := map[int32]bool{}
	for i, ps := range o.owned {
		if !o.live[i] {
			continue
		}
		live++
		if len(ps) == 0 && o.partitions >= o.want {
			return
		}
		for p := range ps {
			seen[p] = true
			total++
		}
	}
	if live != o.want || len(seen) != o.partitions || total != o.partitions {
		return
	}
	o.at = now
	close(o.done)
}

// Rebalance runs the measurement and returns two rows per iteration:
// "<Workload> join" (the last member's start to full assignment) and
// "<Workload> leave" (the first member's leaving to full assignment of the
// rest), each with the milliseconds in Value.
func Rebalance(ctx context.Context, cfg RebalanceConfig) ([]Result, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	bal, err := parseBalancer(cfg.Balancer)
	if err != nil {
		return nil, err
	}
	admCl, adm, err := newAdmin(cfg.Brokers, cfg.Opts)
	if err != nil {
		return nil, err
	}
	parts, err := ensureTopic(ctx, adm, cfg.Topic, cfg.Partitions)
	admCl.Close()
	if err != nil {
		return nil, err
	}
	var out []Result
	for it := range cfg.Iterations {
		join, leave, err := rebalanceOnce(ctx, cfg, bal, len(parts), fmt.Sprintf("%s-%d", cfg.Group, it))
		if err != nil {
			return out, err
		}
		mk := func(what string, d time.Duration) Result {
			return Result{Mode: ModeRebalance, Label: cfg.Label, Workload: cfg.Workload + " " + what,
				Topic: cfg.Topic, Partitions: len(parts), Clients: cfg.Members,
				Elapsed: d, Value: float64(d) / float64(time.Millisecond), Unit: "ms"}
		}
		out = append(out, mk("join", join), mk("leave", leave))
	}
	return out, nil
}

func rebalanceOnce(ctx context.Context, cfg RebalanceConfig, bal kgo.GroupBalancer, partitions int, group string) (join, leave time.Duration, err error) {
	own := newOwnership(cfg.Members, partitions)
	clients := make([]*kgo.Client, cfg.Members)
	var wg sync.WaitGroup
	defer func() {
		for i, cl := range clients {
			if cl != nil {
				own.setLive(i, false)
				cl.Close()
			}
		}
		wg.Wait()
	}()
	start := func(i int) error {
		opts := append([]kgo.Opt{
			kgo.SeedBrokers(cfg.Brokers...),
			kgo.ConsumerGroup(group),
			kgo.ConsumeTopics(cfg.Topic),
			kgo.Balancers(bal),
			kgo.HeartbeatInterval(cfg.Heartbeat),
			kgo.DisableAutoCommit(),
			kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { own.change(i, m, true) }),
			kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { own.change(i, m, false) }),
			kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { own.change(i, m, false) }),
		}, cfg.Opts...)
		own.setLive(i, true)
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			own.setLive(i, false)
			return fmt.Errorf("bench: group member: %w", err)
		}
		clients[i] = cl
		// Members poll as consumers do; the topic is empty, so this only
		// keeps the client's fetch loop in the usual state.
		wg.Go(func() {
			for {
				if cl.PollFetches(ctx).IsClientClosed() || ctx.Err() != nil {
					return
				}
			}
		})
		return nil
	}
	wait := func(ch <-chan struct{}, what string) error {
		t := time.NewTimer(cfg.Timeout)
		defer t.Stop()
		select {
		case <-ch:
			return nil
		case <-t.C:
			return fmt.Errorf("bench: rebalance: %s not done after %v", what, cfg.Timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}

	n := cfg.Members
	settled := own.expect(n - 1)
	for i := range n - 1 {
		if err := start(i); err != nil {
			return 0, 0, err
		}
	}
	if err := wait(settled, fmt.Sprintf("first %d members' assignment", n-1)); err != nil {
		return 0, 0, err
	}

	joined := own.expect(n)
	t0 := time.Now()
	if err := start(n - 1); err != nil {
		return 0, 0, err
	}
	if err := wait(joined, fmt.Sprintf("assignment after member %d joined", n)); err != nil {
		return 0, 0, err
	}
	join = own.when().Sub(t0)

	left := own.expect(n - 1)
	t1 := time.Now()
	own.setLive(0, false)
	closed := make(chan struct{})
	go func() {
		clients[0].Close()
		close(closed)
	}()
	err = wait(left, fmt.Sprintf("assignment after member 1 of %d left", n))
	<-closed
	clients[0] = nil
	if err != nil {
		return 0, 0, err
	}
	leave = own.when().Sub(t1)
	return join, leave, nil
}
