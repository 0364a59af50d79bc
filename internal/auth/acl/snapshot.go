package acl

import (
	"cmp"
	"slices"
	"sync/atomic"
)

// entry is the access-control part of a binding, stored under its resource.
type entry struct {
	principal string
	host      string
	op        Operation
	perm      Permission
}

func entryOf(b Binding) entry {
	return entry{principal: b.Principal, host: b.Host, op: b.Operation, perm: b.Permission}
}

// compareEntry orders entries as compareBindings orders bindings of one resource.
func compareEntry(x, y entry) int {
	if c := cmp.Compare(x.principal, y.principal); c != 0 {
		return c
	}
	if c := cmp.Compare(x.host, y.host); c != 0 {
		return c
	}
	if c := cmp.Compare(x.op, y.op); c != 0 {
		return c
	}
	return cmp.Compare(x.perm, y.perm)
}

// entries are the bindings of one resource name, by pattern type; each
// slice sorted by compareEntry and never modified once published.
type entries struct {
	lit []entry // Literal
	pre []entry // Prefixed
}

func (e entries) empty() bool { return len(e.lit) == 0 && len(e.pre) == 0 }

// bindingList is a sorted, never modified list of bindings.
type bindingList []Binding

func (l bindingList) empty() bool { return len(l) == 0 }

// typeIndex holds the bindings of one resource type.
type typeIndex struct {
	root     *node[entries] // keyed by resource name; never nil
	wildcard []entry        // root's Literal "*" entries, looked up once here
}

// snapshot is an immutable view of all bindings; never modified once
// published. A change makes a new snapshot that shares every unchanged
// trie node, entry slice and typeIndex with the old one.
type snapshot struct {
	types       [numResourceTypes]*typeIndex // nil: no binding of that type
	byPrincipal *node[bindingList]           // for filters by principal (key revocation)
	n           int                          // number of bindings
	sorted      atomic.Pointer[[]Binding]    // all bindings, made by the first all()
}

func compareBindings(x, y Binding) int {
	if c := cmp.Compare(x.ResourceType, y.ResourceType); c != 0 {
		return c
	}
	if c := cmp.Compare(x.Pattern, y.Pattern); c != 0 {
		return c
	}
	if c := cmp.Compare(x.Name, y.Name); c != 0 {
		return c
	}
	return compareEntry(entryOf(x), entryOf(y))
}

// compareByPrincipal orders the principal index's input.
func compareByPrincipal(x, y Binding) int {
	if c := cmp.Compare(x.Principal, y.Principal); c != 0 {
		return c
	}
	return compareBindings(x, y)
}

// buildSnapshot indexes bs, which must be valid, sorted and unique, from
// scratch. Open uses it once; changes go through apply.
func buildSnapshot(bs []Binding) *snapshot {
	s := &snapshot{n: len(bs)}
	for i := 0; i < len(bs); {
		rt := bs[i].ResourceType
		j := i
		for j < len(bs) && bs[j].ResourceType == rt {
			j++
		}
		if rt >= 0 && int(rt) < numResourceTypes { // Validate keeps others out
			s.types[rt] = newTypeIndex(buildTrie(typeItems(bs[i:j])))
		}
		i = j
	}
	byP := slices.Clone(bs)
	slices.SortFunc(byP, compareByPrincipal)
	var items []item[bindingList]
	for i := 0; i < len(byP); {
		j := i + 1
		for j < len(byP) && byP[j].Principal == byP[i].Principal {
			j++
		}
		items = append(items, item[bindingList]{byP[i].Principal, bindingList(byP[i:j:j])})
		i = j
	}
	s.byPrincipal = buildTrie(items)
	return s
}

