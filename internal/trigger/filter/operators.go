package filter

import (
	"math"
	"strconv"
	"strings"
)

// target is the field a list of values applies to, for type checks and
// messages.
type target struct {
	ft   fieldType
	name string // record field name, for messages ("key", "partition", ...)
}

const operatorNames = "prefix, suffix, equals-ignore-case, wildcard, anything-but, numeric, exists and cidr"

// compileList compiles a field's list of values (ORed).
func compileList(v *jnode, kp string, tg target) (*valueList, error) {
	if len(v.vals) == 0 {
		return nil, errorf(kp, `an empty list matches nothing; give at least one value, e.g. ["failed"]`)
	}
	l := &valueList{}
	var exact []string
	for j, e := range v.vals {
		ep := index(kp, j)
		switch e.kind {
		case 's':
			if err := tg.want(lString, ep); err != nil {
				return nil, err
			}
			if a, ok := parseIP(e.str); ok {
				// event-ruler matches an IP literal by address, whatever its spelling.
				l.ms = append(l.ms, matcher{op: opExactIP, addr: a})
			} else {
				exact = append(exact, e.str)
			}
		case 'n':
			if err := tg.want(lNumber, ep); err != nil {
				return nil, err
			}
			f, finite := parseNumber(e.str)
			l.ms = append(l.ms, matcher{op: opNumber, f: f, finite: finite, s: e.str})
		case 't', 'f':
			if err := tg.want(lTrue, ep); err != nil {
				return nil, err
			}
			if e.kind == 't' {
				l.ms = append(l.ms, matcher{op: opTrue})
			} else {
				l.ms = append(l.ms, matcher{op: opFalse})
			}
		case 'z':
			if err := tg.want(lNull, ep); err != nil {
				return nil, err
			}
			l.ms = append(l.ms, matcher{op: opNull})
		case 'a':
			return nil, errorf(ep, "a list of values cannot contain another list")
		case 'o':
			m, exists, err := compileOperator(e, ep, tg)
			if err != nil {
				return nil, err
			}
			switch exists {
			case 1:
				l.anyLeaf = true
			case 2:
				l.absentOK = true
			default:
				l.ms = append(l.ms, m)
			}
		}
	}
	if len(exact) > smallSet {
		l.exact = make(map[string]struct{}, len(exact))
		for _, s := range exact {
			l.exact[s] = struct{}{}
		}
	} else {
		for _, s := range exact {
			l.ms = append(l.ms, matcher{op: opExact, s: s})
		}
	}
	return l, nil
}

// want rejects a value of kind k that can never match the field.
func (tg target) want(k leafKind, ep string) error {
	switch tg.ft {
	case ftString, ftHeader:
		switch k {
		case lNumber:
			return errorf(ep, `%s is a string, so a number never matches it; quote the number, e.g. ["42"]`, tg.what())
		case lTrue:
			return errorf(ep, "%s is a string, so true or false never match it; quote it if you mean the text", tg.what())
		case lNull:
			if tg.ft == ftString {
				if tg.name == "key" {
					return errorf(ep, `a record without a key has no key field rather than a null one: match it with [{"exists": false}]`)
				}
				return errorf(ep, "%s is never null", tg.what())
			}
		}
	case ftNumber:
		switch k {
		case lString:
			return errorf(ep, "%s is a number, so a string never matches it; write the number without quotes, e.g. [0]", tg.what())
		case lTrue:
			return errorf(ep, "%s is a number, so true or false never match it", tg.what())
		case lNull:
			return errorf(ep, "%s is never null", tg.what())
		}
	}
	return nil
}

// wantOp rejects an operator that works only on values of kind k (strings
// or numbers) where the field never holds one.
func (tg target) wantOp(op string, k leafKind, ep string) error {
	switch {
	case k == lString && tg.ft == ftNumber:
		return errorf(ep, "%s works on strings, but %s is a number, so it never matches; use numeric or exact numbers", op, tg.what())
	case k == lNumber && (tg.ft == ftString || tg.ft == ftHeader):
		return errorf(ep, `%s works on numbers, but %s is a string, so it never matches; use exact strings or prefix, e.g. ["42"]`, op, tg.what())
	}
	return nil
}

