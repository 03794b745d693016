package signal_test

import (
	"context"
	"errors"
	"flag"
	"net/http"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/nettests/internal/service"
	"github.com/vantage-probe/vantage/nettests/internal/service/servicetest"
	"github.com/vantage-probe/vantage/nettests/signal"
	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/netxtest"
	"github.com/vantage-probe/vantage/probe/runner"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// world: two backend hosts and one CDN on loopback. signalCA plays Signal's
// pinned CA; publicCA is what the probe trusts ([tls] roots), and it issues the
// CDN's certificate. interceptBackend issues the backend's certificates from
// publicCA instead: a middlebox with a root the device trusts, not Signal's.
type world struct {
	n                  *servicetest.Net
	signalCA, publicCA *netxtest.CA
	targets            []service.Target
}

func newWorld(t *testing.T, interceptBackend, resetCDN bool) *world {
	w := &world{n: servicetest.NewNet(), signalCA: netxtest.MustCA(t, "Signal Messenger"), publicCA: netxtest.MustCA(t, "Public Root")}
	backend := func(host string) string {
		ca := w.signalCA
		if interceptBackend {
			ca = w.publicCA
		}
		return netxtest.NewHTTPSServer(t, netxtest.MustIssue(t, ca, host), http.NotFoundHandler()).Addr
	}
	cdn := netxtest.NewHTTPSServer(t, netxtest.MustIssue(t, w.publicCA, "cdn.signal.org"), http.NotFoundHandler()).Addr
	if resetCDN {
		cdn = netxtest.NewResetter(t)
	}
	w.targets = []service.Target{
		w.n.Target("chat.signal.org", "backend", "chat.signal.org", 443, backend("chat.signal.org"), "/"),
		w.n.Target("storage.signal.org", "backend", "storage.signal.org", 443, backend("storage.signal.org"), "/"),
		w.n.Target("cdn.signal.org", "cdn", "cdn.signal.org", 443, cdn, "/"),
	}
	return w
}

func (w *world) measurer(t *testing.T, caPEM string) (*signal.Measurer, error) {
	path := servicetest.WriteTargets(t, service.List{Targets: w.targets, CAPEM: caPEM})
	return signal.New(w.n.Env(w.publicCA), signal.Config{Targets: path, Parallelism: 1})
}

func TestScenarios(t *testing.T) {
	cases := []struct {
		name                string
		intercept, resetCDN bool
		verdict, blocked    string
		backendStatus       string
	}{
		{"no censorship", false, false, "ok", "", "ok"},
		// The pin: a chain the device trusts, but not to Signal's CA, is interception.
		{"backend intercepted", true, false, "blocked", "service hosts: tls.mitm", "blocked"},
		{"CDN reset by SNI", false, true, "degraded", "attachment CDNs: tls.reset", "blocked"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, c.intercept, c.resetCDN)
			m, err := w.measurer(t, string(w.signalCA.RootPEM()))
			if err != nil {
				t.Fatal(err)
			}
			keys, err := m.Run(context.Background(), "", netx.NewTrace(time.Now(), nil))
			if err != nil {
				t.Fatal(err)
			}
			tk := keys.(*signal.TestKeys)
			if v, b := tk.ServiceVerdict(); v != c.verdict || b != c.blocked {
				t.Errorf("verdict %q %q, want %q %q; endpoints %+v", v, b, c.verdict, c.blocked, tk.Endpoints)
			}
			if tk.SignalBackendStatus != c.backendStatus || (c.backendStatus == "blocked") != (tk.SignalBackendFailure != nil) {
				t.Errorf("OONI keys %q %v", tk.SignalBackendStatus, tk.SignalBackendFailure)
			}
			if c.intercept && *tk.SignalBackendFailure != netx.FailureSSLUnknownAuthority {
				t.Errorf("signal_backend_failure %q, want ssl_unknown_authority", *tk.SignalBackendFailure)
			}
		})
	}
}

func TestBadPinnedCA(t *testing.T) {
	w := newWorld(t, false, false)
	if _, err := w.measurer(t, "not a PEM"); !errors.Is(err, signal.ErrNoPinnedCA) {
		t.Errorf("New with a bad ca_pem: %v", err)
	}
	if _, err := signal.New(nil, signal.Config{}); err != nil {
		t.Errorf("embedded targets and CA: %v", err)
	}
}

func TestGoldenMeasurement(t *testing.T) {
	w := newWorld(t, false, false)
	m, err := w.measurer(t, string(w.signalCA.RootPEM()))
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
