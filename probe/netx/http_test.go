package netx_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/netxtest"
)

const helloPage = "<html><head><title> Hello &amp; welcome </title></head><body>hi</body></html>"

func serveString(s string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, s)
	})
}

func fetch(t *testing.T, c *netx.Client, url string, opts netx.FetchOptions) (*netx.FetchResult, *netx.Trace, error) {
	t.Helper()
	trace := newTrace()
	res, err := c.Fetch(context.Background(), trace, url, opts)
	if res == nil {
		t.Fatalf("Fetch returned no result (err %v)", err)
	}
	return res, trace, err
}

// TestFetchHTTPSByALPN fetches from an h2 server and from an HTTP/1.1-only one, each
// pinned to its address with Host and SNI from the URL.
func TestFetchHTTPSByALPN(t *testing.T) {
	p := newPKI(t)
	var mu sync.Mutex
	var hosts []string
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hosts = append(hosts, r.Host)
		mu.Unlock()
		serveString(helloPage).ServeHTTP(w, r)
	})
	for _, tc := range []struct {
		name, alpn string
		srv        *netxtest.Server
	}{
		{"h2", "h2", netxtest.NewHTTPSServer(t, p.good, handler)},
		{"http1.1", "http/1.1", netxtest.NewHTTPS1Server(t, p.good, handler)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &netx.Client{Roots: p.ca.Pool()}
			url := tc.srv.URLFor("example.test")
			res, trace, err := fetch(t, c, url, netx.FetchOptions{Address: tc.srv.Addr})
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			f := res.Final
			sum := sha256.Sum256([]byte(helloPage))
			switch {
			case f.ALPN != tc.alpn || f.Address != tc.srv.Addr || f.Network != "tcp":
				t.Errorf("alpn %q address %q network %q", f.ALPN, f.Address, f.Network)
			case f.Response.Code != 200 || string(res.Body) != helloPage || res.BodyTruncated:
				t.Errorf("code %d body %q truncated %v", f.Response.Code, res.Body, res.BodyTruncated)
			case f.Response.XTitle != "Hello & welcome" || f.Response.XBodySHA256 != hex.EncodeToString(sum[:]):
				t.Errorf("title %q sha %q", f.Response.XTitle, f.Response.XBodySHA256)
			case f.Response.XBodyLength != int64(len(helloPage)) || f.Response.Headers["Content-Type"] != "text/html":
				t.Errorf("length %d headers %v", f.Response.XBodyLength, f.Response.Headers)
			case f.Request.URL != url || f.Request.Method != "GET" || f.Request.XTransport != "tcp":
				t.Errorf("request %+v", f.Request)
			case f.Request.Headers["Host"] != netx.MaybeBinary("example.test:"+tc.srv.Port()):
				t.Errorf("recorded Host %q", f.Request.Headers["Host"])
			case res.TLS == nil || res.TLS.ServerName != "example.test" || res.TLS.TransactionID != f.TransactionID:
				t.Errorf("tls event %+v, want SNI example.test on the request's transaction", res.TLS)
			}
			ev := trace.Events()
			if len(ev.Requests) != 1 || len(ev.TCPConnect) != 1 || len(ev.TLSHandshakes) != 1 {
				t.Errorf("trace has %d requests, %d connects, %d handshakes; want 1 each", len(ev.Requests), len(ev.TCPConnect), len(ev.TLSHandshakes))
			}
			mu.Lock()
			defer mu.Unlock()
			if len(hosts) == 0 || hosts[len(hosts)-1] != "example.test:"+tc.srv.Port() {
				t.Errorf("server saw Host %q", hosts)
			}
		})
	}
}

