package sasl

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
)

// ScramMechanism identifies a SCRAM hash. The values are Kafka's
// (AlterUserScramCredentials / DescribeUserScramCredentials mechanism field).
type ScramMechanism int8

const (
	ScramSHA256 ScramMechanism = 1
	ScramSHA512 ScramMechanism = 2
)

// Iteration bounds Kafka enforces for SCRAM credentials
// (ScramMechanism.minIterations / maxIterations).
const (
	MinScramIterations = 4096
	MaxScramIterations = 16384
	// DefaultScramIterations is what NewScramCredential callers normally use.
	DefaultScramIterations = 8192
)

// String is the SASL mechanism name.
func (m ScramMechanism) String() string {
	switch m {
	case ScramSHA256:
		return "SCRAM-SHA-256"
	case ScramSHA512:
		return "SCRAM-SHA-512"
	}
	return fmt.Sprintf("SCRAM-UNKNOWN(%d)", int8(m))
}

// ParseScramMechanism maps a SASL mechanism name to its ScramMechanism.
func ParseScramMechanism(name string) (ScramMechanism, bool) {
	switch name {
	case "SCRAM-SHA-256":
		return ScramSHA256, true
	case "SCRAM-SHA-512":
		return ScramSHA512, true
	}
	return 0, false
}

func (m ScramMechanism) valid() bool { return m == ScramSHA256 || m == ScramSHA512 }

func (m ScramMechanism) hash() func() hash.Hash {
	if m == ScramSHA512 {
		return sha512.New
	}
	return sha256.New
}

// size is the hash output size, which is also the length of the salted
// password, StoredKey and ServerKey.
func (m ScramMechanism) size() int {
	if m == ScramSHA512 {
		return sha512.Size
	}
	return sha256.Size
}

// ScramCredential is what the server stores for a user: never the password,
// only the keys derived from the salted password (RFC 5802 section 3).
type ScramCredential struct {
	Mechanism  ScramMechanism
	Salt       []byte
	Iterations int
	StoredKey  []byte // H(HMAC(SaltedPassword, "Client Key"))
	ServerKey  []byte // HMAC(SaltedPassword, "Server Key")
}

// Validate checks the mechanism, iteration bounds and key lengths.
func (c ScramCredential) Validate() error {
	if !c.Mechanism.valid() {
		return fmt.Errorf("unknown SCRAM mechanism %d", int8(c.Mechanism))
	}
	if c.Iterations < MinScramIterations || c.Iterations > MaxScramIterations {
		return fmt.Errorf("SCRAM iterations %d outside [%d, %d]", c.Iterations, MinScramIterations, MaxScramIterations)
	}
	if len(c.Salt) == 0 {
		return errors.New("SCRAM salt is empty")
	}
	if len(c.StoredKey) != c.Mechanism.size() || len(c.ServerKey) != c.Mechanism.size() {
		return fmt.Errorf("%s keys must be %d bytes", c.Mechanism, c.Mechanism.size())
	}
	return nil
}

func (c ScramCredential) clone() ScramCredential {
	c.Salt = append([]byte(nil), c.Salt...)
	c.StoredKey = append([]byte(nil), c.StoredKey...)
	c.ServerKey = append([]byte(nil), c.ServerKey...)
	return c
}

// ScramCredentialFromSaltedPassword derives the stored credential from what
// a Kafka AlterUserScramCredentials upsertion carries: salt, SaltedPassword
// (= Hi(password, salt, iterations)) and iterations.
func ScramCredentialFromSaltedPassword(mech ScramMechanism, salt, saltedPassword []byte, iterations int) (ScramCredential, error) {
	if !mech.valid() {
		return ScramCredential{}, fmt.Errorf("unknown SCRAM mechanism %d", int8(mech))
	}
	if len(saltedPassword) != mech.size() {
		return ScramCredential{}, fmt.Errorf("%s salted password must be %d bytes, got %d", mech, mech.size(), len(saltedPassword))
	}
	storedKey, serverKey := scramKeys(mech, saltedPassword)
	c := ScramCredential{
		Mechanism:  mech,
		Salt:       append([]byte(nil), salt...),
		Iterations: iterations,
		StoredKey:  storedKey,
		ServerKey:  serverKey,
	}
	if err := c.Validate(); err != nil {
		return ScramCredential{}, err
	}
	return c, nil
}

// NewScramCredential derives a credential from a plain password with a new
// random 32-byte salt. The password is not normalized (SASLprep), as Kafka
// does not normalize either.
func NewScramCredential(mech ScramMechanism, password string, iterations int) (ScramCredential, error) {
	salt := make([]byte, 32)
	if _, err := rand.Read(salt); err != nil {
		return ScramCredential{}, err
	}
	return ScramCredentialWithSalt(mech, password, salt, iterations)
}

// ScramCredentialWithSalt is NewScramCredential with a caller-chosen salt
// (test vectors, deterministic fixtures).
func ScramCredentialWithSalt(mech ScramMechanism, password string, salt []byte, iterations int) (ScramCredential, error) {
	if !mech.valid() {
		return ScramCredential{}, fmt.Errorf("unknown SCRAM mechanism %d", int8(mech))
	}
	if iterations < MinScramIterations || iterations > MaxScramIterations {
		return ScramCredential{}, fmt.Errorf("SCRAM iterations %d outside [%d, %d]", iterations, MinScramIterations, MaxScramIterations)
	}
	sp, err := SaltedPassword(mech, password, salt, iterations)
	if err != nil {
		return ScramCredential{}, err
	}
	return ScramCredentialFromSaltedPassword(mech, salt, sp, iterations)
}

// SaltedPassword is RFC 5802 Hi(password, salt, i): PBKDF2 with HMAC-H.
func SaltedPassword(mech ScramMechanism, password string, salt []byte, iterations int) ([]byte, error) {
	return pbkdf2.Key(mech.hash(), password, salt, iterations, mech.size())
}

func scramKeys(mech ScramMechanism, saltedPassword []byte) (storedKey, serverKey []byte) {
	clientKey := hmacSum(mech, saltedPassword, []byte("Client Key"))
	h := mech.hash()()
	h.Write(clientKey)
	storedKey = h.Sum(nil)
	serverKey = hmacSum(mech, saltedPassword, []byte("Server Key"))
	return storedKey, serverKey
}

func hmacSum(mech ScramMechanism, key, msg []byte) []byte {
	m := hmac.New(mech.hash(), key)
	m.Write(msg)
	return m.Sum(nil)
}
