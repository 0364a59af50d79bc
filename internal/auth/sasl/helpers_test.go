package sasl

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	kafkasasl "github.com/twmb/franz-go/pkg/sasl"
)

// errClient marks an error raised by the franz-go client, not the server.
var errClient = errors.New("client")

// drive runs a full exchange between a franz-go client mechanism and our
// server mechanism, exactly as the broker's SaslAuthenticate loop will:
// each client message goes to Step, each server reply to Challenge.
func drive(t *testing.T, srv Mechanism, cli kafkasasl.Mechanism) (Session, error) {
	t.Helper()
	if srv.Name() != cli.Name() {
		t.Fatalf("mechanism names differ: server %q, client %q", srv.Name(), cli.Name())
	}
	cs, msg, err := cli.Authenticate(context.Background(), "127.0.0.1:9092")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errClient, err)
	}
	ss := srv.Start()
	for range 10 {
		reply, done, err := ss.Step(msg)
		if err != nil {
			var ae *AuthError
			if !errors.As(err, &ae) {
				t.Fatalf("Step returned %T, want *AuthError", err)
			}
			return ss, err
		}
		cdone, next, cerr := cs.Challenge(reply)
		if cerr != nil {
			return ss, fmt.Errorf("%w: %v", errClient, cerr)
		}
		if done {
			if !cdone {
				t.Fatalf("server done but client not")
			}
			return ss, nil
		}
		if cdone {
			t.Fatalf("client done but server not")
		}
		msg = next
	}
	t.Fatal("exchange did not finish in 10 steps")
	return nil, nil
}

// newStore opens an empty credential store in a temp dir.
func newStore(t *testing.T) *Credentials {
	t.Helper()
	c, err := OpenCredentials(filepath.Join(t.TempDir(), "scram.creds"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// addUser stores a credential for user/password with the minimum
// iterations (keeps tests fast).
func addUser(t *testing.T, c *Credentials, mech ScramMechanism, user, pass string) ScramCredential {
	t.Helper()
	cred, err := NewScramCredential(mech, pass, MinScramIterations)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Upsert(user, mech, cred); err != nil {
		t.Fatal(err)
	}
	return cred
}

func wantKind(t *testing.T, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("error %v, want kind %v", err, kind)
	}
}
