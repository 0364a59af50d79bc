package filter

import "testing"

// benchEvent is a task event of about 300 bytes, as an HPC job reporter
// would publish it.
const benchEvent = `{"task_id":"3f2a9c1e-8b7d-4e5f-a6b1-c2d3e4f5a6b7","status":"failed","attempt":3,"host":"nid00123",` +
	`"site":"alcf","user":"sci-42","queue":"prod","ip":"10.1.2.3","metrics":{"cpu":0.93,"mem_gb":12.5,"gpu_util":0.71},` +
	`"tags":["gpu","a100"],"started":"2025-10-15T09:12:44Z","message":"Task exited with code 137 (OOM)"}`

var benchFilters = []struct {
	name   string
	filter string
	match  bool
}{
	{"exact", `[{"value": {"status": ["failed"]}}]`, true},
	{"issue-example", `[{"value": {"status": ["failed"], "attempt": [{"numeric": [">=", 2]}]}}, {"key": [{"prefix": "job-"}]}]`, true},
	{"five-patterns", `[
		{"value": {"host": [{"prefix": "login"}], "status": ["failed"]}},
		{"value": {"status": [{"anything-but": ["ok", "running", "queued"]}], "queue": ["debug"]}},
		{"value": {"message": [{"wildcard": "*timeout*"}]}},
		{"value": {"ip": [{"cidr": "192.168.0.0/16"}], "tags": ["gpu"]}},
		{"value": {"$or": [{"metrics": {"cpu": [{"numeric": [">", 0.9]}]}}, {"metrics": {"mem_gb": [{"numeric": [">", 64]}]}}], "tags": ["a100"]}}
	]`, true},
}

func BenchmarkMatch(b *testing.B) {
	r := &Record{Topic: "alcf.tasks", Partition: 1, Offset: 123456, Timestamp: 1760519564000,
		Key: []byte("task-3f2a9c1e"), Value: []byte(benchEvent)}
	for _, bf := range benchFilters {
		b.Run(bf.name, func(b *testing.B) {
			f := mustCompile(b, bf.filter)
			if got := f.Match(r); got != bf.match {
				b.Fatalf("Match = %v, want %v", got, bf.match)
			}
			b.SetBytes(int64(len(benchEvent)))
			b.ReportAllocs()
			for b.Loop() {
				f.Match(r)
			}
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	filter := []byte(benchFilters[2].filter)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(filter); err != nil {
			b.Fatal(err)
		}
	}
}
