package filter

import (
	"strconv"
	"unsafe"
)

// state is the scratch space of one Match call, pooled per Filter so that
// matching allocates nothing once warm.
//
// Match collects hits: leaves of the record that sit at a path some pattern
// names, each with a bit per condition on that path that the leaf satisfies.
// Arrays on named paths are recorded too, with one element node per array
// entry, so that the array-consistency rule (two fields of one conjunction
// must come from the same element of an array they share) can be checked.
// Element 0 is the record itself.
type state struct {
	hits  []hit
	words []uint64 // condition bits of the hits
	elems []elemNode
	arrs  []arrNode
	seen  []seenKey // keys met in the objects being scanned, for duplicates
	buf   []byte    // unescaped strings and keys

	pathHits []int32 // live hits per path
	condAny  []bool  // some live hit satisfies the condition

	dead      bool // some hits were dropped (duplicate keys)
	dotted    bool // a record key with dots reached a named path
	valueDead bool // the value nests too deeply to be matched

	// Per-path lists of live hits, built only when arrays need them.
	plist  []int32
	pstart []int32
	stk    []int32

	// Header grouping scratch, per named header.
	hcount []int32
	harr   []int32

	budget int
}

type hit struct {
	path int32
	elem int32 // innermost array element holding the leaf
	word int32 // offset of its condition bits in state.words
	dead bool
}

type elemNode struct {
	parent int32 // array
	depth  int32 // arrays above
	lo, hi int32 // its hits: hits[lo:hi]
}

type arrNode struct {
	parent int32 // element
	lo, hi int32
	first  int32 // the first path seen below, +1; -1 once two paths were seen
}

type seenKey struct {
	node   *tnode
	lo, hi int32
}

func newState(f *Filter) *state {
	return &state{
		pathHits: make([]int32, len(f.paths)),
		condAny:  make([]bool, len(f.conds)),
	}
}

func (st *state) reset() {
	st.hits = st.hits[:0]
	st.words = st.words[:0]
	st.elems = append(st.elems[:0], elemNode{parent: -1})
	st.arrs = st.arrs[:0]
	st.seen = st.seen[:0]
	clear(st.pathHits)
	clear(st.condAny)
	st.dead, st.dotted, st.valueDead = false, false, false
	st.plist = st.plist[:0]
	st.pstart = st.pstart[:0]
	st.stk = st.stk[:0]
}

// release readies the state for the pool.
func (st *state) release() {
	st.buf = st.buf[:0]
	if cap(st.hits) > 1<<16 || cap(st.elems) > 1<<16 || cap(st.buf) > 1<<20 {
		// Do not let one huge record pin a huge state.
		*st = state{pathHits: st.pathHits, condAny: st.condAny}
	}
}

func (st *state) newArray(parent int32) int32 {
	st.arrs = append(st.arrs, arrNode{parent: parent, lo: int32(len(st.hits))})
	return int32(len(st.arrs) - 1)
}

func (st *state) newElem(arr int32) int32 {
	d := st.elems[st.arrs[arr].parent].depth + 1
	st.elems = append(st.elems, elemNode{parent: arr, depth: d, lo: int32(len(st.hits))})
	return int32(len(st.elems) - 1)
}

func (st *state) closeElem(e int32) { st.elems[e].hi = int32(len(st.hits)) }
func (st *state) closeArr(a int32)  { st.arrs[a].hi = int32(len(st.hits)) }

// addHit records the leaf v at path p inside element elem and evaluates the
// path's conditions on it.
func (st *state) addHit(f *Filter, p int32, elem int32, v *leaf) {
	pi := &f.paths[p]
	off := int32(len(st.words))
	for w := 0; w < pi.words; w++ {
		st.words = append(st.words, 0)
	}
	for li, cid := range pi.conds {
		if f.conds[cid].list.match(v) {
			st.words[int(off)+li>>6] |= 1 << (li & 63)
			st.condAny[cid] = true
		}
	}
	st.pathHits[p]++
	st.hits = append(st.hits, hit{path: p, elem: elem, word: off})
}

func (st *state) bit(h *hit, local int32) bool {
	return st.words[h.word+local>>6]&(1<<(local&63)) != 0
}

