package filter

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// scanner validates a record value as JSON (as strictly as encoding/json)
// in one pass and, on the way, records the leaves at named paths. Parts of
// the value that no pattern names are only validated.
type scanner struct {
	f     *Filter
	st    *state
	b     []byte
	i     int
	depth int
	deep  bool // nesting exceeded MaxDepth
}

// Byte classes inside a JSON string.
const (
	cPlain   = iota // printable ASCII
	cHigh           // a byte of a multi-byte UTF-8 sequence (or invalid)
	cQuote          // "
	cEscape         // \
	cControl        // < 0x20: invalid
)

var strClass = func() (t [256]uint8) {
	for i := range t {
		switch {
		case i < 0x20:
			t[i] = cControl
		case i == '"':
			t[i] = cQuote
		case i == '\\':
			t[i] = cEscape
		case i >= 0x80:
			t[i] = cHigh
		}
	}
	return t
}()

// Flags of a scanned string.
const (
	sEscaped = 1 << iota
	sHigh
)

// run scans the whole value; false means it is not valid JSON, or nests
// deeper than MaxDepth (s.deep).
func (s *scanner) run() bool {
	if !s.value(s.f.value, 0) {
		return false
	}
	s.ws()
	return s.i == len(s.b)
}

func (s *scanner) ws() {
	// Compact JSON has no whitespace: make that case one comparison.
	if s.i < len(s.b) && s.b[s.i] > ' ' {
		return
	}
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value scans one value. n is the pattern node the value sits at, nil when
// nothing below it is named; elem is the innermost array element around it.
func (s *scanner) value(n *tnode, elem int32) bool {
	s.ws()
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; c {
	case '{':
		return s.object(n, elem)
	case '[':
		return s.array(n, elem)
	case '"':
		start := s.i + 1
		flags, ok := s.str()
		if !ok {
			return false
		}
		if n != nil && n.path >= 0 {
			v := leaf{kind: lString, s: s.text(s.b[start:s.i-1], flags)}
			s.st.addHit(s.f, n.path, elem, &v)
		}
		return true
	case 't':
		return s.literal("true", n, elem, lTrue)
	case 'f':
		return s.literal("false", n, elem, lFalse)
	case 'n':
		return s.literal("null", n, elem, lNull)
	default:
		if c != '-' && (c < '0' || c > '9') {
			return false
		}
		start := s.i
		if !s.number() {
			return false
		}
		if n != nil && n.path >= 0 {
			t := s.b[start:s.i]
			f, _ := strconv.ParseFloat(unsafe.String(&t[0], len(t)), 64)
			v := leaf{kind: lNumber, s: t, f: f}
			s.st.addHit(s.f, n.path, elem, &v)
		}
		return true
	}
}

func (s *scanner) literal(lit string, n *tnode, elem int32, k leafKind) bool {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return false
	}
	s.i += len(lit)
	if n != nil && n.path >= 0 {
		v := leaf{kind: k}
		s.st.addHit(s.f, n.path, elem, &v)
	}
	return true
}

func (s *scanner) object(n *tnode, elem int32) bool {
	s.i++
	if s.depth++; s.depth > MaxDepth {
		s.deep = true
		return false
	}
	st := s.st
	seen0 := len(st.seen)
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		s.depth--
		return true
	}
	for {
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return false
		}
		kstart := s.i + 1
		flags, ok := s.str()
		if !ok {
			return false
		}
		kend := s.i - 1
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			if s.ws(); s.i >= len(s.b) || s.b[s.i] != ':' {
				return false
			}
		}
		s.i++
		var child *tnode
		if n != nil && len(n.children) > 0 {
			child = s.lookup(n, s.b[kstart:kend], flags)
		}
		if child == nil {
			if !s.value(nil, elem) {
				return false
			}
		} else {
			lo := int32(len(st.hits))
			if !s.value(child, elem) {
				return false
			}
			hi := int32(len(st.hits))
			// A repeated key: the last one wins, as in encoding/json and
			// event-ruler, so the hits of the earlier one are dropped.
			dup := false
			for k := seen0; k < len(st.seen); k++ {
				if st.seen[k].node == child {
					st.kill(st.seen[k].lo, st.seen[k].hi)
					st.seen[k].lo, st.seen[k].hi = lo, hi
					dup = true
					break
				}
			}
			if !dup {
				st.seen = append(st.seen, seenKey{child, lo, hi})
			}
		}
		s.ws()
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			st.seen = st.seen[:seen0]
			s.depth--
			return true
		default:
			return false
		}
	}
}

