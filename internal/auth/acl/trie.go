package acl

import "strings"

// valuer is what a trie node holds; its zero value must be empty.
type valuer interface{ empty() bool }

// node is a node of an immutable compressed trie (a radix tree) of
// strings. A change copies only the nodes on the path to the changed key
// (with), so an old root stays valid and shares every other node with the
// new one: that is what lets a snapshot change in time proportional to the
// change, not to the number of keys.
//
// Invariants, which make the shape depend only on the set of keys (so an
// incrementally changed trie equals one built from scratch): the root has
// key ""; every other node holds a non-empty value or at least two kids;
// kids are ordered by the byte after their parent's key, which is distinct
// per kid; and a pre-order walk visits keys in ascending order.
type node[V valuer] struct {
	key   string // the whole key; a kid's key extends its parent's by ≥ 1 byte
	first string // first[i] == kids[i].key[len(key)], ascending
	kids  []*node[V]
	val   V
}

// get returns the value stored at key (empty if none). n may be nil.
func (n *node[V]) get(key string) V {
	for ; n != nil; n = n.step(key) {
		if len(key) == len(n.key) {
			return n.val
		}
	}
	var zero V
	return zero
}

// kid returns the kid whose key continues n's with byte b, or nil.
func (n *node[V]) kid(b byte) *node[V] {
	if len(n.first) > 16 {
		if i := strings.IndexByte(n.first, b); i >= 0 {
			return n.kids[i]
		}
		return nil
	}
	// Most nodes have a few kids: a loop beats a call.
	for i := 0; i < len(n.first); i++ {
		if n.first[i] == b {
			return n.kids[i]
		}
	}
	return nil
}

// step returns the kid of n on the way to key (of which n.key is a
// prefix), or nil if no longer key in the trie is a prefix of key.
func (n *node[V]) step(key string) *node[V] {
	d := len(n.key)
	if len(key) == d {
		return nil
	}
	c := n.kid(key[d])
	if c == nil || len(key) < len(c.key) || key[d+1:len(c.key)] != c.key[d+1:] {
		return nil
	}
	return c
}

// with returns the trie rooted at n (nil is empty) with the value at key
// replaced by f(old value); nil if the result holds no value at all. key
// must not be empty.
func (n *node[V]) with(key string, f func(V) V) *node[V] {
	if n == nil {
		n = &node[V]{}
	}
	r := put(n, key, f)
	if len(r.kids) == 0 && r.val.empty() {
		return nil
	}
	return r
}

// put is with below the root: n.key is a prefix of key, and the result
// may break the "value or two kids" invariant for n itself (see prune).
func put[V valuer](n *node[V], key string, f func(V) V) *node[V] {
	d := len(n.key)
	if len(key) == d {
		c := *n
		c.val = f(n.val)
		return &c
	}
	i := strings.IndexByte(n.first, key[d])
	if i < 0 {
		v := f(*new(V))
		if v.empty() {
			return n
		}
		return n.insertKid(&node[V]{key: key, val: v})
	}
	k := n.kids[i]
	if len(key) >= len(k.key) && key[d:len(k.key)] == k.key[d:] {
		return n.replaceKid(i, prune(put(k, key, f)))
	}
	// key leaves k's edge part way: split the edge at the divergence.
	v := f(*new(V))
	if v.empty() {
		return n
	}
	p := d + 1
	for p < len(key) && p < len(k.key) && key[p] == k.key[p] {
		p++
	}
	mid := &node[V]{key: key[:p]}
	if p == len(key) {
		mid.val = v
		mid.kids, mid.first = []*node[V]{k}, k.key[p:p+1]
	} else {
		mid = mid.insertKid(k).insertKid(&node[V]{key: key, val: v})
	}
	return n.replaceKid(i, mid)
}

// prune restores the invariant for a non-root node: without a value it
// needs two kids; with one kid it is replaced by that kid (keys are whole,
// so nothing needs merging).
func prune[V valuer](n *node[V]) *node[V] {
	if !n.val.empty() || len(n.kids) > 1 {
		return n
	}
	if len(n.kids) == 1 {
		return n.kids[0]
	}
	return nil
}

// insertKid returns a copy of n with kid k added in order.
func (n *node[V]) insertKid(k *node[V]) *node[V] {
	b := k.key[len(n.key)]
	i := 0
	for i < len(n.first) && n.first[i] < b {
		i++
	}
	c := *n
	c.first = n.first[:i] + string([]byte{b}) + n.first[i:]
	c.kids = make([]*node[V], 0, len(n.kids)+1)
	c.kids = append(append(append(c.kids, n.kids[:i]...), k), n.kids[i:]...)
	return &c
}

// replaceKid returns a copy of n with kid i replaced by k, or removed if k
// is nil. k starts with the same byte as the kid it replaces.
func (n *node[V]) replaceKid(i int, k *node[V]) *node[V] {
	c := *n
	if k == nil {
		c.first = n.first[:i] + n.first[i+1:]
		c.kids = make([]*node[V], 0, len(n.kids)-1)
		c.kids = append(append(c.kids, n.kids[:i]...), n.kids[i+1:]...)
		if len(c.kids) == 0 {
			c.kids = nil
		}
		return &c
	}
	c.kids = append([]*node[V](nil), n.kids...)
	c.kids[i] = k
	return &c
}

// each calls fn with every node holding a value, in ascending key order,
// until fn returns false.
func (n *node[V]) each(fn func(*node[V]) bool) bool {
	if n == nil {
		return true
	}
	if !n.val.empty() && !fn(n) {
		return false
	}
	for _, k := range n.kids {
		if !k.each(fn) {
			return false
		}
	}
	return true
}

// item is a key and its value, for buildTrie.
type item[V valuer] struct {
	key string
	val V
}

// buildTrie builds the trie of items, which must be sorted by key, unique,
// with non-empty keys and values; nil if there are none.
func buildTrie[V valuer](items []item[V]) *node[V] {
	if len(items) == 0 {
		return nil
	}
	return buildNode("", items)
}

// buildNode builds the node for key from items, whose keys all start with key.
func buildNode[V valuer](key string, items []item[V]) *node[V] {
	n := &node[V]{key: key}
	if items[0].key == key {
		n.val, items = items[0].val, items[1:]
	}
	d := len(key)
	var first []byte
	for len(items) > 0 {
		b := items[0].key[d]
		j := 1
		for j < len(items) && items[j].key[d] == b {
			j++
		}
		// Sorted, so the group's common prefix is its first and last key's.
		lo, hi := items[0].key, items[j-1].key
		p := d + 1
		for p < len(lo) && p < len(hi) && lo[p] == hi[p] {
			p++
		}
		first = append(first, b)
		n.kids = append(n.kids, buildNode(lo[:p], items[:j]))
		items = items[j:]
	}
	n.first = string(first)
	return n
}
