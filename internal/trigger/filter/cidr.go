package filter

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unsafe"
)

// looksLikeIP applies event-ruler's test for an IP literal before parsing:
// four dot-separated runs of digits, or hex digits and colons with at least
// one colon. Anything else (a host name, an IPv6 zone, a dotted-quad tail on
// IPv6) is never an address, in patterns or in records.
func looksLikeIP(s string) bool {
	if s == "" {
		return false
	}
	colon := strings.IndexByte(s, ':') >= 0
	if colon {
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !(c == ':' || '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
		return true
	}
	dots, run := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			if run == 0 {
				return false
			}
			dots++
			run = 0
		case '0' <= c && c <= '9':
			run++
		default:
			return false
		}
	}
	return dots == 3 && run > 0
}

// parseIP parses an IP literal. An IPv4-mapped IPv6 address is its IPv4
// address, as Java's InetAddress (and so event-ruler) reads it.
func parseIP(s string) (netip.Addr, bool) {
	if !looksLikeIP(s) {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// parseIPBytes is parseIP on a record's bytes, without copying them.
func parseIPBytes(b []byte) (netip.Addr, bool) {
	if len(b) == 0 || len(b) > 45 {
		return netip.Addr{}, false
	}
	return parseIP(unsafe.String(&b[0], len(b)))
}

// parseCIDR parses a cidr operand. Host bits are ignored. As in
// event-ruler, IPv4 masks run 0..31 and IPv6 masks 0..127: a single address
// is matched with its exact string instead.
func parseCIDR(s string) (netip.Prefix, error) {
	ip, bits, ok := strings.Cut(s, "/")
	if !ok || strings.Contains(bits, "/") {
		return netip.Prefix{}, fmt.Errorf(`malformed CIDR %q: write an address, one '/' and the mask length, e.g. "10.0.0.0/24"`, s)
	}
	n, err := strconv.Atoi(bits)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("malformed CIDR %q: the mask length after '/' must be a whole number", s)
	}
	a, ok := parseIP(ip)
	if !ok {
		return netip.Prefix{}, fmt.Errorf("malformed CIDR %q: %q is not an IPv4 or IPv6 address", s, ip)
	}
	max := 31
	if a.Is6() {
		max = 127
	}
	if n < 0 || n > max {
		return netip.Prefix{}, fmt.Errorf("malformed CIDR %q: the mask length must be 0 to %d for an IPv%d address (for one address, give it as an exact string)", s, max, map[bool]int{true: 6, false: 4}[a.Is6()])
	}
	return netip.PrefixFrom(a, n).Masked(), nil
}
