package http3_test

import (
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/http3"
	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/netxtest"
	"github.com/vantage-probe/vantage/probe/runner"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const page = "<html><head><title>Example over QUIC</title></head><body>hello</body></html>"

func servePage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, page)
}

func run(t *testing.T, nc *netx.Client, input string) *http3.TestKeys {
	t.Helper()
	m, err := http3.New(&nettests.Env{Netx: nc})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := m.Run(context.Background(), input, netx.NewTrace(time.Now(), nil))
	if err != nil {
		t.Fatalf("Run(%q): %v", input, err)
	}
	return keys.(*http3.TestKeys)
}

func TestFetchOverHTTP3(t *testing.T) {
	ca := netxtest.MustCA(t, "Test Root")
	srv := netxtest.NewHTTP3Server(t, netxtest.MustIssue(t, ca, "127.0.0.1"), http.HandlerFunc(servePage))
	tk := run(t, &netx.Client{Roots: ca.Pool()}, srv.URL)
	if tk.Failure != nil || tk.XStatusCode != 200 || tk.XTitle != "Example over QUIC" {
		t.Errorf("keys %+v, want the page", tk)
	}
	if len(tk.QUICHandshakes) != 1 || len(tk.Requests) != 1 || tk.Requests[0].ALPN != "h3" || tk.Requests[0].Request.XTransport != "quic" {
		t.Errorf("want one QUIC handshake and one h3 request")
	}
}

func TestBlackHoleIsATimeout(t *testing.T) {
	addr := netxtest.NewUDPBlackHole(t)
	tk := run(t, &netx.Client{Timeout: 300 * time.Millisecond}, "https://"+addr+"/")
	if tk.Failure == nil || *tk.Failure != netx.FailureGenericTimeout || tk.XFailedOperation != "quic_handshake" {
		t.Errorf("failure %v operation %q, want %q in quic_handshake", tk.Failure, tk.XFailedOperation, netx.FailureGenericTimeout)
	}
}

func TestPlainHTTPIsAnError(t *testing.T) {
	m, _ := http3.New(nil)
	for _, in := range []string{"http://example.test/", "example.test", ""} {
		if _, err := m.Run(context.Background(), in, netx.NewTrace(time.Now(), nil)); !errors.Is(err, http3.ErrNotHTTPS) {
			t.Errorf("Run(%q) error %v, want ErrNotHTTPS", in, err)
		}
	}
}

func TestGoldenMeasurement(t *testing.T) {
	ca := netxtest.MustCA(t, "Test Root")
	srv := netxtest.NewHTTP3Server(t, netxtest.MustIssue(t, ca, "127.0.0.1"), http.HandlerFunc(servePage))
	m, err := http3.New(&nettests.Env{Netx: &netx.Client{Roots: ca.Pool()}})
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 1, 5, 7, 5, 51, 0, time.UTC)
	id := runner.Origin{ProbeCC: "KZ", ProbeASN: "AS9198", ProbeNetworkName: "JSC Kazakhtelecom"}
	_, b, err := runner.Measure(context.Background(), m, srv.URL, id, "report-id", func() time.Time { return clock })
	if err != nil {
		t.Fatalf("Measure: %v", err)
	}
	netxtest.CompareGolden(t, "measurement.golden.json", netxtest.NormaliseMeasurement(t, b), *update)
}
