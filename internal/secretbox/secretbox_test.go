package secretbox

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func newBox(t testing.TB) *Box {
	t.Helper()
	key := bytes.Repeat([]byte{7}, KeySize)
	b, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSealOpen(t *testing.T) {
	b := newBox(t)
	ad := []byte("trigger:trg_a\x00header:X-Token")
	for _, pt := range [][]byte{nil, {}, []byte("s3cret"), bytes.Repeat([]byte{0}, 10_000)} {
		s := b.Seal(pt, ad)
		if len(s) != Overhead+len(pt) || s[0] != 1 {
			t.Fatalf("sealed %d bytes into %d (version %d), want %d", len(pt), len(s), s[0], Overhead+len(pt))
		}
		if len(pt) > 0 && bytes.Contains(s, pt) {
			t.Fatal("the plaintext is in the sealed value")
		}
		got, err := b.Open(s, ad)
		if err != nil || !bytes.Equal(got, pt) || got == nil {
			t.Fatalf("Open = %q, %v; want %q", got, err, pt)
		}
	}
	// Two seals of one value differ (random nonces).
	if bytes.Equal(b.Seal([]byte("x"), ad), b.Seal([]byte("x"), ad)) {
		t.Fatal("two seals are equal")
	}
}

// TestOpenRefuses: another place, another key, any changed byte, a
// truncation and an unknown version are all ErrOpen.
func TestOpenRefuses(t *testing.T) {
	b := newBox(t)
	ad := []byte("trigger:trg_a\x00header:X-Token")
	s := b.Seal([]byte("s3cret"), ad)
	other, err := FromBase64(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{8}, KeySize)))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]func() ([]byte, error){
		"other row":     func() ([]byte, error) { return b.Open(s, []byte("trigger:trg_b\x00header:X-Token")) },
		"other field":   func() ([]byte, error) { return b.Open(s, []byte("trigger:trg_a\x00header:X-Other")) },
		"no ad":         func() ([]byte, error) { return b.Open(s, nil) },
		"other key":     func() ([]byte, error) { return other.Open(s, ad) },
		"truncated":     func() ([]byte, error) { return b.Open(s[:len(s)-1], ad) },
		"too short":     func() ([]byte, error) { return b.Open(s[:Overhead-1], ad) },
		"empty":         func() ([]byte, error) { return b.Open(nil, ad) },
		"version 2":     func() ([]byte, error) { c := bytes.Clone(s); c[0] = 2; return b.Open(c, ad) },
		"appended byte": func() ([]byte, error) { return b.Open(append(bytes.Clone(s), 0), ad) },
	}
	for i := range s {
		cases[fmt.Sprintf("flipped byte %d", i)] = func() ([]byte, error) {
			c := bytes.Clone(s)
			c[i] ^= 0x40
			return b.Open(c, ad)
		}
	}
	for name, open := range cases {
		if pt, err := open(); !errors.Is(err, ErrOpen) || pt != nil {
			t.Errorf("%s: Open = %q, %v; want ErrOpen", name, pt, err)
		}
	}
	if _, err := b.OpenString("not base64!", "x"); !errors.Is(err, ErrOpen) {
		t.Errorf("OpenString of junk: %v", err)
	}
	ss := b.SealString("v", "here")
	if got, err := b.OpenString(ss, "here"); err != nil || got != "v" {
		t.Fatalf("OpenString = %q, %v", got, err)
	}
	if strings.ContainsAny(ss, "+/=") {
		t.Fatalf("SealString %q is not unpadded base64url", ss)
	}
}

func TestKeys(t *testing.T) {
	key := bytes.Repeat([]byte{0xfb}, KeySize) // base64 with '+' or '/' and '-' or '_'
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		s := enc.EncodeToString(key)
		b, err := FromBase64(" " + s + "\n")
		if err != nil {
			t.Fatalf("FromBase64(%q): %v", s, err)
		}
		if _, err := b.Open(newBoxKey(t, key).Seal([]byte("x"), nil), nil); err != nil {
			t.Fatalf("FromBase64(%q) gave another key", s)
		}
	}
	for _, bad := range []string{"", "short", base64.StdEncoding.EncodeToString(make([]byte, 31)), base64.StdEncoding.EncodeToString(make([]byte, 33)), "!!!!"} {
		if _, err := FromBase64(bad); err == nil {
			t.Errorf("FromBase64(%q) = nil error", bad)
		}
	}
	if _, err := New(make([]byte, 16)); err == nil {
		t.Error("New with a 16-byte key")
	}
}

func newBoxKey(t *testing.T, key []byte) *Box {
	t.Helper()
	b, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLoadOrCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "secret.key")
	if _, err := Load(path); err == nil {
		t.Fatal("Load of a missing file")
	}
	b1, err := LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != KeySize {
		t.Fatalf("key file: %v, %v; want 32 bytes, mode 0600", fi, err)
	}
	if di, err := os.Stat(dir); err != nil || di.Mode().Perm() != 0o700 {
		t.Fatalf("key directory: %v, %v; want mode 0700", di, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("the directory holds %d files, want only the key", len(entries))
	}
	sealed := b1.Seal([]byte("kept"), []byte("ad"))
	// Again: the same key, from the file.
	for _, open := range []func(string) (*Box, error){LoadOrCreate, Load} {
		b2, err := open(path)
		if err != nil {
			t.Fatal(err)
		}
		if pt, err := b2.Open(sealed, []byte("ad")); err != nil || string(pt) != "kept" {
			t.Fatalf("reloaded key: %q, %v", pt, err)
		}
	}
	// The file may hold the key's base64 instead ($OCTOPUS_SECRET_KEY's form).
	raw, _ := os.ReadFile(path)
	b64 := filepath.Join(t.TempDir(), "b64.key")
	if err := os.WriteFile(b64, []byte(base64.StdEncoding.EncodeToString(raw)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b3, err := Load(b64)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := b3.Open(sealed, []byte("ad")); err != nil || string(pt) != "kept" {
		t.Fatalf("base64 key file: %q, %v", pt, err)
	}
	// A damaged file is an error, never silently replaced.
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(path); err == nil {
		t.Fatal("LoadOrCreate accepted a damaged key file")
	}
	if b, _ := os.ReadFile(path); string(b) != "garbage" {
		t.Fatal("LoadOrCreate replaced a damaged key file")
	}
}

// FuzzOpen checks that Open never panics and opens nothing but what Seal
// made for the same place.
func FuzzOpen(f *testing.F) {
	b := newBox(f)
	f.Add(b.Seal([]byte("s3cret"), []byte("ad")), []byte("ad"))
	f.Add(b.Seal(nil, nil), []byte{})
	f.Add([]byte{1}, []byte("ad"))
	f.Add(make([]byte, Overhead), []byte(nil))
	f.Fuzz(func(t *testing.T, sealed, ad []byte) {
		pt, err := b.Open(sealed, ad)
		if err != nil {
			if !errors.Is(err, ErrOpen) || pt != nil {
				t.Fatalf("Open = %q, %v", pt, err)
			}
			return
		}
		// It opened: then it is a real seal, and no other place opens it.
		if len(pt) != len(sealed)-Overhead {
			t.Fatalf("opened %d bytes from %d", len(pt), len(sealed))
		}
		if _, err := b.Open(sealed, append(bytes.Clone(ad), 'x')); err == nil {
			t.Fatal("opened with other associated data")
		}
	})
}
