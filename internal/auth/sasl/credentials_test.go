package sasl

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/octofabric/octopus/internal/fsutil"
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

// goldenCredentials is a v1 file written before the log existed: alice
// (SHA-256, salt "salt", 4096) and bob (SHA-512, salt "salt2", 8192), both
// with password "pw".
const goldenCredentials = "4f43544f5343524d0001000000020005616c6963650100001000000473616c742033a804b3beca68a23f44a53cf922d65297a7a658526973600159e39573fc441720d83650a95cb6be7a2703190f51865e77e0ba757998e98a6ab32e9006aa38643d0003626f620200002000000573616c743240cfab2455fe8683a88ffd23dbbe7beaef5fd91fc828898e87b9b92ec2debdbf53404d626590b3810256cc8e1ae5db70b4669662e62758b277c7226699cbf1487d4090885b243a37c66eed13c850a0b8411fc80b5f03f0e0b40d64b024c6c79e7e888a25eaea79b331fe1c38745ca9c2d91e155917c6bd65f4fd2d9e55baf7a7b9cc0ae2d71b"

func goldenCreds(t testing.TB) map[credKey]ScramCredential {
	t.Helper()
	c1, err1 := ScramCredentialWithSalt(ScramSHA256, "pw", []byte("salt"), 4096)
	c2, err2 := ScramCredentialWithSalt(ScramSHA512, "pw", []byte("salt2"), 8192)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	return map[credKey]ScramCredential{{"alice", ScramSHA256}: c1, {"bob", ScramSHA512}: c2}
}

// A data dir from before the log opens unchanged, and the snapshot format
// is still written byte for byte as it was.
func TestCredentialsOpensV1File(t *testing.T) {
	golden, _ := hex.DecodeString(goldenCredentials)
	if !bytes.Equal(encodeCredentials(goldenCreds(t)), golden) {
		t.Fatal("snapshot encoding changed")
	}
	path := filepath.Join(t.TempDir(), "scram.creds")
	os.WriteFile(path, golden, 0o600)
	c, err := OpenCredentials(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.creds, goldenCreds(t)) {
		t.Fatalf("opened %v", c.creds)
	}
	addUser(t, c, ScramSHA256, "carol", "pw")
	if got, _ := os.ReadFile(path); !bytes.Equal(got, golden) {
		t.Fatal("a change rewrote the snapshot instead of logging")
	}
}

func reopen(t *testing.T, path string) *Credentials {
	t.Helper()
	c, err := OpenCredentials(path)
	if err != nil {
		t.Fatalf("OpenCredentials: %v", err)
	}
	return c
}

func sameCreds(t *testing.T, got, want *Credentials) {
	t.Helper()
	if !reflect.DeepEqual(got.creds, want.creds) {
		t.Fatalf("credentials differ:\n got %v\nwant %v", slices.Collect(maps.Keys(got.creds)), slices.Collect(maps.Keys(want.creds)))
	}
}

// Upserts, deletes and Alters, reopened now and then: the log replays to
// the same credentials.
func TestCredentialsLogReplay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scram.creds")
	c := reopen(t, path)
	creds := goldenCreds(t)
	c256, c512 := creds[credKey{"alice", ScramSHA256}], creds[credKey{"bob", ScramSHA512}]
	r := rand.New(rand.NewPCG(5, 6))
	for step := range 200 {
		user := fmt.Sprint("u", r.IntN(20))
		switch r.IntN(4) {
		case 0, 1:
			if err := c.Upsert(user, ScramSHA256, c256); err != nil {
				t.Fatal(err)
			}
		case 2:
			if err := c.Delete(user, ScramSHA256); err != nil && !errors.Is(err, ErrCredentialNotFound) {
				t.Fatal(err)
			}
		case 3:
			other := fmt.Sprint("u", r.IntN(20))
			if _, err := c.Alter([]CredentialChange{
				{User: user, Mech: ScramSHA512, Cred: c512},
				{User: other, Mech: ScramSHA256, Delete: true},
				{User: other, Mech: ScramSHA512, Cred: c512},
			}); err != nil {
				t.Fatal(err)
			}
		}
		if step%10 == 9 {
			c2 := reopen(t, path)
			sameCreds(t, c2, c)
			c = c2
		}
	}
	if c.log.Records() == 0 {
		t.Fatal("no log records: the test did not exercise replay")
	}
}

