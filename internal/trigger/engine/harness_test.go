package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/octofabric/octopus/internal/testenv"
	"github.com/octofabric/octopus/internal/trigger"
	"github.com/octofabric/octopus/internal/trigger/invoke"
)

// The engine's tests run each scenario on two event planes: the embedded
// broker in this process (SASL, ACLs, User:admin a super user) and Apache
// Kafka 4.4 from scripts/kafka.sh (SASL, StandardAuthorizer). Receivers
// are httptest servers on loopback, so the invoker allows private
// addresses.

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopKafka()
	os.Exit(code)
}

type plane struct {
	name  string
	start func(t *testing.T) string
}

var planes = []plane{
	{"embedded", func(t *testing.T) string { return testenv.SecureBroker(t, testenv.BrokerOptions{}).Addr }},
	{"kafka", func(t *testing.T) string {
		if testing.Short() {
			t.Skip("-short: no Apache Kafka")
		}
		return testenv.Kafka(t, "sasl")
	}},
}

// eachPlane runs fn as a subtest on every plane.
func eachPlane(t *testing.T, fn func(t *testing.T, addr string)) {
	for _, p := range planes {
		t.Run(p.name, func(t *testing.T) { fn(t, p.start(t)) })
	}
}

func adminOpts(addr string) []kgo.Opt {
	return []kgo.Opt{kgo.SeedBrokers(addr),
		kgo.SASL(scram.Auth{User: "admin", Pass: testenv.AdminPassword}.AsSha512Mechanism())}
}

// source is a trigger.Source the test changes.
type source struct {
	mu sync.Mutex
	ds map[string]trigger.Deployed
}

func (s *source) Triggers(context.Context) ([]trigger.Deployed, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]trigger.Deployed, 0, len(s.ds))
	for _, d := range s.ds {
		out = append(out, d)
	}
	return out, nil
}

// put adds or replaces a trigger, with a new version.
func (s *source) put(d trigger.Deployed) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ds == nil {
		s.ds = map[string]trigger.Deployed{}
	}
	d.Version = s.ds[d.ID].Version + 1
	s.ds[d.ID] = d
}

func (s *source) setEnabled(id string, on bool) {
	d := s.get(id)
	d.Spec.Enabled = on
	s.put(d)
}

func (s *source) remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.ds, id)
}

func (s *source) get(id string) trigger.Deployed {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ds[id]
}

// env is one test's event plane, admin client and engine.
type env struct {
	t    testing.TB
	ctx  context.Context
	addr string
	cl   *kgo.Client
	adm  *kadm.Client
	src  *source
	logs *syncBuffer
	tag  string // makes names unique on the shared Kafka
}

func newEnv(t testing.TB, addr string) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	cl, err := kgo.NewClient(append(adminOpts(addr), kgo.ProducerLinger(0))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	e := &env{t: t, ctx: ctx, addr: addr, cl: cl, adm: kadm.NewClient(cl), src: &source{},
		logs: &syncBuffer{}, tag: fmt.Sprintf("%06x", rand.Uint32()&0xffffff)}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("engine log:\n%s", e.logs.String())
		}
	})
	return e
}

func (e *env) name(s string) string { return s + "-" + e.tag }

func (e *env) createTopic(name string, parts int32) {
	e.t.Helper()
	r, err := e.adm.CreateTopic(e.ctx, parts, -1, nil, name)
	if err == nil {
		err = r.Err
	}
	if err != nil {
		e.t.Fatalf("create topic %s: %v", name, err)
	}
}

// engineOpts tune an engine for tests: fast reconciling and commits.
type engineOpts struct {
	drain    time.Duration
	defaults bool // the engine's own intervals, not the tests' fast ones
}

