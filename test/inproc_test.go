package test

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/octofabric/octopus/internal/broker"
	"github.com/octofabric/octopus/internal/broker/group"
	plog "github.com/octofabric/octopus/internal/log"
)

// inProcOpts configures startInProcess. Zero fields take the broker's
// defaults.
type inProcOpts struct {
	serverOpts
	Dir  string   // data dir; "" = a new t.TempDir()
	Logs *logSink // where the broker's slog text goes; nil = a new sink, dumped on failure
}

// startInProcess runs a broker in this process on a real TCP listener on
// 127.0.0.1:0. stop closes it gracefully (Close, then Serve must return nil)
// and is also registered with t.Cleanup; calling it twice is harmless.
func startInProcess(t *testing.T, opts inProcOpts) (addr string, stop func(), dir string) {
	t.Helper()
	dir = opts.Dir
	if dir == "" {
		dir = t.TempDir()
	}
	logs := opts.Logs
	if logs == nil {
		logs = new(logSink)
	}
	cfg := broker.Config{
		DataDir:           dir,
		DefaultPartitions: opts.DefaultPartitions,
		AutoCreateTopics:  opts.AutoCreate,
		// Groups form at once, as in the Kafka the differential tests
		// start (group.initial.rebalance.delay.ms=0).
		Groups: group.Config{InitialRebalanceDelay: -1},
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if opts.Fsync != "" {
		p, err := plog.ParseFsyncPolicy(opts.Fsync)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Fsync = p
	}
	b, err := broker.New(cfg)
	if err != nil {
		t.Fatalf("broker.New(%s): %v\nlog:\n%s", dir, err, logs.Tail(40))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Close()
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- b.Serve(ln) }()

	var once sync.Once
	stop = func() {
		once.Do(func() {
			if err := b.Close(); err != nil {
				t.Errorf("broker.Close: %v", err)
			}
			timer := time.NewTimer(stopTimeout)
			defer timer.Stop()
			select {
			case err := <-served:
				if err != nil && !errors.Is(err, net.ErrClosed) {
					t.Errorf("broker.Serve returned %v after Close", err)
				}
			case <-timer.C:
				t.Errorf("broker.Serve still running %v after Close", stopTimeout)
			}
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() && opts.Logs == nil {
			t.Logf("in-process broker %s: last log lines:\n%s", dir, logs.Tail(40))
		}
	})
	return ln.Addr().String(), stop, dir
}
