package filter

import (
	"fmt"
	"strings"
)

// fieldType is what a record field can hold; Compile rejects values that
// could never match it (a number for the key, say), since such a filter is
// almost always a mistake.
type fieldType uint8

const (
	ftAny    fieldType = iota // value and everything inside it
	ftString                  // key, topic
	ftHeader                  // a header: a string, or null when it has no value
	ftNumber                  // partition, offset, timestamp
)

var recordFields = map[string]fieldType{
	"key":       ftString,
	"topic":     ftString,
	"partition": ftNumber,
	"offset":    ftNumber,
	"timestamp": ftNumber,
}

// reservedInOr are names event-ruler refuses as field names inside $or,
// where they could be mistaken for operators.
var reservedInOr = map[string]bool{
	"exactly": true, "equals-ignore-case": true, "prefix": true, "suffix": true,
	"anything-but": true, "exists": true, "wildcard": true, "numeric": true, "cidr": true,
	"=": true, "<": true, "<=": true, ">": true, ">=": true, "regex": true,
	"not-wildcard": true, "not-equals-ignore-case": true, "date-after": true,
	"date-on-or-after": true, "date-before": true, "date-on-or-before": true,
	"in-date-range": true, "ip-address-in-range": true, "ip-address-not-in-range": true,
}

type level uint8

const (
	levelTop     level = iota // record fields
	levelValue                // inside value: keys split at dots
	levelHeaders              // header names: never split
)

// field is one field condition of a conjunction under construction.
type field struct {
	node *tnode
	list *valueList
}

type conj []field

type compiler struct {
	root      *tnode
	patPath   string
	orProduct int
	terms     int // field conditions in the patterns already compiled
}

// Compile validates and compiles a filter: a JSON list of 1 to MaxPatterns
// pattern objects. Every invalid filter yields an *Error saying where and
// why. A filter that is JSON null or an empty list is invalid: a trigger
// that passes every record has no filter and does not call Compile.
func Compile(filter []byte) (*Filter, error) {
	raws, err := splitFilter(filter)
	if err != nil {
		return nil, err
	}
	c := &compiler{root: newNode("")}
	pats := make([][]conj, len(raws))
	for i, raw := range raws {
		c.patPath = index("", i)
		if len(raw) > MaxPatternSize {
			return nil, errorf(c.patPath, "the pattern is %d bytes; the limit is %d", len(raw), MaxPatternSize)
		}
		n, err := parsePattern(raw)
		if err != nil {
			return nil, errorf(c.patPath, "not valid JSON: %v", err)
		}
		if n.kind != 'o' {
			return nil, errorf(c.patPath, `a pattern must be a JSON object such as {"value": {"status": ["failed"]}}; found %s`, describe(n))
		}
		c.orProduct = 1
		var conjs []conj
		if err := c.object(&conjs, n, nil, c.patPath, levelTop, false); err != nil {
			return nil, err
		}
		for _, cj := range conjs {
			c.terms += len(cj)
		}
		pats[i] = conjs
	}
	return c.finish(pats), nil
}

func newNode(name string) *tnode {
	return &tnode{path: -1, hidx: -1, name: name}
}

