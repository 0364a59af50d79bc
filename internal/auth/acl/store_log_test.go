package acl

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/octofabric/octopus/internal/fsutil"
)

func openStore(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func mustAdd(t *testing.T, s *Store, bs ...Binding) {
	t.Helper()
	if err := s.Add(bs); err != nil {
		t.Fatalf("Add: %v", err)
	}
}

func mustDelete(t *testing.T, s *Store, fs ...Filter) {
	t.Helper()
	if _, err := s.Delete(fs); err != nil {
		t.Fatalf("Delete: %v", err)
	}
}

func byName(name string) Filter {
	f := AnyFilter
	f.Name = &name
	return f
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// Random changes, reopened now and then: the log replays to the same state.
func TestStoreLogReplay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acls")
	s := openStore(t, path)
	g := gen{rand.New(rand.NewPCG(3, 4))}
	for step := range 150 {
		if g.r.IntN(3) > 0 {
			mustAdd(t, s, g.binding(), g.binding(), g.binding())
		} else {
			mustDelete(t, s, g.filter())
		}
		if step%10 == 9 {
			s2 := openStore(t, path)
			if !slices.Equal(s2.Bindings(), s.Bindings()) {
				t.Fatalf("step %d: reopened\n got %v\nwant %v", step, s2.Bindings(), s.Bindings())
			}
			s = s2
		}
	}
	if s.log.Records() == 0 {
		t.Fatal("no log records: the test did not exercise replay")
	}
}

// The crash the compaction order allows: new snapshot renamed into place,
// log not yet emptied. Replaying the old log over it changes nothing.
func TestStoreCrashBetweenSnapshotAndLogTruncation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acls")
	s := openStore(t, path)
	x := allow(Topic, Literal, "x", "User:a", Read)
	y := deny(Topic, Prefixed, "y", "User:*", All)
	z := allow(Group, Literal, "z", "User:b", Read)
	mustAdd(t, s, z) // the first change writes a snapshot and empties the log
	mustAdd(t, s, x)
	mustDelete(t, s, byName("x")) // x: added, then removed
	mustAdd(t, s, y)
	mustDelete(t, s, byName("y"))
	mustAdd(t, s, y) // y: added, removed, added again
	mustDelete(t, s, byName("z"))
	mustAdd(t, s, allow(Topic, Prefixed, "p", "User:c", Write))
	want := s.Bindings()
	if s.log.Records() != 7 {
		t.Fatalf("%d log records, want 7", s.log.Records())
	}
	log, _ := os.ReadFile(path + ".log")
	// Step 1 of a compaction only.
	if err := fsutil.WriteFileAtomic(path, encode(want), 0o600); err != nil {
		t.Fatal(err)
	}
	s2 := openStore(t, path)
	if !slices.Equal(s2.Bindings(), want) {
		t.Fatalf("after the crash\n got %v\nwant %v", s2.Bindings(), want)
	}
	if got, _ := os.ReadFile(path + ".log"); !slices.Equal(got, log) {
		t.Fatal("Open changed a good log")
	}
	// And the store goes on from there.
	mustAdd(t, s2, x)
	if s3 := openStore(t, path); !slices.Equal(s3.Bindings(), s2.Bindings()) {
		t.Fatalf("after one more change\n got %v\nwant %v", s3.Bindings(), s2.Bindings())
	}
}

// A crash mid-append leaves the last record cut anywhere: Open keeps
// exactly the acknowledged changes and cuts the torn record off.
func TestStoreTornLastRecord(t *testing.T) {
	for _, last := range []string{"add", "delete"} {
		t.Run(last, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "acls")
			s := openStore(t, path)
			mustAdd(t, s, allow(Topic, Literal, "base", "User:a", Read))
			mustAdd(t, s, allow(Topic, Prefixed, "acked", "User:a", Read), deny(Group, Literal, "g", "User:*", Read))
			acked := s.Bindings()
			lastStart := s.log.Size()
			if last == "add" {
				mustAdd(t, s, allow(Topic, Literal, "torn", "User:b", Write), allow(Cluster, Literal, ClusterName, "User:b", Alter))
			} else {
				mustDelete(t, s, byName("base"), byName("g"))
			}
			base, _ := os.ReadFile(path)
			log, _ := os.ReadFile(path + ".log")
			for cut := lastStart; cut < int64(len(log)); cut++ {
				p := filepath.Join(dir, fmt.Sprint("cut", cut), "acls")
				os.Mkdir(filepath.Dir(p), 0o700)
				os.WriteFile(p, base, 0o600)
				os.WriteFile(p+".log", log[:cut], 0o600)
				s2 := openStore(t, p)
				if !slices.Equal(s2.Bindings(), acked) {
					t.Fatalf("cut at %d: got %v, want %v", cut, s2.Bindings(), acked)
				}
				if s2.DroppedTail() != cut-lastStart || fileSize(t, p+".log") != lastStart {
					t.Fatalf("cut at %d: dropped %d, log now %d bytes", cut, s2.DroppedTail(), fileSize(t, p+".log"))
				}
				more := allow(Topic, Literal, "more", "User:c", Read)
				mustAdd(t, s2, more)
				want := sortedUnique(append(slices.Clone(acked), more))
				if s3 := openStore(t, p); !slices.Equal(s3.Bindings(), want) {
					t.Fatalf("cut at %d, then Add: got %v, want %v", cut, s3.Bindings(), want)
				}
			}
		})
	}
}

