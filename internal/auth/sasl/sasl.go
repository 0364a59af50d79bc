// Package sasl implements the server side of the SASL mechanisms Kafka
// clients use: PLAIN (RFC 4616), SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802,
// RFC 7677, as Kafka profiles them) and OAUTHBEARER (RFC 7628, KIP-255) with
// JWT bearer tokens checked against a JWKS.
//
// The package knows nothing about the Kafka wire protocol: the broker's
// SaslHandshake picks a Mechanism by name, calls Start once per connection
// and feeds every SaslAuthenticate payload to Session.Step until it reports
// done or an error. An error is always an *AuthError, whose message is safe
// to send to the client in SASL_AUTHENTICATION_FAILED and to log: it never
// contains a password, proof, key or token.
//
// Sessions are not safe for concurrent use (one connection drives one
// session); mechanisms and the credential store are.
package sasl

import (
	"errors"
	"time"
)

// Mechanism is a server-side SASL mechanism. Name is the IANA/Kafka name
// ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER").
type Mechanism interface {
	Name() string
	Start() Session
}

// Session is one authentication exchange. Step consumes the client's next
// message and returns the server's reply; done is true when the client is
// authenticated, after which Principal and Lifetime are meaningful. A
// non-nil error (always *AuthError) ends the exchange: the broker answers
// SASL_AUTHENTICATION_FAILED with err.Error() and closes the connection.
type Session interface {
	Step(clientMsg []byte) (serverMsg []byte, done bool, err error)
	// Principal is "User:NAME" once done, "" before.
	Principal() string
	// Lifetime is how long the authentication stays valid (KIP-368), 0 for
	// no limit from the mechanism itself.
	Lifetime() time.Duration
}

// Error kinds; test with errors.Is.
var (
	// ErrAuthenticationFailed: bad password, unknown user, invalid token.
	// Unknown user and wrong password are deliberately indistinguishable.
	ErrAuthenticationFailed = errors.New("authentication failed")
	// ErrMalformed: the client message does not parse.
	ErrMalformed = errors.New("malformed SASL message")
	// ErrUnsupported: a well-formed request for something not offered
	// (channel binding, delegation tokens, unknown SCRAM extensions).
	ErrUnsupported = errors.New("unsupported SASL request")
	// ErrSequence: Step called after the exchange ended.
	ErrSequence = errors.New("SASL exchange already finished")
)

// AuthError is the only error type Step returns. Kind is one of the Err*
// values above; Detail is a fixed, secret-free explanation.
type AuthError struct {
	Mechanism string
	Kind      error
	Detail    string
}

func (e *AuthError) Error() string {
	s := e.Mechanism + " " + e.Kind.Error()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *AuthError) Unwrap() error { return e.Kind }

func authErr(mech string, kind error, detail string) *AuthError {
	return &AuthError{Mechanism: mech, Kind: kind, Detail: detail}
}

// UserPrincipal is the Kafka principal for an authenticated user name.
func UserPrincipal(user string) string { return "User:" + user }
