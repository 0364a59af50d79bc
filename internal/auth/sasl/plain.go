package sasl

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"time"
	"unicode/utf8"
)

// maxPlainMessage bounds a PLAIN message: RFC 4616 limits each field to 255
// octets; we allow more for long passwords but not unbounded input.
const maxPlainMessage = 4096

// NewPlain returns the PLAIN mechanism (RFC 4616) checking passwords against
// SCRAM credentials in store: the password is salted and hashed with the
// stored credential's salt and iterations and compared with its StoredKey in
// constant time, so one SCRAM credential serves both PLAIN and SCRAM and no
// password is ever stored. SCRAM-SHA-512 is preferred over SCRAM-SHA-256.
//
// PLAIN sends the password in the clear: offer it only on TLS listeners.
func NewPlain(store ScramStore) Mechanism {
	return &plainMech{store: store, fake: newFakeCreds()}
}

type plainMech struct {
	store ScramStore
	fake  fakeCreds
}

func (*plainMech) Name() string { return "PLAIN" }

func (m *plainMech) Start() Session { return &plainSession{m: m} }

type plainSession struct {
	m         *plainMech
	finished  bool
	principal string
}

func (s *plainSession) Principal() string       { return s.principal }
func (s *plainSession) Lifetime() time.Duration { return 0 }

func (s *plainSession) Step(msg []byte) ([]byte, bool, error) {
	if s.finished {
		return nil, false, authErr("PLAIN", ErrSequence, "")
	}
	s.finished = true
	authzid, authcid, passwd, err := parsePlain(msg)
	if err != nil {
		return nil, false, err
	}
	if authzid != "" && authzid != authcid {
		return nil, false, authErr("PLAIN", ErrAuthenticationFailed, "authorization id differs from user name")
	}
	if !s.m.verify(authcid, passwd) {
		return nil, false, authErr("PLAIN", ErrAuthenticationFailed, "invalid user name or password")
	}
	s.principal = UserPrincipal(authcid)
	return nil, true, nil
}

// parsePlain splits message = [authzid] NUL authcid NUL passwd (RFC 4616).
func parsePlain(msg []byte) (authzid, authcid, passwd string, err error) {
	malformed := func(d string) error { return authErr("PLAIN", ErrMalformed, d) }
	if len(msg) > maxPlainMessage {
		return "", "", "", malformed("message too long")
	}
	parts := bytes.Split(msg, []byte{0})
	if len(parts) != 3 {
		return "", "", "", malformed("expected authzid NUL authcid NUL passwd")
	}
	if len(parts[1]) == 0 {
		return "", "", "", malformed("user name not specified")
	}
	if len(parts[2]) == 0 {
		return "", "", "", malformed("password not specified")
	}
	for _, p := range parts {
		if !utf8.Valid(p) {
			return "", "", "", malformed("not UTF-8")
		}
	}
	return string(parts[0]), string(parts[1]), string(parts[2]), nil
}

func (m *plainMech) verify(user, password string) bool {
	cred, ok := m.store.Lookup(user, ScramSHA512)
	if !ok {
		cred, ok = m.store.Lookup(user, ScramSHA256)
	}
	if !ok {
		// Same work as for a real user, so timing does not reveal which
		// users exist; the fake StoredKey never matches.
		cred = m.fake.cred(user, ScramSHA512)
	}
	sp, err := SaltedPassword(cred.Mechanism, password, cred.Salt, cred.Iterations)
	if err != nil {
		return false
	}
	storedKey, _ := scramKeys(cred.Mechanism, sp)
	return subtle.ConstantTimeCompare(storedKey, cred.StoredKey) == 1 && ok
}

// fakeCreds makes deterministic per-user credentials for users that do not
// exist, keyed by a per-process secret, so an unknown user gets the same
// salt on every attempt (as a real one would) and the exchange runs to the
// end before failing exactly as a wrong password does.
type fakeCreds struct{ key []byte }

func newFakeCreds() fakeCreds {
	k := make([]byte, 32)
	rand.Read(k)
	return fakeCreds{key: k}
}

func (f fakeCreds) cred(user string, mech ScramMechanism) ScramCredential {
	derive := func(label string) []byte {
		h := hmac.New(sha256.New, f.key)
		h.Write([]byte(label))
		h.Write([]byte{0, byte(mech), 0})
		h.Write([]byte(user))
		return h.Sum(nil)
	}
	stretch := func(label string) []byte {
		return hmacSum(mech, derive(label), []byte(label))[:mech.size()]
	}
	return ScramCredential{
		Mechanism:  mech,
		Salt:       derive("salt"),
		Iterations: DefaultScramIterations,
		StoredKey:  stretch("stored"),
		ServerKey:  stretch("server"),
	}
}
