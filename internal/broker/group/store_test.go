package group

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestStoreReplayAndTornTail(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "offsets.log")
	s, state, err := OpenStore(path, true, quiet())
	if err != nil || len(state) != 0 {
		t.Fatalf("open: %v %v", state, err)
	}
	commit := func(g, topic string, p int32, off int64) record {
		return record{kind: kindCommit, group: g, topic: topic, partition: p, offset: Offset{Offset: off, LeaderEpoch: 3, Metadata: "m", CommitTime: 42}}
	}
	if err := s.write(commit("g1", "t", 0, 10), commit("g1", "t", 1, 20), commit("g2", "t", 0, 5)); err != nil {
		t.Fatal(err)
	}
	if err := s.write(commit("g1", "t", 0, 11), record{kind: kindDelete, group: "g1", topic: "t", partition: 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.write(record{kind: kindDeleteGroup, group: "g2"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	good, _ := os.ReadFile(path)

	// A torn record at the end is dropped; the rest replays.
	if err := os.WriteFile(path, append(append([]byte{}, good...), commit("g3", "t", 0, 1).encode(nil)[:9]...), 0o644); err != nil {
		t.Fatal(err)
	}
	s, state, err = OpenStore(path, true, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := Offset{Offset: 11, LeaderEpoch: 3, Metadata: "m", CommitTime: 42}
	if len(state) != 1 || len(state["g1"]) != 1 || state["g1"][topicPartition{"t", 0}] != want {
		t.Fatalf("replayed state = %+v", state)
	}
	if fi, _ := os.Stat(path); fi.Size() != int64(len(good)) {
		t.Fatalf("file is %d bytes after recovery, want %d", fi.Size(), len(good))
	}

	// A flipped byte inside a record stops the replay there.
	bad := append([]byte{}, good...)
	bad[len(bad)-3] ^= 0xff
	os.WriteFile(path, bad, 0o644)
	s.Close()
	s2, state, err := OpenStore(path, true, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, ok := state["g2"]; !ok {
		t.Fatalf("the delete-group record was corrupt, so g2 must survive: %+v", state)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(record{kind: kindCommit, group: "g", topic: "t", partition: 1, offset: Offset{Offset: 5, Metadata: "x"}}.encode(nil))
	f.Add(record{kind: kindDelete, group: "g", topic: "t"}.encode(nil))
	f.Add(record{kind: kindDeleteGroup, group: "g"}.encode(nil))
	f.Add([]byte{0, 0, 0, 2, 0, 0, 0, 0, 1, 9})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, n, err := decodeRecord(b)
		if err != nil {
			return
		}
		if n <= 0 || n > len(b) {
			t.Fatalf("decoded size %d of %d bytes", n, len(b))
		}
		// A record that decodes re-encodes to the same bytes.
		if got := r.encode(nil); string(got) != string(b[:n]) {
			t.Fatalf("re-encoding differs")
		}
	})
}
