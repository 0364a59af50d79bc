package filter

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestInvalid covers every class of filter that Compile rejects: those AWS
// rejects (event-patterns.md; event-ruler's JsonRuleCompiler) and the few
// Octopus adds for record fields. Each reports the exact place.
func TestInvalid(t *testing.T) {
	tests := []struct {
		name, filter, path, msg string
	}{
		// The filter as a whole.
		{"not JSON", `[{"value": }]`, "", "not valid JSON"},
		{"empty text", ``, "", "empty"},
		{"null", `null`, "", "no filter at all"},
		{"object, not list", `{"value": {"a": [1]}}`, "", "JSON list of 1 to 5 patterns"},
		{"empty list", `[]`, "", "empty list"},
		{"six patterns", `[{"key":["a"]},{"key":["a"]},{"key":["a"]},{"key":["a"]},{"key":["a"]},{"key":["a"]}]`, "[5]", "at most 5"},
		{"trailing data", `[{"key": ["a"]}] x`, "", "not valid JSON"},
		{"filter too big", `[{"key": ["` + strings.Repeat("a", MaxFilterSize) + `"]}]`, "", "limit is 24576"},
		{"pattern too big", `[{"key": ["` + strings.Repeat("a", MaxPatternSize) + `"]}]`, "[0]", "limit is 4096"},
		// Pattern structure.
		{"pattern not object", `[["a"]]`, "[0]", "must be a JSON object"},
		{"empty pattern", `[{"key": ["a"]}, {}]`, "[1]", "empty pattern"},
		{"unknown record field", `[{"status": ["failed"]}]`, "[0].status", `unknown record field "status"`},
		{"record field in $or", `[{"$or": [{"key": ["a"]}, {"body": ["b"]}]}]`, "[0].$or[1].body", "unknown record field"},
		{"key not a list", `[{"key": "job-1"}]`, "[0].key", `takes a list of values, e.g. "key": ["job-17"]`},
		{"key as object", `[{"key": {"a": ["b"]}}]`, "[0].key", "single string"},
		{"partition not a list", `[{"partition": 0}]`, "[0].partition", `e.g. "partition": [0]`},
		{"headers not object", `[{"headers": ["a"]}]`, "[0].headers", "object of header names"},
		{"header nested", `[{"headers": {"h": {"x": ["a"]}}}]`, "[0].headers.h", "header's values go in a list"},
		{"value scalar", `[{"value": "failed"}]`, "[0].value", "value takes an object"},
		{"leaf not a list", `[{"value": {"status": "failed"}}]`, "[0].value.status", `"status": ["failed"]`},
		{"leaf number not a list", `[{"value": {"n": 5}}]`, "[0].value.n", `"n": [5]`},
		{"quoted name in path", `[{"value": {"a b": 5}}]`, `[0].value["a b"]`, "list"},
		{"empty list", `[{"value": {"status": []}}]`, "[0].value.status", "empty list matches nothing"},
		{"empty object", `[{"value": {"detail": {}}}]`, "[0].value.detail", "empty object"},
		{"list in list", `[{"value": {"a": [["x"]]}}]`, "[0].value.a[0]", "another list"},
		// Operator objects.
		{"empty operator", `[{"value": {"a": [{}]}}]`, "[0].value.a[0]", "empty object is not a value"},
		{"two operators", `[{"value": {"a": [{"prefix": "x", "suffix": "y"}]}}]`, "[0].value.a[0]", "exactly one operator"},
		{"unknown operator", `[{"value": {"a": [{"contains": "x"}]}}]`, "[0].value.a[0].contains", `unknown operator "contains"`},
		{"operator case", `[{"value": {"a": [{"NUMERIC": ["=", 5]}]}}]`, "[0].value.a[0].NUMERIC", `did you mean "numeric"`},
		{"exactly is not an operator", `[{"value": {"a": [{"exactly": "x"}]}}]`, "[0].value.a[0].exactly", "unknown operator"},
		{"prefix number", `[{"value": {"a": [{"prefix": 123}]}}]`, "[0].value.a[0].prefix", "takes one string"},
		{"prefix list", `[{"value": {"a": [{"prefix": ["x"]}]}}]`, "[0].value.a[0].prefix", "takes one string"},
		{"prefix other object", `[{"value": {"a": [{"prefix": {"wildcard": "x"}}]}}]`, "[0].value.a[0].prefix", "equals-ignore-case"},
		{"prefix ignore-case number", `[{"value": {"a": [{"prefix": {"equals-ignore-case": 1}}]}}]`, "[0].value.a[0].prefix.equals-ignore-case", "one string"},
		{"suffix number", `[{"value": {"a": [{"suffix": 123}]}}]`, "[0].value.a[0].suffix", "takes one string"},
		{"equals-ignore-case list", `[{"value": {"a": [{"equals-ignore-case": ["x"]}]}}]`, "[0].value.a[0].equals-ignore-case", "one string"},
		{"equals-ignore-case object", `[{"value": {"a": [{"equals-ignore-case": {"prefix": "ec2"}}]}}]`, "[0].value.a[0].equals-ignore-case", "one string"},
		{"exists string", `[{"value": {"a": [{"exists": "true"}]}}]`, "[0].value.a[0].exists", "true or false"},
		{"exists null", `[{"value": {"a": [{"exists": null}]}}]`, "[0].value.a[0].exists", "true or false"},
		// numeric
		{"numeric not list", `[{"value": {"a": [{"numeric": 10}]}}]`, "[0].value.a[0].numeric", "takes a list"},
		{"numeric empty", `[{"value": {"a": [{"numeric": []}]}}]`, "[0].value.a[0].numeric", "needs a comparison"},
		{"numeric bad operator", `[{"value": {"a": [{"numeric": ["==", 5]}]}}]`, "[0].value.a[0].numeric[0]", `unknown comparison "=="`},
		{"numeric operator not string", `[{"value": {"a": [{"numeric": [5, ">"]}]}}]`, "[0].value.a[0].numeric[0]", "expected a comparison"},
		{"numeric missing number", `[{"value": {"a": [{"numeric": [">", 0, "<"]}]}}]`, "[0].value.a[0].numeric", `"<" must be followed by a number`},
		{"numeric string number", `[{"value": {"attempt": [{"numeric": [">=", "2"]}]}}]`, "[0].value.attempt[0].numeric[1]", "without quotes"},
		{"numeric two lower bounds", `[{"value": {"a": [{"numeric": [">", 0, ">", 0]}]}}]`, "[0].value.a[0].numeric[2]", `"<" or "<="`},
		{"numeric upper then lower", `[{"value": {"a": [{"numeric": ["<", 5, ">", 1]}]}}]`, "[0].value.a[0].numeric[2]", "lower bound first"},
		{"numeric equals with more", `[{"value": {"a": [{"numeric": ["=", 5, "<", 6]}]}}]`, "[0].value.a[0].numeric[2]", "nothing may follow"},
		{"numeric too many", `[{"value": {"a": [{"numeric": [">", 0, "<", 5, 6]}]}}]`, "[0].value.a[0].numeric[4]", "too many items"},
		{"numeric empty range", `[{"value": {"a": [{"numeric": [">=", 5, "<=", 5]}]}}]`, "[0].value.a[0].numeric", "must be less than"},
		{"numeric reversed range", `[{"value": {"a": [{"numeric": [">", 10, "<", 1]}]}}]`, "[0].value.a[0].numeric", "must be less than"},
		{"numeric out of range", `[{"value": {"a": [{"numeric": [">", 1e400]}]}}]`, "[0].value.a[0].numeric[1]", "out of range"},
		// anything-but
		{"anything-but null", `[{"value": {"a": [{"anything-but": null}]}}]`, "[0].value.a[0].anything-but", "found null"},
		{"anything-but boolean", `[{"value": {"a": [{"anything-but": true}]}}]`, "[0].value.a[0].anything-but", "found true"},
		{"anything-but null in list", `[{"value": {"a": [{"anything-but": ["stopped", null]}]}}]`, "[0].value.a[0].anything-but[1]", "only strings or only numbers"},
		{"anything-but mixed", `[{"value": {"a": [{"anything-but": ["x", 1]}]}}]`, "[0].value.a[0].anything-but[1]", "not both"},
		{"anything-but empty list", `[{"value": {"a": [{"anything-but": []}]}}]`, "[0].value.a[0].anything-but", "at least one value"},
		{"anything-but unknown object", `[{"value": {"a": [{"anything-but": {"numeric": [">", 1]}}]}}]`, "[0].value.a[0].anything-but.numeric", "supports prefix, suffix"},
		{"anything-but two keys", `[{"value": {"a": [{"anything-but": {"prefix": "a", "suffix": "b"}}]}}]`, "[0].value.a[0].anything-but", "exactly one"},
		{"anything-but prefix empty", `[{"value": {"a": [{"anything-but": {"prefix": ""}}]}}]`, "[0].value.a[0].anything-but.prefix", "empty prefix"},
		{"anything-but suffix empty in list", `[{"value": {"a": [{"anything-but": {"suffix": [".txt", ""]}}]}}]`, "[0].value.a[0].anything-but.suffix[1]", "empty suffix"},
		{"anything-but prefix number", `[{"value": {"a": [{"anything-but": {"prefix": 123}}]}}]`, "[0].value.a[0].anything-but.prefix", "string or a list of strings"},
		{"anything-but prefix list with number", `[{"value": {"a": [{"anything-but": {"prefix": [123, "test"]}}]}}]`, "[0].value.a[0].anything-but.prefix[0]", "takes strings"},
		{"anything-but prefix ignore-case", `[{"value": {"a": [{"anything-but": {"prefix": {"equals-ignore-case": "x"}}}]}}]`, "[0].value.a[0].anything-but.prefix", "string or a list of strings"},
		{"anything-but ignore-case number", `[{"value": {"a": [{"anything-but": {"equals-ignore-case": 123}}]}}]`, "[0].value.a[0].anything-but.equals-ignore-case", "string or a list"},
		{"anything-but ignore-case numbers", `[{"value": {"a": [{"anything-but": {"equals-ignore-case": [123, 456]}}]}}]`, "[0].value.a[0].anything-but.equals-ignore-case[0]", "takes strings"},
		{"anything-but wildcard number", `[{"value": {"a": [{"anything-but": {"wildcard": 123}}]}}]`, "[0].value.a[0].anything-but.wildcard", "string or a list"},
		{"anything-but wildcard bad", `[{"value": {"a": [{"anything-but": {"wildcard": ["*/x/*", "a**"]}}]}}]`, "[0].value.a[0].anything-but.wildcard[1]", "two '*' in a row"},
		// wildcard
		{"wildcard number", `[{"value": {"a": [{"wildcard": 123}]}}]`, "[0].value.a[0].wildcard", "one string"},
		{"wildcard list", `[{"value": {"a": [{"wildcard": ["a*"]}]}}]`, "[0].value.a[0].wildcard", "one string"},
		{"wildcard double star", `[{"value": {"a": [{"wildcard": "arn:aws:events:us-east-1:**:event-bus/*"}]}}]`, "[0].value.a[0].wildcard", "position 25"},
		{"wildcard bad escape", `[{"value": {"a": [{"wildcard": "a\\b"}]}}]`, "[0].value.a[0].wildcard", "invalid escape at position 1"},
		{"wildcard trailing backslash", `[{"value": {"a": [{"wildcard": "a\\"}]}}]`, "[0].value.a[0].wildcard", "invalid escape"},
		{"wildcard too complex", `[{"value": {"a": [{"wildcard": "*:*:*:*:*:event-bus/*"}]}}]`, "[0].value.a[0].wildcard", "too complex"},
		// cidr
		{"cidr no slash", `[{"value": {"ip": [{"cidr": "bad-filter"}]}}]`, "[0].value.ip[0].cidr", "one '/'"},
		{"cidr bad ip", `[{"value": {"ip": [{"cidr": "xx.11.xx/8"}]}}]`, "[0].value.ip[0].cidr", "not an IPv4 or IPv6 address"},
		{"cidr bad mask", `[{"value": {"ip": [{"cidr": "bad-/64filter"}]}}]`, "[0].value.ip[0].cidr", "whole number"},
		{"cidr bad v6", `[{"value": {"ip": [{"cidr": "xxxx:db8:1234:1a00::/64"}]}}]`, "[0].value.ip[0].cidr", "not an IPv4 or IPv6"},
		{"cidr list", `[{"value": {"ip": [{"cidr": ["bad-type"]}]}}]`, "[0].value.ip[0].cidr", "one string"},
		{"cidr v4 mask 32", `[{"value": {"ip": [{"cidr": "10.0.0.1/32"}]}}]`, "[0].value.ip[0].cidr", "0 to 31"},
		{"cidr negative mask", `[{"value": {"ip": [{"cidr": "10.0.0.0/-1"}]}}]`, "[0].value.ip[0].cidr", "0 to 31"},
		{"cidr v6 mask 128", `[{"value": {"ip": [{"cidr": "2001:db8::1/128"}]}}]`, "[0].value.ip[0].cidr", "0 to 127"},
		// $or
		{"$or not list", `[{"value": {"$or": {"a": [1]}}}]`, "[0].value.$or", "at least two objects"},
		{"$or one item", `[{"value": {"$or": [{"a": [1]}]}}]`, "[0].value.$or", "at least two alternatives"},
		{"$or item not object", `[{"value": {"$or": [{"a": [1]}, ["b"]]}}]`, "[0].value.$or[1]", "object of fields"},
		{"$or empty item", `[{"value": {"$or": [{"a": [1]}, {}]}}]`, "[0].value.$or[1]", "empty object"},
		{"$or reserved name", `[{"value": {"$or": [{"prefix": ["a"]}, {"b": [1]}]}}]`, "[0].value.$or[0].prefix", "operator name"},
		{"$or reserved name nested", `[{"value": {"$or": [{"x": {"numeric": [1]}}, {"b": [1]}]}}]`, "[0].value.$or[0].x.numeric", "operator name"},
		{"$or too many combinations", `[{"value": {"$or": [` + orItems(11) + `], "x": {"$or": [` + orItems(10) + `]}, "y": {"$or": [` + orItems(10) + `]}}}]`, "[0].value.y.$or", "more than 1000"},
		{"too many conditions after $or", `[{"value": {` + manyFields(250) + `, "$or": [` + orItems(10) + `], "x": {"$or": [` + orItems(10) + `]}}}]`, "[0]", "more than 20000 field conditions"},
		// Values that can never match a record field.
		{"number for key", `[{"key": [42]}]`, "[0].key[0]", `quote the number, e.g. ["42"]`},
		{"numeric for topic", `[{"topic": [{"numeric": [">", 1]}]}]`, "[0].topic[0].numeric", "numeric works on numbers, but the record's topic is a string"},
		{"null for key", `[{"key": [null]}]`, "[0].key[0]", `[{"exists": false}]`},
		{"string for partition", `[{"partition": ["0"]}]`, "[0].partition[0]", "without quotes"},
		{"prefix for offset", `[{"offset": [{"prefix": "1"}]}]`, "[0].offset[0].prefix", "prefix works on strings, but the record's offset is a number"},
		{"anything-but prefix for partition", `[{"partition": [{"anything-but": {"prefix": "1"}}]}]`, "[0].partition[0].anything-but.prefix", "anything-but prefix works on strings"},
		{"anything-but strings for timestamp", `[{"timestamp": [{"anything-but": ["x"]}]}]`, "[0].timestamp[0].anything-but", "number"},
		{"boolean for header", `[{"headers": {"h": [true]}}]`, "[0].headers.h[0]", "true or false never match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Compile([]byte(tt.filter))
			if err == nil {
				t.Fatalf("Compile accepted %s", tt.filter)
			}
			if f != nil {
				t.Error("Compile returned a filter with its error")
			}
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("error %T %v is not a *Error", err, err)
			}
			if fe.Path != tt.path {
				t.Errorf("Path = %q, want %q (%v)", fe.Path, tt.path, err)
			}
			if !strings.Contains(fe.Message, tt.msg) {
				t.Errorf("Message = %q, want it to mention %q", fe.Message, tt.msg)
			}
			want := "filter " + fe.Path + ": " + fe.Message
			if fe.Path == "" {
				want = "filter: " + fe.Message
			}
			if err.Error() != want {
				t.Errorf("Error() = %q, want %q", err.Error(), want)
			}
		})
	}
}

