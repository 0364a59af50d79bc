package broker

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/octofabric/octopus/internal/auth/sasl"
)

// maxSaslRequestBytes bounds requests on a SASL listener before the client
// has authenticated (Kafka's sasl.server.max.receive.size).
const maxSaslRequestBytes = 512 << 10

const (
	saslHandshakeKey    = 17
	saslAuthenticateKey = 36
)

// saslState is a connection's progress through SaslHandshake and
// SaslAuthenticate. Only the read loop touches it, except done, which the
// handshake timer reads.
type saslState struct {
	stage     saslStage
	mech      string
	sess      sasl.Session
	expires   time.Time // session end (KIP-368); zero for none
	reauthing bool      // an exchange after the first successful one
	raw       bool      // after SaslHandshake v0: tokens without Kafka framing
	failed    bool      // the exchange failed; the connection closes
	done      atomic.Bool
}

type saslStage int8

const (
	saslWantHandshake    saslStage = iota // next: SaslHandshake (or ApiVersions)
	saslWantAuthenticate                  // handshake done, exchange running
	saslAuthenticated
)

// secure runs the TLS handshake of a TLS listener, takes the principal from
// a verified client certificate on SSL listeners, and on SASL listeners
// closes a connection that has not authenticated within the handshake
// timeout.
func (c *conn) secure() error {
	l, sc := c.listener, &c.b.cfg.Security
	if l.Protocol.UsesTLS() {
		tc := tls.Server(c.nc, l.TLS)
		ctx, cancel := context.WithTimeout(c.ctx, sc.HandshakeTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			c.b.metrics.authFailures.WithLabelValues("TLS").Inc()
			return fmt.Errorf("TLS handshake: %w", err)
		}
		c.nc = tc
		if l.Protocol == SSL {
			if p := certPrincipal(tc.ConnectionState()); p != "" {
				c.principal = p
			}
		}
	}
	if l.Protocol.UsesSASL() {
		time.AfterFunc(sc.HandshakeTimeout, func() {
			if !c.sasl.done.Load() {
				c.logger.Info("closing connection", "err", "SASL authentication did not complete in time")
				c.close()
			}
		})
	}
	return nil
}

// certPrincipal is "User:" and the subject's distinguished name of a
// verified client certificate (Kafka's default SSL principal builder), or
// "" without one.
func certPrincipal(st tls.ConnectionState) string {
	if len(st.VerifiedChains) == 0 || len(st.PeerCertificates) == 0 {
		return ""
	}
	return "User:" + st.PeerCertificates[0].Subject.String()
}

// admit decides, before a request is read, whether the connection may send
// it: on a SASL listener only ApiVersions and the SASL requests are allowed
// until authentication completes, and none but those once the session has
// expired (KIP-368). Anything else closes the connection, as in Kafka.
func (c *conn) admit(key int16, size int32) error {
	if !c.listener.Protocol.UsesSASL() {
		return nil
	}
	s := &c.sasl
	switch key {
	case apiVersionsKey, saslHandshakeKey, saslAuthenticateKey:
		if s.stage != saslAuthenticated && size > maxSaslRequestBytes {
			return fmt.Errorf("%d-byte %s request during SASL authentication exceeds %d", size, kmsg.NameForKey(key), maxSaslRequestBytes)
		}
		return nil
	}
	if s.stage != saslAuthenticated {
		return fmt.Errorf("%s request before SASL authentication completed", kmsg.NameForKey(key))
	}
	if !s.expires.IsZero() && time.Now().After(s.expires) {
		return errors.New("SASL session expired without re-authentication")
	}
	return nil
}

// rawSaslToken handles one SASL token sent after a SaslHandshake v0, framed
// only by its size, and answers the same way. A failure cannot be reported
// in this framing: the connection closes after the failure delay, as Kafka
// closes it.
func (c *conn) rawSaslToken(br *bufio.Reader, size int32) error {
	if size < 0 || size > maxSaslRequestBytes {
		return fmt.Errorf("%d-byte SASL token exceeds %d", size, maxSaslRequestBytes)
	}
	tok := make([]byte, size)
	if _, err := io.ReadFull(br, tok); err != nil {
		return err
	}
	s := &c.sasl
	p := &pending{req: &request{c: c, ctx: c.ctx}, done: make(chan struct{})}
	if !c.enqueue(p) {
		return net.ErrClosed
	}
	out, done, err := s.sess.Step(tok)
	if err == nil && done && s.reauthing && s.sess.Principal() != c.principal {
		err = errors.New("re-authentication may not change the principal")
	}
	if err != nil {
		s.failed = true
		c.b.metrics.authFailures.WithLabelValues(s.mech).Inc()
		c.logger.Info("authentication failed", "mechanism", s.mech, "err", err.Error())
		delay := c.b.failures.fail(c.host, time.Now())
		go func() {
			t := time.NewTimer(delay)
			defer t.Stop()
			select {
			case <-t.C:
			case <-c.ctx.Done():
			}
			close(p.done)
		}()
		return nil
	}
	p.raw = out
	if p.raw == nil {
		p.raw = []byte{}
	}
	if done {
		c.authenticated(0)
	}
	close(p.done)
	return nil
}

// authenticated ends a successful exchange: the connection takes the
// session's principal until the session's end, if any.
func (c *conn) authenticated(life time.Duration) time.Duration {
	s := &c.sasl
	if mr := c.b.cfg.Security.MaxReauth; mr > 0 && (life == 0 || mr < life) {
		life = mr
	}
	s.expires = time.Time{}
	if life > 0 {
		s.expires = time.Now().Add(life)
	}
	c.principal = s.sess.Principal()
	c.b.failures.succeed(c.host)
	c.b.metrics.authentications.WithLabelValues(s.mech).Inc()
	s.stage, s.sess, s.reauthing, s.raw = saslAuthenticated, nil, false, false
	s.done.Store(true)
	return life
}
