package dnscheck_test

import (
	"context"
	"crypto/x509"
	"flag"
	"net/url"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/nettests/dnscheck"
	"github.com/vantage-probe/vantage/nettests/internal/service"
	"github.com/vantage-probe/vantage/nettests/internal/service/servicetest"
	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/dnstest"
	"github.com/vantage-probe/vantage/probe/netx/netxtest"
	"github.com/vantage-probe/vantage/probe/runner"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const (
	torIP  = "116.202.120.166"
	lieIP  = "10.10.34.35"
	exIP   = "93.184.215.14"
	torNm  = "www.torproject.org"
	exName = "example.com"
)

func rules(torAnswer string) map[string]dnstest.Rule {
	return map[string]dnstest.Rule{exName: dnstest.Answer(exIP), torNm: dnstest.Answer(torAnswer)}
}

// hostPort is the address part of a dnstest resolver URL.
func hostPort(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// setup is three encrypted resolvers (two DoH, one DoT) and a local one. reset
// lists the resolvers (by index) replaced by a resetter after the ClientHello;
// liar makes the third resolver lie about torproject; localLies the local one.
type setup struct {
	reset            []int
	liar, localLies  bool
	verdict, blocked string
	usable           string
	localConsistent  bool
}

func measurer(t *testing.T, s setup) *dnscheck.Measurer {
	n := servicetest.NewNet()
	pool := x509.NewCertPool()
	real := make([]string, 3)
	for i := range real {
		torAnswer := torIP
		if i == 2 && s.liar {
			torAnswer = lieIP
		}
		srv := dnstest.NewServer(t, rules(torAnswer))
		pool.AppendCertsFromPEM(srv.CA.RootPEM())
		if i == 1 {
			real[i] = hostPort(t, srv.StartDoT(t))
		} else {
			real[i] = hostPort(t, srv.StartDoH(t))
		}
	}
	for _, i := range s.reset {
		real[i] = netxtest.NewResetter(t)
	}
	localAnswer := torIP
	if s.localLies {
		localAnswer = lieIP
	}
	local := dnstest.NewServer(t, rules(localAnswer))
	targets := []service.Target{
		n.Target("a/doh", "A DoH", "dns.test", 443, real[0], dnstest.DoHPath),
		n.Target("b/dot", "B DoT", "dns.test", 853, real[1], ""),
		n.Target("c/doh", "C DoH", "localhost", 443, real[2], dnstest.DoHPath),
	}
	env := n.Env(nil)
	env.Netx.Roots, env.Netx.Resolver = pool, local.UDPURL()
	l := service.List{Targets: targets, Names: []string{exName, torNm}}
	m, err := dnscheck.New(env, dnscheck.Config{Targets: servicetest.WriteTargets(t, l), Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestScenarios(t *testing.T) {
	cases := map[string]setup{
		"no censorship":       {verdict: "ok", usable: "3/3 encrypted resolvers usable", localConsistent: true},
		"a DoH reset by SNI":  {reset: []int{0}, verdict: "degraded", blocked: "A DoH: tls.reset", usable: "2/3 encrypted resolvers usable", localConsistent: true},
		"all reset":           {reset: []int{0, 1, 2}, verdict: "blocked", blocked: "A DoH: tls.reset; B DoT: tls.reset; C DoH: tls.reset", usable: "0/3 encrypted resolvers usable"},
		"a lying resolver":    {liar: true, verdict: "degraded", blocked: "C DoH: dns.inconsistent", usable: "2/3 encrypted resolvers usable", localConsistent: true},
		"local resolver lies": {localLies: true, verdict: "ok", usable: "3/3 encrypted resolvers usable", localConsistent: false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			keys, err := measurer(t, c).Run(context.Background(), "", netx.NewTrace(time.Now(), nil))
			if err != nil {
				t.Fatal(err)
			}
			tk := keys.(*dnscheck.TestKeys)
			if v, b := tk.ServiceVerdict(); v != c.verdict || b != c.blocked || tk.ServiceDetail() != c.usable {
				t.Errorf("verdict %q %q %q, want %q %q %q; endpoints %+v", v, b, tk.ServiceDetail(), c.verdict, c.blocked, c.usable, tk.Endpoints)
			}
			allReset := len(c.reset) == 3
			if allReset != (tk.LocalConsistent == nil) || (tk.LocalConsistent != nil && *tk.LocalConsistent != c.localConsistent) {
				t.Errorf("x_local_consistent %v, want %v", tk.LocalConsistent, c.localConsistent)
			}
			if tk.Domain != exName || (!allReset && len(tk.Lookups) != 3-len(c.reset)) {
				t.Errorf("OONI keys: domain %q, lookups for %d resolvers", tk.Domain, len(tk.Lookups))
			}
		})
	}
}

func TestEmbeddedTargets(t *testing.T) {
	if _, err := dnscheck.New(nil, dnscheck.Config{}); err != nil {
		t.Errorf("embedded targets: %v", err)
	}
	l := service.List{Targets: []service.Target{{ID: "x", Role: "X", Host: "dns.test", Port: 853}}}
	if _, err := dnscheck.New(nil, dnscheck.Config{Targets: servicetest.WriteTargets(t, l)}); err == nil {
		t.Error("accepted a list without names")
	}
}

func TestGoldenMeasurement(t *testing.T) {
	m := measurer(t, setup{reset: []int{0}})
	clock := time.Date(2022, 1, 4, 12, 0, 0, 0, time.UTC)
	id := runner.Origin{ProbeCC: "KZ", ProbeASN: "AS9198", ProbeNetworkName: "JSC Kazakhtelecom"}
	_, b, err := runner.Measure(context.Background(), m, "", id, "report-id", func() time.Time { return clock })
	if err != nil {
		t.Fatal(err)
	}
	netxtest.CompareGolden(t, "measurement.golden.json", netxtest.NormaliseMeasurement(t, b), *update)
}
