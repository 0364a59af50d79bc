package filter

// Matching a conjunction (one pattern with its $or choices made) means
// choosing, for each of its conditions, either a leaf that satisfies it or
// "absent" (allowed by exists:false), such that
//
//   - no two chosen leaves lie in different elements of one array
//     (event-ruler's array consistency), and
//   - every leaf at an absent condition's path lies in a different element
//     of some array than some chosen leaf (the field is absent from the part
//     of the record the match is made of).
//
// Three evaluators decide this. flat: when no array holds hits of two
// different paths, no chosen leaves can conflict, so a condition holds iff
// some leaf satisfies it or (exists:false) no leaf exists — the usual case,
// and O(conditions). tree: otherwise the element tree is walked, which is
// linear because in JSON whose keys have no dots a path's leaves below an
// element lie all directly in it or all inside one array. brute: for records
// whose dotted keys break that, a bounded search.

func (st *state) eval(f *Filter) bool {
	flat := !st.sharedArrays()
	for pi := range f.patterns {
		p := &f.patterns[pi]
		if p.usesValue && st.valueDead {
			continue
		}
		for _, cj := range p.conjs {
			var ok bool
			switch {
			case flat:
				ok = st.evalFlat(f, cj)
			case st.dotted:
				ok = st.evalBrute(f, cj)
			default:
				ok = st.evalTree(f, cj)
			}
			if ok {
				return true
			}
		}
	}
	return false
}

// sharedArrays reports whether some array holds live hits of two paths.
func (st *state) sharedArrays() bool {
	if len(st.arrs) == 0 {
		return false
	}
	for i := range st.hits {
		h := &st.hits[i]
		if h.dead || h.elem == 0 {
			continue
		}
		mark := h.path + 1
		for e := h.elem; e != 0; {
			a := &st.arrs[st.elems[e].parent]
			switch a.first {
			case mark:
				e = 0 // already marked up to the root
				continue
			case 0:
				a.first = mark
			default:
				return true
			}
			e = a.parent
		}
	}
	return false
}

func (st *state) evalFlat(f *Filter, cj []int32) bool {
	for _, cid := range cj {
		if st.condAny[cid] {
			continue
		}
		c := &f.conds[cid]
		if !c.list.absentOK || st.pathHits[c.path] != 0 {
			return false
		}
	}
	return true
}

// buildLists indexes the live hits by path (once per Match).
func (st *state) buildLists(f *Filter) {
	if len(st.pstart) != 0 {
		return
	}
	np := len(f.paths)
	st.pstart = growInt32(st.pstart, np+1)
	for p := 0; p < np; p++ {
		st.pstart[p+1] = st.pstart[p] + st.pathHits[p]
	}
	n := int(st.pstart[np])
	if cap(st.plist) < n {
		st.plist = make([]int32, n)
	}
	st.plist = st.plist[:n]
	fill := st.stk[:0]
	fill = append(fill, st.pstart[:np]...)
	for i := range st.hits {
		if h := &st.hits[i]; !h.dead {
			st.plist[fill[h.path]] = int32(i)
			fill[h.path]++
		}
	}
	st.stk = fill[:0]
}

// hitsIn returns the range of plist holding path p's live hits with index
// in [lo, hi).
func (st *state) hitsIn(p, lo, hi int32) (int32, int32) {
	a, b := st.pstart[p], st.pstart[p+1]
	x, y := a, b
	for x < y { // first index >= lo
		m := int32(uint32(x+y) >> 1)
		if st.plist[m] < lo {
			x = m + 1
		} else {
			y = m
		}
	}
	start := x
	y = b
	for x < y { // first index >= hi
		m := int32(uint32(x+y) >> 1)
		if st.plist[m] < hi {
			x = m + 1
		} else {
			y = m
		}
	}
	return start, x
}

