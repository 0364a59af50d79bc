package identity

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/octofabric/octopus/internal/store"
)

// mkIdentity stores the identity "local:NAME" with namespace NAME.
func mkIdentity(t *testing.T, st *store.Store, name string, admin bool) {
	t.Helper()
	_, err := st.CreateIdentity(ctxT(t), store.Identity{ID: "local:" + name, Name: name, Namespace: name, Admin: admin})
	must(t, err, "CreateIdentity")
}

func TestLocalIssueVerify(t *testing.T) {
	st, dir := openStore(t)
	clk := newClock()
	l := NewLocal(st, WithClock(clk.now))
	mkIdentity(t, st, "alice", false)

	token, err := l.Issue(ctxT(t), "local:alice", time.Hour)
	must(t, err, "Issue")
	if !strings.HasPrefix(token, "oct_") || len(token) != 4+43 {
		t.Fatalf("token %q: want oct_ and 43 base64url characters", token)
	}
	if b, err := base64.RawURLEncoding.Strict().DecodeString(token[4:]); err != nil || len(b) != 32 {
		t.Fatalf("token secret: %d bytes, %v", len(b), err)
	}
	id, err := l.Verify(ctxT(t), token)
	must(t, err, "Verify")
	want := Identity{ID: "local:alice", Name: "alice", Source: SourceLocal, ExpiresAt: clk.now().Add(time.Hour)}
	if id.ID != want.ID || id.Name != want.Name || id.Admin || id.Source != want.Source || !id.ExpiresAt.Equal(want.ExpiresAt) {
		t.Fatalf("identity %+v, want %+v", id, want)
	}

	// The store holds SHA-256(token), never the token.
	sum := sha256.Sum256([]byte(token))
	row, err := st.LookupToken(ctxT(t), sum[:], clk.now())
	must(t, err, "LookupToken by SHA-256")
	if row.IdentityID != "local:alice" {
		t.Fatalf("token row %+v", row)
	}
	st.Close()
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if bytes.Contains(b, []byte(token)) || bytes.Contains(b, []byte(token[4:])) {
			t.Fatalf("%s contains the token", f)
		}
	}

	_, err = l.Issue(ctxT(t), "local:nobody", 0)
	if err == nil {
		t.Fatal("Issue for an unknown identity: no error")
	}
}

func TestLocalExpiredAndMalformed(t *testing.T) {
	st, _ := openStore(t)
	clk := newClock()
	l := NewLocal(st, WithClock(clk.now))
	mkIdentity(t, st, "alice", false)
	token, err := l.Issue(ctxT(t), "local:alice", time.Minute)
	must(t, err, "Issue")
	forever, err := l.Issue(ctxT(t), "local:alice", 0)
	must(t, err, "Issue without expiry")
	clk.advance(time.Minute)
	_, err = l.Verify(ctxT(t), token)
	wantErr(t, err, ErrInvalidToken, token, "expired local token")
	id, err := l.Verify(ctxT(t), forever)
	must(t, err, "Verify a token without expiry")
	if !id.ExpiresAt.IsZero() {
		t.Fatalf("ExpiresAt %v, want zero", id.ExpiresAt)
	}

	other, _ := newLocalToken() // well-formed, never stored
	for _, bad := range []string{"oct_", "oct_short", forever + "x", forever[:len(forever)-1] + "!", "oct_" + strings.Repeat("=", 43), other} {
		_, err := l.Verify(ctxT(t), bad)
		wantErr(t, err, ErrInvalidToken, bad, "Verify "+bad)
	}
	_, err = l.Verify(ctxT(t), "")
	wantErr(t, err, ErrNoToken, "", "empty token")
}

func TestLocalRevoke(t *testing.T) {
	st, _ := openStore(t)
	l := NewLocal(st)
	mkIdentity(t, st, "alice", false)
	token, err := l.Issue(ctxT(t), "local:alice", 0)
	must(t, err, "Issue")
	keep, err := l.Issue(ctxT(t), "local:alice", 0)
	must(t, err, "Issue")
	must(t, l.Revoke(ctxT(t), token), "Revoke")
	_, err = l.Verify(ctxT(t), token)
	wantErr(t, err, ErrInvalidToken, token, "revoked token")
	wantErr(t, l.Revoke(ctxT(t), token), ErrInvalidToken, token, "revoke twice")
	_, err = l.Verify(ctxT(t), keep)
	must(t, err, "the other token still works")
}

