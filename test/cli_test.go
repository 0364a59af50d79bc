package test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cliEnv runs `octopus` client commands against a child `octopus serve`,
// with a private config directory and no inherited OCTOPUS_* variables.
type cliEnv struct {
	t      *testing.T
	server string
	cfg    string // XDG_CONFIG_HOME
	dir    string // a scratch directory for key files
}

// cliResult is one run of the binary.
type cliResult struct {
	code           int
	stdout, stderr string
}

func newCLIEnv(t *testing.T) (*cliEnv, string) {
	t.Helper()
	dir := t.TempDir()
	c := startChild(t, dir, "--listener", "SASL_PLAINTEXT://127.0.0.1:0", "--fsync", "never")
	raw, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	return &cliEnv{t: t, server: "http://" + c.HTTPAddr(), cfg: t.TempDir(), dir: t.TempDir()},
		strings.TrimSpace(string(raw))
}

// run runs the binary with args, stdin and extra environment variables
// (NAME=value).
func (e *cliEnv) run(stdin string, env []string, args ...string) cliResult {
	e.t.Helper()
	cmd := exec.Command(octopusBinary(e.t), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + e.cfg, "XDG_CONFIG_HOME=" + e.cfg,
		"OCTOPUS_SERVER=" + e.server,
		// The race runtime sleeps 1s at a normal exit; not needed here, as
		// races are looked for in stderr.
		"GORACE=atexit_sleep_ms=0"}
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		e.t.Fatalf("octopus %s: still running after 60s; stderr:\n%s", strings.Join(args, " "), errb.String())
	}
	r := cliResult{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatal(err)
	}
	if strings.Contains(r.stderr, "DATA RACE") {
		e.t.Fatalf("octopus %s: a data race:\n%s", strings.Join(args, " "), r.stderr)
	}
	return r
}