func (st *state) evalTree(f *Filter, cj []int32) bool {
	for _, cid := range cj {
		if !st.condAny[cid] && !f.conds[cid].list.absentOK {
			return false
		}
	}
	st.buildLists(f)
	// Conditions without leaves are absent (allowed, as checked above).
	mark := len(st.stk)
	for _, cid := range cj {
		if st.pathHits[f.conds[cid].path] != 0 {
			st.stk = append(st.stk, cid)
		}
	}
	ok := st.elemOK(f, 0, mark, len(st.stk))
	st.stk = st.stk[:mark]
	return ok
}

// elemOK reports whether the conditions stk[ks:ke], each with live hits in
// element e, can all be satisfied by leaves inside e.
func (st *state) elemOK(f *Filter, e int32, ks, ke int) bool {
	lo, hi := st.elems[e].lo, st.elems[e].hi
	mark := len(st.stk)
	defer func() { st.stk = st.stk[:mark] }()
	// Pairs (array, cond) for the conditions whose hits lie in arrays below e.
	for i := ks; i < ke; i++ {
		cid := st.stk[i]
		c := &f.conds[cid]
		a, b := st.hitsIn(c.path, lo, hi)
		if a == b {
			continue
		}
		h := &st.hits[st.plist[a]]
		if h.elem == e {
			// A leaf directly in e is consistent with whatever else is
			// chosen in e, so it alone decides.
			if !st.bit(h, c.local) {
				return false
			}
			continue
		}
		st.stk = append(st.stk, st.arrayBelow(h.elem, e), cid)
	}
	pairs := len(st.stk)
	for i := mark; i < pairs; i += 2 {
		arr := st.stk[i]
		if arr < 0 {
			continue
		}
		gs := len(st.stk)
		for j := i; j < pairs; j += 2 {
			if st.stk[j] == arr {
				st.stk = append(st.stk, st.stk[j+1])
				st.stk[j] = -1
			}
		}
		if !st.arrayOK(f, arr, gs, len(st.stk)) {
			return false
		}
		st.stk = st.stk[:gs]
	}
	return true
}

// arrayOK reports whether some element of array arr satisfies the
// conditions stk[ks:ke] (all with live hits in arr): those with hits in the
// element must be satisfied inside it, the others must allow absence — their
// leaves in other elements conflict with the chosen ones.
func (st *state) arrayOK(f *Filter, arr int32, ks, ke int) bool {
	// The chosen element holds a leaf satisfying some condition. Candidates
	// come from the satisfying leaves of one condition that cannot be absent
	// (it must be satisfied in the element); if all can, of each in turn.
	for i := ks; i < ke; i++ {
		if !f.conds[st.stk[i]].list.absentOK {
			return st.tryElements(f, arr, ks, ke, i, i+1)
		}
	}
	return st.tryElements(f, arr, ks, ke, ks, ke)
}

// tryElements tries the elements of arr that hold a leaf satisfying one of
// the conditions stk[ds:de].
func (st *state) tryElements(f *Filter, arr int32, ks, ke, ds, de int) bool {
	alo, ahi := st.arrs[arr].lo, st.arrs[arr].hi
	for d := ds; d < de; d++ {
		dc := &f.conds[st.stk[d]]
		a, b := st.hitsIn(dc.path, alo, ahi)
		last := int32(-1)
		for j := a; j < b; j++ {
			h := &st.hits[st.plist[j]]
			if !st.bit(h, dc.local) {
				continue
			}
			e := st.elemBelow(h.elem, arr)
			if e == last || e < 0 {
				continue
			}
			last = e
			if st.elementOK(f, e, ks, ke) {
				return true
			}
		}
	}
	return false
}

func (st *state) elementOK(f *Filter, e int32, ks, ke int) bool {
	lo, hi := st.elems[e].lo, st.elems[e].hi
	mark := len(st.stk)
	defer func() { st.stk = st.stk[:mark] }()
	for i := ks; i < ke; i++ {
		cid := st.stk[i]
		c := &f.conds[cid]
		if a, b := st.hitsIn(c.path, lo, hi); a < b {
			st.stk = append(st.stk, cid)
		} else if !c.list.absentOK {
			return false
		}
	}
	return st.elemOK(f, e, mark, len(st.stk))
}

