package thproto

import "net/netip"

// bogonPrefixes are ranges no public name should resolve to: unspecified, loopback,
// RFC 1918 and RFC 6598 shared space, link local, documentation, benchmarking,
// multicast and reserved (IANA special-purpose registries; OONI netxlite IsBogon and
// Censored Planet ip.invalid use the same idea, detection-methods.md §5.1).
var bogonPrefixes = mustPrefixes(
	"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
	"172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15",
	"198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
	"::/128", "::1/128", "::ffff:0:0/96", "100::/64", "2001:db8::/32", "fc00::/7",
	"fe80::/10", "ff00::/8",
)

func mustPrefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// IsBogon reports whether addr (an IP, without port) is not a public unicast address.
// Unparseable text counts as bogon: it cannot be a real answer. The NAT64 prefix
// 64:ff9b::/96 is public on purpose: mobile networks synthesise such AAAA answers
// (detection-methods.md §7, dns_blocked/bogon traps).
func IsBogon(addr string) bool {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return true
	}
	ip = ip.Unmap()
	for _, p := range bogonPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
