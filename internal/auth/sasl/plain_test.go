package sasl

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sasl/plain"
)

func TestPlainFranzClient(t *testing.T) {
	store := newStore(t)
	addUser(t, store, ScramSHA512, "alice", "s3cret")
	addUser(t, store, ScramSHA256, "bob", "hunter2") // only a SHA-256 credential
	m := NewPlain(store)

	for _, tc := range []struct{ zid, user, pass string }{
		{"", "alice", "s3cret"},
		{"alice", "alice", "s3cret"},
		{"", "bob", "hunter2"},
	} {
		s, err := drive(t, m, plain.Auth{Zid: tc.zid, User: tc.user, Pass: tc.pass}.AsMechanism())
		if err != nil {
			t.Fatalf("%+v: %v", tc, err)
		}
		if got := s.Principal(); got != "User:"+tc.user {
			t.Fatalf("principal %q", got)
		}
		if s.Lifetime() != 0 {
			t.Fatalf("lifetime %v", s.Lifetime())
		}
	}
}

func TestPlainRejects(t *testing.T) {
	store := newStore(t)
	addUser(t, store, ScramSHA512, "alice", "s3cret")
	m := NewPlain(store)
	for _, tc := range []struct {
		name string
		msg  string
		kind error
	}{
		{"wrong password", "\x00alice\x00S3cret", ErrAuthenticationFailed},
		{"unknown user", "\x00mallory\x00s3cret", ErrAuthenticationFailed},
		{"authzid mismatch", "admin\x00alice\x00s3cret", ErrAuthenticationFailed},
		{"no NUL", "alice", ErrMalformed},
		{"one NUL", "alice\x00s3cret", ErrMalformed},
		{"extra NUL", "\x00alice\x00s3cret\x00", ErrMalformed},
		{"empty user", "\x00\x00s3cret", ErrMalformed},
		{"empty password", "\x00alice\x00", ErrMalformed},
		{"not utf8", "\x00ali\xffce\x00s3cret", ErrMalformed},
		{"too long", "\x00alice\x00" + strings.Repeat("x", maxPlainMessage), ErrMalformed},
		{"empty", "", ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := m.Start()
			_, done, err := s.Step([]byte(tc.msg))
			if done || err == nil {
				t.Fatal("accepted")
			}
			wantKind(t, err, tc.kind)
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("error leaks the password: %v", err)
			}
			if s.Principal() != "" {
				t.Fatal("principal set on failure")
			}
			_, _, err = s.Step([]byte("\x00alice\x00s3cret"))
			wantKind(t, err, ErrSequence)
		})
	}
}

func TestPlainUnknownAndWrongLookAlike(t *testing.T) {
	store := newStore(t)
	addUser(t, store, ScramSHA512, "alice", "s3cret")
	m := NewPlain(store)
	_, errWrong := drive(t, m, plain.Auth{User: "alice", Pass: "nope"}.AsMechanism())
	_, errUnknown := drive(t, m, plain.Auth{User: "mallory", Pass: "nope"}.AsMechanism())
	if errWrong == nil || errUnknown == nil || errWrong.Error() != errUnknown.Error() {
		t.Fatalf("wrong password %v vs unknown user %v", errWrong, errUnknown)
	}
}
