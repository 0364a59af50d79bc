package broker

import (
	"errors"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SaslHandshake v0-v1: choose the mechanism. After v1 the exchange runs in
// SaslAuthenticate requests; after v0 (clients before Kafka 1.0) the tokens
// follow as bare size-prefixed frames (conn.rawSaslToken).
func init() { register(saslHandshakeKey, 0, 1, handleSaslHandshake) }

func handleSaslHandshake(b *Broker, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.SASLHandshakeRequest)
	resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
	c := r.c
	if !c.listener.Protocol.UsesSASL() {
		// Kafka answers ILLEGAL_SASL_STATE on a listener without SASL.
		resp.ErrorCode = kerr.IllegalSaslState.Code
		r.closeAfter = true
		return resp, nil
	}
	s := &c.sasl
	if s.stage == saslWantAuthenticate {
		return nil, errors.New("second SaslHandshake before SaslAuthenticate")
	}
	resp.SupportedMechanisms = b.mechNames
	name := strings.ToUpper(req.Mechanism)
	m, ok := b.mechs[name]
	if !ok {
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		r.closeAfter = true
		b.metrics.authFailures.WithLabelValues("unsupported").Inc()
		return resp, nil
	}
	if s.stage == saslAuthenticated {
		if name != s.mech {
			// KIP-368: a re-authentication keeps the mechanism.
			resp.ErrorCode = kerr.IllegalSaslState.Code
			r.closeAfter = true
			return resp, nil
		}
		s.reauthing = true
	}
	s.mech, s.sess, s.stage = name, m.Start(), saslWantAuthenticate
	s.raw = r.version == 0
	return resp, nil
}
