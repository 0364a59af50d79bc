//go:build !race

package filter

import "testing"

// Under the race detector sync.Pool drops objects on purpose, so this
// file is built only without it; `make test` runs it in its test-norace
// step.

func TestMatchDoesNotAllocate(t *testing.T) {
	f := mustCompile(t, benchFilters[2].filter)
	r := &Record{Topic: "t", Key: []byte("job-1"), Value: []byte(benchEvent)}
	f.Match(r)
	if n := testing.AllocsPerRun(100, func() { f.Match(r) }); n != 0 {
		t.Errorf("Match allocates %v times per call", n)
	}
}
