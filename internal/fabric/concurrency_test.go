package fabric

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/octofabric/octopus/internal/testenv"
)

// TestConcurrency checks, on the embedded broker, that concurrent
// identical creates give one topic, that keys created while a grant is set
// all get the grant, and that expired keys are reaped.
func TestConcurrency(t *testing.T) {
	addr := startEmbedded(t)
	logs := new(logSink)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("fabric log:\n%s", logs.tail(40))
		}
	})
	f := newFabric(t, addr, openStore(t), logs)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := &story{t: t, ctx: ctx, f: f, addr: addr}
	tag := fmt.Sprintf("%06x", rand.Uint32()&0xffffff)
	alice := Caller{ID: "local:alice-" + tag, Name: "alice-" + tag}
	bob := Caller{ID: "local:bob-" + tag, Name: "bob-" + tag}
	meB := s.me(bob)

	const n = 8
	var wg sync.WaitGroup
	names := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			tp, err := f.CreateTopic(ctx, alice, TopicSpec{Name: "shared", Partitions: 3})
			names[i], errs[i] = tp.Name, err
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || names[i] != "alice-"+tag+".shared" {
			t.Fatalf("concurrent CreateTopic %d = %q, %v", i, names[i], errs[i])
		}
	}
	if ts, err := f.ListTopics(ctx, alice); err != nil || len(ts) != 1 {
		t.Fatalf("ListTopics after concurrent creates = %+v, %v", ts, err)
	}
	topic := names[0]

	// Keys of B created while A grants B read: every one may read.
	keys := make([]NewKey, n)
	for i := range n {
		wg.Go(func() {
			k, err := f.CreateKey(ctx, bob, KeySpec{Description: fmt.Sprint("device ", i)})
			if err != nil {
				t.Errorf("CreateKey %d: %v", i, err)
			}
			keys[i] = k
		})
	}
	wg.Go(func() {
		if _, err := f.PutGrant(ctx, alice, topic, meB.Identity, Access{Read: true}); err != nil {
			t.Errorf("PutGrant: %v", err)
		}
	})
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for _, k := range keys {
		if got := s.metadata(k, topic); got != "NONE" {
			t.Fatalf("B's key %q created during the grant: %s", k.Description, got)
		}
	}

	// Expired keys are revoked by the reaper, and only those.
	soon := time.Now().Add(time.Minute)
	exp, err := f.CreateKey(ctx, bob, KeySpec{Description: "short-lived", ExpiresAt: &soon})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.ReapExpiredKeys(ctx, time.Now()); err != nil || n != 0 {
		t.Fatalf("ReapExpiredKeys(now) = %d, %v; want 0", n, err)
	}
	if n, err := f.ReapExpiredKeys(ctx, soon.Add(time.Second)); err != nil || n != 1 {
		t.Fatalf("ReapExpiredKeys(after expiry) = %d, %v; want 1", n, err)
	}
	if got := s.login(exp); got != "SASL_AUTHENTICATION_FAILED" {
		t.Fatalf("login with the reaped key: %s", got)
	}
	if got := s.login(keys[0]); got != "NONE" {
		t.Fatalf("login with an unexpired key after reaping: %s", got)
	}
}

// TestUnavailable checks that calls needing an event plane that does not
// answer fail with Unavailable within their context, and leave no key
// behind.
func TestUnavailable(t *testing.T) {
	port := testenv.FreePort(t)
	st := openStore(t)
	f, err := New(Config{Store: st, Wait: time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Kafka: KafkaConfig{Bootstrap: []string{fmt.Sprintf("127.0.0.1:%d", port)}, User: "admin", Password: adminPassword}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	alice := Caller{ID: "local:alice", Name: "alice"}
	for name, call := range map[string]func(ctx context.Context) error{
		"CreateKey":   func(ctx context.Context) error { _, err := f.CreateKey(ctx, alice, KeySpec{}); return err },
		"CreateTopic": func(ctx context.Context) error { _, err := f.CreateTopic(ctx, alice, TopicSpec{Name: "x"}); return err },
	} {
		cctx, ccancel := context.WithTimeout(ctx, 3*time.Second)
		start := time.Now()
		err := call(cctx)
		ccancel()
		if KindOf(err) != Unavailable {
			t.Errorf("%s without an event plane: %v; want Unavailable", name, err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s took %v", name, d)
		}
	}
	// A key whose cleanup failed too stays listed, so that the caller can
	// revoke it once the event plane is back; no topic is left.
	if keys, err := f.ListKeys(ctx, alice); err != nil || len(keys) != 1 {
		t.Errorf("keys after a failed CreateKey: %+v, %v; want the one to revoke", keys, err)
	}
	if ts, err := f.ListTopics(ctx, alice); err != nil || len(ts) != 0 {
		t.Errorf("topics after a failed CreateTopic: %+v, %v; want none", ts, err)
	}
}