func TestFetchPlainHTTP(t *testing.T) {
	srv := netxtest.NewHTTPServer(t, serveString(helloPage))
	var c netx.Client
	res, _, err := fetch(t, &c, srv.URL, netx.FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Final.ALPN != "" || res.TLS != nil || string(res.Body) != helloPage {
		t.Errorf("alpn %q tls %v body %q", res.Final.ALPN, res.TLS, res.Body)
	}
}

func TestFetchFollowsRedirects(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/a", http.RedirectHandler("/b", http.StatusFound))
	mux.Handle("/b", http.RedirectHandler("/c", http.StatusMovedPermanently))
	mux.Handle("/c", serveString(helloPage))
	srv := netxtest.NewHTTPServer(t, mux)
	var c netx.Client
	res, trace, err := fetch(t, &c, srv.URL+"a", netx.FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var urls []string
	var codes []int64
	for _, r := range res.Requests {
		urls = append(urls, r.Request.URL)
		codes = append(codes, r.Response.Code)
	}
	want := []string{srv.URL + "a", srv.URL + "b", srv.URL + "c"}
	if fmt.Sprint(urls) != fmt.Sprint(want) || fmt.Sprint(codes) != "[302 301 200]" {
		t.Errorf("chain %v codes %v, want %v [302 301 200]", urls, codes, want)
	}
	if tr := trace.Events().Requests; len(tr) != 3 || tr[0].Request.URL != srv.URL+"c" {
		t.Errorf("trace requests not in OONI order (final first)")
	}
}

func TestFetchRedirectLoopIsBounded(t *testing.T) {
	srv := netxtest.NewHTTPServer(t, http.RedirectHandler("/", http.StatusFound))
	var c netx.Client
	res, _, err := fetch(t, &c, srv.URL, netx.FetchOptions{MaxRedirects: 3})
	if got := failure(err); got != netx.FailureHTTPTooManyRedirects || !errors.Is(err, netx.ErrTooManyRedirects) {
		t.Fatalf("failure = %q (%v), want %q", got, err, netx.FailureHTTPTooManyRedirects)
	}
	if len(res.Requests) != 4 {
		t.Errorf("%d round trips, want 4 (the first and 3 redirects)", len(res.Requests))
	}
}

func TestFetchNoRedirects(t *testing.T) {
	srv := netxtest.NewHTTPServer(t, http.RedirectHandler("/elsewhere", http.StatusFound))
	var c netx.Client
	res, _, err := fetch(t, &c, srv.URL, netx.FetchOptions{MaxRedirects: -1})
	if err != nil || len(res.Requests) != 1 || res.Final.Response.Code != 302 {
		t.Fatalf("err %v, %d requests: want the 302 as final", err, len(res.Requests))
	}
}

func TestFetchRefusedIsRecorded(t *testing.T) {
	var c netx.Client
	url := "http://" + netxtest.ClosedPort(t) + "/"
	res, trace, err := fetch(t, &c, url, netx.FetchOptions{})
	if got := failure(err); got != netx.FailureConnectionRefused || operation(err) != "connect" {
		t.Fatalf("failure = %q operation %q", got, operation(err))
	}
	if deref(res.Final.Failure) != netx.FailureConnectionRefused || res.Final.Request.URL != url {
		t.Errorf("final event %+v", res.Final)
	}
	if len(trace.Events().Requests) != 1 {
		t.Errorf("the failed round trip was not recorded")
	}
}

func TestFetchUntrustedCertificate(t *testing.T) {
	p := newPKI(t)
	srv := netxtest.NewHTTPSServer(t, p.untrusted, serveString(helloPage))
	c := &netx.Client{Roots: p.ca.Pool()}
	res, _, err := fetch(t, c, srv.URLFor("example.test"), netx.FetchOptions{Address: srv.Addr})
	if got := failure(err); got != netx.FailureSSLUnknownAuthority || operation(err) != "tls_handshake" {
		t.Fatalf("failure = %q operation %q", got, operation(err))
	}
	if res.Final.Response.Code != 0 || res.Final.Address != srv.Addr {
		t.Errorf("final %+v: want no response, the address kept", res.Final)
	}
	if res.TLS == nil || len(res.TLS.PeerCertificates) != 2 || res.TLS.XRootIssuer != "CN=Interceptor Root,O=vantage test" {
		t.Errorf("result TLS %+v: want the unverified chain as evidence", res.TLS)
	}
	if res.TLS != nil && res.TLS.TransactionID != res.Final.TransactionID {
		t.Errorf("request transaction %d, handshake %d: want the same", res.Final.TransactionID, res.TLS.TransactionID)
	}
}

func TestFetchHeaderTimeout(t *testing.T) {
	addr := netxtest.NewBlackHole(t)
	var c netx.Client
	_, _, err := fetch(t, &c, "http://"+addr+"/", netx.FetchOptions{HeaderTimeout: testTimeout})
	if got := failure(err); got != netx.FailureGenericTimeout || operation(err) != "http_round_trip" {
		t.Fatalf("failure = %q operation %q, want a timeout waiting for headers", got, operation(err))
	}
}

// stallAfterHeaders sends headers and the start of a body, then waits for the
// client to go away.
func stallAfterHeaders(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Length", "1000")
	io.WriteString(w, "<html>")
	w.(http.Flusher).Flush()
	<-r.Context().Done()
}

func TestFetchBodyTimeout(t *testing.T) {
	p := newPKI(t)
	for _, tc := range []struct {
		name  string
		srv   *netxtest.Server
		http3 bool
	}{
		{"http1", netxtest.NewHTTPServer(t, http.HandlerFunc(stallAfterHeaders)), false},
		{"h2", netxtest.NewHTTPSServer(t, p.good, http.HandlerFunc(stallAfterHeaders)), false},
		{"h3", netxtest.NewHTTP3Server(t, p.good, http.HandlerFunc(stallAfterHeaders)), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &netx.Client{Roots: p.ca.Pool()}
			opts := netx.FetchOptions{Address: tc.srv.Addr, BodyTimeout: testTimeout, HTTP3: tc.http3}
			res, _, err := fetch(t, c, tc.srv.URLFor("example.test"), opts)
			if got := failure(err); got != netx.FailureGenericTimeout || operation(err) != "read" {
				t.Fatalf("failure = %q operation %q (%v), want a timeout reading the body", got, operation(err), err)
			}
			if string(res.Body) != "<html>" || res.Final.Response.Code != 200 {
				t.Errorf("body %q code %d", res.Body, res.Final.Response.Code)
			}
		})
	}
}

func TestFetchTotalTimeoutBoundsAllPhases(t *testing.T) {
	addr := netxtest.NewBlackHole(t)
	var c netx.Client
	// The header timeout alone would wait 10 s: the total bound ends it first.
	_, _, err := fetch(t, &c, "http://"+addr+"/", netx.FetchOptions{TotalTimeout: testTimeout})
	if got := failure(err); got != netx.FailureGenericTimeout {
		t.Fatalf("failure = %q (%v), want %q", got, err, netx.FailureGenericTimeout)
	}
}

func TestFetchMalformedResponse(t *testing.T) {
	for name, raw := range map[string]string{
		"not http":         "HELLO THERE\r\n\r\n",
		"negative length":  "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n",
		"bad header line":  "HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 0\r\n\r\n",
		"oversized header": "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", netx.DefaultMaxHeaderBytes) + "\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			srv := netxtest.NewRawServer(t, raw)
			var c netx.Client
			_, _, err := fetch(t, &c, "http://"+srv+"/", netx.FetchOptions{})
			if got := failure(err); got != netx.FailureHTTPInvalidResponse || operation(err) != "http_round_trip" {
				t.Fatalf("failure = %q in %q (%v), want %q", got, operation(err), err, netx.FailureHTTPInvalidResponse)
			}
		})
	}
}

