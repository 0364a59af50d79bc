package fabric

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/octofabric/octopus/internal/secretbox"
	"github.com/octofabric/octopus/internal/store"
	"github.com/octofabric/octopus/internal/testenv"
	"github.com/octofabric/octopus/internal/trigger"
	"github.com/octofabric/octopus/internal/trigger/filter"
)

// The trigger tests run on the embedded broker (topics and grants are
// real) with the metadata in SQLite and in PostgreSQL.

// triggerDB is a store with what opens its database directly, to read the
// raw columns.
type triggerDB struct {
	st          *store.Store
	driver, dsn string
}

func newBox(t testing.TB) *secretbox.Box {
	t.Helper()
	key := make([]byte, secretbox.KeySize)
	crand.Read(key)
	b, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newTriggerFabric is newFabric with a secret key and the given options.
func newTriggerFabric(t testing.TB, addr string, st *store.Store, logs *logSink, box *secretbox.Box, private bool, changed func()) *Fabric {
	t.Helper()
	f, err := New(Config{
		Store:               st,
		Kafka:               KafkaConfig{Bootstrap: []string{addr}, User: "admin", Password: adminPassword},
		Wait:                20 * time.Second,
		Logger:              slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Secrets:             box,
		AllowPrivateTargets: private,
		TriggerChanged:      changed,
	})
	if err != nil {
		t.Fatalf("fabric.New: %v", err)
	}
	t.Cleanup(f.Close)
	return f
}

func TestTriggers(t *testing.T) {
	addr := startEmbedded(t)
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "octopus.db")
		runTriggerStory(t, addr, openTriggerDB(t, "sqlite://"+path, "sqlite", path))
	})
	t.Run("postgres", func(t *testing.T) {
		if testing.Short() {
			t.Skip("-short: no PostgreSQL")
		}
		url := testenv.Postgres(t)
		runTriggerStory(t, addr, openTriggerDB(t, url, "pgx", url))
	})
}

func openTriggerDB(t *testing.T, url, driver, dsn string) triggerDB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, url)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return triggerDB{st: st, driver: driver, dsn: dsn}
}

