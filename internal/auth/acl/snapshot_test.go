package acl

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// gen makes random bindings, filters and requests over a small universe,
// so that names share prefixes, bindings collide and filters select many.
type gen struct{ r *rand.Rand }

var (
	genNames      = []string{"a", "ab", "abc", "abd", "abcd", "b", "ba", "*", "*x", "x.y", "x.yz", "x", "topic-1", "topic-10", "topic-2", "ns00001.", "ns00001.t", "ns00002.", "ünï"}
	genPrincipals = []string{"User:a", "User:b", "User:*", "Group:a", "User:ns00001.k-1"}
	genHosts      = []string{"*", "10.0.0.1", "10.0.0.2"}
	genTypes      = []ResourceType{Topic, Group, TransactionalID, Cluster, User}
)

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func (g gen) binding() Binding {
	b := Binding{
		ResourceType: pick(g.r, genTypes),
		Name:         pick(g.r, genNames),
		Pattern:      pick(g.r, []PatternType{Literal, Prefixed}),
		Principal:    pick(g.r, genPrincipals),
		Host:         pick(g.r, genHosts),
		Operation:    Operation(int(All) + g.r.IntN(int(DescribeTokens-All)+1)),
		Permission:   pick(g.r, []Permission{Allow, Deny}),
	}
	if b.ResourceType == Cluster {
		b.Name = ClusterName
	}
	return b
}

func (g gen) filter() Filter {
	f := AnyFilter
	if g.r.IntN(3) == 0 {
		f.ResourceType = pick(g.r, genTypes)
	}
	if g.r.IntN(2) == 0 {
		f.Name = ptr(pick(g.r, append([]string{ClusterName, "abcde", "x.y.z", "ns00001.topic"}, genNames...)))
	}
	f.Pattern = pick(g.r, []PatternType{AnyPattern, Match, Literal, Prefixed})
	if g.r.IntN(2) == 0 {
		f.Principal = ptr(pick(g.r, genPrincipals))
	}
	if g.r.IntN(4) == 0 {
		f.Host = ptr(pick(g.r, genHosts))
	}
	if g.r.IntN(3) == 0 {
		f.Operation = Operation(int(All) + g.r.IntN(int(DescribeTokens-All)+1))
	}
	if g.r.IntN(3) == 0 {
		f.Permission = pick(g.r, []Permission{Allow, Deny})
	}
	return f
}

// refAuthorize is Authorize's rules applied to every binding, one by one.
func refAuthorize(bs []Binding, allowNoACL bool, principal, host string, op Operation, rt ResourceType, name string) bool {
	var allowed, seen bool
	for _, b := range bs {
		if b.ResourceType != rt {
			continue
		}
		if !(b.Pattern == Literal && (b.Name == name || b.Name == WildcardResource)) &&
			!(b.Pattern == Prefixed && strings.HasPrefix(name, b.Name)) {
			continue
		}
		seen = true
		if (b.Principal != principal && b.Principal != WildcardPrincipal) || (b.Host != WildcardHost && b.Host != host) {
			continue
		}
		if b.Permission == Deny {
			if b.Operation == All || b.Operation == op {
				return false
			}
			continue
		}
		if b.Operation == All || b.Operation == op || implies(b.Operation, op) {
			allowed = true
		}
	}
	return allowed || (!seen && allowNoACL)
}

func refMatch(bs []Binding, f Filter) []Binding {
	var out []Binding
	for _, b := range bs {
		if f.Matches(b) {
			out = append(out, b)
		}
	}
	return out
}

