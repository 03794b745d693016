package connectivity

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/probe/netx"
)

func TestParseRouteV4(t *testing.T) {
	gws, ok := parseRouteV4(routeWithDefault)
	if !ok || len(gws) != 1 || gws[0] != netip.MustParseAddr("192.168.1.1") {
		t.Fatalf("default route: %v %v", gws, ok)
	}
	if gws, ok := parseRouteV4(routeNoDefault); ok || len(gws) != 0 {
		t.Fatalf("no default route: %v %v", gws, ok)
	}
	// A default route without a gateway (point-to-point, e.g. a mobile modem).
	ppp := routeNoDefault + "wwan0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0\n"
	if gws, ok := parseRouteV4(ppp); !ok || len(gws) != 0 {
		t.Fatalf("point-to-point default: %v %v", gws, ok)
	}
	if _, ok := parseRouteV4("garbage\n\x00\n00000000"); ok {
		t.Fatal("garbage read as a default route")
	}
}

func TestParseRouteV6(t *testing.T) {
	zero := "00000000000000000000000000000000"
	text := zero + " 00 " + zero + " 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003 eth0\n" +
		zero + " 00 " + zero + " 00 " + zero + " ffffffff 00000001 00000000 00200200 lo\n"
	gws, ok := parseRouteV6(text)
	if !ok || len(gws) != 1 || gws[0] != netip.MustParseAddr("fe80::1") {
		t.Fatalf("v6 default: %v %v", gws, ok)
	}
	// The kernel's unreachable ::/0 on lo is not a default route.
	if _, ok := parseRouteV6(zero + " 00 " + zero + " 00 " + zero + " ffffffff 00000001 00000000 00200200 lo\n"); ok {
		t.Fatal("lo's unreachable route read as a default route")
	}
}

func TestARPComplete(t *testing.T) {
	gw := netip.MustParseAddr("192.168.1.1")
	if !arpComplete(arpGateway, gw) {
		t.Fatal("complete entry not seen")
	}
	incomplete := "IP address HW type Flags HW address Mask Device\n192.168.1.1 0x1 0x0 00:00:00:00:00:00 * eth0\n"
	if arpComplete(incomplete, gw) || arpComplete(arpGateway, netip.MustParseAddr("192.168.1.2")) {
		t.Fatal("incomplete or other entry counted")
	}
}

func TestScrubPublic(t *testing.T) {
	for addr, want := range map[string]string{
		"192.168.1.1": "192.168.1.1", "10.0.0.1": "10.0.0.1", "100.64.0.1": "100.64.0.1",
		"fe80::1": "fe80::1", "203.0.113.1": "[scrubbed]", "2001:db8::1": "[scrubbed]",
	} {
		if got := scrubPublic(netip.MustParseAddr(addr)); got != want {
			t.Errorf("%s: %s, want %s", addr, got, want)
		}
	}
}

func TestResolverIsLocalStub(t *testing.T) {
	files := func(conf string) func(string) ([]byte, error) {
		return func(string) ([]byte, error) { return []byte(conf), nil }
	}
	tests := []struct {
		resolver, conf string
		want           bool
	}{
		{"system", "nameserver 127.0.0.53\noptions edns0\n", true},
		{"system", "nameserver 127.0.0.53\nnameserver 192.168.1.1\n", false},
		{"system", "# empty\n", false},
		{"udp://127.0.0.1:5353", "", true},
		{"udp://10.0.0.53:53", "", false},
		{"https://dns.example/dns-query", "", false},
	}
	for _, tt := range tests {
		if got := resolverIsLocalStub(tt.resolver, files(tt.conf)); got != tt.want {
			t.Errorf("%s / %q: %v", tt.resolver, tt.conf, got)
		}
	}
}

func TestCheckLinkOtherOS(t *testing.T) {
	sys := fakeSystem(routeWithDefault, "", eth0)
	sys.OS = "freebsd" // no route reader: Linux's /proc is not read elsewhere
	var l LocalChecks
	checkLink(sys, &l)
	if l.Interface == nil || !*l.Interface || l.DefaultRoute != nil || len(l.Notes) != 1 ||
		!strings.Contains(l.Notes[0], NotMeasuredNote) || !slices.Equal(l.NotMeasured, []string{"default_route", "first_hop"}) {
		t.Fatalf("freebsd: %+v", l)
	}
}

