package netx_test

import (
	"net/http"
	"testing"

	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/dnstest"
	"github.com/vantage-probe/vantage/probe/netx/netxtest"
)

// TestFetchResolvesRedirectHosts pins the first hop and lets the redirect's host be
// resolved with the Client's resolver, whose queries land in the same trace.
func TestFetchResolvesRedirectHosts(t *testing.T) {
	final := netxtest.NewHTTPServer(t, serveString(helloPage))
	first := netxtest.NewHTTPServer(t, http.RedirectHandler(final.URLFor("next.test"), http.StatusFound))
	dnsSrv := dnstest.NewServer(t, map[string]dnstest.Rule{"next.test": dnstest.Answer("127.0.0.1")})
	c := &netx.Client{Resolver: dnsSrv.UDPURL()}
	res, trace, err := fetch(t, c, first.URLFor("start.test"), netx.FetchOptions{Address: first.Addr})
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if len(res.Requests) != 2 || res.Final.Address != final.Addr || string(res.Body) != helloPage {
		t.Errorf("%d round trips, final address %q (want %q)", len(res.Requests), res.Final.Address, final.Addr)
	}
	queried := map[string]bool{}
	for _, q := range trace.Events().Queries {
		queried[q.Hostname] = true
	}
	if !queried["next.test"] || queried["start.test"] {
		t.Errorf("queries for %v: want next.test only (the first hop is pinned)", queried)
	}
}

func TestFetchNXDOMAIN(t *testing.T) {
	dnsSrv := dnstest.NewServer(t, map[string]dnstest.Rule{"gone.test": dnstest.NXDOMAIN()})
	c := &netx.Client{Resolver: dnsSrv.UDPURL()}
	res, _, err := fetch(t, c, "http://gone.test/", netx.FetchOptions{})
	if got := failure(err); got != netx.FailureDNSNXDOMAIN || operation(err) != "resolve" {
		t.Fatalf("failure = %q operation %q, want %q in resolve", got, operation(err), netx.FailureDNSNXDOMAIN)
	}
	if deref(res.Final.Failure) != netx.FailureDNSNXDOMAIN {
		t.Errorf("final failure %q", deref(res.Final.Failure))
	}
}
