package upload_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/vantage-probe/vantage/report/upload"
	"github.com/vantage-probe/vantage/report/upload/proxytest"
	"github.com/vantage-probe/vantage/report/upload/uploadtest"
)

// closedPort is a loopback address nothing listens on: connects are refused.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// rememberingQueue is a memQueue that also keeps the preferred route.
type rememberingQueue struct {
	*memQueue
	route string
	sets  int
}

func (q *rememberingQueue) PreferredRoute(context.Context) (string, error) { return q.route, nil }
func (q *rememberingQueue) SetPreferredRoute(_ context.Context, key string) error {
	q.route = key
	q.sets++
	return nil
}

var _ upload.RouteMemory = (*rememberingQueue)(nil)

func signedLines(t *testing.T, n int) [][]byte {
	t.Helper()
	priv := uploadtest.NewKey(t)
	var out [][]byte
	for i := range n {
		uid := "uid-" + string(rune('a'+i/26)) + string(rune('a'+i%26))
		out = append(out, uploadtest.SignedLine(t, priv, uid, "https://example.org/", t0, map[string]any{"i": i}))
	}
	return out
}

// failures records OnRouteFailure calls.
type failures struct {
	mu   sync.Mutex
	list []upload.Failure
}

func (f *failures) add(_ context.Context, x upload.Failure) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.list = append(f.list, x)
}

func TestDeadFirstRouteFallsBackAndTheWorkingRouteIsRemembered(t *testing.T) {
	col := uploadtest.NewServer()
	defer col.Close()
	dead := "http://" + closedPort(t)
	sl := &sleeps{}
	fs := &failures{}
	c := newClient("", sl)
	c.Routes = []upload.Route{{URL: dead}, {URL: col.URL}}
	c.OnRouteFailure = fs.add
	lines := signedLines(t, 25)
	q := &rememberingQueue{memQueue: queueOf(lines...)}
	res, err := c.Drain(context.Background(), q)
	if err != nil || res.Uploaded != 25 || col.StoredCount() != 25 {
		t.Fatalf("drain: %+v, %v; collector holds %d", res, err, col.StoredCount())
	}
	// Batches of 10: the dead route is tried once, for the first batch only; the
	// working route carries all three and is remembered once.
	if res.Routes[0].Failed != 1 || res.Routes[0].Answered != 0 || res.Routes[1].Answered != 3 {
		t.Errorf("routes = %+v", res.Routes)
	}
	if q.route != (upload.Route{URL: col.URL}).String() || q.sets != 1 {
		t.Errorf("remembered %q after %d writes, want the working route once", q.route, q.sets)
	}
	if len(sl.all()) != 0 {
		t.Errorf("waited %v: falling back to another route needs no backoff", sl.all())
	}
	if len(fs.list) != 1 || fs.list[0].Route.URL != dead || fs.list[0].Operation != "connect" || !errors.Is(fs.list[0].Err, syscall.ECONNREFUSED) {
		t.Fatalf("route failures = %+v, want one refused connect of the dead route", fs.list)
	}

	// The next drain starts with the remembered route: the dead one is not tried.
	q.memQueue = queueOf(signedLines(t, 30)[25:]...)
	res, err = c.Drain(context.Background(), q)
	if err != nil || res.Routes[0].Failed != 0 || res.Routes[1].Answered != 1 {
		t.Errorf("second drain: %+v, %v", res.Routes, err)
	}
}

