package sasl

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
)

func TestCredentialsPersist(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scram.creds")
	c, err := OpenCredentials(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Describe(nil); len(got) != 0 {
		t.Fatalf("new store not empty: %v", got)
	}
	a512 := addUser(t, c, ScramSHA512, "alice", "pw")
	addUser(t, c, ScramSHA256, "alice", "pw")
	addUser(t, c, ScramSHA256, "bob", "pw")

	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode().Perm())
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Fatal("temporary file left behind")
	}

	want := map[string][]ScramInfo{
		"alice": {{ScramSHA256, 4096}, {ScramSHA512, 4096}},
		"bob":   {{ScramSHA256, 4096}},
	}
	if got := c.Describe(nil); !reflect.DeepEqual(got, want) {
		t.Fatalf("describe %v", got)
	}
	if got := c.Describe([]string{"bob", "nobody"}); !reflect.DeepEqual(got, map[string][]ScramInfo{"bob": want["bob"]}) {
		t.Fatalf("describe bob %v", got)
	}

	c2, err := OpenCredentials(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := c2.Describe(nil); !reflect.DeepEqual(got, want) {
		t.Fatalf("reopened describe %v", got)
	}
	got, ok := c2.Lookup("alice", ScramSHA512)
	if !ok || !reflect.DeepEqual(got, a512) {
		t.Fatalf("lookup after reopen: %v %+v", ok, got)
	}
	// Lookup returns a copy.
	got.StoredKey[0] ^= 1
	if again, _ := c2.Lookup("alice", ScramSHA512); !bytes.Equal(again.StoredKey, a512.StoredKey) {
		t.Fatal("Lookup exposed internal slice")
	}

	if err := c2.Delete("alice", ScramSHA256); err != nil {
		t.Fatal(err)
	}
	if err := c2.Delete("alice", ScramSHA256); !errors.Is(err, ErrCredentialNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	c3, err := OpenCredentials(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c3.Lookup("alice", ScramSHA256); ok {
		t.Fatal("deleted credential came back")
	}
	if _, ok := c3.Lookup("alice", ScramSHA512); !ok {
		t.Fatal("other credential lost")
	}
}

func TestCredentialsUpsertValidation(t *testing.T) {
	c := newStore(t)
	good, _ := NewScramCredential(ScramSHA256, "pw", 4096)
	weak := good
	weak.Iterations = 1000
	short := good
	short.StoredKey = short.StoredKey[:5]
	for name, tc := range map[string]struct {
		user string
		mech ScramMechanism
		cred ScramCredential
	}{
		"empty user":     {"", ScramSHA256, good},
		"mech mismatch":  {"u", ScramSHA512, good},
		"few iterations": {"u", ScramSHA256, weak},
		"short key":      {"u", ScramSHA256, short},
		"unknown mech":   {"u", 9, ScramCredential{}},
	} {
		if err := c.Upsert(tc.user, tc.mech, tc.cred); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Zero Mechanism is filled in from mech.
	z := good
	z.Mechanism = 0
	if err := c.Upsert("u", ScramSHA256, z); err != nil {
		t.Fatal(err)
	}
}

func TestCredentialsWriteFailureKeepsState(t *testing.T) {
	dir := t.TempDir()
	c, err := OpenCredentials(filepath.Join(dir, "missing-dir", "scram.creds"))
	if err != nil {
		t.Fatal(err)
	}
	cred, _ := NewScramCredential(ScramSHA256, "pw", 4096)
	if err := c.Upsert("u", ScramSHA256, cred); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
	if _, ok := c.Lookup("u", ScramSHA256); ok {
		t.Fatal("failed upsert is visible")
	}
}

func TestCredentialsCorruptFileFailsOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scram.creds")
	c, _ := OpenCredentials(path)
	addUser(t, c, ScramSHA512, "alice", "pw")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"empty":      {},
		"truncated":  orig[:len(orig)-1],
		"bad magic":  append([]byte("XCTOSCRM"), orig[8:]...),
		"flipped":    flip(orig, 20),
		"bad crc":    flip(orig, len(orig)-1),
		"extra byte": append(append([]byte(nil), orig...), 0),
	}
	for name, b := range cases {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenCredentials(path); err == nil {
			t.Errorf("%s: Open succeeded", name)
		}
	}
	// A structurally bad body with a valid CRC is also rejected.
	body := append([]byte(nil), orig[:len(orig)-4]...)
	body[len(credMagic)+1] = 2 // version 2
	if _, err := decodeCredentials(withCRC(body)); err == nil {
		t.Error("unknown version accepted")
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0x40
	return c
}

func withCRC(body []byte) []byte {
	return encodeCRC(body)
}

// Concurrent writers and readers (run with -race); every write lands.
func TestCredentialsConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scram.creds")
	c, _ := OpenCredentials(path)
	cred, _ := NewScramCredential(ScramSHA256, "pw", 4096)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(2)
		user := string(rune('a' + i))
		go func() {
			defer wg.Done()
			if err := c.Upsert(user, ScramSHA256, cred); err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			c.Lookup(user, ScramSHA256)
			c.Describe(nil)
		}()
	}
	wg.Wait()
	c2, err := OpenCredentials(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(c2.Describe(nil)); n != 8 {
		t.Fatalf("%d users after reopen, want 8", n)
	}
}