func (tg target) what() string {
	if tg.ft == ftHeader {
		return "a header value"
	}
	return "the record's " + tg.name
}

// compileOperator compiles one operator object. exists is 1 for
// {"exists": true}, 2 for {"exists": false}, else 0 and m is the matcher.
func compileOperator(e *jnode, ep string, tg target) (m matcher, exists int, err error) {
	if len(e.keys) == 0 {
		return m, 0, errorf(ep, `an empty object is not a value; use an operator such as {"prefix": "job-"} (operators: %s)`, operatorNames)
	}
	if len(e.keys) > 1 {
		return m, 0, errorf(ep, `an operator object holds exactly one operator, found %d (%s); to allow any of several, list them separately: [{"prefix": "a"}, {"suffix": "b"}]`,
			len(e.keys), strings.Join(e.keys, ", "))
	}
	op, arg := e.keys[0], e.vals[0]
	opp := member(ep, op)
	switch op {
	case "prefix", "suffix":
		if err := tg.wantOp(op, lString, opp); err != nil {
			return m, 0, err
		}
		m.op = opPrefix
		if op == "suffix" {
			m.op = opSuffix
		}
		switch {
		case arg.kind == 's':
			m.s = arg.str
			return m, 0, nil
		case arg.kind == 'o' && len(arg.keys) == 1 && arg.keys[0] == "equals-ignore-case":
			if a := arg.vals[0]; a.kind == 's' {
				m.op += opPrefixFold - opPrefix
				m.s = a.str
				return m, 0, nil
			}
			return m, 0, errorf(member(opp, "equals-ignore-case"), "equals-ignore-case takes one string; found %s", describe(arg.vals[0]))
		case arg.kind == 'o':
			return m, 0, errorf(opp, `%s takes a string, or {"equals-ignore-case": "..."} to ignore case; found %s`, op, describe(arg))
		}
		return m, 0, errorf(opp, `%s takes one string, e.g. {"%s": "job-"}; found %s (to allow several, list several: [{"%s": "a"}, {"%s": "b"}])`,
			op, op, describe(arg), op, op)
	case "equals-ignore-case":
		if err := tg.wantOp(op, lString, opp); err != nil {
			return m, 0, err
		}
		if arg.kind != 's' {
			return m, 0, errorf(opp, `equals-ignore-case takes one string; found %s (to allow several, list several: [{"equals-ignore-case": "a"}, {"equals-ignore-case": "b"}])`, describe(arg))
		}
		return matcher{op: opEqualFold, s: arg.str}, 0, nil
	case "wildcard":
		if err := tg.wantOp(op, lString, opp); err != nil {
			return m, 0, err
		}
		if arg.kind != 's' {
			return m, 0, errorf(opp, `wildcard takes one string such as "*.png"; found %s`, describe(arg))
		}
		w, err := compileWildcard(arg.str)
		if err != nil {
			return m, 0, errorf(opp, "%s", err)
		}
		return matcher{op: opWildcard, wc: w}, 0, nil
	case "cidr":
		if err := tg.wantOp(op, lString, opp); err != nil {
			return m, 0, err
		}
		if arg.kind != 's' {
			return m, 0, errorf(opp, `cidr takes one string such as "10.0.0.0/24"; found %s`, describe(arg))
		}
		p, err := parseCIDR(arg.str)
		if err != nil {
			return m, 0, errorf(opp, "%s", err)
		}
		return matcher{op: opCIDR, pfx: p}, 0, nil
	case "exists":
		switch arg.kind {
		case 't':
			return m, 1, nil
		case 'f':
			return m, 2, nil
		}
		return m, 0, errorf(opp, "exists takes true or false (without quotes); found %s", describe(arg))
	case "numeric":
		if err := tg.wantOp(op, lNumber, opp); err != nil {
			return m, 0, err
		}
		m, err := compileNumeric(arg, opp)
		return m, 0, err
	case "anything-but":
		m, err := compileAnythingBut(arg, opp, tg)
		return m, 0, err
	}
	hint := ""
	if l := strings.ToLower(op); l != op && strings.Contains(operatorNames, l) {
		hint = "; operator names are lower case: did you mean " + strconv.Quote(l) + "?"
	}
	return m, 0, errorf(opp, "unknown operator %q; the operators are %s%s", op, operatorNames, hint)
}