// Cut the last record at every byte: Open keeps exactly the acknowledged
// changes.
func TestCredentialsTornLastRecord(t *testing.T) {
	creds := goldenCreds(t)
	for _, last := range []string{"upsert", "delete", "alter"} {
		t.Run(last, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "scram.creds")
			c := reopen(t, path)
			for k, v := range creds {
				if err := c.Upsert(k.user, k.mech, v); err != nil {
					t.Fatal(err)
				}
			}
			acked := maps.Clone(c.creds)
			lastStart := c.log.Size()
			var err error
			switch last {
			case "upsert":
				err = c.Upsert("zed", ScramSHA512, creds[credKey{"bob", ScramSHA512}])
			case "delete":
				err = c.Delete("bob", ScramSHA512)
			case "alter":
				_, err = c.Alter([]CredentialChange{{User: "alice", Mech: ScramSHA256, Delete: true},
					{User: "zed", Mech: ScramSHA256, Cred: creds[credKey{"alice", ScramSHA256}]}})
			}
			if err != nil {
				t.Fatal(err)
			}
			base, _ := os.ReadFile(path)
			log, _ := os.ReadFile(path + ".log")
			for cut := lastStart; cut < int64(len(log)); cut++ {
				p := filepath.Join(dir, fmt.Sprint("cut", cut), "scram.creds")
				os.Mkdir(filepath.Dir(p), 0o700)
				os.WriteFile(p, base, 0o600)
				os.WriteFile(p+".log", log[:cut], 0o600)
				c2 := reopen(t, p)
				if !reflect.DeepEqual(c2.creds, acked) || c2.DroppedTail() != cut-lastStart {
					t.Fatalf("cut at %d: %d credentials, dropped %d", cut, len(c2.creds), c2.DroppedTail())
				}
				addUser(t, c2, ScramSHA256, "more", "pw")
				sameCreds(t, reopen(t, p), c2)
			}
		})
	}
}

// The compaction's crash window: snapshot renamed into place, log not yet
// emptied.
func TestCredentialsCrashBetweenSnapshotAndLogTruncation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scram.creds")
	c := reopen(t, path)
	cred := addUser(t, c, ScramSHA256, "a", "pw") // the first change writes the snapshot
	if err := c.Delete("a", ScramSHA256); err != nil {
		t.Fatal(err)
	}
	addUser(t, c, ScramSHA256, "b", "pw")
	if err := c.Delete("b", ScramSHA256); err != nil {
		t.Fatal(err)
	}
	if err := c.Upsert("b", ScramSHA256, cred); err != nil {
		t.Fatal(err)
	}
	if c.log.Records() != 4 {
		t.Fatalf("%d log records, want 4", c.log.Records())
	}
	if err := fsutil.WriteFileAtomic(path, encodeCredentials(c.creds), 0o600); err != nil {
		t.Fatal(err)
	}
	sameCreds(t, reopen(t, path), c)
}

func TestCredentialsCorruptLogFailsOpen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "scram.creds")
	c := reopen(t, path)
	addUser(t, c, ScramSHA256, "a", "pw")
	addUser(t, c, ScramSHA256, "b", "pw")
	addUser(t, c, ScramSHA256, "c", "pw")
	base, _ := os.ReadFile(path)
	log, _ := os.ReadFile(path + ".log")
	for _, i := range []int{0, 4, 8, 20} { // inside the first of two records
		d := slices.Clone(log)
		d[i] ^= 0x20
		p := filepath.Join(dir, fmt.Sprint("flip", i), "scram.creds")
		os.Mkdir(filepath.Dir(p), 0o700)
		os.WriteFile(p, base, 0o600)
		os.WriteFile(p+".log", d, 0o600)
		if _, err := OpenCredentials(p); !errors.Is(err, fsutil.ErrJournalCorrupt) {
			t.Errorf("byte %d flipped: err = %v", i, err)
		}
	}
}

func TestCredentialsCompacts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scram.creds")
	c := reopen(t, path)
	creds := goldenCreds(t)
	cred := creds[credKey{"bob", ScramSHA512}]
	cred.Salt = bytes.Repeat([]byte("s"), 60000) // big records: reach 1 MiB quickly
	compacted := false
	for i := range 40 {
		if err := c.Upsert(fmt.Sprint("u", i%5), ScramSHA512, cred); err != nil {
			t.Fatal(err)
		}
		if i > 0 && c.log.Size() == 0 {
			compacted = true
		}
		if c.log.Size() > 2*fsutil.CompactAt {
			t.Fatalf("log of %d bytes not compacted", c.log.Size())
		}
	}
	if !compacted {
		t.Fatal("never compacted")
	}
	sameCreds(t, reopen(t, path), c)
}

// BenchmarkCredentialsUpsert is one Upsert into a store of 2,000 users
// with two mechanisms each; BenchmarkCredentialsAlter the same through
// Alter, the broker's AlterUserScramCredentials path.
func BenchmarkCredentialsUpsert(b *testing.B) { benchCredentials(b, false) }

func BenchmarkCredentialsAlter(b *testing.B) { benchCredentials(b, true) }

func benchCredentials(b *testing.B, alter bool) {
	for _, users := range []int{2000} {
		b.Run(fmt.Sprintf("users=%d", users), func(b *testing.B) {
			c, err := OpenCredentials(filepath.Join(b.TempDir(), "scram.creds"))
			if err != nil {
				b.Fatal(err)
			}
			creds := goldenCreds(b)
			c256, c512 := creds[credKey{"alice", ScramSHA256}], creds[credKey{"bob", ScramSHA512}]
			var all []CredentialChange
			for i := range users {
				u := fmt.Sprintf("ns%05d.k-%08x", i, i*2654435761)
				all = append(all, CredentialChange{User: u, Mech: ScramSHA256, Cred: c256}, CredentialChange{User: u, Mech: ScramSHA512, Cred: c512})
			}
			if _, err := c.Alter(all); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				user := fmt.Sprintf("new%d", i)
				if alter {
					if _, err := c.Alter([]CredentialChange{{User: user, Mech: ScramSHA512, Cred: c512}}); err != nil {
						b.Fatal(err)
					}
				} else if err := c.Upsert(user, ScramSHA512, c512); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
