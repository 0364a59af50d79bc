package sasl

import (
	"errors"
	"path/filepath"
	"testing"
)

func TestCredentialsAlter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "creds")
	c, err := OpenCredentials(path)
	if err != nil {
		t.Fatal(err)
	}
	cred := func(pw string) ScramCredential {
		cr, err := NewScramCredential(ScramSHA256, pw, MinScramIterations)
		if err != nil {
			t.Fatal(err)
		}
		return cr
	}
	if err := c.Upsert("old", ScramSHA256, cred("o")); err != nil {
		t.Fatal(err)
	}
	errs, err := c.Alter([]CredentialChange{
		{User: "old", Mech: ScramSHA256, Delete: true},
		{User: "new", Mech: ScramSHA256, Cred: cred("n")},
		{User: "gone", Mech: ScramSHA512, Delete: true},
		{User: "bad", Mech: ScramSHA256, Cred: ScramCredential{Iterations: 1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || errs[1] != nil || !errors.Is(errs[2], ErrCredentialNotFound) || errs[3] == nil {
		t.Fatalf("errs = %v", errs)
	}
	// Both good changes are durable; the bad ones changed nothing.
	c2, err := OpenCredentials(path)
	if err != nil {
		t.Fatal(err)
	}
	for user, want := range map[string]bool{"old": false, "new": true, "bad": false} {
		if _, ok := c2.Lookup(user, ScramSHA256); ok != want {
			t.Errorf("%s present = %v, want %v", user, ok, want)
		}
	}
}
