package filter

import (
	"bytes"
	"fmt"
	"strings"
)

// wildcard is a compiled wildcard pattern: literal segments with a '*'
// between each two. Matching is linear: the first segment is a prefix, the
// last a suffix, and the middle ones are found left to right, each as early
// as possible (which is optimal when '*' is the only special character).
type wildcard struct {
	segs [][]byte
}

// compileWildcard parses a wildcard pattern as event-ruler does: '*' matches
// any run of characters, `\*` and `\\` are a literal '*' and '\', any other
// escape is an error, and so is "**". More than maxStars stars is "too
// complex", as AWS reports (AWS does not publish its exact rule; five stars
// pass, its six-star example fails).
func compileWildcard(p string) (*wildcard, error) {
	w := &wildcard{}
	var cur []byte
	stars := 0
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '*':
			if i+1 < len(p) && p[i+1] == '*' {
				return nil, fmt.Errorf("two '*' in a row at position %d; one '*' already matches any run of characters", i)
			}
			stars++
			w.segs = append(w.segs, cur)
			cur = nil
		case '\\':
			if i+1 < len(p) && (p[i+1] == '*' || p[i+1] == '\\') {
				cur = append(cur, p[i+1])
				i++
				continue
			}
			return nil, fmt.Errorf(`invalid escape at position %d: in a wildcard only \* (a literal star) and \\ (a literal backslash) may follow a backslash; in JSON these are written "\\*" and "\\\\"`, i)
		default:
			cur = append(cur, c)
		}
	}
	if stars > maxStars {
		return nil, fmt.Errorf("the wildcard is too complex: it has %d '*'; use at most %d", stars, maxStars)
	}
	w.segs = append(w.segs, cur)
	return w, nil
}

func (w *wildcard) match(s []byte) bool {
	n := len(w.segs)
	if n == 1 {
		return bytes.Equal(s, w.segs[0])
	}
	first, last := w.segs[0], w.segs[n-1]
	if len(s) < len(first)+len(last) || !bytes.HasPrefix(s, first) || !bytes.HasSuffix(s, last) {
		return false
	}
	mid := s[len(first) : len(s)-len(last)]
	for _, seg := range w.segs[1 : n-1] {
		i := bytes.Index(mid, seg)
		if i < 0 {
			return false
		}
		mid = mid[i+len(seg):]
	}
	return true
}

func (w *wildcard) String() string {
	parts := make([]string, len(w.segs))
	for i, s := range w.segs {
		parts[i] = strings.NewReplacer(`\`, `\\`, `*`, `\*`).Replace(string(s))
	}
	return strings.Join(parts, "*")
}
