package webconnectivity

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/nettests/webconnectivity/thserver"
	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/dnstest"
	"github.com/vantage-probe/vantage/probe/netx/netxtest"
)

const (
	siteName  = "site.test"
	sitePage  = "<html><head><title>Site Test Homepage</title></head><body>"
	stepLimit = 800 * time.Millisecond // every step's budget in these tests
)

// testLab is a loopback world: a site over https and http (with h3 when asked), a
// DNS server for the probe, a control helper that sees the real site, and a probe
// dialer that a test points at censors.
type testLab struct {
	t        *testing.T
	ca       *netxtest.CA
	cert     tls.Certificate
	https    *netxtest.Server
	http     *netxtest.Server
	dns      *dnstest.Server
	helper   string
	closed   string // a loopback port where nothing listens
	redirect map[string]string
	dial     map[string]netx.DialFunc
	network  nettests.NetworkStatus
	cfg      Config
}

func sitePageHandler(extra func(w http.ResponseWriter)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Site-Backend", "origin-7")
		if extra != nil {
			extra(w)
		}
		fmt.Fprint(w, sitePage+strings.Repeat("The site's own text. ", 100)+"</body></html>")
	})
}

func newTestLab(t *testing.T) *testLab {
	t.Helper()
	l := &testLab{t: t, ca: netxtest.MustCA(t, "scenario CA"), redirect: map[string]string{}, dial: map[string]netx.DialFunc{}}
	l.cert = netxtest.MustIssue(t, l.ca, siteName)
	l.https = netxtest.NewHTTPSServer(t, l.cert, sitePageHandler(nil))
	l.http = netxtest.NewHTTPServer(t, sitePageHandler(nil))
	l.dns = dnstest.NewServer(t, map[string]dnstest.Rule{siteName: dnstest.Answer("127.0.0.1")})
	l.closed = netxtest.ClosedPort(t)
	l.helper = l.startHelper()
	_, closedPort, _ := net.SplitHostPort(l.closed)
	l.cfg = Config{
		Retries:        3,
		RetrySpacing:   10 * time.Millisecond,
		Timeouts:       TimeoutPolicy{Initial: stepLimit, Floor: stepLimit, Ceiling: stepLimit},
		ControlBudget:  5 * time.Second,
		URLBudget:      20 * time.Second,
		ValidationPort: closedPort,
		QUIC:           true,
	}
	return l
}