func TestEveryRouteDeadRetriesRoundsThenWaits(t *testing.T) {
	sl := &sleeps{}
	c := newClient("", sl)
	c.MaxAttempts = 3
	c.Routes = []upload.Route{{URL: "http://" + closedPort(t)}, {URL: "http://" + closedPort(t)}}
	q := queueOf(signedLines(t, 4)...)
	res, err := c.Drain(context.Background(), q)
	if !errors.Is(err, upload.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	// Three rounds of both routes, with the backoff between rounds only.
	if res.Routes[0].Failed != 3 || res.Routes[1].Failed != 3 || len(sl.all()) != 2 {
		t.Errorf("routes %+v, waits %v", res.Routes, sl.all())
	}
	if len(q.pending) != 4 || len(q.uploaded) != 0 || len(q.rejected) != 0 {
		t.Errorf("queue: %d pending, %d uploaded, %d rejected; want all 4 waiting", len(q.pending), len(q.uploaded), len(q.rejected))
	}
}

func TestRefusedMeasurementIsNotRetriedOnAnotherRoute(t *testing.T) {
	first, second := uploadtest.NewServer(), uploadtest.NewServer()
	defer first.Close()
	defer second.Close()
	first.FailNext(1, uploadtest.Fault{Status: http.StatusUnprocessableEntity})
	c := newClient("", &sleeps{})
	c.Routes = []upload.Route{{URL: first.URL}, {URL: second.URL}}
	q := queueOf(signedLines(t, 1)...)
	res, err := c.Drain(context.Background(), q)
	if err != nil || res.Rejected != 1 || len(q.rejected) != 1 {
		t.Fatalf("drain: %+v, %v; want the measurement rejected", res, err)
	}
	if second.Requests() != 0 {
		t.Errorf("the second route got %d requests: a refusal is the collector's answer, not a path failure", second.Requests())
	}
}

func TestNotTheCollectorOnOneRouteFallsBack(t *testing.T) {
	col := uploadtest.NewServer()
	defer col.Close()
	blockpage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<html>Страница заблокирована</html>")
	}))
	defer blockpage.Close()
	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	fs := &failures{}
	c := newClient("", &sleeps{})
	c.Routes = []upload.Route{{URL: blockpage.URL}, {URL: notFound.URL}, {URL: col.URL}}
	c.OnRouteFailure = fs.add
	q := queueOf(signedLines(t, 3)...)
	res, err := c.Drain(context.Background(), q)
	if err != nil || col.StoredCount() != 3 || res.Routes[2].Answered != 1 {
		t.Fatalf("drain: %+v, %v", res, err)
	}
	// The block page (a 200 that acknowledges nothing) looks like censorship and is
	// reported; a 404 is a wrong URL, not a blocked path.
	if len(fs.list) != 1 || fs.list[0].Route.URL != blockpage.URL || fs.list[0].Status != 200 {
		t.Errorf("route failures = %+v", fs.list)
	}
	if res.Routes[1].Last == nil || res.Routes[1].Last.Status != 404 {
		t.Errorf("the 404 route's failure = %+v", res.Routes[1].Last)
	}
}

func TestBodiesAreGzipped(t *testing.T) {
	col := uploadtest.NewServer()
	defer col.Close()
	var mu sync.Mutex
	var encodings []string
	var wire, plain int
	tee := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Errorf("body is not gzip: %v", err)
			return
		}
		raw, _ := io.ReadAll(zr)
		mu.Lock()
		encodings = append(encodings, r.Header.Get("Content-Encoding"))
		wire += len(b)
		plain += len(raw)
		mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
		col.Handler().ServeHTTP(w, r)
	}))
	defer tee.Close()
	lines := signedLines(t, 20)
	res, err := newClient(tee.URL, &sleeps{}).Drain(context.Background(), queueOf(lines...))
	if err != nil || col.StoredCount() != 20 {
		t.Fatalf("drain: %+v, %v", res, err)
	}
	want := 0
	for _, l := range lines {
		want += len(l) + 1
	}
	if plain != want || int(res.BytesRaw) != want || int(res.BytesSent) != wire || wire >= want {
		t.Errorf("decompressed %d (want %d), result raw %d sent %d, wire %d", plain, want, res.BytesRaw, res.BytesSent, wire)
	}
	for _, e := range encodings {
		if e != "gzip" {
			t.Errorf("Content-Encoding %q", e)
		}
	}
}

// loopbackOnly dials addresses on 127.0.0.1 and refuses names, so that no test
// sends a DNS query off the machine.
func loopbackOnly(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, _ := net.SplitHostPort(addr)
	if host != "127.0.0.1" {
		return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
	}
	return (&net.Dialer{}).DialContext(ctx, network, addr)
}

