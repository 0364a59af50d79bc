package filter

import (
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"
)

// fuzzFilters exercise every evaluator: flat fields, arrays shared by two
// fields, exists:false inside arrays, dotted keys, the value as a whole, and
// the other record fields. Short field names make the fuzzer's job easier.
var fuzzFilters = []string{
	`[{"value": {"status": ["failed"], "attempt": [{"numeric": [">=", 2]}]}}, {"key": [{"prefix": "job-"}]}]`,
	`[{"value": {"a": {"b": [1, "x", null, true, 2.5e1]}, "c": [{"exists": false}]}}]`,
	`[{"value": {"e": {"f": ["A"], "l": ["S"]}}}]`,
	`[{"value": {"i": {"n": [{"prefix": "x"}], "d": [{"exists": false}]}}}]`,
	`[{"value": {"a.b": [1], "a": {"c": [{"exists": true}]}}}]`,
	`[{"value": {"a": {"b": [{"exists": false}, 3], "c": [{"anything-but": [1, 2]}]}}}]`,
	`[{"value": [{"anything-but": ["error"]}]}, {"value": [{"wildcard": "*err*"}, {"equals-ignore-case": "OK"}]}]`,
	`[{"value": {"$or": [{"x": [{"numeric": ["<", 0]}]}, {"y": [{"equals-ignore-case": "ok"}]}], "z": [{"cidr": "10.0.0.0/8"}, {"suffix": ".png"}]}}]`,
	`[{"value": {"a": {"b": {"c": [1]}, "d": [2]}, "e": [{"exists": false}]}}]`,
	`[{"value": {"x": {"p": [{"exists": false}], "q": [{"exists": false}, 5]}}}]`,
	`[{"value": {"a": ["1.0", 1, {"prefix": "a"}], "b": {"c": [{"anything-but": {"prefix": "z"}}]}}}]`,
	`[{"value": {"a": [{"exists": true}], "b": [{"exists": true}], "c": {"d": [null]}}}]`,
	`[{"headers": {"h": ["x"], "content-type": [{"prefix": "application/"}]}, "value": {"a": [{"exists": false}]}}]`,
	`[{"value": {"": ["e"], "a": {"": [{"exists": true}]}}}]`,
	`[{"value": {"ip": ["10.0.0.1", {"cidr": "2001:db8::/32"}], "w": [{"wildcard": "a*b\\*c*"}]}}]`,
}

var fuzzSeeds = []string{
	`{"status":"failed","attempt":3}`,
	`{"a":{"b":[1,2]},"c":null}`,
	`{"e":[{"f":"A","l":"T"},{"f":"B","l":"S"}]}`,
	`{"e":[{"f":"A","l":["S","T"]},{"f":["A","B"],"l":"S"}]}`,
	`{"i":[{"n":"xa","d":1},{"n":"xb"}]}`,
	`{"i":[{"n":"xa","d":1},{"n":"y"}]}`,
	`{"a.b":1,"a":{"c":0}}`,
	`{"a":{"b":1},"a.b":2,"a":[{"c":3}]}`,
	`{"a":[{"b":3,"c":3},{"c":1}]}`,
	`{"a":[{"b":[{"c":1},{"c":2}],"d":2},{"d":3}],"e":[]}`,
	`{"x":[{"p":1},{"q":5},{"q":6,"p":2}]}`,
	`{"x":[[{"p":1}],[{"q":4}]]}`,
	`"error"`,
	`ERROR: disk full`,
	`{"z":"10.1.2.3","y":"OK"}`,
	`{"ip":"010.0.0.1","w":"aXb*cY"}`,
	`{"ip":"::ffff:a00:1","w":"ab*c"}`,
	`{"a":"\ud83d\ude80\u0041\\","b":"\ud800"}`,
	`{"a":1e400,"b":-0.0,"c":{"d":null}}`,
	`[{"a":1},{"b":2}]`,
	`{"":"e","a":{"":0}}`,
	"{\"a\":\"\xff\xfe\"}",
	`{"a":{"b":{"c":1}},"a":{"d":2}}`,
	`{"a":[1,"1.0","ab"],"b":[{"c":"za"},{"c":"q"}]}`,
}

func compileAll(t testing.TB, srcs []string) []*Filter {
	t.Helper()
	fs := make([]*Filter, len(srcs))
	for i, s := range srcs {
		f, err := Compile([]byte(s))
		if err != nil {
			t.Fatalf("Compile(%s): %v", s, err)
		}
		fs[i] = f
	}
	return fs
}