// sameSnapshot reports how got differs from want, structurally.
func sameSnapshot(got, want *snapshot) error {
	if got.n != want.n {
		return fmt.Errorf("n = %d, want %d", got.n, want.n)
	}
	for rt := range got.types {
		g, w := got.types[rt], want.types[rt]
		if (g == nil) != (w == nil) {
			return fmt.Errorf("type %d: present %v, want %v", rt, g != nil, w != nil)
		}
		if g == nil {
			continue
		}
		if !slices.Equal(g.wildcard, w.wildcard) {
			return fmt.Errorf("type %d: wildcard %v, want %v", rt, g.wildcard, w.wildcard)
		}
		if err := sameTrie(g.root, w.root, func(x, y entries) bool {
			return slices.Equal(x.lit, y.lit) && slices.Equal(x.pre, y.pre)
		}); err != nil {
			return fmt.Errorf("type %d: %w", rt, err)
		}
	}
	if err := sameTrie(got.byPrincipal, want.byPrincipal, func(x, y bindingList) bool { return slices.Equal(x, y) }); err != nil {
		return fmt.Errorf("principal index: %w", err)
	}
	return nil
}

func sameTrie[V valuer](g, w *node[V], eq func(V, V) bool) error {
	if g == nil || w == nil {
		if g != w {
			return fmt.Errorf("node %v, want %v", g, w)
		}
		return nil
	}
	if g.key != w.key || g.first != w.first || len(g.kids) != len(w.kids) || !eq(g.val, w.val) {
		return fmt.Errorf("node %q (kids %q, %v), want %q (kids %q, %v)", g.key, g.first, g.val, w.key, w.first, w.val)
	}
	for i := range g.kids {
		if err := sameTrie(g.kids[i], w.kids[i], eq); err != nil {
			return err
		}
	}
	return nil
}

// TestSnapshotIncremental interleaves random Adds and Deletes and checks,
// after each, that the incrementally changed snapshot is the one built from
// scratch from the same bindings, and that Authorize, Match and Delete
// agree with the rules applied binding by binding.
func TestSnapshotIncremental(t *testing.T) {
	for seed := range uint64(8) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			g := gen{rand.New(rand.NewPCG(seed, 0x0c70))}
			allowNoACL := seed%2 == 1
			a := New(WithAllowEveryoneIfNoACL(allowNoACL))
			model := map[Binding]bool{}
			sorted := func() []Binding {
				var bs []Binding
				for b := range model {
					bs = append(bs, b)
				}
				slices.SortFunc(bs, compareBindings)
				return bs
			}
			maxLen, removedTotal := 0, 0
			defer func() {
				// The generator must exercise both: a big set, and deletes that hit.
				t.Logf("at most %d bindings, %d removed", maxLen, removedTotal)
				if maxLen < 100 || removedTotal < 300 {
					t.Errorf("weak run: at most %d bindings, %d removed", maxLen, removedTotal)
				}
			}()
			for step := range 600 {
				before := sorted()
				maxLen = max(maxLen, len(before))
				if g.r.IntN(5) < 3 {
					bs := make([]Binding, 1+g.r.IntN(12))
					for i := range bs {
						bs[i] = g.binding()
					}
					if g.r.IntN(4) == 0 && len(before) > 0 {
						bs = append(bs, pick(g.r, before)) // already present
					}
					if err := a.Add(bs); err != nil {
						t.Fatal(err)
					}
					for _, b := range bs {
						model[b] = true
					}
				} else {
					fs := make([]Filter, 1+g.r.IntN(3))
					for i := range fs {
						fs[i] = g.filter()
					}
					removed, err := a.Delete(fs)
					if err != nil {
						t.Fatal(err)
					}
					for i, f := range fs {
						if want := refMatch(before, f); !slices.Equal(removed[i], want) {
							t.Fatalf("step %d: filter %d removed %v, want %v", step, i, removed[i], want)
						}
						for _, b := range removed[i] {
							delete(model, b)
						}
						removedTotal += len(removed[i])
					}
				}
				want := sorted()
				snap := a.snap.Load()
				if err := sameSnapshot(snap, buildSnapshot(want)); err != nil {
					t.Fatalf("step %d: incremental snapshot differs from a fresh one: %v", step, err)
				}
				if got := a.Bindings(); !slices.Equal(got, want) {
					t.Fatalf("step %d: Bindings\n got %v\nwant %v", step, got, want)
				}
				for range 20 {
					f := g.filter()
					if got, want := a.Match(f), refMatch(want, f); !slices.Equal(got, want) {
						t.Fatalf("step %d: Match(%+v)\n got %v\nwant %v", step, f, got, want)
					}
					rt := pick(g.r, genTypes)
					name := pick(g.r, append([]string{"abcde", "x.y.z", "ns00001.topic", ClusterName}, genNames...))
					p, h := pick(g.r, genPrincipals), pick(g.r, genHosts)
					op := Operation(int(All) + g.r.IntN(int(DescribeTokens-All)+1))
					if got, want := a.Authorize(p, h, op, rt, name), refAuthorize(want, allowNoACL, p, h, op, rt, name); got != want {
						t.Fatalf("step %d: Authorize(%s, %s, %s, %s, %q) = %v, want %v", step, p, h, op, rt, name, got, want)
					}
				}
			}
		})
	}
}

