package engine

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/octofabric/octopus/internal/trigger"
)

// event is the value the tests produce.
type event struct {
	N      int    `json:"n"`
	Status string `json:"status"`
}

func events(from, to int, status func(n int) string) []*kgo.Record {
	var out []*kgo.Record
	for n := from; n < to; n++ {
		v, _ := json.Marshal(event{N: n, Status: status(n)})
		out = append(out, &kgo.Record{Key: []byte("k" + strconv.Itoa(n%7)), Value: v})
	}
	return out
}

func numbers(ds []delivered) []int {
	var out []int
	for _, d := range ds {
		var ev event
		if err := json.Unmarshal(d.Value, &ev); err == nil {
			out = append(out, ev.N)
		}
	}
	return out
}

// checkOrder fails unless, within each partition, offsets only grow in
// the order calls arrived.
func checkOrder(t *testing.T, ds []delivered) {
	t.Helper()
	last := map[string]int64{}
	for _, d := range ds {
		k := fmt.Sprintf("%s/%d", d.Topic, d.Partition)
		if o, ok := last[k]; ok && d.Offset <= o {
			t.Fatalf("partition %s: offset %d delivered after %d", k, d.Offset, o)
		}
		last[k] = d.Offset
	}
}

// TestDeliversMatching: of 300 events on 3 partitions the 100 failed ones
// reach the receiver, each once, in partition order, in batches of at most
// the batch size; the group commits every partition to its end (the
// filtered-out records too).
func TestDeliversMatching(t *testing.T) {
	eachPlane(t, func(t *testing.T, addr string) {
		e := newEnv(t, addr)
		topic := e.name("tasks")
		e.createTopic(topic, 3)
		rc := newReceiver(t, nil)
		d := deployed(e.name("failed"), rc.srv.URL, topic)
		d.Spec.Filter = json.RawMessage(`[{"value": {"status": ["failed"]}}]`)
		d.Spec.BatchSize = 10
		e.src.put(d)
		e.startEngine(engineOpts{})
		status := func(n int) string {
			if n%3 == 0 {
				return "failed"
			}
			return "ok"
		}
		e.produce(topic, events(0, 300, status)...)
		eventually(t, 30*time.Second, "100 records delivered", func() bool { return len(rc.records()) >= 100 })
		time.Sleep(300 * time.Millisecond) // anything extra would arrive now
		got := numbers(rc.records())
		slices.Sort(got)
		var want []int
		for n := 0; n < 300; n += 3 {
			want = append(want, n)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("delivered %d events %v, want the %d failed ones", len(got), got, len(want))
		}
		checkOrder(t, rc.records())
		for _, c := range rc.snapshot() {
			if len(c.Records) > 10 || c.Attempt != 1 {
				t.Fatalf("a call with %d records, attempt %d", len(c.Records), c.Attempt)
			}
		}
		ends := e.ends(topic)
		eventually(t, 10*time.Second, "offsets committed to the end", func() bool {
			c := e.committed(DefaultGroupPrefix+d.ID, topic)
			for p, end := range ends {
				if c[p] != end {
					return false
				}
			}
			return true
		})
	})
}

// TestRetryThenSuccess: a receiver that answers 503 twice gets the same
// delivery three times, attempts 1 to 3, and the invocation log says
// retry, retry, ok.
func TestRetryThenSuccess(t *testing.T) {
	eachPlane(t, func(t *testing.T, addr string) {
		e := newEnv(t, addr)
		topic := e.name("retry")
		e.createTopic(topic, 1)
		rc := newReceiver(t, func(n int, _ call, w http.ResponseWriter) bool {
			if n <= 2 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return true
			}
			return false
		})
		d := deployed(e.name("retry"), rc.srv.URL, topic)
		e.src.put(d)
		eng, _ := e.startEngine(engineOpts{})
		e.produce(topic, events(0, 1, func(int) string { return "x" })...)
		eventually(t, 30*time.Second, "three calls", func() bool { return len(rc.snapshot()) >= 3 })
		cs := rc.snapshot()
		for i, c := range cs {
			if c.Delivery != cs[0].Delivery || c.Attempt != i+1 {
				t.Fatalf("call %d: delivery %s attempt %d; first delivery %s", i, c.Delivery, c.Attempt, cs[0].Delivery)
			}
		}
		var statuses []string
		eventually(t, 20*time.Second, "three invocations logged", func() bool {
			invs, err := eng.Logs(e.ctx, d.ID, trigger.LogQuery{})
			if err != nil {
				t.Fatalf("Logs: %v", err)
			}
			statuses = statuses[:0]
			for _, inv := range invs {
				statuses = append(statuses, inv.Status)
			}
			return len(statuses) == 3
		})
		if !slices.Equal(statuses, []string{"retry", "retry", "ok"}) {
			t.Fatalf("logged %v", statuses)
		}
		invs, _ := eng.Logs(e.ctx, d.ID, trigger.LogQuery{Status: "ok"})
		if len(invs) != 1 || invs[0].HTTPStatus != 200 || invs[0].Attempt != 3 || invs[0].Records != 1 {
			t.Fatalf("ok invocations %+v", invs)
		}
	})
}

