package broker

import (
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SaslAuthenticate v0-v2: one step of the exchange the handshake chose. On
// success the connection takes the session's principal; v1+ tells the
// client how long the session lasts (KIP-368). A failure answers
// SASL_AUTHENTICATION_FAILED after a delay that grows with repeated failures
// from the same address, then closes the connection.
func init() { register(saslAuthenticateKey, 0, 2, handleSaslAuthenticate) }

func handleSaslAuthenticate(b *Broker, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.SASLAuthenticateRequest)
	resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	c := r.c
	s := &c.sasl
	if !c.listener.Protocol.UsesSASL() || s.stage != saslWantAuthenticate {
		return nil, errors.New("SaslAuthenticate without a SaslHandshake")
	}
	out, done, err := s.sess.Step(req.SASLAuthBytes)
	if err == nil && done && s.reauthing && s.sess.Principal() != c.principal {
		err = errors.New("re-authentication may not change the principal")
	}
	if err != nil {
		return b.failAuthentication(r, resp, err.Error())
	}
	resp.SASLAuthBytes = out
	if !done {
		return resp, nil
	}
	if life := c.authenticated(s.sess.Lifetime()); life > 0 {
		resp.SessionLifetimeMillis = life.Milliseconds()
	}
	return resp, nil
}

// failAuthentication answers a failed exchange after the address's failure
// delay and closes the connection. msg is an sasl.AuthError's text, which
// never holds a secret.
func (b *Broker) failAuthentication(r *request, resp *kmsg.SASLAuthenticateResponse, msg string) (kmsg.Response, error) {
	c := r.c
	resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
	resp.ErrorMessage = &msg
	r.closeAfter = true
	b.metrics.authFailures.WithLabelValues(c.sasl.mech).Inc()
	c.logger.Info("authentication failed", "mechanism", c.sasl.mech, "err", msg)
	delay := b.failures.fail(c.host, time.Now())
	return r.later(func() (kmsg.Response, error) {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.ctx.Done():
		}
		return resp, nil
	})
}
