package main

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"

	"github.com/vantage-probe/vantage/nettests/webconnectivity/thserver"
	"github.com/vantage-probe/vantage/probe/config"
	"github.com/vantage-probe/vantage/probe/runner"
)

// withASNDB loads [probe] asn_db, when set, into o: every DNS answer gets its AS,
// and a resolver given by address ([network] resolver = "udp://IP:PORT", ...)
// gives resolver_ip and resolver_asn. The database stays open for the process.
func withASNDB(o *runner.Origin, cfg *config.Config) error {
	if cfg.Probe.ASNDB == "" {
		return nil
	}
	db, err := thserver.OpenMMDB(cfg.Probe.ASNDB)
	if err != nil {
		return fmt.Errorf("config probe.asn_db: %w", err)
	}
	o.ASNs = db.ASN
	if ip, ok := resolverAddr(cfg.Network.Resolver); ok {
		o.ResolverIP = ip.String()
		if asn, _ := db.ASN(ip); asn > 0 {
			o.ResolverASN = fmt.Sprintf("AS%d", asn)
		}
	}
	return nil
}

// resolverAddr is the IP address of a resolver setting that names one
// (udp://, tcp://, tls:// with an IP host, or https:// to an IP); "system" and
// names have none.
func resolverAddr(setting string) (netip.Addr, bool) {
	u, err := url.Parse(setting)
	if err != nil || u.Host == "" {
		return netip.Addr{}, false
	}
	host := u.Host
	if h, _, err := net.SplitHostPort(u.Host); err == nil {
		host = h
	}
	ip, err := netip.ParseAddr(host)
	return ip.Unmap(), err == nil
}
