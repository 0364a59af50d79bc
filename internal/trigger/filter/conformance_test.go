package filter

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// conformanceCase is one case of shared/conformance/event-patterns.json.
type conformanceCase struct {
	ID          string          `json:"id"`
	Operator    string          `json:"operator"`
	Pattern     json.RawMessage `json:"pattern"`
	PatternJSON string          `json:"pattern_json"`
	Event       json.RawMessage `json:"event"`
	EventJSON   string          `json:"event_json"`
	Match       bool            `json:"match"`
	Disputed    bool            `json:"disputed"`
	Note        string          `json:"note"`
}

// patternText and eventText prefer the raw text, which keeps the spelling
// of numbers.
func (c *conformanceCase) patternText() []byte {
	if c.PatternJSON != "" {
		return []byte(c.PatternJSON)
	}
	return c.Pattern
}

func (c *conformanceCase) eventText() []byte {
	if c.EventJSON != "" {
		return []byte(c.EventJSON)
	}
	return c.Event
}

// conformancePath finds event-patterns.json: $OCTOPUS_SHARED, else
// <repo root>/../shared, the repo root being the nearest directory above the
// package with a go.mod.
func conformancePath(t testing.TB) string {
	t.Helper()
	const rel = "conformance/event-patterns.json"
	if dir := os.Getenv("OCTOPUS_SHARED"); dir != "" {
		return filepath.Join(dir, rel)
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(filepath.Dir(dir), "shared", rel)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("conformance: no go.mod above the package directory, so the repo root (and shared/ beside it) cannot be found; set OCTOPUS_SHARED")
		}
		dir = parent
	}
}

func loadConformance(t testing.TB) []conformanceCase {
	t.Helper()
	path := conformancePath(t)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("conformance: cannot read the event-pattern cases at %s: %v (CI clones shared/ beside the repo; set OCTOPUS_SHARED to its directory)", path, err)
	}
	var cases []conformanceCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatalf("conformance: %s: %v", path, err)
	}
	if len(cases) == 0 {
		t.Fatalf("conformance: %s holds no cases", path)
	}
	return cases
}

// conformanceFilter wraps a case's pattern as Octopus applies it: the event
// is the record value.
func conformanceFilter(pattern []byte) []byte {
	return append(append([]byte(`[{"value":`), pattern...), "}]"...)
}

func TestConformance(t *testing.T) {
	cases := loadConformance(t)
	if len(cases) != 199 {
		t.Errorf("conformance: %d cases, want 199", len(cases))
	}
	passed := 0
	for _, c := range cases {
		ok := t.Run(c.ID, func(t *testing.T) {
			f, err := Compile(conformanceFilter(c.patternText()))
			if err != nil {
				t.Fatalf("Compile: %v\npattern: %s", err, c.patternText())
			}
			got := f.Match(&Record{Topic: "t", Value: c.eventText()})
			if got != c.Match {
				t.Errorf("Match = %v, want %v (%s)\npattern: %s\nevent: %s\nnote: %s",
					got, c.Match, c.Operator, c.patternText(), c.eventText(), c.Note)
			}
		})
		if ok {
			passed++
		}
	}
	t.Logf("conformance: %d of %d cases pass", passed, len(cases))
}
