package broker

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/octofabric/octopus/internal/auth/sasl"
	plog "github.com/octofabric/octopus/internal/log"
)

// syncBuffer is a log sink tests can read while the broker writes.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startSaslBroker runs a broker with one SASL_PLAINTEXT listener and a
// SCRAM credential for each of users (password "<user>-secret").
func startSaslBroker(t *testing.T, mod func(*Config), users ...string) (*Broker, string, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	cfg := Config{
		DataDir:          t.TempDir(),
		AutoCreateTopics: true,
		Fsync:            plog.FsyncNever,
		Logger:           slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Security: SecurityConfig{
			Mechanisms:      []string{"SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"},
			FailedAuthDelay: 10 * time.Millisecond,
		},
	}
	if mod != nil {
		mod(&cfg)
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	for _, u := range users {
		for _, m := range []sasl.ScramMechanism{sasl.ScramSHA256, sasl.ScramSHA512} {
			cred, err := sasl.NewScramCredential(m, u+"-secret", 4096)
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Credentials().Upsert(u, m, cred); err != nil {
				t.Fatal(err)
			}
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go b.ServeListener(ln, Listener{Protocol: SaslPlaintext})
	return b, ln.Addr().String(), logs
}

// rawClient speaks the Kafka protocol on one connection, one request at a
// time, so tests can send what no well-behaved client would.
type rawClient struct {
	t    *testing.T
	nc   net.Conn
	corr int32
}

func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawClient{t: t, nc: nc}
}

// do sends req at version and reads its response; the error is the
// connection's (io.EOF when the broker closed it).
func (c *rawClient) do(req kmsg.Request, version int16) (kmsg.Response, error) {
	req.SetVersion(version)
	c.corr++
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("raw"))
	c.nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.nc.Write(f.AppendRequest(nil, req, c.corr)); err != nil {
		return nil, err
	}
	var size [4]byte
	if _, err := io.ReadFull(c.nc, size[:]); err != nil {
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c.nc, body); err != nil {
		return nil, err
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != c.corr {
		return nil, fmt.Errorf("correlation id %d, want %d", got, c.corr)
	}
	body = body[4:]
	resp := req.ResponseKind()
	resp.SetVersion(version)
	if resp.IsFlexible() && req.Key() != apiVersionsKey {
		body = body[1:] // empty tagged fields of the response header
	}
	return resp, resp.ReadFrom(body)
}

// closed asserts the broker closes the connection without another answer.
func (c *rawClient) closed() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b [1]byte
	if _, err := c.nc.Read(b[:]); !errors.Is(err, io.EOF) {
		c.t.Fatalf("connection still open (read: %v)", err)
	}
}

func (c *rawClient) handshake(mech string) *kmsg.SASLHandshakeResponse {
	c.t.Helper()
	req := kmsg.NewPtrSASLHandshakeRequest()
	req.Mechanism = mech
	resp, err := c.do(req, 1)
	if err != nil {
		c.t.Fatalf("SaslHandshake: %v", err)
	}
	return resp.(*kmsg.SASLHandshakeResponse)
}

func (c *rawClient) authenticate(msg []byte) (*kmsg.SASLAuthenticateResponse, error) {
	req := kmsg.NewPtrSASLAuthenticateRequest()
	req.SASLAuthBytes = msg
	resp, err := c.do(req, 2)
	if err != nil {
		return nil, err
	}
	return resp.(*kmsg.SASLAuthenticateResponse), nil
}

// scramLogin runs a whole SCRAM-SHA-512 exchange with franz-go's client side.
func (c *rawClient) scramLogin(user, pass string) *kmsg.SASLAuthenticateResponse {
	c.t.Helper()
	if r := c.handshake("SCRAM-SHA-512"); r.ErrorCode != 0 {
		c.t.Fatalf("handshake error %d", r.ErrorCode)
	}
	sess, msg, err := scram.Auth{User: user, Pass: pass}.AsSha512Mechanism().Authenticate(context.Background(), "")
	if err != nil {
		c.t.Fatal(err)
	}
	for {
		resp, err := c.authenticate(msg)
		if err != nil {
			c.t.Fatalf("SaslAuthenticate: %v", err)
		}
		if resp.ErrorCode != 0 {
			return resp
		}
		done, next, err := sess.Challenge(resp.SASLAuthBytes)
		if err != nil {
			c.t.Fatal(err)
		}
		if done {
			return resp
		}
		msg = next
	}
}

func metadataReq() kmsg.Request { return kmsg.NewPtrMetadataRequest() }

func TestSaslScramClients(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, addr, logs := startSaslBroker(t, nil, "alice")
	for _, m := range []struct {
		name string
		opt  kgo.Opt
	}{
		{"SCRAM-SHA-512", kgo.SASL(scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha512Mechanism())},
		{"SCRAM-SHA-256", kgo.SASL(scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha256Mechanism())},
	} {
		t.Run(m.name, func(t *testing.T) {
			topic := "t-" + strings.ToLower(m.name)
			cl := newClient(t, addr, m.opt, kgo.DefaultProduceTopic(topic), kgo.ConsumeTopics(topic), kgo.AllowAutoTopicCreation(),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("hello")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			fs := cl.PollFetches(ctx)
			if err := fs.Err(); err != nil {
				t.Fatal(err)
			}
			if fs.NumRecords() != 1 || string(fs.Records()[0].Value) != "hello" {
				t.Fatalf("got %d records", fs.NumRecords())
			}
		})
	}
	if n := testutil.ToFloat64(b.metrics.authentications.WithLabelValues("SCRAM-SHA-512")); n < 1 {
		t.Fatalf("authentications{SCRAM-SHA-512} = %v", n)
	}
	if strings.Contains(logs.String(), "alice-secret") {
		t.Fatal("password in the log")
	}
}

func TestSaslWrongPasswordClosesAfterDelay(t *testing.T) {
	_, addr, logs := startSaslBroker(t, func(c *Config) { c.Security.FailedAuthDelay = 50 * time.Millisecond }, "alice")
	var took []time.Duration
	for i := 0; i < 4; i++ {
		c := dialRaw(t, addr)
		start := time.Now()
		resp := c.scramLogin("alice", "not-the-password")
		took = append(took, time.Since(start))
		if resp.ErrorCode != kerr.SaslAuthenticationFailed.Code || resp.ErrorMessage == nil {
			t.Fatalf("error %d, want SASL_AUTHENTICATION_FAILED with a message", resp.ErrorCode)
		}
		c.closed()
	}
	if took[0] < 50*time.Millisecond || took[3] < 4*took[0] {
		t.Fatalf("failure delays %v: want ≥ 50ms, growing (4th ≥ 4× 1st)", took)
	}
	if strings.Contains(logs.String(), "not-the-password") {
		t.Fatal("password in the log")
	}
	// A success clears the address's record.
	c := dialRaw(t, addr)
	if resp := c.scramLogin("alice", "alice-secret"); resp.ErrorCode != 0 {
		t.Fatalf("error %d", resp.ErrorCode)
	}
}

func TestSaslProtocolViolationsClose(t *testing.T) {
	_, addr, _ := startSaslBroker(t, nil, "alice")
	t.Run("metadata before authentication", func(t *testing.T) {
		c := dialRaw(t, addr)
		if _, err := c.do(kmsg.NewPtrApiVersionsRequest(), 3); err != nil {
			t.Fatalf("ApiVersions before authentication: %v", err)
		}
		if _, err := c.do(metadataReq(), 12); err == nil {
			t.Fatal("Metadata answered before authentication")
		}
		c.closed()
	})
	t.Run("metadata between handshake and authenticate", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.handshake("SCRAM-SHA-512")
		if _, err := c.do(metadataReq(), 12); err == nil {
			t.Fatal("Metadata answered during the exchange")
		}
	})
	t.Run("authenticate without handshake", func(t *testing.T) {
		c := dialRaw(t, addr)
		if _, err := c.authenticate([]byte("n,,n=alice,r=abc")); err == nil {
			t.Fatal("SaslAuthenticate answered without a handshake")
		}
	})
	t.Run("unsupported mechanism", func(t *testing.T) {
		c := dialRaw(t, addr)
		r := c.handshake("GSSAPI")
		if r.ErrorCode != kerr.UnsupportedSaslMechanism.Code {
			t.Fatalf("error %d, want UNSUPPORTED_SASL_MECHANISM", r.ErrorCode)
		}
		if strings.Join(r.SupportedMechanisms, ",") != "SCRAM-SHA-512,SCRAM-SHA-256,PLAIN" {
			t.Fatalf("mechanisms %v", r.SupportedMechanisms)
		}
		c.closed()
	})
	t.Run("oversized authenticate frame", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.handshake("SCRAM-SHA-512")
		if _, err := c.authenticate(make([]byte, maxSaslRequestBytes+1)); err == nil {
			t.Fatal("oversized SaslAuthenticate answered")
		}
	})
	t.Run("garbage bytes", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.handshake("SCRAM-SHA-512")
		resp, err := c.authenticate([]byte("\x00\xff garbage"))
		if err != nil {
			t.Fatal(err)
		}
		if resp.ErrorCode != kerr.SaslAuthenticationFailed.Code {
			t.Fatalf("error %d", resp.ErrorCode)
		}
		c.closed()
	})
	t.Run("plaintext listener refuses handshake", func(t *testing.T) {
		_, paddr := startBroker(t, t.TempDir(), nil)
		c := dialRaw(t, paddr)
		if r := c.handshake("PLAIN"); r.ErrorCode != kerr.IllegalSaslState.Code {
			t.Fatalf("error %d, want ILLEGAL_SASL_STATE", r.ErrorCode)
		}
		c.closed()
	})
}