// rawTrigger reads a trigger's stored spec and secret columns as they are.
func (db triggerDB) rawTrigger(t *testing.T, id string) (string, []byte) {
	t.Helper()
	conn, err := sql.Open(db.driver, db.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var spec string
	var secret []byte
	if err := conn.QueryRow("SELECT spec, secret FROM triggers WHERE id = $1", id).Scan(&spec, &secret); err != nil {
		t.Fatalf("raw trigger %s: %v", id, err)
	}
	return spec, secret
}

func ptr[T any](v T) *T { return &v }

// hookFields is the contract's trigger on topic.
func hookFields(name, topic string) TriggerFields {
	return TriggerFields{
		Name:          ptr(name),
		Topic:         ptr(topic),
		Filter:        []byte(`[{"value": {"status": ["failed"], "attempt": [{"numeric": [">=", 2]}]}}]`),
		Action:        &ActionFields{URL: ptr("https://example.org/hook"), Headers: map[string]string{"X-Team": "beamline", "X-Token": "s3cret-token-value"}},
		BatchSize:     ptr(10),
		BatchWindowMs: ptr(0),
		Start:         ptr("earliest"),
	}
}

func wantFabricErr(t *testing.T, what string, err error, kind Kind, code, field string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Kind != kind || e.Code != code || (field != "" && e.Field != field) || e.Message == "" {
		t.Fatalf("%s: error %v; want %v %s field %q", what, err, kind, code, field)
	}
}

// deployed returns the engine's view of trigger id, failing if absent.
func deployed(t *testing.T, f *Fabric, id string) trigger.Deployed {
	t.Helper()
	ds, err := f.Triggers(context.Background())
	if err != nil {
		t.Fatalf("Triggers: %v", err)
	}
	for _, d := range ds {
		if d.ID == id {
			return d
		}
	}
	t.Fatalf("Triggers has no %s", id)
	return trigger.Deployed{}
}

func runTriggerStory(t *testing.T, addr string, db triggerDB) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	logs := new(logSink)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("fabric log:\n%s", logs.tail(30))
		}
	})
	box := newBox(t)
	var changes atomic.Int32
	f := newTriggerFabric(t, addr, db.st, logs, box, false, func() { changes.Add(1) })
	tag := fmt.Sprintf("%06x", rand.Uint32()&0xffffff)
	alice := Caller{ID: "local:alice-" + tag, Name: "Alice " + tag}
	bob := Caller{ID: "local:bob-" + tag, Name: "Bob " + tag}
	nsA, nsB := "alice-"+tag, "bob-"+tag
	for _, c := range []struct {
		who   Caller
		topic string
	}{{alice, "tasks"}, {alice, "dlq"}, {alice, "other"}, {bob, "own"}, {bob, "bdlq"}} {
		if _, err := f.CreateTopic(ctx, c.who, TopicSpec{Name: c.topic}); err != nil {
			t.Fatalf("CreateTopic %s: %v", c.topic, err)
		}
	}

	// Create: the contract's request, with defaults for the rest.
	in := hookFields("failed-tasks", "tasks")
	in.DeadLetterTopic = ptr("dlq")
	nt, err := f.CreateTrigger(ctx, alice, in)
	if err != nil {
		t.Fatalf("CreateTrigger: %v", err)
	}
	secret, err := base64.RawURLEncoding.DecodeString(nt.SigningSecret)
	if err != nil || len(secret) != 32 || !nt.Created {
		t.Fatalf("signing secret %q (%d bytes), created %v", nt.SigningSecret, len(secret), nt.Created)
	}
	tr := nt.Trigger
	if !strings.HasPrefix(tr.ID, "trg_") || tr.Version != 1 || tr.State != StateEnabled || tr.Owner != alice.ID ||
		!slices.Equal(tr.Topics, []string{nsA + ".tasks"}) || tr.DeadLetterTopic != nsA+".dlq" ||
		tr.BatchSize != 10 || tr.BatchWindowMs != 0 || tr.Start.Kind != "earliest" || !tr.Enabled ||
		tr.Concurrency != (trigger.Concurrency{Min: 1, Max: 10}) || tr.Ordering != "partition" ||
		tr.Retry.MaxAttempts != trigger.DefaultMaxAttempts || tr.Action.Method != "POST" ||
		tr.Action.Headers["X-Token"] != RedactedValue || tr.Action.Headers["X-Team"] != RedactedValue {
		t.Fatalf("created trigger %+v", tr)
	}
	if changes.Load() != 1 {
		t.Fatalf("TriggerChanged called %d times, want 1", changes.Load())
	}
	// The engine sees it opened.
	d := deployed(t, f, tr.ID)
	if d.Owner != alice.ID || d.Version != 1 || !d.Spec.Enabled || !bytes.Equal(d.Secret, secret) ||
		d.Spec.Action.Headers["X-Token"] != "s3cret-token-value" || d.Spec.Action.URL != "https://example.org/hook" {
		t.Fatalf("deployed %+v", d)
	}
	// Secrets at rest: neither a header value nor the signing secret is in
	// the row.
	rawSpec, rawSecret := db.rawTrigger(t, tr.ID)
	if strings.Contains(rawSpec, "s3cret-token-value") || strings.Contains(rawSpec, "beamline") ||
		!strings.Contains(rawSpec, "X-Token") || bytes.Contains(rawSecret, secret) || bytes.Contains([]byte(rawSpec), secret) {
		t.Fatalf("secrets in the stored row: spec %s", rawSpec)
	}

	// Idempotent: the same request (full topic name this time) is the same
	// trigger, without a secret; another spec under the name is a conflict.
	again := hookFields("failed-tasks", nsA+".tasks")
	again.DeadLetterTopic = ptr(nsA + ".dlq")
	again.Filter = []byte(`[ {"value":{"status":["failed"],"attempt":[{"numeric":[">=",2]}]}} ]`)
	nt2, err := f.CreateTrigger(ctx, alice, again)
	if err != nil || nt2.ID != tr.ID || nt2.Created || nt2.SigningSecret != "" || nt2.Version != 1 {
		t.Fatalf("CreateTrigger again = %+v, %v; want the same trigger, no secret", nt2, err)
	}
	other := hookFields("failed-tasks", "tasks")
	other.BatchSize = ptr(20)
	_, err = f.CreateTrigger(ctx, alice, other)
	wantFabricErr(t, "same name, other spec", err, Conflict, "trigger_exists", "")

	// Access: bob cannot use alice's topics until granted READ, and gets
	// 403 or 404 as topics answer.
	_, err = f.CreateTrigger(ctx, bob, hookFields("b1", nsA+".tasks"))
	wantFabricErr(t, "bob on alice's topic", err, Forbidden, "no_access", "")
	_, err = f.CreateTrigger(ctx, bob, hookFields("b1", nsA+".nothing"))
	wantFabricErr(t, "bob on alice's missing topic", err, Forbidden, "no_access", "")
	_, err = f.CreateTrigger(ctx, bob, hookFields("b1", "nothing"))
	wantFabricErr(t, "bob on his missing topic", err, NotFound, "topic_not_found", "")
	_, err = f.CreateTrigger(ctx, bob, hookFields("b1", "a/b"))
	wantFabricErr(t, "bad topic name", err, Invalid, "invalid_name", "topic")
	if _, err := f.PutGrant(ctx, alice, "tasks", bob.ID, Access{Write: true}); err != nil {
		t.Fatal(err)
	}
	_, err = f.CreateTrigger(ctx, bob, hookFields("b1", nsA+".tasks"))
	wantFabricErr(t, "bob with write only", err, Forbidden, "no_read_access", "")
	if _, err := f.PutGrant(ctx, alice, "tasks", bob.ID, Access{Read: true}); err != nil {
		t.Fatal(err)
	}
	bin := hookFields("b1", nsA+".tasks")
	bin.DeadLetterTopic = ptr(nsA + ".tasks")
	_, err = f.CreateTrigger(ctx, bob, bin)
	wantFabricErr(t, "dead letters to the source", err, Invalid, "invalid_dead_letter_topic", "dead_letter_topic")
	bin.DeadLetterTopic = ptr(nsA + ".dlq")
	_, err = f.CreateTrigger(ctx, bob, bin)
	wantFabricErr(t, "dead letters to alice's topic", err, Forbidden, "no_access", "")
	bin.Topic, bin.Topics = nil, []string{"own"}
	bin.DeadLetterTopic = ptr(nsA + ".tasks")
	_, err = f.CreateTrigger(ctx, bob, bin)
	wantFabricErr(t, "dead letters to a read-only topic", err, Forbidden, "no_write_access", "")
	bin.Topics = []string{nsA + ".tasks", "own"}
	bin.DeadLetterTopic = ptr("bdlq")
	bt, err := f.CreateTrigger(ctx, bob, bin)
	if err != nil || !slices.Equal(bt.Topics, []string{nsA + ".tasks", nsB + ".own"}) || bt.DeadLetterTopic != nsB+".bdlq" {
		t.Fatalf("bob's trigger on a granted topic: %+v, %v", bt, err)
	}
	// Another identity's trigger does not exist for bob.
	_, err = f.GetTrigger(ctx, bob, tr.ID)
	wantFabricErr(t, "bob gets alice's trigger", err, NotFound, "trigger_not_found", "")
	_, err = f.UpdateTrigger(ctx, bob, tr.ID, TriggerFields{BatchSize: ptr(5)})
	wantFabricErr(t, "bob updates alice's trigger", err, NotFound, "trigger_not_found", "")
	_, err = f.PauseTrigger(ctx, bob, tr.ID)
	wantFabricErr(t, "bob pauses alice's trigger", err, NotFound, "trigger_not_found", "")
	_, err = f.RotateTriggerSecret(ctx, bob, tr.ID)
	wantFabricErr(t, "bob rotates alice's secret", err, NotFound, "trigger_not_found", "")
	wantFabricErr(t, "bob deletes alice's trigger", f.DeleteTrigger(ctx, bob, tr.ID), NotFound, "trigger_not_found", "")
	wantFabricErr(t, "a path as an ID", f.DeleteTrigger(ctx, bob, "../x"), NotFound, "trigger_not_found", "")
	if ls, err := f.ListTriggers(ctx, bob); err != nil || len(ls) != 1 || ls[0].ID != bt.ID {
		t.Fatalf("bob's ListTriggers = %+v, %v", ls, err)
	}

	// PATCH: only the given fields change; the version grows.
	up, err := f.UpdateTrigger(ctx, alice, tr.ID, TriggerFields{BatchSize: ptr(50)})
	if err != nil || up.Version != 2 || up.BatchSize != 50 || up.BatchWindowMs != 0 || up.Start.Kind != "earliest" ||
		string(up.Filter) != string(tr.Filter) || up.DeadLetterTopic != tr.DeadLetterTopic || len(up.Action.Headers) != 2 {
		t.Fatalf("UpdateTrigger batch_size = %+v, %v", up, err)
	}
	if d := deployed(t, f, tr.ID); d.Version != 2 || d.Spec.Action.Headers["X-Token"] != "s3cret-token-value" || !bytes.Equal(d.Secret, secret) {
		t.Fatalf("deployed after PATCH: %+v", d)
	}
	up, err = f.UpdateTrigger(ctx, alice, tr.ID, TriggerFields{Action: &ActionFields{Headers: map[string]string{"X-New": "v2"}}})
	if err != nil || up.Version != 3 || len(up.Action.Headers) != 1 || up.Action.URL != "https://example.org/hook" {
		t.Fatalf("UpdateTrigger headers = %+v, %v", up, err)
	}
	if d := deployed(t, f, tr.ID); !maps1(d.Spec.Action.Headers, "X-New", "v2") {
		t.Fatalf("headers after PATCH: %v", d.Spec.Action.Headers)
	}
	up, err = f.UpdateTrigger(ctx, alice, tr.ID, TriggerFields{Filter: []byte("null"), DeadLetterTopic: ptr("")})
	if err != nil || up.Filter != nil || up.DeadLetterTopic != "" || up.Version != 4 {
		t.Fatalf("UpdateTrigger removing filter and DLQ = %+v, %v", up, err)
	}
	for _, c := range []struct {
		what        string
		in          TriggerFields
		kind        Kind
		code, field string
	}{
		{"batch_size 0", TriggerFields{BatchSize: ptr(0)}, Invalid, "invalid_trigger", "batch_size"},
		{"batch_size 10001", TriggerFields{BatchSize: ptr(10001)}, Invalid, "invalid_trigger", "batch_size"},
		{"window -1", TriggerFields{BatchWindowMs: ptr(-1)}, Invalid, "invalid_trigger", "batch_window_ms"},
		{"bad start", TriggerFields{Start: ptr("yesterday")}, Invalid, "invalid_trigger", "start"},
		{"bad filter", TriggerFields{Filter: []byte(`[{"value": {"status": "failed"}}]`)}, Invalid, "invalid_filter", "filter[0].value.status"},
		{"private URL", TriggerFields{Action: &ActionFields{URL: ptr("http://127.0.0.1:9/x")}}, Invalid, "target_refused", "action.url"},
		{"credentials in URL", TriggerFields{Action: &ActionFields{URL: ptr("https://u:p@example.org/")}}, Invalid, "invalid_url", "action.url"},
		{"rename to a taken name", TriggerFields{Name: ptr("other-name")}, Conflict, "trigger_exists", ""},
		{"topic and topics", TriggerFields{Topic: ptr("tasks"), Topics: []string{"tasks"}}, Invalid, "invalid_topics", "topic"},
		{"no topics", TriggerFields{Topics: []string{}}, Invalid, "invalid_trigger", "topic"},
		{"unreadable topic", TriggerFields{Topics: []string{nsB + ".own"}}, Forbidden, "no_access", ""},
	} {
		if c.what == "rename to a taken name" {
			if _, err := f.CreateTrigger(ctx, alice, hookFields("other-name", "other")); err != nil {
				t.Fatal(err)
			}
		}
		_, err := f.UpdateTrigger(ctx, alice, tr.ID, c.in)
		wantFabricErr(t, c.what, err, c.kind, c.code, c.field)
	}
	if g, err := f.GetTrigger(ctx, alice, tr.ID); err != nil || g.Version != 4 || g.BatchSize != 50 {
		t.Fatalf("after refused updates: %+v, %v; want version 4 unchanged", g, err)
	}

	// Pause and resume, each once.
	p, err := f.PauseTrigger(ctx, alice, tr.ID)
	if err != nil || p.State != StatePaused || p.Enabled || p.Version != 5 {
		t.Fatalf("PauseTrigger = %+v, %v", p, err)
	}
	if p, err := f.PauseTrigger(ctx, alice, tr.ID); err != nil || p.Version != 5 {
		t.Fatalf("PauseTrigger again = %+v, %v; want no change", p, err)
	}
	if d := deployed(t, f, tr.ID); d.Spec.Enabled || d.Version != 5 || d.Spec.Action.Headers["X-New"] != "v2" {
		t.Fatalf("deployed while paused: %+v", d)
	}
	if r, err := f.ResumeTrigger(ctx, alice, tr.ID); err != nil || r.State != StateEnabled || r.Version != 6 {
		t.Fatalf("ResumeTrigger = %+v, %v", r, err)
	}

	// A revoked grant blocks bob's trigger; granted again, it runs.
	if err := f.DeleteGrant(ctx, alice, "tasks", bob.ID); err != nil {
		t.Fatal(err)
	}
	b, err := f.GetTrigger(ctx, bob, bt.ID)
	if err != nil || b.State != StateBlocked || !strings.Contains(b.StateReason, nsA+".tasks") || !b.Enabled {
		t.Fatalf("bob's trigger after the revoke: %+v, %v", b, err)
	}
	if d := deployed(t, f, bt.ID); d.Spec.Enabled {
		t.Fatal("a blocked trigger is deployed enabled")
	}
	if _, err := f.PutGrant(ctx, alice, "tasks", bob.ID, Access{Read: true}); err != nil {
		t.Fatal(err)
	}
	if d := deployed(t, f, bt.ID); !d.Spec.Enabled {
		t.Fatal("a trigger granted again is still disabled")
	}
	// A deleted dead-letter topic blocks too.
	if _, err := f.UpdateTrigger(ctx, alice, tr.ID, TriggerFields{DeadLetterTopic: ptr("dlq")}); err != nil {
		t.Fatal(err)
	}
	if err := f.DeleteTopic(ctx, alice, "dlq"); err != nil {
		t.Fatal(err)
	}
	if g, err := f.GetTrigger(ctx, alice, tr.ID); err != nil || g.State != StateBlocked || !strings.Contains(g.StateReason, "dead-letter") {
		t.Fatalf("after deleting the dead-letter topic: %+v, %v", g, err)
	}

	// Rotate: a new secret, shown once, is what the engine signs with.
	rot, err := f.RotateTriggerSecret(ctx, alice, tr.ID)
	newSecret, _ := base64.RawURLEncoding.DecodeString(rot.SigningSecret)
	if err != nil || len(newSecret) != 32 || bytes.Equal(newSecret, secret) || rot.Version != 8 {
		t.Fatalf("RotateTriggerSecret = %+v, %v", rot, err)
	}
	if d := deployed(t, f, tr.ID); !bytes.Equal(d.Secret, newSecret) {
		t.Fatal("the engine did not get the new secret")
	}

	// Another key opens nothing: blocked, and no sealed value reaches the engine.
	f2 := newTriggerFabric(t, addr, db.st, logs, newBox(t), true, nil)
	if g, err := f2.GetTrigger(ctx, bob, bt.ID); err != nil || g.State != StateBlocked || !strings.Contains(g.StateReason, "secret key") {
		t.Fatalf("with another key: %+v, %v", g, err)
	}
	if d := deployed(t, f2, bt.ID); d.Spec.Enabled || d.Spec.Action.Headers["X-Token"] != RedactedValue {
		t.Fatalf("deployed with another key: %+v", d.Spec.Action)
	}
	// With private targets allowed, a loopback URL is accepted.
	if _, err := f2.UpdateTrigger(ctx, bob, bt.ID, TriggerFields{Action: &ActionFields{URL: ptr("http://127.0.0.1:9/x"), Headers: map[string]string{}}}); err != nil {
		t.Fatalf("loopback URL with AllowPrivateTargets: %v", err)
	}
	// Without a key: Unavailable.
	f3 := newFabric(t, addr, db.st, logs)
	_, err = f3.CreateTrigger(ctx, alice, hookFields("x", "tasks"))
	wantFabricErr(t, "create without a key", err, Unavailable, "triggers_unavailable", "")
	_, err = f3.Triggers(ctx)
	wantFabricErr(t, "Triggers without a key", err, Unavailable, "triggers_unavailable", "")

	// Delete.
	if err := f.DeleteTrigger(ctx, alice, tr.ID); err != nil {
		t.Fatal(err)
	}
	_, err = f.GetTrigger(ctx, alice, tr.ID)
	wantFabricErr(t, "get after delete", err, NotFound, "trigger_not_found", "")
	ds, err := f.Triggers(ctx)
	if err != nil || slices.ContainsFunc(ds, func(d trigger.Deployed) bool { return d.ID == tr.ID }) {
		t.Fatalf("Triggers after delete: %v", err)
	}
}

