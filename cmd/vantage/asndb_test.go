// QUIRK: mmdbwriter (the fixture writer) does not compile on 32-bit targets
// (math.MaxUint32 overflows int), so its fixtures and their tests are 64-bit only.

//go:build !(arm || 386 || mips || mipsle)

package main

import (
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vantage-probe/vantage/nettests/webconnectivity/thserver/mmdbtest"
	"github.com/vantage-probe/vantage/probe/config"
	"github.com/vantage-probe/vantage/probe/runner"
)

func TestASNDBFillsResolverASNAndAnswers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "asn.mmdb")
	mmdbtest.WriteASN(t, path, map[string]mmdbtest.AS{"10.0.0.0/16": {Number: 9198, Org: "JSC Kazakhtelecom"}})
	for setting, want := range map[string][2]string{
		"udp://10.0.0.53:53":           {"10.0.0.53", "AS9198"},
		"tls://[::ffff:10.0.0.53]:853": {"10.0.0.53", "AS9198"},
		"udp://192.0.2.1:53":           {"192.0.2.1", ""},
		"system":                       {"", ""},
		"https://dns.test/dns-query":   {"", ""},
	} {
		cfg := config.Defaults()
		cfg.Probe.ASNDB = path
		cfg.Network.Resolver = setting
		var o runner.Origin
		if err := withASNDB(&o, cfg); err != nil {
			t.Fatal(err)
		}
		if o.ResolverIP != want[0] || o.ResolverASN != want[1] {
			t.Errorf("%s: resolver_ip %q resolver_asn %q, want %q %q", setting, o.ResolverIP, o.ResolverASN, want[0], want[1])
		}
		if asn, org := o.ASNs(netip.MustParseAddr("10.0.7.7")); asn != 9198 || org != "JSC Kazakhtelecom" {
			t.Errorf("%s: answer lookup %d %q", setting, asn, org)
		}
	}
	cfg := config.Defaults()
	cfg.Probe.ASNDB = filepath.Join(t.TempDir(), "missing.mmdb")
	if err := withASNDB(&runner.Origin{}, cfg); err == nil || !strings.Contains(err.Error(), "probe.asn_db") {
		t.Errorf("missing database: %v, want an error naming probe.asn_db", err)
	}
	if err := withASNDB(&runner.Origin{}, config.Defaults()); err != nil {
		t.Errorf("no database configured: %v", err)
	}
}
