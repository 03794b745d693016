package connectivity

import (
	"encoding/binary"
	"net/netip"
)

// Route is one entry of the routing table as an OS other than Linux reports it
// through its own interface (Linux's is read from /proc, see checkLink).
type Route struct {
	// Default: the destination is 0.0.0.0/0 or ::/0.
	Default bool
	// Gateway is the next hop; invalid for an on-link route.
	Gateway netip.Addr
}

// NotMeasuredNote is the note of a local check this OS offers no source for.
// A check not measured is nil in the test keys and is never read as a failure:
// see allDownVerdict and docs/methodology-network.md.
const NotMeasuredNote = "not measured on this OS"

// defaultRoutes returns whether routes hold a default route, and its gateways.
func defaultRoutes(routes []Route) (gateways []netip.Addr, hasDefault bool) {
	for _, r := range routes {
		if !r.Default {
			continue
		}
		hasDefault = true
		if r.Gateway.IsValid() && !r.Gateway.IsUnspecified() {
			gateways = append(gateways, r.Gateway)
		}
	}
	return gateways, hasDefault
}

// Address families as Windows numbers them in SOCKADDR_INET (ws2def.h).
const (
	winAFInet  = 2
	winAFInet6 = 23
)

// sockaddrInetAddr reads the address of a Windows SOCKADDR_INET given its family
// and the 24 bytes after family and port: sockaddr_in has the IPv4 address in
// its first four, sockaddr_in6 has the flow label, the IPv6 address and the
// scope id. It builds on every OS so that the Windows route reader's parsing is
// tested on the CI machine.
func sockaddrInetAddr(family uint16, data [24]byte) (netip.Addr, bool) {
	switch family {
	case winAFInet:
		return netip.AddrFrom4([4]byte(data[0:4])), true
	case winAFInet6:
		a := netip.AddrFrom16([16]byte(data[4:20]))
		if scope := binary.LittleEndian.Uint32(data[20:24]); scope != 0 && a.IsLinkLocalUnicast() {
			a = a.WithZone(itoa(scope))
		}
		return a, true
	}
	return netip.Addr{}, false
}

func itoa(u uint32) string {
	if u == 0 {
		return "0"
	}
	var b [10]byte
	i := len(b)
	for ; u > 0; u /= 10 {
		i--
		b[i] = byte('0' + u%10)
	}
	return string(b[i:])
}
