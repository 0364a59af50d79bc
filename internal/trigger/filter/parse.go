package filter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// jnode is a pattern's JSON, parsed so that object keys keep their order and
// their repeats (the compiler applies event-ruler's "last one wins" per field
// path) and numbers keep their spelling.
type jnode struct {
	kind byte // 'o' object, 'a' list, 's' string, 'n' number, 't', 'f', 'z' (null)
	str  string
	keys []string
	vals []*jnode
}

// splitFilter checks the filter's outer shape and returns its patterns'
// JSON texts.
func splitFilter(filter []byte) ([]json.RawMessage, error) {
	if len(filter) > MaxFilterSize {
		return nil, errorf("", "the filter is %d bytes; the limit is %d (%d patterns of at most %d bytes)",
			len(filter), MaxFilterSize, MaxPatterns, MaxPatternSize)
	}
	if !json.Valid(filter) {
		return nil, &Error{Message: syntaxMessage(filter)}
	}
	t := bytes.TrimSpace(filter)
	switch t[0] {
	case 'n':
		return nil, errorf("", "the filter is null; a trigger that should pass every record has no filter at all")
	case '[':
	default:
		return nil, errorf("", `a filter is a JSON list of 1 to %d patterns, e.g. [{"value": {"status": ["failed"]}}]`, MaxPatterns)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(t, &raws); err != nil {
		return nil, &Error{Message: "not valid JSON: " + err.Error()}
	}
	if len(raws) == 0 {
		return nil, errorf("", `the filter is an empty list; give 1 to %d patterns, e.g. [{"value": {"status": ["failed"]}}]`, MaxPatterns)
	}
	if len(raws) > MaxPatterns {
		return nil, errorf(index("", MaxPatterns), "too many patterns: a filter has at most %d (patterns are ORed; use $or inside a pattern for more alternatives)", MaxPatterns)
	}
	return raws, nil
}

func syntaxMessage(b []byte) string {
	var v any
	err := json.Unmarshal(b, &v)
	var se *json.SyntaxError
	switch {
	case len(bytes.TrimSpace(b)) == 0:
		return "the filter is empty; it must be a JSON list of patterns"
	case errors.As(err, &se):
		return fmt.Sprintf("not valid JSON at byte %d: %s", se.Offset, se.Error())
	case err != nil:
		return "not valid JSON: " + err.Error()
	}
	return "not valid JSON"
}

// parsePattern parses one pattern's JSON text, already known to be valid.
func parsePattern(raw []byte) (*jnode, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	n, err := parseNode(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the pattern")
	}
	return n, nil
}

func parseNode(dec *json.Decoder) (*jnode, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := &jnode{kind: 'o'}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, errors.New("object key is not a string")
				}
				v, err := parseNode(dec)
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, k)
				n.vals = append(n.vals, v)
			}
			_, err := dec.Token()
			return n, err
		case '[':
			n := &jnode{kind: 'a'}
			for dec.More() {
				v, err := parseNode(dec)
				if err != nil {
					return nil, err
				}
				n.vals = append(n.vals, v)
			}
			_, err := dec.Token()
			return n, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	case string:
		return &jnode{kind: 's', str: t}, nil
	case json.Number:
		return &jnode{kind: 'n', str: string(t)}, nil
	case bool:
		if t {
			return &jnode{kind: 't'}, nil
		}
		return &jnode{kind: 'f'}, nil
	case nil:
		return &jnode{kind: 'z'}, nil
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}
