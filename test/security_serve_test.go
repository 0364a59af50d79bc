package test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// serveAdminProps is DATA_DIR/admin.properties as `octopus serve` writes it for
// the first administrator.
type serveAdminProps struct {
	raw      []byte
	props    map[string]string
	user     string
	password string
}

var serveJaasRE = regexp.MustCompile(`ScramLoginModule required username="([^"]+)" password="([^"]+)";$`)

func readServeAdminProps(t *testing.T, dir string) serveAdminProps {
	t.Helper()
	path := filepath.Join(dir, "admin.properties")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("admin.properties: %v", err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("admin.properties mode %o, want 600", m)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p := serveAdminProps{raw: raw, props: map[string]string{}}
	for _, line := range strings.Split(string(raw), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("admin.properties line %q is not key=value", line)
		}
		p.props[k] = v
	}
	m := serveJaasRE.FindStringSubmatch(p.props["sasl.jaas.config"])
	if m == nil {
		t.Fatalf("admin.properties: sasl.jaas.config %q has no SCRAM user and password", p.props["sasl.jaas.config"])
	}
	p.user, p.password = m[1], m[2]
	return p
}

// serveTLSScramOpts are the kgo options of a SCRAM-SHA-512 client over TLS that
// trusts caFile.
func serveTLSScramOpts(t *testing.T, caFile, user, password string) []kgo.Opt {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s: no certificate", caFile)
	}
	return []kgo.Opt{
		kgo.DialTLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}),
		kgo.SASL(scram.Auth{User: user, Pass: password}.AsSha512Mechanism()),
	}
}

// serveRoundTrip produces one record to topic at addr and reads it back.
func serveRoundTrip(t *testing.T, addr, topic string, opts []kgo.Opt) {
	t.Helper()
	recs := makeRecords(topic, 1)
	produceKgo(t, addr, topic, "none", recs, append(opts, kgo.AllowAutoTopicCreation())...)
	cl := newKgo(t, addr, append(opts,
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(500*time.Millisecond),
	)...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consume %s over SASL_SSL: no record after 30s", topic)
		}
		for _, fe := range fs.Errors() {
			t.Fatalf("consume %s over SASL_SSL: partition %d: %v", topic, fe.Partition, fe.Err)
		}
		if got := fs.Records(); len(got) > 0 {
			if !bytes.Equal(got[0].Value, recs[0].Value) {
				t.Fatalf("consumed %.40q, produced %.40q", got[0].Value, recs[0].Value)
			}
			return
		}
	}
}

