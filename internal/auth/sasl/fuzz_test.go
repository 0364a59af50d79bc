package sasl

import (
	"bytes"
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// memStore is an in-memory ScramStore for fuzzing (no disk writes).
type memStore map[credKey]ScramCredential

func (m memStore) Lookup(user string, mech ScramMechanism) (ScramCredential, bool) {
	c, ok := m[credKey{user, mech}]
	return c, ok
}

func isAuthError(err error) bool {
	var ae *AuthError
	return err == nil || errors.As(err, &ae)
}

func FuzzPlainParse(f *testing.F) {
	for _, s := range []string{"\x00alice\x00pw", "alice\x00alice\x00pw", "", "\x00\x00", "a\x00b\x00c\x00d", "\x00\xff\x00pw"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		z, u, p, err := parsePlain(msg)
		if !isAuthError(err) {
			t.Fatalf("error type %T", err)
		}
		if err != nil {
			return
		}
		if u == "" || p == "" || strings.ContainsRune(z+u+p, 0) {
			t.Fatalf("bad fields %q %q %q", z, u, p)
		}
		if z+"\x00"+u+"\x00"+p != string(msg) {
			t.Fatal("fields do not reassemble the message")
		}
	})
}

func rfcMemMech(f *testing.F) *scramMech {
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	cred, err := ScramCredentialWithSalt(ScramSHA256, "pencil", salt, 4096)
	if err != nil {
		f.Fatal(err)
	}
	m, _ := NewScram(ScramSHA256, memStore{{"user", ScramSHA256}: cred})
	sm := m.(*scramMech)
	sm.nonce = func() string { return rfcServerNonce }
	return sm
}

func FuzzScramClientFirst(f *testing.F) {
	for _, s := range []string{rfcClientFirst, "n,a=user,n=user,r=abc", "n,,n=us=2Cer,r=abc,tokenauth=true", "y,,n=u,r=a", "n,,m=x", "n,,n=u=3D,r=a,ext=1", ""} {
		f.Add([]byte(s))
	}
	m := rfcMemMech(f)
	f.Fuzz(func(t *testing.T, msg []byte) {
		s := m.Start()
		sf, done, err := s.Step(msg)
		if !isAuthError(err) || done {
			t.Fatalf("done=%v err=%v", done, err)
		}
		if err != nil {
			return
		}
		fm, kind, _ := parseScramClientFirst(msg)
		if kind != nil {
			t.Fatal("session accepted what the parser rejects")
		}
		if !bytes.HasPrefix(sf, append([]byte("r="), fm.nonce...)) || !bytes.Contains(sf, []byte(",s=")) {
			t.Fatalf("server-first %q", sf)
		}
	})
}

func FuzzScramClientFinal(f *testing.F) {
	for _, s := range []string{rfcClientFinal, "c=biws,r=x,p=AAAA", "c=biws,r=x,e=1,p=", "c=,r=,p=", "p=,c=,r=", ""} {
		f.Add([]byte(s))
	}
	m := rfcMemMech(f)
	f.Fuzz(func(t *testing.T, msg []byte) {
		s := m.Start()
		if _, _, err := s.Step([]byte(rfcClientFirst)); err != nil {
			t.Fatal(err)
		}
		sf, done, err := s.Step(msg)
		if !isAuthError(err) {
			t.Fatalf("error type %T", err)
		}
		if _, _, ok := parseScramClientFinal(msg); !ok && err == nil {
			t.Fatal("session accepted what the parser rejects")
		}
		// Only the genuine client-final carries a proof that verifies.
		if done && (string(msg) != rfcClientFinal || string(sf) != rfcServerFinal) {
			t.Fatalf("accepted forged final %q", msg)
		}
	})
}

func FuzzOAuthInitial(f *testing.F) {
	for _, s := range []string{
		"n,,\x01auth=Bearer abc.def.ghi\x01\x01",
		"n,a=alice,\x01k=v\x01auth=bearer  x\x01\x01",
		"n,,\x01\x01", "n,,\x01auth=Bearer x\x01", "y,,\x01auth=Bearer x\x01\x01", "",
	} {
		f.Add([]byte(s))
	}
	k := loadKeys(f)
	set, err := ParseJWKS(k.jwksJSON)
	if err != nil {
		f.Fatal(err)
	}
	m, err := NewOAuthBearer(OAuthBearerConfig{Issuer: testIssuer, Audience: testAudience, JWKS: set})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		r, _, ok := parseOAuthInitial(msg)
		if ok && (r.token == "" || !isB64Token(r.token)) {
			t.Fatalf("accepted bad token %q", r.token)
		}
		s := m.Start()
		reply, done, err := s.Step(msg)
		if !isAuthError(err) || done {
			// No fuzzed input can carry a validly signed token.
			t.Fatalf("done=%v err=%v", done, err)
		}
		if err == nil {
			if !ok || len(reply) == 0 {
				t.Fatalf("no error JSON for %q", msg)
			}
			if _, _, err := s.Step([]byte{1}); !errors.Is(err, ErrAuthenticationFailed) {
				t.Fatalf("after 0x01: %v", err)
			}
		}
	})
}

func FuzzCredentialsDecode(f *testing.F) {
	cred256, _ := ScramCredentialWithSalt(ScramSHA256, "pw", []byte("salt"), 4096)
	cred512, _ := ScramCredentialWithSalt(ScramSHA512, "pw", []byte("salt2"), 8192)
	f.Add(encodeCredentials(map[credKey]ScramCredential{}))
	f.Add(encodeCredentials(map[credKey]ScramCredential{{"alice", ScramSHA256}: cred256, {"alice", ScramSHA512}: cred512, {"bob", ScramSHA512}: cred512}))
	f.Add([]byte("OCTOSCRM"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeCredentials(b)
		if err != nil {
			return
		}
		for k, c := range m {
			if k.user == "" || k.mech != c.Mechanism || c.Validate() != nil {
				t.Fatalf("decoded invalid record %+v", k)
			}
		}
		again, err := decodeCredentials(encodeCredentials(m))
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzCredentialsLogDecode(f *testing.F) {
	cred256, _ := ScramCredentialWithSalt(ScramSHA256, "pw", []byte("salt"), 4096)
	cred512, _ := ScramCredentialWithSalt(ScramSHA512, "pw", []byte("salt2"), 8192)
	f.Add(encodeCredChanges([]CredentialChange{{User: "alice", Mech: ScramSHA256, Cred: cred256}}))
	f.Add(encodeCredChanges([]CredentialChange{{User: "bob", Mech: ScramSHA512, Delete: true}}))
	f.Add(encodeCredChanges([]CredentialChange{
		{User: "alice", Mech: ScramSHA256, Delete: true},
		{User: "bob", Mech: ScramSHA512, Cred: cred512},
		{User: "ü", Mech: ScramSHA256, Cred: cred256},
	}))
	f.Add([]byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		changes, err := decodeCredChanges(b)
		if err != nil {
			return
		}
		if len(changes) == 0 {
			t.Fatal("decoded an empty change")
		}
		for _, ch := range changes {
			if ch.User == "" || !ch.Mech.valid() {
				t.Fatalf("decoded invalid key %+v", ch)
			}
			if !ch.Delete && (ch.Cred.Mechanism != ch.Mech || ch.Cred.Validate() != nil) {
				t.Fatalf("decoded invalid credential for %s", ch.User)
			}
		}
		if !bytes.Equal(encodeCredChanges(changes), b) {
			t.Fatal("decode/encode not a round trip")
		}
	})
}