// typeItems turns the sorted bindings of one type (Literal ones, then
// Prefixed ones) into trie items sorted by name.
func typeItems(bs []Binding) []item[entries] {
	byName := map[string]*entries{}
	var names []string
	for _, b := range bs {
		e := byName[b.Name]
		if e == nil {
			e = &entries{}
			byName[b.Name] = e
			names = append(names, b.Name)
		}
		if b.Pattern == Literal {
			e.lit = append(e.lit, entryOf(b))
		} else {
			e.pre = append(e.pre, entryOf(b))
		}
	}
	slices.Sort(names)
	items := make([]item[entries], len(names))
	for i, name := range names {
		items[i] = item[entries]{name, *byName[name]}
	}
	return items
}

func newTypeIndex(root *node[entries]) *typeIndex {
	if root == nil {
		return nil
	}
	return &typeIndex{root: root, wildcard: root.get(WildcardResource).lit}
}

// change is one committed change: bindings that were absent and are
// added, and bindings that were present and are removed; each list sorted
// by compareBindings and unique, the two disjoint. It is also what the
// Store's log records.
type change struct {
	add, remove []Binding
}

func (c change) empty() bool { return len(c.add) == 0 && len(c.remove) == 0 }

// uniqueSorted returns bs sorted by compareBindings without duplicates,
// in a new slice.
func uniqueSorted(bs []Binding) []Binding {
	bs = slices.Clone(bs)
	slices.SortFunc(bs, compareBindings)
	return slices.Compact(bs)
}

// planAdd validates bs and returns the change adding those not yet in s.
func planAdd(s *snapshot, bs []Binding) (change, error) {
	for _, b := range bs {
		if err := b.Validate(); err != nil {
			return change{}, err
		}
	}
	add := slices.DeleteFunc(uniqueSorted(bs), s.has)
	return change{add: slices.Clip(add)}, nil
}

// planDelete validates filters and returns, per filter, the bindings of s
// it selects, and the change removing all of them.
func planDelete(s *snapshot, filters []Filter) ([][]Binding, change, error) {
	for _, f := range filters {
		if err := f.Validate(); err != nil {
			return nil, change{}, err
		}
	}
	removed := make([][]Binding, len(filters))
	var all []Binding
	for i, f := range filters {
		removed[i] = s.match(f)
		all = append(all, removed[i]...)
	}
	if len(filters) > 1 {
		slices.SortFunc(all, compareBindings)
		all = slices.Compact(all)
	}
	return removed, change{remove: all}, nil
}

// has reports whether s holds the valid binding b.
func (s *snapshot) has(b Binding) bool {
	ti := s.types[b.ResourceType]
	if ti == nil {
		return false
	}
	v := ti.root.get(b.Name)
	es := v.lit
	if b.Pattern == Prefixed {
		es = v.pre
	}
	_, ok := slices.BinarySearchFunc(es, entryOf(b), compareEntry)
	return ok
}

// apply returns s changed by c, sharing what c does not touch. Its cost
// grows with c and the depth of the tries, not with the size of s.
func (s *snapshot) apply(c change) *snapshot {
	next := &snapshot{types: s.types, byPrincipal: s.byPrincipal, n: s.n + len(c.add) - len(c.remove)}
	for _, l := range [...]struct {
		bs  []Binding
		add bool
	}{{c.remove, false}, {c.add, true}} {
		bs := l.bs
		for i := 0; i < len(bs); {
			j := i + 1
			for j < len(bs) && bs[j].ResourceType == bs[i].ResourceType && bs[j].Pattern == bs[i].Pattern && bs[j].Name == bs[i].Name {
				j++
			}
			next.changeResource(bs[i:j], l.add)
			i = j
		}
		byP := slices.Clone(bs)
		slices.SortFunc(byP, compareByPrincipal)
		for i := 0; i < len(byP); {
			j := i + 1
			for j < len(byP) && byP[j].Principal == byP[i].Principal {
				j++
			}
			run := byP[i:j]
			next.byPrincipal = next.byPrincipal.with(run[0].Principal, func(v bindingList) bindingList {
				return merge(v, run, l.add, compareBindings)
			})
			i = j
		}
	}
	return next
}

