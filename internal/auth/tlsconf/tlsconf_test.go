package tlsconf

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// serveTLS accepts connections on a loopback port with cfg, completes the
// handshake and writes "ok"; it returns the address.
func serveTLS(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				if c.(*tls.Conn).Handshake() == nil {
					c.Write([]byte("ok"))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// dialTLS connects as a client and reads the server's "ok".
func dialTLS(addr string, cfg *tls.Config) error {
	d := &net.Dialer{Timeout: 10 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		return err
	}
	if string(b) != "ok" {
		return errors.New("server closed without ok")
	}
	return nil
}

func caPool(t *testing.T, path string) *x509.CertPool {
	t.Helper()
	pool, err := LoadCertPool(path)
	if err != nil {
		t.Fatal(err)
	}
	return pool
}

func autoServer(t *testing.T, f AutoFiles, auth ClientAuth, clientCA string) *tls.Config {
	t.Helper()
	cfg, err := Server(ServerConfig{CertFile: f.Cert, KeyFile: f.Key, ClientAuth: auth, ClientCAFile: clientCA})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestAutoChainVerifies(t *testing.T) {
	f, err := Auto(filepath.Join(t.TempDir(), "tls"), []string{"broker.example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if !f.CACreated || !f.Issued {
		t.Fatalf("first call: CACreated=%v Issued=%v, want both", f.CACreated, f.Issued)
	}
	addr := serveTLS(t, autoServer(t, f, ClientAuthNone, ""))
	pool := caPool(t, f.CACert)
	for _, name := range []string{"127.0.0.1", "localhost", "broker.example.org", "::1"} {
		err := dialTLS(addr, &tls.Config{RootCAs: pool, ServerName: name})
		if err != nil {
			t.Errorf("client verifying %s against ca.crt: %v", name, err)
		}
	}
	if err := dialTLS(addr, &tls.Config{RootCAs: pool, ServerName: "other.example.org"}); err == nil {
		t.Error("certificate verified for a name it was not issued for")
	}
	if err := dialTLS(addr, &tls.Config{ServerName: "localhost"}); err == nil {
		t.Error("certificate verified against the system roots")
	}

	ca := readCert(t, f.CACert)
	if k, ok := ca.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		t.Errorf("CA key is %T, want ECDSA P-256", ca.PublicKey)
	}
	if life := ca.NotAfter.Sub(ca.NotBefore); life < CAValidity {
		t.Errorf("CA valid for %v, want at least %v", life, CAValidity)
	}
	leaf := readCert(t, f.Cert)
	if life := leaf.NotAfter.Sub(time.Now()); life < ServerValidity-2*time.Hour || life > ServerValidity {
		t.Errorf("server certificate valid for %v more, want about %v", life, ServerValidity)
	}
}

func TestAutoKeyFileModes(t *testing.T) {
	f, err := Auto(filepath.Join(t.TempDir(), "tls"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{f.CAKey, f.Key} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s mode %o, want 600", filepath.Base(p), m)
		}
	}
	fi, err := os.Stat(filepath.Dir(f.CAKey))
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o700 {
		t.Errorf("tls dir mode %o, want 700", m)
	}
}

func TestAutoReuse(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	first, err := Auto(dir, []string{"a.example"})
	if err != nil {
		t.Fatal(err)
	}
	ca1, cert1 := readFile(t, first.CACert), readFile(t, first.Cert)
	second, err := Auto(dir, []string{"A.example.", "[::1]"}) // same hosts, written differently
	if err != nil {
		t.Fatal(err)
	}
	if second.CACreated || second.Issued {
		t.Errorf("second call: CACreated=%v Issued=%v, want neither", second.CACreated, second.Issued)
	}
	if !bytes.Equal(ca1, readFile(t, second.CACert)) || !bytes.Equal(cert1, readFile(t, second.Cert)) {
		t.Error("second call rewrote the files")
	}
}

func TestAutoReissueForNewHost(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	first, err := Auto(dir, []string{"a.example"})
	if err != nil {
		t.Fatal(err)
	}
	ca1, cert1 := readFile(t, first.CACert), readFile(t, first.Cert)
	second, err := Auto(dir, []string{"a.example", "10.1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	if second.CACreated || !second.Issued {
		t.Errorf("new host: CACreated=%v Issued=%v, want only Issued", second.CACreated, second.Issued)
	}
	if !bytes.Equal(ca1, readFile(t, second.CACert)) {
		t.Error("the CA changed; only the server certificate should")
	}
	if bytes.Equal(cert1, readFile(t, second.Cert)) {
		t.Error("server certificate not re-issued")
	}
	addr := serveTLS(t, autoServer(t, second, ClientAuthNone, ""))
	for _, name := range []string{"10.1.2.3", "a.example", "localhost"} {
		if err := dialTLS(addr, &tls.Config{RootCAs: caPool(t, first.CACert), ServerName: name}); err != nil {
			t.Errorf("%s after re-issue: %v", name, err)
		}
	}
}

func TestAutoReissueNearExpiry(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	now := time.Now()
	first, err := auto(dir, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	ca1 := readFile(t, first.CACert)
	for _, tc := range []struct {
		at      time.Time
		reissue bool
	}{
		{now.Add(ServerValidity - RenewBefore - 24*time.Hour), false},
		{now.Add(ServerValidity - RenewBefore + 24*time.Hour), true},
	} {
		f, err := auto(dir, nil, tc.at)
		if err != nil {
			t.Fatal(err)
		}
		if f.Issued != tc.reissue || f.CACreated {
			t.Errorf("at +%v: Issued=%v CACreated=%v, want Issued=%v", tc.at.Sub(now).Round(time.Hour), f.Issued, f.CACreated, tc.reissue)
		}
	}
	if !bytes.Equal(ca1, readFile(t, first.CACert)) {
		t.Error("the CA changed")
	}
}

func TestAutoRefusesCAWithoutKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	f, err := Auto(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(f.CAKey); err != nil {
		t.Fatal(err)
	}
	if _, err := Auto(dir, nil); err == nil {
		t.Fatal("Auto replaced a CA whose key is missing; clients trusting it would break silently")
	}
}

func TestAutoRejectsBadHost(t *testing.T) {
	if _, err := Auto(filepath.Join(t.TempDir(), "tls"), []string{"bad host!"}); err == nil {
		t.Fatal("accepted an invalid host name")
	}
}

func TestMutualTLSRequired(t *testing.T) {
	f, err := Auto(filepath.Join(t.TempDir(), "tls"), nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, autoServer(t, f, ClientAuthRequired, f.CACert))
	pool := caPool(t, f.CACert)
	if err := dialTLS(addr, &tls.Config{RootCAs: pool, ServerName: "localhost"}); err == nil {
		t.Error("required client auth accepted a client without a certificate")
	}
	client := clientCert(t, f, "alice")
	if err := dialTLS(addr, &tls.Config{RootCAs: pool, ServerName: "localhost", Certificates: []tls.Certificate{client}}); err != nil {
		t.Errorf("client with a CA-signed certificate: %v", err)
	}

	// Requested: a client may come without a certificate, but one it
	// sends must verify.
	addr = serveTLS(t, autoServer(t, f, ClientAuthRequested, f.CACert))
	if err := dialTLS(addr, &tls.Config{RootCAs: pool, ServerName: "localhost"}); err != nil {
		t.Errorf("requested client auth, no certificate: %v", err)
	}
	other, err := Auto(filepath.Join(t.TempDir(), "tls"), nil) // a different CA
	if err != nil {
		t.Fatal(err)
	}
	stranger := clientCert(t, other, "mallory")
	if err := dialTLS(addr, &tls.Config{RootCAs: pool, ServerName: "localhost", Certificates: []tls.Certificate{stranger}}); err == nil {
		t.Error("requested client auth accepted a certificate from another CA")
	}
}

func TestServerConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  ServerConfig
	}{
		{"no cert", ServerConfig{KeyFile: "k"}},
		{"no key", ServerConfig{CertFile: "c"}},
		{"required without CA", ServerConfig{CertFile: "c", KeyFile: "k", ClientAuth: ClientAuthRequired}},
		{"requested without CA", ServerConfig{CertFile: "c", KeyFile: "k", ClientAuth: ClientAuthRequested}},
	} {
		if err := tc.cfg.Validate(); err == nil {
			t.Errorf("%s: valid", tc.name)
		}
	}
	if _, err := Server(ServerConfig{CertFile: "/nonexistent.crt", KeyFile: "/nonexistent.key"}); err == nil {
		t.Error("Server with missing files succeeded")
	}
}

func TestParseClientAuth(t *testing.T) {
	for in, want := range map[string]ClientAuth{"none": ClientAuthNone, "Requested": ClientAuthRequested, "REQUIRED": ClientAuthRequired} {
		got, err := ParseClientAuth(in)
		if err != nil || got != want {
			t.Errorf("ParseClientAuth(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseClientAuth("optional"); err == nil {
		t.Error(`ParseClientAuth("optional") succeeded`)
	}
}

func TestServerReloadsChangedFiles(t *testing.T) {
	dir := t.TempDir()
	f, err := Auto(filepath.Join(dir, "tls"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var reloadErrs []error
	cfg, err := Server(ServerConfig{CertFile: f.Cert, KeyFile: f.Key, ReloadInterval: time.Nanosecond,
		OnReloadError: func(err error) { reloadErrs = append(reloadErrs, err) }})
	if err != nil {
		t.Fatal(err)
	}
	serial := func() string {
		t.Helper()
		c, err := cfg.GetCertificate(&tls.ClientHelloInfo{})
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return leaf.SerialNumber.String()
	}
	before := serial()
	if _, err := Auto(filepath.Join(dir, "tls"), []string{"new.example"}); err != nil {
		t.Fatal(err)
	}
	bumpMtime(t, f.Cert, f.Key)
	if after := serial(); after == before {
		t.Error("certificate not reloaded after its files changed")
	}

	// A broken replacement keeps the current pair and reports once.
	current := serial()
	if err := os.WriteFile(f.Cert, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	bumpMtime(t, f.Cert)
	if got := serial(); got != current {
		t.Error("a broken certificate file replaced the working pair")
	}
	serial()
	if len(reloadErrs) != 1 {
		t.Errorf("%d reload errors reported, want 1", len(reloadErrs))
	}
}

// bumpMtime moves the files' modification times forward, since a rewrite
// within the file system's timestamp granularity may not change them.
func bumpMtime(t *testing.T, paths ...string) {
	t.Helper()
	later := time.Now().Add(time.Minute)
	for _, p := range paths {
		if err := os.Chtimes(p, later, later); err != nil {
			t.Fatal(err)
		}
	}
}

// clientCert issues a client certificate for cn from f's CA.
func clientCert(t *testing.T, f AutoFiles, cn string) tls.Certificate {
	t.Helper()
	caPair, err := tls.LoadX509KeyPair(f.CACert, f.CAKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caPair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := newSerial()
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caPair.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(readFile(t, path))
	if block == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
