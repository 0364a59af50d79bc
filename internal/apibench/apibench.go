// Package apibench measures the control plane's REST API as a client sees
// it: real HTTP requests to /api/v1, one latency histogram per operation.
//
// Run drives a server it is given (base URL and administrator token) in
// two phases:
//
//   - Scale-up: Identities users (POST /users as the administrator), one
//     key each (POST /keys as the user, so that grants have ACLs to write),
//     Topics topics spread round-robin over the users (POST /topics) and
//     Grants grants from each topic's owner to other users (PUT
//     .../grants/{identity}), one call at a time. Latency is also kept per
//     batch of Batch calls, so the report shows whether it grows with size.
//   - Steady state at that size, for each concurrency in Concurrency:
//     Steady calls of each of GET /me, GET /topics, GET /topics/{topic},
//     PUT grant, POST /keys and DELETE /keys/{id} (the key just made), by
//     callers chosen at random (seeded, so runs are repeatable).
//
// Every call's status is checked; a wrong one ends the run with an error.
// Run checks correctness only: timing is reported, never judged.
package apibench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/octofabric/octopus/internal/bench"
)

// Config is one run's workload.
type Config struct {
	URL        string       // the server, e.g. http://127.0.0.1:8080; required
	AdminToken string       // an administrator's bearer token; required
	Client     *http.Client // default: a client with keep-alive for 8 connections
	Prefix     string       // user names start with it; default "u"

	Identities  int   // default 1000
	Topics      int   // default 1000
	Grants      int   // default 2 * Topics
	Batch       int   // scale-up calls per growth row; default 100
	Steady      int   // calls of each operation per concurrency; default 500
	Concurrency []int // default {1, 4}
	Seed        uint64
}

func (c *Config) setDefaults() {
	if c.Client == nil {
		c.Client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}, Timeout: 2 * time.Minute}
	}
	if c.Prefix == "" {
		c.Prefix = "u"
	}
	if c.Identities == 0 {
		c.Identities = 1000
	}
	if c.Topics == 0 {
		c.Topics = 1000
	}
	if c.Grants == 0 {
		c.Grants = 2 * c.Topics
	}
	if c.Batch == 0 {
		c.Batch = 100
	}
	if c.Steady == 0 {
		c.Steady = 500
	}
	if len(c.Concurrency) == 0 {
		c.Concurrency = []int{1, 4}
	}
}

// Validate reports a workload that cannot run.
func (c *Config) Validate() error {
	switch {
	case c.URL == "" || c.AdminToken == "":
		return errors.New("apibench: URL and AdminToken are required")
	case c.Identities < 2:
		return errors.New("apibench: grants need at least 2 identities")
	case c.Topics < 1 || c.Grants < 0 || c.Batch < 1 || c.Steady < 1:
		return errors.New("apibench: Topics, Batch and Steady must be positive, Grants not negative")
	case c.Grants > c.Topics*(c.Identities-1):
		return errors.New("apibench: more grants than (topic, other identity) pairs")
	}
	for _, n := range c.Concurrency {
		if n < 1 {
			return errors.New("apibench: concurrency must be positive")
		}
	}
	return nil
}

// Operation names, as the report shows them.
const (
	OpCreateUser  = "POST /users"
	OpCreateKey   = "POST /keys"
	OpCreateTopic = "POST /topics"
	OpPutGrant    = "PUT /topics/{t}/grants/{id}"
	OpMe          = "GET /me"
	OpListTopics  = "GET /topics"
	OpGetTopic    = "GET /topics/{t}"
	OpDeleteKey   = "DELETE /keys/{id}"
)

// Phase is a set of operations measured together.
type Phase struct {
	Name        string
	Concurrency int
	Ops         []*Op
	Elapsed     time.Duration
}

// Op is one operation's latencies in a phase. Batches is set in the
// scale-up phase: Batches[i] holds calls i*Batch+1 to (i+1)*Batch.
type Op struct {
	Name    string
	All     *bench.Histogram
	Batches []*bench.Histogram
}