// startEngine runs an engine on the env's source until the returned stop
// is called (or the test ends).
func (e *env) startEngine(o engineOpts) (*Engine, func()) {
	e.t.Helper()
	if o.drain == 0 {
		o.drain = 5 * time.Second
	}
	cfg := Config{
		Source:         e.src,
		Kafka:          adminOpts(e.addr),
		Invoker:        invoke.New(invoke.Config{AllowPrivate: true}),
		ReconcileEvery: 200 * time.Millisecond,
		DrainTimeout:   o.drain,
		TickEvery:      100 * time.Millisecond,
		LogTopic:       e.name("invocations"),
		Logger:         slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if o.defaults {
		cfg.ReconcileEvery, cfg.TickEvery = 0, 0
		cfg.Logger = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	eng, err := New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		eng.Run(ctx)
	}()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	e.t.Cleanup(stop)
	return eng, stop
}

// produce writes values to topic (partition chosen by key) and waits.
func (e *env) produce(topic string, recs ...*kgo.Record) {
	e.t.Helper()
	for _, r := range recs {
		r.Topic = topic
	}
	if err := e.cl.ProduceSync(e.ctx, recs...).FirstErr(); err != nil {
		e.t.Fatalf("produce: %v", err)
	}
}

// committed returns the group's committed offsets of topic by partition
// (none while its coordinator is not ready).
func (e *env) committed(group, topic string) map[int32]int64 {
	e.t.Helper()
	os, err := e.adm.FetchOffsets(e.ctx, group)
	if kerr.IsRetriable(err) {
		return map[int32]int64{} // a group just created: callers poll
	}
	if err != nil {
		e.t.Fatalf("fetch offsets: %v", err)
	}
	out := map[int32]int64{}
	for p, o := range os[topic] {
		out[p] = o.At
	}
	return out
}

func (e *env) ends(topic string) map[int32]int64 {
	e.t.Helper()
	lo, err := e.adm.ListEndOffsets(e.ctx, topic)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[int32]int64{}
	lo.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

// eventually polls cond every 20 ms until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// delivered is one record as a receiver got it.
type delivered struct {
	Topic     string          `json:"topic"`
	Partition int32           `json:"partition"`
	Offset    int64           `json:"offset"`
	Key       *string         `json:"key"`
	Value     json.RawMessage `json:"value"`
	Encoding  *string         `json:"value_encoding"`
}

// call is one request a receiver got.
type call struct {
	Delivery string      `json:"delivery"`
	Attempt  int         `json:"attempt"`
	Records  []delivered `json:"records"`
	at       time.Time
}

// receiver is an HTTP endpoint that records calls and answers as answer
// says (nil: 200). answer gets the number of the call, from 1.
type receiver struct {
	t      testing.TB
	srv    *httptest.Server
	mu     sync.Mutex
	calls  []call
	answer func(n int, c call, w http.ResponseWriter) bool // true: it answered
}

func newReceiver(t testing.TB, answer func(n int, c call, w http.ResponseWriter) bool) *receiver {
	rc := &receiver{t: t, answer: answer}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		var c call
		if err := json.Unmarshal(body, &c); err != nil {
			t.Errorf("receiver: body is not the batch JSON: %v", err)
			w.WriteHeader(500)
			return
		}
		c.at = time.Now()
		rc.mu.Lock()
		rc.calls = append(rc.calls, c)
		n := len(rc.calls)
		rc.mu.Unlock()
		if rc.answer == nil || !rc.answer(n, c, w) {
			w.WriteHeader(http.StatusOK)
		}
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) snapshot() []call {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]call(nil), rc.calls...)
}

// records returns every record of every call, in call order.
func (rc *receiver) records() []delivered {
	var out []delivered
	for _, c := range rc.snapshot() {
		out = append(out, c.Records...)
	}
	return out
}

// deployed returns a trigger on topics calling url, enabled, with the
// spec's defaults and a fast retry policy.
func deployed(id string, url string, topics ...string) trigger.Deployed {
	s := trigger.Spec{Name: id, Topics: topics, Action: trigger.Action{URL: url},
		Start: trigger.Start{Kind: "earliest"}, Enabled: true,
		Retry: trigger.Retry{BackoffMinMs: 10, BackoffMaxMs: 100}}
	s.Normalize(true)
	s.BatchWindowMs = 0
	if err := s.Validate(); err != nil {
		panic(err)
	}
	return trigger.Deployed{ID: id, Owner: "local:test", Spec: s, Secret: []byte("secret")}
}

type syncBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	return len(p), nil
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.b) > 64<<10 {
		return "…" + string(s.b[len(s.b)-64<<10:])
	}
	return string(s.b)
}
