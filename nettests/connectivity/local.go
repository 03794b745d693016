package connectivity

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vantage-probe/vantage/probe/netx"
)

// GatewayTimeout bounds each TCP probe of the gateway. A home router answers in
// milliseconds; a second leaves room for a busy one without slowing the check.
const GatewayTimeout = 1 * time.Second

// gatewayPorts are probed on the gateway: DNS forwarders, admin pages and HTTPS admin
// pages are common on home routers. An accept or a refusal (RST) proves the gateway
// is up; only silence on every port leaves it unproven.
var gatewayPorts = []string{"53", "80", "443"}

// resolverProbeName is looked up to see whether the resolver answers at all when no
// canary has a host name. Any rcode counts; example.com is reserved by RFC 2606 and
// answered by every recursive resolver.
const resolverProbeName = "example.com"

// LocalChecks is what the probe knows of its own link, route, gateway and resolver.
// A nil bool means "could not tell" (an operating system without the source).
type LocalChecks struct {
	OS string `json:"os"`
	// Interface: an interface is up, not loopback, with an address that is neither
	// loopback nor link-local.
	Interface  *bool    `json:"interface"`
	Interfaces []string `json:"interfaces"`
	// DefaultRoute: an IPv4 or IPv6 default route exists (Linux: /proc/net/route and
	// /proc/net/ipv6_route).
	DefaultRoute *bool `json:"default_route"`
	// Gateways are the default routes' next hops; a public address is replaced by
	// "[scrubbed]", since it can point at the volunteer's subscriber line.
	Gateways []string      `json:"gateways"`
	FirstHop FirstHopCheck `json:"first_hop"`
	Resolver ResolverCheck `json:"resolver"`
	Notes    []string      `json:"notes"`
	// NotMeasured names the checks this OS offered no source for ("default_route",
	// "first_hop"): their fields stay empty and no rule reads them as failed.
	NotMeasured []string `json:"not_measured,omitempty"`

	gateways []netip.Addr // unscrubbed, for the first-hop probes
}

// FirstHopCheck says whether the gateway showed any sign of life.
type FirstHopCheck struct {
	// TCP lists the gateway probes: "53: connection_refused" proves it is up.
	TCP []string `json:"tcp"`
	// TCPAnswered: some port accepted or refused.
	TCPAnswered bool `json:"tcp_answered"`
	// Neighbour: the gateway has a complete entry in the ARP table (IPv4, Linux).
	Neighbour bool `json:"neighbour"`
	// Forwards: some canary answered, so the first hop forwards whatever it does
	// with probes addressed to itself.
	Forwards bool `json:"forwards"`
}

// ResolverCheck says whether the configured resolver answered at all.
type ResolverCheck struct {
	Resolver string `json:"resolver"`
	// Answered: a reply came back, whatever its rcode.
	Answered bool    `json:"answered"`
	Failure  *string `json:"failure"`
	// LocalStub: the resolver is on loopback (systemd-resolved, dnsmasq): its
	// SERVFAIL proves nothing about the first hop.
	LocalStub bool `json:"local_stub"`
}

// FirstHopAlive reports whether the gateway answered a TCP probe or is a complete
// neighbour. A gateway that drops probes is not called dead here: canaries that
// answer prove it forwards, and the verdict only reads this when none do.
func (l LocalChecks) FirstHopAlive() bool { return l.FirstHop.TCPAnswered || l.FirstHop.Neighbour }

// Interface describes one network interface for the local check.
type Interface struct {
	Name string
	// Up: administratively up and, where the OS says, with a carrier (running): an
	// unplugged cable leaves an interface up but not running.
	Up       bool
	Loopback bool
	Addrs    []netip.Addr
}

// System is the operating system as the local check sees it; tests replace it.
type System struct {
	OS         string
	Interfaces func() ([]Interface, error)
	ReadFile   func(name string) ([]byte, error)
	// Routes reads the routing table on an OS other than Linux (Windows:
	// GetIpForwardTable2, macOS: the routing socket); nil where there is no reader.
	Routes func() ([]Route, error)
}

// HostSystem reads this machine.
func HostSystem() System {
	return System{OS: runtime.GOOS, Interfaces: hostInterfaces, ReadFile: os.ReadFile, Routes: hostRoutes}
}

func hostInterfaces() ([]Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("connectivity: list interfaces: %w", err)
	}
	out := make([]Interface, 0, len(ifs))
	for _, ifc := range ifs {
		i := Interface{
			Name:     ifc.Name,
			Up:       ifc.Flags&net.FlagUp != 0 && ifc.Flags&net.FlagRunning != 0,
			Loopback: ifc.Flags&net.FlagLoopback != 0,
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				i.Addrs = append(i.Addrs, p.Addr())
			}
		}
		out = append(out, i)
	}
	return out, nil
}

