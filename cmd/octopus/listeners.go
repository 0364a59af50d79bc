package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/octofabric/octopus/internal/auth/tlsconf"
	"github.com/octofabric/octopus/internal/broker"
)

// listenerFlags are the serve flags that say where the Kafka protocol is
// served and how clients are told to reach it.
type listenerFlags struct {
	kafkaListen    string
	kafkaListenSet bool // --kafka-listen given explicitly
	advertise      string
	listeners      []string // --listener NAME://HOST:PORT
	advertised     []string // --advertised-listener NAME://HOST:PORT
}

func addListenerFlags(cmd *cobra.Command, f *listenerFlags) {
	fl := cmd.Flags()
	fl.StringVar(&f.kafkaListen, "kafka-listen", "127.0.0.1:9092",
		"PLAINTEXT Kafka listener (HOST:PORT), the shorthand for --listener PLAINTEXT://HOST:PORT; not opened by default when --listener is given")
	fl.StringVar(&f.advertise, "advertise", "",
		"HOST:PORT given to clients of the --kafka-listen listener (default: its host and bound port)")
	fl.StringArrayVar(&f.listeners, "listener", nil,
		"Kafka listener NAME://HOST:PORT, NAME one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL (repeatable, each name once; Kafka's listeners)")
	fl.StringArrayVar(&f.advertised, "advertised-listener", nil,
		"NAME://HOST:PORT given to clients of listener NAME (repeatable; Kafka's advertised.listeners; port 0 = the bound port)")
}

// listenerPlan is one Kafka listener to open.
type listenerPlan struct {
	Protocol  broker.SecurityProtocol
	Addr      string // HOST:PORT to bind
	Advertise string // HOST:PORT for clients; "" = derived from Addr and the bound port
	flag      string // the flag it came from, for messages
}

// Name is the listener's name, its protocol's.
func (p listenerPlan) Name() string { return p.Protocol.String() }

// Host is the host part of Addr.
func (p listenerPlan) Host() string {
	h, _, _ := net.SplitHostPort(p.Addr)
	return h
}

// parseListener parses NAME://HOST:PORT. HOST may be empty (every
// interface) or a bracketed IPv6 address.
func parseListener(s string) (broker.SecurityProtocol, string, error) {
	name, addr, ok := strings.Cut(s, "://")
	if !ok {
		return 0, "", fmt.Errorf("%q: want NAME://HOST:PORT", s)
	}
	proto, err := broker.ParseSecurityProtocol(name)
	if err != nil {
		return 0, "", fmt.Errorf("%q: %w", s, err)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, "", fmt.Errorf("%q: %w", s, err)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (port != "0" && n == 0) {
		return 0, "", fmt.Errorf("%q: port %q is not a number from 0 to 65535", s, port)
	}
	return proto, net.JoinHostPort(host, port), nil
}

// planListeners turns the listener flags into the listeners to open, in
// the order given: every --listener, then --kafka-listen as one more
// PLAINTEXT listener if it was given explicitly as well (or alone if no
// --listener was given). Each protocol may appear once.
func planListeners(f listenerFlags) ([]listenerPlan, error) {
	var plans []listenerPlan
	seen := map[broker.SecurityProtocol]string{}
	add := func(p listenerPlan) error {
		if prev, dup := seen[p.Protocol]; dup {
			return fmt.Errorf("%s: a %s listener is already given by %s (one listener per name)", p.flag, p.Protocol, prev)
		}
		seen[p.Protocol] = p.flag
		plans = append(plans, p)
		return nil
	}
	for _, s := range f.listeners {
		proto, addr, err := parseListener(s)
		if err != nil {
			return nil, fmt.Errorf("--listener %w", err)
		}
		if err := add(listenerPlan{Protocol: proto, Addr: addr, flag: "--listener " + s}); err != nil {
			return nil, err
		}
	}
	if len(f.listeners) == 0 || f.kafkaListenSet {
		if _, _, err := net.SplitHostPort(f.kafkaListen); err != nil {
			return nil, fmt.Errorf("--kafka-listen %q: %w", f.kafkaListen, err)
		}
		err := add(listenerPlan{Protocol: broker.Plaintext, Addr: f.kafkaListen, Advertise: f.advertise, flag: "--kafka-listen"})
		if err != nil {
			return nil, err
		}
	} else if f.advertise != "" {
		return nil, errors.New("--advertise applies to the --kafka-listen listener; with --listener use --advertised-listener NAME://HOST:PORT")
	}
	if f.advertise != "" {
		if err := checkAdvertise("--advertise", f.advertise); err != nil {
			return nil, err
		}
	}

	for _, s := range f.advertised {
		proto, addr, err := parseListener(s)
		if err != nil {
			return nil, fmt.Errorf("--advertised-listener %w", err)
		}
		if err := checkAdvertise("--advertised-listener "+s, addr); err != nil {
			return nil, err
		}
		i := slices.IndexFunc(plans, func(p listenerPlan) bool { return p.Protocol == proto })
		switch {
		case i < 0:
			return nil, fmt.Errorf("--advertised-listener %s: there is no %s listener", s, proto)
		case plans[i].Advertise != "":
			return nil, fmt.Errorf("--advertised-listener %s: the %s listener's advertised address is already given", s, proto)
		}
		plans[i].Advertise = addr
	}
	return plans, nil
}

// checkAdvertise refuses an advertised address clients cannot connect to.
func checkAdvertise(flag, addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s %q: %w", flag, addr, err)
	}
	if unspecifiedHost(host) {
		return fmt.Errorf("%s: clients cannot connect to %q; give a host name or address", flag, addr)
	}
	return nil
}

