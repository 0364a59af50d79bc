package fsutil

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

type rec struct {
	v byte
	p string
}

func openRecs(t *testing.T, path string) (*Journal, []rec, int64) {
	t.Helper()
	var got []rec
	j, dropped, err := OpenJournal(path, 0o600, func(v byte, p []byte) error {
		got = append(got, rec{v, string(p)})
		return nil
	})
	if err != nil {
		t.Fatalf("OpenJournal: %v", err)
	}
	return j, got, dropped
}

func writeRecs(t *testing.T, path string, rs []rec) {
	t.Helper()
	j, _, _ := openRecs(t, path)
	for _, r := range rs {
		if err := j.Append(r.v, []byte(r.p)); err != nil {
			t.Fatal(err)
		}
	}
}

var sample = []rec{{1, "first"}, {1, ""}, {2, "third record, a bit longer"}}

func TestJournalRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.log")
	j, got, _ := openRecs(t, path)
	if len(got) != 0 || j.Size() != 0 {
		t.Fatal("missing journal not empty")
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("OpenJournal created the file")
	}
	writeRecs(t, path, sample)
	j, got, dropped := openRecs(t, path)
	if !slices.Equal(got, sample) || dropped != 0 || j.Records() != 3 {
		t.Fatalf("got %v dropped %d records %d", got, dropped, j.Records())
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Size() != j.Size() || fi.Mode().Perm() != 0o600 {
		t.Fatalf("stat %v %v, size %d", fi, err, j.Size())
	}
	if err := j.Reset(); err != nil {
		t.Fatal(err)
	}
	if err := j.Append(7, []byte("after reset")); err != nil {
		t.Fatal(err)
	}
	if _, got, _ = openRecs(t, path); !slices.Equal(got, []rec{{7, "after reset"}}) {
		t.Fatalf("after reset: %v", got)
	}
}

// Cutting the file anywhere inside the last record loses exactly that
// record; the journal then takes appends as if it had never been written.
func TestJournalTornTail(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "full.log")
	writeRecs(t, full, sample)
	data, _ := os.ReadFile(full)
	lastStart := len(data) - (JournalHeaderLen + len(sample[2].p))
	for cut := lastStart; cut < len(data); cut++ {
		path := filepath.Join(dir, fmt.Sprintf("cut%d.log", cut))
		if err := os.WriteFile(path, data[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		j, got, dropped := openRecs(t, path)
		if !slices.Equal(got, sample[:2]) || dropped != int64(cut-lastStart) {
			t.Fatalf("cut at %d: got %v, dropped %d", cut, got, dropped)
		}
		if fi, _ := os.Stat(path); fi.Size() != int64(lastStart) {
			t.Fatalf("cut at %d: file is %d bytes, want %d", cut, fi.Size(), lastStart)
		}
		if err := j.Append(9, []byte("next")); err != nil {
			t.Fatal(err)
		}
		if _, got, _ := openRecs(t, path); !slices.Equal(got, append(slices.Clone(sample[:2]), rec{9, "next"})) {
			t.Fatalf("cut at %d, after append: %v", cut, got)
		}
	}
}

func TestJournalTailDamage(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "full.log")
	writeRecs(t, full, sample)
	data, _ := os.ReadFile(full)
	lastStart := len(data) - (JournalHeaderLen + len(sample[2].p))
	flip := func(i int) []byte { d := slices.Clone(data); d[i] ^= 1; return d }
	torn := map[string][]byte{
		"last payload flipped": flip(len(data) - 1),
		"last crc flipped":     flip(lastStart + 5),
		"last length grown":    flip(lastStart + 3),
		"zeros appended":       append(slices.Clone(data), make([]byte, 40)...),
		"garbage appended":     append(slices.Clone(data), "garbage that is no frame"...),
	}
	for name, d := range torn {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "j.log")
			os.WriteFile(path, d, 0o600)
			_, got, dropped := openRecs(t, path)
			want := sample
			if len(d) == len(data) {
				want = sample[:2]
			}
			if !slices.Equal(got, want) || dropped == 0 {
				t.Fatalf("got %v dropped %d", got, dropped)
			}
		})
	}
}

// A bad record with a good one after it is not a crash's torn tail.
func TestJournalCorruptMiddle(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "full.log")
	writeRecs(t, full, sample)
	data, _ := os.ReadFile(full)
	second := JournalHeaderLen + len(sample[0].p)
	for _, i := range []int{0, 3, 5, JournalHeaderLen, second + 1, second + 8} {
		d := slices.Clone(data)
		d[i] ^= 0x80
		path := filepath.Join(dir, fmt.Sprintf("bad%d.log", i))
		os.WriteFile(path, d, 0o600)
		if _, _, err := OpenJournal(path, 0o600, func(byte, []byte) error { return nil }); !errors.Is(err, ErrJournalCorrupt) {
			t.Fatalf("byte %d flipped: err = %v", i, err)
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(after, d) {
			t.Fatalf("byte %d flipped: a corrupt journal was modified", i)
		}
	}
	// fn refusing a record is corruption too.
	boom := errors.New("boom")
	_, _, err := OpenJournal(full, 0o600, func(v byte, _ []byte) error {
		if v == 2 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, ErrJournalCorrupt) || !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
}

func TestJournalAppendErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "missing", "j.log")
	j, _, _ := openRecs(t, path)
	if err := j.Append(1, []byte("x")); err == nil {
		t.Fatal("append into a missing directory succeeded")
	}
	// Nothing was written, so the journal is still usable.
	os.Mkdir(filepath.Join(dir, "missing"), 0o700)
	if err := j.Append(1, []byte("x")); err != nil {
		t.Fatal(err)
	}
	// A failed write sticks.
	os.Remove(path)
	os.Mkdir(path, 0o700) // a directory cannot be opened for writing
	if err := j.Append(1, []byte("y")); err == nil {
		t.Fatal("append to a directory succeeded")
	}
}

func TestJournalShouldCompact(t *testing.T) {
	j := &Journal{size: CompactAt - 1}
	if j.ShouldCompact(0) {
		t.Fatal("compacts below CompactAt")
	}
	j.size = CompactAt
	if !j.ShouldCompact(CompactAt) || j.ShouldCompact(CompactAt+1) {
		t.Fatal("wrong threshold against the snapshot size")
	}
}

func FuzzJournalScan(f *testing.F) {
	var valid []byte
	for _, r := range sample {
		valid = appendFrame(valid, r.v, []byte(r.p))
	}
	f.Add(valid)
	f.Add(valid[:len(valid)-3])
	f.Add(appendFrame(nil, 0, nil))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var again []byte
		good, err := scanJournal(data, func(v byte, p []byte) error {
			again = appendFrame(again, v, p)
			return nil
		})
		if good < 0 || good > len(data) {
			t.Fatalf("good = %d of %d", good, len(data))
		}
		if err != nil {
			return
		}
		// The records read are exactly the accepted prefix, re-framed.
		if !bytes.Equal(again, data[:good]) {
			t.Fatal("records do not re-frame to the accepted prefix")
		}
		// No good frame may start in a dropped tail.
		for off := good; off < len(data); off++ {
			if _, _, _, ok := nextFrame(data[off:]); ok {
				t.Fatalf("dropped a good frame at %d", off)
			}
		}
	})
}