// TestServeSASLSSLAuto runs `octopus serve --listener SASL_SSL://127.0.0.1:0
// --tls-auto` and uses it as an operator would: trust DATA_DIR/tls/ca.crt,
// log in with the administrator from admin.properties, produce and
// consume. A plaintext client and a wrong password get nowhere, the
// password is never logged, and a restart keeps the CA and the
// administrator.
//
// startChild also passes --kafka-listen 127.0.0.1:0, which next to
// --listener is one more (loopback) PLAINTEXT listener, after SASL_SSL.
func TestServeSASLSSLAuto(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	args := []string{"--listener", "SASL_SSL://127.0.0.1:0", "--tls-auto"}
	c := startChild(t, dir, args...)

	ready := c.logs.Grep(readyRE)
	if len(ready) == 0 || !strings.Contains(ready[0], "listeners=SASL_SSL://"+c.Addr()+",PLAINTEXT://127.0.0.1:") {
		t.Errorf("ready line %q: want kafka= the SASL_SSL listener and listeners=SASL_SSL://%s,PLAINTEXT://…", ready, c.Addr())
	}
	p := readServeAdminProps(t, dir)
	ca, err := filepath.Abs(filepath.Join(dir, "tls", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"bootstrap.servers":       c.Addr(), // port 0: the bound port is advertised
		"security.protocol":       "SASL_SSL",
		"sasl.mechanism":          "SCRAM-SHA-512",
		"ssl.truststore.type":     "PEM",
		"ssl.truststore.location": ca,
	}
	for k, v := range want {
		if p.props[k] != v {
			t.Errorf("admin.properties %s=%q, want %q", k, p.props[k], v)
		}
	}
	if p.user != "admin" || len(p.password) < 40 {
		t.Errorf("admin.properties: user %q with a %d-character password, want admin and a 43-character one", p.user, len(p.password))
	}
	for _, key := range []string{"ca.key", "server.key"} {
		fi, err := os.Stat(filepath.Join(dir, "tls", key))
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("tls/%s mode %o, want 600", key, m)
		}
	}

	serveRoundTrip(t, p.props["bootstrap.servers"], "secure.events", serveTLSScramOpts(t, ca, p.user, p.password))

	t.Run("wrong password", func(t *testing.T) {
		cl := newKgo(t, c.Addr(), serveTLSScramOpts(t, ca, "admin", p.password+"x")...)
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := cl.Ping(ctx); !errors.Is(err, kerr.SaslAuthenticationFailed) {
			t.Errorf("wrong password: %v, want SASL_AUTHENTICATION_FAILED", err)
		}
	})
	t.Run("plaintext client", func(t *testing.T) {
		cl := newKgo(t, c.Addr(), kgo.SASL(scram.Auth{User: p.user, Pass: p.password}.AsSha512Mechanism()))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := cl.Ping(ctx)
		if err == nil || errors.Is(err, kerr.SaslAuthenticationFailed) {
			t.Errorf("client without TLS on the SASL_SSL listener: %v, want the connection closed", err)
		}
	})

	c.Stop()
	if strings.Contains(c.logs.String(), p.password) {
		t.Error("the administrator's password appears in the log")
	}
	caPEM, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}

	// A restart keeps the CA, the credential and admin.properties.
	c2 := startChild(t, dir, args...)
	if p2 := readServeAdminProps(t, dir); !bytes.Equal(p2.raw, p.raw) {
		t.Error("restart rewrote admin.properties although the administrator exists")
	}
	if again, err := os.ReadFile(ca); err != nil || !bytes.Equal(again, caPEM) {
		t.Errorf("restart replaced ca.crt (%v)", err)
	}
	serveRoundTrip(t, c2.Addr(), "secure.events.2", serveTLSScramOpts(t, ca, p.user, p.password))
	c2.Stop()
	if strings.Contains(c2.logs.String(), p.password) {
		t.Error("the administrator's password appears in the log after a restart")
	}
}

// TestServeRefusesInsecure checks that `octopus serve` exits non-zero,
// saying why and what to do, before it touches the data directory.
func TestServeRefusesInsecure(t *testing.T) {
	t.Parallel()
	path := octopusBinary(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"plaintext on every interface", []string{"--listener", "PLAINTEXT://0.0.0.0:0"}, "--allow-insecure"},
		{"kafka-listen on every interface", []string{"--kafka-listen", "0.0.0.0:0"}, "--allow-insecure"},
		{"SSL without client certificates", []string{"--listener", "SSL://0.0.0.0:0", "--tls-auto"}, "--allow-insecure"},
		{"SASL_SSL without a certificate", []string{"--listener", "SASL_SSL://127.0.0.1:0"}, "--tls-auto"},
		{"OAUTHBEARER without a JWKS", []string{"--listener", "SASL_PLAINTEXT://127.0.0.1:0", "--oauth-issuer", "https://id.example"}, "--oauth-jwks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
			defer cancel()
			args := append([]string{"serve", "--data-dir", dir, "--http-listen", "127.0.0.1:0"}, tc.args...)
			out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
			if err == nil {
				t.Fatalf("octopus %s exited 0; output:\n%s", strings.Join(args, " "), out)
			}
			if _, ok := err.(*exec.ExitError); !ok || ctx.Err() != nil {
				t.Fatalf("octopus %s: %v (want a non-zero exit)", strings.Join(args, " "), err)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("octopus %s: output does not mention %s:\n%s", strings.Join(args, " "), tc.want, out)
			}
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("the refused command created the data directory")
			}
		})
	}
}
