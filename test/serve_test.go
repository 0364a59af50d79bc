package test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestChildHTTPEndpoints checks `octopus serve`'s health, readiness and
// metrics endpoints, and that SIGTERM exits 0.
func TestChildHTTPEndpoints(t *testing.T) {
	t.Parallel()
	c := startChild(t, t.TempDir())
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		code, body, err := c.httpGet(path)
		if err != nil || code != 200 {
			t.Errorf("GET %s: %d %v\n%.300s", path, code, err, body)
		}
		if path == "/metrics" && !strings.Contains(body, "# TYPE ") {
			t.Errorf("GET /metrics: no Prometheus text exposition:\n%.300s", body)
		}
	}
	c.Stop()
}

// TestAutoCreateTopics produces to a topic nobody created: with
// auto-creation on, Metadata creates it with the default partition count.
func TestAutoCreateTopics(t *testing.T) {
	t.Parallel()
	forEachMode(t, func(t *testing.T, m mode) {
		s := m.start(t, "", serverOpts{AutoCreate: true, DefaultPartitions: 4})
		const topic = "auto.created"
		recs := makeRecords(topic, 200)
		produceKgo(t, s.Addr(), topic, "zstd", recs, kgo.AllowAutoTopicCreation())
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		td, err := kadm.NewClient(newKgo(t, s.Addr())).ListTopics(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(td[topic].Partitions); got != 4 {
			t.Errorf("auto-created %s has %d partitions, want 4 (--default-partitions)", topic, got)
		}
		s.Restart(t)
		checkRecords(t, recs, consumeKgo(t, s.Addr(), topic), checkOpts{codec: 4})
	})
}
