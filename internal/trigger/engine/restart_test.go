package engine

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/octofabric/octopus/internal/testenv"
)

// restartCase is a way of interrupting a running trigger.
type restartCase struct {
	name    string
	start   func(t *testing.T) (addr string, restartBroker func())
	restart string // "engine" or "broker"
}

// TestAtLeastOnceAcrossRestarts produces a steady stream while a trigger
// delivers it, and interrupts delivery mid-stream: the engine is stopped
// without draining (batches in flight are abandoned, as in a crash of
// Octopus) and a new one started; or the event plane is restarted under
// the running engine. Every record must arrive at least once.
func TestAtLeastOnceAcrossRestarts(t *testing.T) {
	cases := []restartCase{
		{"embedded/engine", func(t *testing.T) (string, func()) { return planes[0].start(t), nil }, "engine"},
		{"kafka/engine", func(t *testing.T) (string, func()) { return planes[1].start(t), nil }, "engine"},
		{"embedded/broker", startRestartableEmbedded, "broker"},
		{"kafka/broker", startRestartableKafka, "broker"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			addr, restartBroker := c.start(t)
			e := newEnv(t, addr)
			topic := e.name("stream")
			e.createTopic(topic, 3)
			rc := newReceiver(t, func(int, call, http.ResponseWriter) bool {
				time.Sleep(2 * time.Millisecond)
				return false
			})
			d := deployed(e.name("stream"), rc.srv.URL, topic)
			d.Spec.BatchSize = 5
			e.src.put(d)
			_, stop := e.startEngine(engineOpts{drain: time.Nanosecond})

			const total = 600
			produced := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				for i := 0; i < total; i += 20 {
					recs := events(i, i+20, func(int) string { return "x" })
					for _, r := range recs {
						r.Topic = topic
					}
					// The client retries through a broker restart.
					if err := e.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
						produced <- err
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
				produced <- nil
			}()
			eventually(t, 60*time.Second, "deliveries under way", func() bool { return len(rc.records()) >= 100 })
			switch c.restart {
			case "engine":
				stop()
				e.startEngine(engineOpts{})
			case "broker":
				restartBroker()
			}
			if err := <-produced; err != nil {
				t.Fatalf("producing: %v", err)
			}
			eventually(t, 90*time.Second, fmt.Sprintf("all %d records delivered", total), func() bool {
				seen := map[int]bool{}
				for _, n := range numbers(rc.records()) {
					seen[n] = true
				}
				return len(seen) == total
			})
			t.Logf("%d deliveries of %d records (%d repeated)", len(rc.records()), total, len(rc.records())-total)
		})
	}
}

// startRestartableEmbedded runs the embedded broker on a fixed directory
// and port, so that it can be closed and opened again.
func startRestartableEmbedded(t *testing.T) (string, func()) {
	dir := t.TempDir()
	b := testenv.SecureBroker(t, testenv.BrokerOptions{DataDir: dir})
	addr := b.Addr
	return addr, func() {
		if err := b.Close(); err != nil {
			t.Fatalf("closing the broker: %v", err)
		}
		time.Sleep(500 * time.Millisecond) // the engine sees the broker gone
		b = testenv.SecureBroker(t, testenv.BrokerOptions{DataDir: dir, Addr: addr})
	}
}

func startRestartableKafka(t *testing.T) (string, func()) {
	if testing.Short() {
		t.Skip("-short: no Apache Kafka")
	}
	k := testenv.KafkaOwn(t, "sasl")
	return k.Addr(), func() { k.Restart(t) }
}
