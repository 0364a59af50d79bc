package filter

import (
	"fmt"
	"strconv"
)

// Error is returned by Compile for every invalid filter. Path points at the
// offending place, e.g. `[0].value.attempt[0].numeric[1]`: `[i]` indexes a
// list, `.name` names a field (quoted as `["a b"]` when the name is not a
// plain word). Path is empty when the filter as a whole is wrong.
type Error struct {
	Path    string
	Message string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return "filter: " + e.Message
	}
	return "filter " + e.Path + ": " + e.Message
}

func errorf(path, format string, args ...any) *Error {
	return &Error{Path: path, Message: fmt.Sprintf(format, args...)}
}

// index appends a list index to an error path.
func index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// member appends a field name to an error path.
func member(path, name string) string {
	if plainName(name) {
		return path + "." + name
	}
	return path + "[" + strconv.Quote(name) + "]"
}

func plainName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '_', c == '-', c == '$', c == '@', c == ':':
		default:
			return false
		}
	}
	return true
}

// describe names a pattern JSON value's type for messages.
func describe(n *jnode) string {
	switch n.kind {
	case 'o':
		return "an object"
	case 'a':
		return "a list"
	case 's':
		return "the string " + strconv.Quote(n.str)
	case 'n':
		return "the number " + n.str
	case 't':
		return "true"
	case 'f':
		return "false"
	default:
		return "null"
	}
}
