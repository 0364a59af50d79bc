package invoke

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

func TestAddressPolicyAtDialTime(t *testing.T) {
	rc := newReceiver(t, status(200))
	port := rc.URL[strings.LastIndex(rc.URL, ":"):]
	// "localhost" is a name: it is refused after resolution, which is what
	// stops a public name that resolves (or rebinds) to a private address.
	for _, url := range []string{rc.URL, "http://localhost" + port + "/hook"} {
		iv := New(Config{})
		err := iv.Handler(deployed(url)).Handle(context.Background(), testBatch(1))
		iv.Close()
		ce := callErr(t, err)
		var ae *AddressError
		if ce.Status != 0 || !ce.Permanent || !errors.As(err, &ae) || ae.Reason != "loopback" {
			t.Errorf("%s: got %v (permanent %v), want a refused loopback address", url, err, ce.Permanent)
		}
		if !strings.Contains(err.Error(), "--trigger-allow-private") {
			t.Errorf("%s: the error does not say how to allow it: %v", url, err)
		}

		iv = New(Config{AllowPrivate: true})
		if err := iv.Handler(deployed(url)).Handle(context.Background(), testBatch(1)); err != nil {
			t.Errorf("%s with AllowPrivate: %v", url, err)
		}
		iv.Close()
	}
	if n := rc.hits.Load(); n != 2 {
		t.Errorf("the receiver got %d calls, want 2 (only those allowed)", n)
	}
}

func TestDefaultTransportHasNoProxy(t *testing.T) {
	t.Setenv("HTTP_PROXY", "http://192.0.2.1:3128")
	iv := New(Config{})
	if iv.tr.Proxy != nil {
		t.Error("the transport uses a proxy; it would dial past the address policy")
	}
	req, _ := http.NewRequest("POST", "http://example.com/", nil)
	if err := iv.hc.CheckRedirect(req, nil); err != http.ErrUseLastResponse {
		t.Error("redirects are followed")
	}
}

func TestRefusedAddresses(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1":              "loopback",
		"127.255.0.9":            "loopback",
		"::1":                    "loopback",
		"::ffff:127.0.0.1":       "loopback",
		"10.1.2.3":               "private",
		"172.16.0.1":             "private",
		"172.31.255.255":         "private",
		"192.168.1.1":            "private",
		"::ffff:192.168.1.1":     "private",
		"fc00::1":                "private",
		"fd12:3456::1":           "private",
		"169.254.169.254":        "link-local",
		"::ffff:169.254.169.254": "link-local",
		"fe80::1":                "link-local",
		"100.64.0.1":             "shared (CGNAT)",
		"100.127.255.254":        "shared (CGNAT)",
		"0.0.0.0":                "unspecified",
		"0.1.2.3":                `"this network"`,
		"::":                     "unspecified",
		"224.0.0.1":              "multicast",
		"239.255.255.250":        "multicast",
		"ff02::1":                "multicast",
		"255.255.255.255":        "broadcast or reserved",
		"240.0.0.1":              "broadcast or reserved",
		"fec0::1":                "site-local",
		"::7f00:1":               "IPv4-compatible",
		"64:ff9b::a00:1":         "private (through NAT64)",
		"64:ff9b::7f00:1":        "loopback (through NAT64)",
		"8.8.8.8":                "",
		"1.1.1.1":                "",
		"100.63.255.255":         "",
		"100.128.0.0":            "",
		"172.32.0.1":             "",
		"2606:4700::1111":        "",
		"::ffff:8.8.8.8":         "",
		"64:ff9b::808:808":       "",
	} {
		if got := refused(netip.MustParseAddr(addr)); got != want {
			t.Errorf("%s: %q, want %q", addr, got, want)
		}
	}
}

func TestCheckURL(t *testing.T) {
	for _, tc := range []struct {
		url           string
		refused, open bool // refused without AllowPrivate; open with it
	}{
		{"https://hooks.example.org/x?token=1", false, true},
		{"http://203.0.113.7:8080/", false, true},
		{"http://8.8.8.8/", false, true},
		{"http://[2606:4700::1111]/", false, true},
		{"http://[::ffff:8.8.8.8]/", false, true},
		{"http://localhost/", true, true},
		{"http://LOCALHOST:9000/", true, true},
		{"http://localhost./", true, true},
		{"http://app.localhost/", true, true},
		{"http://127.0.0.1:8080/", true, true},
		{"http://10.0.0.5/", true, true},
		{"http://192.168.0.1/", true, true},
		{"http://169.254.169.254/latest/meta-data/", true, true},
		{"http://100.64.1.1/", true, true},
		{"http://0.0.0.0/", true, true},
		{"http://255.255.255.255/", true, true},
		{"http://224.0.0.1/", true, true},
		{"http://[::1]:8080/", true, true},
		{"http://[::]/", true, true},
		{"http://[fe80::1%25eth0]/", true, true},
		{"http://[fd00::1]/", true, true},
		{"http://[::ffff:127.0.0.1]/", true, true},
		{"http://[::ffff:a00:1]/", true, true},
		{"http://[::ffff:169.254.169.254]/", true, true},
		{"ftp://example.org/", true, false},
		{"/relative", true, false},
		{"http://%zz/", true, false},
	} {
		err := CheckURL(tc.url, false)
		if (err != nil) != tc.refused {
			t.Errorf("CheckURL(%q, false) = %v, refused want %v", tc.url, err, tc.refused)
		}
		var ae *AddressError
		if errors.As(err, &ae) && !strings.Contains(err.Error(), "--trigger-allow-private") {
			t.Errorf("CheckURL(%q): %v does not say how to allow it", tc.url, err)
		}
		if err := CheckURL(tc.url, true); (err == nil) != tc.open {
			t.Errorf("CheckURL(%q, true) = %v, allowed want %v", tc.url, err, tc.open)
		}
	}
}