// TestDeadLetter: a receiver that answers 400 is called once per batch;
// the batch goes to the dead-letter topic with its provenance, and the
// partition moves on.
func TestDeadLetter(t *testing.T) {
	eachPlane(t, func(t *testing.T, addr string) {
		e := newEnv(t, addr)
		topic, dlq := e.name("bad"), e.name("dlq")
		e.createTopic(topic, 1)
		e.createTopic(dlq, 1)
		rc := newReceiver(t, func(int, call, http.ResponseWriter) bool { return false })
		rc.answer = func(_ int, _ call, w http.ResponseWriter) bool {
			http.Error(w, "no such task", http.StatusBadRequest)
			return true
		}
		d := deployed(e.name("dl"), rc.srv.URL, topic)
		d.Spec.DeadLetterTopic = dlq
		d.Spec.BatchSize = 5
		e.src.put(d)
		e.startEngine(engineOpts{})
		e.produce(topic, events(0, 3, func(int) string { return "x" })...)
		got := e.consume(dlq, 3)
		for i, r := range got {
			h := map[string]string{}
			for _, kv := range r.Headers {
				h[kv.Key] = string(kv.Value)
			}
			if h["octopus.dlq.trigger"] != d.ID || h["octopus.dlq.topic"] != topic || h["octopus.dlq.offset"] != strconv.Itoa(i) ||
				h["octopus.dlq.status"] != "400" || h["octopus.dlq.attempts"] != "1" {
				t.Fatalf("dead letter %d headers %v", i, h)
			}
			var ev event
			if json.Unmarshal(r.Value, &ev) != nil || ev.N != i {
				t.Fatalf("dead letter %d value %s", i, r.Value)
			}
		}
		if n := len(rc.snapshot()); n != 1 {
			t.Fatalf("a 400 was called %d times, want once (fail fast)", n)
		}
		eventually(t, 10*time.Second, "offsets committed past the dead letters", func() bool {
			return e.committed(DefaultGroupPrefix+d.ID, topic)[0] == 3
		})
	})
}

// consume reads n records of topic from the start.
func (e *env) consume(topic string, n int) []*kgo.Record {
	e.t.Helper()
	cl, err := kgo.NewClient(append(adminOpts(e.addr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(e.ctx)
		if err := e.ctx.Err(); err != nil {
			e.t.Fatalf("consuming %s: got %d of %d records", topic, len(out), n)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

// TestLongBacklog: a backlog far longer than a partition's queue limit
// (which pauses fetching) is delivered whole, in order, and committed to
// the end, on two partitions at once.
func TestLongBacklog(t *testing.T) {
	eachPlane(t, func(t *testing.T, addr string) {
		e := newEnv(t, addr)
		topic := e.name("backlog")
		e.createTopic(topic, 2)
		const n = 20_000
		e.produce(topic, events(0, n, func(int) string { return "x" })...)
		rc := newReceiver(t, nil)
		d := deployed(e.name("backlog"), rc.srv.URL, topic)
		d.Spec.BatchSize = 50 // a queue limit of 1,000 records
		e.src.put(d)
		e.startEngine(engineOpts{})
		ends := e.ends(topic)
		eventually(t, 60*time.Second, "the backlog committed to the end", func() bool {
			c := e.committed(DefaultGroupPrefix+d.ID, topic)
			return c[0] == ends[0] && c[1] == ends[1]
		})
		got := numbers(rc.records())
		if len(got) != n {
			t.Fatalf("%d records delivered, want %d", len(got), n)
		}
		checkOrder(t, rc.records())
	})
}
