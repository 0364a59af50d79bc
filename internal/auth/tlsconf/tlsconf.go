// Package tlsconf builds the broker's server-side TLS configuration: from an
// operator's certificate and key files (reloaded when they change), with
// optional client-certificate verification, or from a private CA that Auto
// generates and keeps in a directory.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// ClientAuth is how a server asks for client certificates.
type ClientAuth int8

const (
	// ClientAuthNone asks for no certificate.
	ClientAuthNone ClientAuth = iota
	// ClientAuthRequested verifies a certificate if the client sends one
	// (Kafka's ssl.client.auth=requested).
	ClientAuthRequested
	// ClientAuthRequired refuses a client without a certificate the client
	// CA signed (ssl.client.auth=required).
	ClientAuthRequired
)

var clientAuthNames = [...]string{"none", "requested", "required"}

func (a ClientAuth) String() string {
	if a >= 0 && int(a) < len(clientAuthNames) {
		return clientAuthNames[a]
	}
	return fmt.Sprintf("ClientAuth(%d)", a)
}

// ParseClientAuth parses none, requested or required (any case).
func ParseClientAuth(s string) (ClientAuth, error) {
	for i, n := range clientAuthNames {
		if strings.EqualFold(s, n) {
			return ClientAuth(i), nil
		}
	}
	return 0, fmt.Errorf("tlsconf: client auth %q: want none, requested or required", s)
}

func (a ClientAuth) tlsType() tls.ClientAuthType {
	switch a {
	case ClientAuthRequested:
		return tls.VerifyClientCertIfGiven
	case ClientAuthRequired:
		return tls.RequireAndVerifyClientCert
	}
	return tls.NoClientCert
}

// DefaultReloadInterval is how often, at most, the certificate and key
// files are checked for changes.
const DefaultReloadInterval = 5 * time.Second

// ServerConfig names the files of a server TLS configuration.
type ServerConfig struct {
	CertFile string // PEM certificate chain, leaf first; required
	KeyFile  string // PEM private key of the leaf; required
	// ClientCAFile holds the PEM certificates client certificates must
	// chain to; required unless ClientAuth is ClientAuthNone.
	ClientCAFile string
	ClientAuth   ClientAuth
	// ReloadInterval is how often, at most, a handshake checks the
	// modification times of CertFile and KeyFile and reloads the pair when
	// either changed; default DefaultReloadInterval, negative for never.
	ReloadInterval time.Duration
	// OnReloadError is told when changed files fail to load; the previous
	// certificate stays in use. Optional.
	OnReloadError func(error)
}

// Validate reports a configuration that cannot work.
func (c *ServerConfig) Validate() error {
	switch {
	case c.CertFile == "" || c.KeyFile == "":
		return errors.New("tlsconf: a certificate file and a key file are required")
	case c.ClientAuth != ClientAuthNone && c.ClientCAFile == "":
		return fmt.Errorf("tlsconf: client auth %s needs a client CA file", c.ClientAuth)
	case c.ClientAuth < ClientAuthNone || c.ClientAuth > ClientAuthRequired:
		return fmt.Errorf("tlsconf: unknown client auth %d", c.ClientAuth)
	}
	return nil
}

// Server returns a TLS 1.2+ server configuration serving the key pair in
// cfg's files. The files are read now, so a bad file is an error here, not
// at the first handshake.
func Server(cfg ServerConfig) (*tls.Config, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ReloadInterval == 0 {
		cfg.ReloadInterval = DefaultReloadInterval
	}
	r := &reloader{cfg: cfg}
	if err := r.load(); err != nil {
		return nil, err
	}
	tc := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: r.getCertificate,
		ClientAuth:     cfg.ClientAuth.tlsType(),
	}
	if cfg.ClientAuth != ClientAuthNone {
		pool, err := LoadCertPool(cfg.ClientCAFile)
		if err != nil {
			return nil, err
		}
		tc.ClientCAs = pool
	}
	return tc, nil
}

// LoadCertPool reads a PEM file of CA certificates into a pool.
func LoadCertPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tlsconf: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("tlsconf: no PEM certificate in %s", path)
	}
	return pool, nil
}

// reloader holds the current key pair and reloads it when its files change.
type reloader struct {
	cfg ServerConfig

	mu        sync.Mutex // guards the fields below
	cert      *tls.Certificate
	certStamp fileStamp
	keyStamp  fileStamp
	checked   time.Time // last time the files were looked at
}

// fileStamp identifies a version of a file cheaply.
type fileStamp struct {
	mtime time.Time
	size  int64
}

func stamp(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{fi.ModTime(), fi.Size()}, nil
}

// load reads the pair and records the files' stamps; callers other than
// Server hold mu.
func (r *reloader) load() error {
	cs, err := stamp(r.cfg.CertFile)
	if err != nil {
		return fmt.Errorf("tlsconf: certificate: %w", err)
	}
	ks, err := stamp(r.cfg.KeyFile)
	if err != nil {
		return fmt.Errorf("tlsconf: key: %w", err)
	}
	cert, err := tls.LoadX509KeyPair(r.cfg.CertFile, r.cfg.KeyFile)
	if err != nil {
		return fmt.Errorf("tlsconf: loading %s and %s: %w", r.cfg.CertFile, r.cfg.KeyFile, err)
	}
	r.cert, r.certStamp, r.keyStamp, r.checked = &cert, cs, ks, time.Now()
	return nil
}

func (r *reloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cfg.ReloadInterval < 0 || time.Since(r.checked) < r.cfg.ReloadInterval {
		return r.cert, nil
	}
	r.checked = time.Now()
	cs, err1 := stamp(r.cfg.CertFile)
	ks, err2 := stamp(r.cfg.KeyFile)
	if err1 != nil || err2 != nil || (cs == r.certStamp && ks == r.keyStamp) {
		return r.cert, nil // a file briefly missing mid-replacement is not news
	}
	if err := r.load(); err != nil {
		// Keep the old pair; the new files may be half written (a cert
		// replaced before its key). Record the stamps so the error is
		// reported once per change.
		r.certStamp, r.keyStamp = cs, ks
		if r.cfg.OnReloadError != nil {
			r.cfg.OnReloadError(err)
		}
	}
	return r.cert, nil
}
