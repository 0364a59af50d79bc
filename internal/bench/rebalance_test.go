package bench

import (
	"context"
	"testing"
	"time"
)

func TestRebalanceKfake(t *testing.T) {
	brokers := newKfake(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, bal := range []string{"cooperative-sticky", "range"} {
		t.Run(bal, func(t *testing.T) {
			rs, err := Rebalance(ctx, RebalanceConfig{
				Brokers: brokers, Topic: "rebalance-" + bal, Group: "g-" + bal, Balancer: bal,
				Iterations: 2, Timeout: 20 * time.Second, Label: "kfake",
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != 4 {
				t.Fatalf("%d rows", len(rs))
			}
			for i, r := range rs {
				t.Log(r.Summary())
				want := "rebalance 4 members 8p join"
				if i%2 == 1 {
					want = "rebalance 4 members 8p leave"
				}
				if r.Mode != ModeRebalance || r.Workload != want || r.Unit != "ms" || r.Value <= 0 ||
					r.Value > 20000 || r.Partitions != 8 || r.Clients != 4 {
					t.Errorf("row %d: %+v", i, r)
				}
			}
		})
	}
}

func TestOwnership(t *testing.T) {
	o := newOwnership(3, 4)
	o.setLive(0, true)
	o.setLive(1, true)
	done := o.expect(2)
	o.change(0, map[string][]int32{"t": {0, 1, 2, 3}}, true)
	select {
	case <-done:
		t.Fatal("done while member 1 owns nothing")
	default:
	}
	o.change(0, map[string][]int32{"t": {2, 3}}, false)
	o.change(1, map[string][]int32{"t": {2}}, true)
	select {
	case <-done:
		t.Fatal("done while partition 3 is unowned")
	default:
	}
	o.change(1, map[string][]int32{"t": {3}}, true)
	select {
	case <-done:
	default:
		t.Fatal("not done when both own two partitions")
	}
	// A third member joining: not done until it owns some, and overlap
	// (a partition not yet revoked) does not count.
	o.setLive(2, true)
	done = o.expect(3)
	o.change(2, map[string][]int32{"t": {3}}, true)
	select {
	case <-done:
		t.Fatal("done while partition 3 is owned twice")
	default:
	}
	o.change(1, map[string][]int32{"t": {3}}, false)
	<-done
	if o.when().IsZero() {
		t.Fatal("no time recorded")
	}
}