// startHelper runs a control helper that resolves siteName to 127.0.0.1 and trusts
// the lab's CA.
func (l *testLab) startHelper() string {
	h, err := thserver.New(thserver.Config{
		Lookup: func(ctx context.Context, host string) ([]string, error) {
			if host == siteName {
				return []string{"127.0.0.1"}, nil
			}
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		},
		Roots: l.ca.Pool(), AllowPrivate: true, QUIC: true,
		EndpointTimeout: 2 * time.Second, FetchTimeout: 2 * time.Second, QUICTimeout: 2 * time.Second, RequestTimeout: 4 * time.Second,
	})
	if err != nil {
		l.t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	l.t.Cleanup(srv.Close)
	return srv.URL + "/"
}

// probeDial is the probe's dialer: the censors of a scenario sit here.
func (l *testLab) probeDial(ctx context.Context, network, address string) (net.Conn, error) {
	if f, ok := l.dial[address]; ok {
		return f(ctx, network, address)
	}
	if to, ok := l.redirect[address]; ok {
		address = to
	}
	var d net.Dialer
	return d.DialContext(ctx, network, address)
}

func (l *testLab) measure(url string) *TestKeys {
	l.t.Helper()
	cfg := l.cfg
	if cfg.Helpers == nil {
		cfg.Helpers = []string{l.helper}
	}
	env := &nettests.Env{Netx: &netx.Client{Resolver: l.dns.UDPURL(), Roots: l.ca.Pool(), Dial: l.probeDial}, Network: l.network}
	m, err := NewWithConfig(env, cfg)
	if err != nil {
		l.t.Fatal(err)
	}
	keys, err := m.Run(context.Background(), url, netx.NewTrace(time.Now(), nil))
	if err != nil {
		l.t.Fatalf("Run: %v", err)
	}
	return keys.(*TestKeys)
}

// hangDial is a path that drops SYNs: the connect ends by the probe's timeout.
func hangDial(ctx context.Context, _, _ string) (net.Conn, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

type fakeNetwork struct {
	verdict string
	up      bool
}

func (f fakeNetwork) Verdict() string                     { return f.verdict }
func (f fakeNetwork) CanariesUp(ctx context.Context) bool { return f.up }

func TestScenarios(t *testing.T) {
	cases := []struct {
		name    string
		setup   func(l *testLab) string // returns the URL to measure
		verdict string
		methods []string // any of these
		reason  string
		check   func(t *testing.T, tk *TestKeys)
	}{
		{name: "clean https", verdict: nettests.VerdictOK, setup: func(l *testLab) string { return l.https.URLFor(siteName) },
			check: func(t *testing.T, tk *TestKeys) {
				if tk.Control == nil || tk.Control.HTTPRequest.StatusCode != 200 || tk.DNSConsistency == nil || *tk.DNSConsistency != "consistent" {
					t.Errorf("control %+v consistency %v", tk.Control, tk.DNSConsistency)
				}
				if len(tk.TCPConnect) == 0 || len(tk.TLSHandshakes) == 0 || len(tk.Requests) == 0 || len(tk.Queries) == 0 {
					t.Errorf("events missing: %d tcp, %d tls, %d requests, %d queries", len(tk.TCPConnect), len(tk.TLSHandshakes), len(tk.Requests), len(tk.Queries))
				}
			}},
		{name: "clean http", verdict: nettests.VerdictOK, setup: func(l *testLab) string { return l.http.URLFor(siteName) },
			check: func(t *testing.T, tk *TestKeys) {
				if !isTrue(tk.StatusCodeMatch) || !isTrue(tk.BodyLengthMatch) || !isTrue(tk.TitleMatch) || !isTrue(tk.HeadersMatch) {
					t.Errorf("comparison %+v", tk.HTTPComparison)
				}
			}},
		{name: "dns nxdomain", verdict: nettests.VerdictBlocked, methods: []string{nettests.MethodDNSNXDOMAIN}, setup: func(l *testLab) string {
			l.dns.Set(siteName, dnstest.NXDOMAIN())
			return l.https.URLFor(siteName)
		}},
		{name: "dns bogon", verdict: nettests.VerdictBlocked, methods: []string{nettests.MethodDNSBogon}, setup: func(l *testLab) string {
			l.dns.Set(siteName, dnstest.Answer("0.0.0.0"))
			return l.https.URLFor(siteName)
		}},
		{name: "no control, dns bogon is local evidence", verdict: nettests.VerdictBlocked, methods: []string{nettests.MethodDNSBogon}, setup: func(l *testLab) string {
			l.cfg.Helpers, l.cfg.LabAllowPrivate = []string{}, true
			l.dns.Set(siteName, dnstest.Answer("0.0.0.0"))
			return l.https.URLFor(siteName)
		}},
		{name: "dns inconsistent", verdict: nettests.VerdictBlocked, methods: []string{nettests.MethodDNSInconsistent}, setup: func(l *testLab) string {
			l.dns.Set(siteName, dnstest.Answer("127.0.0.2"))
			return l.https.URLFor(siteName)
		}},
		{name: "dns injection", verdict: nettests.VerdictBlocked, methods: []string{nettests.MethodDNSInjection}, setup: func(l *testLab) string {
			l.dns.Set(siteName, dnstest.Injected([]string{"127.0.0.2"}, dnstest.Answer("127.0.0.1")))
			return l.https.URLFor(siteName)
		}},
		{name: "CDN answer differs from the control but validates", verdict: nettests.VerdictOK, setup: func(l *testLab) string {
			twin := l.twinOn("127.0.0.2", l.https.Port())
			l.dns.Set(siteName, dnstest.Answer("127.0.0.2"))
			return "https://" + net.JoinHostPort(siteName, twin) + "/"
		}},
		{name: "tcp reset", verdict: nettests.VerdictBlocked, methods: []string{nettests.MethodTCPReset}, setup: func(l *testLab) string {
			l.redirect[l.https.Addr] = l.closed
			return l.https.URLFor(siteName)
		}},
		{name: "tcp timeout", verdict: nettests.VerdictBlocked, methods: []string{nettests.MethodTCPTimeout}, setup: func(l *testLab) string {
			l.dial[l.https.Addr] = hangDial
			return l.https.URLFor(siteName)
		}},
		{name: "tls reset on SNI", verdict: nettests.VerdictBlocked, methods: []string{nettests.MethodTLSReset}, setup: func(l *testLab) string {
			l.redirect[l.https.Addr] = newCensor(l.t, l.https.Addr, []byte(siteName), censorReset)
			return l.https.URLFor(siteName)
		}, check: func(t *testing.T, tk *TestKeys) {
			if tk.Evidence.BenignSNIWorked == nil || !*tk.Evidence.BenignSNIWorked {
				t.Errorf("the SNI swap was not recorded as working: %+v", tk.Evidence)
			}
		}},
		{name: "tls timeout on SNI", verdict: nettests.VerdictBlocked, methods: []string{nettests.MethodTLSTimeout}, setup: func(l *testLab) string {
			l.redirect[l.https.Addr] = newCensor(l.t, l.https.Addr, []byte(siteName), censorDrop)
			return l.https.URLFor(siteName)
		}},
		{name: "tls reset now and then", verdict: nettests.VerdictIntermittent, methods: []string{nettests.MethodTLSReset, nettests.MethodHTTPFailure}, setup: func(l *testLab) string {
			l.redirect[l.https.Addr] = newCensor(l.t, l.https.Addr, []byte(siteName), censorResetOdd)
			return l.https.URLFor(siteName)
		}},
		{name: "blockpage", verdict: nettests.VerdictBlocked, methods: []string{nettests.MethodHTTPBlockpage}, setup: func(l *testLab) string {
			bp := netxtest.NewHTTPServer(l.t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, "<html><title>Доступ ограничен</title><h1>Страница заблокирована</h1></html>")
			}))
			l.redirect[l.http.Addr] = bp.Addr
			return l.http.URLFor(siteName)
		}, check: func(t *testing.T, tk *TestKeys) {
			if tk.Evidence.Fingerprint == nil || tk.Evidence.Fingerprint.Country != "KZ" || tk.Blocking != "http-diff" {
				t.Errorf("evidence %+v blocking %v", tk.Evidence, tk.Blocking)
			}
		}},
		{name: "http diff", verdict: nettests.VerdictBlocked, methods: []string{nettests.MethodHTTPDiff}, setup: func(l *testLab) string {
			other := netxtest.NewHTTPServer(l.t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusForbidden)
				fmt.Fprint(w, "<title>Access denied</title>")
			}))
			l.redirect[l.http.Addr] = other.Addr
			return l.http.URLFor(siteName)
		}},
		{name: "mitm with the state root", verdict: nettests.VerdictBlocked, methods: []string{nettests.MethodTLSMITM}, setup: func(l *testLab) string {
			state := netxtest.MustCA(l.t, "Qaznet Trust Network")
			box := netxtest.NewHTTPSServer(l.t, netxtest.MustIssue(l.t, state, siteName), sitePageHandler(nil))
			l.redirect[l.https.Addr] = box.Addr
			return l.https.URLFor(siteName)
		}, check: func(t *testing.T, tk *TestKeys) {
			if tk.Evidence.Fingerprint == nil || tk.Evidence.Fingerprint.Name != "kz_qaznet_trust_network_2019" || !strings.Contains(tk.Evidence.Issuer, "Qaznet") {
				t.Errorf("evidence %+v", tk.Evidence)
			}
		}},
		{name: "mitm by an unknown box", verdict: nettests.VerdictBlocked, methods: []string{nettests.MethodTLSMITM}, setup: func(l *testLab) string {
			other := netxtest.MustCA(l.t, "Some Inspection Box")
			box := netxtest.NewHTTPSServer(l.t, netxtest.MustIssue(l.t, other, siteName), sitePageHandler(nil))
			l.redirect[l.https.Addr] = box.Addr
			return l.https.URLFor(siteName)
		}},
		{name: "site really down", verdict: nettests.VerdictDown, setup: func(l *testLab) string {
			_, port, _ := net.SplitHostPort(l.closed)
			return "https://" + net.JoinHostPort(siteName, port) + "/"
		}, check: func(t *testing.T, tk *TestKeys) {
			if tk.Blocking != false || tk.Accessible == nil || *tk.Accessible {
				t.Errorf("blocking %v accessible %v", tk.Blocking, tk.Accessible)
			}
		}},
		{name: "first helper down, the next answers", verdict: nettests.VerdictBlocked, methods: []string{nettests.MethodTCPReset}, setup: func(l *testLab) string {
			l.cfg.Helpers = []string{"http://" + l.closed + "/", l.helper}
			l.redirect[l.https.Addr] = l.closed
			return l.https.URLFor(siteName)
		}, check: func(t *testing.T, tk *TestKeys) {
			if tk.Control == nil || tk.ControlFailure != nil || tk.XControlHelper == "" {
				t.Errorf("control %v failure %v helper %q", tk.Control != nil, tk.ControlFailure, tk.XControlHelper)
			}
		}},
		{name: "no control, clean https", verdict: nettests.VerdictOK, setup: func(l *testLab) string {
			l.cfg.Helpers = []string{"http://" + l.closed + "/"}
			l.cfg.LabAllowPrivate = true
			return l.https.URLFor(siteName)
		}},
		{name: "no control, tls reset proven by the SNI swap", verdict: nettests.VerdictBlocked, methods: []string{nettests.MethodTLSReset}, setup: func(l *testLab) string {
			l.cfg.Helpers = []string{"http://" + l.closed + "/"}
			l.cfg.LabAllowPrivate = true
			l.redirect[l.https.Addr] = newCensor(l.t, l.https.Addr, []byte(siteName), censorReset)
			return l.https.URLFor(siteName)
		}},
		{name: "no control, tcp reset", verdict: nettests.VerdictInconclusive, reason: nettests.ReasonNoControl, setup: func(l *testLab) string {
			l.cfg.Helpers = []string{}
			l.cfg.LabAllowPrivate = true
			l.redirect[l.https.Addr] = l.closed
			return l.https.URLFor(siteName)
		}, check: func(t *testing.T, tk *TestKeys) {
			if tk.ControlFailure == nil || !strings.Contains(*tk.ControlFailure, "no control helper") {
				t.Errorf("control_failure %v", tk.ControlFailure)
			}
		}},
		{name: "quic blocked", verdict: nettests.VerdictBlocked, methods: []string{nettests.MethodQUICBlocked}, setup: func(l *testLab) string {
			h3 := netxtest.NewHTTP3Server(l.t, l.cert, sitePageHandler(nil))
			hole := netxtest.NewUDPBlackHole(l.t)
			_, holePort, _ := net.SplitHostPort(hole)
			real := netxtest.NewHTTPSServer(l.t, l.cert, sitePageHandler(func(w http.ResponseWriter) { w.Header().Set("Alt-Svc", `h3=":`+h3.Port()+`"`) }))
			// On the probe's path the site's Alt-Svc points at a port where UDP is dropped.
			seen := netxtest.NewHTTPSServer(l.t, l.cert, sitePageHandler(func(w http.ResponseWriter) { w.Header().Set("Alt-Svc", `h3=":`+holePort+`"`) }))
			l.redirect[real.Addr] = seen.Addr
			return real.URLFor(siteName)
		}},
		{name: "quic works", verdict: nettests.VerdictOK, setup: func(l *testLab) string {
			h3 := netxtest.NewHTTP3Server(l.t, l.cert, sitePageHandler(nil))
			real := netxtest.NewHTTPSServer(l.t, l.cert, sitePageHandler(func(w http.ResponseWriter) { w.Header().Set("Alt-Svc", `h3=":`+h3.Port()+`"`) }))
			return real.URLFor(siteName)
		}, check: func(t *testing.T, tk *TestKeys) {
			if !tk.XQUICAttempted || len(tk.QUICHandshakes) == 0 {
				t.Errorf("QUIC not attempted: %+v", tk.XObservations)
			}
		}},
		{name: "partial shutdown, canaries down", verdict: nettests.VerdictInconclusive, reason: ReasonPartialShutdown, setup: func(l *testLab) string {
			l.network = fakeNetwork{verdict: nettests.NetworkPartialShutdown, up: false}
			l.redirect[l.https.Addr] = newCensor(l.t, l.https.Addr, []byte(siteName), censorReset)
			return l.https.URLFor(siteName)
		}},
		{name: "partial shutdown, canaries up", verdict: nettests.VerdictBlocked, methods: []string{nettests.MethodTLSReset}, setup: func(l *testLab) string {
			l.network = fakeNetwork{verdict: nettests.NetworkPartialShutdown, up: true}
			l.redirect[l.https.Addr] = newCensor(l.t, l.https.Addr, []byte(siteName), censorReset)
			return l.https.URLFor(siteName)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newTestLab(t)
			url := c.setup(l)
			tk := l.measure(url)
			method := ""
			if tk.Method != nil {
				method = *tk.Method
			}
			reason := ""
			if tk.Reason != nil {
				reason = *tk.Reason
			}
			if tk.Verdict != c.verdict || (len(c.methods) > 0 && !slices.Contains(c.methods, method)) || (len(c.methods) == 0 && method != "") || reason != c.reason {
				b, _ := json.MarshalIndent(struct {
					E *Evidence
					O *ObservationsSummary
					C any
				}{tk.Evidence, tk.XObservations, tk.ControlFailure}, "", " ")
				t.Fatalf("verdict %s method %q reason %q, want %s %v %q\n%s", tk.Verdict, method, reason, c.verdict, c.methods, c.reason, b)
			}
			checkBlockingConsistent(t, tk)
			checkOONIView(t, tk)
			if c.check != nil {
				c.check(t, tk)
			}
			if _, err := json.Marshal(tk); err != nil {
				t.Fatalf("test keys do not encode: %v", err)
			}
		})
	}
}

