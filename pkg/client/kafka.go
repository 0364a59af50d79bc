package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// KafkaClient returns a franz-go client that logs in with key: its
// bootstrap servers, SCRAM-SHA-512 and, when its security protocol is
// SASL_SSL, TLS, trusting the key's ca_cert if it has one, else the CA file
// named by its client settings (librdkafka's ssl.ca.location) if any, else
// the system's roots. opts
// come after these and so override them (e.g. kgo.DialTLSConfig).
func KafkaClient(key NewKey, opts ...kgo.Opt) (*kgo.Client, error) {
	if len(key.BootstrapServers) == 0 {
		return nil, errors.New("octopus client: the key has no bootstrap servers")
	}
	if key.Username == "" || key.Secret == "" {
		return nil, errors.New("octopus client: the key has no username or secret (secrets are shown only when a key is created)")
	}
	if m := key.SASLMechanism; m != "" && m != "SCRAM-SHA-512" {
		return nil, fmt.Errorf("octopus client: unsupported SASL mechanism %q", m)
	}
	base := []kgo.Opt{
		kgo.SeedBrokers(key.BootstrapServers...),
		kgo.SASL(scram.Auth{User: key.Username, Pass: key.Secret}.AsSha512Mechanism()),
	}
	switch key.SecurityProtocol {
	case "", "SASL_PLAINTEXT":
	case "SASL_SSL":
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if key.CACert != "" {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM([]byte(key.CACert)) {
				return nil, errors.New("octopus client: the key's ca_cert holds no PEM certificate")
			}
			cfg.RootCAs = pool
		} else if s := key.ClientSettings; s != nil && s.Librdkafka["ssl.ca.location"] != "" {
			ca := s.Librdkafka["ssl.ca.location"]
			pem, err := os.ReadFile(ca)
			if err != nil {
				return nil, fmt.Errorf("octopus client: the key's CA: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("octopus client: no PEM certificate in %s", ca)
			}
			cfg.RootCAs = pool
		}
		base = append(base, kgo.DialTLSConfig(cfg))
	default:
		return nil, fmt.Errorf("octopus client: unsupported security protocol %q", key.SecurityProtocol)
	}
	return kgo.NewClient(append(base, opts...)...)
}
