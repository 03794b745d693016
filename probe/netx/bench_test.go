package netx_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/netxtest"
)

// BenchmarkTCPTLSHTTP measures one whole measurement's network work on loopback:
// TCP connect, TLS handshake (each ClientHello), HTTP GET of a small page, with
// every event recorded. Figures are in docs/netx.md.
func BenchmarkTCPTLSHTTP(b *testing.B) {
	ca := netxtest.MustCA(b, "Bench Root")
	cert := netxtest.MustIssue(b, ca, "example.test")
	for _, proto := range []struct {
		name string
		srv  *netxtest.Server
	}{
		{"h2", netxtest.NewHTTPSServer(b, cert, serveString(helloPage))},
		{"http1.1", netxtest.NewHTTPS1Server(b, cert, serveString(helloPage))},
	} {
		for _, hello := range []string{netx.ClientHelloChrome, netx.ClientHelloGo} {
			b.Run(proto.name+"/"+hello, func(b *testing.B) {
				c := &netx.Client{Roots: ca.Pool(), ClientHello: hello}
				url := proto.srv.URLFor("example.test")
				opts := netx.FetchOptions{Address: proto.srv.Addr}
				b.ReportAllocs()
				for b.Loop() {
					res, err := c.Fetch(context.Background(), newTrace(), url, opts)
					if err != nil || res.Final.Response.Code != http.StatusOK {
						b.Fatalf("Fetch: %v", err)
					}
				}
			})
		}
	}
}