func compileNumeric(arg *jnode, opp string) (matcher, error) {
	m := matcher{op: opNumeric}
	if arg.kind != 'a' {
		return m, errorf(opp, `numeric takes a list such as [">", 0] or [">=", 0, "<", 10]; found %s`, describe(arg))
	}
	vals := arg.vals
	if len(vals) == 0 {
		return m, errorf(opp, `numeric needs a comparison and a number, e.g. [">", 0] or [">=", 0, "<", 10]`)
	}
	op, err := numericOp(vals[0], index(opp, 0))
	if err != nil {
		return m, err
	}
	x, err := numericArg(vals, 1, opp, op)
	if err != nil {
		return m, err
	}
	switch op {
	case "=":
		m.lo, m.hi, m.f, m.g = boundClosed, boundClosed, x, x
		if len(vals) > 2 {
			return m, errorf(index(opp, 2), `nothing may follow "=" and its number`)
		}
		return m, nil
	case "<", "<=":
		m.hi, m.g = boundOpen, x
		if op == "<=" {
			m.hi = boundClosed
		}
		if len(vals) > 2 {
			return m, errorf(index(opp, 2), `an upper bound comes last: write the lower bound first, e.g. [">", 0, "<", 10]`)
		}
		return m, nil
	}
	m.lo, m.f = boundOpen, x
	if op == ">=" {
		m.lo = boundClosed
	}
	if len(vals) == 2 {
		return m, nil
	}
	if v := vals[2]; v.kind != 's' || (v.str != "<" && v.str != "<=") {
		return m, errorf(index(opp, 2), `a lower bound may be followed only by an upper bound, "<" or "<="; found %s`, describe(v))
	}
	op2 := vals[2].str
	y, err := numericArg(vals, 3, opp, op2)
	if err != nil {
		return m, err
	}
	m.hi, m.g = boundOpen, y
	if op2 == "<=" {
		m.hi = boundClosed
	}
	if len(vals) > 4 {
		return m, errorf(index(opp, 4), "too many items: numeric takes at most a lower and an upper bound")
	}
	if !(x < y) {
		return m, errorf(opp, "the lower bound %s must be less than the upper bound %s", vals[1].str, vals[3].str)
	}
	return m, nil
}

func numericOp(v *jnode, ep string) (string, error) {
	if v.kind != 's' {
		return "", errorf(ep, `expected a comparison such as ">=" here; found %s`, describe(v))
	}
	switch v.str {
	case "=", "<", "<=", ">", ">=":
		return v.str, nil
	}
	return "", errorf(ep, `unknown comparison %q; use "=", "<", "<=", ">" or ">="`, v.str)
}

func numericArg(vals []*jnode, i int, opp, op string) (float64, error) {
	if i >= len(vals) {
		return 0, errorf(opp, "%q must be followed by a number", op)
	}
	v := vals[i]
	if v.kind != 'n' {
		hint := ""
		if v.kind == 's' {
			hint = " (write numbers without quotes)"
		}
		return 0, errorf(index(opp, i), "%q must be followed by a number; found %s%s", op, describe(v), hint)
	}
	f, finite := parseNumber(v.str)
	if !finite {
		return 0, errorf(index(opp, i), "the number %s is out of range", v.str)
	}
	return f, nil
}

