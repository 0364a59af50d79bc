package acl

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func storeBindings() []Binding {
	return []Binding{
		allow(Topic, Literal, "orders", "User:alice", Read),
		deny(Topic, Prefixed, "secret.", "User:*", All),
		withHost(allow(Group, Literal, "g", "User:bob", Read), "192.0.2.1"),
		allow(Cluster, Literal, ClusterName, "User:ops", Alter),
		allow(TransactionalID, Prefixed, "tx-", "User:alice", Write),
		allow(Topic, Literal, "ünïcode-名前", "User:ümlaut", Describe),
	}
}

func TestStoreRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acls")
	s, err := Open(path, WithSuperUsers("User:admin"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Bindings()) != 0 {
		t.Fatal("new store not empty")
	}
	if err := s.Add(storeBindings()); err != nil {
		t.Fatal(err)
	}
	removed, err := s.Delete([]Filter{{ResourceType: Group, Pattern: AnyPattern, Operation: AnyOperation, Permission: AnyPermission}})
	if err != nil || len(removed) != 1 || removed[0].Name != "g" {
		t.Fatalf("Delete = %v, %v", removed, err)
	}
	if !s.Authorize("User:alice", "h", Read, Topic, "orders") || s.Authorize("User:alice", "h", Read, Topic, "secret.x") {
		t.Fatal("store does not authorize with its bindings")
	}

	s2, err := Open(path, WithSuperUsers("User:admin"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Bindings(), s2.Bindings()) || len(s2.Bindings()) != len(storeBindings())-1 {
		t.Fatalf("reopened:\n got %v\nwant %v", s2.Bindings(), s.Bindings())
	}
	if !s2.Authorize("User:admin", "h", Write, Topic, "secret.x") {
		t.Fatal("superuser option not applied")
	}
	if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temp file left behind: %v", err)
	}
	// Deleting everything leaves a valid, empty file.
	if _, err := s2.Delete([]Filter{AnyFilter}); err != nil {
		t.Fatal(err)
	}
	s3, err := Open(path)
	if err != nil || len(s3.Bindings()) != 0 {
		t.Fatalf("after delete all: %v, %v", s3.Bindings(), err)
	}
}

func TestStoreInvalidAddNotPersisted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acls")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Add([]Binding{allow(Cluster, Literal, "nope", "User:a", Alter)}); !IsInvalid(err) {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("invalid Add wrote the file")
	}
}

func TestStoreWriteErrorSticks(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "missing-dir", "acls")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	b := allow(Topic, Literal, "t", "User:a", Read)
	if err := s.Add([]Binding{b}); err == nil {
		t.Fatal("Add into a missing directory succeeded")
	}
	if s.Authorize("User:a", "h", Read, Topic, "t") {
		t.Fatal("failed write was published to readers")
	}
	if err := os.Mkdir(filepath.Join(dir, "missing-dir"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := s.Add([]Binding{b}); err == nil {
		t.Fatal("write error did not stick")
	}
}

func TestStoreCorruptFileFailsOpen(t *testing.T) {
	good := encode(sortedUnique(storeBindings()))
	flip := func(i int) []byte { d := slices.Clone(good); d[i] ^= 0x40; return d }
	tests := map[string][]byte{
		"empty":         {},
		"truncated":     good[:len(good)-1],
		"bad magic":     flip(0),
		"flipped body":  flip(headerLen + 10),
		"flipped crc":   flip(len(good) - 1),
		"trailing data": append(slices.Clone(good), 0),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "acls")
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Open(path); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open = %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestDecodeRejectsInvalidRecordsWithGoodCRC(t *testing.T) {
	bad := []Binding{{ResourceType: Cluster, Name: "x", Pattern: Literal, Principal: "User:a", Host: "*", Operation: All, Permission: Allow}}
	if _, err := decode(encode(bad)); err == nil {
		t.Fatal("decoded an invalid binding")
	}
	b := allow(Topic, Literal, "t", "User:a", Read)
	if _, err := decode(encode([]Binding{b, b})); err == nil {
		t.Fatal("decoded duplicate bindings")
	}
	if _, err := decode(encode(nil)); err != nil {
		t.Fatalf("empty file: %v", err)
	}
	// A future version is refused even with a correct CRC.
	v2 := encode(nil)
	v2[len(fileMagic)+1] = 2
	v2 = encode2(v2[:len(v2)-4])
	if _, err := decode(v2); err == nil {
		t.Fatal("decoded version 2")
	}
}

// encode2 appends a fresh CRC to body.
func encode2(body []byte) []byte {
	return binary.BigEndian.AppendUint32(body, crc32.Checksum(body, castagnoli))
}

func sortedUnique(bs []Binding) []Binding {
	bs = slices.Clone(bs)
	slices.SortFunc(bs, compareBindings)
	return slices.CompactFunc(bs, func(x, y Binding) bool { return x == y })
}

func FuzzDecode(f *testing.F) {
	f.Add(encode(nil))
	f.Add(encode(sortedUnique(storeBindings())))
	f.Add([]byte(fileMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		bs, err := decode(data)
		if err != nil {
			return
		}
		// Whatever decodes must be valid, canonical, and re-encode identically.
		for _, b := range bs {
			if err := b.Validate(); err != nil {
				t.Fatalf("decoded invalid binding %v: %v", b, err)
			}
		}
		if !slices.Equal(encode(bs), data) {
			t.Fatal("decode/encode not a round trip")
		}
	})
}

func TestAuthorizeNoAllocs(t *testing.T) {
	a := New()
	if err := a.Add([]Binding{
		allow(Topic, Literal, "orders", "User:a", Write),
		allow(Topic, Prefixed, "ord", "User:b", Write),
		allow(Topic, Literal, "*", "User:c", Read),
	}); err != nil {
		t.Fatal(err)
	}
	n := testing.AllocsPerRun(100, func() {
		a.Authorize("User:a", "10.0.0.1", Write, Topic, "orders")
		a.Authorize("User:b", "10.0.0.1", Describe, Topic, "orders")
		a.Authorize("User:z", "10.0.0.1", Write, Topic, "orders")
	})
	if n != 0 {
		t.Fatalf("Authorize allocates %v times per run", n)
	}
}