func TestFetchHTTP3(t *testing.T) {
	p := newPKI(t)
	srv := netxtest.NewHTTP3Server(t, p.good, serveString(helloPage))
	c := &netx.Client{Roots: p.ca.Pool()}
	res, trace, err := fetch(t, c, srv.URLFor("example.test"), netx.FetchOptions{Address: srv.Addr, HTTP3: true})
	if err != nil {
		t.Fatalf("Fetch over HTTP/3: %v", err)
	}
	f := res.Final
	if f.Network != "udp" || f.ALPN != "h3" || f.Request.XTransport != "quic" || f.Response.Code != 200 || string(res.Body) != helloPage {
		t.Errorf("network %q alpn %q transport %q code %d body %q", f.Network, f.ALPN, f.Request.XTransport, f.Response.Code, res.Body)
	}
	if ev := trace.Events(); len(ev.QUICHandshakes) != 1 || len(ev.TCPConnect) != 0 || ev.QUICHandshakes[0].TransactionID != f.TransactionID {
		t.Errorf("want one QUIC handshake on the request's transaction and no TCP")
	}
}

func TestFetchHTTP3BlackHole(t *testing.T) {
	addr := netxtest.NewUDPBlackHole(t)
	var c netx.Client
	_, _, err := fetch(t, &c, "https://example.test/", netx.FetchOptions{Address: addr, HTTP3: true, TLSTimeout: testTimeout})
	if got := failure(err); got != netx.FailureGenericTimeout || operation(err) != "quic_handshake" {
		t.Fatalf("failure = %q operation %q", got, operation(err))
	}
}

func TestFetchHTTP3StopsAtPlainHTTPRedirect(t *testing.T) {
	p := newPKI(t)
	srv := netxtest.NewHTTP3Server(t, p.good, http.RedirectHandler("http://example.test/", http.StatusFound))
	c := &netx.Client{Roots: p.ca.Pool()}
	res, _, err := fetch(t, c, srv.URLFor("example.test"), netx.FetchOptions{Address: srv.Addr, HTTP3: true})
	if err != nil || len(res.Requests) != 1 || res.Final.Response.Code != http.StatusFound {
		t.Fatalf("err %v, %d round trips: want the redirect as the final response", err, len(res.Requests))
	}
	if _, err := c.Fetch(context.Background(), newTrace(), "http://example.test/", netx.FetchOptions{HTTP3: true}); !errors.Is(err, netx.ErrBadURL) {
		t.Errorf("HTTP/3 fetch of an http URL: %v, want ErrBadURL", err)
	}
}

func TestFetchRejectsBadURL(t *testing.T) {
	var c netx.Client
	for _, u := range []string{"ftp://example.test/", "https:///path", "://"} {
		if _, err := c.Fetch(context.Background(), newTrace(), u, netx.FetchOptions{}); !errors.Is(err, netx.ErrBadURL) {
			t.Errorf("Fetch(%q) error %v, want ErrBadURL", u, err)
		}
	}
}

func TestFetchHTTP3HeaderTimeout(t *testing.T) {
	p := newPKI(t)
	stall := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	srv := netxtest.NewHTTP3Server(t, p.good, stall)
	c := &netx.Client{Roots: p.ca.Pool()}
	_, _, err := fetch(t, c, srv.URLFor("example.test"), netx.FetchOptions{Address: srv.Addr, HTTP3: true, HeaderTimeout: testTimeout})
	if got := failure(err); got != netx.FailureGenericTimeout || operation(err) != "http_round_trip" {
		t.Fatalf("failure = %q operation %q (%v), want a timeout waiting for headers", got, operation(err), err)
	}
}
