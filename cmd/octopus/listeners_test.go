package main

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/octofabric/octopus/internal/broker"
)

// defaultListen is the --kafka-listen default, as the flag set fills it in.
const defaultListen = "127.0.0.1:9092"

func TestPlanListeners(t *testing.T) {
	type want struct{ name, addr, advertise string }
	for _, tc := range []struct {
		name string
		f    listenerFlags
		want []want
		err  string // substring of the error; "" = success
	}{
		{name: "default", f: listenerFlags{},
			want: []want{{"PLAINTEXT", defaultListen, ""}}},
		{name: "kafka-listen with advertise", f: listenerFlags{kafkaListen: "127.0.0.1:0", kafkaListenSet: true, advertise: "broker.example:9092"},
			want: []want{{"PLAINTEXT", "127.0.0.1:0", "broker.example:9092"}}},
		{name: "listener replaces the default", f: listenerFlags{listeners: []string{"SASL_SSL://0.0.0.0:9093"}},
			want: []want{{"SASL_SSL", "0.0.0.0:9093", ""}}},
		{name: "names are case-insensitive", f: listenerFlags{listeners: []string{"sasl_plaintext://localhost:9094", "Ssl://[::1]:9095"}},
			want: []want{{"SASL_PLAINTEXT", "localhost:9094", ""}, {"SSL", "[::1]:9095", ""}}},
		{name: "explicit kafka-listen is one more PLAINTEXT listener, last",
			f:    listenerFlags{kafkaListen: "127.0.0.1:0", kafkaListenSet: true, listeners: []string{"SASL_SSL://127.0.0.1:0"}},
			want: []want{{"SASL_SSL", "127.0.0.1:0", ""}, {"PLAINTEXT", "127.0.0.1:0", ""}}},
		{name: "empty host", f: listenerFlags{listeners: []string{"SASL_SSL://:9093"}},
			want: []want{{"SASL_SSL", ":9093", ""}}},
		{name: "advertised listeners",
			f: listenerFlags{
				listeners:  []string{"SASL_SSL://0.0.0.0:9093", "SASL_PLAINTEXT://127.0.0.1:9094"},
				advertised: []string{"sasl_ssl://kafka.example.org:9093", "SASL_PLAINTEXT://127.0.0.1:0"},
			},
			want: []want{{"SASL_SSL", "0.0.0.0:9093", "kafka.example.org:9093"}, {"SASL_PLAINTEXT", "127.0.0.1:9094", "127.0.0.1:0"}}},

		{name: "unknown name", f: listenerFlags{listeners: []string{"SASL_SCRAM://127.0.0.1:9092"}}, err: "unknown security protocol"},
		{name: "no scheme", f: listenerFlags{listeners: []string{"127.0.0.1:9092"}}, err: "want NAME://HOST:PORT"},
		{name: "no port", f: listenerFlags{listeners: []string{"SSL://127.0.0.1"}}, err: "missing port"},
		{name: "bad port", f: listenerFlags{listeners: []string{"SSL://127.0.0.1:70000"}}, err: "not a number from 0 to 65535"},
		{name: "name twice", f: listenerFlags{listeners: []string{"SSL://127.0.0.1:1", "ssl://127.0.0.1:2"}}, err: "already given"},
		{name: "PLAINTEXT and kafka-listen",
			f:   listenerFlags{kafkaListen: "127.0.0.1:0", kafkaListenSet: true, listeners: []string{"PLAINTEXT://127.0.0.1:1"}},
			err: "already given by --listener"},
		{name: "advertise without kafka-listen", f: listenerFlags{advertise: "a:1", listeners: []string{"SSL://127.0.0.1:1"}}, err: "--advertised-listener"},
		{name: "advertise unspecified", f: listenerFlags{advertise: "0.0.0.0:9092"}, err: "clients cannot connect"},
		{name: "advertised for no listener", f: listenerFlags{advertised: []string{"SSL://a.example:1"}}, err: "there is no SSL listener"},
		{name: "advertised twice",
			f:   listenerFlags{listeners: []string{"SSL://127.0.0.1:1"}, advertised: []string{"SSL://a.example:1", "SSL://b.example:1"}},
			err: "already given"},
		{name: "advertise and advertised PLAINTEXT",
			f:   listenerFlags{advertise: "a.example:1", advertised: []string{"PLAINTEXT://b.example:1"}},
			err: "already given"},
		{name: "advertised on every interface",
			f:   listenerFlags{listeners: []string{"SSL://127.0.0.1:1"}, advertised: []string{"SSL://[::]:1"}},
			err: "clients cannot connect"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.f.kafkaListen == "" {
				tc.f.kafkaListen = defaultListen
			}
			plans, err := planListeners(tc.f)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(plans) != len(tc.want) {
				t.Fatalf("%d listeners %+v, want %d", len(plans), plans, len(tc.want))
			}
			for i, w := range tc.want {
				if p := plans[i]; p.Name() != w.name || p.Addr != w.addr || p.Advertise != w.advertise {
					t.Errorf("listener %d: %s %s advertise %q; want %s %s advertise %q", i, p.Name(), p.Addr, p.Advertise, w.name, w.addr, w.advertise)
				}
			}
		})
	}
}

