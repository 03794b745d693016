package thserver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/nettests/webconnectivity/thproto"
	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/netxtest"
)

const siteName = "site.test"

// staticLookup resolves siteName to addrs and everything else to NXDOMAIN.
func staticLookup(addrs ...string) LookupFunc {
	return func(ctx context.Context, host string) ([]string, error) {
		if host == siteName {
			return addrs, nil
		}
		return nil, netx.Wrap("resolve", &net.DNSError{Err: "no such host", Name: host, IsNotFound: true})
	}
}

func newHelper(t *testing.T, cfg Config) *httptest.Server {
	t.Helper()
	if cfg.Lookup == nil {
		cfg.Lookup = staticLookup("127.0.0.1")
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func post(t *testing.T, url, contentType, body string) (int, []byte) {
	t.Helper()
	resp, err := http.Post(url, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func ask(t *testing.T, url string, req thproto.Request) *thproto.Response {
	t.Helper()
	b, _ := json.Marshal(req)
	status, body := post(t, url, "application/json", string(b))
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	var resp thproto.Response
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return &resp
}

func TestErrors(t *testing.T) {
	srv := newHelper(t, Config{})
	cases := []struct {
		name, method, path, ctype, body string
		status                          int
	}{
		{"malformed json", "POST", "/", "application/json", `{"http_request":`, http.StatusBadRequest},
		{"not a url", "POST", "/", "application/json", `{"http_request":"gopher://x/"}`, http.StatusBadRequest},
		{"too large", "POST", "/", "application/json", `{"http_request":"http://a.test/` + strings.Repeat("a", thproto.MaxRequestBytes) + `"}`, http.StatusRequestEntityTooLarge},
		{"content type", "POST", "/", "text/plain", `{}`, http.StatusUnsupportedMediaType},
		{"method", "PUT", "/", "application/json", `{}`, http.StatusMethodNotAllowed},
		{"path", "POST", "/other", "application/json", `{}`, http.StatusNotFound},
		{"loopback literal", "POST", "/", "application/json", `{"http_request":"http://127.0.0.1:8080/"}`, http.StatusForbidden},
		{"private literal", "POST", "/", "application/json", `{"http_request":"https://[fd00::1]/"}`, http.StatusForbidden},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
			req.Header.Set("Content-Type", c.ctype)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e thproto.ErrorResponse
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Error == "" {
				t.Errorf("body is not a JSON error: %v %+v", err, e)
			}
			if resp.StatusCode != c.status {
				t.Errorf("status %d (%s), want %d", resp.StatusCode, e.Error, c.status)
			}
		})
	}
}

func TestContentTypeWithCharset(t *testing.T) {
	srv := newHelper(t, Config{AllowPrivate: true})
	status, body := post(t, srv.URL, "application/json; charset=utf-8", `{"http_request":"http://missing.test/"}`)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
}

func TestHealthCheck(t *testing.T) {
	srv := newHelper(t, Config{})
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != 200 || m["message"] == "" {
		t.Fatalf("GET / = %d %v %v", resp.StatusCode, m, err)
	}
}

// TestMeasureHTTPS measures a loopback https site in lab mode and checks every part
// of the answer against what the site really is.
func TestMeasureHTTPS(t *testing.T) {
	ca := netxtest.MustCA(t, "thserver test CA")
	site := netxtest.NewHTTPSServer(t, netxtest.MustIssue(t, ca, siteName), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Site", "yes")
		fmt.Fprint(w, "<html><title>The Site Test Page</title>hello</html>")
	}))
	srv := newHelper(t, Config{AllowPrivate: true, Roots: ca.Pool()})
	resp := ask(t, srv.URL, thproto.Request{HTTPRequest: site.URLFor(siteName), TCPConnect: []string{site.Addr}})

	if len(resp.DNS.Addrs) != 1 || resp.DNS.Addrs[0] != "127.0.0.1" || resp.DNS.Failure != nil {
		t.Errorf("dns = %+v", resp.DNS)
	}
	if r := resp.TCPConnect[site.Addr]; !r.Status {
		t.Errorf("tcp_connect[%s] = %+v, want success", site.Addr, r)
	}
	tr := resp.TLSHandshake[site.Addr]
	if !tr.Status || tr.ServerName != siteName || !strings.Contains(tr.XLeafIssuer, "thserver test CA Intermediate") || tr.XLeafSPKISHA256 == "" {
		t.Errorf("tls_handshake[%s] = %+v", site.Addr, tr)
	}
	h := resp.HTTPRequest
	body := "<html><title>The Site Test Page</title>hello</html>"
	if h.StatusCode != 200 || h.BodyLength != int64(len(body)) || h.Title != "The Site Test Page" || h.Headers["X-Site"] != "yes" || h.Failure != nil {
		t.Errorf("http_request = %+v", h)
	}
	info := resp.IPInfo["127.0.0.1"]
	want := int64(thproto.FlagResolvedByProbe | thproto.FlagResolvedByTH | thproto.FlagBogon | thproto.FlagValidForDomain)
	if info.Flags != want {
		t.Errorf("ip_info flags = %d, want %d", info.Flags, want)
	}
	if resp.XClientIP != "127.0.0.1" {
		t.Errorf("x_client_ip = %q, want 127.0.0.1", resp.XClientIP)
	}
}

