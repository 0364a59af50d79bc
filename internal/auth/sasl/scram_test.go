package sasl

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sasl/scram"
)

func scramMechFor(t *testing.T, mech ScramMechanism, store ScramStore) *scramMech {
	t.Helper()
	m, err := NewScram(mech, store)
	if err != nil {
		t.Fatal(err)
	}
	return m.(*scramMech)
}

func TestScramFranzClient(t *testing.T) {
	for _, mech := range []ScramMechanism{ScramSHA256, ScramSHA512} {
		t.Run(mech.String(), func(t *testing.T) {
			store := newStore(t)
			addUser(t, store, mech, "alice", "s3cret")
			addUser(t, store, mech, "we,ird=name", "pw")
			m := scramMechFor(t, mech, store)
			for _, a := range []scram.Auth{
				{User: "alice", Pass: "s3cret"},
				{User: "alice", Pass: "s3cret", Zid: "alice"},
				{User: "we,ird=name", Pass: "pw"},
			} {
				cli := a.AsSha256Mechanism()
				if mech == ScramSHA512 {
					cli = a.AsSha512Mechanism()
				}
				// The client verifies our server signature in its last Challenge.
				s, err := drive(t, m, cli)
				if err != nil {
					t.Fatalf("%s: %v", a.User, err)
				}
				if s.Principal() != "User:"+a.User {
					t.Fatalf("principal %q", s.Principal())
				}
			}
		})
	}
}

// RFC 7677 section 3 test vector (SCRAM-SHA-256).
const (
	rfcClientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
	rfcServerNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
	rfcServerFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
	rfcClientFinal = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
	rfcServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
)

