package identity

import (
	"strings"
	"testing"
)

func TestNamespaceFor(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"alice", "alice"},
		{"Alice Smith", "alice-smith"},
		{"alice.smith@example.org", "alice-smith-example-org"},
		{"  --Bob__  ", "bob"},
		{"José Müller", "jos-m-ller"},
		{"x" + strings.Repeat("y", 80), "x" + strings.Repeat("y", 63)},
		{strings.Repeat("ab-", 21) + "cd", strings.Repeat("ab-", 21) + "c"},
		{strings.Repeat("a", 63) + "-b", strings.Repeat("a", 63)},
		{"admin", "user-admin"},
		{"ADMIN", "user-admin"},
		{"octopus", "user-octopus"},
		{"Kafka", "user-kafka"},
		{"__consumer_offsets", "consumer-offsets"},
		{"123", "123"},
	} {
		if got := NamespaceFor(tc.name); got != tc.want {
			t.Errorf("NamespaceFor(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
	// Nothing left: a stable hash-derived name.
	for _, name := range []string{"", "___", "日本語", "--"} {
		got := NamespaceFor(name)
		if !strings.HasPrefix(got, "user-") || len(got) != len("user-")+8 || got != NamespaceFor(name) {
			t.Errorf("NamespaceFor(%q) = %q", name, got)
		}
	}
	if NamespaceFor("日本語") == NamespaceFor("中文") {
		t.Error("different empty-result names share a namespace")
	}
}

func TestNamespaceCandidate(t *testing.T) {
	long := strings.Repeat("a", 62) + "-b"
	for _, tc := range []struct {
		base string
		n    int
		want string
	}{
		{"alice", 1, "alice"},
		{"alice", 2, "alice-2"},
		{"alice", 100, "alice-100"},
		{strings.Repeat("a", 64), 2, strings.Repeat("a", 62) + "-2"},
		{long, 10, strings.Repeat("a", 61) + "-10"},
	} {
		got := NamespaceCandidate(tc.base, tc.n)
		if got != tc.want || len(got) > MaxNamespaceLen {
			t.Errorf("NamespaceCandidate(%q, %d) = %q, want %q", tc.base, tc.n, got, tc.want)
		}
	}
}

// checkNamespace fails t unless ns follows NamespaceFor's rules.
func checkNamespace(t *testing.T, name, ns string) {
	t.Helper()
	if ns == "" || len(ns) > MaxNamespaceLen || IsReservedNamespace(ns) ||
		strings.HasPrefix(ns, "-") || strings.HasSuffix(ns, "-") || strings.Contains(ns, "--") {
		t.Fatalf("NamespaceFor(%q) = %q breaks the rules", name, ns)
	}
	for _, r := range ns {
		if !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-') {
			t.Fatalf("NamespaceFor(%q) = %q has %q", name, ns, r)
		}
	}
}
