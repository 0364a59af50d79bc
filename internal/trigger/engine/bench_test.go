package engine

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/octofabric/octopus/internal/bench"
	plog "github.com/octofabric/octopus/internal/log"
	"github.com/octofabric/octopus/internal/testenv"
)

// The trigger benchmarks measure what issue 7 sets targets for, on the
// embedded broker (fsync always, the default, and never) and on Apache
// Kafka, in one run:
//
//	go test -run '^$' -bench 'TriggerLatency|IdleTriggers' -benchtime 1x -timeout 30m ./internal/trigger/engine/
//
// Latencies are from the producer's send (a timestamp in the value) to the
// receiver reading the request; CPU is the test process's, which holds the
// embedded broker, the engine and the receiver (Kafka runs in its own JVM,
// so its idle cost is reported without the broker's share).

var (
	latencySeconds = flag.Int("engine.latency.seconds", 10, "how long BenchmarkTriggerLatency produces")
	latencyRate    = flag.Int("engine.latency.rate", 1000, "records per second BenchmarkTriggerLatency produces")
	idleTriggers   = flag.Int("engine.idle.triggers", 1000, "triggers BenchmarkIdleTriggers runs")
	idleSeconds    = flag.Int("engine.idle.seconds", 30, "how long BenchmarkIdleTriggers measures")
	idleProfile    = flag.String("engine.idle.cpuprofile", "", "write a CPU profile of BenchmarkIdleTriggers' measured window with triggers to this file")
)

type benchPlane struct {
	name  string
	start func(b *testing.B) string
}

var benchPlanes = []benchPlane{
	{"embedded-fsync-always", func(b *testing.B) string { return testenv.SecureBroker(b, testenv.BrokerOptions{}).Addr }},
	{"embedded-fsync-never", func(b *testing.B) string {
		return testenv.SecureBroker(b, testenv.BrokerOptions{Fsync: plog.FsyncNever}).Addr
	}},
	{"kafka", func(b *testing.B) string { return testenv.Kafka(b, "sasl") }},
}

// BenchmarkTriggerLatency produces -engine.latency.rate records a second
// for -engine.latency.seconds to a trigger with batching window 0 and
// reports the produce-to-webhook latency percentiles.
func BenchmarkTriggerLatency(b *testing.B) {
	for _, p := range benchPlanes {
		b.Run(p.name, func(b *testing.B) {
			addr := p.start(b)
			for b.Loop() {
				h := triggerLatency(b, addr)
				s := h.Summary()
				b.ReportMetric(float64(s.P50)/1e6, "p50-ms")
				b.ReportMetric(float64(s.P99)/1e6, "p99-ms")
				b.ReportMetric(float64(s.P999)/1e6, "p99.9-ms")
				b.ReportMetric(float64(s.Max)/1e6, "max-ms")
				b.ReportMetric(float64(h.Count()), "records")
			}
		})
	}
}

