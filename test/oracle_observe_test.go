package test

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// observations are what a differential scenario saw of one broker: named
// values in the order the scenario recorded them. Values are compared by
// their JSON encoding, so they should be plain data already normalized for
// what legitimately differs between brokers (ids, timing, error messages).
type observations struct {
	t     *testing.T
	keys  []string
	vals  map[string]string
	notes map[string]map[string]bool // key → set of JSON values
}

func newObservations(t *testing.T) *observations {
	return &observations{t: t, vals: map[string]string{}, notes: map[string]map[string]bool{}}
}

// note adds v to the set of values observed under key, so that one cause
// seen in many sub-cases is compared (and, if it differs, reported) once.
func (o *observations) note(key string, v any) {
	o.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		o.t.Fatalf("observation %s: %v", key, err)
	}
	set, ok := o.notes[key]
	if !ok {
		if _, dup := o.vals[key]; dup {
			o.t.Fatalf("observation %s recorded twice", key)
		}
		set = map[string]bool{}
		o.notes[key] = set
		o.keys = append(o.keys, key)
	}
	set[string(b)] = true
	o.vals[key] = "[" + strings.Join(slices.Sorted(maps.Keys(set)), ",") + "]"
}

// add records v under key; a key may be recorded once.
func (o *observations) add(key string, v any) {
	o.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		o.t.Fatalf("observation %s: %v", key, err)
	}
	if _, dup := o.vals[key]; dup {
		o.t.Fatalf("observation %s recorded twice", key)
	}
	o.keys = append(o.keys, key)
	o.vals[key] = string(b)
}

// String lists every observation, one per line.
func (o *observations) String() string {
	var sb strings.Builder
	for _, k := range o.keys {
		fmt.Fprintf(&sb, "  %s = %s\n", k, o.vals[k])
	}
	return sb.String()
}

// knownDifference logs a way in which Octopus knowingly differs from Apache
// Kafka, so it stays visible in every verbose run without failing it. Each
// use names the reason; keep them few.
func knownDifference(t *testing.T, reason string) {
	t.Helper()
	t.Logf("KNOWN DIFFERENCE from Apache Kafka: %s", reason)
}

// compareObservations fails t for every observation whose value differs
// between Kafka and Octopus, except those listed in known (key → reason),
// which are logged with knownDifference. A known difference that no longer
// differs is logged too, so the table can shrink.
func compareObservations(t *testing.T, kafka, octo *observations, known map[string]string) {
	t.Helper()
	keys := slices.Clone(kafka.keys)
	for _, k := range octo.keys {
		if _, ok := kafka.vals[k]; !ok {
			keys = append(keys, k)
		}
	}
	mismatches := 0
	for _, k := range keys {
		kv, kok := kafka.vals[k]
		ov, ook := octo.vals[k]
		if !kok {
			kv = "(not observed)"
		}
		if !ook {
			ov = "(not observed)"
		}
		reason, isKnown := known[k]
		switch {
		case kv == ov && isKnown:
			t.Logf("known difference %q no longer differs (both %s): remove it from the table", k, kv)
		case kv == ov:
		case isKnown:
			knownDifference(t, fmt.Sprintf("%s: Octopus %s, Kafka %s: %s", k, ov, kv, reason))
		default:
			mismatches++
			t.Errorf("%s:\n  Octopus %s\n  Kafka   %s", k, ov, kv)
		}
	}
	for k := range known {
		if _, ok := kafka.vals[k]; !ok {
			if _, ok := octo.vals[k]; !ok {
				t.Errorf("known difference %q names no observation", k)
			}
		}
	}
	if mismatches > 0 {
		t.Logf("all observations, Kafka:\n%s", kafka)
		t.Logf("all observations, Octopus:\n%s", octo)
	}
}

// errName is an error code as its Kafka name and number, e.g.
// "UNKNOWN_TOPIC_OR_PARTITION(3)"; 0 is "NONE".
func errName(code int16) string {
	if code == 0 {
		return "NONE"
	}
	if e, ok := kerr.ErrorForCode(code).(*kerr.Error); ok {
		return fmt.Sprintf("%s(%d)", e.Message, code)
	}
	return fmt.Sprintf("UNKNOWN(%d)", code)
}

// strOrNil shows a nullable string, keeping null apart from "".
func strOrNil(s *string) string {
	if s == nil {
		return "<null>"
	}
	return fmt.Sprintf("%q", *s)
}
