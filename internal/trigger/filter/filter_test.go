package filter

import (
	"strings"
	"sync"
	"testing"
)

func mustCompile(t testing.TB, filter string) *Filter {
	t.Helper()
	f, err := Compile([]byte(filter))
	if err != nil {
		t.Fatalf("Compile(%s): %v", filter, err)
	}
	return f
}

func hdrs(kv ...string) []Header {
	var hs []Header
	for i := 0; i+1 < len(kv); i += 2 {
		hs = append(hs, Header{kv[i], []byte(kv[i+1])})
	}
	return hs
}

func TestRecordFields(t *testing.T) {
	base := Record{Topic: "lab.metrics", Partition: 2, Offset: 1500, Timestamp: 1700000000123,
		Key: []byte("job-17"), Value: []byte(`{"status":"failed","attempt":3}`),
		Headers: hdrs("content-type", "application/json", "site", "alcf", "site", "nersc")}
	with := func(edit func(r *Record)) *Record {
		r := base
		r.Headers = append([]Header(nil), base.Headers...)
		edit(&r)
		return &r
	}
	tests := []struct {
		name   string
		filter string
		rec    *Record
		want   bool
	}{
		{"key prefix", `[{"key": [{"prefix": "job-"}]}]`, &base, true},
		{"key prefix no", `[{"key": [{"prefix": "task-"}]}]`, &base, false},
		{"key exact", `[{"key": ["job-17"]}]`, &base, true},
		{"key is text even when it is JSON", `[{"key": ["{\"a\": 1}"]}]`, with(func(r *Record) { r.Key = []byte(`{"a": 1}`) }), true},
		{"key holding a number is a string", `[{"key": ["42"]}]`, with(func(r *Record) { r.Key = []byte(`42`) }), true},
		{"no key is absent", `[{"key": [{"exists": false}]}]`, with(func(r *Record) { r.Key = nil }), true},
		{"no key fails exists", `[{"key": [{"exists": true}]}]`, with(func(r *Record) { r.Key = nil }), false},
		{"empty key is present", `[{"key": [""]}]`, with(func(r *Record) { r.Key = []byte{} }), true},
		{"empty key is not absent", `[{"key": [{"exists": false}]}]`, with(func(r *Record) { r.Key = []byte{} }), false},
		{"no key fails anything-but", `[{"key": [{"anything-but": "x"}]}]`, with(func(r *Record) { r.Key = nil }), false},
		{"header", `[{"headers": {"content-type": ["application/json"]}}]`, &base, true},
		{"header names are case-sensitive", `[{"headers": {"Content-Type": ["application/json"]}}]`, &base, false},
		{"repeated header, first value", `[{"headers": {"site": ["alcf"]}}]`, &base, true},
		{"repeated header, second value", `[{"headers": {"site": [{"suffix": "sc"}]}}]`, &base, true},
		{"repeated header, no value", `[{"headers": {"site": ["olcf"]}}]`, &base, false},
		{"repeated header with another header", `[{"headers": {"site": ["nersc"], "content-type": [{"prefix": "application/"}]}}]`, &base, true},
		{"missing header", `[{"headers": {"trace": [{"exists": false}]}}]`, &base, true},
		{"missing header fails", `[{"headers": {"trace": [{"exists": true}]}}]`, &base, false},
		{"header without value is null", `[{"headers": {"flag": [null]}}]`, with(func(r *Record) { r.Headers = append(r.Headers, Header{"flag", nil}) }), true},
		{"header with dots", `[{"headers": {"trace.id": ["abc"]}}]`, with(func(r *Record) { r.Headers = hdrs("trace.id", "abc") }), true},
		{"topic", `[{"topic": [{"prefix": "lab."}]}]`, &base, true},
		{"topic no", `[{"topic": ["lab.other"]}]`, &base, false},
		{"partition", `[{"partition": [0, 2]}]`, &base, true},
		{"partition no", `[{"partition": [{"numeric": [">", 2]}]}]`, &base, false},
		{"offset", `[{"offset": [{"numeric": [">=", 1000, "<", 2000]}]}]`, &base, true},
		{"offset exact", `[{"offset": [1500]}]`, &base, true},
		{"timestamp", `[{"timestamp": [{"numeric": [">", 1699999999999]}]}]`, &base, true},
		{"timestamp no", `[{"timestamp": [{"numeric": ["<", 1600000000000]}]}]`, &base, false},
		{"fields ANDed across record fields", `[{"topic": ["lab.metrics"], "key": ["job-17"], "value": {"status": ["failed"]}, "headers": {"site": ["alcf"]}}]`, &base, true},
		{"fields ANDed, one fails", `[{"topic": ["lab.metrics"], "key": ["job-18"], "value": {"status": ["failed"]}}]`, &base, false},
		{"$or across record fields", `[{"$or": [{"key": ["nope"]}, {"partition": [2]}]}]`, &base, true},
		{"issue example, value branch", `[{"value": {"status": ["failed"], "attempt": [{"numeric": [">=", 2]}]}}, {"key": [{"prefix": "job-"}]}]`,
			with(func(r *Record) { r.Key = nil }), true},
		{"issue example, key branch", `[{"value": {"status": ["failed"], "attempt": [{"numeric": [">=", 2]}]}}, {"key": [{"prefix": "job-"}]}]`,
			with(func(r *Record) { r.Value = []byte(`{"status":"ok"}`) }), true},
		{"issue example, neither", `[{"value": {"status": ["failed"], "attempt": [{"numeric": [">=", 2]}]}}, {"key": [{"prefix": "job-"}]}]`,
			with(func(r *Record) { r.Value = []byte(`{"status":"failed","attempt":1}`); r.Key = []byte("x") }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustCompile(t, tt.filter).Match(tt.rec); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestValueDecoding(t *testing.T) {
	deep := strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1)
	okDepth := strings.Repeat("[", MaxDepth) + `"x"` + strings.Repeat("]", MaxDepth)
	tests := []struct {
		name   string
		filter string
		value  []byte
		want   bool
	}{
		{"plain text is a string", `[{"value": [{"prefix": "ERROR"}]}]`, []byte("ERROR: disk full"), true},
		{"plain text has no fields", `[{"value": {"status": ["failed"]}}]`, []byte("status failed"), false},
		{"plain text lacks fields", `[{"value": {"status": [{"exists": false}]}}]`, []byte("status failed"), true},
		{"JSON string", `[{"value": ["failed"]}]`, []byte(`"failed"`), true},
		{"JSON string with whitespace", `[{"value": ["failed"]}]`, []byte(" \"failed\"\n"), true},
		{"JSON number", `[{"value": [{"numeric": [">", 1]}]}]`, []byte(`2.5`), true},
		{"number text is not a string", `[{"value": ["2.5"]}]`, []byte(`2.5`), false},
		{"invalid JSON is text", `[{"value": ["{\"a\": 1"]}]`, []byte(`{"a": 1`), true},
		{"invalid JSON has no fields", `[{"value": {"a": [1]}}]`, []byte(`{"a": 1,}`), false},
		{"leading zero is not JSON", `[{"value": ["01"]}]`, []byte(`01`), true},
		{"control character is not JSON", `[{"value": [{"prefix": "\"a"}]}]`, []byte("\"a\tb\""), true},
		{"empty value is the empty string", `[{"value": [""]}]`, []byte{}, true},
		{"tombstone is null", `[{"value": [null]}]`, nil, true},
		{"JSON null is null", `[{"value": [null]}]`, []byte("null"), true},
		{"tombstone exists", `[{"value": [{"exists": true}]}]`, nil, true},
		{"tombstone has no fields", `[{"value": {"a": [{"exists": false}]}}]`, nil, true},
		{"tombstone is not text", `[{"value": [""]}]`, nil, false},
		{"object is not a leaf", `[{"value": [{"exists": true}]}]`, []byte(`{"a":1}`), false},
		{"top-level array", `[{"value": [2]}]`, []byte(`[1,2,3]`), true},
		{"top-level array of objects", `[{"value": {"a": ["y"], "b": [2]}}]`, []byte(`[{"a":"x","b":2},{"a":"y","b":2}]`), true},
		{"escapes decoded", `[{"value": {"a": ["tab\there é 🚀"]}}]`, []byte(`{"a":"tab\there \u00e9 \ud83d\ude80"}`), true},
		{"escaped key", `[{"value": {"ab": [1]}}]`, []byte(`{"\u0061b":1}`), true},
		{"invalid UTF-8 as U+FFFD", `[{"value": {"a": ["x\ufffdy"]}}]`, []byte("{\"a\":\"x\xffy\"}"), true},
		{"lone surrogate as U+FFFD", `[{"value": {"a": ["\ufffd"]}}]`, []byte(`{"a":"\ud800"}`), true},
		{"duplicate key: last wins", `[{"value": {"a": [2]}}]`, []byte(`{"a":1,"a":2}`), true},
		{"duplicate key: first lost", `[{"value": {"a": [1]}}]`, []byte(`{"a":1,"a":2}`), false},
		{"duplicate object key: first lost", `[{"value": {"a": {"b": [1]}}}]`, []byte(`{"a":{"b":1},"a":{"c":2}}`), false},
		{"dotted key", `[{"value": {"a": {"b": [1]}}}]`, []byte(`{"a.b":1}`), true},
		{"dotted pattern", `[{"value": {"a.b": [1]}}]`, []byte(`{"a":{"b":1}}`), true},
		{"deep value: ok at the limit", `[{"value": ["x"]}]`, []byte(okDepth), true},
		{"deep value never matches", `[{"value": [{"exists": false}]}]`, []byte(deep), false},
		{"number by value", `[{"value": {"n": [301.8]}}]`, []byte(`{"n":3.018e2}`), true},
		{"huge number by spelling", `[{"value": {"n": [1e400]}}]`, []byte(`{"n":1e400}`), true},
		{"huge number is not +Inf", `[{"value": {"n": [1e400]}}]`, []byte(`{"n":2e400}`), false},
		{"huge number compares", `[{"value": {"n": [{"numeric": [">", 1e300]}]}}]`, []byte(`{"n":1e400}`), true},
		{"IP literal by address", `[{"value": {"ip": ["2001:db8::1"]}}]`, []byte(`{"ip":"2001:0DB8:0:0:0:0:0:1"}`), true},
		{"IPv4-mapped address", `[{"value": {"ip": [{"cidr": "10.0.0.0/8"}]}}]`, []byte(`{"ip":"::ffff:a00:1"}`), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustCompile(t, tt.filter)
			if got := f.Match(&Record{Value: tt.value}); got != tt.want {
				t.Errorf("Match(%q) = %v, want %v", tt.value, got, tt.want)
			}
		})
	}
	// A deep value spoils only the patterns that look at the value.
	f := mustCompile(t, `[{"value": [{"exists": false}]}, {"key": ["k"]}]`)
	if !f.Match(&Record{Key: []byte("k"), Value: []byte(deep)}) {
		t.Error("a deep value stopped a key pattern from matching")
	}
}

func TestArrayConsistency(t *testing.T) {
	tests := []struct {
		name   string
		filter string
		value  string
		want   bool
	}{
		{"same element", `[{"value": {"e": {"f": ["A"], "l": ["S"]}}}]`, `{"e":[{"f":"B","l":"T"},{"f":"A","l":"S"}]}`, true},
		{"different elements", `[{"value": {"e": {"f": ["A"], "l": ["S"]}}}]`, `{"e":[{"f":"A","l":"T"},{"f":"B","l":"S"}]}`, false},
		{"array of leaves: one element each", `[{"value": {"a": [1], "$or": [{"b": [2]}, {"c": [3]}]}}]`, `{"a":[1,2],"b":[2]}`, true},
		{"$or branch with a field in another element", `[{"value": {"e": {"f": ["A"]}, "$or": [{"e": {"g": [1]}}, {"h": [1]}]}}]`, `{"e":[{"f":"A"},{"g":1}]}`, false},
		{"nested arrays", `[{"value": {"e": {"f": ["A"], "i": [7]}}}]`, `{"e":[[{"f":"A","i":[1,7]}],[{"f":"B","i":[]}]]}`, true},
		{"nested arrays, apart", `[{"value": {"e": {"f": ["A"], "i": [7]}}}]`, `{"e":[[{"f":"A","i":[1]}],[{"f":"B","i":[7]}]]}`, false},
		{"outer and inner fields", `[{"value": {"o": {"n": ["x"], "in": {"v": [2]}}}}]`, `{"o":[{"n":"x","in":[{"v":1}]},{"n":"y","in":[{"v":2}]}]}`, false},
		{"outer and inner fields, together", `[{"value": {"o": {"n": ["x"], "in": {"v": [2]}}}}]`, `{"o":[{"n":"x","in":[{"v":1},{"v":2}]}]}`, true},
		{"fields in separate arrays", `[{"value": {"a": {"x": [1]}, "b": {"y": [2]}}}]`, `{"a":[{"x":0},{"x":1}],"b":[{"y":2}]}`, true},
		// exists:false inside an array of objects looks at the element the
		// other fields matched in.
		{"absent in the matching element", `[{"value": {"i": {"n": ["x"], "d": [{"exists": false}]}}}]`, `{"i":[{"n":"y","d":true},{"n":"x"}]}`, true},
		{"present in the matching element", `[{"value": {"i": {"n": ["x"], "d": [{"exists": false}]}}}]`, `{"i":[{"n":"x","d":true},{"n":"y"}]}`, false},
		{"absent with nothing to anchor it", `[{"value": {"i": {"d": [{"exists": false}]}}}]`, `{"i":[{"n":"x"},{"d":1}]}`, false},
		{"dotted keys with shared arrays", `[{"value": {"a": {"b": ["x"], "c": ["y"]}}}]`, `{"a":[{"b":"x","c":"z"},{"b":"w","c":"y"}],"a.c":"y"}`, true},
		{"dotted keys with shared arrays, no", `[{"value": {"a": {"b": ["x"], "c": ["y"]}}}]`, `{"a":[{"b":"x","c":"z"},{"b":"w","c":"y"}],"a.c":"q"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustCompile(t, tt.filter)
			r := &Record{Value: []byte(tt.value)}
			if got := f.Match(r); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
			if want, ok := refMatch(f, r); !ok || want != tt.want {
				t.Errorf("reference = %v (decided %v), want %v", want, ok, tt.want)
			}
		})
	}
}

func TestPatternsORed(t *testing.T) {
	f := mustCompile(t, `[
		{"value": {"n": [1]}},
		{"value": {"n": [2]}},
		{"key": ["k3"]},
		{"headers": {"h": ["4"]}},
		{"topic": ["t5"]}
	]`)
	if f.Patterns() != 5 {
		t.Fatalf("Patterns() = %d, want 5", f.Patterns())
	}
	recs := []*Record{
		{Topic: "x", Value: []byte(`{"n":1}`)},
		{Topic: "x", Value: []byte(`{"n":2}`)},
		{Topic: "x", Key: []byte("k3")},
		{Topic: "x", Headers: hdrs("h", "4")},
		{Topic: "t5"},
	}
	for i, r := range recs {
		if !f.Match(r) {
			t.Errorf("record %d does not match its pattern", i)
		}
	}
	if f.Match(&Record{Topic: "x", Value: []byte(`{"n":3}`), Key: []byte("k"), Headers: hdrs("h", "5")}) {
		t.Error("a record matching no pattern matched")
	}
}

func TestNilFilterAndRecord(t *testing.T) {
	var f *Filter
	if !f.Match(&Record{}) {
		t.Error("a nil filter must match every record")
	}
	if mustCompile(t, `[{"topic": [{"exists": true}]}]`).Match(nil) {
		t.Error("a nil record matched")
	}
}

func TestConcurrentMatch(t *testing.T) {
	f := mustCompile(t, `[{"value": {"e": {"f": ["A"], "l": ["S"]}}}, {"key": [{"prefix": "job-"}]}]`)
	recs := []struct {
		r    Record
		want bool
	}{
		{Record{Value: []byte(`{"e":[{"f":"A","l":"S"}]}`)}, true},
		{Record{Value: []byte(`{"e":[{"f":"A"},{"l":"S"}]}`)}, false},
		{Record{Key: []byte("job-1"), Value: []byte(`x`)}, true},
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				c := &recs[i%len(recs)]
				if f.Match(&c.r) != c.want {
					t.Errorf("record %d: wrong result", i%len(recs))
					return
				}
			}
		}()
	}
	wg.Wait()
}
