package tcpconnect_test

import (
	"context"
	"flag"
	"net/http"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/tcpconnect"
	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/dnstest"
	"github.com/vantage-probe/vantage/probe/netx/netxtest"
	"github.com/vantage-probe/vantage/probe/runner"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func run(t *testing.T, nc *netx.Client, input string) *tcpconnect.TestKeys {
	t.Helper()
	m, err := tcpconnect.New(&nettests.Env{Netx: nc})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := m.Run(context.Background(), input, netx.NewTrace(time.Now(), nil))
	if err != nil {
		t.Fatalf("Run(%q): %v", input, err)
	}
	return keys.(*tcpconnect.TestKeys)
}

func TestConnectSuccess(t *testing.T) {
	srv := netxtest.NewHTTPServer(t, http.NotFoundHandler())
	tk := run(t, &netx.Client{}, srv.Addr)
	if tk.Connection != "success" || tk.Failure != nil || len(tk.TCPConnect) != 1 || !tk.TCPConnect[0].Status.Success {
		t.Errorf("keys %+v, want one successful connect", tk)
	}
}

func TestConnectRefusedIsAResult(t *testing.T) {
	tk := run(t, &netx.Client{}, netxtest.ClosedPort(t))
	if tk.Connection != netx.FailureConnectionRefused || tk.Failure == nil || *tk.Failure != netx.FailureConnectionRefused {
		t.Errorf("connection %q, want %q", tk.Connection, netx.FailureConnectionRefused)
	}
}

func TestConnectHostResolvesFirst(t *testing.T) {
	srv := netxtest.NewHTTPServer(t, http.NotFoundHandler())
	dnsSrv := dnstest.NewServer(t, map[string]dnstest.Rule{"site.test": dnstest.Answer("127.0.0.1")})
	tk := run(t, &netx.Client{Resolver: dnsSrv.UDPURL()}, "site.test:"+srv.Port())
	if tk.Connection != "success" || tk.Host != "site.test" || len(tk.Queries) == 0 {
		t.Errorf("connection %q host %q %d queries: want success after resolving", tk.Connection, tk.Host, len(tk.Queries))
	}
}

func TestConnectNXDOMAIN(t *testing.T) {
	dnsSrv := dnstest.NewServer(t, map[string]dnstest.Rule{"gone.test": dnstest.NXDOMAIN()})
	tk := run(t, &netx.Client{Resolver: dnsSrv.UDPURL()}, "gone.test:443")
	if tk.Connection != netx.FailureDNSNXDOMAIN || len(tk.TCPConnect) != 0 {
		t.Errorf("connection %q with %d connects, want %q and none", tk.Connection, len(tk.TCPConnect), netx.FailureDNSNXDOMAIN)
	}
}

func TestBadInputIsAnError(t *testing.T) {
	m, _ := tcpconnect.New(nil)
	for _, in := range []string{"", "127.0.0.1", "host:0", "host:99999", "host:http", "bad host:80", "http://x/"} {
		if _, err := m.Run(context.Background(), in, netx.NewTrace(time.Now(), nil)); err == nil {
			t.Errorf("Run(%q) accepted bad input", in)
		}
	}
}

func TestGoldenMeasurement(t *testing.T) {
	srv := netxtest.NewHTTPServer(t, http.NotFoundHandler())
	m, err := tcpconnect.New(&nettests.Env{Netx: &netx.Client{}})
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 1, 5, 7, 5, 51, 0, time.UTC)
	id := runner.Origin{ProbeCC: "KZ", ProbeASN: "AS9198", ProbeNetworkName: "JSC Kazakhtelecom"}
	_, b, err := runner.Measure(context.Background(), m, srv.Addr, id, "report-id", func() time.Time { return clock })
	if err != nil {
		t.Fatalf("Measure: %v", err)
	}
	netxtest.CompareGolden(t, "measurement.golden.json", netxtest.NormaliseMeasurement(t, b), *update)
}
