package filter

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestLargeInputs feeds big and adversarial records; each must be decided
// quickly (the bound is loose: it catches super-linear blow-ups, not
// slowness, and leaves room for -race and a busy machine).
func TestLargeInputs(t *testing.T) {
	var b strings.Builder
	tests := []struct {
		name   string
		filter string
		rec    func() *Record
		want   bool
	}{
		{"array of objects, match at the end", `[{"value": {"e": {"f": ["A"], "l": ["S"]}}}]`, func() *Record {
			b.Reset()
			b.WriteString(`{"e":[`)
			for i := 0; i < 30000; i++ {
				b.WriteString(`{"f":"A","l":"T"},{"f":"B","l":"S"},`)
			}
			b.WriteString(`{"f":"A","l":"S"}]}`)
			return &Record{Value: []byte(b.String())}
		}, true},
		{"array of objects, no match", `[{"value": {"e": {"f": ["A"], "l": ["S"], "x": [{"exists": false}]}}}]`, func() *Record {
			b.Reset()
			b.WriteString(`{"e":[`)
			for i := 0; i < 30000; i++ {
				b.WriteString(`{"f":"A","l":"S","x":1},{"f":"B","l":"S"},`)
			}
			b.WriteString(`{"f":"A","l":"T"}]}`)
			return &Record{Value: []byte(b.String())}
		}, false},
		{"nested arrays near the depth limit", `[{"value": {"a": {"b": [1], "c": [2]}}}]`, func() *Record {
			b.Reset()
			b.WriteString(`{"a":[`)
			for i := 0; i < 300; i++ {
				b.WriteString(strings.Repeat("[", 120) + `{"b":1,"c":3},{"b":0,"c":2}` + strings.Repeat("]", 120) + ",")
			}
			b.WriteString(`{"b":1}]}`)
			return &Record{Value: []byte(b.String())}
		}, false},
		{"dotted keys and shared arrays", `[{"value": {"a": {"b": ["x"], "c": ["y"], "d": [{"exists": false}]}}}]`, func() *Record {
			b.Reset()
			b.WriteString(`{"a":[`)
			for i := 0; i < 3000; i++ {
				b.WriteString(`{"b":"x","c":"z","d":1},{"b":"w","c":"y"},`)
			}
			b.WriteString(`{"b":"w"}],"a.c":"q"}`)
			return &Record{Value: []byte(b.String())}
		}, false},
		{"long escaped string at a named path", `[{"value": {"s": [{"suffix": "end"}]}}]`, func() *Record {
			return &Record{Value: []byte(`{"s":"` + strings.Repeat(`\u00e9\n\"`, 200000) + `end"}`)}
		}, true},
		{"many keys", `[{"value": {"k1": [1], "k2": [2], "k3": [3], "k4": [4], "k5": [5], "k6": [6], "k7": [7], "k8": [8], "k9": [9], "k49999": [{"exists": true}]}}]`, func() *Record {
			b.Reset()
			b.WriteString("{")
			for i := 0; i < 50000; i++ {
				fmt.Fprintf(&b, `"k%d":%d,`, i, i)
			}
			b.WriteString(`"end":0}`)
			return &Record{Value: []byte(b.String())}
		}, true},
		{"many duplicate keys", `[{"value": {"a": {"b": [7]}}}]`, func() *Record {
			b.Reset()
			b.WriteString("{")
			for i := 0; i < 50000; i++ {
				fmt.Fprintf(&b, `"a":[{"b":%d},{"b":%d}],`, i, i+1)
			}
			b.WriteString(`"a":{"b":7}}`)
			return &Record{Value: []byte(b.String())}
		}, true},
		{"many headers", `[{"headers": {"h": ["v99999"], "g": ["x"]}}]`, func() *Record {
			hs := make([]Header, 0, 100001)
			for i := 0; i < 100000; i++ {
				hs = append(hs, Header{"h", []byte(fmt.Sprintf("v%d", i))})
			}
			hs = append(hs, Header{"g", []byte("x")})
			return &Record{Headers: hs}
		}, true},
		{"too deep", `[{"value": [{"exists": false}]}]`, func() *Record {
			return &Record{Value: []byte(strings.Repeat("[", 1<<20))}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustCompile(t, tt.filter)
			r := tt.rec()
			start := time.Now()
			got := f.Match(r)
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Match took %v on %d bytes", d, len(r.Value))
			}
			if got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}