// kill drops hits[lo:hi]: they came from a key that a later duplicate
// replaces.
func (st *state) kill(lo, hi int32) {
	for i := lo; i < hi; i++ {
		st.hits[i].dead = true
	}
	if hi > lo {
		st.dead = true
	}
}

// recount rebuilds the per-path and per-condition summaries from the live
// hits, after duplicates killed some.
func (st *state) recount(f *Filter) {
	clear(st.pathHits)
	clear(st.condAny)
	for i := range st.hits {
		h := &st.hits[i]
		if h.dead {
			continue
		}
		st.pathHits[h.path]++
		for li, cid := range f.paths[h.path].conds {
			if st.bit(h, int32(li)) {
				st.condAny[cid] = true
			}
		}
	}
}

// match evaluates the record against the filter.
func (st *state) match(f *Filter, r *Record) bool {
	st.reset()
	if f.value != nil {
		st.scanValue(f, r.Value)
	}
	if f.keyPath >= 0 && r.Key != nil {
		st.addHit(f, f.keyPath, 0, &leaf{kind: lString, s: r.Key})
	}
	if f.topicPath >= 0 {
		st.addHit(f, f.topicPath, 0, &leaf{kind: lString, s: unsafe.Slice(unsafe.StringData(r.Topic), len(r.Topic))})
	}
	if f.partitionPath >= 0 {
		st.addInt(f, f.partitionPath, int64(r.Partition))
	}
	if f.offsetPath >= 0 {
		st.addInt(f, f.offsetPath, r.Offset)
	}
	if f.timestampPath >= 0 {
		st.addInt(f, f.timestampPath, r.Timestamp)
	}
	if f.headers != nil && len(r.Headers) > 0 {
		st.addHeaders(f, r.Headers)
	}
	st.elems[0].hi = int32(len(st.hits))
	if st.dead {
		st.recount(f)
	}
	return st.eval(f)
}

func (st *state) addInt(f *Filter, p int32, n int64) {
	st.buf = strconv.AppendInt(st.buf[:0], n, 10)
	st.addHit(f, p, 0, &leaf{kind: lNumber, s: st.buf, f: float64(n)})
}

// scanValue adds the hits of the record value: its JSON when it is valid
// JSON, else the value as one string; null for a tombstone.
func (st *state) scanValue(f *Filter, v []byte) {
	if v == nil {
		if f.value.path >= 0 {
			st.addHit(f, f.value.path, 0, &leaf{kind: lNull})
		}
		return
	}
	s := scanner{f: f, st: st, b: v}
	if s.run() {
		return
	}
	deep := s.deep
	st.reset()
	if deep {
		st.valueDead = true
		return
	}
	if f.value.path >= 0 {
		st.addHit(f, f.value.path, 0, &leaf{kind: lString, s: v})
	}
}

// addHeaders adds the named headers. A name given once is a string (null
// without a value); a repeated name is an array of its values, whose hits
// are kept together so that the array's hits form one range.
func (st *state) addHeaders(f *Filter, hs []Header) {
	nh := len(f.headers.children)
	st.hcount = growInt32(st.hcount, nh)
	st.harr = growInt32(st.harr, nh)
	for i := range hs {
		if n := f.headers.childStr(hs[i].Key); n != nil && n.path >= 0 {
			st.hcount[n.hidx]++
		}
	}
	for i := range hs {
		n := f.headers.childStr(hs[i].Key)
		if n == nil || n.path < 0 || st.harr[n.hidx] == -2 {
			continue
		}
		if st.hcount[n.hidx] == 1 {
			st.addHit(f, n.path, 0, headerLeaf(hs[i].Value))
			continue
		}
		st.harr[n.hidx] = -2 // done
		a := st.newArray(0)
		for j := i; j < len(hs); j++ {
			if hs[j].Key != hs[i].Key {
				continue
			}
			e := st.newElem(a)
			st.addHit(f, n.path, e, headerLeaf(hs[j].Value))
			st.closeElem(e)
		}
		st.closeArr(a)
	}
}

func headerLeaf(v []byte) *leaf {
	if v == nil {
		return &leaf{kind: lNull}
	}
	return &leaf{kind: lString, s: v}
}

func growInt32(s []int32, n int) []int32 {
	if cap(s) < n {
		s = make([]int32, n)
	}
	s = s[:n]
	clear(s)
	return s
}