// checkLink fills the interface and route fields.
func checkLink(sys System, l *LocalChecks) {
	l.OS = sys.OS
	l.Interfaces, l.Gateways, l.Notes = []string{}, []string{}, []string{}
	if ifs, err := sys.Interfaces(); err != nil {
		l.Notes = append(l.Notes, "interfaces not listed: "+netx.Scrub(err.Error()))
	} else {
		l.Interfaces = usableInterfaces(ifs)
		l.Interface = ptr(len(l.Interfaces) > 0)
	}
	if sys.OS != "linux" {
		checkRoutes(sys, l)
		return
	}
	v4, err4 := sys.ReadFile("/proc/net/route")
	v6, err6 := sys.ReadFile("/proc/net/ipv6_route")
	if err4 != nil && err6 != nil {
		l.Notes = append(l.Notes, "routing table unreadable: "+netx.Scrub(err4.Error()))
		return
	}
	gws, hasDefault := parseRouteV4(string(v4))
	gws6, hasDefault6 := parseRouteV6(string(v6))
	l.DefaultRoute = ptr(hasDefault || hasDefault6)
	l.gateways = append(gws, gws6...)
	for _, g := range l.gateways {
		l.Gateways = append(l.Gateways, scrubPublic(g))
	}
}

// checkRoutes fills the route fields from the OS's own routing table reader, or
// marks them not measured.
func checkRoutes(sys System, l *LocalChecks) {
	if sys.Routes == nil {
		l.Notes = append(l.Notes, "default route and first hop: "+NotMeasuredNote+" ("+sys.OS+")")
		l.NotMeasured = append(l.NotMeasured, "default_route", "first_hop")
		return
	}
	routes, err := sys.Routes()
	if err != nil {
		l.Notes = append(l.Notes, "default route and first hop: "+NotMeasuredNote+": "+netx.Scrub(err.Error()))
		l.NotMeasured = append(l.NotMeasured, "default_route", "first_hop")
		return
	}
	gws, hasDefault := defaultRoutes(routes)
	l.DefaultRoute = ptr(hasDefault)
	l.gateways = gws
	for _, g := range gws {
		l.Gateways = append(l.Gateways, scrubPublic(g))
	}
}

func usableInterfaces(ifs []Interface) []string {
	out := []string{}
	for _, i := range ifs {
		if !i.Up || i.Loopback {
			continue
		}
		for _, a := range i.Addrs {
			if !a.IsLoopback() && !a.IsLinkLocalUnicast() && !a.IsUnspecified() {
				out = append(out, i.Name)
				break
			}
		}
	}
	return out
}

// parseRouteV4 reads /proc/net/route: Iface Destination Gateway Flags RefCnt Use
// Metric Mask ..., addresses as little-endian hex. It returns the gateways of default
// routes and whether a default route (destination and mask 0) exists.
func parseRouteV4(text string) (gateways []netip.Addr, hasDefault bool) {
	for _, line := range strings.Split(text, "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 8 || f[1] != "00000000" || f[7] != "00000000" {
			continue
		}
		hasDefault = true
		if gw, ok := hexLE4(f[2]); ok && !gw.IsUnspecified() {
			gateways = append(gateways, gw)
		}
	}
	return gateways, hasDefault
}

func hexLE4(s string) (netip.Addr, bool) {
	var v uint32
	if len(s) != 8 {
		return netip.Addr{}, false
	}
	if _, err := fmt.Sscanf(s, "%08x", &v); err != nil {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}), true
}

// parseRouteV6 reads /proc/net/ipv6_route: dest destlen src srclen nexthop metric
// refcnt use flags iface, addresses as 32 hex digits. Default: dest ::/0 on an
// interface other than lo (the kernel lists an unreachable ::/0 on lo).
func parseRouteV6(text string) (gateways []netip.Addr, hasDefault bool) {
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 10 || f[0] != strings.Repeat("0", 32) || f[1] != "00" || f[9] == "lo" {
			continue
		}
		hasDefault = true
		if gw, ok := hex16(f[4]); ok && !gw.IsUnspecified() {
			gateways = append(gateways, gw)
		}
	}
	return gateways, hasDefault
}

func hex16(s string) (netip.Addr, bool) {
	var b [16]byte
	if len(s) != 32 {
		return netip.Addr{}, false
	}
	for i := range b {
		var v uint8
		if _, err := fmt.Sscanf(s[2*i:2*i+2], "%02x", &v); err != nil {
			return netip.Addr{}, false
		}
		b[i] = v
	}
	return netip.AddrFrom16(b), true
}

