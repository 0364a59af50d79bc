package kafkago

import (
	"context"

	"github.com/segmentio/kafka-go/sasl"
	kgosasl "github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// scramMechanism is kafka-go's sasl.Mechanism for SCRAM-SHA-512 over
// franz-go's client session (pkg/sasl/scram). kafka-go's own sasl/scram
// package would add github.com/xdg-go/scram (and its stringprep and pbkdf2
// modules) to go.mod for the same exchange.
type scramMechanism struct{ auth scram.Auth }

func (m scramMechanism) Name() string { return "SCRAM-SHA-512" }

func (m scramMechanism) Start(ctx context.Context) (sasl.StateMachine, []byte, error) {
	sess, first, err := m.auth.AsSha512Mechanism().Authenticate(ctx, "")
	if err != nil {
		return nil, nil, err
	}
	return scramSession{sess}, first, nil
}

// scramSession answers the server-first message with the client-final one
// and verifies the server-final message.
type scramSession struct{ sess kgosasl.Session }

func (s scramSession) Next(_ context.Context, challenge []byte) (bool, []byte, error) {
	return s.sess.Challenge(challenge)
}