func maps1(m map[string]string, k, v string) bool { return len(m) == 1 && m[k] == v }

func TestTestFilter(t *testing.T) {
	f := &Fabric{}
	rec := &filter.Record{Topic: "a.tasks", Value: []byte(`{"status": "failed", "attempt": 3}`)}
	for _, c := range []struct {
		filter string
		match  bool
		field  string // "": no error
	}{
		{`[{"value": {"status": ["failed"]}}]`, true, ""},
		{`[{"value": {"status": ["ok"]}}]`, false, ""},
		{`[{"value": {"attempt": [{"numeric": [">=", 2]}]}}]`, true, ""},
		{`[{"value": {"status": ["ok"]}}, {"topic": ["a.tasks"]}]`, true, ""},
		{`[{"value": {"status": "failed"}}]`, false, "filter[0].value.status"},
		{`[{"value": {"attempt": [{"numeric": [">=", "x"]}]}}]`, false, "filter[0].value.attempt[0].numeric[1]"},
		{`null`, false, "filter"},
		{``, false, "filter"},
		{`{"value": 1}`, false, "filter"},
	} {
		got, err := f.TestFilter([]byte(c.filter), rec)
		if c.field == "" {
			if err != nil || got != c.match {
				t.Errorf("TestFilter(%s) = %v, %v; want %v", c.filter, got, err, c.match)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Kind != Invalid || e.Code != "invalid_filter" || !strings.HasPrefix(e.Field, c.field) {
			t.Errorf("TestFilter(%s): %v; want invalid_filter at %s", c.filter, err, c.field)
		}
	}
}