func TestStoreCorruptLogFailsOpen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "acls")
	s := openStore(t, path)
	mustAdd(t, s, allow(Topic, Literal, "a", "User:a", Read))
	mustAdd(t, s, deny(Topic, Literal, "b", "User:a", Read))
	mustAdd(t, s, allow(Topic, Literal, "c", "User:a", Read))
	base, _ := os.ReadFile(path)
	log, _ := os.ReadFile(path + ".log")
	first := fsutil.JournalHeaderLen + len(encodeChange(change{add: []Binding{deny(Topic, Literal, "b", "User:a", Read)}}))
	try := func(name string, log []byte) {
		t.Helper()
		p := filepath.Join(dir, name, "acls")
		os.Mkdir(filepath.Dir(p), 0o700)
		os.WriteFile(p, base, 0o600)
		os.WriteFile(p+".log", log, 0o600)
		if _, err := Open(p); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Open = %v, want ErrCorrupt", name, err)
		}
	}
	// The DENY's record goes bad; the record after it is good.
	for _, i := range []int{0, 3, 4, 8, first - 1} {
		d := slices.Clone(log)
		d[i] ^= 0x10
		try(fmt.Sprint("flip", i), d)
	}
	// Well framed, but not a record this version can read.
	for name, rec := range map[string]struct {
		v byte
		p []byte
	}{
		"version 2":       {2, encodeChange(change{add: []Binding{allow(Topic, Literal, "d", "User:a", Read)}})},
		"invalid binding": {1, encodeChange(change{add: []Binding{allow(Cluster, Literal, "nope", "User:a", Read)}})},
		"empty change":    {1, encodeChange(change{})},
	} {
		p := filepath.Join(dir, "journal-"+name)
		os.WriteFile(p, log, 0o600)
		j, _, err := fsutil.OpenJournal(p, 0o600, func(byte, []byte) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		if err := j.Append(rec.v, rec.p); err != nil {
			t.Fatal(err)
		}
		d, _ := os.ReadFile(p)
		try(name, d)
	}
}

// The log is folded into the snapshot once it outgrows it and 1 MiB.
func TestStoreCompacts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acls")
	s := openStore(t, path)
	big := strings.Repeat("p", 8000)
	compactions, lastLog := 0, int64(0)
	check := func() {
		t.Helper()
		if n := s.log.Size(); n < lastLog {
			compactions++
			if n != 0 || fileSize(t, path+".log") != 0 {
				t.Fatalf("log of %d bytes after a compaction", n)
			}
			if base := fileSize(t, path); base < lastLog {
				t.Fatalf("snapshot of %d bytes smaller than the log (%d) it replaced", base, lastLog)
			}
		}
		lastLog = s.log.Size()
		if lastLog > 2*fsutil.CompactAt && lastLog > 2*fileSize(t, path) {
			t.Fatalf("log of %d bytes was not compacted (snapshot %d)", lastLog, fileSize(t, path))
		}
	}
	for i := range 60 {
		var bs []Binding
		for j := range 10 {
			bs = append(bs, allow(Topic, Literal, fmt.Sprintf("t%d-%d", i, j), "User:"+big, Read))
		}
		mustAdd(t, s, bs...)
		check()
		if i%7 == 6 {
			mustDelete(t, s, byName(fmt.Sprintf("t%d-0", i-3)))
			check()
		}
	}
	if compactions == 0 {
		t.Fatal("never compacted")
	}
	if s2 := openStore(t, path); !slices.Equal(s2.Bindings(), s.Bindings()) {
		t.Fatal("reopened store differs")
	}
}