func fuzzRecords(value []byte) []*Record {
	return []*Record{
		{Topic: "orders", Partition: 3, Offset: 42, Timestamp: 1700000000000, Key: []byte("job-7"), Value: value,
			Headers: []Header{{"h", []byte("x")}, {"content-type", []byte("application/json")}, {"h", []byte("y")}}},
		{Topic: "t", Value: value, Headers: []Header{{"h", nil}}},
		{Topic: "t", Key: value, Value: nil, Headers: []Header{{"content-type", value}}},
	}
}

func FuzzMatch(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	for _, c := range loadConformance(f) {
		f.Add(c.eventText())
	}
	filters := compileAll(f, fuzzFilters)
	f.Fuzz(func(t *testing.T, value []byte) {
		// A hang would only eat the fuzzing time; make it a failure with
		// the input and the stacks.
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				buf := make([]byte, 1<<20)
				n := runtime.Stack(buf, true)
				panic(fmt.Sprintf("HANG value %q\n%s", value, buf[:n]))
			}
		}()
		for _, r := range fuzzRecords(value) {
			for i, flt := range filters {
				start := time.Now()
				got := flt.Match(r)
				if d := time.Since(start); d > time.Second {
					t.Fatalf("filter %s\nvalue %q\nMatch took %v", fuzzFilters[i], r.Value, d)
				}
				if len(value) > 1024 {
					continue
				}
				start = time.Now()
				want, ok := refMatch(flt, r)
				if d := time.Since(start); d > 2*time.Second {
					t.Fatalf("filter %s\nvalue %q\nreference took %v", fuzzFilters[i], r.Value, d)
				}
				if ok && got != want {
					t.Fatalf("filter %s\nvalue %q key %q\nMatch = %v, reference = %v", fuzzFilters[i], r.Value, r.Key, got, want)
				}
			}
		}
	})
}

var compileSeeds = []string{
	`[{"value": {"status": ["failed"], "attempt": [{"numeric": [">=", 2]}]}}, {"key": [{"prefix": "job-"}]}]`,
	`[{"value": {"a": [{"numeric": [">", 0, "<=", 5]}], "b": [{"anything-but": {"wildcard": ["*x*", "y*"]}}]}}]`,
	`[{"$or": [{"key": ["a"]}, {"topic": [{"suffix": "s"}]}], "partition": [0, 1]}]`,
	`[{"headers": {"h": [null, {"equals-ignore-case": "X"}]}}]`,
	`[{"value": {"a": ["x"]}}, {"value": {"a": ["x"]}}, {"value": {"a": ["x"]}}, {"value": {"a": ["x"]}}, {"value": {"a": ["x"]}}, {"value": {"a": ["x"]}}]`,
	`[{"value": {"a": [{"numeric": ["<", 5, ">", 1]}]}}]`,
	`[{"value": {"a": {"$or": [{"b": [1]}]}}}]`,
	`null`, `[]`, `{}`, `[{}]`, `[1]`, `[{"value": "x"}]`, `[{"value": {"a": []}}]`,
}

func FuzzCompile(f *testing.F) {
	for _, s := range compileSeeds {
		f.Add([]byte(s))
	}
	for _, s := range fuzzFilters {
		f.Add([]byte(s))
	}
	cases := loadConformance(f)
	for _, c := range cases {
		f.Add(conformanceFilter(c.patternText()))
	}
	var values [][]byte
	for i := 0; i < len(cases); i += 7 {
		values = append(values, cases[i].eventText())
	}
	for _, s := range fuzzSeeds[:8] {
		values = append(values, []byte(s))
	}
	f.Fuzz(func(t *testing.T, filter []byte) {
		flt, err := Compile(filter)
		if err != nil {
			var fe *Error
			if !errors.As(err, &fe) || fe.Message == "" {
				t.Fatalf("Compile(%q) returned %T %v, want a *Error with a message", filter, err, err)
			}
			return
		}
		if n := flt.Patterns(); n < 1 || n > MaxPatterns {
			t.Fatalf("compiled filter has %d patterns", n)
		}
		for _, v := range values {
			for _, r := range fuzzRecords(v) {
				got := flt.Match(r)
				if want, ok := refMatch(flt, r); ok && got != want {
					t.Fatalf("filter %s\nvalue %s\nMatch = %v, reference = %v", filter, r.Value, got, want)
				}
			}
		}
	})
}
