package fabric

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/octofabric/octopus/internal/store"
	"github.com/octofabric/octopus/internal/trigger"
)

// BenchmarkTriggers measures what the engine pays every reconcile (2 s by
// default) for 1,000 triggers of 100 owners on 100 topics: one Triggers
// call. No event plane is needed.
func BenchmarkTriggers(b *testing.B) {
	ctx := context.Background()
	st := openStore(b)
	box := newBox(b)
	f, err := New(Config{Store: st, Kafka: KafkaConfig{Bootstrap: []string{"127.0.0.1:1"}, SecurityProtocol: "PLAINTEXT"},
		Secrets: box, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	for o := range 100 {
		ns := fmt.Sprintf("u%03d", o)
		id, err := st.CreateIdentity(ctx, store.Identity{ID: "local:" + ns, Namespace: ns})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := st.CreateTopic(ctx, store.Topic{Name: ns + ".t", Namespace: ns, OwnerID: id.ID, Partitions: 1}); err != nil {
			b.Fatal(err)
		}
		for i := range 10 {
			s := trigger.Spec{Name: fmt.Sprintf("t%d", i), Topics: []string{ns + ".t"}, Enabled: true,
				Filter: []byte(`[{"value":{"status":["failed"]}}]`),
				Action: trigger.Action{URL: "https://example.org/hook", Headers: map[string]string{"Authorization": "Bearer x", "X-Team": "y"}}}
			s.Normalize(false)
			tid := store.NewTriggerID()
			if _, err := st.CreateTrigger(ctx, store.Trigger{ID: tid, OwnerID: id.ID, Name: s.Name, Enabled: true,
				Spec: sealSpec(box, tid, s), Secret: box.Seal(newSigningSecret(), secretAD(tid))}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ResetTimer()
	for b.Loop() {
		ds, err := f.Triggers(ctx)
		if err != nil || len(ds) != 1000 {
			b.Fatalf("Triggers: %d, %v", len(ds), err)
		}
	}
}