// changeResource adds or removes run, bindings of one resource type,
// pattern and name, sorted.
func (s *snapshot) changeResource(run []Binding, add bool) {
	b0 := run[0]
	es := make([]entry, len(run))
	for i, b := range run {
		es[i] = entryOf(b)
	}
	var root *node[entries]
	if ti := s.types[b0.ResourceType]; ti != nil {
		root = ti.root
	}
	root = root.with(b0.Name, func(v entries) entries {
		if b0.Pattern == Literal {
			v.lit = merge(v.lit, es, add, compareEntry)
		} else {
			v.pre = merge(v.pre, es, add, compareEntry)
		}
		return v
	})
	s.types[b0.ResourceType] = newTypeIndex(root)
}

// merge returns a new sorted slice: old plus xs if add (xs absent from
// old), else old minus xs (xs all in old); nil if empty. old and xs are
// sorted by compare.
func merge[T any](old, xs []T, add bool, compare func(T, T) int) []T {
	n := len(old) - len(xs)
	if add {
		n = len(old) + len(xs)
	}
	if n <= 0 {
		return nil
	}
	out := make([]T, 0, n)
	i := 0
	for _, x := range xs {
		for i < len(old) && compare(old[i], x) < 0 {
			out = append(out, old[i])
			i++
		}
		if add {
			out = append(out, x)
		} else if i < len(old) && compare(old[i], x) == 0 {
			i++
		}
	}
	return append(out, old[i:]...)
}

// all returns every binding, sorted; built once per snapshot, on demand.
func (s *snapshot) all() []Binding {
	if p := s.sorted.Load(); p != nil {
		return *p
	}
	out := make([]Binding, 0, s.n)
	s.walk(Literal, Prefixed, func(b Binding) { out = append(out, b) })
	s.sorted.Store(&out)
	return out
}

// walk calls fn with every binding of the given pattern types, sorted.
func (s *snapshot) walk(first, last PatternType, fn func(Binding)) {
	for rt, ti := range s.types {
		if ti == nil {
			continue
		}
		for p := first; p <= last; p++ {
			ti.root.each(func(n *node[entries]) bool {
				emit(ResourceType(rt), p, n.key, n.val, fn)
				return true
			})
		}
	}
}

// emit calls fn with the bindings of pattern p among es, stored under name.
func emit(rt ResourceType, p PatternType, name string, es entries, fn func(Binding)) {
	list := es.lit
	if p == Prefixed {
		list = es.pre
	}
	for _, e := range list {
		fn(Binding{ResourceType: rt, Name: name, Pattern: p, Principal: e.principal, Host: e.host, Operation: e.op, Permission: e.perm})
	}
}

// match returns the bindings f selects, sorted. The indexes only narrow
// the candidates, visited in sorted order; f.Matches has the last word.
func (s *snapshot) match(f Filter) []Binding {
	var out []Binding
	keep := func(b Binding) {
		if f.Matches(b) {
			out = append(out, b)
		}
	}
	switch {
	case f.Name != nil:
		name := *f.Name
		for rt, ti := range s.types {
			if ti == nil || (f.ResourceType != AnyResource && ResourceType(rt) != f.ResourceType) {
				continue
			}
			at := func(p PatternType, key string) { emit(ResourceType(rt), p, key, ti.root.get(key), keep) }
			switch f.Pattern {
			case Literal, Prefixed:
				at(f.Pattern, name)
			case AnyPattern:
				at(Literal, name)
				at(Prefixed, name)
			case Match:
				// Literal name and "*", in order; then every Prefixed
				// prefix of name, shortest (smallest) first.
				lo, hi := name, WildcardResource
				if hi < lo {
					lo, hi = hi, lo
				}
				at(Literal, lo)
				if hi != lo {
					at(Literal, hi)
				}
				for n := ti.root; n != nil; n = n.step(name) {
					emit(ResourceType(rt), Prefixed, n.key, n.val, keep)
				}
			}
		}
	case f.Principal != nil:
		for _, b := range s.byPrincipal.get(*f.Principal) {
			keep(b)
		}
	default:
		s.walk(Literal, Prefixed, keep)
	}
	return out
}
