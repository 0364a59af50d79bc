package broker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	plog "github.com/octofabric/octopus/internal/log"
)

// startBroker runs a broker on a loopback port for the test's lifetime.
func startBroker(t *testing.T, dir string, mod func(*Config)) (*Broker, string) {
	t.Helper()
	cfg := Config{
		DataDir:          dir,
		AutoCreateTopics: true,
		Fsync:            plog.FsyncAlways,
		Logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if mod != nil {
		mod(&cfg)
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go b.Serve(ln)
	t.Cleanup(func() { b.Close() })
	return b, ln.Addr().String()
}

func newClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func TestProduceFetchRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	b, addr := startBroker(t, dir, nil)
	adm := kadm.NewClient(newClient(t, addr))
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, "events"); err != nil {
		t.Fatal(err)
	}
	prod := newClient(t, addr, kgo.DefaultProduceTopic("events"), kgo.ProducerBatchCompression(kgo.SnappyCompression()))
	const n = 300
	for i := 0; i < n; i++ {
		r := &kgo.Record{Key: []byte(fmt.Sprint(i % 7)), Value: []byte(fmt.Sprintf("v%d", i)),
			Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("x")}}}
		prod.Produce(ctx, r, nil)
	}
	if err := prod.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	b.Close()

	_, addr = startBroker(t, dir, nil)
	cons := newClient(t, addr, kgo.ConsumeTopics("events"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := 0
	for got < n {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d: %v", got, n, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if len(r.Headers) != 1 || string(r.Headers[0].Value) != "x" {
				t.Fatalf("record %s lost its header", r.Value)
			}
			got++
		})
	}
	if got != n {
		t.Fatalf("consumed %d, want %d", got, n)
	}
}

func TestAdminErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, addr := startBroker(t, t.TempDir(), nil)
	adm := kadm.NewClient(newClient(t, addr))
	for _, tc := range []struct {
		name       string
		partitions int32
		configs    map[string]*string
		want       error
	}{
		{"bad/name", 1, nil, kerr.InvalidTopicException},
		{"ok", 2, nil, nil},
		{"ok", 2, nil, kerr.TopicAlreadyExists},
		{"compact", 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, kerr.InvalidConfig},
		{"zero", 0, nil, kerr.InvalidPartitions},
	} {
		resp, err := adm.CreateTopic(ctx, tc.partitions, 1, tc.configs, tc.name)
		if err != nil && resp.Err == nil {
			t.Fatal(err)
		}
		if resp.Err != tc.want {
			t.Errorf("create %s: err = %v, want %v", tc.name, resp.Err, tc.want)
		}
	}
	if _, err := adm.CreatePartitions(ctx, 3, "ok"); err != nil {
		t.Fatal(err)
	}
	td, err := adm.ListTopics(ctx, "ok")
	if err != nil || len(td["ok"].Partitions) != 5 {
		t.Fatalf("after CreatePartitions: %v, %v", td, err)
	}
	dr, err := adm.DeleteTopics(ctx, "ok", "missing")
	if err != nil {
		t.Fatal(err)
	}
	if dr["ok"].Err != nil || dr["missing"].Err != kerr.UnknownTopicOrPartition {
		t.Fatalf("delete: ok=%v missing=%v", dr["ok"].Err, dr["missing"].Err)
	}
}

func TestDataDirLocked(t *testing.T) {
	dir := t.TempDir()
	startBroker(t, dir, nil)
	_, err := New(Config{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second broker on one data dir: err = %v", err)
	}
}