func rfcVectorMech(t *testing.T) *scramMech {
	t.Helper()
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	cred, err := ScramCredentialWithSalt(ScramSHA256, "pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	store := newStore(t)
	if err := store.Upsert("user", ScramSHA256, cred); err != nil {
		t.Fatal(err)
	}
	m := scramMechFor(t, ScramSHA256, store)
	m.nonce = func() string { return rfcServerNonce }
	return m
}

func TestScramRFC7677Vector(t *testing.T) {
	m := rfcVectorMech(t)
	s := m.Start()
	sf, done, err := s.Step([]byte(rfcClientFirst))
	if err != nil || done || string(sf) != rfcServerFirst {
		t.Fatalf("server-first %q done=%v err=%v", sf, done, err)
	}
	fin, done, err := s.Step([]byte(rfcClientFinal))
	if err != nil || !done || string(fin) != rfcServerFinal {
		t.Fatalf("server-final %q done=%v err=%v", fin, done, err)
	}
	if s.Principal() != "User:user" {
		t.Fatalf("principal %q", s.Principal())
	}

	// The same vector through franz-go's client: its nonce option is raw
	// bytes it base64-encodes, which reproduces the RFC's client nonce.
	raw, _ := base64.RawStdEncoding.DecodeString("rOprNGfwEbeRWgbNEkqO")
	if _, err := drive(t, m, scram.Auth{User: "user", Pass: "pencil", Nonce: raw}.AsSha256Mechanism()); err != nil {
		t.Fatal(err)
	}
}

func TestScramRejects(t *testing.T) {
	m := rfcVectorMech(t)
	withoutProof := rfcClientFinal[:strings.Index(rfcClientFinal, ",p=")]
	proof, _ := base64.StdEncoding.DecodeString(rfcClientFinal[len(withoutProof)+3:])
	proof[7] ^= 1
	tamperedProof := withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)
	for _, tc := range []struct {
		name        string
		first, last string // last "" = stop after first
		kind        error
	}{
		{"tampered nonce", rfcClientFirst, strings.Replace(rfcClientFinal, "k0,p=", "k1,p=", 1), ErrAuthenticationFailed},
		{"truncated nonce", rfcClientFirst, strings.Replace(rfcClientFinal, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", "", 1), ErrAuthenticationFailed},
		{"tampered proof", rfcClientFirst, tamperedProof, ErrAuthenticationFailed},
		{"proof wrong length", rfcClientFirst, rfcClientFinal[:strings.Index(rfcClientFinal, ",p=")] + ",p=AAAA", ErrMalformed},
		{"proof not base64", rfcClientFirst, rfcClientFinal[:strings.Index(rfcClientFinal, ",p=")] + ",p=!!!", ErrMalformed},
		{"channel binding mismatch", rfcClientFirst, strings.Replace(rfcClientFinal, "c=biws", "c="+base64.StdEncoding.EncodeToString([]byte("n,a=user,")), 1), ErrAuthenticationFailed},
		{"missing proof", rfcClientFirst, rfcClientFinal[:strings.Index(rfcClientFinal, ",p=")], ErrMalformed},
		{"final empty", rfcClientFirst, "", ErrMalformed},
		{"final garbage", rfcClientFirst, "p=abc,c=biws,r=x", ErrMalformed},
		{"first empty", "", "-", ErrMalformed},
		{"first no gs2", "n=user,r=abc", "-", ErrMalformed},
		{"channel binding p", "p=tls-unique,,n=user,r=abc", "-", ErrUnsupported},
		{"channel binding y", "y,,n=user,r=abc", "-", ErrUnsupported},
		{"mandatory ext", "n,,m=x,n=user,r=abc", "-", ErrUnsupported},
		{"missing nonce", "n,,n=user", "-", ErrMalformed},
		{"empty nonce", "n,,n=user,r=", "-", ErrMalformed},
		{"nonce with space", "n,,n=user,r=a b", "-", ErrMalformed},
		{"empty user", "n,,n=,r=abc", "-", ErrMalformed},
		{"bad escape", "n,,n=us=ZZer,r=abc", "-", ErrMalformed},
		{"dangling escape", "n,,n=user=2,r=abc", "-", ErrMalformed},
		{"order swapped", "n,,r=abc,n=user", "-", ErrMalformed},
		{"unknown extension", "n,,n=user,r=abc,foo=bar", "-", ErrUnsupported},
		{"tokenauth", "n,,n=user,r=abc,tokenauth=true", "-", ErrUnsupported},
		{"bad authzid", "n,x=user,n=user,r=abc", "-", ErrMalformed},
		{"authzid mismatch", "n,a=admin,n=user,r=abc", "-", ErrAuthenticationFailed},
		{"not utf8", "n,,n=us\xffer,r=abc", "-", ErrMalformed},
		{"too long", "n,,n=user,r=" + strings.Repeat("a", maxScramMessage), "-", ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := m.Start()
			_, _, err := s.Step([]byte(tc.first))
			if tc.last != "-" {
				if err != nil {
					t.Fatalf("client-first: %v", err)
				}
				var done bool
				_, done, err = s.Step([]byte(tc.last))
				if done {
					t.Fatal("accepted")
				}
			}
			if err == nil {
				t.Fatal("accepted")
			}
			wantKind(t, err, tc.kind)
			_, _, err = s.Step([]byte(rfcClientFinal))
			wantKind(t, err, ErrSequence)
			if s.Principal() != "" {
				t.Fatal("principal set on failure")
			}
		})
	}
}

func TestScramFranzClientFailures(t *testing.T) {
	store := newStore(t)
	addUser(t, store, ScramSHA512, "alice", "s3cret")
	m := scramMechFor(t, ScramSHA512, store)

	_, errWrong := drive(t, m, scram.Auth{User: "alice", Pass: "wrong"}.AsSha512Mechanism())
	wantKind(t, errWrong, ErrAuthenticationFailed)
	_, errUnknown := drive(t, m, scram.Auth{User: "mallory", Pass: "wrong"}.AsSha512Mechanism())
	wantKind(t, errUnknown, ErrAuthenticationFailed)
	if errWrong.Error() != errUnknown.Error() {
		t.Fatalf("unknown user distinguishable: %q vs %q", errWrong, errUnknown)
	}
	_, err := drive(t, m, scram.Auth{User: "alice", Pass: "s3cret", IsToken: true}.AsSha512Mechanism())
	wantKind(t, err, ErrUnsupported)
	_, err = drive(t, m, scram.Auth{User: "alice", Pass: "s3cret", Zid: "admin"}.AsSha512Mechanism())
	wantKind(t, err, ErrAuthenticationFailed)
	// A SHA-256 credential does not satisfy SCRAM-SHA-512.
	addUser(t, store, ScramSHA256, "bob", "pw")
	_, err = drive(t, m, scram.Auth{User: "bob", Pass: "pw"}.AsSha512Mechanism())
	wantKind(t, err, ErrAuthenticationFailed)
}

// An unknown user gets a well-formed server-first with a salt that is the
// same on every attempt (as a real user's is) and differs between users.
func TestScramUnknownUserFakeSalt(t *testing.T) {
	m := scramMechFor(t, ScramSHA256, newStore(t))
	first := func(user string) []byte {
		sf, _, err := m.Start().Step([]byte("n,,n=" + user + ",r=abc"))
		if err != nil {
			t.Fatal(err)
		}
		parts := bytes.Split(sf, []byte(","))
		if len(parts) != 3 || string(parts[2]) != "i=8192" {
			t.Fatalf("server-first %q", sf)
		}
		return parts[1]
	}
	a1, a2, b := first("ghost"), first("ghost"), first("spectre")
	if !bytes.Equal(a1, a2) || bytes.Equal(a1, b) {
		t.Fatalf("fake salts: %q %q %q", a1, a2, b)
	}
}

func TestScramCredentialFromSaltedPassword(t *testing.T) {
	for _, mech := range []ScramMechanism{ScramSHA256, ScramSHA512} {
		salt := []byte("0123456789abcdef")
		want, err := ScramCredentialWithSalt(mech, "pw", salt, 4096)
		if err != nil {
			t.Fatal(err)
		}
		sp, _ := SaltedPassword(mech, "pw", salt, 4096)
		got, err := ScramCredentialFromSaltedPassword(mech, salt, sp, 4096)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.StoredKey, want.StoredKey) || !bytes.Equal(got.ServerKey, want.ServerKey) {
			t.Fatal("derivations differ")
		}
		for _, bad := range []struct {
			salt, sp []byte
			iters    int
		}{
			{salt, sp, 4095},
			{salt, sp, 16385},
			{nil, sp, 4096},
			{salt, sp[:10], 4096},
		} {
			if _, err := ScramCredentialFromSaltedPassword(mech, bad.salt, bad.sp, bad.iters); err == nil {
				t.Fatalf("accepted %+v", bad)
			}
		}
	}
	if _, err := NewScram(ScramMechanism(3), nil); err == nil {
		t.Fatal("NewScram accepted unknown mechanism")
	}
}

// BenchmarkScramSHA512ServerHandshake measures the server side of one
// SCRAM-SHA-512 exchange (client-first + client-final). The client's PBKDF2
// is precomputed: nonces are fixed so the client messages repeat.
func BenchmarkScramSHA512ServerHandshake(b *testing.B) {
	store := memStore{}
	cred, err := NewScramCredential(ScramSHA512, "pw", MinScramIterations)
	if err != nil {
		b.Fatal(err)
	}
	store[credKey{"alice", ScramSHA512}] = cred
	mi, _ := NewScram(ScramSHA512, store)
	m := mi.(*scramMech)
	m.nonce = func() string { return "fixedservernonce" }

	cli := scram.Auth{User: "alice", Pass: "pw", Nonce: []byte("fixed-client")}.AsSha512Mechanism()
	cs, first, _ := cli.Authenticate(b.Context(), "")
	sf, _, err := m.Start().Step(first)
	if err != nil {
		b.Fatal(err)
	}
	_, final, err := cs.Challenge(sf)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s := m.Start()
		if _, _, err := s.Step(first); err != nil {
			b.Fatal(err)
		}
		if _, done, err := s.Step(final); !done || err != nil {
			b.Fatal(err)
		}
	}
}