func TestSOCKS5RouteReachesACollectorOnlyTheProxyKnows(t *testing.T) {
	col := uploadtest.NewServer()
	defer col.Close()
	colAddr := strings.TrimPrefix(col.URL, "http://")
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	px := proxytest.ServeSOCKS5(ln, func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr != "collector.example.net:80" {
			return nil, errors.New("unknown")
		}
		return (&net.Dialer{}).DialContext(ctx, network, colAddr)
	})
	defer px.Close()
	c := newClient("", &sleeps{})
	c.HTTP = nil
	c.DialContext = loopbackOnly
	c.Routes = []upload.Route{{URL: "http://collector.example.net"}, {URL: "http://collector.example.net", Proxy: "socks5h://" + px.Addr()}}
	res, err := c.Drain(context.Background(), queueOf(signedLines(t, 5)...))
	if err != nil || col.StoredCount() != 5 || res.Routes[1].Answered != 1 || res.Routes[0].Failed != 1 {
		t.Fatalf("drain: %+v, %v; collector holds %d", res.Routes, err, col.StoredCount())
	}
	if got := px.Targets(); len(got) != 1 || got[0] != "collector.example.net:80" {
		t.Errorf("the proxy was asked for %v: the name must reach it unresolved (socks5h)", got)
	}
}

// tlsCollector serves col over TLS with httptest's certificate (example.com and
// *.example.com), recording each request's SNI and Host.
func tlsCollector(t *testing.T, col *uploadtest.Server) (addr string, roots *x509.CertPool, seen func() [][2]string) {
	t.Helper()
	var mu sync.Mutex
	var got [][2]string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, [2]string{r.TLS.ServerName, r.Host})
		mu.Unlock()
		col.Handler().ServeHTTP(w, r)
	}))
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots = x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	return srv.Listener.Addr().String(), roots, func() [][2]string {
		mu.Lock()
		defer mu.Unlock()
		return append([][2]string(nil), got...)
	}
}

func TestFrontedRouteSendsTheFrontsNameAndTheCollectorsHost(t *testing.T) {
	col := uploadtest.NewServer()
	defer col.Close()
	addr, roots, seen := tlsCollector(t, col)
	_, port, _ := net.SplitHostPort(addr)
	c := newClient("", &sleeps{})
	c.HTTP = nil
	c.TLS = &tls.Config{RootCAs: roots}
	// The censor: the collector's own name cannot be reached; every other name
	// leads to the front's server.
	c.DialContext = func(ctx context.Context, network, a string) (net.Conn, error) {
		if strings.HasPrefix(a, "collector.example.net:") {
			return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNRESET}
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	c.Routes = []upload.Route{
		{URL: "https://collector.example.net:" + port},
		{URL: "https://collector.example.net:" + port, Front: "cdn.example.com"},
	}
	res, err := c.Drain(context.Background(), queueOf(signedLines(t, 3)...))
	if err != nil || col.StoredCount() != 3 || res.Routes[1].Answered != 1 {
		t.Fatalf("drain: %+v, %v", res.Routes, err)
	}
	got := seen()
	if len(got) != 1 || got[0] != [2]string{"cdn.example.com", "collector.example.net:" + port} {
		t.Errorf("server saw (SNI, Host) = %v", got)
	}
}

func TestCONNECTProxyRoute(t *testing.T) {
	col := uploadtest.NewServer()
	defer col.Close()
	addr, roots, seen := tlsCollector(t, col)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	px := proxytest.ServeCONNECT(ln, func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	})
	defer px.Close()
	c := newClient("", &sleeps{})
	c.HTTP = nil
	c.TLS = &tls.Config{RootCAs: roots}
	c.DialContext = loopbackOnly
	c.Routes = []upload.Route{{URL: "https://collector.example.com", Proxy: "http://" + px.Addr()}}
	if _, err := c.Drain(context.Background(), queueOf(signedLines(t, 2)...)); err != nil || col.StoredCount() != 2 {
		t.Fatalf("drain: %v; collector holds %d", err, col.StoredCount())
	}
	if got := px.Targets(); len(got) != 1 || got[0] != "collector.example.com:443" {
		t.Errorf("CONNECT targets %v", got)
	}
	if got := seen(); len(got) != 1 || got[0][0] != "collector.example.com" {
		t.Errorf("SNI/Host %v", got)
	}
}