// ok runs the binary and fails unless it exits 0.
func (e *cliEnv) ok(stdin string, env []string, args ...string) cliResult {
	e.t.Helper()
	r := e.run(stdin, env, args...)
	if r.code != 0 {
		e.t.Fatalf("octopus %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// fails runs the binary and fails unless it exits with code and says
// want on stderr.
func (e *cliEnv) fails(code int, want string, env []string, args ...string) cliResult {
	e.t.Helper()
	r := e.run("", env, args...)
	if r.code != code || !strings.Contains(r.stderr, want) {
		e.t.Fatalf("octopus %s: exit %d, stderr %q; want exit %d and %q", strings.Join(args, " "), r.code, r.stderr, code, want)
	}
	return r
}

func decodeJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
}

// TestCLIStory runs the command line end to end: the administrator logs
// in and adds alice and bob; alice creates a key and a topic, produces and
// consumes; she grants bob read, bob consumes with his own key in a group,
// she revokes it and bob is refused.
func TestCLIStory(t *testing.T) {
	e, adminToken := newCLIEnv(t)

	// The administrator logs in from a token file; the token is saved 0600.
	tf := filepath.Join(e.dir, "admin.token")
	if err := os.WriteFile(tf, []byte(adminToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := e.ok("", nil, "login", "--token-file", tf)
	if !strings.Contains(r.stdout, "local:admin") {
		t.Fatalf("login: %q", r.stdout)
	}
	fi, err := os.Stat(filepath.Join(e.cfg, "octopus", "credentials.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials.json: %v %v", fi, err)
	}
	var me struct {
		Identity string `json:"identity"`
		Admin    bool   `json:"admin"`
	}
	decodeJSON(t, e.ok("", nil, "whoami", "-o", "json").stdout, &me)
	if me.Identity != "local:admin" || !me.Admin {
		t.Fatalf("whoami: %+v", me)
	}

	type newUser struct {
		Identity, Token, Namespace string
	}
	var alice, bob newUser
	r = e.ok("", nil, "user", "add", "alice", "-o", "json")
	decodeJSON(t, r.stdout, &alice)
	if alice.Token == "" || alice.Identity != "local:alice" || !strings.Contains(r.stderr, "only this once") {
		t.Fatalf("user add alice: %+v, stderr %q", alice, r.stderr)
	}
	r = e.ok("", nil, "user", "add", "bob")
	for _, l := range strings.Split(r.stdout, "\n") {
		if f := strings.Fields(l); len(f) == 2 {
			switch f[0] {
			case "identity":
				bob.Identity = f[1]
			case "token":
				bob.Token = f[1]
			}
		}
	}
	if bob.Identity != "local:bob" || !strings.HasPrefix(bob.Token, "oct_") {
		t.Fatalf("user add bob (table): %q", r.stdout)
	}
	asAlice := []string{"OCTOPUS_TOKEN=" + alice.Token}
	asBob := []string{"OCTOPUS_TOKEN=" + bob.Token}
	e.fails(1, "admin_only", asBob, "user", "add", "mallory")

	// Alice's key, saved as printed by `key create -o json`.
	r = e.ok("", asAlice, "key", "create", "--description", "laptop", "--expires", "30d", "-o", "json")
	if !strings.Contains(r.stderr, "shown only this once") {
		t.Fatalf("key create: no warning on stderr: %q", r.stderr)
	}
	var key struct {
		ID, Secret, Username string
		ClientSettings       map[string]any `json:"client_settings"`
	}
	decodeJSON(t, r.stdout, &key)
	if key.Secret == "" || key.ClientSettings == nil {
		t.Fatalf("key create -o json: %s", r.stdout)
	}
	aliceKey := filepath.Join(e.dir, "alice.json")
	if err := os.WriteFile(aliceKey, []byte(r.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	var keys []map[string]any
	decodeJSON(t, e.ok("", asAlice, "key", "list", "-o", "json").stdout, &keys)
	if len(keys) != 1 || keys[0]["id"] != key.ID || keys[0]["secret"] != nil {
		t.Fatalf("key list: %v", keys)
	}
	if r := e.ok("", asAlice, "key", "list"); !strings.Contains(r.stdout, key.ID) || !strings.Contains(r.stdout, "laptop") {
		t.Fatalf("key list (table): %q", r.stdout)
	}

	// Topics.
	r = e.ok("", asAlice, "topic", "create", "events", "--partitions", "2", "--retention", "7d",
		"--config", "cleanup.policy=delete", "-o", "json")
	var topic struct {
		Name       string
		Partitions int32
		Configs    map[string]string
	}
	decodeJSON(t, r.stdout, &topic)
	if topic.Name != "alice.events" || topic.Partitions != 2 || topic.Configs["retention.ms"] != "604800000" {
		t.Fatalf("topic create: %s", r.stdout)
	}
	if r := e.ok("", asAlice, "topic", "list"); !strings.Contains(r.stdout, "alice.events") || !strings.Contains(r.stdout, "owner") {
		t.Fatalf("topic list: %q", r.stdout)
	}
	decodeJSON(t, e.ok("", asAlice, "topic", "update", "events", "--partitions", "3", "-o", "json").stdout, &topic)
	if topic.Partitions != 3 {
		t.Fatalf("topic update: %+v", topic)
	}

	// Produce three lines; consume them back.
	r = e.ok("one\ntwo\nthree\n", nil, "produce", "events", "--key", aliceKey)
	if !strings.Contains(r.stdout, "Produced 3 records to alice.events") {
		t.Fatalf("produce: %q", r.stdout)
	}
	r = e.ok("", []string{"OCTOPUS_KEY_FILE=" + aliceKey}, "consume", "events", "--max", "3", "--from", "earliest")
	if got := sortedLines(r.stdout); got != "one\nthree\ntwo" {
		t.Fatalf("consume: %q", r.stdout)
	}
	// Keys and JSON values; consume -o json lines parse.
	e.ok("k1|{\"n\":1}\n", nil, "produce", "alice.events", "--key", aliceKey, "--key-separator", "|", "--json")
	if r := e.run("not json\n", []string{"OCTOPUS_KEY_FILE=" + aliceKey}, "produce", "events", "--json"); r.code != 1 ||
		!strings.Contains(r.stderr, "line 1: the value is not JSON") {
		t.Fatalf("produce --json of a non-JSON line: exit %d, stderr %q", r.code, r.stderr)
	}
	r = e.ok("", nil, "consume", "events", "--key", aliceKey, "-o", "json")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 4 {
		t.Fatalf("consume -o json: %d lines:\n%s", len(lines), r.stdout)
	}
	var sawKey bool
	for _, l := range lines {
		var rec struct {
			Topic     string
			Partition int32
			Offset    int64
			Timestamp time.Time
			Key       *string
			Value     string
			Headers   []any
		}
		decodeJSON(t, l, &rec)
		if rec.Topic != "alice.events" || rec.Timestamp.IsZero() || rec.Headers == nil {
			t.Fatalf("consume -o json: %s", l)
		}
		if rec.Key != nil && *rec.Key == "k1" && rec.Value == `{"n":1}` {
			sawKey = true
		}
	}
	if !sawKey {
		t.Fatalf("consume -o json: no record with key k1:\n%s", r.stdout)
	}

	// Bob: no access until alice grants it; then he reads in his group.
	r = e.ok("", asBob, "key", "create", "-o", "json")
	bobKey := filepath.Join(e.dir, "bob.json")
	if err := os.WriteFile(bobKey, []byte(r.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	e.fails(1, "", asBob, "topic", "describe", "alice.events")
	r = e.ok("", asAlice, "topic", "grant", "events", bob.Identity, "--read", "-o", "json")
	var grant struct {
		Identity    string
		Read, Write bool
	}
	decodeJSON(t, r.stdout, &grant)
	if grant.Identity != "local:bob" || !grant.Read || grant.Write {
		t.Fatalf("topic grant: %s", r.stdout)
	}
	if r := e.ok("", asAlice, "topic", "describe", "events"); !strings.Contains(r.stdout, "local:bob") {
		t.Fatalf("topic describe: no grant shown:\n%s", r.stdout)
	}
	r = e.ok("", nil, "consume", "alice.events", "--key", bobKey, "--group", "readers", "--max", "4")
	if got := sortedLines(r.stdout); got != "one\nthree\ntwo\n{\"n\":1}" {
		t.Fatalf("bob's consume: %q", r.stdout)
	}
	// The group committed what it printed: nothing more to read.
	if r := e.ok("", nil, "consume", "alice.events", "--key", bobKey, "--group", "readers"); r.stdout != "" {
		t.Fatalf("bob's second consume in the group: %q", r.stdout)
	}
	var groups []struct{ Group string }
	decodeJSON(t, e.ok("", asAlice, "topic", "groups", "events", "-o", "json").stdout, &groups)
	if len(groups) != 1 || groups[0].Group != "bob.readers" {
		t.Fatalf("topic groups: %+v", groups)
	}
	if r := e.run("x\n", nil, "produce", "alice.events", "--key", bobKey); r.code != 1 { // read only
		t.Fatalf("bob produced to alice.events: exit %d, stderr %q", r.code, r.stderr)
	}
	e.ok("", asAlice, "topic", "revoke", "events", bob.Identity)
	e.fails(1, "", nil, "consume", "alice.events", "--key", bobKey, "--from", "earliest")

	// --follow waits for records produced after it started.
	e.ok("", asAlice, "topic", "create", "live")
	follow := exec.Command(octopusBinary(t), "consume", "live", "--key", aliceKey, "--follow", "--max", "1", "-o", "json")
	follow.Env = []string{"PATH=" + os.Getenv("PATH"), "GORACE=atexit_sleep_ms=0"}
	var fout, ferr bytes.Buffer
	follow.Stdout, follow.Stderr = &fout, &ferr
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	followed := make(chan error, 1)
	go func() { followed <- follow.Wait() }()
	time.Sleep(500 * time.Millisecond) // let it reach the (empty) end; records after it count too
	e.ok("later\n", nil, "produce", "live", "--key", aliceKey)
	select {
	case err := <-followed:
		var rec struct{ Value string }
		if err != nil || json.Unmarshal(fout.Bytes(), &rec) != nil || rec.Value != "later" {
			t.Fatalf("consume --follow: %v, stdout %q, stderr %q", err, fout.String(), ferr.String())
		}
	case <-time.After(30 * time.Second):
		follow.Process.Kill()
		t.Fatalf("consume --follow --max 1: still running 30s after a produce; stderr %q", ferr.String())
	}

	// Alice revokes her key; it no longer produces.
	e.ok("", asAlice, "key", "revoke", key.ID)
	if r := e.run("x\n", nil, "produce", "events", "--key", aliceKey); r.code != 1 {
		t.Fatalf("produce with a revoked key: exit %d, stderr %q", r.code, r.stderr)
	}

	e.ok("", asAlice, "topic", "delete", "events")
	e.fails(1, "topic_not_found", asAlice, "topic", "describe", "events")

	// Bob logs in by pasting his token on stdin; later commands use it.
	if r := e.ok(bob.Token+"\n", nil, "login", "--server", e.server+"/"); !strings.Contains(r.stdout, "local:bob") {
		t.Fatalf("login from stdin: %q", r.stdout)
	}
	if r := e.ok("", nil, "whoami"); !strings.Contains(r.stdout, "local:bob") {
		t.Fatalf("whoami after bob's login: %q", r.stdout)
	}
}

// sortedLines sorts the lines of s (records of several partitions come in
// no fixed order).
func sortedLines(s string) string {
	ls := strings.Split(strings.TrimSpace(s), "\n")
	for i := range ls {
		for j := i + 1; j < len(ls); j++ {
			if ls[j] < ls[i] {
				ls[i], ls[j] = ls[j], ls[i]
			}
		}
	}
	return strings.Join(ls, "\n")
}

// TestCLIBadInput checks that mistakes end with a clear message and the
// right exit status: 1 for errors (with the API's code), 2 for usage.
func TestCLIBadInput(t *testing.T) {
	e, adminToken := newCLIEnv(t)
	asAdmin := []string{"OCTOPUS_TOKEN=" + adminToken}

	// No token anywhere.
	e.fails(1, "no token for "+e.server, nil, "topic", "list")
	e.fails(1, "octopus login", nil, "key", "list")
	// A bad token: the API's code.
	e.fails(1, "invalid_token", []string{"OCTOPUS_TOKEN=oct_not-a-token"}, "topic", "list")
	e.fails(1, "checking the token", nil, "login", "--token", "oct_not-a-token")
	// Unknown topic, invalid names and values.
	e.fails(1, "topic_not_found", asAdmin, "topic", "describe", "nope")
	e.fails(1, "invalid_name", asAdmin, "topic", "create", "bad/name")
	e.fails(1, "invalid_partitions", asAdmin, "topic", "create", "x", "--partitions", "100000")
	e.fails(1, "", asAdmin, "key", "revoke", "no-such-key")
	// Usage errors: exit 2.
	e.fails(2, "accepts 1 arg", asAdmin, "topic", "create")
	e.fails(2, "unknown flag", asAdmin, "topic", "list", "--nope")
	e.fails(2, "unknown command", asAdmin, "topic", "nope")
	e.fails(2, "-o must be table or json", asAdmin, "topic", "list", "-o", "yaml")
	e.fails(2, "--expires", asAdmin, "key", "create", "--expires", "soon")
	e.fails(2, "--retention", asAdmin, "topic", "create", "x", "--retention", "often")
	e.fails(2, "--read, --write", asAdmin, "topic", "grant", "x", "local:bob")
	e.fails(2, "nothing to change", asAdmin, "topic", "update", "x")
	e.fails(2, "--config", asAdmin, "topic", "create", "x", "--config", "novalue")
	e.fails(2, "no key", nil, "produce", "x")
	e.fails(2, "--from", nil, "consume", "x", "--key", "k.json", "--from", "yesterday")
	// A key file without a secret.
	nokey := filepath.Join(e.dir, "nosecret.json")
	if err := os.WriteFile(nokey, []byte(`{"id":"x","username":"admin.k-x","bootstrap_servers":["127.0.0.1:1"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	e.fails(1, "has no secret", nil, "consume", "x", "--key", nokey)
	// Nothing was created.
	var ts []any
	decodeJSON(t, e.ok("", asAdmin, "topic", "list", "-o", "json").stdout, &ts)
	if len(ts) != 0 {
		t.Fatalf("topics after bad input: %v", ts)
	}
}

// TestCLISASLSSL runs produce and consume against a SASL_SSL listener with
// an automatic CA: the key file names the CA, which the CLI trusts.
func TestCLISASLSSL(t *testing.T) {
	dir := t.TempDir()
	c := startChild(t, dir, "--listener", "SASL_SSL://127.0.0.1:0", "--tls-auto", "--fsync", "never")
	raw, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	e := &cliEnv{t: t, server: "http://" + c.HTTPAddr(), cfg: t.TempDir(), dir: t.TempDir()}
	asAdmin := []string{"OCTOPUS_TOKEN=" + strings.TrimSpace(string(raw))}
	r := e.ok("", asAdmin, "key", "create", "-o", "json")
	var key struct {
		SecurityProtocol string `json:"security_protocol"`
		CACert           string `json:"ca_cert"`
	}
	decodeJSON(t, r.stdout, &key)
	if key.SecurityProtocol != "SASL_SSL" || !strings.Contains(key.CACert, "BEGIN CERTIFICATE") {
		t.Fatalf("key create: %s", r.stdout)
	}
	kf := filepath.Join(e.dir, "key.json")
	if err := os.WriteFile(kf, []byte(r.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	e.ok("", asAdmin, "topic", "create", "secure")
	e.ok("a\nb\n", nil, "produce", "secure", "--key", kf)
	if r := e.ok("", nil, "consume", "secure", "--key", kf); r.stdout != "a\nb\n" {
		t.Fatalf("consume over SASL_SSL: %q", r.stdout)
	}
	// On another machine the server's CA path does not exist: the key's
	// ca_cert is enough.
	var remote map[string]any
	decodeJSON(t, r.stdout, &remote)
	remote["client_settings"].(map[string]any)["librdkafka"].(map[string]any)["ssl.ca.location"] = "/nonexistent/ca.crt"
	rb, _ := json.Marshal(remote)
	kfRemote := filepath.Join(e.dir, "key-remote.json")
	if err := os.WriteFile(kfRemote, rb, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := e.ok("", nil, "consume", "secure", "--key", kfRemote); r.stdout != "a\nb\n" {
		t.Fatalf("consume with the key's ca_cert only: %q", r.stdout)
	}
	// A CA that does not sign the server's certificate: refused.
	other := filepath.Join(e.dir, "other-ca.pem")
	if err := os.WriteFile(other, selfSignedCA(t), 0o600); err != nil {
		t.Fatal(err)
	}
	e.fails(1, "logging in to Kafka", nil, "consume", "secure", "--key", kf, "--ca-file", other)
}

// selfSignedCA returns the PEM of a fresh CA certificate.
func selfSignedCA(t *testing.T) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "other-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
