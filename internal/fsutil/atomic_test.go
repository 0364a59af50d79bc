package fsutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	long := filepath.Join(dir, strings.Repeat("n", 249)+".json") // 254 bytes: the name limit leaves no room for ".tmp"
	for _, content := range []string{"first", "second"} {
		if err := WriteFileAtomic(long, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(long)
		if err != nil || string(got) != content {
			t.Fatalf("read back %q, %v", got, err)
		}
	}
	fi, err := os.Stat(long)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", fi.Mode(), err)
	}
	// A left-over temporary file (a crash between write and rename) is
	// removed by RemoveTemps and leaves the target alone.
	if err := os.WriteFile(tempName(long), []byte("torn"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := RemoveTemps(dir); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("%d entries after RemoveTemps, want the target only", len(entries))
	}
}
