// Package lab builds emulated censored networks out of Linux network namespaces
// and runs the real vantage binary inside them.
//
// A lab is three namespaces joined by veth pairs: the probe host, the ISP router
// where the censor's rules live (iptables, nftables, tc, an NFQUEUE DNS injector,
// a lying resolver, a blockpage server and a TLS interceptor) and the "internet",
// which owns two public-looking address ranges, one domestic and one foreign, and
// answers on every address of them with HTTP, HTTPS (lab CA), HTTP/3, DNS and the
// control helper. Scenarios are TOML files (scenarios/*.toml) that compose censor
// blocks, list URLs and state the verdicts the methodology expects. Servers are
// opened from this process inside the namespaces (a socket keeps the namespace it
// was created in), so a lab is ready as soon as Build returns.
//
// Nothing here touches the root network namespace: every address lives inside a
// namespace the lab created, and Close removes all of them.
package lab
