package netx

import "net/netip"

// bogonPrefixes are the special-purpose ranges no public site answers from. A DNS
// reply pointing a public name into one of them is how many censors block without a
// blockpage (0.0.0.0, 127.0.0.1, a private address).
//
// Sources: the IANA IPv4 and IPv6 Special-Purpose Address Registries
// (https://www.iana.org/assignments/iana-ipv4-special-registry/,
// https://www.iana.org/assignments/iana-ipv6-special-registry/), established by
// RFC 6890 and updated by RFC 8190; each line names the RFC that defines the range.
// Only ranges the registries mark "Globally Reachable: False" (or that cannot be a
// unicast destination: multicast, reserved) are listed.
var bogonPrefixes = mustPrefixes(
	// IPv4
	"0.0.0.0/8",       // "this network", RFC 791 / RFC 1122 section 3.2.1.3
	"10.0.0.0/8",      // private use, RFC 1918
	"100.64.0.0/10",   // shared address space (CGN), RFC 6598
	"127.0.0.0/8",     // loopback, RFC 1122 section 3.2.1.3
	"169.254.0.0/16",  // link local, RFC 3927
	"172.16.0.0/12",   // private use, RFC 1918
	"192.0.0.0/24",    // IETF protocol assignments, RFC 6890 section 2.1
	"192.0.2.0/24",    // documentation TEST-NET-1, RFC 5737
	"192.88.99.0/24",  // deprecated 6to4 relay anycast, RFC 7526
	"192.168.0.0/16",  // private use, RFC 1918
	"198.18.0.0/15",   // benchmarking, RFC 2544
	"198.51.100.0/24", // documentation TEST-NET-2, RFC 5737
	"203.0.113.0/24",  // documentation TEST-NET-3, RFC 5737
	"224.0.0.0/4",     // multicast, RFC 5771
	"240.0.0.0/4",     // reserved, RFC 1112 section 4; includes 255.255.255.255 (RFC 919)
	// IPv6
	"::/128",        // unspecified, RFC 4291 section 2.5.2
	"::1/128",       // loopback, RFC 4291 section 2.5.3
	"100::/64",      // discard only, RFC 6666
	"2001:2::/48",   // benchmarking, RFC 5180
	"2001:10::/28",  // deprecated ORCHID, RFC 4843
	"2001:db8::/32", // documentation, RFC 3849
	"3fff::/20",     // documentation, RFC 9637
	"5f00::/16",     // SRv6 SIDs, RFC 9602
	"fc00::/7",      // unique local, RFC 4193
	"fe80::/10",     // link local, RFC 4291 section 2.5.6
	"fec0::/10",     // deprecated site local, RFC 3879
	"ff00::/8",      // multicast, RFC 4291 section 2.7
)

// IsBogon reports whether addr lies in a special-purpose range that no public
// service uses (see bogonPrefixes), or is not a valid address at all.
//
// QUIRK: an IPv4-mapped IPv6 address (::ffff:a.b.c.d, RFC 4291 section 2.5.5.2) is
// judged by its IPv4 address. netip.AddrFromSlice turns a 16-byte net.IP holding a
// public IPv4 address into exactly this form, and calling that a bogon would turn
// every such answer into false evidence of DNS blocking. NAT64 prefixes
// (64:ff9b::/96, RFC 6052; 64:ff9b:1::/48, RFC 8215) are not bogons either: a DNS64
// resolver answers with them on IPv6-only networks.
func IsBogon(addr netip.Addr) bool {
	if !addr.IsValid() {
		return true
	}
	addr = addr.Unmap().WithZone("")
	for _, p := range bogonPrefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// IsBogonString is IsBogon for text; anything that does not parse as an address
// is a bogon.
func IsBogonString(s string) bool {
	addr, err := netip.ParseAddr(s)
	return err != nil || IsBogon(addr)
}

func mustPrefixes(list ...string) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}
