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
	if err := Report(&out, &csvBuf, ReportOptions{Pairs: []Pair{{"a", "b"}, {"a", "missing"}}}); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"| produce 100B acks=all none 8p x1 | franz-go | a | 3 | 200 | 0.02 | 5.000 | 10.000 | 10.000 | – | 0 | 100–300 rec/s |",
		"| produce 100B acks=all none 8p x1 | franz-go | b | 1 | 50 | 0.01 | 10.000 | 20.000 | 20.000 | – | 0 | – |",
		"| produce 100B acks=all none 8p x1 | franz-go | a / b | 4.00 | 0.50 | 0.50 | 0.50 |",
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

func TestReportVersusAndFigures(t *testing.T) {
	tput := func(label, client string, mode Mode, recs int64) Result {
		return Result{Mode: mode, Label: label, Client: client, Workload: string(mode) + " 1KiB", Topic: "t",
			Partitions: 8, RecordSize: 1024, Records: recs, Bytes: recs * 1024, Elapsed: time.Second}
	}
	e2e := func(label string, p99 time.Duration) Result {
		return Result{Mode: ModeE2E, Label: label, Workload: "e2e 1KiB 10000/s", Records: 10000,
			Elapsed: time.Second, Latency: Latency{Count: 10000, P50: p99 / 4, P99: p99, P999: 2 * p99, Max: 3 * p99}}
	}
	fig := func(label string, mode Mode, name string, v float64, unit string) Result {
		return Result{Mode: mode, Label: label, Workload: name, Value: v, Unit: unit}
	}
	var csvBuf bytes.Buffer
	if err := WriteCSV(&csvBuf, true,
		tput("oct", "", ModeProduce, 300), tput("kafka", "", ModeProduce, 100), tput("kfake", "", ModeProduce, 200),
		tput("oct", ClientKafkaTools, ModeProduce, 150), tput("kafka", ClientKafkaTools, ModeProduce, 50),
		tput("oct", "", ModeConsume, 400), tput("kafka", "", ModeConsume, 800),
		e2e("oct", 2*time.Millisecond), e2e("kafka", 4*time.Millisecond), e2e("kfake", time.Millisecond),
		fig("oct", ModeReady, "start to ready", 20, "ms"), fig("kafka", ModeReady, "start to ready", 4000, "ms"),
		fig("oct", ModeMemory, "memory VmRSS idle", 30, "MiB"), fig("kafka", ModeMemory, "memory VmRSS idle", 300, "MiB"),
		fig("kfake", ModeMemory, "memory VmRSS idle", 15, "MiB"),
		fig("oct", ModeRebalance, "rebalance 4 members 8p join", 130, "ms"),
		fig("oct", ModeRebalance, "rebalance 4 members 8p join", 110, "ms"),
		fig("oct", ModeRebalance, "rebalance 4 members 8p join", 900, "ms"),
		fig("kafka", ModeRebalance, "rebalance 4 members 8p join", 220, "ms"),
	); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := Report(&out, &csvBuf, ReportOptions{Versus: []Versus{{"oct", "kafka", "kfake"}}}); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"| workload | client | broker | runs | records/s |",
		"| produce 1KiB | kafka-tools | oct | 1 | 150 |",
		"| measure | broker | runs | value | unit | range of runs |",
		"| rebalance 4 members 8p join | oct | 3 | 130.000 | ms | 110.000–900.000 ms |",
		"| workload | client | figure | oct | kafka | kfake | Octopus/Kafka | Octopus/kfake |",
		"| produce 1KiB | franz-go | records/s | 300 | 100 | 200 | 3.00 | 1.50 |",
		"| produce 1KiB | kafka-tools | records/s | 150 | 50 | – | 3.00 | – |",
		"| consume 1KiB | franz-go | records/s | 400 | 800 | – | 0.50 | – |",
		"| e2e 1KiB 10000/s | franz-go | p50 ms | 0.500 | 1.000 | 0.250 | 0.50 | 2.00 |",
		"| e2e 1KiB 10000/s | franz-go | p99 ms | 2.000 | 4.000 | 1.000 | 0.50 | 2.00 |",
		"| e2e 1KiB 10000/s | franz-go | p99.9 ms | 4.000 | 8.000 | 2.000 | 0.50 | 2.00 |",
		"| start to ready | – | ms | 20.000 | 4000.000 | – | 0.005 | – |",
		"| memory VmRSS idle | – | MiB | 30.000 | 300.000 | 15.000 | 0.10 | 2.00 |",
		"| rebalance 4 members 8p join | franz-go | ms | 130.000 | 220.000 | – | 0.59 | – |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
}

// TestReportOldCSV reads a file written before the client, value and unit
// columns existed.
func TestReportOldCSV(t *testing.T) {
	old := `label,workload,mode,topic,partitions,record_size,clients,acks,compression,batch_bytes,records,bytes,errors,elapsed_s,records_per_s,mb_per_s,p50_ms,p99_ms,p999_ms,max_ms,first_record_ms
octopus-never,produce 1KiB acks=all 8p,produce,bench-1k,8,1024,1,all,none,1000000,3824815,3916610560,0,5.000,764963,783.32,57.410,170.918,207.618,250.000,0.000
kfake-mem,produce 1KiB acks=all 8p,produce,bench-1k,8,1024,1,all,none,1000000,2500940,2560962560,0,5.000,500188,512.19,68.157,440.402,467.665,500.000,0.000
`
	var out strings.Builder
	if err := Report(&out, strings.NewReader(old), ReportOptions{
		Pairs: []Pair{{"octopus-never", "kfake-mem"}}, Versus: []Versus{{"octopus-never", "", "kfake-mem"}},
	}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| produce 1KiB acks=all 8p | franz-go | octopus-never | 1 | 764963 | 783.32 |",
		"| produce 1KiB acks=all 8p | franz-go | octopus-never / kfake-mem | 1.53 |",
		"| produce 1KiB acks=all 8p | franz-go | records/s | 764963 | – | 500188 | – | 1.53 |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestParseVersus(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Versus
		ok   bool
	}{
		{"octopus-never/kafka/kfake-disk", Versus{"octopus-never", "kafka", "kfake-disk"}, true},
		{"octopus-never/kafka/", Versus{"octopus-never", "kafka", ""}, true},
		{"octopus-never//kfake-disk", Versus{"octopus-never", "", "kfake-disk"}, true},
		{"octopus-never//", Versus{}, false},
		{"/kafka/kfake", Versus{}, false},
		{"octopus-never/kafka", Versus{}, false},
	} {
		got, err := ParseVersus(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseVersus(%q) = %v, %v", tt.in, got, err)
		}
	}
}
