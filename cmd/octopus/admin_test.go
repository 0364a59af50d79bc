package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/octofabric/octopus/internal/auth/sasl"
	"github.com/octofabric/octopus/internal/auth/tlsconf"
	"github.com/octofabric/octopus/internal/broker"
)

var passwordRE = regexp.MustCompile(`username="admin" password="([A-Za-z0-9_-]+)";`)

func openCreds(t *testing.T, dir string) *sasl.Credentials {
	t.Helper()
	creds, err := sasl.OpenCredentials(filepath.Join(dir, "scram-credentials"))
	if err != nil {
		t.Fatal(err)
	}
	return creds
}

// plainLogin checks a password against the store as the PLAIN mechanism
// does, which verifies it against the SCRAM credential.
func plainLogin(store sasl.ScramStore, user, password string) bool {
	_, done, err := sasl.NewPlain(store).Start().Step([]byte("\x00" + user + "\x00" + password))
	return done && err == nil
}

func TestEnsureAdmin(t *testing.T) {
	dir := t.TempDir()
	creds := openCreds(t, dir)
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	target := adminTarget{Protocol: broker.SaslSSL, Bootstrap: "127.0.0.1:9093", Mechanism: "SCRAM-SHA-512", TrustStore: "/data/tls/ca.crt"}
	path, err := ensureAdmin(creds, dir, target, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, AdminPropertiesName); path != want {
		t.Errorf("path %s, want %s", path, want)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("mode %o, want 600", m)
	}
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := passwordRE.FindSubmatch(content)
	if m == nil {
		t.Fatalf("no password in:\n%s", content)
	}
	password := string(m[1])
	if len(password) != 43 { // 32 bytes, base64url without padding
		t.Errorf("password of %d characters, want 43", len(password))
	}
	want := strings.Join([]string{
		"# Octopus administrator (User:admin), created 2026-11-25T12:00:00Z",
		"# Client settings for Kafka's Java tools (--command-config); keep this file secret.",
		"bootstrap.servers=127.0.0.1:9093",
		"security.protocol=SASL_SSL",
		"sasl.mechanism=SCRAM-SHA-512",
		`sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="` + password + `";`,
		"ssl.truststore.type=PEM",
		"ssl.truststore.location=/data/tls/ca.crt",
		"",
	}, "\n")
	if string(content) != want {
		t.Errorf("admin.properties:\n%s\nwant:\n%s", content, want)
	}
	cred, ok := creds.Lookup("admin", sasl.ScramSHA512)
	if !ok {
		t.Fatal("no SCRAM-SHA-512 credential for admin")
	}
	if cred.Iterations != adminIterations {
		t.Errorf("%d iterations, want %d", cred.Iterations, adminIterations)
	}
	if !plainLogin(openCreds(t, dir), "admin", password) { // reopened: the credential is on disk
		t.Error("the password in admin.properties does not match the stored credential")
	}

	// The credential exists: nothing is written, the file is kept.
	again, err := ensureAdmin(creds, dir, adminTarget{Protocol: broker.SaslPlaintext, Bootstrap: "x:1", Mechanism: "SCRAM-SHA-512"}, now.Add(time.Hour))
	if err != nil || again != "" {
		t.Errorf("second ensureAdmin = %q, %v; want nothing done", again, err)
	}
	if now, _ := os.ReadFile(path); !bytes.Equal(now, content) {
		t.Error("admin.properties rewritten although the credential exists")
	}
}

// TestEnsureAdminReplacesStaleFile: a file without its credential (a crash
// between the two writes, or a deleted credential) is replaced.
func TestEnsureAdminReplacesStaleFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, AdminPropertiesName)
	if err := os.WriteFile(path, []byte("password=\"stale\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	creds := openCreds(t, dir)
	if _, err := ensureAdmin(creds, dir, adminTarget{Protocol: broker.SaslPlaintext, Bootstrap: "127.0.0.1:9094", Mechanism: "SCRAM-SHA-512"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	content, _ := os.ReadFile(path)
	m := passwordRE.FindSubmatch(content)
	if m == nil || !plainLogin(creds, "admin", string(m[1])) {
		t.Fatalf("stale admin.properties not replaced by a working one:\n%s", content)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %o, want 600", fi.Mode().Perm())
	}
	if strings.Contains(string(content), "truststore") && !strings.Contains(string(content), "# ssl.truststore") {
		t.Errorf("SASL_PLAINTEXT file names a truststore:\n%s", content)
	}
}

func TestFirstAdmin(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	listener := func(p broker.SecurityProtocol, adv string) boundListener {
		return boundListener{cfg: broker.Listener{Name: p.String(), Protocol: p, Advertise: adv}}
	}
	auto := &tlsconf.AutoFiles{CACert: "/data/tls/ca.crt"}
	for _, tc := range []struct {
		name  string
		mechs []string
		bound []boundListener
		want  string // expected lines in the file; "" = no file
	}{
		{"no SASL listener", []string{"SCRAM-SHA-512"}, []boundListener{listener(broker.Plaintext, "127.0.0.1:1"), listener(broker.SSL, "127.0.0.1:2")}, ""},
		{"first SASL listener", []string{"SCRAM-SHA-512"},
			[]boundListener{listener(broker.Plaintext, "127.0.0.1:1"), listener(broker.SaslSSL, "kafka.example:9093"), listener(broker.SaslPlaintext, "127.0.0.1:3")},
			"bootstrap.servers=kafka.example:9093\nsecurity.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n"},
		{"PLAIN only", []string{"PLAIN"}, []boundListener{listener(broker.SaslPlaintext, "127.0.0.1:3")},
			"sasl.mechanism=PLAIN\nsasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required"},
		{"OAUTHBEARER only", []string{"OAUTHBEARER"}, []boundListener{listener(broker.SaslPlaintext, "127.0.0.1:3")}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			sp := securityPlan{}
			sp.Config.Mechanisms = tc.mechs
			logs.Reset()
			if err := firstAdmin(openCreds(t, dir), dir, sp, tc.bound, auto, logger); err != nil {
				t.Fatal(err)
			}
			content, err := os.ReadFile(filepath.Join(dir, AdminPropertiesName))
			if tc.want == "" {
				if err == nil {
					t.Errorf("admin.properties written:\n%s", content)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(content), tc.want) {
				t.Errorf("admin.properties:\n%s\nwant it to contain:\n%s", content, tc.want)
			}
			if strings.Contains(string(content), "security.protocol=SASL_SSL") != strings.Contains(string(content), "ssl.truststore.location=/data/tls/ca.crt") {
				t.Errorf("truststore wanted exactly with SASL_SSL and --tls-auto:\n%s", content)
			}
			m := passwordRE.FindSubmatch(content)
			if m == nil {
				t.Fatalf("no password in:\n%s", content)
			}
			if strings.Contains(logs.String(), string(m[1])) {
				t.Error("the password was logged")
			}
			if !strings.Contains(logs.String(), AdminPropertiesName) {
				t.Errorf("the file's location was not logged:\n%s", logs.String())
			}
		})
	}
}