func TestSaslSessionLifetime(t *testing.T) {
	_, addr, _ := startSaslBroker(t, func(c *Config) { c.Security.MaxReauth = 400 * time.Millisecond }, "alice", "bob")
	t.Run("expired session closes on the next request", func(t *testing.T) {
		c := dialRaw(t, addr)
		resp := c.scramLogin("alice", "alice-secret")
		if resp.ErrorCode != 0 || resp.SessionLifetimeMillis != 400 {
			t.Fatalf("error %d, lifetime %d ms", resp.ErrorCode, resp.SessionLifetimeMillis)
		}
		if _, err := c.do(metadataReq(), 12); err != nil {
			t.Fatalf("Metadata within the session: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
		if _, err := c.do(metadataReq(), 12); err == nil {
			t.Fatal("Metadata answered after the session expired")
		}
	})
	t.Run("re-authentication extends the session", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.scramLogin("alice", "alice-secret")
		time.Sleep(250 * time.Millisecond)
		if resp := c.scramLogin("alice", "alice-secret"); resp.ErrorCode != 0 {
			t.Fatalf("re-authentication error %d", resp.ErrorCode)
		}
		time.Sleep(250 * time.Millisecond)
		if _, err := c.do(metadataReq(), 12); err != nil {
			t.Fatalf("Metadata after re-authentication: %v", err)
		}
	})
	t.Run("re-authentication may not change the principal", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.scramLogin("alice", "alice-secret")
		if resp := c.scramLogin("bob", "bob-secret"); resp.ErrorCode != kerr.SaslAuthenticationFailed.Code {
			t.Fatalf("error %d, want SASL_AUTHENTICATION_FAILED", resp.ErrorCode)
		}
		c.closed()
	})
	t.Run("franz-go re-authenticates by itself", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		b, addr, logs := startSaslBroker(t, func(c *Config) { c.Security.MaxReauth = 400 * time.Millisecond }, "alice")
		cl := newClient(t, addr, kgo.SASL(scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha512Mechanism()),
			kgo.DefaultProduceTopic("reauth"), kgo.AllowAutoTopicCreation())
		for i := 0; i < 6; i++ {
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
				t.Fatalf("produce %d: %v", i, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		// Re-authentication, not reconnection: no session ran out.
		if strings.Contains(logs.String(), "expired") {
			t.Fatalf("a session expired:\n%s", logs)
		}
		if n := testutil.ToFloat64(b.metrics.authentications.WithLabelValues("SCRAM-SHA-512")); n < 3 {
			t.Fatalf("%v authentications in 1.2 s of 400 ms sessions", n)
		}
	})
}

// jwtIssuer signs test tokens with an ES256 key and serves its JWKS.
type jwtIssuer struct {
	key, other *ecdsa.PrivateKey
	jwks       *sasl.JWKS
}

func newJWTIssuer(t *testing.T) *jwtIssuer {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pt, err := key.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	doc, _ := json.Marshal(map[string]any{"keys": []any{map[string]string{
		"kty": "EC", "kid": "k1", "crv": "P-256", "x": b64(pt[1:33]), "y": b64(pt[33:]),
	}}})
	jwks, err := sasl.ParseJWKS(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &jwtIssuer{key: key, other: other, jwks: jwks}
}

func (j *jwtIssuer) token(t *testing.T, claims jwt.MapClaims, key *ecdsa.PrivateKey) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestOAuthBearerOverTheWire(t *testing.T) {
	iss := newJWTIssuer(t)
	_, addr, logs := startSaslBroker(t, func(c *Config) {
		c.Security.Mechanisms = []string{"OAUTHBEARER"}
		c.Security.OAuthBearer = &sasl.OAuthBearerConfig{Issuer: "https://issuer.test", Audience: "octopus", JWKS: iss.jwks}
	})
	now := time.Now()
	claims := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iss": "https://issuer.test", "aud": "octopus", "sub": "carol",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		if mod != nil {
			mod(c)
		}
		return c
	}
	login := func(t *testing.T, token string) (*rawClient, *kmsg.SASLAuthenticateResponse) {
		c := dialRaw(t, addr)
		if r := c.handshake("OAUTHBEARER"); r.ErrorCode != 0 {
			t.Fatalf("handshake error %d", r.ErrorCode)
		}
		_, msg, err := oauth.Auth{Token: token}.AsMechanism().Authenticate(context.Background(), "")
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.authenticate(msg)
		if err != nil {
			t.Fatal(err)
		}
		if resp.ErrorCode == 0 && len(resp.SASLAuthBytes) > 0 {
			// RFC 7628 error challenge: the client answers 0x01, then fails.
			if resp, err = c.authenticate([]byte{1}); err != nil {
				t.Fatal(err)
			}
		}
		return c, resp
	}

	t.Run("valid token; lifetime from exp", func(t *testing.T) {
		c, resp := login(t, iss.token(t, claims(nil), iss.key))
		if resp.ErrorCode != 0 {
			t.Fatalf("error %d: %v", resp.ErrorCode, resp.ErrorMessage)
		}
		if life := time.Duration(resp.SessionLifetimeMillis) * time.Millisecond; life < 59*time.Minute || life > time.Hour {
			t.Fatalf("session lifetime %v, want about 1h", life)
		}
		if _, err := c.do(metadataReq(), 12); err != nil {
			t.Fatal(err)
		}
	})
	unsigned := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, claims(nil))
		s, _ := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		return s
	}
	for _, tc := range []struct {
		name  string
		token string
	}{
		{"expired", iss.token(t, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() }), iss.key)},
		{"wrong key", iss.token(t, claims(nil), iss.other)},
		{"alg none", unsigned()},
		{"wrong audience", iss.token(t, claims(func(c jwt.MapClaims) { c["aud"] = "someone-else" }), iss.key)},
		{"wrong issuer", iss.token(t, claims(func(c jwt.MapClaims) { c["iss"] = "https://evil.test" }), iss.key)},
		{"not a JWT", "abc.def.ghi"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, resp := login(t, tc.token)
			if resp.ErrorCode != kerr.SaslAuthenticationFailed.Code {
				t.Fatalf("error %d, want SASL_AUTHENTICATION_FAILED", resp.ErrorCode)
			}
			c.closed()
			if strings.Contains(logs.String(), tc.token) {
				t.Fatal("token in the log")
			}
		})
	}
}