func manyFields(n int) string {
	fields := make([]string, n)
	for i := range fields {
		fields[i] = fmt.Sprintf(`"f%d": [1]`, i)
	}
	return strings.Join(fields, ",")
}

func orItems(n int) string {
	items := make([]string, n)
	for i := range items {
		items[i] = `{"k": [1]}`
	}
	return strings.Join(items, ",")
}

// TestValid lists filters near the edges that AWS accepts.
func TestValid(t *testing.T) {
	for _, filter := range []string{
		`[{"value": {"a": [{"numeric": ["=", 3.018e2]}]}}]`,
		`[{"value": {"a": [{"numeric": ["<=", -5]}, {"numeric": [">", 0, "<", 1e-9]}]}}]`,
		`[{"value": {"a": [{"anything-but": {"prefix": ["init", "post"]}}, {"anything-but": {"wildcard": ""}}]}}]`,
		`[{"value": {"a": [{"anything-but": {"equals-ignore-case": ["x", "y"]}}, {"anything-but": [1, 2.5]}]}}]`,
		`[{"value": {"a": [{"prefix": ""}, {"suffix": {"equals-ignore-case": ".PNG"}}, {"equals-ignore-case": ""}]}}]`,
		`[{"value": {"a": [{"wildcard": "*a*b*c*d*"}, {"wildcard": "he\\**o"}, {"wildcard": ""}]}}]`,
		`[{"value": {"ip": [{"cidr": "0.0.0.0/0"}, {"cidr": "::/0"}, {"cidr": "10.0.0.0/31"}]}}]`,
		`[{"value": {"a": [1], "a": [2]}}]`,
		`[{"value": {"$or": [{"a": [1]}, {"b": [2]}], "$or": [{"c": [3]}, {"d": [4]}]}}]`,
		`[{"$or": [{"value": {"a": [1]}}, {"key": ["k"], "headers": {"$or": [{"h": ["1"]}, {"g": ["2"]}]}}]}]`,
		`[{"value": {"$or": [` + orItems(10) + `], "x": {"$or": [` + orItems(10) + `]}, "y": {"$or": [` + orItems(10) + `]}}}]`,
		`[{"value": {"a": [1e400]}}]`,
		`[{"headers": {"h": [null, {"exists": false}]}, "key": [{"exists": false}], "partition": [{"anything-but": [0]}]}]`,
		` [ {"value" : {"a" : [ "x" ] } } ] `,
	} {
		if _, err := Compile([]byte(filter)); err != nil {
			t.Errorf("Compile(%s): %v", filter, err)
		}
	}
}