func (p *Phase) op(name string) *Op {
	for _, o := range p.Ops {
		if o.Name == name {
			return o
		}
	}
	o := &Op{Name: name, All: bench.NewHistogram()}
	p.Ops = append(p.Ops, o)
	return o
}

// Result is a run's measurements.
type Result struct {
	Config Config
	Phases []*Phase
}

// user is an identity made by the run.
type user struct {
	Identity string `json:"identity"`
	Token    string `json:"token"`
}

type topic struct {
	name  string // full
	owner int    // index into users
}

// runner holds the state of one run.
type runner struct {
	cfg    Config
	users  []user
	topics []topic
}

// Run runs the workload against cfg.URL. It stops at the first call that
// fails or answers an unexpected status, and returns what it measured so
// far with the error.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg}
	res := &Result{Config: cfg}
	up := &Phase{Name: "scale-up", Concurrency: 1}
	res.Phases = append(res.Phases, up)
	if err := r.scaleUp(ctx, up); err != nil {
		return res, err
	}
	for _, n := range cfg.Concurrency {
		p := &Phase{Name: "steady", Concurrency: n}
		res.Phases = append(res.Phases, p)
		if err := r.steady(ctx, p); err != nil {
			return res, err
		}
	}
	return res, nil
}

// record times fn and adds the time to o (and its current batch).
func (r *runner) record(o *Op, i int, fn func() error) error {
	start := time.Now()
	err := fn()
	d := time.Since(start)
	if err != nil {
		return err
	}
	o.All.Record(d)
	if i >= 0 {
		b := i / r.cfg.Batch
		for len(o.Batches) <= b {
			o.Batches = append(o.Batches, bench.NewHistogram())
		}
		o.Batches[b].Record(d)
	}
	return nil
}

func (r *runner) scaleUp(ctx context.Context, p *Phase) error {
	start := time.Now()
	defer func() { p.Elapsed = time.Since(start) }()
	c := r.cfg
	users, keys, topics, grants := p.op(OpCreateUser), p.op(OpCreateKey), p.op(OpCreateTopic), p.op(OpPutGrant)
	r.users = make([]user, c.Identities)
	for i := range c.Identities {
		name := fmt.Sprintf("%s%04d", c.Prefix, i)
		if err := r.record(users, i, func() error {
			return r.call(ctx, "POST", "/api/v1/users", c.AdminToken, map[string]string{"name": name}, http.StatusCreated, &r.users[i])
		}); err != nil {
			return err
		}
		if r.users[i].Token == "" || r.users[i].Identity == "" {
			return fmt.Errorf("POST /users %s: no identity or token", name)
		}
	}
	for i, u := range r.users {
		if err := r.record(keys, i, func() error { _, err := r.createKey(ctx, u, "device-0"); return err }); err != nil {
			return err
		}
	}
	r.topics = make([]topic, c.Topics)
	for i := range c.Topics {
		owner := i % len(r.users)
		var t struct {
			Name string `json:"name"`
		}
		body := map[string]any{"name": fmt.Sprintf("t%04d", i), "partitions": 1}
		if err := r.record(topics, i, func() error {
			return r.call(ctx, "POST", "/api/v1/topics", r.users[owner].Token, body, http.StatusCreated, &t)
		}); err != nil {
			return err
		}
		if t.Name == "" {
			return fmt.Errorf("POST /topics t%04d: no name in the answer", i)
		}
		r.topics[i] = topic{name: t.Name, owner: owner}
	}
	// Grant g goes from topic g%Topics's owner to the user round g/Topics+1
	// places after it: distinct (topic, grantee) pairs, never the owner.
	for g := range c.Grants {
		t := r.topics[g%len(r.topics)]
		grantee := (t.owner + 1 + g/len(r.topics)) % len(r.users)
		acc := map[string]bool{"read": true, "write": g%2 == 0}
		if err := r.record(grants, g, func() error { return r.putGrant(ctx, t, grantee, acc) }); err != nil {
			return err
		}
	}
	return nil
}