// TestCheckLinkRouteReader: Windows and macOS read their own routing tables.
func TestCheckLinkRouteReader(t *testing.T) {
	gw := netip.MustParseAddr("192.168.1.1")
	for name, c := range map[string]struct {
		routes      []Route
		err         error
		route       *bool
		gateways    []string
		notMeasured bool
	}{
		"default via gateway": {routes: []Route{{Default: false, Gateway: netip.MustParseAddr("10.9.9.9")}, {Default: true, Gateway: gw}},
			route: ptr(true), gateways: []string{"192.168.1.1"}},
		"on-link default": {routes: []Route{{Default: true}}, route: ptr(true), gateways: []string{}},
		"no default":      {routes: []Route{{Gateway: gw}}, route: ptr(false), gateways: []string{}},
		"reader fails":    {err: errors.New("access denied"), gateways: []string{}, notMeasured: true},
	} {
		sys := fakeSystem("", "", eth0)
		sys.OS = "windows"
		sys.Routes = func() ([]Route, error) { return c.routes, c.err }
		var l LocalChecks
		checkLink(sys, &l)
		if (l.DefaultRoute == nil) != (c.route == nil) || l.DefaultRoute != nil && *l.DefaultRoute != *c.route {
			t.Errorf("%s: default route %v, want %v", name, l.DefaultRoute, c.route)
		}
		if !slices.Equal(l.Gateways, c.gateways) || (len(l.NotMeasured) > 0) != c.notMeasured {
			t.Errorf("%s: gateways %v, not measured %v", name, l.Gateways, l.NotMeasured)
		}
	}
}

// TestSockaddrInetAddr: the next hop of a Windows route row, as GetIpForwardTable2
// fills SOCKADDR_INET.
func TestSockaddrInetAddr(t *testing.T) {
	var v4 [24]byte
	copy(v4[:], []byte{192, 168, 1, 1})
	var v6 [24]byte
	copy(v6[4:], netip.MustParseAddr("fe80::1").AsSlice())
	v6[20] = 12 // scope id, little-endian
	var v6g [24]byte
	copy(v6g[4:], netip.MustParseAddr("2001:db8::1").AsSlice())
	v6g[20] = 12
	for _, c := range []struct {
		family uint16
		data   [24]byte
		want   string
		ok     bool
	}{
		{2, v4, "192.168.1.1", true},
		{23, v6, "fe80::1%12", true},
		{23, v6g, "2001:db8::1", true}, // a scope id only qualifies link-local addresses
		{2, [24]byte{}, "0.0.0.0", true},
		{0, v4, "invalid IP", false},
	} {
		got, ok := sockaddrInetAddr(c.family, c.data)
		if got.String() != c.want || ok != c.ok {
			t.Errorf("family %d: %v %v, want %s %v", c.family, got, ok, c.want, c.ok)
		}
	}
}

func TestUsableInterfaces(t *testing.T) {
	linkLocalOnly := Interface{Name: "wlan0", Up: true, Addrs: []netip.Addr{netip.MustParseAddr("fe80::1"), netip.MustParseAddr("169.254.3.4")}}
	down := Interface{Name: "eth1", Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.2")}}
	got := usableInterfaces([]Interface{lo, linkLocalOnly, down, eth0})
	if len(got) != 1 || got[0] != "eth0" {
		t.Fatalf("usable %v", got)
	}
}

// TestGatewayProbe: an accept or a refusal proves the gateway is up; a timeout or
// an unreachable host does not.
func TestGatewayProbe(t *testing.T) {
	gw := netip.MustParseAddr("192.168.1.1")
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{nil, true},
		{&netx.Error{Failure: netx.FailureConnectionRefused, Err: syscall.ECONNREFUSED}, true},
		{&netx.Error{Failure: netx.FailureGenericTimeout}, false},
		{&netx.Error{Failure: netx.FailureHostUnreachable}, false},
	} {
		dial := func(ctx context.Context, trace *netx.Trace, address string) (net.Conn, error) {
			if tt.err != nil {
				return nil, tt.err
			}
			a, b := net.Pipe()
			b.Close()
			return a, nil
		}
		got, note := probeGateway(context.Background(), netx.NewTrace(time.Now(), nil), dial, gw, "53")
		if got != tt.want {
			t.Errorf("%v: answered %v (%s)", tt.err, got, note)
		}
	}
}

// FuzzProcNet feeds arbitrary text to the /proc parsers: they must never panic, and
// a gateway they return must be a valid address.
func FuzzProcNet(f *testing.F) {
	f.Add(routeWithDefault)
	f.Add(arpGateway)
	f.Add("00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 0 0 0 3 eth0\n")
	f.Fuzz(func(t *testing.T, text string) {
		gws, _ := parseRouteV4(text)
		gws6, _ := parseRouteV6(text)
		for _, g := range append(gws, gws6...) {
			if !g.IsValid() {
				t.Fatalf("invalid gateway from %q", text)
			}
		}
		arpComplete(text, netip.MustParseAddr("192.168.1.1"))
		allLoopbackNameservers(text)
	})
}
