package scenario

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// waitStable waits until the group is Stable with want members that each
// hold at least one partition, as DescribeGroups reports it. It gives up
// when a member's consumer returns first (its error is the reason).
func waitStable(ctx context.Context, cfg Config, want int, members ...<-chan error) error {
	adm, err := admin(cfg)
	if err != nil {
		return err
	}
	defer adm.Close()
	var last string
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		for i, done := range members {
			select {
			case err := <-done:
				return fmt.Errorf("member %c returned while joining: %v", 'A'+i, err)
			default:
			}
		}
		last = describeState(ctx, adm, cfg.Group, want)
		if last == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("group not stable with %d members holding partitions: %s: %w", want, last, ctx.Err())
		case <-tick.C:
		}
	}
}

// describeState returns "" when the group is ready, else what it is.
func describeState(ctx context.Context, adm *kadm.Client, group string, want int) string {
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	groups, err := adm.DescribeGroups(dctx, group)
	if err != nil {
		return "DescribeGroups: " + err.Error()
	}
	g, ok := groups[group]
	if !ok {
		return "group missing from DescribeGroups"
	}
	if g.Err != nil {
		return "DescribeGroups: " + g.Err.Error()
	}
	if g.State != "Stable" || len(g.Members) != want {
		return fmt.Sprintf("state %s with %d members", g.State, len(g.Members))
	}
	for _, m := range g.Members {
		a, ok := m.Assigned.AsConsumer()
		if !ok {
			return "member " + m.MemberID + " has no consumer assignment"
		}
		n := 0
		for _, t := range a.Topics {
			n += len(t.Partitions)
		}
		if n == 0 {
			return "member " + m.MemberID + " holds no partition"
		}
	}
	return ""
}

// CreateTopic creates topic with franz-go's admin client, for clients that
// have no admin API of their own (kcat).
func CreateTopic(ctx context.Context, cfg Config, topic string, partitions int32) error {
	adm, err := admin(cfg)
	if err != nil {
		return err
	}
	defer adm.Close()
	resp, err := adm.CreateTopic(ctx, partitions, 1, nil, topic)
	if err != nil {
		return err
	}
	return resp.Err
}

func admin(cfg Config) (*kadm.Client, error) {
	sec, err := cfg.Security.KgoOpts()
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(cfg.Bootstrap)}, sec...)...)
	if err != nil {
		return nil, err
	}
	return kadm.NewClient(cl), nil
}