// arpComplete reports whether /proc/net/arp has a complete entry (flag 0x2) with a
// hardware address for ip.
func arpComplete(text string, ip netip.Addr) bool {
	for _, line := range strings.Split(text, "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 4 || f[0] != ip.String() {
			continue
		}
		var flags uint
		fmt.Sscanf(f[2], "0x%x", &flags)
		if flags&0x2 != 0 && f[3] != "00:00:00:00:00:00" {
			return true
		}
	}
	return false
}

// scrubPublic keeps private, CGNAT and link-local gateway addresses, which say
// nothing about who the volunteer is, and hides the rest.
func scrubPublic(a netip.Addr) string {
	cgnat := netip.MustParsePrefix("100.64.0.0/10")
	if a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLoopback() || cgnat.Contains(a) {
		return a.String()
	}
	return "[scrubbed]"
}

// checkFirstHop probes every gateway on gatewayPorts at once and reads the
// neighbour table. The probes go on their own trace: gateway addresses stay out of
// the events (they are reported, scrubbed, in Gateways).
func checkFirstHop(ctx context.Context, sys System, dial netx.ConnectFunc, now func() time.Time, l *LocalChecks) {
	l.FirstHop.TCP = []string{}
	if len(l.gateways) == 0 {
		return
	}
	trace := netx.NewTrace(now(), now)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, g := range l.gateways {
		for _, port := range gatewayPorts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				answered, note := probeGateway(ctx, trace, dial, g, port)
				mu.Lock()
				defer mu.Unlock()
				l.FirstHop.TCP = append(l.FirstHop.TCP, note)
				l.FirstHop.TCPAnswered = l.FirstHop.TCPAnswered || answered
			}()
		}
	}
	wg.Wait()
	sort.Strings(l.FirstHop.TCP)
	// Read after the probes: they made the kernel resolve the gateway, so a gateway
	// that drops every TCP probe but answers ARP now has a complete entry.
	if arp, err := sys.ReadFile("/proc/net/arp"); err == nil {
		for _, g := range l.gateways {
			l.FirstHop.Neighbour = l.FirstHop.Neighbour || arpComplete(string(arp), g)
		}
	}
}

// probeGateway connects once: an accept or a refusal proves the gateway is up.
func probeGateway(ctx context.Context, trace *netx.Trace, dial netx.ConnectFunc, gw netip.Addr, port string) (bool, string) {
	ctx, cancel := context.WithTimeout(ctx, GatewayTimeout)
	defer cancel()
	label := port
	if gw.Is6() {
		label = "v6 " + port
	}
	conn, err := dial(ctx, trace, net.JoinHostPort(gw.String(), port))
	if err == nil {
		conn.Close()
		return true, label + ": connected"
	}
	failure := failureString(err)
	return failure == netx.FailureConnectionRefused || failure == netx.FailureConnectionReset, label + ": " + failure
}

// checkResolverInto looks a name up once with the configured resolver.
func checkResolverInto(ctx context.Context, lookup lookupFunc, trace *netx.Trace, name string, rc *ResolverCheck) {
	_, err := lookup(ctx, trace, name)
	rc.Answered = err == nil || dnsAnswered(err)
	rc.Failure = netx.FailureOf(err)
}

// dnsAnswered reports whether err means the resolver replied (with an error rcode).
func dnsAnswered(err error) bool {
	switch failureString(err) {
	case netx.FailureDNSNXDOMAIN, netx.FailureDNSNoAnswer, netx.FailureDNSRefused,
		netx.FailureDNSServfail, netx.FailureDNSServerMisbehaving:
		return true
	}
	return false
}

// resolverIsLocalStub reports whether the resolver setting points at loopback: for
// "system", every nameserver of resolv.conf is on loopback.
func resolverIsLocalStub(resolver string, readFile func(string) ([]byte, error)) bool {
	if resolver == "" || resolver == "system" {
		data, err := readFile("/etc/resolv.conf")
		if err != nil {
			return false
		}
		return allLoopbackNameservers(string(data))
	}
	host := resolver
	if i := strings.Index(host, "://"); i >= 0 {
		host = host[i+3:]
	}
	if ap, err := netip.ParseAddrPort(host); err == nil {
		return ap.Addr().IsLoopback()
	}
	return false
}

func allLoopbackNameservers(resolvConf string) bool {
	seen := false
	for _, line := range strings.Split(resolvConf, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		a, err := netip.ParseAddr(f[1])
		if err != nil || !a.IsLoopback() {
			return false
		}
		seen = true
	}
	return seen
}

func failureString(err error) string {
	if f := netx.FailureOf(err); f != nil {
		return *f
	}
	return ""
}

func ptr[T any](v T) *T { return &v }
