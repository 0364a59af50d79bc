// Package filter implements the filter language of Octopus's managed
// triggers: the AWS EventBridge / Lambda event-pattern language, applied to
// a Kafka record.
//
// A filter is a JSON list of 1 to MaxPatterns patterns; a record passes when
// any pattern matches. A pattern is a JSON object over the record's fields:
//
//	value      the record value, decoded as JSON when it is valid JSON,
//	           else the value as a string; a null value (tombstone) is null
//	key        the key as a string; a record without a key has no key field
//	headers    header name → string value (a repeated name → list of values)
//	topic      string
//	partition  number
//	offset     number
//	timestamp  number, milliseconds since the Unix epoch
//
// Compile validates a filter once; (*Filter).Match is then safe for
// concurrent use and allocates nothing in the steady state. A trigger without
// a filter does not call Compile: it holds a nil *Filter, which matches every
// record. docs/TRIGGERS_FILTERS.md is the user guide.
package filter

import "sync"

// Limits. A pattern is measured as written inside the filter, whitespace
// included.
const (
	MaxPatterns    = 5        // patterns per filter, as a Lambda event-source mapping
	MaxPatternSize = 4096     // bytes per pattern, as Lambda's Filter.Pattern
	MaxFilterSize  = 24 << 10 // bytes for the whole filter (5 × 4 KiB plus room for layout)
	MaxDepth       = 128      // nesting levels of a record value that Match looks into
	MaxOrProduct   = 1000     // product of the lengths of a pattern's $or lists, as EventBridge
	maxTerms       = 20000    // field conditions across a filter once $or is expanded
	maxStars       = 5        // '*' per wildcard (AWS: "too complex")
	bruteBudget    = 20000    // consistency checks for the rare records that need the slow matcher
	smallSet       = 8        // longer exact-string lists and child lists use a map
)

// Record is what a filter sees of a Kafka record.
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	Timestamp int64  // ms since epoch
	Key       []byte // nil: no key
	Value     []byte // nil: null value (tombstone)
	Headers   []Header
}

// Header is one Kafka record header. A nil Value is a JSON null to filters.
type Header struct {
	Key   string
	Value []byte
}

// Filter is a compiled filter. The zero value is not usable; a nil *Filter
// matches every record.
type Filter struct {
	patterns []pattern
	conds    []cond
	paths    []pathInfo

	// Where the record's fields sit in the pattern tree; nil or -1 when no
	// pattern names them.
	value         *tnode
	headers       *tnode
	keyPath       int32
	topicPath     int32
	partitionPath int32
	offsetPath    int32
	timestampPath int32

	states sync.Pool // *state
}

// pattern is one element of the filter: a disjunction of conjunctions (its
// $or lists expanded), each a list of condition ids.
type pattern struct {
	conjs     [][]int32
	usesValue bool
}

// cond is one field of one conjunction: a path and the list of values that
// path may take. Conjunctions that share a field (through $or expansion)
// share the cond.
type cond struct {
	path  int32
	local int32 // bit index among the conds of the same path
	list  *valueList
}

// pathInfo describes a field path that some pattern names.
type pathInfo struct {
	name      string  // dot-joined, for messages and tests
	conds     []int32 // conds on this path; position = cond.local
	words     int     // uint64 words of match bits per hit
	usesValue bool
}

// tnode is a node of the tree of field paths named by the filter's patterns.
type tnode struct {
	path     int32 // path id when a pattern names this node, else -1
	children []tchild
	byName   map[string]*tnode // children, when there are many
	hidx     int32             // dense index of a header node
	name     string            // dot-joined path, set on nodes that patterns name
	lens     uint64            // bit i: a child's name is i bytes long (bit 63: 63 or more)
}

type tchild struct {
	seg  string
	node *tnode
}

func (n *tnode) child(seg []byte) *tnode {
	if n.lens&lenBit(len(seg)) == 0 {
		return nil
	}
	if n.byName != nil {
		return n.byName[string(seg)]
	}
	for i := range n.children {
		if n.children[i].seg == string(seg) {
			return n.children[i].node
		}
	}
	return nil
}

func (n *tnode) childStr(seg string) *tnode {
	if n.byName != nil {
		return n.byName[seg]
	}
	for i := range n.children {
		if n.children[i].seg == seg {
			return n.children[i].node
		}
	}
	return nil
}

func (n *tnode) add(seg string) *tnode {
	if c := n.childStr(seg); c != nil {
		return c
	}
	c := newNode("")
	n.children = append(n.children, tchild{seg, c})
	n.lens |= lenBit(len(seg))
	if n.byName != nil {
		n.byName[seg] = c
	} else if len(n.children) > smallSet {
		n.byName = make(map[string]*tnode, len(n.children))
		for _, ch := range n.children {
			n.byName[ch.seg] = ch.node
		}
	}
	return c
}

func lenBit(n int) uint64 {
	return 1 << min(n, 63)
}

// Match reports whether the record passes the filter: whether any of its
// patterns matches. A nil filter matches every record; a nil record matches
// nothing.
func (f *Filter) Match(r *Record) bool {
	if f == nil {
		return true
	}
	if r == nil {
		return false
	}
	st, _ := f.states.Get().(*state)
	if st == nil {
		st = newState(f)
	}
	ok := st.match(f, r)
	st.release()
	f.states.Put(st)
	return ok
}

// Patterns returns how many patterns the filter has.
func (f *Filter) Patterns() int {
	if f == nil {
		return 0
	}
	return len(f.patterns)
}