func TestLocalStoreDown(t *testing.T) {
	st, _ := openStore(t)
	l := NewLocal(st)
	mkIdentity(t, st, "alice", false)
	token, err := l.Issue(ctxT(t), "local:alice", 0)
	must(t, err, "Issue")
	st.Close()
	_, err = l.Verify(ctxT(t), token)
	wantErr(t, err, ErrUnavailable, token, "closed store")
}

func TestEnsureAdmin(t *testing.T) {
	st, _ := openStore(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	log, logged := logBuffer()
	l := NewLocal(st, WithLogger(log))
	path := filepath.Join(dataDir, "admin.token")

	must(t, l.EnsureAdmin(ctxT(t), dataDir), "EnsureAdmin")
	fi, err := os.Stat(path)
	must(t, err, "stat admin.token")
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin.token mode %v, want 0600", fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	must(t, err, "read admin.token")
	token := strings.TrimSuffix(string(b), "\n")
	if string(b) != token+"\n" || checkLocalForm(token) != nil {
		t.Fatalf("admin.token holds %q: want a local token and a newline", b)
	}
	id, err := l.Verify(ctxT(t), token)
	must(t, err, "Verify the admin token")
	if id.ID != "local:admin" || id.Name != "admin" || !id.Admin || !id.ExpiresAt.IsZero() {
		t.Fatalf("admin identity %+v", id)
	}
	sid, err := st.GetIdentity(ctxT(t), AdminID)
	must(t, err, "GetIdentity")
	if sid.Namespace != "admin" || !sid.Admin {
		t.Fatalf("stored admin %+v", sid)
	}

	// Idempotent: a second start changes nothing.
	must(t, l.EnsureAdmin(ctxT(t), dataDir), "EnsureAdmin again")
	fi2, err := os.Stat(path)
	must(t, err, "stat")
	if b2, _ := os.ReadFile(path); !bytes.Equal(b, b2) || !os.SameFile(fi, fi2) || !fi2.ModTime().Equal(fi.ModTime()) {
		t.Fatal("second EnsureAdmin rewrote admin.token")
	}
	if n, _ := st.CountIdentities(ctxT(t)); n != 1 {
		t.Fatalf("%d identities, want 1", n)
	}

	// A loosened mode is tightened.
	must(t, os.Chmod(path, 0o644), "chmod")
	must(t, l.EnsureAdmin(ctxT(t), dataDir), "EnsureAdmin, file 0644")
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v after EnsureAdmin, want 0600", fi.Mode().Perm())
	}

	// Lost file: a new token, the old one stays valid.
	must(t, os.Remove(path), "remove admin.token")
	must(t, l.EnsureAdmin(ctxT(t), dataDir), "EnsureAdmin, file lost")
	b3, err := os.ReadFile(path)
	must(t, err, "read new admin.token")
	newToken := strings.TrimSpace(string(b3))
	if newToken == token {
		t.Fatal("same token after the file was lost")
	}
	for _, tok := range []string{token, newToken} {
		if id, err := l.Verify(ctxT(t), tok); err != nil || !id.Admin {
			t.Fatalf("admin token after recovery: %+v, %v", id, err)
		}
	}

	// Revoked, or garbage: replaced.
	must(t, l.Revoke(ctxT(t), newToken), "Revoke")
	must(t, l.EnsureAdmin(ctxT(t), dataDir), "EnsureAdmin, token revoked")
	b4, _ := os.ReadFile(path)
	if _, err := l.Verify(ctxT(t), strings.TrimSpace(string(b4))); err != nil {
		t.Fatalf("token after revocation recovery: %v", err)
	}
	must(t, os.WriteFile(path, []byte("garbage\n"), 0o600), "write garbage")
	must(t, l.EnsureAdmin(ctxT(t), dataDir), "EnsureAdmin, garbage")
	b5, _ := os.ReadFile(path)
	if _, err := l.Verify(ctxT(t), strings.TrimSpace(string(b5))); err != nil {
		t.Fatalf("token after garbage recovery: %v", err)
	}

	// A user token in the file is not an admin token.
	mkIdentity(t, st, "bob", false)
	bobToken, err := l.Issue(ctxT(t), "local:bob", 0)
	must(t, err, "Issue")
	must(t, os.WriteFile(path, []byte(bobToken+"\n"), 0o600), "write bob's token")
	must(t, l.EnsureAdmin(ctxT(t), dataDir), "EnsureAdmin, user token")
	if b6, _ := os.ReadFile(path); strings.TrimSpace(string(b6)) == bobToken {
		t.Fatal("EnsureAdmin kept a user token as the admin token")
	}

	for _, tok := range []string{token, newToken, bobToken, string(b4), string(b5)} {
		if strings.Contains(logged.String(), strings.TrimSpace(tok)) {
			t.Fatal("a token was logged")
		}
	}
	if !strings.Contains(logged.String(), "the file was missing") {
		t.Fatalf("log lacks the recovery warning:\n%s", logged.String())
	}
}

