package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExternalKafkaConfig(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.crt")
	os.WriteFile(ca, []byte("not a certificate"), 0o600)
	write := func(body string) string {
		p := filepath.Join(dir, "admin.properties")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	k, err := externalKafka(controlFlags{kafka: "a:9096, b:9096", kafkaCommandConfig: write(
		"# comment\nsecurity.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\n" +
			`sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="p=w";` + "\n")})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(k.Bootstrap, ",") != "a:9096,b:9096" || k.SecurityProtocol != "SASL_PLAINTEXT" ||
		k.Mechanism != "SCRAM-SHA-512" || k.User != "admin" || k.Password != "p=w" || k.TLS != nil {
		t.Fatalf("config %+v", k)
	}
	if _, err := externalKafka(controlFlags{kafka: "a:9096", kafkaCommandConfig: write(
		"security.protocol=SASL_SSL\nssl.truststore.location=" + ca + "\n")}); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("a truststore without a certificate: %v", err)
	}
	if _, err := externalKafka(controlFlags{kafka: "a:9096", kafkaCommandConfig: filepath.Join(dir, "missing")}); err == nil {
		t.Fatal("a missing properties file: no error")
	}
}

// FuzzReadProperties: any file content parses or fails without panicking,
// and every key it returns came from a key=value line.
func FuzzReadProperties(f *testing.F) {
	f.Add([]byte("a=b\n# c\n!d\n\nsasl.jaas.config=x required username=\"u\" password=\"p\";\n"))
	f.Add([]byte("=\n==\nno-equals\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "p.properties")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		props, err := readProperties(p)
		if err != nil {
			return // e.g. a line longer than the scanner's buffer
		}
		for k := range props {
			if strings.ContainsAny(k, "\n") {
				t.Fatalf("key %q spans lines", k)
			}
		}
	})
}

// FuzzCLIParsers runs the command line's small parsers on arbitrary input:
// --from, --expires and durations, --listener and --super-users values.
func FuzzCLIParsers(f *testing.F) {
	for _, s := range []string{"earliest", "latest", "42", "2026-11-25T16:00:00Z", "30d", "90m", "forever",
		"SASL_SSL://0.0.0.0:9093", "PLAINTEXT://[::1]:0", "User:a;User:b,User:c", "", "-1", "1e9d"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		parseFrom(s)
		parseExpiry(s, now)
		parseDuration(s)
		parseListener(s)
		parseSuperUsers([]string{s})
	})
}