// unspecifiedHost is a bind host meaning every interface.
func unspecifiedHost(host string) bool {
	if host == "" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsUnspecified()
}

// loopbackHost reports whether host only ever means this machine:
// localhost or a loopback address. Any other name may resolve elsewhere.
func loopbackHost(host string) bool {
	if h := strings.TrimSuffix(strings.ToLower(host), "."); h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// checkExposure refuses, unless allowInsecure, a listener reachable from
// other machines on which clients do not authenticate: PLAINTEXT, or SSL
// without required client certificates. Clients of such a listener are
// User:ANONYMOUS.
func checkExposure(plans []listenerPlan, mtls, allowInsecure bool) error {
	if allowInsecure {
		return nil
	}
	for _, p := range plans {
		if loopbackHost(p.Host()) || p.Protocol.UsesSASL() || (p.Protocol == broker.SSL && mtls) {
			continue
		}
		why := "PLAINTEXT clients do not authenticate"
		if p.Protocol == broker.SSL {
			why = "SSL without --tls-client-auth required does not authenticate clients"
		}
		where := p.Host()
		if unspecifiedHost(where) {
			where = "every interface"
		}
		return fmt.Errorf("refusing %s: it listens on %s and %s; use SASL_SSL (or SASL_PLAINTEXT, or SSL with --tls-client-ca), a loopback address, or --allow-insecure to accept anonymous clients from the network",
			p.flag, where, why)
	}
	return nil
}

// advertisedAddr is what clients of the listener bound at bound are told:
// the advertised address (port 0 meaning the bound port), else the
// listener's host with the bound port, else, for a listener on every
// interface, this machine's host name (as Kafka does).
func advertisedAddr(p listenerPlan, bound net.Addr) (string, error) {
	_, port, err := net.SplitHostPort(bound.String())
	if err != nil {
		return "", err
	}
	if p.Advertise != "" {
		host, aport, _ := net.SplitHostPort(p.Advertise)
		if aport == "0" {
			aport = port
		}
		return net.JoinHostPort(host, aport), nil
	}
	host := p.Host()
	if unspecifiedHost(host) {
		if host, err = os.Hostname(); err != nil {
			return "", fmt.Errorf("%s: no host to advertise (%v); give --advertised-listener", p.flag, err)
		}
	}
	return net.JoinHostPort(host, port), nil
}

// tlsHosts are the names a --tls-auto certificate must cover: the hosts
// of the TLS listeners and of their advertised addresses, and this
// machine's host name for a listener on every interface.
func tlsHosts(plans []listenerPlan) []string {
	var hosts []string
	for _, p := range plans {
		if !p.Protocol.UsesTLS() {
			continue
		}
		if h := p.Host(); !unspecifiedHost(h) {
			hosts = append(hosts, h)
		} else if name, err := os.Hostname(); err == nil {
			hosts = append(hosts, name)
		}
		if h, _, err := net.SplitHostPort(p.Advertise); err == nil {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

// boundListener is an open listener socket and how it is served.
type boundListener struct {
	ln  net.Listener
	cfg broker.Listener
}

// listenAll opens every planned listener, TLS ones with tlsCfg, and works
// out what each advertises. On error it closes what it opened.
func listenAll(plans []listenerPlan, tlsCfg *tls.Config) ([]boundListener, error) {
	var bound []boundListener
	for _, p := range plans {
		bl, err := listen(p, tlsCfg)
		if err != nil {
			closeListeners(bound)
			return nil, fmt.Errorf("%s: %w", p.flag, err)
		}
		bound = append(bound, bl)
	}
	return bound, nil
}

func listen(p listenerPlan, tlsCfg *tls.Config) (boundListener, error) {
	ln, err := net.Listen("tcp", p.Addr)
	if err != nil {
		return boundListener{}, err
	}
	adv, err := advertisedAddr(p, ln.Addr())
	if err != nil {
		ln.Close()
		return boundListener{}, err
	}
	bl := boundListener{ln: ln, cfg: broker.Listener{Name: p.Name(), Protocol: p.Protocol, Advertise: adv}}
	if p.Protocol.UsesTLS() {
		bl.cfg.TLS = tlsCfg
	}
	return bl, nil
}

func closeListeners(bound []boundListener) {
	for _, bl := range bound {
		bl.ln.Close()
	}
}

// listenersField is the ready line's listeners=NAME://ADDR,... value.
func listenersField(bound []boundListener) string {
	parts := make([]string, len(bound))
	for i, bl := range bound {
		parts[i] = bl.cfg.Name + "://" + bl.ln.Addr().String()
	}
	return strings.Join(parts, ",")
}

// resolveListeners checks the listener and security flags together:
// the listeners to open, the security settings, and the exposure rule.
func resolveListeners(lf listenerFlags, sf securityFlags) ([]listenerPlan, securityPlan, error) {
	plans, err := planListeners(lf)
	if err != nil {
		return nil, securityPlan{}, err
	}
	sp, err := planSecurity(sf, plans)
	if err != nil {
		return nil, securityPlan{}, err
	}
	mtls := sp.ClientAuth == tlsconf.ClientAuthRequired
	if err := checkExposure(plans, mtls, sf.allowInsecure); err != nil {
		return nil, securityPlan{}, err
	}
	return plans, sp, nil
}