// twinOn serves the site, with the same certificate, on ip:port (a second address of
// a CDN). It skips the test when the address cannot be bound.
func (l *testLab) twinOn(ip, port string) string {
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, port))
	if err != nil {
		l.t.Skipf("cannot bind %s:%s for the CDN twin (loopback aliases unavailable): %v", ip, port, err)
	}
	srv := &http.Server{Handler: sitePageHandler(nil), TLSConfig: &tls.Config{Certificates: []tls.Certificate{l.cert}}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ServeTLS(ln, "", "")
	}()
	l.t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return port
}

func TestRunRejectsBadInput(t *testing.T) {
	m, err := NewWithConfig(&nettests.Env{}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{"", "ftp://example.org/", "example.org", "https:///nohost", "http://exa mple.org/"} {
		if _, err := m.Run(context.Background(), in, netx.NewTrace(time.Now(), nil)); err == nil {
			t.Errorf("Run(%q) accepted", in)
		}
	}
}

func TestSkippedTestKeys(t *testing.T) {
	tk := SkippedTestKeys("https://www.example.org/", nettests.ReasonFullShutdown)
	v, m := tk.URLVerdict()
	if v != nettests.VerdictInconclusive || m != "" || tk.Reason == nil || *tk.Reason != nettests.ReasonFullShutdown {
		t.Fatalf("SkippedTestKeys = %s %q %v", v, m, tk.Reason)
	}
	b, err := json.Marshal(tk)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back["blocking"] != nil || back["accessible"] != nil || back["verdict"] != "inconclusive" {
		t.Fatalf("encoded %s", b)
	}
}

func TestClientIPScrubbed(t *testing.T) {
	tk := newTestKeys()
	tk.scrub = []string{"203.0.113.77"}
	tk.Evidence = &Evidence{Detail: "seen from 203.0.113.77"}
	b, err := json.Marshal(tk)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "203.0.113.77") {
		t.Fatalf("client address left in %s", b)
	}
}

