package test

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// serverOpts are the broker settings a test may choose, whatever the mode.
type serverOpts struct {
	Fsync             string // always | interval | never; "" = default
	DefaultPartitions int32  // 0 = default
	AutoCreate        bool
}

// server is a broker under test: in this process, a child process, or (as an
// oracle for the tests themselves) franz-go's kfake.
type server interface {
	Addr() string
	// Restart stops the broker gracefully and starts it again on the same
	// data dir. The address may change.
	Restart(t *testing.T)
	// Stop stops the broker gracefully.
	Stop(t *testing.T)
	// Start starts a stopped broker again on the same data dir.
	Start(t *testing.T)
	Dir() string
	Logs() *logSink
}

type mode struct {
	name  string
	start func(t *testing.T, dir string, o serverOpts) server
}

var allModes = []mode{
	{"inproc", startInProcServer},
	{"child", startChildServer},
	{"kfake", startKfakeServer},
}

// testModes are the modes tests run in: inproc and child, or the
// comma-separated list in OCTOPUS_TEST_MODES (e.g. "kfake" to check a test's
// expectations against franz-go's fake broker).
func testModes(t *testing.T) []mode {
	t.Helper()
	want := os.Getenv("OCTOPUS_TEST_MODES")
	if want == "" {
		want = "inproc,child"
	}
	var out []mode
	for _, name := range strings.Split(want, ",") {
		found := false
		for _, m := range allModes {
			if m.name == strings.TrimSpace(name) {
				out = append(out, m)
				found = true
			}
		}
		if !found {
			t.Fatalf("OCTOPUS_TEST_MODES: unknown mode %q", name)
		}
	}
	return out
}

// forEachMode runs f as a subtest per mode.
func forEachMode(t *testing.T, f func(t *testing.T, m mode)) {
	t.Helper()
	for _, m := range testModes(t) {
		t.Run(m.name, func(t *testing.T) { f(t, m) })
	}
}

// inProcServer is the broker in this process.
type inProcServer struct {
	opts inProcOpts
	addr string
	stop func()
}

func startInProcServer(t *testing.T, dir string, o serverOpts) server {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	s := &inProcServer{opts: inProcOpts{serverOpts: o, Dir: dir, Logs: new(logSink)}}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("in-process broker %s: last log lines:\n%s", dir, s.opts.Logs.Tail(40))
		}
	})
	s.Start(t)
	return s
}

func (s *inProcServer) Start(t *testing.T) {
	t.Helper()
	s.addr, s.stop, _ = startInProcess(t, s.opts)
}

func (s *inProcServer) Stop(t *testing.T) {
	t.Helper()
	s.stop()
}

func (s *inProcServer) Restart(t *testing.T) {
	t.Helper()
	s.Stop(t)
	s.Start(t)
}

func (s *inProcServer) Addr() string   { return s.addr }
func (s *inProcServer) Dir() string    { return s.opts.Dir }
func (s *inProcServer) Logs() *logSink { return s.opts.Logs }

// childServer is `octopus serve` in a child process.
type childServer struct {
	dir  string
	args []string
	c    *child
	prev []*child // earlier incarnations, for Logs
}

func startChildServer(t *testing.T, dir string, o serverOpts) server {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	var args []string
	if o.Fsync != "" {
		args = append(args, "--fsync", o.Fsync)
	}
	if o.DefaultPartitions != 0 {
		args = append(args, "--default-partitions", strconv.Itoa(int(o.DefaultPartitions)))
	}
	// Explicit either way: serve's default may differ from Config's.
	args = append(args, "--auto-create-topics="+strconv.FormatBool(o.AutoCreate))
	s := &childServer{dir: dir, args: args}
	s.Start(t)
	return s
}

func (s *childServer) Start(t *testing.T) {
	t.Helper()
	if s.c != nil {
		s.prev = append(s.prev, s.c)
	}
	s.c = startChild(t, s.dir, s.args...)
}

func (s *childServer) Stop(t *testing.T) {
	t.Helper()
	s.c.Stop()
}

func (s *childServer) Restart(t *testing.T) {
	t.Helper()
	s.Stop(t)
	s.Start(t)
}

func (s *childServer) Addr() string { return s.c.Addr() }
func (s *childServer) Dir() string  { return s.dir }

// Logs returns the log of every incarnation so far, in order.
func (s *childServer) Logs() *logSink {
	all := new(logSink)
	for _, c := range append(s.prev, s.c) {
		all.Write([]byte(c.logs.String()))
	}
	return all
}

// kfakeServer is franz-go's in-memory broker with its own disk persistence.
// It is not Octopus: it exists to check that a test's expectations are
// Kafka's and not an artefact of the broker under test.
type kfakeServer struct {
	dir  string
	opts serverOpts
	c    *kfake.Cluster
	logs *logSink
}

func startKfakeServer(t *testing.T, dir string, o serverOpts) server {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	s := &kfakeServer{dir: dir, opts: o, logs: new(logSink)}
	s.Start(t)
	return s
}

func (s *kfakeServer) Start(t *testing.T) {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.DataDir(s.dir)}
	if s.opts.Fsync == "always" {
		opts = append(opts, kfake.SyncWrites())
	}
	if s.opts.AutoCreate {
		opts = append(opts, kfake.AllowAutoTopicCreation())
	}
	if s.opts.DefaultPartitions > 0 {
		opts = append(opts, kfake.DefaultNumPartitions(int(s.opts.DefaultPartitions)))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	s.c = c
	t.Cleanup(c.Close)
}

func (s *kfakeServer) Stop(t *testing.T)    { s.c.Close() }
func (s *kfakeServer) Restart(t *testing.T) { s.Stop(t); s.Start(t) }
func (s *kfakeServer) Addr() string         { return s.c.ListenAddrs()[0] }
func (s *kfakeServer) Dir() string          { return s.dir }
func (s *kfakeServer) Logs() *logSink       { return s.logs }
