package sasl

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxScramMessage bounds each SCRAM client message.
const maxScramMessage = 8192

// NewScram returns the SCRAM-SHA-256 or SCRAM-SHA-512 mechanism (RFC 5802,
// RFC 7677) as Kafka profiles it: no channel binding (gs2 header "n,"), an
// optional authorization id that must equal the user name, the KIP-48
// "tokenauth" extension rejected (no delegation tokens), any other
// extension in client-first rejected, the server nonce appended to the
// client's, and failure reported as an error, not as an "e=" message.
//
// An unknown user is not rejected at client-first: the exchange continues
// with a deterministic fake salt and keys and fails at client-final exactly
// like a wrong password.
func NewScram(mech ScramMechanism, store ScramStore) (Mechanism, error) {
	if !mech.valid() {
		return nil, fmt.Errorf("sasl: unknown SCRAM mechanism %d", int8(mech))
	}
	return &scramMech{mech: mech, store: store, fake: newFakeCreds(), nonce: randomNonce}, nil
}

type scramMech struct {
	mech  ScramMechanism
	store ScramStore
	fake  fakeCreds
	nonce func() string // server nonce part; replaced in tests
}

func (m *scramMech) Name() string { return m.mech.String() }

func (m *scramMech) Start() Session { return &scramSession{m: m} }

func randomNonce() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawStdEncoding.EncodeToString(b)
}

type scramSession struct {
	m     *scramMech
	state int // 0 awaiting client-first, 1 awaiting client-final, 2 ended

	user        string
	known       bool
	cred        ScramCredential
	gs2Header   []byte
	bare        []byte
	serverFirst []byte
	nonce       []byte

	principal string
}

func (s *scramSession) Principal() string       { return s.principal }
func (s *scramSession) Lifetime() time.Duration { return 0 }

func (s *scramSession) fail(kind error, detail string) ([]byte, bool, error) {
	s.state = 2
	return nil, false, authErr(s.m.mech.String(), kind, detail)
}

func (s *scramSession) Step(msg []byte) ([]byte, bool, error) {
	switch s.state {
	case 0:
		return s.clientFirst(msg)
	case 1:
		return s.clientFinal(msg)
	}
	return nil, false, authErr(s.m.mech.String(), ErrSequence, "")
}

// scramFirst is a parsed client-first-message.
type scramFirst struct {
	gs2Header []byte // "n,[a=authzid]," exactly as sent
	authzid   string
	bare      []byte // client-first-message-bare
	user      string
	nonce     []byte
	tokenAuth bool
}

// parseScramClientFirst parses
//
//	client-first-message = gs2-header client-first-message-bare
//	gs2-header = gs2-cbind-flag "," [ authzid ] ","
//	client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
//
// kind/detail describe a failure.
func parseScramClientFirst(msg []byte) (f scramFirst, kind error, detail string) {
	if len(msg) > maxScramMessage {
		return f, ErrMalformed, "message too long"
	}
	if !utf8.Valid(msg) {
		return f, ErrMalformed, "not UTF-8"
	}
	switch {
	case bytes.HasPrefix(msg, []byte("n,")):
	case bytes.HasPrefix(msg, []byte("y,")), bytes.HasPrefix(msg, []byte("p=")):
		return f, ErrUnsupported, "channel binding not supported"
	default:
		return f, ErrMalformed, "bad gs2 header"
	}
	i := bytes.IndexByte(msg[2:], ',')
	if i < 0 {
		return f, ErrMalformed, "bad gs2 header"
	}
	az := msg[2 : 2+i]
	f.gs2Header = msg[:2+i+1]
	f.bare = msg[2+i+1:]
	if len(az) > 0 {
		if !bytes.HasPrefix(az, []byte("a=")) {
			return f, ErrMalformed, "bad authorization id"
		}
		name, ok := decodeSaslName(az[2:])
		if !ok || name == "" {
			return f, ErrMalformed, "bad authorization id"
		}
		f.authzid = name
	}
	attrs := bytes.Split(f.bare, []byte(","))
	if bytes.HasPrefix(attrs[0], []byte("m=")) {
		return f, ErrUnsupported, "mandatory extension not supported"
	}
	if len(attrs) < 2 || !bytes.HasPrefix(attrs[0], []byte("n=")) || !bytes.HasPrefix(attrs[1], []byte("r=")) {
		return f, ErrMalformed, "expected n=username,r=nonce"
	}
	user, ok := decodeSaslName(attrs[0][2:])
	if !ok || user == "" {
		return f, ErrMalformed, "bad user name"
	}
	f.user = user
	f.nonce = attrs[1][2:]
	if !validNonce(f.nonce) {
		return f, ErrMalformed, "bad nonce"
	}
	for _, ext := range attrs[2:] {
		k, v, ok := bytes.Cut(ext, []byte("="))
		if !ok || len(k) == 0 {
			return f, ErrMalformed, "bad extension"
		}
		if string(k) != "tokenauth" {
			return f, ErrUnsupported, "unsupported extension"
		}
		if f.tokenAuth || !strings.EqualFold(string(v), "true") && !strings.EqualFold(string(v), "false") {
			return f, ErrMalformed, "bad tokenauth extension"
		}
		f.tokenAuth = strings.EqualFold(string(v), "true")
	}
	return f, nil, ""
}

// validNonce: printable ASCII except ',' (RFC 5802 "printable").
func validNonce(n []byte) bool {
	if len(n) == 0 {
		return false
	}
	for _, c := range n {
		if c < 0x21 || c > 0x7e || c == ',' {
			return false
		}
	}
	return true
}

