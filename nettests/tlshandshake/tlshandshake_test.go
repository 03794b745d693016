package tlshandshake_test

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/tlshandshake"
	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/netxtest"
	"github.com/vantage-probe/vantage/probe/runner"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func run(t *testing.T, m *tlshandshake.Measurer, input string) *tlshandshake.TestKeys {
	t.Helper()
	keys, err := m.Run(context.Background(), input, netx.NewTrace(time.Now(), nil))
	if err != nil {
		t.Fatalf("Run(%q): %v", input, err)
	}
	return keys.(*tlshandshake.TestKeys)
}

func newMeasurer(t *testing.T, nc *netx.Client, cfg tlshandshake.Config) *tlshandshake.Measurer {
	m, err := tlshandshake.NewWithConfig(&nettests.Env{Netx: nc}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// sniServer is an HTTPS server that records the SNI of every ClientHello.
func sniServer(t *testing.T, cert tls.Certificate) (*netxtest.Server, func() string) {
	var mu sync.Mutex
	last := "<none>"
	conf := &tls.Config{GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
		mu.Lock()
		last = h.ServerName
		mu.Unlock()
		return &cert, nil
	}}
	srv := netxtest.NewHTTPSServerConfig(t, conf, http.NotFoundHandler())
	return srv, func() string {
		mu.Lock()
		defer mu.Unlock()
		return last
	}
}

func TestHandshakeVerified(t *testing.T) {
	ca := netxtest.MustCA(t, "Test Root")
	srv, sni := sniServer(t, netxtest.MustIssue(t, ca, "127.0.0.1"))
	tk := run(t, newMeasurer(t, &netx.Client{Roots: ca.Pool()}, tlshandshake.Config{}), srv.Addr)
	if tk.Failure != nil || !tk.XHandshakeCompleted || !tk.XVerified || len(tk.TLSHandshakes) != 1 || len(tk.TCPConnect) != 1 {
		t.Errorf("keys %+v, want one verified handshake", tk)
	}
	if tk.ServerName != "" || sni() != "" {
		t.Errorf("server name %q, server saw %q: an IP literal input sends no SNI", tk.ServerName, sni())
	}
}

func TestHandshakeSNIOverride(t *testing.T) {
	ca := netxtest.MustCA(t, "Test Root")
	srv, sni := sniServer(t, netxtest.MustIssue(t, ca, "innocuous.test"))
	m := newMeasurer(t, &netx.Client{Roots: ca.Pool()}, tlshandshake.Config{SNI: "innocuous.test"})
	tk := run(t, m, srv.Addr)
	if sni() != "innocuous.test" || tk.ServerName != "innocuous.test" || !tk.XVerified {
		t.Errorf("server saw %q, keys %+v: want the override sent and verified", sni(), tk)
	}
}

func TestHandshakeUntrustedIsCompletedButNotVerified(t *testing.T) {
	ca := netxtest.MustCA(t, "Test Root")
	mitm := netxtest.MustCA(t, "Interceptor Root")
	srv := netxtest.NewHTTPSServer(t, netxtest.MustIssue(t, mitm, "127.0.0.1"), http.NotFoundHandler())
	tk := run(t, newMeasurer(t, &netx.Client{Roots: ca.Pool()}, tlshandshake.Config{}), srv.Addr)
	if tk.Failure == nil || *tk.Failure != netx.FailureSSLUnknownAuthority {
		t.Fatalf("failure %v, want %q", tk.Failure, netx.FailureSSLUnknownAuthority)
	}
	if !tk.XHandshakeCompleted || tk.XVerified || len(tk.TLSHandshakes[0].PeerCertificates) != 2 {
		t.Errorf("completed %v verified %v: want completed, unverified, chain recorded", tk.XHandshakeCompleted, tk.XVerified)
	}
}

func TestHandshakeResetIsAResult(t *testing.T) {
	tk := run(t, newMeasurer(t, &netx.Client{}, tlshandshake.Config{}), netxtest.NewResetter(t))
	if tk.Failure == nil || *tk.Failure != netx.FailureConnectionReset || tk.XHandshakeCompleted {
		t.Errorf("failure %v completed %v, want %q", tk.Failure, tk.XHandshakeCompleted, netx.FailureConnectionReset)
	}
}

func TestParseTarget(t *testing.T) {
	good := map[string]string{
		"example.test:8443":        "example.test 8443",
		"https://example.test/":    "example.test 443",
		"https://example.test:444": "example.test 444",
		"[::1]:443":                "::1 443",
	}
	for in, want := range good {
		host, port, err := tlshandshake.ParseTarget(in)
		if err != nil || fmt.Sprintf("%s %d", host, port) != want {
			t.Errorf("ParseTarget(%q) = %q %d %v, want %s", in, host, port, err, want)
		}
	}
	for _, in := range []string{"", "example.test", "example.test:0", "https:///x", "a b:443"} {
		if _, _, err := tlshandshake.ParseTarget(in); err == nil {
			t.Errorf("ParseTarget(%q) accepted bad input", in)
		}
	}
}

func TestGoldenMeasurement(t *testing.T) {
	ca := netxtest.MustCA(t, "Test Root")
	srv := netxtest.NewHTTPSServer(t, netxtest.MustIssue(t, ca, "127.0.0.1"), http.NotFoundHandler())
	m := newMeasurer(t, &netx.Client{Roots: ca.Pool()}, tlshandshake.Config{})
	clock := time.Date(2026, 1, 5, 7, 5, 51, 0, time.UTC)
	id := runner.Origin{ProbeCC: "KZ", ProbeASN: "AS9198", ProbeNetworkName: "JSC Kazakhtelecom"}
	_, b, err := runner.Measure(context.Background(), m, srv.Addr, id, "report-id", func() time.Time { return clock })
	if err != nil {
		t.Fatalf("Measure: %v", err)
	}
	netxtest.CompareGolden(t, "measurement.golden.json", netxtest.NormaliseMeasurement(t, b), *update)
}