// arrayBelow returns the array directly inside element top that holds
// element e.
func (st *state) arrayBelow(e, top int32) int32 {
	for {
		a := st.elems[e].parent
		p := st.arrs[a].parent
		if p == top {
			return a
		}
		e = p
	}
}

// elemBelow returns the element of array arr that holds element e, or -1.
func (st *state) elemBelow(e, arr int32) int32 {
	for e > 0 {
		a := st.elems[e].parent
		if a == arr {
			return e
		}
		e = st.arrs[a].parent
	}
	return -1
}

// consistent reports whether leaves in elements x and y may both be chosen:
// they must not sit in different elements of one array.
func (st *state) consistent(x, y int32) bool {
	for st.elems[x].depth > st.elems[y].depth {
		x = st.arrs[st.elems[x].parent].parent
	}
	for st.elems[y].depth > st.elems[x].depth {
		y = st.arrs[st.elems[y].parent].parent
	}
	for x != y {
		px, py := st.elems[x].parent, st.elems[y].parent
		if px == py {
			return false
		}
		x, y = st.arrs[px].parent, st.arrs[py].parent
	}
	return true
}

// evalBrute searches choices condition by condition; it is used only for
// records with dotted keys on named paths whose arrays are shared, and gives
// up (no match) after bruteBudget consistency checks.
func (st *state) evalBrute(f *Filter, cj []int32) bool {
	for _, cid := range cj {
		if !st.condAny[cid] && !f.conds[cid].list.absentOK {
			return false
		}
	}
	st.buildLists(f)
	st.budget = bruteBudget
	mark := len(st.stk)
	ok := st.brute(f, cj, 0, mark)
	st.stk = st.stk[:mark]
	return ok
}

// brute extends the choice stk[base:] (one entry per condition so far: a hit
// index, or -1 for absent) with condition i.
func (st *state) brute(f *Filter, cj []int32, i, base int) bool {
	if st.budget--; st.budget < 0 {
		return false
	}
	if i == len(cj) {
		return st.absencesHold(f, cj, base)
	}
	c := &f.conds[cj[i]]
	a, b := st.pstart[c.path], st.pstart[c.path+1]
	for j := a; j < b; j++ {
		hi := st.plist[j]
		h := &st.hits[hi]
		if !st.bit(h, c.local) || !st.fits(h.elem, base) {
			continue
		}
		st.stk = append(st.stk, hi)
		ok := st.brute(f, cj, i+1, base)
		st.stk = st.stk[:len(st.stk)-1]
		if ok {
			return true
		}
		if st.budget < 0 {
			return false
		}
	}
	if c.list.absentOK {
		st.stk = append(st.stk, -1)
		ok := st.brute(f, cj, i+1, base)
		st.stk = st.stk[:len(st.stk)-1]
		return ok
	}
	return false
}

// fits reports whether a leaf in element e is consistent with every chosen
// leaf. Each check spends budget.
func (st *state) fits(e int32, base int) bool {
	for _, hi := range st.stk[base:] {
		if hi < 0 {
			continue
		}
		st.budget--
		if !st.consistent(e, st.hits[hi].elem) {
			return false
		}
	}
	return true
}

func (st *state) absencesHold(f *Filter, cj []int32, base int) bool {
	for k, cid := range cj {
		if st.stk[base+k] >= 0 {
			continue
		}
		c := &f.conds[cid]
		for j := st.pstart[c.path]; j < st.pstart[c.path+1]; j++ {
			if st.fits(st.hits[st.plist[j]].elem, base) || st.budget < 0 {
				return false
			}
		}
	}
	return true
}
