package filter

import (
	"flag"
	"os"
	"testing"
)

// TestMain shortens the minimization of new fuzz inputs from Go's default
// 60 s to 5 s unless -fuzzminimizetime is given: each input here runs many
// matches, so minimizing a large one would otherwise use up a whole 60 s
// fuzzing run with nothing fuzzed.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "test.fuzzminimizetime" {
			set = true
		}
	})
	if f := flag.Lookup("test.fuzzminimizetime"); f != nil && !set {
		_ = f.Value.Set("5s")
	}
	os.Exit(m.Run())
}