func TestRouteValidation(t *testing.T) {
	for _, tc := range []struct {
		r    upload.Route
		want string // "" = valid
	}{
		{upload.Route{URL: "https://c.example"}, ""},
		{upload.Route{URL: "https://c.example", Front: "cdn.example:8443", Proxy: "socks5h://127.0.0.1:9050"}, ""},
		{upload.Route{URL: "https://c.example", Proxy: "http://127.0.0.1:3128"}, ""},
		{upload.Route{URL: "ftp://c.example"}, "url"},
		{upload.Route{URL: "http://c.example", Front: "cdn.example"}, "front"},
		{upload.Route{URL: "https://c.example", Front: "cdn.example/x"}, "front"},
		{upload.Route{URL: "https://c.example", Proxy: "socks4://127.0.0.1:1"}, "proxy"},
		{upload.Route{URL: "https://c.example", Proxy: "socks5h://"}, "proxy"},
	} {
		err := tc.r.Validate()
		if (tc.want == "") != (err == nil) || (err != nil && (!strings.Contains(err.Error(), tc.want) || !errors.Is(err, upload.ErrBadRoute))) {
			t.Errorf("%+v: err = %v, want %q", tc.r, err, tc.want)
		}
	}
	if s := (upload.Route{URL: "https://c.example", Proxy: "socks5h://user:secret@127.0.0.1:9050"}).String(); strings.Contains(s, "secret") {
		t.Errorf("String() shows the proxy password: %s", s)
	}
}

func TestRouteTransportFrontsAndProxiesByAddress(t *testing.T) {
	col := uploadtest.NewServer()
	defer col.Close()
	addr, roots, seen := tlsCollector(t, col)
	_, port, _ := net.SplitHostPort(addr)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	px := proxytest.ServeSOCKS5(ln, func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	})
	defer px.Close()
	base := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
		switch {
		case strings.HasPrefix(a, "127.0.0.1:"): // the proxy
			return (&net.Dialer{}).DialContext(ctx, network, a)
		case strings.HasPrefix(a, "cdn.example.com:"): // the front
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}
		return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
	}}
	fronted := upload.Route{URL: "https://helper.example.net:" + port, Front: "cdn.example.com:" + port}
	proxied := upload.Route{URL: "https://proxied.example.com:" + port, Proxy: "socks5h://" + px.Addr()}
	rt, err := upload.NewRouteTransport([]upload.Route{fronted, proxied}, base)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: rt}
	for _, r := range []upload.Route{fronted, proxied} {
		resp, err := hc.Get(upload.RouteBase(r) + "/api/v1/measurements")
		if err != nil {
			t.Fatalf("%s: %v", r, err)
		}
		resp.Body.Close()
	}
	got := seen()
	want := [][2]string{{"cdn.example.com", "helper.example.net:" + port}, {"proxied.example.com", "proxied.example.com:" + port}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("(SNI, Host) seen %v, want %v", got, want)
	}
	if len(px.Targets()) != 1 || px.Targets()[0] != "proxied.example.com:"+port {
		t.Errorf("proxy targets %v", px.Targets())
	}
	// A URL that is no route's goes out on the base transport.
	if _, err := hc.Get("https://other.example.net:" + port + "/"); err == nil {
		t.Error("a request to no route reached a server past the refusing dialer")
	}
	if _, err := upload.NewRouteTransport([]upload.Route{{URL: "https://a.example"}, {URL: "https://a.example", Proxy: "socks5h://127.0.0.1:1"}}, base); !errors.Is(err, upload.ErrBadRoute) {
		t.Errorf("two routes addressed alike: err = %v", err)
	}
}