func compileAnythingBut(arg *jnode, opp string, tg target) (matcher, error) {
	var m matcher
	switch arg.kind {
	case 's':
		if err := tg.want(lString, opp); err != nil {
			return m, err
		}
		return butStrings(opButStrings, []string{arg.str}), nil
	case 'n':
		if err := tg.want(lNumber, opp); err != nil {
			return m, err
		}
		f, finite := parseNumber(arg.str)
		if !finite {
			return m, errorf(opp, "the number %s is out of range", arg.str)
		}
		return matcher{op: opButNumbers, nums: []float64{f}}, nil
	case 'a':
		if len(arg.vals) == 0 {
			return m, errorf(opp, "anything-but needs at least one value to exclude")
		}
		kind := arg.vals[0].kind
		var strs []string
		var nums []float64
		for k, v := range arg.vals {
			ep := index(opp, k)
			if v.kind != 's' && v.kind != 'n' {
				return m, errorf(ep, "anything-but lists hold only strings or only numbers; found %s", describe(v))
			}
			if v.kind != kind {
				return m, errorf(ep, "anything-but lists hold only strings or only numbers, not both; found %s", describe(v))
			}
			if v.kind == 's' {
				strs = append(strs, v.str)
				continue
			}
			f, finite := parseNumber(v.str)
			if !finite {
				return m, errorf(ep, "the number %s is out of range", v.str)
			}
			nums = append(nums, f)
		}
		if kind == 's' {
			if err := tg.want(lString, opp); err != nil {
				return m, err
			}
			return butStrings(opButStrings, strs), nil
		}
		if err := tg.want(lNumber, opp); err != nil {
			return m, err
		}
		return matcher{op: opButNumbers, nums: nums}, nil
	case 'o':
		return compileAnythingButObject(arg, opp, tg)
	}
	return m, errorf(opp, `anything-but takes a string, a number, a list of strings or of numbers, or an object such as {"prefix": "test-"}; found %s`, describe(arg))
}

func compileAnythingButObject(arg *jnode, opp string, tg target) (matcher, error) {
	var m matcher
	if len(arg.keys) != 1 {
		return m, errorf(opp, "anything-but's object holds exactly one of prefix, suffix, equals-ignore-case or wildcard; found %d", len(arg.keys))
	}
	sub, a := arg.keys[0], arg.vals[0]
	subp := member(opp, sub)
	var op opcode
	switch sub {
	case "prefix":
		op = opButPrefix
	case "suffix":
		op = opButSuffix
	case "equals-ignore-case":
		op = opButFold
	case "wildcard":
		op = opButWildcard
	default:
		return m, errorf(subp, "anything-but supports prefix, suffix, equals-ignore-case and wildcard; found %q", sub)
	}
	if err := tg.wantOp("anything-but "+sub, lString, subp); err != nil {
		return m, err
	}
	var strs []string
	var paths []string
	switch a.kind {
	case 's':
		strs, paths = []string{a.str}, []string{subp}
	case 'a':
		if len(a.vals) == 0 {
			return m, errorf(subp, "give at least one %s to exclude", sub)
		}
		for k, v := range a.vals {
			if v.kind != 's' {
				return m, errorf(index(subp, k), "%s takes strings; found %s", sub, describe(v))
			}
			strs, paths = append(strs, v.str), append(paths, index(subp, k))
		}
	default:
		return m, errorf(subp, "%s takes a string or a list of strings; found %s", sub, describe(a))
	}
	if op == opButPrefix || op == opButSuffix {
		for k, s := range strs {
			if s == "" {
				return m, errorf(paths[k], "an empty %s would exclude every string; give a non-empty one", sub)
			}
		}
	}
	if op == opButWildcard {
		m.op = op
		for k, s := range strs {
			w, err := compileWildcard(s)
			if err != nil {
				return m, errorf(paths[k], "%s", err)
			}
			m.wcs = append(m.wcs, w)
		}
		return m, nil
	}
	return butStrings(op, strs), nil
}

func butStrings(op opcode, strs []string) matcher {
	m := matcher{op: op, strs: strs}
	if op == opButStrings && len(strs) > smallSet {
		m.set = make(map[string]struct{}, len(strs))
		for _, s := range strs {
			m.set[s] = struct{}{}
		}
	}
	return m
}

// parseNumber parses a JSON number; finite is false when it overflows a
// float64, which event-ruler then matches only by its spelling.
func parseNumber(s string) (f float64, finite bool) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !math.IsInf(f, 0) {
		return 0, false
	}
	return f, !math.IsInf(f, 0)
}
