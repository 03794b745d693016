package tor_test

import (
	"context"
	"flag"
	"net/http"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/nettests/internal/service"
	"github.com/vantage-probe/vantage/nettests/internal/service/servicetest"
	"github.com/vantage-probe/vantage/nettests/tor"
	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/netxtest"
	"github.com/vantage-probe/vantage/probe/runner"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// world: two authorities (OR port: TLS with a certificate nobody trusts, as a
// relay's; dir port: HTTP) and one obfs4 bridge (a TCP listener) on loopback.
func world(t *testing.T) (*servicetest.Net, []service.Target) {
	relayCA := netxtest.MustCA(t, "Relay Link Key")
	n := servicetest.NewNet()
	or := func(name string) string {
		return netxtest.NewHTTPSServer(t, netxtest.MustIssue(t, relayCA, name), http.NotFoundHandler()).Addr
	}
	dir := func() string { return netxtest.NewHTTPServer(t, http.NotFoundHandler()).Addr }
	return n, []service.Target{
		n.Target("moria1/or", "or_port_dirauth", "128.31.0.39", 9201, or("www.moria1.net"), ""),
		n.Target("moria1/dir", "dir_port", "128.31.0.39", 9231, dir(), "/tor/status-vote/current/consensus.z"),
		n.Target("tor26/or", "or_port_dirauth", "217.196.147.77", 443, or("www.tor26.net"), ""),
		n.Target("tor26/dir", "dir_port", "217.196.147.77", 80, dir(), "/tor/status-vote/current/consensus.z"),
		n.Target("bridge1", "obfs4", "192.0.2.10", 443, netxtest.NewBlackHole(t), ""),
	}
}

func run(t *testing.T, n *servicetest.Net, targets []service.Target) *tor.TestKeys {
	t.Helper()
	m, err := tor.New(n.Env(nil), tor.Config{Targets: servicetest.WriteTargets(t, service.List{Targets: targets}), Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := m.Run(context.Background(), "", netx.NewTrace(time.Now(), nil))
	if err != nil {
		t.Fatal(err)
	}
	return keys.(*tor.TestKeys)
}

func TestScenarios(t *testing.T) {
	cases := []struct {
		name             string
		fail             []int
		verdict, blocked string
		detail           string
		orOK, dirOK, o4  int
	}{
		{"no censorship", nil, "ok", "", "2/2 authorities reachable", 2, 2, 1},
		{"one authority down", []int{2, 3}, "ok", "", "1/2 authorities reachable", 1, 1, 1},
		{"authorities black-holed", []int{0, 1, 2, 3}, "blocked", "directory authorities: tcp.timeout; authority dir ports: tcp.timeout",
			"0/2 authorities reachable", 0, 0, 1},
		{"bridge blocked", []int{4}, "degraded", "obfs4 bridges: tcp.timeout", "2/2 authorities reachable", 2, 2, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, targets := world(t)
			for _, i := range c.fail {
				n.Fail[servicetest.Addr(targets[i])] = servicetest.ErrTimeout
			}
			tk := run(t, n, targets)
			if v, b := tk.ServiceVerdict(); v != c.verdict || b != c.blocked || tk.ServiceDetail() != c.detail {
				t.Errorf("verdict %q %q %q, want %q %q %q; endpoints %+v", v, b, tk.ServiceDetail(), c.verdict, c.blocked, c.detail, tk.Endpoints)
			}
			if tk.ORPortDirauthTotal != 2 || tk.ORPortDirauthAccessible != c.orOK || tk.DirPortTotal != 2 || tk.DirPortAccessible != c.dirOK ||
				tk.OBFS4Total != 1 || tk.OBFS4Accessible != c.o4 || tk.ORPortTotal != 0 || len(tk.Targets) != 5 || tk.XOBFS4Step != tor.OBFS4Step {
				t.Errorf("OONI keys %+v", tk)
			}
			if tg := tk.Targets["moria1/or"]; tg.TargetProtocol != "or_port_dirauth" || tg.TargetAddress != "128.31.0.39:9201" {
				t.Errorf("targets entry %+v", tg)
			}
		})
	}
}

func TestRejectsUnknownRole(t *testing.T) {
	l := service.List{Targets: []service.Target{{ID: "x", Role: "meek", Host: "192.0.2.1", Port: 443}}}
	if _, err := tor.New(nil, tor.Config{Targets: servicetest.WriteTargets(t, l)}); err == nil {
		t.Error("accepted a target with an unknown protocol")
	}
	if _, err := tor.New(nil, tor.Config{}); err != nil {
		t.Errorf("embedded targets: %v", err)
	}
}

func TestGoldenMeasurement(t *testing.T) {
	n, targets := world(t)
	m, err := tor.New(n.Env(nil), tor.Config{Targets: servicetest.WriteTargets(t, service.List{Targets: targets}), Parallelism: 1})
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