func (r *runner) steady(ctx context.Context, p *Phase) error {
	start := time.Now()
	defer func() { p.Elapsed = time.Since(start) }()
	rng := rand.New(rand.NewPCG(r.cfg.Seed, uint64(p.Concurrency)))
	var mu sync.Mutex // guards rng
	pick := func(n int) int { mu.Lock(); defer mu.Unlock(); return rng.IntN(n) }
	me, list, get, grant := p.op(OpMe), p.op(OpListTopics), p.op(OpGetTopic), p.op(OpPutGrant)
	create, del := p.op(OpCreateKey), p.op(OpDeleteKey)
	ops := []struct {
		o   *Op
		run func() error
	}{
		{me, func() error {
			u := r.users[pick(len(r.users))]
			return r.record(me, -1, func() error { return r.call(ctx, "GET", "/api/v1/me", u.Token, nil, http.StatusOK, nil) })
		}},
		{list, func() error {
			u := r.users[pick(len(r.users))]
			return r.record(list, -1, func() error { return r.call(ctx, "GET", "/api/v1/topics", u.Token, nil, http.StatusOK, nil) })
		}},
		{get, func() error {
			t := r.topics[pick(len(r.topics))]
			path := "/api/v1/topics/" + url.PathEscape(t.name)
			return r.record(get, -1, func() error { return r.call(ctx, "GET", path, r.users[t.owner].Token, nil, http.StatusOK, nil) })
		}},
		{grant, func() error {
			t := r.topics[pick(len(r.topics))]
			grantee := (t.owner + 1 + pick(len(r.users)-1)) % len(r.users)
			acc := map[string]bool{"read": true, "write": pick(2) == 0}
			return r.record(grant, -1, func() error { return r.putGrant(ctx, t, grantee, acc) })
		}},
		{create, func() error {
			u := r.users[pick(len(r.users))]
			var id string
			if err := r.record(create, -1, func() (err error) { id, err = r.createKey(ctx, u, "device-x"); return err }); err != nil {
				return err
			}
			return r.record(del, -1, func() error {
				return r.call(ctx, "DELETE", "/api/v1/keys/"+url.PathEscape(id), u.Token, nil, http.StatusNoContent, nil)
			})
		}},
	}
	for _, op := range ops {
		if err := parallel(ctx, r.cfg.Steady, p.Concurrency, op.run); err != nil {
			return fmt.Errorf("%s, concurrency %d: %w", op.o.Name, p.Concurrency, err)
		}
	}
	return nil
}

// parallel calls fn n times from workers goroutines and returns the first
// error (the others stop at their next call).
func parallel(ctx context.Context, n, workers int, fn func() error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan struct{}, n)
	for range n {
		next <- struct{}{}
	}
	close(next)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range next {
				if ctx.Err() != nil {
					return
				}
				if err := fn(); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

func (r *runner) createKey(ctx context.Context, u user, device string) (string, error) {
	var k struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	if err := r.call(ctx, "POST", "/api/v1/keys", u.Token, map[string]string{"description": device}, http.StatusCreated, &k); err != nil {
		return "", err
	}
	if k.ID == "" || k.Secret == "" {
		return "", fmt.Errorf("POST /keys as %s: no id or secret", u.Identity)
	}
	return k.ID, nil
}

func (r *runner) putGrant(ctx context.Context, t topic, grantee int, acc map[string]bool) error {
	path := "/api/v1/topics/" + url.PathEscape(t.name) + "/grants/" + url.PathEscape(r.users[grantee].Identity)
	return r.call(ctx, "PUT", path, r.users[t.owner].Token, acc, http.StatusOK, nil)
}

// call sends one request and checks its status; out, unless nil, receives
// the decoded answer. The answer is read in full either way.
func (r *runner) call(ctx context.Context, method, path, token string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.cfg.URL+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.cfg.Client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d, want %d: %.300s", method, path, resp.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
		}
	}
	return nil
}
