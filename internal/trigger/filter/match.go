package filter

import (
	"net/netip"
	"unicode"
	"unicode/utf8"
)

type leafKind uint8

const (
	lString leafKind = iota + 1
	lNumber
	lTrue
	lFalse
	lNull
)

// leaf is one leaf value of a record, as the matchers see it.
type leaf struct {
	kind leafKind
	s    []byte  // the decoded string, or a number's JSON text
	f    float64 // a number's value; ±Inf when it overflows
}

type opcode uint8

const (
	opExact opcode = iota
	opExactIP
	opNumber
	opTrue
	opFalse
	opNull
	opPrefix
	opSuffix
	opPrefixFold // opPrefix + (opPrefixFold - opPrefix) for the ignore-case forms
	opSuffixFold
	opEqualFold
	opWildcard
	opNumeric
	opCIDR
	opButStrings
	opButNumbers
	opButPrefix
	opButSuffix
	opButFold
	opButWildcard
)

// Kinds of numeric bound.
const (
	boundNone uint8 = iota
	boundOpen
	boundClosed
)

// matcher is one compiled value or operator of a list of values.
type matcher struct {
	op     opcode
	lo, hi uint8   // numeric bounds
	finite bool    // opNumber: f is the number's value
	s      string  // string operand; opNumber: the number's spelling
	f, g   float64 // opNumber value; numeric lower and upper bounds
	strs   []string
	set    map[string]struct{}
	nums   []float64
	wc     *wildcard
	wcs    []*wildcard
	addr   netip.Addr
	pfx    netip.Prefix
}

// valueList is a field's list of values: it matches a leaf that any of its
// matchers matches. exists:true and exists:false are kept as flags.
type valueList struct {
	ms       []matcher
	exact    map[string]struct{} // exact strings, when there are many
	anyLeaf  bool                // {"exists": true}
	absentOK bool                // {"exists": false}
}

func (l *valueList) match(v *leaf) bool {
	if l.anyLeaf {
		return true
	}
	for i := range l.ms {
		if l.ms[i].match(v) {
			return true
		}
	}
	if l.exact != nil && v.kind == lString {
		_, ok := l.exact[string(v.s)]
		return ok
	}
	return false
}

func (m *matcher) match(v *leaf) bool {
	switch m.op {
	case opExact:
		return v.kind == lString && string(v.s) == m.s
	case opExactIP:
		if v.kind != lString {
			return false
		}
		a, ok := parseIPBytes(v.s)
		return ok && a == m.addr
	case opNumber:
		return v.kind == lNumber && ((m.finite && v.f == m.f) || string(v.s) == m.s)
	case opTrue:
		return v.kind == lTrue
	case opFalse:
		return v.kind == lFalse
	case opNull:
		return v.kind == lNull
	case opPrefix:
		return v.kind == lString && hasPrefix(v.s, m.s)
	case opSuffix:
		return v.kind == lString && hasSuffix(v.s, m.s)
	case opPrefixFold:
		return v.kind == lString && hasPrefixFold(v.s, m.s)
	case opSuffixFold:
		return v.kind == lString && hasSuffixFold(v.s, m.s)
	case opEqualFold:
		return v.kind == lString && equalFold(v.s, m.s)
	case opWildcard:
		return v.kind == lString && m.wc.match(v.s)
	case opNumeric:
		return v.kind == lNumber && m.inRange(v.f)
	case opCIDR:
		if v.kind != lString {
			return false
		}
		a, ok := parseIPBytes(v.s)
		return ok && m.pfx.Contains(a)
	case opButStrings:
		if v.kind != lString {
			return true
		}
		if m.set != nil {
			_, ok := m.set[string(v.s)]
			return !ok
		}
		for _, s := range m.strs {
			if string(v.s) == s {
				return false
			}
		}
		return true
	case opButNumbers:
		if v.kind != lNumber {
			return true
		}
		for _, x := range m.nums {
			if v.f == x {
				return false
			}
		}
		return true
	case opButPrefix, opButSuffix, opButFold:
		if v.kind != lString {
			return true
		}
		for _, s := range m.strs {
			var hit bool
			switch m.op {
			case opButPrefix:
				hit = hasPrefix(v.s, s)
			case opButSuffix:
				hit = hasSuffix(v.s, s)
			default:
				hit = equalFold(v.s, s)
			}
			if hit {
				return false
			}
		}
		return true
	case opButWildcard:
		if v.kind != lString {
			return true
		}
		for _, w := range m.wcs {
			if w.match(v.s) {
				return false
			}
		}
		return true
	}
	return false
}

func (m *matcher) inRange(x float64) bool {
	switch m.lo {
	case boundOpen:
		if !(x > m.f) {
			return false
		}
	case boundClosed:
		if !(x >= m.f) {
			return false
		}
	}
	switch m.hi {
	case boundOpen:
		return x < m.g
	case boundClosed:
		return x <= m.g
	}
	return true
}

// equalFold reports whether s and t are equal under Unicode simple case
// folding.
func equalFold(s []byte, t string) bool {
	n, ok := foldPrefixLen(s, t)
	return ok && n == len(s)
}

func hasPrefixFold(s []byte, prefix string) bool {
	_, ok := foldPrefixLen(s, prefix)
	return ok
}

// foldPrefixLen matches prefix against the start of s rune by rune, ignoring
// case, and returns how many bytes of s it covered.
func foldPrefixLen(s []byte, prefix string) (int, bool) {
	i := 0
	for j := 0; j < len(prefix); {
		if i >= len(s) {
			return 0, false
		}
		a, b := s[i], prefix[j]
		if a < utf8.RuneSelf && b < utf8.RuneSelf {
			if a != b && lower(a) != lower(b) {
				return 0, false
			}
			i++
			j++
			continue
		}
		r, n := utf8.DecodeRune(s[i:])
		q, m := utf8.DecodeRuneInString(prefix[j:])
		if !runeFoldEq(r, q) {
			return 0, false
		}
		i += n
		j += m
	}
	return i, true
}

func hasSuffixFold(s []byte, suffix string) bool {
	i, j := len(s), len(suffix)
	for j > 0 {
		if i == 0 {
			return false
		}
		a, b := s[i-1], suffix[j-1]
		if a < utf8.RuneSelf && b < utf8.RuneSelf {
			if a != b && lower(a) != lower(b) {
				return false
			}
			i--
			j--
			continue
		}
		r, n := utf8.DecodeLastRune(s[:i])
		q, m := utf8.DecodeLastRuneInString(suffix[:j])
		if !runeFoldEq(r, q) {
			return false
		}
		i -= n
		j -= m
	}
	return true
}

func hasPrefix(s []byte, p string) bool {
	return len(s) >= len(p) && string(s[:len(p)]) == p
}

func hasSuffix(s []byte, p string) bool {
	return len(s) >= len(p) && string(s[len(s)-len(p):]) == p
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func runeFoldEq(r, q rune) bool {
	if r == q {
		return true
	}
	// Walk r's case-folding orbit (e.g. k, K, KELVIN SIGN).
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f == q {
			return true
		}
	}
	return false
}