// rawToken sends a SASL token framed only by its size (after SaslHandshake
// v0) and reads the answer framed the same way.
func (c *rawClient) rawToken(msg []byte) ([]byte, error) {
	c.nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.nc.Write(binary.BigEndian.AppendUint32(nil, uint32(len(msg)))); err != nil {
		return nil, err
	}
	if _, err := c.nc.Write(msg); err != nil {
		return nil, err
	}
	var size [4]byte
	if _, err := io.ReadFull(c.nc, size[:]); err != nil {
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	_, err := io.ReadFull(c.nc, body)
	return body, err
}

func TestSaslHandshakeV0RawTokens(t *testing.T) {
	_, addr, _ := startSaslBroker(t, nil, "alice")
	login := func(t *testing.T, pass string) (*rawClient, error) {
		c := dialRaw(t, addr)
		req := kmsg.NewPtrSASLHandshakeRequest()
		req.Mechanism = "SCRAM-SHA-256"
		resp, err := c.do(req, 0)
		if err != nil || resp.(*kmsg.SASLHandshakeResponse).ErrorCode != 0 {
			t.Fatalf("handshake v0: %v %+v", err, resp)
		}
		sess, msg, err := scram.Auth{User: "alice", Pass: pass}.AsSha256Mechanism().Authenticate(context.Background(), "")
		if err != nil {
			t.Fatal(err)
		}
		for {
			in, err := c.rawToken(msg)
			if err != nil {
				return c, err
			}
			done, next, err := sess.Challenge(in)
			if err != nil {
				t.Fatal(err)
			}
			if done {
				return c, nil
			}
			msg = next
		}
	}
	c, err := login(t, "alice-secret")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.do(metadataReq(), 12); err != nil {
		t.Fatalf("Metadata after a v0 login: %v", err)
	}
	if _, err := login(t, "wrong"); err == nil {
		t.Fatal("wrong password accepted in v0 framing")
	}
}
