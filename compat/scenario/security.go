package scenario

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// The security protocols and the SASL mechanism the scenario runs with
// (COMPAT_SECURITY_PROTOCOL, COMPAT_SASL_MECHANISM).
const (
	Plaintext   = "PLAINTEXT"
	SASLSSL     = "SASL_SSL"
	ScramSHA512 = "SCRAM-SHA-512"
)

// Security is how a client connects: PLAINTEXT, or SASL_SSL with a SCRAM
// user and the PEM CA that signed the broker's certificate. Its fields are
// the COMPAT_SECURITY_PROTOCOL, COMPAT_SASL_* and COMPAT_SSL_CA variables
// of the non-Go programs.
type Security struct {
	Protocol  string // PLAINTEXT ("" is PLAINTEXT) or SASL_SSL
	Mechanism string // SCRAM-SHA-512 ("" is SCRAM-SHA-512 under SASL_SSL)
	Username  string
	Password  string
	CAFile    string // PEM file of the CA to trust
}

// Secure reports whether the client must use TLS and SASL.
func (s Security) Secure() bool { return s.Protocol == SASLSSL }

// String is the mode as the matrix names it, e.g. "SASL_SSL SCRAM-SHA-512".
func (s Security) String() string {
	if !s.Secure() {
		return Plaintext
	}
	return s.Protocol + " " + s.Mechanism
}

// Validate fills in the defaults and checks that the scenario supports the
// combination.
func (s *Security) Validate() error {
	if s.Protocol == "" {
		s.Protocol = Plaintext
	}
	switch s.Protocol {
	case Plaintext:
		return nil
	case SASLSSL:
	default:
		return fmt.Errorf("security protocol %q: the scenario supports %s and %s", s.Protocol, Plaintext, SASLSSL)
	}
	if s.Mechanism == "" {
		s.Mechanism = ScramSHA512
	}
	if s.Mechanism != ScramSHA512 {
		return fmt.Errorf("SASL mechanism %q: the scenario supports %s", s.Mechanism, ScramSHA512)
	}
	if s.Username == "" || s.Password == "" || s.CAFile == "" {
		return fmt.Errorf("%s needs a SASL username, password and CA file", SASLSSL)
	}
	return nil
}

// TLSConfig trusts CAFile; nil for PLAINTEXT.
func (s Security) TLSConfig() (*tls.Config, error) {
	if !s.Secure() {
		return nil, nil
	}
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		return nil, fmt.Errorf("CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s: no PEM certificate", s.CAFile)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// Scram is franz-go's SCRAM-SHA-512 client for the user; the sarama and
// kafka-go programs adapt its sessions to their own SASL interfaces.
func (s Security) Scram() scram.Auth { return scram.Auth{User: s.Username, Pass: s.Password} }

// KgoOpts are franz-go's options for the security mode: a TLS dialer and
// SCRAM-SHA-512.
func (s Security) KgoOpts() ([]kgo.Opt, error) {
	if !s.Secure() {
		return nil, nil
	}
	tc, err := s.TLSConfig()
	if err != nil {
		return nil, err
	}
	return []kgo.Opt{kgo.DialTLSConfig(tc), kgo.SASL(s.Scram().AsSha512Mechanism())}, nil
}

// Env is the security mode as COMPAT_* variables for a client program.
func (s Security) Env() []string {
	if !s.Secure() {
		return []string{"COMPAT_SECURITY_PROTOCOL=" + Plaintext}
	}
	return []string{
		"COMPAT_SECURITY_PROTOCOL=" + s.Protocol,
		"COMPAT_SASL_MECHANISM=" + s.Mechanism,
		"COMPAT_SASL_USERNAME=" + s.Username,
		"COMPAT_SASL_PASSWORD=" + s.Password,
		"COMPAT_SSL_CA=" + s.CAFile,
	}
}