// The trie alone, against a sorted map, with keys that split and merge edges.
func TestTrieWithAgainstBuild(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	keys := []string{"a", "ab", "abc", "abd", "b", "ba", "bab", "c", "abcdef", "abce", "x", "xy", "xyz", "xz"}
	var root *node[bindingList]
	model := map[string]bindingList{}
	for step := range 5000 {
		k := pick(r, keys)
		var v bindingList
		if r.IntN(2) == 0 {
			v = bindingList{{Name: k}}
		}
		root = root.with(k, func(bindingList) bindingList { return v })
		if v.empty() {
			delete(model, k)
		} else {
			model[k] = v
		}
		var items []item[bindingList]
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range model {
				if !yield(k) {
					return
				}
			}
		}) {
			items = append(items, item[bindingList]{k, model[k]})
		}
		if err := sameTrie(root, buildTrie(items), func(x, y bindingList) bool { return slices.Equal(x, y) }); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		for _, k := range keys {
			if got := root.get(k); !slices.Equal(got, model[k]) {
				t.Fatalf("step %d: get(%q) = %v, want %v", step, k, got, model[k])
			}
		}
	}
}

// A change must not touch the snapshot it was made from: readers may still
// hold it.
func TestApplyLeavesOldSnapshot(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(7, 7))}
	a := New()
	for range 300 {
		old := a.snap.Load()
		oldBindings := slices.Clone(old.all())
		ref := buildSnapshot(oldBindings)
		if g.r.IntN(2) == 0 {
			a.Add([]Binding{g.binding(), g.binding()})
		} else {
			a.Delete([]Filter{g.filter()})
		}
		if err := sameSnapshot(old, ref); err != nil {
			t.Fatalf("old snapshot changed: %v", err)
		}
	}
}

// BenchmarkAddDelete is one Add of 11 bindings and the Delete taking them
// away again, with no timer stops: a change's real cost at n bindings.
func BenchmarkAddDelete(b *testing.B) {
	for _, n := range []int{1100, 16500, 110000} {
		b.Run(fmt.Sprintf("bindings=%d", n), func(b *testing.B) {
			base := make([]Binding, 0, n)
			for i := range n {
				base = append(base, Binding{ResourceType: Topic, Name: fmt.Sprintf("ns%05d.", i/11), Pattern: Prefixed,
					Principal: fmt.Sprintf("User:ns%05d.k-%d", i/11, i%11), Host: "*", Operation: Read, Permission: Allow})
			}
			a := New()
			if err := a.Add(base); err != nil {
				b.Fatal(err)
			}
			extra := make([]Binding, 11)
			for i := range extra {
				extra[i] = Binding{ResourceType: Topic, Name: "ns00042.", Pattern: Prefixed,
					Principal: "User:ns00042.k-new", Host: "*", Operation: Operation(int(Read) + i), Permission: Allow}
			}
			undo := []Filter{{ResourceType: AnyResource, Pattern: AnyPattern, Principal: ptr("User:ns00042.k-new"), Operation: AnyOperation, Permission: AnyPermission}}
			b.ReportAllocs()
			for b.Loop() {
				if err := a.Add(extra); err != nil {
					b.Fatal(err)
				}
				if removed, err := a.Delete(undo); err != nil || len(removed[0]) != len(extra) {
					b.Fatal(err)
				}
			}
		})
	}
}
