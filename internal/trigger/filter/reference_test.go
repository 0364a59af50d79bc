package filter

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// This file holds a slow matcher that reads the semantics off directly, to
// cross-check Match in the fuzz tests: decode the record with encoding/json,
// flatten it into leaves that carry their array memberships, then try every
// choice of leaves. It shares only the compiled conditions (paths and value
// lists) with the real matcher, not the scanner or the evaluators.

type refLeaf struct {
	path   string
	val    leaf
	member []refPos // the arrays around the leaf, outermost first
}

type refPos struct{ array, index int }

type refEvent struct {
	leaves    []refLeaf
	byPath    map[string][]int // leaf indexes per path
	arrays    int
	valueDead bool
}

// refMaxSteps bounds the search; beyond it the reference gives no verdict.
const refMaxSteps = 20000

// refMatch returns Match's expected result, and false when it cannot decide
// (the record is too big to search, or nests too deeply to compare).
func refMatch(f *Filter, r *Record) (match, decided bool) {
	ev, ok := refFlatten(r)
	if !ok {
		return false, false
	}
	steps := 0
	for _, p := range f.patterns {
		if p.usesValue && ev.valueDead {
			continue
		}
		for _, cj := range p.conjs {
			m, ok := ev.conj(f, cj, &steps)
			if !ok {
				return false, false
			}
			if m {
				return true, true
			}
		}
	}
	return false, true
}

func refFlatten(r *Record) (*refEvent, bool) {
	ev := &refEvent{}
	switch {
	case r.Value == nil:
		ev.add("value", leaf{kind: lNull}, nil)
	case rawDepth(r.Value) > MaxDepth:
		// The scanner gives up at the first level too deep, even when the
		// text would turn out not to be JSON; too subtle to mirror here.
		return nil, false
	case json.Valid(r.Value):
		dec := json.NewDecoder(bytes.NewReader(r.Value))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		ev.flatten("value", v, nil)
	default:
		ev.add("value", leaf{kind: lString, s: r.Value}, nil)
	}
	if r.Key != nil {
		ev.add("key", leaf{kind: lString, s: r.Key}, nil)
	}
	ev.add("topic", leaf{kind: lString, s: []byte(r.Topic)}, nil)
	ev.add("partition", refInt(int64(r.Partition)), nil)
	ev.add("offset", refInt(r.Offset), nil)
	ev.add("timestamp", refInt(r.Timestamp), nil)
	names := map[string][]Header{}
	var order []string
	for _, h := range r.Headers {
		if _, ok := names[h.Key]; !ok {
			order = append(order, h.Key)
		}
		names[h.Key] = append(names[h.Key], h)
	}
	for _, name := range order {
		hs := names[name]
		if len(hs) == 1 {
			ev.add("headers."+name, headerLeafRef(hs[0].Value), nil)
			continue
		}
		id := ev.arrays
		ev.arrays++
		for i, h := range hs {
			ev.add("headers."+name, headerLeafRef(h.Value), []refPos{{id, i}})
		}
	}
	return ev, true
}

func refInt(n int64) leaf {
	return leaf{kind: lNumber, s: []byte(strconv.FormatInt(n, 10)), f: float64(n)}
}

func headerLeafRef(v []byte) leaf {
	if v == nil {
		return leaf{kind: lNull}
	}
	return leaf{kind: lString, s: v}
}

func (ev *refEvent) add(path string, v leaf, member []refPos) {
	if ev.byPath == nil {
		ev.byPath = map[string][]int{}
	}
	ev.byPath[path] = append(ev.byPath[path], len(ev.leaves))
	ev.leaves = append(ev.leaves, refLeaf{path, v, append([]refPos(nil), member...)})
}

// flatten walks a decoded value: object keys join the path with '.', array
// entries keep the path and record their position.
func (ev *refEvent) flatten(path string, v any, member []refPos) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			ev.flatten(path+"."+k, x, member)
		}
	case []any:
		id := ev.arrays
		ev.arrays++
		for i, x := range v {
			ev.flatten(path, x, append(member[:len(member):len(member)], refPos{id, i}))
		}
	case string:
		ev.add(path, leaf{kind: lString, s: []byte(v)}, member)
	case json.Number:
		f, _ := strconv.ParseFloat(string(v), 64)
		ev.add(path, leaf{kind: lNumber, s: []byte(v), f: f}, member)
	case bool:
		if v {
			ev.add(path, leaf{kind: lTrue}, member)
		} else {
			ev.add(path, leaf{kind: lFalse}, member)
		}
	case nil:
		ev.add(path, leaf{kind: lNull}, member)
	}
}

// rawDepth is the deepest bracket nesting of a text, outside strings.
func rawDepth(b []byte) int {
	depth, max, inStr := 0, 0, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case inStr && c == '\\':
			i++
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '{' || c == '[':
			depth++
			if depth > max {
				max = depth
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return max
}

func refConsistent(a, b []refPos) bool {
	for _, x := range a {
		for _, y := range b {
			if x.array == y.array && x.index != y.index {
				return false
			}
		}
	}
	return true
}

// conj tries every choice for a conjunction: per condition a leaf that
// satisfies it, or absent when exists:false allows it.
func (ev *refEvent) conj(f *Filter, cj []int32, steps *int) (bool, bool) {
	chosen := make([]int, len(cj)) // leaf index, or -1 for absent
	var try func(i int) (bool, bool)
	try = func(i int) (bool, bool) {
		if *steps++; *steps > refMaxSteps {
			return false, false
		}
		if i == len(cj) {
			return ev.absencesHold(f, cj, chosen), true
		}
		c := &f.conds[cj[i]]
		name := f.paths[c.path].name
		for _, li := range ev.byPath[name] {
			l := &ev.leaves[li]
			if *steps++; *steps > refMaxSteps {
				return false, false
			}
			if !c.list.match(&l.val) {
				continue
			}
			fits := true
			for k := 0; k < i; k++ {
				if chosen[k] >= 0 && !refConsistent(l.member, ev.leaves[chosen[k]].member) {
					fits = false
					break
				}
			}
			if !fits {
				continue
			}
			chosen[i] = li
			if m, ok := try(i + 1); !ok || m {
				return m, ok
			}
		}
		if c.list.absentOK {
			chosen[i] = -1
			return try(i + 1)
		}
		return false, true
	}
	return try(0)
}

func (ev *refEvent) absencesHold(f *Filter, cj []int32, chosen []int) bool {
	for i, cid := range cj {
		if chosen[i] >= 0 {
			continue
		}
		name := f.paths[f.conds[cid].path].name
		for _, li := range ev.byPath[name] {
			l := &ev.leaves[li]
			excused := false
			for k := range cj {
				if chosen[k] >= 0 && !refConsistent(l.member, ev.leaves[chosen[k]].member) {
					excused = true
					break
				}
			}
			if !excused {
				return false
			}
		}
	}
	return true
}