func TestEnsureAdminTwoInstances(t *testing.T) {
	// Two instances on one database, each with its own data directory.
	st, _ := openStore(t)
	l := NewLocal(st)
	dir1, dir2 := t.TempDir(), t.TempDir()
	must(t, l.EnsureAdmin(ctxT(t), dir1), "EnsureAdmin 1")
	must(t, l.EnsureAdmin(ctxT(t), dir2), "EnsureAdmin 2")
	for _, d := range []string{dir1, dir2} {
		b, err := os.ReadFile(filepath.Join(d, AdminTokenFile))
		must(t, err, "read")
		if _, err := l.Verify(ctxT(t), strings.TrimSpace(string(b))); err != nil {
			t.Fatalf("%s: %v", d, err)
		}
	}
}

func TestEnsureAdminNotAdmin(t *testing.T) {
	st, dir := openStore(t)
	_, err := st.CreateIdentity(ctxT(t), store.Identity{ID: AdminID, Name: "admin", Namespace: "admin"})
	must(t, err, "CreateIdentity")
	if err := NewLocal(st).EnsureAdmin(ctxT(t), dir); err == nil {
		t.Fatal("EnsureAdmin accepted a local:admin that is not an administrator")
	}
}

func TestCreateUser(t *testing.T) {
	st, _ := openStore(t)
	l := NewLocal(st)
	id, token, err := l.CreateUser(ctxT(t), "alice")
	must(t, err, "CreateUser")
	if id.ID != "local:alice" || id.Name != "alice" || id.Admin {
		t.Fatalf("identity %+v", id)
	}
	got, err := l.Verify(ctxT(t), token)
	must(t, err, "Verify")
	if got.ID != "local:alice" || got.Admin || !got.ExpiresAt.IsZero() {
		t.Fatalf("verified %+v", got)
	}
	sid, err := st.GetIdentity(ctxT(t), "local:alice")
	must(t, err, "GetIdentity")
	if sid.Namespace != "alice" {
		t.Fatalf("namespace %q", sid.Namespace)
	}

	_, _, err = l.CreateUser(ctxT(t), "alice")
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate user: %v, want store.ErrConflict", err)
	}
	for _, bad := range []string{"", "admin", "-x", ".x", "a b", "a/b", "../x", "a:b", "é", strings.Repeat("a", 65), "a\x00"} {
		if _, _, err := l.CreateUser(ctxT(t), bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("CreateUser(%q): %v, want store.ErrInvalid", bad, err)
		}
	}

	// Namespaces: derived, reserved avoided, numbered on conflict.
	for _, tc := range []struct{ name, ns string }{
		{"Alice.Smith", "alice-smith"},
		{"alice_smith", "alice-smith-2"},
		{"alice-smith", "alice-smith-3"},
		{"Kafka", "user-kafka"},
		{"bob@example.org", "bob-example-org"},
	} {
		_, _, err := l.CreateUser(ctxT(t), tc.name)
		must(t, err, "CreateUser "+tc.name)
		sid, err := st.GetIdentity(ctxT(t), "local:"+tc.name)
		must(t, err, "GetIdentity")
		if sid.Namespace != tc.ns {
			t.Errorf("%s: namespace %q, want %q", tc.name, sid.Namespace, tc.ns)
		}
	}
}

func TestRegister(t *testing.T) {
	st, _ := openStore(t)
	mkIdentity(t, st, "alice", false)
	id := Identity{ID: "https://idp.example.org|123", Name: "Alice", Source: SourceOIDC}
	sid, err := Register(ctxT(t), st, id)
	must(t, err, "Register")
	if sid.ID != id.ID || sid.Namespace != "alice-2" || sid.Admin {
		t.Fatalf("registered %+v", sid)
	}
	again, err := Register(ctxT(t), st, Identity{ID: id.ID, Name: "renamed"})
	must(t, err, "Register again")
	if again.Namespace != "alice-2" || again.Name != "Alice" {
		t.Fatalf("second Register changed the identity: %+v", again)
	}
}
