package fabric

import (
	"context"
	"fmt"
	"io"
	"testing"
)

// Control-plane calls on the embedded fabric (target: p99 < 20 ms). Run
// with: go test -run '^$' -bench . ./internal/fabric/
func BenchmarkEmbedded(b *testing.B) {
	addr := startEmbedded(b)
	f := newFabric(b, addr, openStore(b), io.Discard)
	ctx := context.Background()
	alice := Caller{ID: "local:alice", Name: "alice"}
	if _, err := f.Me(ctx, alice); err != nil {
		b.Fatal(err)
	}
	b.Run("CreateTopic", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			if _, err := f.CreateTopic(ctx, alice, TopicSpec{Name: fmt.Sprintf("t%d", i)}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("CreateKey+RevokeKey", func(b *testing.B) {
		for b.Loop() {
			k, err := f.CreateKey(ctx, alice, KeySpec{})
			if err != nil {
				b.Fatal(err)
			}
			if err := f.RevokeKey(ctx, alice, k.ID); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ListTopics", func(b *testing.B) {
		for b.Loop() {
			if _, err := f.ListTopics(ctx, alice); err != nil {
				b.Fatal(err)
			}
		}
	})
}