func TestCheckExposure(t *testing.T) {
	for _, tc := range []struct {
		listener      string
		mtls, allowed bool
		refused       bool
	}{
		{listener: "PLAINTEXT://127.0.0.1:9092"},
		{listener: "PLAINTEXT://127.9.9.9:9092"},
		{listener: "PLAINTEXT://localhost:9092"},
		{listener: "PLAINTEXT://[::1]:9092"},
		{listener: "PLAINTEXT://[::ffff:127.0.0.1]:9092"},
		{listener: "PLAINTEXT://0.0.0.0:9092", refused: true},
		{listener: "PLAINTEXT://[::]:9092", refused: true},
		{listener: "PLAINTEXT://:9092", refused: true},
		{listener: "PLAINTEXT://10.1.2.3:9092", refused: true},
		{listener: "PLAINTEXT://kafka.example.org:9092", refused: true},
		{listener: "PLAINTEXT://localhost.example.org:9092", refused: true},
		{listener: "PLAINTEXT://0.0.0.0:9092", allowed: true},
		{listener: "SSL://0.0.0.0:9093", refused: true},
		{listener: "SSL://0.0.0.0:9093", mtls: true},
		{listener: "SSL://127.0.0.1:9093"},
		{listener: "SASL_PLAINTEXT://0.0.0.0:9094"},
		{listener: "SASL_SSL://:9095"},
	} {
		plans, err := planListeners(listenerFlags{kafkaListen: defaultListen, listeners: []string{tc.listener}})
		if err != nil {
			t.Fatal(err)
		}
		err = checkExposure(plans, tc.mtls, tc.allowed)
		if (err != nil) != tc.refused {
			t.Errorf("%s (mTLS %v, --allow-insecure %v): %v, want refused=%v", tc.listener, tc.mtls, tc.allowed, err, tc.refused)
		}
		if err != nil && !strings.Contains(err.Error(), "--allow-insecure") {
			t.Errorf("%s: refusal %q does not say how to override", tc.listener, err)
		}
	}
}

func TestAdvertisedAddr(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Skip("no host name:", err)
	}
	bound := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 45678}
	for _, tc := range []struct {
		plan listenerPlan
		want string
	}{
		{listenerPlan{Addr: "127.0.0.1:0"}, "127.0.0.1:45678"},
		{listenerPlan{Addr: "localhost:0"}, "localhost:45678"},
		{listenerPlan{Addr: "[::1]:0"}, "[::1]:45678"},
		{listenerPlan{Addr: "0.0.0.0:0"}, net.JoinHostPort(host, "45678")},
		{listenerPlan{Addr: ":0"}, net.JoinHostPort(host, "45678")},
		{listenerPlan{Addr: "0.0.0.0:0", Advertise: "kafka.example.org:0"}, "kafka.example.org:45678"},
		{listenerPlan{Addr: "0.0.0.0:0", Advertise: "kafka.example.org:443"}, "kafka.example.org:443"},
	} {
		got, err := advertisedAddr(tc.plan, bound)
		if err != nil || got != tc.want {
			t.Errorf("advertisedAddr(%+v) = %q, %v; want %q", tc.plan, got, err, tc.want)
		}
	}
}

func TestTLSHosts(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Skip("no host name:", err)
	}
	plans := []listenerPlan{
		{Protocol: broker.SaslSSL, Addr: "0.0.0.0:9093", Advertise: "kafka.example.org:9093"},
		{Protocol: broker.SSL, Addr: "10.0.0.5:9095"},
		{Protocol: broker.SaslPlaintext, Addr: "192.168.1.1:9094"}, // no TLS: not in the certificate
	}
	got := strings.Join(tlsHosts(plans), ",")
	if want := host + ",kafka.example.org,10.0.0.5"; got != want {
		t.Errorf("tlsHosts = %s, want %s", got, want)
	}
}

// TestServeCommandRefuses runs the serve command's flag parsing: refusals
// come before the data directory is touched.
func TestServeCommandRefuses(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--listener", "PLAINTEXT://0.0.0.0:0"}, "--allow-insecure"},
		{[]string{"--kafka-listen", "0.0.0.0:9092"}, "--allow-insecure"},
		{[]string{"--kafka-listen", "127.0.0.1:0", "--listener", "plaintext://127.0.0.1:0"}, "already given"},
		{[]string{"--listener", "SASL_SSL://127.0.0.1:0"}, "--tls-auto"},
		{[]string{"--listener", "SSL://0.0.0.0:0", "--tls-auto"}, "--allow-insecure"},
		{[]string{"--tls-auto"}, "no SSL or SASL_SSL listener"},
		{[]string{"--listener", "SASL_PLAINTEXT://127.0.0.1:0", "--sasl-mechanisms", "GSSAPI"}, "unknown mechanism"},
		{[]string{"--listener", "SASL_PLAINTEXT://127.0.0.1:0", "--super-users", "admin"}, "want User:NAME"},
		{[]string{"--listener", "SASL_PLAINTEXT://127.0.0.1:0", "--max-reauth", "-1s"}, "negative"},
	} {
		dir := t.TempDir() + "/data"
		cmd := newServeCmd()
		cmd.SetArgs(append([]string{"--data-dir", dir, "--http-listen", "127.0.0.1:0"}, tc.args...))
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // were the flags accepted, serve would stop at once instead of hanging the test
		err := cmd.ExecuteContext(ctx)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("serve %s: %v, want an error containing %q", strings.Join(tc.args, " "), err, tc.want)
		}
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("serve %s: created the data directory before refusing", strings.Join(tc.args, " "))
		}
	}
}
