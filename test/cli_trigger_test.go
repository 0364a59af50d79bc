package test

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLITrigger runs the trigger commands of the binary against `octopus
// serve`: create (with the signing secret shown once), list, get, update,
// pause, resume, rotate-secret, test-filter and delete; another user sees
// none of it, and no header value is stored in the clear.
func TestCLITrigger(t *testing.T) {
	dir := t.TempDir()
	c := startChild(t, dir, "--listener", "SASL_PLAINTEXT://127.0.0.1:0", "--fsync", "never")
	raw, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	e := &cliEnv{t: t, server: "http://" + c.HTTPAddr(), cfg: t.TempDir(), dir: t.TempDir()}
	asAdmin := []string{"OCTOPUS_TOKEN=" + strings.TrimSpace(string(raw))}
	var alice, bob struct{ Token string }
	decodeJSON(t, e.ok("", asAdmin, "user", "add", "alice", "-o", "json").stdout, &alice)
	decodeJSON(t, e.ok("", asAdmin, "user", "add", "bob", "-o", "json").stdout, &bob)
	asAlice := []string{"OCTOPUS_TOKEN=" + alice.Token}
	asBob := []string{"OCTOPUS_TOKEN=" + bob.Token}
	e.ok("", asAlice, "topic", "create", "tasks")
	filterFile := filepath.Join(e.dir, "filter.json")
	if err := os.WriteFile(filterFile, []byte(`[{"value": {"status": ["failed"], "attempt": [{"numeric": [">=", 2]}]}}]`), 0o600); err != nil {
		t.Fatal(err)
	}

	type triggerOut struct {
		ID            string   `json:"id"`
		Version       int64    `json:"version"`
		State         string   `json:"state"`
		Topics        []string `json:"topics"`
		BatchSize     int      `json:"batch_size"`
		BatchWindowMs int      `json:"batch_window_ms"`
		Start         string   `json:"start"`
		SigningSecret string   `json:"signing_secret"`
		Action        struct{ Headers map[string]string }
		Retry         struct {
			MaxAttempts int `json:"max_attempts"`
		}
	}
	const token = "tok-5ecret-9c1d"
	r := e.ok("", asAlice, "trigger", "create", "failed-tasks", "--topic", "tasks", "--url", "https://example.org/hook",
		"--header", "X-Team=beamline", "--header", "X-Token="+token, "--filter", "@"+filterFile,
		"--batch-size", "10", "--batch-window", "0", "--start", "earliest", "-o", "json")
	var tr triggerOut
	decodeJSON(t, r.stdout, &tr)
	secret, err := base64.RawURLEncoding.DecodeString(tr.SigningSecret)
	if err != nil || len(secret) != 32 || !strings.Contains(r.stderr, "only this once") || tr.State != "enabled" ||
		tr.Version != 1 || len(tr.Topics) != 1 || tr.Topics[0] != "alice.tasks" || tr.BatchWindowMs != 0 || tr.BatchSize != 10 ||
		tr.Action.Headers["X-Token"] != "[redacted]" || strings.Contains(r.stdout, token) {
		t.Fatalf("trigger create: %s\nstderr: %s", r.stdout, r.stderr)
	}
	// The same command again: the same trigger, no new secret.
	r = e.ok("", asAlice, "trigger", "create", "failed-tasks", "--topic", "alice.tasks", "--url", "https://example.org/hook",
		"--header", "X-Team=beamline", "--header", "X-Token="+token, "--filter", "@"+filterFile,
		"--batch-size", "10", "--batch-window", "0", "--start", "earliest")
	if !strings.Contains(r.stdout, tr.ID) || strings.Contains(r.stdout, tr.SigningSecret) || strings.Contains(r.stderr, "only this once") {
		t.Fatalf("trigger create again: %s\nstderr: %s", r.stdout, r.stderr)
	}

	if r := e.ok("", asAlice, "trigger", "list"); !strings.Contains(r.stdout, tr.ID) || !strings.Contains(r.stdout, "failed-tasks") ||
		!strings.Contains(r.stdout, "enabled") {
		t.Fatalf("trigger list: %s", r.stdout)
	}
	r = e.ok("", asAlice, "trigger", "get", tr.ID)
	if !strings.Contains(r.stdout, "X-Team,X-Token (values not shown)") || !strings.Contains(r.stdout, `"numeric"`) ||
		strings.Contains(r.stdout, token) || strings.Contains(r.stdout, "beamline") {
		t.Fatalf("trigger get: %s", r.stdout)
	}

	// Update keeps what it does not name.
	var up triggerOut
	decodeJSON(t, e.ok("", asAlice, "trigger", "update", tr.ID, "--batch-size", "50", "--max-attempts", "3", "-o", "json").stdout, &up)
	if up.Version != 2 || up.BatchSize != 50 || up.Retry.MaxAttempts != 3 || up.BatchWindowMs != 0 || up.Start != "earliest" ||
		len(up.Action.Headers) != 2 {
		t.Fatalf("trigger update: %+v", up)
	}
	if r := e.ok("", asAlice, "trigger", "pause", tr.ID); !strings.Contains(r.stdout, "is paused") {
		t.Fatalf("trigger pause: %s", r.stdout)
	}
	var got triggerOut
	decodeJSON(t, e.ok("", asAlice, "trigger", "get", tr.ID, "-o", "json").stdout, &got)
	if got.State != "paused" || got.Version != 3 || got.SigningSecret != "" {
		t.Fatalf("trigger get after pause: %+v", got)
	}
	if r := e.ok("", asAlice, "trigger", "resume", tr.ID); !strings.Contains(r.stdout, "is enabled") {
		t.Fatalf("trigger resume: %s", r.stdout)
	}
	var rot triggerOut
	r = e.ok("", asAlice, "trigger", "rotate-secret", tr.ID, "-o", "json")
	decodeJSON(t, r.stdout, &rot)
	if rot.SigningSecret == "" || rot.SigningSecret == tr.SigningSecret || rot.Version != 5 || !strings.Contains(r.stderr, "only this once") {
		t.Fatalf("trigger rotate-secret: %s", r.stdout)
	}

	// Filters are tried before they are deployed.
	if r := e.ok("", asAlice, "trigger", "test-filter", "--filter", "@"+filterFile, "--value", `{"status": "failed", "attempt": 2}`); r.stdout != "match\n" {
		t.Fatalf("test-filter (match): %q", r.stdout)
	}
	if r := e.ok("", asAlice, "trigger", "test-filter", "--filter", "@"+filterFile, "--value", `{"status": "failed", "attempt": 1}`); r.stdout != "no match\n" {
		t.Fatalf("test-filter (no match): %q", r.stdout)
	}
	if r := e.ok("", asAlice, "trigger", "test-filter", "--filter", `[{"key": [{"prefix": "job-"}]}]`, "--key", "job-7", "-o", "json"); !strings.Contains(r.stdout, `"match": true`) {
		t.Fatalf("test-filter -o json: %q", r.stdout)
	}
	e.fails(1, "filter[0].value.status", asAlice, "trigger", "test-filter", "--filter", `[{"value": {"status": "failed"}}]`, "--value", "{}")

	// Mistakes and other people's triggers.
	e.fails(1, "target_refused", asAlice, "trigger", "create", "local", "--topic", "tasks", "--url", "http://127.0.0.1:9/x")
	e.fails(1, "no_access", asBob, "trigger", "create", "spy", "--topic", "alice.tasks", "--url", "https://example.org/x")
	e.fails(1, "trigger_not_found", asBob, "trigger", "get", tr.ID)
	e.fails(1, "trigger_not_found", asBob, "trigger", "delete", tr.ID)
	e.fails(2, "--url", asAlice, "trigger", "create", "x", "--topic", "tasks")
	e.fails(2, "nothing to change", asAlice, "trigger", "update", tr.ID)
	e.fails(2, "--concurrency", asAlice, "trigger", "update", tr.ID, "--concurrency", "many")
	e.fails(2, "accepts 1 arg", asAlice, "trigger", "get")
	if r := e.ok("", asBob, "trigger", "list", "-o", "json"); strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("bob's trigger list: %s", r.stdout)
	}

	// No header value is on disk in the clear (the database and its WAL).
	files, _ := filepath.Glob(filepath.Join(dir, "octopus.db*"))
	if len(files) == 0 {
		t.Fatalf("no database in %s", dir)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(token)) || bytes.Contains(b, []byte(rot.SigningSecret)) {
			t.Fatalf("%s holds a header value or the signing secret in the clear", f)
		}
	}

	if r := e.ok("", asAlice, "trigger", "delete", tr.ID); !strings.Contains(r.stdout, "Deleted trigger "+tr.ID) {
		t.Fatalf("trigger delete: %s", r.stdout)
	}
	e.fails(1, "trigger_not_found", asAlice, "trigger", "get", tr.ID)
}
