package ibmsarama

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// scramClient is sarama's SCRAMClient over franz-go's SCRAM-SHA-512 client
// session (pkg/sasl/scram), so that the matrix needs no SCRAM module of
// its own. sarama calls Begin, then Step("") for the client-first message,
// then Step with each server message until Done.
type scramClient struct {
	mech sasl.Mechanism
	sess sasl.Session // nil until the client-first message
	done bool
}

func (c *scramClient) Begin(user, password, authzID string) error {
	if user == "" || password == "" {
		return errors.New("SCRAM needs a user and a password")
	}
	c.mech = scram.Auth{User: user, Pass: password, Zid: authzID}.AsSha512Mechanism()
	return nil
}

func (c *scramClient) Step(challenge string) (string, error) {
	if c.sess == nil {
		sess, first, err := c.mech.Authenticate(context.Background(), "")
		c.sess = sess
		return string(first), err
	}
	done, resp, err := c.sess.Challenge([]byte(challenge))
	c.done = done
	return string(resp), err
}

func (c *scramClient) Done() bool { return c.done }
