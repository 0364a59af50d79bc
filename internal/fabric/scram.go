package fabric

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/sasl"
)

// saltedKey is a SCRAM-SHA-512 credential as the control plane knows it:
// the salt and the salted password (PBKDF2 of the secret), enough both to
// set the credential with AlterUserScramCredentials and to log in with it.
// The control plane salts each secret once; its own login probe then
// needs no second PBKDF2 (half of a key call's CPU before).
type saltedKey struct {
	salt, salted []byte
}

// saltSecret derives the salted key of a secret with a new random salt.
func saltSecret(secret string) (saltedKey, error) {
	salt := make([]byte, 32)
	rand.Read(salt)
	salted, err := pbkdf2.Key(sha512.New, secret, salt, scramIterations, sha512.Size)
	if err != nil {
		return saltedKey{}, err
	}
	return saltedKey{salt: salt, salted: salted}, nil
}

// randomSaltedKey is a credential no one knows a password for: revoking a
// key first replaces its credential by one, proving the old secret refused.
func randomSaltedKey() saltedKey {
	k := saltedKey{salt: make([]byte, 32), salted: make([]byte, sha512.Size)}
	rand.Read(k.salt)
	rand.Read(k.salted)
	return k
}

// saltedScram is a SCRAM-SHA-512 client (RFC 5802, as Kafka speaks it)
// that logs in from a salted key instead of a password.
type saltedScram struct {
	user string
	key  saltedKey
}

func (saltedScram) Name() string { return "SCRAM-SHA-512" }

func (m saltedScram) Authenticate(context.Context, string) (sasl.Session, []byte, error) {
	nonce := make([]byte, 24)
	rand.Read(nonce)
	s := &scramSession{m: m, nonce: base64.RawStdEncoding.EncodeToString(nonce)}
	user := strings.NewReplacer("=", "=3D", ",", "=2C").Replace(m.user)
	s.clientFirstBare = "n=" + user + ",r=" + s.nonce
	return s, []byte("n,," + s.clientFirstBare), nil
}

type scramSession struct {
	m               saltedScram
	nonce           string
	clientFirstBare string
	serverSig       []byte // set after the client's final message
}

func (s *scramSession) Challenge(msg []byte) (bool, []byte, error) {
	if s.serverSig != nil {
		v, ok := strings.CutPrefix(string(msg), "v=")
		if !ok {
			return false, nil, fmt.Errorf("scram: unexpected server final message %q", msg)
		}
		sig, err := base64.StdEncoding.DecodeString(v)
		if err != nil || !hmac.Equal(sig, s.serverSig) {
			return false, nil, errors.New("scram: the server's signature does not verify")
		}
		return true, nil, nil
	}
	var nonce, salt, iters string
	for _, attr := range strings.Split(string(msg), ",") {
		k, v, _ := strings.Cut(attr, "=")
		switch k {
		case "r":
			nonce = v
		case "s":
			salt = v
		case "i":
			iters = v
		}
	}
	if !strings.HasPrefix(nonce, s.nonce) || len(nonce) == len(s.nonce) {
		return false, nil, errors.New("scram: the server's nonce does not extend ours")
	}
	// The credential was set with this salt and count; another one means
	// the event plane holds another credential for the user, which a
	// salted key cannot answer (and which fails the probe, as it should).
	gotSalt, err := base64.StdEncoding.DecodeString(salt)
	if err != nil || !bytes.Equal(gotSalt, s.m.key.salt) || iters != strconv.Itoa(scramIterations) {
		return false, nil, errors.New("scram: the server holds another credential for the user")
	}
	final := "c=biws,r=" + nonce
	auth := []byte(s.clientFirstBare + "," + string(msg) + "," + final)
	clientKey := hmacSHA512(s.m.key.salted, []byte("Client Key"))
	stored := sha512.Sum512(clientKey)
	proof := hmacSHA512(stored[:], auth)
	subtle.XORBytes(proof, proof, clientKey)
	s.serverSig = hmacSHA512(hmacSHA512(s.m.key.salted, []byte("Server Key")), auth)
	return false, []byte(final + ",p=" + base64.StdEncoding.EncodeToString(proof)), nil
}

func hmacSHA512(key, msg []byte) []byte {
	h := hmac.New(sha512.New, key)
	h.Write(msg)
	return h.Sum(nil)
}
