package invoke

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

var jsonCases = []string{
	`{}`, `[]`, `""`, `0`, `-0`, `1.5e-3`, `1E+9`, `true`, `false`, `null`, ` {"a" : [1, {"b":null}] } `,
	"\"\\u00e9\\n\\\"\\\\\\/\\b\\f\\r\\t\"", `"\ud800"`, `"é✓😀"`, "\t\r\n[1]\n",
	``, ` `, `{`, `}`, `[1,]`, `{"a":1,}`, `{"a"}`, `{1:2}`, `01`, `1.`, `.5`, `-`, `1e`, `1e+`, `+1`,
	`tru`, `truex`, `nul`, `"abc`, `"\x"`, `"\u12"`, `"\u12g4"`, "\"a\x01\"", "\"\xff\"", "\"\xed\xa0\x80\"",
	`1 2`, `[1 2]`, `{"a":1 "b":2}`, `[}`, `{]`, `NaN`, `"\`,
	strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth),
	strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1),
	strings.Repeat(`{"a":`, maxDepth) + "1" + strings.Repeat("}", maxDepth),
	strings.Repeat(`{"a":`, maxDepth+1) + "1" + strings.Repeat("}", maxDepth+1),
}

func TestValidJSON(t *testing.T) {
	for _, c := range jsonCases {
		want := utf8.ValidString(c) && json.Valid([]byte(c))
		if got := validJSON([]byte(c)); got != want {
			t.Errorf("validJSON(%.40q) = %v, want %v", c, got, want)
		}
	}
}

// FuzzValidJSON holds validJSON to encoding/json and unicode/utf8.
func FuzzValidJSON(f *testing.F) {
	for _, c := range jsonCases[:len(jsonCases)-4] {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		if got, want := validJSON(v), utf8.Valid(v) && json.Valid(v); got != want {
			t.Errorf("validJSON(%q) = %v, want %v", v, got, want)
		}
	})
}