func (s *scanner) array(n *tnode, elem int32) bool {
	s.i++
	if s.depth++; s.depth > MaxDepth {
		s.deep = true
		return false
	}
	st := s.st
	arr := int32(-1)
	if n != nil {
		arr = st.newArray(elem)
	}
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
	} else {
		for {
			e := elem
			if n != nil {
				// An element node for every entry that can hold hits.
				s.ws()
				if s.i < len(s.b) && (s.b[s.i] == '{' || s.b[s.i] == '[' || n.path >= 0) {
					e = st.newElem(arr)
				}
			}
			if !s.value(n, e) {
				return false
			}
			if e != elem {
				st.closeElem(e)
			}
			s.ws()
			if s.i >= len(s.b) {
				return false
			}
			if s.b[s.i] == ',' {
				s.i++
				continue
			}
			if s.b[s.i] != ']' {
				return false
			}
			s.i++
			break
		}
	}
	if arr >= 0 {
		st.closeArr(arr)
	}
	s.depth--
	return true
}

// str scans a string whose opening quote is at s.i and leaves s.i just past
// the closing quote.
func (s *scanner) str() (flags uint8, ok bool) {
	b := s.b
	i := s.i + 1
	for {
		// Eight bytes at a time while none is special; a word with a byte
		// >= 0x80 only sets sHigh.
		for i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			if x&hi8 != 0 {
				flags |= sHigh
			}
			if less(x, 0x20)|zero(x^(lo8*'"'))|zero(x^(lo8*'\\')) != 0 {
				break
			}
			i += 8
		}
		for i < len(b) && strClass[b[i]] == cPlain {
			i++
		}
		if i >= len(b) {
			return 0, false
		}
		switch strClass[b[i]] {
		case cQuote:
			s.i = i + 1
			return flags, true
		case cHigh:
			flags |= sHigh
			i++
		case cEscape:
			flags |= sEscaped
			if i+1 >= len(b) {
				return 0, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex4(b[i+2:i+6]) {
					return 0, false
				}
				i += 6
			default:
				return 0, false
			}
		default:
			return 0, false
		}
	}
}

const (
	lo8 = 0x0101010101010101
	hi8 = 0x8080808080808080
)

// zero is non-zero when some byte of x is zero; less when some byte is
// below n (n <= 0x80). Both are exact as tests, not as masks.
func zero(x uint64) uint64 { return (x - lo8) &^ x & hi8 }

func less(x uint64, n uint64) uint64 { return (x - lo8*n) &^ x & hi8 }

func isHex4(b []byte) bool {
	for _, c := range b[:4] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// number scans a number with JSON's grammar.
func (s *scanner) number() bool {
	b, i := s.b, s.i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	s.i = i
	return true
}

// text returns a string's content as encoding/json decodes it: escapes
// resolved, invalid UTF-8 and lone surrogates replaced by U+FFFD. Plain
// strings are returned in place; others are decoded into st.buf, which stays
// valid until the next call.
func (s *scanner) text(raw []byte, flags uint8) []byte {
	if flags&sEscaped == 0 && (flags&sHigh == 0 || utf8.Valid(raw)) {
		return raw
	}
	s.st.buf = unquote(s.st.buf[:0], raw)
	return s.st.buf
}

// lookup finds the pattern node for key under n. A key with dots is walked
// segment by segment, since event-ruler treats {"a.b": x} as {"a": {"b": x}}.
func (s *scanner) lookup(n *tnode, raw []byte, flags uint8) *tnode {
	key := s.text(raw, flags)
	if c := n.child(key); c != nil {
		return c
	}
	if c := dotted(n, key); c != nil {
		s.st.dotted = true
		return c
	}
	return nil
}

// dotted walks a key with dots. Pattern names hold no dots, so the part
// before the first dot must be a child's name: only the dot positions that
// equal a child's name length need a look.
func dotted(n *tnode, key []byte) *tnode {
	if n.lens>>63 != 0 {
		dot := bytes.IndexByte(key, '.')
		if dot < 0 {
			return nil
		}
		return walk(n.child(key[:dot]), key[dot+1:])
	}
	for m := n.lens; m != 0; m &= m - 1 {
		l := bits.TrailingZeros64(m)
		if l < len(key) && key[l] == '.' {
			if c := n.child(key[:l]); c != nil {
				return walk(c, key[l+1:])
			}
		}
	}
	return nil
}

func walk(n *tnode, rest []byte) *tnode {
	if n == nil {
		return nil
	}
	if c := n.child(rest); c != nil {
		return c
	}
	return dotted(n, rest)
}

// unquote appends the decoded content of a JSON string (without its quotes,
// already validated) to dst.
func unquote(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '\\':
			switch raw[i+1] {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r := hex4(raw[i+2:])
				i += 6
				if utf16.IsSurrogate(r) {
					if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
						if d := utf16.DecodeRune(r, hex4(raw[i+2:])); d != utf8.RuneError {
							dst = utf8.AppendRune(dst, d)
							i += 6
							continue
						}
					}
					r = utf8.RuneError
				}
				dst = utf8.AppendRune(dst, r)
				continue
			default: // " \ /
				dst = append(dst, raw[i+1])
			}
			i += 2
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, n := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && n == 1 {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			} else {
				dst = append(dst, raw[i:i+n]...)
			}
			i += n
		}
	}
	return dst
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}
