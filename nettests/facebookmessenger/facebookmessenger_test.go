package facebookmessenger_test

import (
	"context"
	"flag"
	"net/http"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/nettests/facebookmessenger"
	"github.com/vantage-probe/vantage/nettests/internal/service"
	"github.com/vantage-probe/vantage/nettests/internal/service/servicetest"
	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/netxtest"
	"github.com/vantage-probe/vantage/probe/runner"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// world: two API hosts, one CDN and the STUN host on loopback (127.0.0.2-5).
// hijack serves the API hosts from a server whose certificate is for another
// name, as a block page server the DNS sends users to.
func world(t *testing.T, hijack bool) (*servicetest.Net, *netxtest.CA, []service.Target) {
	ca := netxtest.MustCA(t, "Test Root")
	n := servicetest.NewNet()
	srv := func(host string) string {
		if hijack {
			host = "blockpage.example"
		}
		return netxtest.NewHTTPSServer(t, netxtest.MustIssue(t, ca, host), http.NotFoundHandler()).Addr
	}
	cdn := netxtest.NewHTTPSServer(t, netxtest.MustIssue(t, ca, "scontent.xx.fbcdn.net"), http.NotFoundHandler()).Addr
	return n, ca, []service.Target{
		n.Target("b_api", "api", "b-api.facebook.com", 443, srv("b-api.facebook.com"), ""),
		n.Target("edge", "api", "edge-mqtt.facebook.com", 443, srv("edge-mqtt.facebook.com"), ""),
		n.Target("scontent_cdn", "cdn", "scontent.xx.fbcdn.net", 443, cdn, ""),
		n.Target("stun", "stun", "stun.fbsbx.com", 3478, cdn, ""),
	}
}

func run(t *testing.T, n *servicetest.Net, ca *netxtest.CA, l service.List) *facebookmessenger.TestKeys {
	t.Helper()
	m, err := facebookmessenger.New(n.Env(ca), facebookmessenger.Config{Targets: servicetest.WriteTargets(t, l), Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := m.Run(context.Background(), "", netx.NewTrace(time.Now(), nil))
	if err != nil {
		t.Fatal(err)
	}
	return keys.(*facebookmessenger.TestKeys)
}

const (
	ownPrefix     = "127.0.0.0/24" // the loopback servers are "Facebook's"
	foreignPrefix = "10.0.0.0/8"   // no loopback answer is "Facebook's"
)

func TestScenarios(t *testing.T) {
	cases := []struct {
		name                string
		prefix              string
		hijack, refuseAPI   bool
		verdict, blocked    string
		dnsBlocking, tcpBlk bool
		bAPIConsistent      bool
		bAPIReachable       *bool
	}{
		{"no censorship", ownPrefix, false, false, "ok", "", false, false, true, ptr(true)},
		// The trap: answers outside the ASN whose chains verify are Facebook (an
		// ISP cache, a new block): not blocked, though OONI's dns_blocking is true.
		{"foreign answers that validate", foreignPrefix, false, false, "ok", "", true, false, false, nil},
		{"DNS sends to a block server", foreignPrefix, true, false, "blocked", "API and chat hosts: dns.inconsistent", true, false, false, nil},
		{"API hosts refused", ownPrefix, false, true, "blocked", "API and chat hosts: tcp.reset", false, true, true, ptr(false)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, ca, targets := world(t, c.hijack)
			if c.refuseAPI {
				n.Fail[servicetest.Addr(targets[0])] = servicetest.ErrRefused
				n.Fail[servicetest.Addr(targets[1])] = servicetest.ErrRefused
			}
			tk := run(t, n, ca, service.List{Targets: targets, Prefixes: []string{c.prefix}})
			if v, b := tk.ServiceVerdict(); v != c.verdict || b != c.blocked {
				t.Errorf("verdict %q %q, want %q %q; endpoints %+v", v, b, c.verdict, c.blocked, tk.Endpoints)
			}
			if *tk.FacebookDNSBlocking != c.dnsBlocking || *tk.FacebookTCPBlocking != c.tcpBlk ||
				*tk.FacebookBAPIDNSConsistent != c.bAPIConsistent || !same(tk.FacebookBAPIReachable, c.bAPIReachable) {
				t.Errorf("OONI keys dns_blocking=%v tcp_blocking=%v b_api consistent=%v reachable=%v", *tk.FacebookDNSBlocking,
					*tk.FacebookTCPBlocking, *tk.FacebookBAPIDNSConsistent, tk.FacebookBAPIReachable)
			}
			if tk.FacebookSTUNReachable != nil || tk.FacebookBGraphDNSConsistent != nil {
				t.Errorf("stun reachable %v (never measured), b_graph %v (not a target)", tk.FacebookSTUNReachable, tk.FacebookBGraphDNSConsistent)
			}
		})
	}
}

func ptr(b bool) *bool { return &b }

func same(a, b *bool) bool { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) }

func TestEmbeddedTargets(t *testing.T) {
	if _, err := facebookmessenger.New(nil, facebookmessenger.Config{}); err != nil {
		t.Errorf("embedded targets: %v", err)
	}
}

func TestGoldenMeasurement(t *testing.T) {
	n, ca, targets := world(t, false)
	m, err := facebookmessenger.New(n.Env(ca), facebookmessenger.Config{
		Targets: servicetest.WriteTargets(t, service.List{Targets: targets, Prefixes: []string{ownPrefix}}), Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2022, 1, 4, 12, 0, 0, 0, time.UTC)
	id := runner.Origin{ProbeCC: "KZ", ProbeASN: "AS9198", ProbeNetworkName: "JSC Kazakhtelecom"}
	_, b, err := runner.Measure(context.Background(), m, "", id, "report-id", func() time.Time { return clock })
	if err != nil {
		t.Fatal(err)
	}
	netxtest.CompareGolden(t, "measurement.golden.json", netxtest.NormaliseMeasurement(t, b), *update)
}
