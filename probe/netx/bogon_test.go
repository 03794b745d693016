package netx_test

import (
	"net"
	"net/netip"
	"testing"

	"github.com/vantage-probe/vantage/probe/netx"
)

func TestIsBogon(t *testing.T) {
	cases := []struct {
		addr  string
		bogon bool
	}{
		// Each special-purpose IPv4 range, at its edges.
		{"0.0.0.0", true}, {"0.255.255.255", true},
		{"10.0.0.0", true}, {"10.255.255.255", true},
		{"100.64.0.1", true}, {"100.127.255.255", true}, {"100.63.255.255", false}, {"100.128.0.0", false},
		{"127.0.0.1", true}, {"127.255.255.254", true},
		{"169.254.1.1", true},
		{"172.16.0.1", true}, {"172.31.255.255", true}, {"172.15.255.255", false}, {"172.32.0.0", false},
		{"192.0.0.8", true}, {"192.0.2.1", true}, {"192.88.99.1", true},
		{"192.168.1.1", true}, {"192.169.0.1", false},
		{"198.18.0.1", true}, {"198.19.255.255", true}, {"198.20.0.0", false},
		{"198.51.100.7", true}, {"203.0.113.9", true},
		{"224.0.0.1", true}, {"239.255.255.255", true},
		{"240.0.0.1", true}, {"255.255.255.255", true},
		// Public IPv4.
		{"1.1.1.1", false}, {"8.8.8.8", false}, {"93.184.216.34", false}, {"223.255.255.255", false},
		// IPv6.
		{"::", true}, {"::1", true}, {"100::1", true}, {"2001:2::1", true}, {"2001:10::1", true},
		{"2001:db8::1", true}, {"3fff::1", true}, {"5f00::1", true},
		{"fc00::1", true}, {"fd12:3456::1", true}, {"fe80::1", true}, {"fe80::1%eth0", true}, {"fec0::1", true},
		{"ff02::1", true},
		{"2606:4700:4700::1111", false}, {"2a00:1450:4001::200e", false},
		{"64:ff9b::808:808", false}, // NAT64 of 8.8.8.8: DNS64 networks answer with it
		// IPv4-mapped forms are judged by their IPv4 address.
		{"::ffff:127.0.0.1", true}, {"::ffff:10.1.2.3", true}, {"::ffff:8.8.8.8", false},
	}
	for _, c := range cases {
		addr := netip.MustParseAddr(c.addr)
		if got := netx.IsBogon(addr); got != c.bogon {
			t.Errorf("IsBogon(%s) = %v, want %v", c.addr, got, c.bogon)
		}
		if got := netx.IsBogonString(c.addr); got != c.bogon {
			t.Errorf("IsBogonString(%s) = %v, want %v", c.addr, got, c.bogon)
		}
	}
}

func TestIsBogonOfAddressesBuiltFromNetIP(t *testing.T) {
	// net.ParseIP yields 16 bytes for IPv4; netip.AddrFromSlice keeps them mapped.
	public, _ := netip.AddrFromSlice(net.ParseIP("8.8.8.8"))
	private, _ := netip.AddrFromSlice(net.ParseIP("192.168.0.1"))
	if netx.IsBogon(public) || !netx.IsBogon(private) {
		t.Errorf("IsBogon(%s) = %v, IsBogon(%s) = %v; want false, true", public, netx.IsBogon(public), private, netx.IsBogon(private))
	}
}

func TestIsBogonOfInvalidInput(t *testing.T) {
	if !netx.IsBogon(netip.Addr{}) {
		t.Error("IsBogon(zero Addr) = false, want true")
	}
	for _, s := range []string{"", "example.com", "300.1.1.1", "1.2.3"} {
		if !netx.IsBogonString(s) {
			t.Errorf("IsBogonString(%q) = false, want true", s)
		}
	}
}