func triggerLatency(b *testing.B, addr string) *bench.Histogram {
	e := newEnv(b, addr)
	topic := e.name("latency")
	e.createTopic(topic, 1)
	h := bench.NewHistogram()
	var got atomic.Int64
	srv := newBenchReceiver(b, func(body []byte) {
		now := time.Now().UnixNano()
		var c struct {
			Records []struct {
				Value struct {
					Sent int64 `json:"sent"`
				} `json:"value"`
			} `json:"records"`
		}
		if json.Unmarshal(body, &c) == nil {
			for _, r := range c.Records {
				h.Record(time.Duration(now - r.Value.Sent))
				got.Add(1)
			}
		}
	})
	d := deployed(e.name("latency"), srv, topic)
	d.Spec.Start.Kind = "latest"
	e.src.put(d)
	eng, _ := e.startEngine(engineOpts{defaults: true})
	for {
		if _, ok := eng.Running()[d.ID]; ok {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // the group's first join and fetch position
	cl, err := kgo.NewClient(append(adminOpts(addr), kgo.ProducerLinger(0), kgo.DefaultProduceTopic(topic))...)
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	n := *latencySeconds * *latencyRate
	tick := time.Second / time.Duration(*latencyRate)
	start := time.Now()
	for i := range n {
		time.Sleep(time.Until(start.Add(time.Duration(i) * tick)))
		v := []byte(`{"sent":` + strconv.FormatInt(time.Now().UnixNano(), 10) + `,"status":"failed"}`)
		cl.Produce(context.Background(), &kgo.Record{Value: v}, nil)
	}
	if err := cl.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for got.Load() < int64(n) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got.Load() < int64(n) {
		b.Fatalf("%d of %d records reached the receiver", got.Load(), n)
	}
	return h
}

// BenchmarkIdleTriggers runs -engine.idle.triggers triggers on idle
// topics and reports the process's CPU over -engine.idle.seconds, as a
// percentage of one core, with and without them.
func BenchmarkIdleTriggers(b *testing.B) {
	for _, p := range benchPlanes {
		if p.name == "embedded-fsync-never" {
			continue // no writes: the fsync policy does not matter
		}
		b.Run(p.name, func(b *testing.B) {
			addr := p.start(b)
			for b.Loop() {
				e := newEnv(b, addr)
				srv := newBenchReceiver(b, func([]byte) {})
				topics := make([]string, 10)
				for i := range topics {
					topics[i] = e.name("idle-" + strconv.Itoa(i))
					e.createTopic(topics[i], 1)
				}
				eng, _ := e.startEngine(engineOpts{defaults: true})
				window := time.Duration(*idleSeconds) * time.Second
				base := cpuOver(window)
				for i := range *idleTriggers {
					d := deployed(e.name(fmt.Sprintf("idle-%04d", i)), srv, topics[i%len(topics)])
					e.src.put(d)
				}
				// Every trigger logged in, joined its group and got its
				// partition; then the first fetches settle.
				for assigned(eng) < *idleTriggers {
					time.Sleep(100 * time.Millisecond)
				}
				time.Sleep(10 * time.Second)
				if *idleProfile != "" {
					f, err := os.Create(*idleProfile)
					if err != nil {
						b.Fatal(err)
					}
					pprof.StartCPUProfile(f)
				}
				with := cpuOver(window)
				if *idleProfile != "" {
					pprof.StopCPUProfile()
				}
				b.ReportMetric(base*100, "cpu%-without")
				b.ReportMetric(with*100, "cpu%-with")
				b.ReportMetric((with-base)*100, "cpu%-triggers")
				b.ReportMetric(float64(rssKiB())/1024, "rss-MiB")
			}
		})
	}
}

func assigned(eng *Engine) int {
	n := 0
	for _, r := range eng.Running() {
		n += r.Partitions
	}
	return n
}

// cpuOver returns the process's CPU time over d divided by d (1 = a core).
func cpuOver(d time.Duration) float64 {
	c0 := cpuTime()
	time.Sleep(d)
	return float64(cpuTime()-c0) / float64(d)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func rssKiB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// newBenchReceiver answers 200 to every request after passing its body
// to fn; it returns the URL.
func newBenchReceiver(b *testing.B, fn func([]byte)) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err == nil {
			fn(body)
		}
	}))
	b.Cleanup(srv.Close)
	return srv.URL
}

var filterRecords = flag.Int("engine.filter.records", 300_000, "records BenchmarkFilterThroughput filters")

// BenchmarkFilterThroughput lets one trigger read -engine.filter.records
// task events (about 120 bytes each, one in 100 failed, two in five of those
// with attempt ≥ 2: 0.4% match) already in a
// one-partition topic, with the filter, and reports records read
// per second and per CPU-second of this process, from the partition's
// assignment until the group has committed the partition's end.
func BenchmarkFilterThroughput(b *testing.B) {
	for _, p := range benchPlanes {
		if p.name == "embedded-fsync-never" {
			continue
		}
		b.Run(p.name, func(b *testing.B) {
			addr := p.start(b)
			for b.Loop() {
				e := newEnv(b, addr)
				topic := e.name("filter")
				e.createTopic(topic, 1)
				cl, err := kgo.NewClient(append(adminOpts(addr), kgo.DefaultProduceTopic(topic),
					kgo.ProducerBatchMaxBytes(1<<20))...)
				if err != nil {
					b.Fatal(err)
				}
				n := *filterRecords
				for i := range n {
					status := "ok"
					if i%100 == 0 {
						status = "failed"
					}
					v := fmt.Sprintf(`{"task_id":"t-%08d","status":%q,"attempt":%d,"host":"nid%05d","metrics":{"cpu":0.93,"mem_gb":12.5}}`,
						i, status, i/100%5, i%4096)
					cl.Produce(context.Background(), &kgo.Record{Value: []byte(v)}, nil)
				}
				if err := cl.Flush(context.Background()); err != nil {
					b.Fatal(err)
				}
				cl.Close()
				var calls atomic.Int64
				srv := newBenchReceiver(b, func([]byte) { calls.Add(1) })
				d := deployed(e.name("filter"), srv, topic)
				d.Spec.Filter = json.RawMessage(`[{"value": {"status": ["failed"], "attempt": [{"numeric": [">=", 2]}]}}]`)
				e.src.put(d)
				eng, _ := e.startEngine(engineOpts{defaults: true})
				// From the assignment: the group's join (and Kafka's
				// initial rebalance delay) is not filtering.
				for eng.Running()[d.ID].Partitions == 0 {
					time.Sleep(time.Millisecond)
				}
				c0, t0 := cpuTime(), time.Now()
				group := DefaultGroupPrefix + d.ID
				for e.committed(group, topic)[0] < int64(n) {
					time.Sleep(50 * time.Millisecond)
				}
				wall, cpu := time.Since(t0), cpuTime()-c0
				b.ReportMetric(float64(n)/wall.Seconds(), "records/s")
				b.ReportMetric(float64(n)/cpu.Seconds(), "records/cpu-s")
				b.ReportMetric(float64(calls.Load()), "calls")
			}
		})
	}
}