// decodeSaslName undoes RFC 5802 saslname escaping: "=2C" is ',' and "=3D"
// is '='; any other '=' is invalid.
func decodeSaslName(b []byte) (string, bool) {
	if bytes.IndexByte(b, '=') < 0 {
		return string(b), true
	}
	var sb strings.Builder
	for i := 0; i < len(b); i++ {
		if b[i] != '=' {
			sb.WriteByte(b[i])
			continue
		}
		if i+3 > len(b) {
			return "", false
		}
		switch string(b[i+1 : i+3]) {
		case "2C":
			sb.WriteByte(',')
		case "3D":
			sb.WriteByte('=')
		default:
			return "", false
		}
		i += 2
	}
	return sb.String(), true
}

func (s *scramSession) clientFirst(msg []byte) ([]byte, bool, error) {
	f, kind, detail := parseScramClientFirst(msg)
	if kind != nil {
		return s.fail(kind, detail)
	}
	if f.tokenAuth {
		return s.fail(ErrUnsupported, "delegation tokens not supported")
	}
	if f.authzid != "" && f.authzid != f.user {
		return s.fail(ErrAuthenticationFailed, "authorization id differs from user name")
	}
	s.user = f.user
	s.cred, s.known = s.m.store.Lookup(f.user, s.m.mech)
	if !s.known || s.cred.Validate() != nil {
		s.known = false
		s.cred = s.m.fake.cred(f.user, s.m.mech)
	}
	s.gs2Header = append([]byte(nil), f.gs2Header...)
	s.bare = append([]byte(nil), f.bare...)
	s.nonce = append(append([]byte(nil), f.nonce...), s.m.nonce()...)

	sf := make([]byte, 0, 128)
	sf = append(sf, "r="...)
	sf = append(sf, s.nonce...)
	sf = append(sf, ",s="...)
	sf = append(sf, base64.StdEncoding.EncodeToString(s.cred.Salt)...)
	sf = append(sf, ",i="...)
	sf = strconv.AppendInt(sf, int64(s.cred.Iterations), 10)
	s.serverFirst = sf
	s.state = 1
	return append([]byte(nil), sf...), false, nil
}

// scramFinal is a parsed client-final-message.
type scramFinal struct {
	channelBinding []byte // decoded c=
	nonce          []byte
	withoutProof   []byte
	proof          []byte
}

// parseScramClientFinal parses
//
//	client-final-message = channel-binding "," nonce ["," extensions] "," proof
func parseScramClientFinal(msg []byte) (f scramFinal, detail string, ok bool) {
	if len(msg) > maxScramMessage {
		return f, "message too long", false
	}
	attrs := bytes.Split(msg, []byte(","))
	if len(attrs) < 3 || !bytes.HasPrefix(attrs[0], []byte("c=")) || !bytes.HasPrefix(attrs[1], []byte("r=")) {
		return f, "expected c=,r=,...,p=", false
	}
	last := attrs[len(attrs)-1]
	if !bytes.HasPrefix(last, []byte("p=")) {
		return f, "missing proof", false
	}
	for _, ext := range attrs[2 : len(attrs)-1] {
		if k, _, ok := bytes.Cut(ext, []byte("=")); !ok || len(k) == 0 {
			return f, "bad extension", false
		}
	}
	cb, err := base64.StdEncoding.Strict().DecodeString(string(attrs[0][2:]))
	if err != nil {
		return f, "bad channel binding encoding", false
	}
	proof, err := base64.StdEncoding.Strict().DecodeString(string(last[2:]))
	if err != nil {
		return f, "bad proof encoding", false
	}
	f.channelBinding = cb
	f.nonce = attrs[1][2:]
	f.withoutProof = msg[:len(msg)-len(last)-1]
	f.proof = proof
	return f, "", true
}

func (s *scramSession) clientFinal(msg []byte) ([]byte, bool, error) {
	f, detail, ok := parseScramClientFinal(msg)
	if !ok {
		return s.fail(ErrMalformed, detail)
	}
	if !bytes.Equal(f.channelBinding, s.gs2Header) {
		return s.fail(ErrAuthenticationFailed, "channel binding mismatch")
	}
	if subtle.ConstantTimeCompare(f.nonce, s.nonce) != 1 {
		return s.fail(ErrAuthenticationFailed, "nonce mismatch")
	}
	mech := s.m.mech
	if len(f.proof) != mech.size() {
		return s.fail(ErrMalformed, "bad proof length")
	}
	authMsg := make([]byte, 0, len(s.bare)+len(s.serverFirst)+len(f.withoutProof)+2)
	authMsg = append(authMsg, s.bare...)
	authMsg = append(authMsg, ',')
	authMsg = append(authMsg, s.serverFirst...)
	authMsg = append(authMsg, ',')
	authMsg = append(authMsg, f.withoutProof...)

	// ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage); the proof
	// is valid when H(ClientKey) = StoredKey.
	clientKey := hmacSum(mech, s.cred.StoredKey, authMsg)
	for i := range clientKey {
		clientKey[i] ^= f.proof[i]
	}
	h := mech.hash()()
	h.Write(clientKey)
	match := subtle.ConstantTimeCompare(h.Sum(nil), s.cred.StoredKey) == 1
	serverSig := hmacSum(mech, s.cred.ServerKey, authMsg)
	if !match || !s.known {
		return s.fail(ErrAuthenticationFailed, "invalid credentials")
	}
	s.state = 2
	s.principal = UserPrincipal(s.user)
	return []byte("v=" + base64.StdEncoding.EncodeToString(serverSig)), true, nil
}