// A compaction that fails does not undo the change that triggered it (it
// is durable in the log) but makes the store read-only.
func TestStoreCompactionFailureSticks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acls")
	s := openStore(t, path)
	// A non-empty directory where the snapshot goes: the rename fails.
	os.MkdirAll(filepath.Join(path, "x"), 0o700)
	b := allow(Topic, Literal, "t", "User:a", Read)
	mustAdd(t, s, b)
	if !s.Authorize("User:a", "h", Read, Topic, "t") {
		t.Fatal("logged change not published")
	}
	if err := s.Add([]Binding{allow(Topic, Literal, "u", "User:a", Read)}); err == nil {
		t.Fatal("compaction failure did not stick")
	}
	os.RemoveAll(path)
	if s2 := openStore(t, path); !slices.Equal(s2.Bindings(), []Binding{b}) {
		t.Fatalf("reopened: %v", s2.Bindings())
	}
}

func FuzzDecodeChange(f *testing.F) {
	bs := sortedUnique(storeBindings())
	f.Add(encodeChange(change{add: bs}))
	f.Add(encodeChange(change{remove: bs[:2]}))
	f.Add(encodeChange(change{add: bs[3:], remove: bs[:3]}))
	f.Add(encodeChange(change{}))
	f.Fuzz(func(t *testing.T, p []byte) {
		c, err := decodeChange(p)
		if err != nil {
			return
		}
		if c.empty() {
			t.Fatal("decoded an empty change")
		}
		for _, l := range [][]Binding{c.add, c.remove} {
			for i, b := range l {
				if err := b.Validate(); err != nil {
					t.Fatalf("decoded invalid binding %v: %v", b, err)
				}
				if i > 0 && compareBindings(l[i-1], b) >= 0 {
					t.Fatal("decoded an unsorted list")
				}
			}
		}
		for _, b := range c.add {
			if _, found := slices.BinarySearchFunc(c.remove, b, compareBindings); found {
				t.Fatalf("%v both added and removed", b)
			}
		}
		if !slices.Equal(encodeChange(c), p) {
			t.Fatal("decode/encode not a round trip")
		}
	})
}

// goldenV1 is storeBindings() as a v1 file written before the log existed.
const goldenV1 = "4f43544f41434c0a00010000000602030303066f72646572730a557365723a616c696365012a0203080310c3bc6ec3af636f64652de5908de5898d0c557365723ac3bc6d6c617574012a02040202077365637265742e06557365723a2a012a03030303016708557365723a626f62093139322e302e322e31040307030d6b61666b612d636c757374657208557365723a6f7073012a050404030374782d0a557365723a616c696365012a16f1056b"

// A data dir from before the log opens unchanged, and the snapshot format
// is still written byte for byte as it was.
func TestStoreOpensV1File(t *testing.T) {
	golden, _ := hex.DecodeString(goldenV1)
	want := sortedUnique(storeBindings())
	if !slices.Equal(encode(want), golden) {
		t.Fatal("snapshot encoding changed")
	}
	path := filepath.Join(t.TempDir(), "acls")
	os.WriteFile(path, golden, 0o600)
	s := openStore(t, path)
	if !slices.Equal(s.Bindings(), want) {
		t.Fatalf("opened %v", s.Bindings())
	}
	mustAdd(t, s, allow(Topic, Literal, "new", "User:a", Read))
	if got, _ := os.ReadFile(path); !slices.Equal(got, golden) {
		t.Fatal("a change rewrote the snapshot instead of logging")
	}
}

// BenchmarkStoreCompact is the rare slow change: the one that folds the log
// into a new snapshot of n bindings (encode, write, fsync, rename, fsync
// the directory, truncate the log, fsync). It runs once per ≥ 1 MiB of log.
func BenchmarkStoreCompact(b *testing.B) {
	for _, n := range []int{16500} {
		b.Run(fmt.Sprintf("bindings=%d", n), func(b *testing.B) {
			s, err := Open(filepath.Join(b.TempDir(), "acls"))
			if err != nil {
				b.Fatal(err)
			}
			var bs []Binding
			for i := range n {
				bs = append(bs, Binding{ResourceType: Topic, Name: fmt.Sprintf("ns%05d.", i/11), Pattern: Prefixed,
					Principal: fmt.Sprintf("User:ns%05d.k-%08x", i/11, i%11), Host: "*", Operation: Read, Permission: Allow})
			}
			if err := s.Add(bs); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				s.mu.Lock()
				s.compactLocked(s.snap.Load())
				s.mu.Unlock()
			}
			if s.werr != nil {
				b.Fatal(s.werr)
			}
		})
	}
}
