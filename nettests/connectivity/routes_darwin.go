package connectivity

import (
	"fmt"
	"net/netip"
	"syscall"

	"golang.org/x/net/route"
)

// hostRoutes reads the routing table through the routing socket's sysctl
// (NET_RT_DUMP), the table `netstat -rn` shows.
func hostRoutes() ([]Route, error) {
	rib, err := route.FetchRIB(syscall.AF_UNSPEC, route.RIBTypeRoute, 0)
	if err != nil {
		return nil, fmt.Errorf("connectivity: route table: %w", err)
	}
	msgs, err := route.ParseRIB(route.RIBTypeRoute, rib)
	if err != nil {
		return nil, fmt.Errorf("connectivity: route table: %w", err)
	}
	var out []Route
	for _, m := range msgs {
		rm, ok := m.(*route.RouteMessage)
		if !ok || len(rm.Addrs) <= syscall.RTAX_NETMASK {
			continue
		}
		dst, dok := routeAddr(rm.Addrs[syscall.RTAX_DST])
		mask, _ := routeAddr(rm.Addrs[syscall.RTAX_NETMASK])
		r := Route{Default: dok && dst.IsUnspecified() && (!mask.IsValid() || mask.IsUnspecified())}
		if rm.Flags&syscall.RTF_GATEWAY != 0 {
			r.Gateway, _ = routeAddr(rm.Addrs[syscall.RTAX_GATEWAY])
		}
		out = append(out, r)
	}
	return out, nil
}

func routeAddr(a route.Addr) (netip.Addr, bool) {
	switch a := a.(type) {
	case *route.Inet4Addr:
		return netip.AddrFrom4(a.IP), true
	case *route.Inet6Addr:
		return netip.AddrFrom16(a.IP), true
	}
	return netip.Addr{}, false
}
