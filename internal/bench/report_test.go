package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestReport(t *testing.T) {
	mk := func(label string, recs int64, p99 time.Duration) Result {
		return Result{Mode: ModeProduce, Label: label, Topic: "t", Partitions: 8, RecordSize: 100,
			Clients: 1, Acks: "all", Compression: "none", BatchBytes: 1_000_000,
			Records: recs, Bytes: recs * 100, Elapsed: time.Second,
			Latency: Latency{Count: uint64(recs), P50: p99 / 2, P99: p99, P999: p99, Max: p99}}
	}
	var csvBuf bytes.Buffer
	if err := WriteCSV(&csvBuf, true, mk("a", 100, 10*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	// A second, appended file repeats the header; of a's three runs the
	// median (200 records/s) stands for them.
	if err := WriteCSV(&csvBuf, true, mk("b", 50, 20*time.Millisecond), mk("a", 300, time.Millisecond), mk("a", 200, 10*time.Millisecond)); err != nil {
		t.Fatal(err)
	}

	var out strings.Builder
	if err := Report(&out, &csvBuf, []Pair{{"a", "b"}, {"a", "missing"}}); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"| produce 100B acks=all none 8p x1 | a | 3 | 200 | 0.02 | 5.000 | 10.000 | 10.000 | – | 0 | 100–300 rec/s |",
		"| produce 100B acks=all none 8p x1 | b | 1 | 50 | 0.01 | 10.000 | 20.000 | 20.000 | – | 0 | – |",
		"| produce 100B acks=all none 8p x1 | a / b | 4.00 | 0.50 | 0.50 | 0.50 |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "missing") || strings.Count(got, "| a |") != 1 {
		t.Errorf("report:\n%s", got)
	}
}

func TestParsePair(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Pair
		ok   bool
	}{
		{"octopus/kfake", Pair{"octopus", "kfake"}, true},
		{"octopus", Pair{}, false},
		{"/kfake", Pair{}, false},
		{"octopus/", Pair{}, false},
	} {
		got, err := ParsePair(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParsePair(%q) = %v, %v", tt.in, got, err)
		}
	}
}
