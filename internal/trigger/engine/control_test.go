package engine

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/octofabric/octopus/internal/trigger"
)

// TestRetryAfterAndHang: a 429 with Retry-After: 1 is called again no
// sooner than a second later; a receiver that hangs past the action's
// timeout is retried up to max attempts, then dead-lettered (status 0,
// the timeout in the log).
func TestRetryAfterAndHang(t *testing.T) {
	eachPlane(t, func(t *testing.T, addr string) {
		e := newEnv(t, addr)
		topic, slowTopic, dlq := e.name("limited"), e.name("slow"), e.name("dlq")
		e.createTopic(topic, 1)
		e.createTopic(slowTopic, 1)
		e.createTopic(dlq, 1)
		limited := newReceiver(t, func(n int, _ call, w http.ResponseWriter) bool {
			if n == 1 {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				return true
			}
			return false
		})
		release := make(chan struct{})
		hang := newReceiver(t, func(int, call, http.ResponseWriter) bool {
			select {
			case <-release:
			case <-time.After(5 * time.Second):
			}
			return false
		})
		t.Cleanup(func() { close(release) }) // before the receiver's Close
		d1 := deployed(e.name("limited"), limited.srv.URL, topic)
		d2 := deployed(e.name("hang"), hang.srv.URL, slowTopic)
		d2.Spec.Action.TimeoutMs = 200
		d2.Spec.Retry.MaxAttempts = 2
		d2.Spec.DeadLetterTopic = dlq
		e.src.put(d1)
		e.src.put(d2)
		eng, _ := e.startEngine(engineOpts{})
		e.produce(topic, events(0, 1, func(int) string { return "x" })...)
		e.produce(slowTopic, events(0, 1, func(int) string { return "x" })...)
		eventually(t, 20*time.Second, "the limited receiver called twice", func() bool { return len(limited.snapshot()) >= 2 })
		cs := limited.snapshot()
		if gap := cs[1].at.Sub(cs[0].at); gap < time.Second {
			t.Fatalf("called again after %v despite Retry-After: 1", gap)
		}
		if got := e.consume(dlq, 1); len(got) != 1 {
			t.Fatal("no dead letter")
		}
		invs, err := eng.Logs(e.ctx, d2.ID, trigger.LogQuery{Status: trigger.StatusRetry})
		if err != nil || len(invs) != 1 || invs[0].HTTPStatus != 0 || !strings.Contains(invs[0].Error, "timeout") && !strings.Contains(invs[0].Error, "deadline") {
			t.Fatalf("retry invocations of the hanging receiver: %+v, %v", invs, err)
		}
		if n := len(hang.snapshot()); n != 2 {
			t.Fatalf("the hanging receiver was called %d times, want max attempts (2)", n)
		}
	})
}

