package invoke

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// AllowPrivateFlag is the operator's flag that lifts the address policy.
const AllowPrivateFlag = "--trigger-allow-private"

// AddressError is an address the policy refuses to call: a trigger's owner
// must not reach the network Octopus runs in (SSRF).
type AddressError struct {
	Addr   string // the IP address, or the host name for CheckURL
	Reason string // "loopback", "private", …
}

func (e *AddressError) Error() string {
	return fmt.Sprintf("refusing to call %s, a %s address: triggers may call only public addresses (ask the operator to start Octopus with %s to allow private ones)",
		e.Addr, e.Reason, AllowPrivateFlag)
}

var (
	cgnat     = netip.MustParsePrefix("100.64.0.0/10")
	thisNet   = netip.MustParsePrefix("0.0.0.0/8")      // 0.x.y.z may reach the local host
	reserved4 = netip.MustParsePrefix("240.0.0.0/4")    // incl. 255.255.255.255
	siteLocal = netip.MustParsePrefix("fec0::/10")      // deprecated, still routed by some
	compat4   = netip.MustParsePrefix("::/96")          // IPv4-compatible, deprecated
	nat64     = netip.MustParsePrefix("64:ff9b::/96")   // embeds an IPv4 address
	nat64loc  = netip.MustParsePrefix("64:ff9b:1::/48") // local-use NAT64
)

// refused returns why addr may not be called, or "" if it may.
func refused(addr netip.Addr) string {
	addr = addr.Unmap() // ::ffff:127.0.0.1 is 127.0.0.1
	switch {
	case !addr.IsValid():
		return "invalid"
	case addr.IsLoopback():
		return "loopback"
	case addr.IsPrivate():
		return "private"
	case addr.IsLinkLocalUnicast():
		return "link-local"
	case addr.IsUnspecified():
		return "unspecified"
	case addr.IsMulticast():
		return "multicast"
	case addr.Is4() && reserved4.Contains(addr):
		return "broadcast or reserved"
	case addr.Is4() && cgnat.Contains(addr):
		return "shared (CGNAT)"
	case addr.Is4() && thisNet.Contains(addr):
		return `"this network"`
	case addr.Is6() && siteLocal.Contains(addr):
		return "site-local"
	case addr.Is6() && compat4.Contains(addr):
		return "IPv4-compatible"
	case addr.Is6() && (nat64.Contains(addr) || nat64loc.Contains(addr)):
		// NAT64 reaches the embedded IPv4 address (last 32 bits).
		b := addr.As16()
		if r := refused(netip.AddrFrom4([4]byte(b[12:]))); r != "" {
			return r + " (through NAT64)"
		}
	}
	return ""
}

// dialControl is the net.Dialer's ControlContext: it runs after DNS
// resolution, for every address the dialer tries, so a name that resolves
// (or rebinds) to a refused address is caught here.
func dialControl(_ context.Context, _, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &AddressError{Addr: address, Reason: "unparsable"}
	}
	if r := refused(ap.Addr()); r != "" {
		return &AddressError{Addr: ap.Addr().WithZone("").String(), Reason: r}
	}
	return nil
}

// CheckURL tells the owner of a new trigger early that its URL cannot be
// called: it refuses a URL that is not absolute http(s), and, unless
// allowPrivate, a literal IP host in a refused range and "localhost".
// Other names are checked when they are called, after resolution.
func CheckURL(raw string, allowPrivate bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("the URL does not parse")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("the URL must be an absolute http:// or https:// URL")
	}
	if allowPrivate {
		return nil
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return &AddressError{Addr: host, Reason: "loopback"}
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		if r := refused(addr.WithZone("")); r != "" {
			return &AddressError{Addr: addr.WithZone("").String(), Reason: r}
		}
	}
	return nil
}