func TestRunInterrupted(t *testing.T) {
	l := newTestLab(t)
	l.redirect[l.https.Addr] = l.closed // failures that would otherwise be a block
	cfg := l.cfg
	cfg.Helpers = []string{l.helper}
	env := &nettests.Env{Netx: &netx.Client{Resolver: l.dns.UDPURL(), Roots: l.ca.Pool(), Dial: l.probeDial}}
	m, err := NewWithConfig(env, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	keys, err := m.Run(ctx, l.https.URLFor(siteName), netx.NewTrace(time.Now(), nil))
	if err != nil {
		t.Fatal(err)
	}
	tk := keys.(*TestKeys)
	if tk.Verdict != nettests.VerdictInconclusive || tk.Reason == nil || *tk.Reason != ReasonInterrupted {
		t.Fatalf("verdict %s reason %v, want inconclusive interrupted", tk.Verdict, tk.Reason)
	}
}

// TestThrottledSite measures a fast large page, then a page that trickles at under
// 450 kbit/s, with one measurer: the second is throttled against the first.
func TestThrottledSite(t *testing.T) {
	l := newTestLab(t)
	chunk := strings.Repeat("x", 8<<10)
	fast := netxtest.NewHTTPSServer(t, l.cert, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, sitePage+strings.Repeat(chunk, 16))
	}))
	slow := netxtest.NewHTTPSServer(t, l.cert, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(sitePage)+10*len(chunk)))
		fmt.Fprint(w, sitePage)
		for i := 0; i < 10; i++ {
			fmt.Fprint(w, chunk)
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(150 * time.Millisecond):
			}
		}
	}))
	cfg := l.cfg
	cfg.Helpers = []string{}
	cfg.LabAllowPrivate = true
	env := &nettests.Env{Netx: &netx.Client{Resolver: l.dns.UDPURL(), Roots: l.ca.Pool(), Dial: l.probeDial}}
	m, err := NewWithConfig(env, cfg)
	if err != nil {
		t.Fatal(err)
	}
	run := func(url string) *TestKeys {
		keys, err := m.Run(context.Background(), url, netx.NewTrace(time.Now(), nil))
		if err != nil {
			t.Fatal(err)
		}
		return keys.(*TestKeys)
	}
	if tk := run(fast.URLFor(siteName)); tk.Verdict != nettests.VerdictOK {
		t.Fatalf("fast page: %s %+v", tk.Verdict, tk.Evidence)
	}
	tk := run(slow.URLFor(siteName))
	if tk.Verdict != nettests.VerdictThrottled || tk.Blocking != "throttled" {
		t.Fatalf("slow page: %s %+v", tk.Verdict, tk.Evidence)
	}
}
