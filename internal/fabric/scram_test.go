package fabric

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/sasl/scram"

	osasl "github.com/octofabric/octopus/internal/auth/sasl"
)

type oneCred struct {
	user string
	cred osasl.ScramCredential
}

func (o oneCred) Lookup(user string, mech osasl.ScramMechanism) (osasl.ScramCredential, bool) {
	return o.cred, user == o.user && mech == osasl.ScramSHA512
}

// exchange runs a client session against the broker's SCRAM server.
func exchange(t *testing.T, server osasl.Mechanism, first []byte, challenge func([]byte) (bool, []byte, error)) error {
	t.Helper()
	s := server.Start()
	msg := first
	for range 4 {
		reply, done, err := s.Step(msg)
		if err != nil {
			return err
		}
		cdone, next, err := challenge(reply)
		if err != nil {
			return err
		}
		if done && cdone {
			return nil
		}
		msg = next
	}
	t.Fatal("SCRAM exchange did not finish")
	return nil
}

// TestSaltedScram checks the control plane's salted-key SCRAM client
// against the broker's server: the key it salted logs in, as does a
// password client with the secret; a credential with another salt, or
// another salted password, is refused.
func TestSaltedScram(t *testing.T) {
	secret := newSecret()
	sk, err := saltSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := osasl.ScramCredentialFromSaltedPassword(osasl.ScramSHA512, sk.salt, sk.salted, scramIterations)
	if err != nil {
		t.Fatal(err)
	}
	server, err := osasl.NewScram(osasl.ScramSHA512, oneCred{user: "ns.k-x=y,z", cred: cred})
	if err != nil {
		t.Fatal(err)
	}
	login := func(m saltedScram) error {
		sess, first, err := m.Authenticate(context.Background(), "")
		if err != nil {
			return err
		}
		return exchange(t, server, first, sess.Challenge)
	}
	if err := login(saltedScram{user: "ns.k-x=y,z", key: sk}); err != nil {
		t.Fatalf("salted key: %v", err)
	}
	pw := scram.Auth{User: "ns.k-x=y,z", Pass: secret}.AsSha512Mechanism()
	sess, first, err := pw.Authenticate(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := exchange(t, server, first, sess.Challenge); err != nil {
		t.Fatalf("password client with the secret: %v", err)
	}
	if err := login(saltedScram{user: "ns.k-x=y,z", key: randomSaltedKey()}); err == nil {
		t.Fatal("a key with another salt logged in")
	}
	other := sk
	other.salted = randomSaltedKey().salted
	if err := login(saltedScram{user: "ns.k-x=y,z", key: other}); err == nil {
		t.Fatal("a key with another salted password logged in")
	}
}