// TestRefusesPrivateByDefault: without the lab flag, a name that resolves to
// loopback and an endpoint on loopback are not contacted.
func TestRefusesPrivateByDefault(t *testing.T) {
	contacted := false
	var mu sync.Mutex
	site := netxtest.NewHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		contacted = true
		mu.Unlock()
	}))
	srv := newHelper(t, Config{})
	resp := ask(t, srv.URL, thproto.Request{HTTPRequest: site.URLFor(siteName), TCPConnect: []string{site.Addr}})
	if len(resp.DNS.Addrs) != 0 {
		t.Errorf("private answers kept: %v", resp.DNS.Addrs)
	}
	if r := resp.TCPConnect[site.Addr]; r.Status || r.Failure == nil || *r.Failure != thproto.FailurePrivateRefused {
		t.Errorf("tcp_connect = %+v, want %s", r, thproto.FailurePrivateRefused)
	}
	if resp.HTTPRequest.Failure == nil || resp.HTTPRequest.StatusCode != -1 {
		t.Errorf("http_request = %+v, want a failure", resp.HTTPRequest)
	}
	mu.Lock()
	defer mu.Unlock()
	if contacted {
		t.Error("the helper contacted a loopback site without the lab flag")
	}
}

func TestDNSFailureMapping(t *testing.T) {
	srv := newHelper(t, Config{AllowPrivate: true})
	resp := ask(t, srv.URL, thproto.Request{HTTPRequest: "http://missing.test/"})
	if resp.DNS.Failure == nil || *resp.DNS.Failure != thproto.FailureDNSNameError {
		t.Fatalf("dns = %+v, want %s", resp.DNS, thproto.FailureDNSNameError)
	}
}

// TestBoundsTime: a site that accepts and never answers is cut by the request
// budget, and the answer says it timed out.
func TestBoundsTime(t *testing.T) {
	hole := netxtest.NewBlackHole(t)
	_, port, _ := net.SplitHostPort(hole)
	srv := newHelper(t, Config{AllowPrivate: true, RequestTimeout: 300 * time.Millisecond})
	resp := ask(t, srv.URL, thproto.Request{HTTPRequest: "http://" + net.JoinHostPort(siteName, port) + "/"})
	if f := resp.HTTPRequest.Failure; f == nil || *f != netx.FailureGenericTimeout {
		t.Fatalf("http_request = %+v, want %s", resp.HTTPRequest, netx.FailureGenericTimeout)
	}
}

