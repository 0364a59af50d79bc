package apibench

import (
	"context"
	"flag"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/octofabric/octopus/internal/testenv/controlplane"
)

// Sizes of the full run (BenchmarkControlPlane).
var (
	flagIdentities = flag.Int("apibench.identities", 1000, "identities (users) to create")
	flagTopics     = flag.Int("apibench.topics", 1000, "topics to create")
	flagGrants     = flag.Int("apibench.grants", 2000, "grants to put during scale-up")
	flagSteady     = flag.Int("apibench.steady", 500, "calls of each steady-state operation per concurrency")
	flagConc       = flag.String("apibench.concurrency", "1,4", "steady-state concurrencies, comma-separated")
)

func concurrencies(tb testing.TB) []int {
	var out []int
	for _, f := range strings.Split(*flagConc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			tb.Fatalf("-apibench.concurrency %q: want positive integers", *flagConc)
		}
		out = append(out, n)
	}
	return out
}

// TestAPIBenchSmoke runs the whole workload at a small size: it proves
// that the harness works and that every call answers the expected status.
// It checks no timing.
func TestAPIBenchSmoke(t *testing.T) {
	s := controlplane.ControlPlane(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := Run(ctx, Config{URL: s.URL, AdminToken: s.AdminToken,
		Identities: 20, Topics: 20, Grants: 40, Batch: 10, Steady: 12, Concurrency: []int{1, 4}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{
		"scale-up/c1/" + OpCreateUser: 20, "scale-up/c1/" + OpCreateKey: 20,
		"scale-up/c1/" + OpCreateTopic: 20, "scale-up/c1/" + OpPutGrant: 40,
	}
	for _, c := range []string{"c1", "c4"} {
		for _, op := range []string{OpMe, OpListTopics, OpGetTopic, OpPutGrant, OpCreateKey, OpDeleteKey} {
			want["steady/"+c+"/"+op] = 12
		}
	}
	got := res.Summaries()
	if len(got) != len(want) {
		t.Errorf("%d operations measured, want %d: %v", len(got), len(want), got)
	}
	for k, n := range want {
		if got[k].Count != n {
			t.Errorf("%s: %d calls recorded, want %d", k, got[k].Count, n)
		}
	}
	if testing.Verbose() {
		res.WriteMarkdown(os.Stdout)
	}
}

// BenchmarkControlPlane runs the workload once at full size (1,000
// identities and topics, 2,000 grants, 500 steady calls of each operation
// at concurrency 1 and 4) and prints the report. One run takes minutes;
// b.N is ignored. Run with:
//
//	go test -run '^$' -bench ControlPlane -benchtime 1x -timeout 60m ./internal/apibench/
//
// and change the sizes with -apibench.identities, -apibench.topics,
// -apibench.grants, -apibench.steady and -apibench.concurrency (after the
// package path).
func BenchmarkControlPlane(b *testing.B) {
	if testing.Short() {
		b.Skip("a full control-plane run takes minutes; not with -short")
	}
	s := controlplane.ControlPlane(b)
	b.ResetTimer()
	res, err := Run(context.Background(), Config{URL: s.URL, AdminToken: s.AdminToken,
		Identities: *flagIdentities, Topics: *flagTopics, Grants: *flagGrants, Steady: *flagSteady, Concurrency: concurrencies(b)})
	b.StopTimer()
	if res != nil {
		res.WriteMarkdown(os.Stdout)
	}
	if err != nil {
		b.Fatal(err)
	}
}