// TestPauseResumeUpdate: a paused trigger calls nothing; resumed, it
// delivers what was produced meanwhile and nothing twice; an update (new
// version) restarts it where it was, with the new filter; deleted, it
// stops and its consumer group is deleted.
func TestPauseResumeUpdate(t *testing.T) {
	eachPlane(t, func(t *testing.T, addr string) {
		e := newEnv(t, addr)
		topic := e.name("steps")
		e.createTopic(topic, 2)
		rc := newReceiver(t, nil)
		d := deployed(e.name("steps"), rc.srv.URL, topic)
		e.src.put(d)
		eng, _ := e.startEngine(engineOpts{})
		any := func(int) string { return "x" }
		e.produce(topic, events(0, 10, any)...)
		eventually(t, 20*time.Second, "10 delivered", func() bool { return len(rc.records()) == 10 })

		e.src.setEnabled(d.ID, false)
		eventually(t, 20*time.Second, "paused", func() bool { _, ok := eng.Running()[d.ID]; return !ok })
		e.produce(topic, events(10, 20, any)...)
		time.Sleep(time.Second)
		if n := len(rc.records()); n != 10 {
			t.Fatalf("%d records delivered while paused", n-10)
		}

		e.src.setEnabled(d.ID, true)
		eventually(t, 20*time.Second, "20 delivered after resuming", func() bool { return len(rc.records()) >= 20 })
		time.Sleep(300 * time.Millisecond)
		got := numbers(rc.records())
		slices.Sort(got)
		if want := seq(0, 20); !slices.Equal(got, want) {
			t.Fatalf("delivered %v, want %v once each", got, want)
		}

		cur := e.src.get(d.ID)
		cur.Spec.Filter = json.RawMessage(`[{"value": {"status": ["keep"]}}]`)
		e.src.put(cur)
		eventually(t, 20*time.Second, "the new version running", func() bool {
			return eng.Running()[d.ID].Version == e.src.get(d.ID).Version
		})
		e.produce(topic, events(20, 30, func(n int) string {
			if n%2 == 0 {
				return "keep"
			}
			return "drop"
		})...)
		eventually(t, 20*time.Second, "the 5 kept after the update", func() bool { return len(rc.records()) >= 25 })
		time.Sleep(300 * time.Millisecond)
		got = numbers(rc.records())
		slices.Sort(got)
		if want := append(seq(0, 20), 20, 22, 24, 26, 28); !slices.Equal(got, want) {
			t.Fatalf("after the update delivered %v, want %v", got, want)
		}

		// Deleted, the trigger stops and its consumer group goes.
		e.src.remove(d.ID)
		group := DefaultGroupPrefix + d.ID
		eventually(t, 20*time.Second, "the deleted trigger's group gone", func() bool {
			gs, err := e.adm.ListGroups(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			_, ok := gs[group]
			return !ok
		})
		if _, ok := eng.Running()[d.ID]; ok {
			t.Fatal("a deleted trigger still runs")
		}
	})
}

func seq(from, to int) []int {
	var out []int
	for n := from; n < to; n++ {
		out = append(out, n)
	}
	return out
}

// TestScaling: with a slow receiver and a backlog on 4 partitions, the
// concurrency climbs to its maximum (4); when the backlog is gone it comes
// back to the minimum (1).
func TestScaling(t *testing.T) {
	eachPlane(t, func(t *testing.T, addr string) {
		e := newEnv(t, addr)
		topic := e.name("backlog")
		e.createTopic(topic, 4)
		var mu sync.Mutex
		inFlight, peak := 0, 0
		rc := newReceiver(t, func(int, call, http.ResponseWriter) bool {
			mu.Lock()
			inFlight++
			peak = max(peak, inFlight)
			mu.Unlock()
			time.Sleep(50 * time.Millisecond)
			mu.Lock()
			inFlight--
			mu.Unlock()
			return false
		})
		d := deployed(e.name("scale"), rc.srv.URL, topic)
		d.Spec.BatchSize = 1
		d.Spec.Concurrency = trigger.Concurrency{Min: 1, Max: 4}
		e.src.put(d)
		eng, _ := e.startEngine(engineOpts{})
		eventually(t, 20*time.Second, "running", func() bool { _, ok := eng.Running()[d.ID]; return ok })
		e.produce(topic, events(0, 200, func(int) string { return "x" })...)
		eventually(t, 30*time.Second, "concurrency at its maximum", func() bool { return eng.Running()[d.ID].Concurrency == 4 })
		eventually(t, 60*time.Second, "200 delivered", func() bool { return len(rc.records()) >= 200 })
		eventually(t, 30*time.Second, "concurrency back at its minimum", func() bool { return eng.Running()[d.ID].Concurrency == 1 })
		mu.Lock()
		defer mu.Unlock()
		if peak < 2 || peak > 4 {
			t.Fatalf("at most %d calls were in flight at once, want 2 to 4", peak)
		}
	})
}

// TestOrderingNone: with ordering "none", batches of one partition overlap,
// but the committed offset never passes the lowest unfinished batch.
func TestOrderingNone(t *testing.T) {
	eachPlane(t, func(t *testing.T, addr string) {
		e := newEnv(t, addr)
		topic := e.name("unordered")
		e.createTopic(topic, 1)
		release := make(chan struct{})
		rc := newReceiver(t, func(_ int, c call, _ http.ResponseWriter) bool {
			if c.Records[0].Offset == 0 {
				<-release
			}
			return false
		})
		d := deployed(e.name("none"), rc.srv.URL, topic)
		d.Spec.BatchSize = 1
		d.Spec.Ordering = trigger.OrderNone
		d.Spec.Concurrency = trigger.Concurrency{Min: 4, Max: 4}
		d.Spec.Action.TimeoutMs = 60_000
		e.src.put(d)
		e.startEngine(engineOpts{})
		e.produce(topic, events(0, 10, func(int) string { return "x" })...)
		eventually(t, 20*time.Second, "the 9 records after the blocked one delivered", func() bool { return len(rc.records()) >= 10 })
		time.Sleep(500 * time.Millisecond) // several commit periods
		if c, ok := e.committed(DefaultGroupPrefix+d.ID, topic)[0]; ok && c > 0 {
			close(release)
			t.Fatalf("committed %d while offset 0 is unfinished", c)
		}
		close(release)
		eventually(t, 10*time.Second, "everything committed once offset 0 finished", func() bool {
			return e.committed(DefaultGroupPrefix+d.ID, topic)[0] == 10
		})
	})
}
