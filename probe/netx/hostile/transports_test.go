package hostile_test

import (
	"testing"

	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/hostile"
	"github.com/vantage-probe/vantage/probe/netx/netxtest"
)

// TestEndlessBodyOverEveryTransport: HTTP/2 and HTTP/3 carry the body in frames
// the library reads, not the fetch's own parser, and must stop at the cap too.
func TestEndlessBodyOverEveryTransport(t *testing.T) {
	ca := netxtest.MustCA(t, "hostile CA")
	cert := netxtest.MustIssue(t, ca, "hostile.example")
	for _, tc := range []struct {
		name  string
		srv   *netxtest.Server
		http3 bool
		alpn  string
	}{
		{"h2", netxtest.NewHTTPSServer(t, cert, hostile.EndlessHandler()), false, "h2"},
		{"http/1.1 over TLS", netxtest.NewHTTPS1Server(t, cert, hostile.EndlessHandler()), false, "http/1.1"},
		{"h3", netxtest.NewHTTP3Server(t, cert, hostile.EndlessHandler()), true, "h3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := patientOptions()
			opts.Address, opts.HTTP3 = tc.srv.Addr, tc.http3
			c := netx.Client{Roots: ca.Pool(), Timeout: patientTimeout}
			var res *netx.FetchResult
			var err error
			alloc := allocated(func() { res, err = c.Fetch(t.Context(), newTrace(), tc.srv.URLFor("hostile.example"), opts) })
			if err != nil {
				t.Fatalf("fetch: %v", err)
			}
			if res.Final.ALPN != tc.alpn {
				t.Errorf("ALPN %q, want %q", res.Final.ALPN, tc.alpn)
			}
			if len(res.Body) != testCap || !res.BodyTruncated {
				t.Errorf("body %d bytes truncated %v, want %d and the flag", len(res.Body), res.BodyTruncated, testCap)
			}
			if alloc > memoryBound {
				t.Errorf("fetch allocated %d MiB, want under %d MiB", alloc>>20, memoryBound>>20)
			}
			t.Logf("endless body over %s: %d KiB allocated", tc.name, alloc>>10)
		})
	}
}

// TestHugeHeadersOverEveryTransport: 20 MiB of response headers (over the 10 MiB
// that net/http and x/net/http2 accept by default and any cap of netx) must end
// the round trip as a classified failure, over each transport, within the memory
// bound.
func TestHugeHeadersOverEveryTransport(t *testing.T) {
	ca := netxtest.MustCA(t, "hostile CA")
	cert := netxtest.MustIssue(t, ca, "hostile.example")
	const headers = 20 << 10 // 20 MiB of 1 KiB headers
	for _, tc := range []struct {
		name  string
		srv   *netxtest.Server
		http3 bool
	}{
		{"h2", netxtest.NewHTTPSServer(t, cert, hostile.HugeHeaderHandler(headers)), false},
		{"http/1.1 over TLS", netxtest.NewHTTPS1Server(t, cert, hostile.HugeHeaderHandler(headers)), false},
		{"h3", netxtest.NewHTTP3Server(t, cert, hostile.HugeHeaderHandler(headers)), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := patientOptions()
			opts.Address, opts.HTTP3 = tc.srv.Addr, tc.http3
			c := netx.Client{Roots: ca.Pool(), Timeout: patientTimeout}
			var err error
			alloc := allocated(func() { _, err = c.Fetch(t.Context(), newTrace(), tc.srv.URLFor("hostile.example"), opts) })
			failure, op := failureOf(err)
			if !isClassified(failure) || op != "http_round_trip" {
				t.Errorf("failure %q in %q, want a classified failure of http_round_trip", failure, op)
			}
			if alloc > 2*memoryBound {
				t.Errorf("fetch allocated %d MiB, want under %d MiB", alloc>>20, 2*memoryBound>>20)
			}
			t.Logf("20 MiB of headers over %s: %s, %d KiB allocated", tc.name, failure, alloc>>10)
		})
	}
}