// object compiles the fields of a pattern object. prefix is the path of the
// object; lv says what its keys name.
func (c *compiler) object(conjs *[]conj, n *jnode, prefix []string, ep string, lv level, inOr bool) error {
	if len(n.keys) == 0 {
		if lv == levelTop {
			return errorf(ep, `an empty pattern would match every record; name at least one record field, e.g. {"value": {"status": ["failed"]}}`)
		}
		return errorf(ep, "an empty object matches nothing; name at least one field inside it")
	}
	for i, k := range n.keys {
		v := n.vals[i]
		kp := member(ep, k)
		if k == "$or" {
			if err := c.or(conjs, v, prefix, kp, lv); err != nil {
				return err
			}
			continue
		}
		if inOr && reservedInOr[k] {
			return errorf(kp, "%q is an operator name, so it cannot be a field name inside $or; operators go inside a list of values, e.g. \"status\": [{%q: ...}]", k, k)
		}
		var err error
		switch lv {
		case levelTop:
			err = c.recordField(conjs, k, v, kp, inOr)
		case levelValue:
			segs := appendSegs(prefix, strings.Split(k, ".")...)
			switch v.kind {
			case 'o':
				err = c.object(conjs, v, segs, kp, levelValue, inOr)
			case 'a':
				err = c.leaf(conjs, segs, v, kp, ftAny)
			default:
				err = errorf(kp, "the values of a field go in a list, e.g. %s: [%s], or the field holds an object of nested fields; found %s",
					jsonString(k), jsonOf(v), describe(v))
			}
		case levelHeaders:
			switch v.kind {
			case 'a':
				err = c.leaf(conjs, []string{"headers", k}, v, kp, ftHeader)
			default:
				err = errorf(kp, "a header's values go in a list, e.g. %s: [\"application/json\"]; found %s", jsonString(k), describe(v))
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (c *compiler) recordField(conjs *[]conj, k string, v *jnode, kp string, inOr bool) error {
	switch k {
	case "value":
		switch v.kind {
		case 'o':
			return c.object(conjs, v, []string{"value"}, kp, levelValue, inOr)
		case 'a':
			return c.leaf(conjs, []string{"value"}, v, kp, ftAny)
		}
		return errorf(kp, `value takes an object of fields, e.g. "value": {"status": ["failed"]}, or a list of values for the whole value, e.g. "value": [{"prefix": "ERROR"}]; found %s`, describe(v))
	case "headers":
		if v.kind == 'o' {
			return c.object(conjs, v, nil, kp, levelHeaders, inOr)
		}
		return errorf(kp, `headers takes an object of header names, e.g. "headers": {"content-type": ["application/json"]}; found %s`, describe(v))
	}
	ft, ok := recordFields[k]
	if !ok {
		return errorf(kp, "unknown record field %q: a pattern names value, key, headers, topic, partition, offset or timestamp (fields inside the record value go under \"value\")", k)
	}
	if v.kind == 'a' {
		return c.leaf(conjs, []string{k}, v, kp, ft)
	}
	example := map[string]string{"key": `["job-17"]`, "topic": `["orders"]`, "partition": "[0]",
		"offset": `[{"numeric": [">=", 1000]}]`, "timestamp": `[{"numeric": [">", 1700000000000]}]`}[k]
	return errorf(kp, "%s holds a single %s, so it takes a list of values, e.g. \"%s\": %s; found %s", k, typeName(ft), k, example, describe(v))
}

// or expands a $or list: every conjunction so far is copied once per
// alternative, and each copy gets that alternative's fields.
func (c *compiler) or(conjs *[]conj, v *jnode, prefix []string, kp string, lv level) error {
	if v.kind != 'a' {
		return errorf(kp, `$or takes a list of at least two objects, e.g. "$or": [{"a": [1]}, {"b": [2]}]; found %s`, describe(v))
	}
	if len(v.vals) < 2 {
		return errorf(kp, "$or needs at least two alternatives; found %d", len(v.vals))
	}
	c.orProduct *= len(v.vals)
	if c.orProduct > MaxOrProduct {
		return errorf(kp, "too many $or combinations: the lengths of this pattern's $or lists multiply to more than %d", MaxOrProduct)
	}
	cur := *conjs
	// Every alternative gets a copy of every conjunction so far; refuse
	// before copying when that alone is too much.
	if err := c.checkTerms(cur, len(v.vals)); err != nil {
		return err
	}
	var out []conj
	for j, b := range v.vals {
		bp := index(kp, j)
		if b.kind != 'o' {
			return errorf(bp, "each $or alternative is an object of fields; found %s", describe(b))
		}
		branch := make([]conj, len(cur))
		for i, cj := range cur {
			branch[i] = append(conj(nil), cj...)
		}
		if len(branch) == 0 {
			branch = []conj{nil}
		}
		if err := c.object(&branch, b, prefix, bp, lv, true); err != nil {
			return err
		}
		out = append(out, branch...)
	}
	*conjs = out
	return c.checkTerms(out, 1)
}

// leaf adds the field at segs with the list of values v to every
// conjunction; a later field with the same path replaces an earlier one, as
// in event-ruler.
func (c *compiler) leaf(conjs *[]conj, segs []string, v *jnode, kp string, ft fieldType) error {
	list, err := compileList(v, kp, target{ft: ft, name: segs[0]})
	if err != nil {
		return err
	}
	node := c.root
	for _, s := range segs {
		node = node.add(s)
	}
	if node.name == "" {
		node.name = strings.Join(segs, ".")
	}
	if len(*conjs) == 0 {
		*conjs = []conj{nil}
	}
	for i, cj := range *conjs {
		replaced := false
		for j := range cj {
			if cj[j].node == node {
				cj[j].list = list
				replaced = true
				break
			}
		}
		if !replaced {
			(*conjs)[i] = append(cj, field{node, list})
		}
	}
	return c.checkTerms(*conjs, 1)
}

// checkTerms fails when the conjunctions, times copies, bring the filter
// past maxTerms field conditions.
func (c *compiler) checkTerms(conjs []conj, copies int) error {
	n := 0
	for _, cj := range conjs {
		n += len(cj)
	}
	if c.terms+n*copies > maxTerms {
		return errorf(c.patPath, "the filter is too complex: with its $or lists expanded it has more than %d field conditions", maxTerms)
	}
	return nil
}

// finish numbers the paths and conditions and builds the Filter.
func (c *compiler) finish(pats [][]conj) *Filter {
	f := &Filter{keyPath: -1, topicPath: -1, partitionPath: -1, offsetPath: -1, timestampPath: -1}
	type key struct {
		node *tnode
		list *valueList
	}
	ids := map[key]int32{}
	for _, conjs := range pats {
		var p pattern
		for _, cj := range conjs {
			row := make([]int32, len(cj))
			for j, fd := range cj {
				id, ok := ids[key{fd.node, fd.list}]
				if !ok {
					if fd.node.path < 0 {
						fd.node.path = int32(len(f.paths))
						f.paths = append(f.paths, pathInfo{
							name:      fd.node.name,
							usesValue: fd.node.name == "value" || strings.HasPrefix(fd.node.name, "value."),
						})
					}
					pi := &f.paths[fd.node.path]
					id = int32(len(f.conds))
					f.conds = append(f.conds, cond{path: fd.node.path, local: int32(len(pi.conds)), list: fd.list})
					pi.conds = append(pi.conds, id)
					ids[key{fd.node, fd.list}] = id
				}
				row[j] = id
				if f.paths[fd.node.path].usesValue {
					p.usesValue = true
				}
			}
			p.conjs = append(p.conjs, row)
		}
		f.patterns = append(f.patterns, p)
	}
	for i := range f.paths {
		f.paths[i].words = (len(f.paths[i].conds) + 63) / 64
	}
	f.value = c.root.childStr("value")
	f.headers = c.root.childStr("headers")
	if f.headers != nil {
		n := int32(0)
		for _, ch := range f.headers.children {
			if ch.node.path >= 0 {
				ch.node.hidx = n
				n++
			}
		}
	}
	pathOf := func(name string) int32 {
		if n := c.root.childStr(name); n != nil {
			return n.path
		}
		return -1
	}
	f.keyPath = pathOf("key")
	f.topicPath = pathOf("topic")
	f.partitionPath = pathOf("partition")
	f.offsetPath = pathOf("offset")
	f.timestampPath = pathOf("timestamp")
	return f
}

func appendSegs(prefix []string, segs ...string) []string {
	out := make([]string, 0, len(prefix)+len(segs))
	out = append(out, prefix...)
	return append(out, segs...)
}

func typeName(ft fieldType) string {
	switch ft {
	case ftString, ftHeader:
		return "string"
	case ftNumber:
		return "number"
	}
	return "value"
}

func jsonString(s string) string {
	return fmt.Sprintf("%q", s)
}

// jsonOf writes a scalar pattern value back as JSON, for suggestions.
func jsonOf(n *jnode) string {
	switch n.kind {
	case 's':
		return jsonString(n.str)
	case 'n':
		return n.str
	case 't':
		return "true"
	case 'f':
		return "false"
	case 'z':
		return "null"
	}
	return "..."
}
