package http_test

import (
	"context"
	"flag"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/nettests"
	httpnettest "github.com/vantage-probe/vantage/nettests/http"
	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/netxtest"
	"github.com/vantage-probe/vantage/probe/runner"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const page = "<html><head><title>Example</title></head><body>hello</body></html>"

func servePage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, page)
}

func run(t *testing.T, nc *netx.Client, input string) *httpnettest.TestKeys {
	t.Helper()
	m, err := httpnettest.New(&nettests.Env{Netx: nc})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := m.Run(context.Background(), input, netx.NewTrace(time.Now(), nil))
	if err != nil {
		t.Fatalf("Run(%q): %v", input, err)
	}
	return keys.(*httpnettest.TestKeys)
}

func TestFetchWithRedirect(t *testing.T) {
	ca := netxtest.MustCA(t, "Test Root")
	mux := http.NewServeMux()
	mux.Handle("/", http.RedirectHandler("/home", http.StatusFound))
	mux.HandleFunc("/home", servePage)
	srv := netxtest.NewHTTPSServer(t, netxtest.MustIssue(t, ca, "127.0.0.1"), mux)
	tk := run(t, &netx.Client{Roots: ca.Pool()}, srv.URL)
	if tk.Failure != nil || tk.XStatusCode != 200 || tk.XTitle != "Example" || tk.XRedirects != 1 || tk.XFinalURL != srv.URL+"home" {
		t.Errorf("keys %+v, want the page after one redirect", tk)
	}
	if len(tk.Requests) != 2 || tk.Requests[0].Request.URL != tk.XFinalURL || len(tk.TLSHandshakes) != 2 {
		t.Errorf("%d requests (first %q), %d handshakes: want final first, one handshake per hop", len(tk.Requests), tk.Requests[0].Request.URL, len(tk.TLSHandshakes))
	}
}

func TestRefusedIsAResult(t *testing.T) {
	tk := run(t, &netx.Client{}, "http://"+netxtest.ClosedPort(t)+"/")
	if tk.Failure == nil || *tk.Failure != netx.FailureConnectionRefused || tk.XFailedOperation != "connect" || len(tk.Requests) != 1 {
		t.Errorf("failure %v operation %q: want connection_refused in connect, recorded", tk.Failure, tk.XFailedOperation)
	}
}

func TestUntrustedIsAResult(t *testing.T) {
	ca := netxtest.MustCA(t, "Test Root")
	mitm := netxtest.MustCA(t, "Interceptor Root")
	srv := netxtest.NewHTTPSServer(t, netxtest.MustIssue(t, mitm, "127.0.0.1"), http.HandlerFunc(servePage))
	tk := run(t, &netx.Client{Roots: ca.Pool()}, srv.URL)
	if tk.Failure == nil || *tk.Failure != netx.FailureSSLUnknownAuthority || tk.XStatusCode != 0 {
		t.Errorf("failure %v code %d, want %q and no response", tk.Failure, tk.XStatusCode, netx.FailureSSLUnknownAuthority)
	}
	if len(tk.TLSHandshakes) != 1 || tk.TLSHandshakes[0].XRootIssuer != "CN=Interceptor Root,O=vantage test" {
		t.Errorf("the interceptor's chain was not recorded")
	}
}

func TestBadURLIsAnError(t *testing.T) {
	m, _ := httpnettest.New(nil)
	for _, in := range []string{"", "example.test", "ftp://example.test/"} {
		if _, err := m.Run(context.Background(), in, netx.NewTrace(time.Now(), nil)); err == nil {
			t.Errorf("Run(%q) accepted a bad URL", in)
		}
	}
}

func TestGoldenMeasurement(t *testing.T) {
	ca := netxtest.MustCA(t, "Test Root")
	srv := netxtest.NewHTTPSServer(t, netxtest.MustIssue(t, ca, "127.0.0.1"), http.HandlerFunc(servePage))
	m, err := httpnettest.New(&nettests.Env{Netx: &netx.Client{Roots: ca.Pool()}})
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
