package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/octofabric/octopus/internal/testenv/controlplane"
	"github.com/octofabric/octopus/internal/trigger"
	"github.com/octofabric/octopus/pkg/client"
)

func TestTriggerFlagParsers(t *testing.T) {
	for in, want := range map[string][2]int{"1:10": {1, 10}, "5": {0, 5}, "2:2": {2, 2}} {
		c, err := concurrencyFlag(in)
		if err != nil || c.Min != want[0] || c.Max != want[1] {
			t.Errorf("concurrencyFlag(%q) = %+v, %v", in, c, err)
		}
	}
	for _, bad := range []string{"", "a:b", "1:", "-1:3", "0"} {
		if _, err := concurrencyFlag(bad); exitCode(err) != 2 {
			t.Errorf("concurrencyFlag(%q): %v, want a usage error", bad, err)
		}
	}
	for in, want := range map[string]int{"0": 0, "500ms": 500, "2s": 2000, "1d": 86_400_000} {
		if got, err := millis("x", in); err != nil || got != want {
			t.Errorf("millis(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"-1s", "soon", "1.5ms"} {
		if _, err := millis("x", bad); exitCode(err) != 2 {
			t.Errorf("millis(%q): %v", bad, err)
		}
	}
	if ms, err := recordAge("none"); err != nil || ms != -1 {
		t.Errorf("recordAge(none) = %d, %v", ms, err)
	}
	if ms, err := recordAge("6h"); err != nil || ms != 21_600_000 {
		t.Errorf("recordAge(6h) = %d, %v", ms, err)
	}
	if _, err := recordAge("0s"); err == nil {
		t.Error("recordAge(0s) accepted")
	}
	for in, want := range map[string]string{`{"a": 1}`: `{"a": 1}`, `3`: `3`, `"s"`: `"s"`, `boom`: `"boom"`, `a "quoted" word`: `"a \"quoted\" word"`} {
		if got := string(filterValue(in)); got != want {
			t.Errorf("filterValue(%q) = %s, want %s", in, got, want)
		}
	}
	if _, err := kvs("header", []string{"novalue"}); exitCode(err) != 2 {
		t.Errorf("kvs without =: %v", err)
	}
	if m, err := kvs("header", []string{"A=b=c", "X="}); err != nil || m["A"] != "b=c" || m["X"] != "" {
		t.Errorf("kvs = %v, %v", m, err)
	}
}

// settingsOf parses args as the flags of trigger create.
func settingsOf(t *testing.T, args ...string) (*triggerSettings, *pflag.FlagSet) {
	t.Helper()
	var s triggerSettings
	cmd := &cobra.Command{Use: "x"}
	s.add(cmd)
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	return &s, cmd.Flags()
}

// TestTriggerRequestFromFlags checks what create and update send: only
// the flags given, over --from-file.
func TestTriggerRequestFromFlags(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "spec.json")
	if err := os.WriteFile(spec, []byte(`{"name": "ignored", "topic": "a", "action": {"url": "https://x.example/"}, "batch_size": 7}`), 0o600); err != nil {
		t.Fatal(err)
	}
	flt := filepath.Join(dir, "filter.json")
	if err := os.WriteFile(flt, []byte(`[{"value": {"s": ["x"]}}]`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, fl := settingsOf(t, "--from-file", spec, "--batch-window", "0", "--filter", "@"+flt, "--header", "K=v",
		"--max-attempts", "3", "--disabled")
	req, err := s.request(fl, "named")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(req)
	want := `{"name":"named","topic":"a","filter":[{"value":{"s":["x"]}}],"action":{"url":"https://x.example/","headers":{"K":"v"}},` +
		`"batch_size":7,"batch_window_ms":0,"retry":{"max_attempts":3},"enabled":false}`
	if string(b) != want {
		t.Fatalf("request\n got %s\nwant %s", b, want)
	}
	s, fl = settingsOf(t, "--url", "https://x.example/")
	if _, err := s.request(fl, "n"); exitCode(err) != 2 || !strings.Contains(err.Error(), "--topic") {
		t.Fatalf("no topic: %v", err)
	}
	s, fl = settingsOf(t, "--topic", "a", "--url", "https://x.example/", "--filter", "{not json")
	if _, err := s.request(fl, "n"); exitCode(err) != 2 {
		t.Fatalf("bad filter: %v", err)
	}
	s, fl = settingsOf(t, "--dead-letter-topic", "", "--filter", "null", "--batch-size", "0")
	p, err := s.patch(fl)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(p)
	if want := `{"filter":null,"batch_size":0,"dead_letter_topic":""}`; string(b) != want {
		t.Fatalf("patch %s, want %s", b, want)
	}
}

// cliServer serves a control plane with triggers on (a secret key and an
// invocation log) and returns its URL and a user's token.
func cliServer(t *testing.T) (string, string) {
	t.Helper()
	s := controlplane.ControlPlaneWithLogs(t, oneInvocation{})
	u, err := client.New(s.URL, s.AdminToken).CreateUser(context.Background(), client.UserRequest{Name: "carol"})
	if err != nil {
		t.Fatal(err)
	}
	return s.URL, u.Token
}

type oneInvocation struct{}

func (oneInvocation) Logs(_ context.Context, id string, q trigger.LogQuery) ([]trigger.Invocation, error) {
	return []trigger.Invocation{{Trigger: id, Status: "failed", HTTPStatus: 500, Attempt: 2, Records: 3, Error: "HTTP 500"}}, nil
}

// runTriggerCmd runs `octopus trigger ARGS` in this process.
func runTriggerCmd(t *testing.T, server, token string, args ...string) (string, string, error) {
	t.Helper()
	cmd := newTriggerCmd()
	var out, errb bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs(append(args, "--server", server, "--token", token))
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errb.String(), err
}

// TestTriggerCommands runs the trigger commands against a control plane in
// this process (test/cli_trigger_test.go runs the binary against serve).
func TestTriggerCommands(t *testing.T) {
	url, tok := cliServer(t)
	ok := func(args ...string) string {
		t.Helper()
		out, errs, err := runTriggerCmd(t, url, tok, args...)
		if err != nil {
			t.Fatalf("trigger %s: %v\n%s", strings.Join(args, " "), err, errs)
		}
		return out
	}
	c := client.New(url, tok)
	if _, err := c.CreateTopic(context.Background(), client.TopicRequest{Name: "tasks"}); err != nil {
		t.Fatal(err)
	}
	var nt client.NewTrigger
	out := ok("create", "failed-tasks", "--topic", "tasks", "--url", "https://example.org/hook", "--header", "X-Team=beamline",
		"--filter", `[{"value": {"status": ["failed"]}}]`, "--batch-size", "10", "--batch-window", "0", "--start", "earliest",
		"--concurrency", "2:4", "--max-record-age", "none", "-o", "json")
	if err := json.Unmarshal([]byte(out), &nt); err != nil || nt.SigningSecret == "" || nt.BatchWindowMs != 0 ||
		nt.Concurrency.Min != 2 || nt.Retry.MaxRecordAgeMs != -1 || strings.Contains(out, "beamline") {
		t.Fatalf("create -o json: %v\n%s", err, out)
	}
	if out := ok("list"); !strings.Contains(out, nt.ID) || !strings.Contains(out, "enabled") {
		t.Fatalf("list: %s", out)
	}
	if out := ok("get", nt.ID); !strings.Contains(out, "X-Team (values not shown)") || !strings.Contains(out, "carol.tasks") ||
		strings.Contains(out, "beamline") {
		t.Fatalf("get: %s", out)
	}
	if out := ok("update", nt.ID, "--batch-size", "20", "-o", "json"); !strings.Contains(out, `"batch_size": 20`) || !strings.Contains(out, `"version": 2`) {
		t.Fatalf("update: %s", out)
	}
	if out := ok("pause", nt.ID); !strings.Contains(out, "is paused") {
		t.Fatalf("pause: %s", out)
	}
	if out := ok("resume", nt.ID); !strings.Contains(out, "is enabled") {
		t.Fatalf("resume: %s", out)
	}
	out, errs, err := runTriggerCmd(t, url, tok, "rotate-secret", nt.ID)
	if err != nil || !strings.Contains(errs, "only this once") || !strings.Contains(out, "signing_secret") || strings.Contains(out, nt.SigningSecret) {
		t.Fatalf("rotate-secret: %v %s %s", err, out, errs)
	}
	if out := ok("logs", nt.ID, "--status", "failed", "--since", "1h"); !strings.Contains(out, "HTTP 500") {
		t.Fatalf("logs: %s", out)
	}
	if out := ok("test-filter", "--filter", `[{"value": {"status": ["failed"]}}]`, "--value", `{"status": "failed"}`); out != "match\n" {
		t.Fatalf("test-filter: %q", out)
	}
	if out := ok("test-filter", "--filter", `[{"value": ["boom"]}]`, "--value", "bang"); out != "no match\n" {
		t.Fatalf("test-filter no match: %q", out)
	}
	if _, _, err := runTriggerCmd(t, url, tok, "test-filter", "--filter", `[{"value": {"s": "x"}}]`); err == nil ||
		!strings.Contains(err.Error(), "filter[0].value.s") {
		t.Fatalf("test-filter of a bad filter: %v", err)
	}
	if _, _, err := runTriggerCmd(t, url, tok, "update", nt.ID); exitCode(err) != 2 {
		t.Fatalf("update without flags: %v", err)
	}
	if out := ok("delete", nt.ID); !strings.Contains(out, "Deleted trigger") {
		t.Fatalf("delete: %s", out)
	}
	if _, _, err := runTriggerCmd(t, url, tok, "get", nt.ID); err == nil || !strings.Contains(err.Error(), "trigger_not_found") {
		t.Fatalf("get after delete: %v", err)
	}
}