// TestBoundsConcurrency: with one slot taken, the next request waits its QueueWait,
// then gets 503.
func TestBoundsConcurrency(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	lookup := func(ctx context.Context, host string) ([]string, error) {
		entered <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil, netx.ErrDNSNoAnswer
	}
	srv := newHelper(t, Config{Lookup: lookup, MaxInFlight: 1, QueueWait: 50 * time.Millisecond})
	var wg sync.WaitGroup
	wg.Go(func() { post(t, srv.URL, "application/json", `{"http_request":"http://a.test/"}`) })
	<-entered
	status, body := post(t, srv.URL, "application/json", `{"http_request":"http://b.test/"}`)
	close(release)
	wg.Wait()
	if status != http.StatusServiceUnavailable {
		t.Fatalf("second request: %d %s, want 503", status, body)
	}
}

// TestQueuesBriefly: a request arriving while every slot is taken is measured once
// a slot frees up within its QueueWait, instead of failing.
func TestQueuesBriefly(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan string, 8)
	lookup := func(ctx context.Context, host string) ([]string, error) {
		select {
		case entered <- host:
		default: // a further lookup of the same request: already signalled
		}
		if host == "a.test" {
			<-release
		}
		return nil, netx.ErrDNSNoAnswer
	}
	srv := newHelper(t, Config{Lookup: lookup, MaxInFlight: 1, QueueWait: time.Minute})
	var wg sync.WaitGroup
	wg.Go(func() { post(t, srv.URL, "application/json", `{"http_request":"http://a.test/"}`) })
	<-entered // a.test holds the only slot
	second := make(chan int, 1)
	wg.Go(func() {
		status, _ := post(t, srv.URL, "application/json", `{"http_request":"http://b.test/"}`)
		second <- status
	})
	select {
	case host := <-entered:
		t.Fatalf("%s was measured while the only slot was taken", host)
	case status := <-second:
		t.Fatalf("second request answered %d while queued", status)
	case <-time.After(100 * time.Millisecond): // it is waiting, as it should
	}
	close(release)
	if status := <-second; status != http.StatusOK {
		t.Fatalf("queued request: %d, want 200 once the slot freed", status)
	}
	wg.Wait()
}

// TestQUIC: a site that advertises h3 gets QUIC handshakes and an HTTP/3 fetch.
func TestQUIC(t *testing.T) {
	ca := netxtest.MustCA(t, "thserver quic CA")
	cert := netxtest.MustIssue(t, ca, siteName)
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<title>h3 page</title>") })
	h3 := netxtest.NewHTTP3Server(t, cert, page)
	site := netxtest.NewHTTPSServer(t, cert, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Alt-Svc", `h3=":`+h3.Port()+`"; ma=60`)
		page(w, r)
	}))
	srv := newHelper(t, Config{AllowPrivate: true, Roots: ca.Pool(), QUIC: true})
	resp := ask(t, srv.URL, thproto.Request{HTTPRequest: site.URLFor(siteName), XQUICEnabled: true})
	if resp.HTTPRequest.DiscoveredH3Endpoint != net.JoinHostPort(siteName, h3.Port()) {
		t.Fatalf("discovered_h3_endpoint = %q", resp.HTTPRequest.DiscoveredH3Endpoint)
	}
	if r := resp.QUICHandshake[h3.Addr]; !r.Status {
		t.Errorf("quic_handshake[%s] = %+v, want success", h3.Addr, r)
	}
	if resp.HTTP3Request == nil || resp.HTTP3Request.StatusCode != 200 || resp.HTTP3Request.Title != "h3 page" {
		t.Errorf("http3_request = %+v", resp.HTTP3Request)
	}
	// Without x_quic_enabled nothing is tried over QUIC.
	resp = ask(t, srv.URL, thproto.Request{HTTPRequest: site.URLFor(siteName)})
	if len(resp.QUICHandshake) != 0 || resp.HTTP3Request != nil {
		t.Errorf("QUIC tried without x_quic_enabled: %+v %+v", resp.QUICHandshake, resp.HTTP3Request)
	}
}
