package invoke

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/octofabric/octopus/internal/trigger"
)

// benchBatch is n records with JSON values of about 300 bytes.
func benchBatch(n int) *trigger.Batch {
	b := &trigger.Batch{TriggerID: "trg-0123456789", TriggerName: "on-failure", ID: "dlv-0123456789abcdef", Attempt: 1}
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	for i := range n {
		value := fmt.Sprintf(`{"task_id":"task-%08d","status":"failed","host":"nid001234.hpc.example.org","runtime_s":%d.25,"exit_code":137,`+
			`"message":"worker killed: out of memory while staging /scratch/run/%d","tags":["beamline-7","gpu","retry"],"pad":"%s"}`,
			i, i*3, i, strings.Repeat("x", 60))
		b.Records = append(b.Records, trigger.Record{
			Topic: "lab.task-events", Partition: 7, Offset: int64(1_000_000 + i),
			Timestamp: t0.Add(time.Duration(i) * time.Millisecond),
			Key:       []byte(fmt.Sprintf("task-%08d", i)),
			Value:     []byte(value),
			Headers:   []trigger.Header{{Key: "traceparent", Value: []byte("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")}},
		})
	}
	return b
}

func BenchmarkEncode(b *testing.B) {
	for _, n := range []int{1, 100} {
		batch := benchBatch(n)
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(encodeBody(batch))))
			for b.Loop() {
				encodeBody(batch)
			}
		})
	}
}

// BenchmarkCall is one call per iteration, to a loopback receiver that
// reads the body, over a kept-alive connection.
func BenchmarkCall(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	iv := New(Config{AllowPrivate: true})
	defer iv.Close()
	d := trigger.Deployed{ID: "trg-0123456789", Secret: []byte("0123456789abcdef0123456789abcdef"),
		Spec: trigger.Spec{Name: "on-failure", Action: trigger.Action{URL: srv.URL + "/hook",
			Headers: map[string]string{"Authorization": "Bearer 0123456789abcdef"}}}}
	h := iv.Handler(d)
	for _, n := range []int{1, 100} {
		batch := benchBatch(n)
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(encodeBody(batch))))
			for b.Loop() {
				if err := h.Handle(context.Background(), batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
