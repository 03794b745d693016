//go:build linux

package lab

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// blockedWait is how long the plumbing tests wait before calling a silent
// connection black-holed. Each lab is a few veth hops on one machine: a working
// connection completes in well under a millisecond.
const blockedWait = 400 * time.Millisecond

// requireLab skips when this process cannot create network namespaces.
func requireLab(t testing.TB) {
	t.Helper()
	if err := Supported(); err != nil {
		if rootlessProblem != nil {
			t.Skipf("lab: %v; rootless: %v", err, rootlessProblem)
		}
		t.Skipf("lab: %v", err)
	}
}

// newTestLab builds a lab with the given sites and blocks and closes it at the end.
func newTestLab(t *testing.T, sites []Site, bs ...Block) *Lab {
	t.Helper()
	requireLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := Build(ctx, sites)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	if err := l.Apply(ctx, bs); err != nil {
		t.Fatal(err)
	}
	return l
}

var testSites = []Site{
	{Name: "news.world.vlab", Addr: netip.MustParseAddr("45.60.1.10"), H3: true},
	{Name: "local.kz.vlab", Addr: netip.MustParseAddr("95.57.1.10")},
}

// query asks server (IP:53) from the probe namespace for name's A record.
func query(t *testing.T, l *Lab, server, name string) (*dns.Msg, error) {
	t.Helper()
	c, err := l.Topology.Probe.Dial(context.Background(), "udp4", net.JoinHostPort(server, "53"))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	co := &dns.Conn{Conn: c}
	c.SetDeadline(time.Now().Add(blockedWait))
	if err := co.WriteMsg(m); err != nil {
		return nil, err
	}
	return co.ReadMsg()
}

func firstA(m *dns.Msg) string {
	for _, rr := range m.Answer {
		if a, ok := rr.(*dns.A); ok {
			return a.A.String()
		}
	}
	return ""
}

// probeClient is an HTTP client living in the probe namespace that trusts the lab
// CA and connects to addr whatever the URL's host.
func probeClient(l *Lab, addr string) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(l.CA.PEM())
	return &http.Client{
		Timeout: 3 * blockedWait,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return l.Topology.Probe.Dial(ctx, "tcp4", addr)
			},
			TLSClientConfig: &tls.Config{RootCAs: pool},
		},
	}
}

func get(t *testing.T, c *http.Client, url string) (string, *http.Response) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: body: %v", url, err)
	}
	return string(body), resp
}

func dialProbe(l *Lab, addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), blockedWait)
	defer cancel()
	c, err := l.Topology.Probe.Dial(ctx, "tcp4", addr)
	if err == nil {
		c.Close()
	}
	return err
}

// handshake runs a TLS handshake from the probe namespace to addr with sni.
func handshake(l *Lab, addr, sni string) (*tls.ConnectionState, error) {
	c, err := l.Topology.Probe.Dial(context.Background(), "tcp4", addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(blockedWait))
	var state tls.ConnectionState
	tc := tls.Client(c, &tls.Config{ServerName: sni, InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		return nil, err
	}
	state = tc.ConnectionState()
	return &state, nil
}

func TestCleanNetworkServesEverything(t *testing.T) {
	l := newTestLab(t, testSites)
	for _, server := range []string{RouterAddr.String(), HonestResolver.String()} {
		m, err := query(t, l, server, "news.world.vlab")
		if err != nil || firstA(m) != "45.60.1.10" {
			t.Fatalf("resolver %s: got %v, %v; want 45.60.1.10", server, m, err)
		}
	}
	body, resp := get(t, probeClient(l, "45.60.1.10:443"), "https://news.world.vlab/")
	if !strings.Contains(body, "Welcome to news.world.vlab") || resp.Header.Get("Alt-Svc") == "" {
		t.Fatalf("https: body %.80q, Alt-Svc %q", body, resp.Header.Get("Alt-Svc"))
	}
	body, _ = get(t, probeClient(l, "95.57.1.10:80"), "http://local.kz.vlab/")
	if !strings.Contains(body, "Welcome to local.kz.vlab") {
		t.Fatalf("http: body %.80q", body)
	}
	// IP-literal canaries get a certificate for the address.
	state, err := handshake(l, "95.57.0.11:443", "")
	if err != nil || len(state.PeerCertificates) == 0 || len(state.PeerCertificates[0].IPAddresses) == 0 {
		t.Fatalf("no-SNI handshake: %v", err)
	}
	if err := h3Get(l, "45.60.1.10:443", "news.world.vlab"); err != nil {
		t.Fatalf("http/3: %v", err)
	}
}

// h3Get fetches https://name/ over HTTP/3 from the probe namespace.
func h3Get(l *Lab, addr, name string) error {
	udp, err := l.Topology.Probe.ListenUDP("0.0.0.0:0")
	if err != nil {
		return err
	}
	defer udp.Close()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(l.CA.PEM())
	tr := &http3.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool},
		Dial: func(ctx context.Context, _ string, tlsConf *tls.Config, qc *quic.Config) (*quic.Conn, error) {
			ua, err := net.ResolveUDPAddr("udp4", addr)
			if err != nil {
				return nil, err
			}
			return quic.DialEarly(ctx, udp, ua, tlsConf, qc)
		},
	}
	defer tr.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*blockedWait)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+name+"/", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if !strings.Contains(string(body), "Welcome to "+name) {
		return errors.New("unexpected body")
	}
	return nil
}

func TestLyingResolver(t *testing.T) {
	l := newTestLab(t, testSites,
		Block{Kind: "dns.nxdomain", Targets: []string{"news.world.vlab"}},
		Block{Kind: "dns.bogon", Targets: []string{"local.kz.vlab"}},
		Block{Kind: "dns.wrong", Targets: []string{"cdn.world.vlab"}},
	)
	cases := []struct {
		name, rcode, addr string
	}{
		{"news.world.vlab", "NXDOMAIN", ""},
		{"local.kz.vlab", "NOERROR", defaultBogon},
		{"cdn.world.vlab", "NOERROR", defaultWrong},
		{"egov.kz.vlab", "NOERROR", "95.57.0.10"},
	}
	for _, c := range cases {
		m, err := query(t, l, RouterAddr.String(), c.name)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := dns.RcodeToString[m.Rcode]; got != c.rcode || firstA(m) != c.addr {
			t.Errorf("%s: got %s %q, want %s %q", c.name, got, firstA(m), c.rcode, c.addr)
		}
	}
	// The honest resolver still tells the truth.
	if m, err := query(t, l, HonestResolver.String(), "news.world.vlab"); err != nil || firstA(m) != "45.60.1.10" {
		t.Errorf("honest resolver: %v %v", m, err)
	}
}

func TestDNSRedirection(t *testing.T) {
	l := newTestLab(t, testSites,
		Block{Kind: "dns.nxdomain", Targets: []string{"news.world.vlab"}},
		Block{Kind: "dns.redirect"},
	)
	m, err := query(t, l, HonestResolver.String(), "news.world.vlab")
	if err != nil || m.Rcode != dns.RcodeNameError {
		t.Fatalf("query to the honest resolver was not redirected: %v %v", m, err)
	}
}

func TestDNSInjectionAnswersFirst(t *testing.T) {
	l := newTestLab(t, testSites, Block{Kind: "dns.inject", Targets: []string{"news.world.vlab"}})
	c, err := l.Topology.Probe.Dial(context.Background(), "udp4", net.JoinHostPort(HonestResolver.String(), "53"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	co := &dns.Conn{Conn: c}
	q := new(dns.Msg)
	q.SetQuestion("news.world.vlab.", dns.TypeA)
	c.SetDeadline(time.Now().Add(2 * blockedWait))
	if err := co.WriteMsg(q); err != nil {
		t.Fatal(err)
	}
	var answers []string
	for len(answers) < 2 {
		m, err := co.ReadMsg()
		if err != nil {
			t.Fatalf("after %v: %v", answers, err)
		}
		answers = append(answers, firstA(m))
	}
	if answers[0] != defaultWrong || answers[1] != "45.60.1.10" {
		t.Fatalf("answers %v, want the forged %s first and the real 45.60.1.10 second", answers, defaultWrong)
	}
	// Names that are not censored get one, true answer.
	if m, err := query(t, l, HonestResolver.String(), "egov.kz.vlab"); err != nil || firstA(m) != "95.57.0.10" {
		t.Fatalf("uncensored name: %v %v", m, err)
	}
}

func TestTCPBlocks(t *testing.T) {
	l := newTestLab(t, testSites,
		Block{Kind: "ip.drop", Targets: []string{"news.world.vlab"}},
		Block{Kind: "tcp.reset", Targets: []string{"local.kz.vlab"}},
		Block{Kind: "icmp.unreachable", Targets: []string{"cdn.world.vlab"}},
	)
	if err := dialProbe(l, "45.60.1.10:443"); !isTimeout(err) {
		t.Errorf("ip.drop: got %v, want a timeout", err)
	}
	if err := dialProbe(l, "95.57.1.10:443"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("tcp.reset: got %v, want connection refused (RST to the SYN)", err)
	}
	if err := dialProbe(l, "45.60.0.10:443"); !errors.Is(err, syscall.EHOSTUNREACH) {
		t.Errorf("icmp.unreachable: got %v, want host unreachable", err)
	}
	if err := dialProbe(l, "95.57.0.10:443"); err != nil {
		t.Errorf("unblocked site: %v", err)
	}
}

func TestSNIBlocks(t *testing.T) {
	l := newTestLab(t, testSites,
		Block{Kind: "sni.reset", Targets: []string{"news.world.vlab"}},
		Block{Kind: "sni.drop", Targets: []string{"local.kz.vlab"}},
	)
	if _, err := handshake(l, "45.60.1.10:443", "news.world.vlab"); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("sni.reset: got %v, want connection reset", err)
	}
	var ne net.Error
	if _, err := handshake(l, "95.57.1.10:443", "local.kz.vlab"); !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("sni.drop: got %v, want a timeout", err)
	}
	// The same addresses with another SNI work: the block is on the name.
	for _, addr := range []string{"45.60.1.10:443", "95.57.1.10:443"} {
		if _, err := handshake(l, addr, "egov.kz.vlab"); err != nil {
			t.Errorf("%s with a benign SNI: %v", addr, err)
		}
	}
}

func TestBlockpageAndInterception(t *testing.T) {
	l := newTestLab(t, testSites,
		Block{Kind: "http.blockpage", Targets: []string{"news.world.vlab"}},
		Block{Kind: "tls.mitm", Targets: []string{"local.kz.vlab"}},
	)
	body, _ := get(t, probeClient(l, "45.60.1.10:80"), "http://news.world.vlab/")
	if body != BlockpageBody {
		t.Errorf("http.blockpage: got %.80q", body)
	}
	_, err := probeClient(l, "95.57.1.10:443").Get("https://local.kz.vlab/")
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) || unknown.Cert.Issuer.CommonName != NationalCAName {
		t.Errorf("tls.mitm: got %v, want a certificate from %q", err, NationalCAName)
	}
	// HTTPS to the blockpage site and HTTP to the intercepted one are untouched.
	if body, _ := get(t, probeClient(l, "45.60.1.10:443"), "https://news.world.vlab/"); !strings.Contains(body, "Welcome") {
		t.Errorf("https to the blockpage site: %.80q", body)
	}
}

func TestQUICDrop(t *testing.T) {
	l := newTestLab(t, testSites, Block{Kind: "udp443.drop", Targets: []string{"news.world.vlab"}})
	if err := h3Get(l, "45.60.1.10:443", "news.world.vlab"); err == nil {
		t.Error("udp443.drop: HTTP/3 still works")
	}
	if err := h3Get(l, "45.60.0.10:443", "cdn.world.vlab"); err != nil {
		t.Errorf("other site over HTTP/3: %v", err)
	}
	if body, _ := get(t, probeClient(l, "45.60.1.10:443"), "https://news.world.vlab/"); !strings.Contains(body, "Welcome") {
		t.Errorf("HTTPS over TCP to the QUIC-blocked site: %.80q", body)
	}
}

func TestNetworkWideBlocks(t *testing.T) {
	t.Run("allowlist", func(t *testing.T) {
		l := newTestLab(t, testSites, Block{Kind: "allowlist"})
		if err := dialProbe(l, "95.57.1.10:443"); err != nil {
			t.Errorf("domestic: %v", err)
		}
		if err := dialProbe(l, "45.60.1.10:443"); !isTimeout(err) {
			t.Errorf("foreign: got %v, want a timeout", err)
		}
	})
	t.Run("shutdown", func(t *testing.T) {
		l := newTestLab(t, testSites, Block{Kind: "shutdown"})
		for _, addr := range []string{"95.57.1.10:443", "45.60.1.10:443"} {
			if err := dialProbe(l, addr); !isTimeout(err) {
				t.Errorf("%s: got %v, want a timeout", addr, err)
			}
		}
		if m, err := query(t, l, RouterAddr.String(), "egov.kz.vlab"); err != nil || firstA(m) == "" {
			t.Errorf("the ISP resolver on the router should still answer: %v %v", m, err)
		}
	})
	t.Run("upstream.dead", func(t *testing.T) {
		l := newTestLab(t, testSites, Block{Kind: "upstream.dead"})
		if m, err := query(t, l, RouterAddr.String(), "egov.kz.vlab"); err != nil || m.Rcode != dns.RcodeServerFailure {
			t.Errorf("ISP resolver: got %v %v, want SERVFAIL", m, err)
		}
		if err := dialProbe(l, "95.57.1.10:443"); err == nil {
			t.Error("upstream is dead but a site answered")
		}
	})
	t.Run("local.noroute", func(t *testing.T) {
		l := newTestLab(t, testSites, Block{Kind: "local.noroute"})
		if err := dialProbe(l, "95.57.1.10:443"); !errors.Is(err, syscall.ENETUNREACH) {
			t.Errorf("got %v, want network unreachable", err)
		}
	})
	t.Run("loss", func(t *testing.T) {
		l := newTestLab(t, testSites, Block{Kind: "loss", Percent: 100})
		if err := dialProbe(l, "95.57.1.10:443"); !isTimeout(err) {
			t.Errorf("100%% loss: got %v, want a timeout", err)
		}
	})
}

func TestFlipTurnsTheNetworkOff(t *testing.T) {
	l := newTestLab(t, testSites, Block{Kind: "flip", On: 0.1, Off: 600})
	// The network starts up and goes down after On; poll instead of sleeping.
	deadline := time.Now().Add(10 * time.Second)
	for dialProbe(l, "95.57.1.10:443") == nil {
		if time.Now().After(deadline) {
			t.Fatal("the flipper never turned the network off")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestHTTPAndEOFBlocks(t *testing.T) {
	l := newTestLab(t, testSites,
		Block{Kind: "http.diff", Targets: []string{"news.world.vlab"}},
		Block{Kind: "http.reset", Targets: []string{"local.kz.vlab"}},
		Block{Kind: "tls.eof", Targets: []string{"news.world.vlab"}},
	)
	body, resp := get(t, probeClient(l, "45.60.1.10:80"), "http://news.world.vlab/")
	if body != AlteredBody || resp.StatusCode != http.StatusForbidden {
		t.Errorf("http.diff: got %d %.80q", resp.StatusCode, body)
	}
	if err := dialProbe(l, "95.57.1.10:80"); err != nil {
		t.Errorf("http.reset must let the connection through: %v", err)
	}
	if _, err := probeClient(l, "95.57.1.10:80").Get("http://local.kz.vlab/"); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("http.reset: got %v, want connection reset", err)
	}
	if _, err := handshake(l, "45.60.1.10:443", "news.world.vlab"); !errors.Is(err, io.EOF) {
		t.Errorf("tls.eof: got %v, want EOF", err)
	}
}

// A lying resolver's address must not serve the blocked site: neither its page
// nor a certificate valid for its name.
func TestWrongAddressServesNotTheSite(t *testing.T) {
	l := newTestLab(t, testSites)
	resp, err := probeClient(l, defaultWrong+":80").Get("http://news.world.vlab/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("http at a wrong address: status %d, want 404", resp.StatusCode)
	}
	_, err = probeClient(l, defaultWrong+":443").Get("https://news.world.vlab/")
	var hostErr x509.HostnameError
	if !errors.As(err, &hostErr) {
		t.Errorf("https at a wrong address: got %v, want a hostname mismatch", err)
	}
	// Another site's address presents that site's certificate.
	_, err = probeClient(l, "95.57.1.10:443").Get("https://news.world.vlab/")
	if !errors.As(err, &hostErr) {
		t.Errorf("https at another site's address: got %v, want a hostname mismatch", err)
	}
}

// TestThrottleCapsTheRate checks the shaper by a lower bound that load cannot
// break: a body cannot arrive faster than the rate allows once the bucket is spent.
func TestThrottleCapsTheRate(t *testing.T) {
	const bodyBytes, rateBits, burstBytes = 96 << 10, 512_000, 16 << 10
	sites := []Site{{Name: "big.world.vlab", Addr: netip.MustParseAddr("45.60.1.60"), BodyBytes: bodyBytes}}
	for _, targets := range [][]string{nil, {"big.world.vlab"}} {
		l := newTestLab(t, sites, Block{Kind: "throttle", Targets: targets, Rate: "512kbit"})
		c := probeClient(l, "45.60.1.60:80")
		c.Timeout = 30 * time.Second
		start := time.Now()
		body, _ := get(t, c, "http://big.world.vlab/")
		took := time.Since(start)
		min := time.Duration(float64(len(body)-burstBytes) * 8 / rateBits * float64(time.Second))
		if len(body) < bodyBytes-1024 || took < min { // pages pad to just under body_bytes
			t.Errorf("targets %v: %d bytes in %v; at 512 kbit/s that takes at least %v", targets, len(body), took, min)
		}
	}
}

func TestInterceptionBySNI(t *testing.T) {
	l := newTestLab(t, testSites, Block{Kind: "tls.mitm.sni", Targets: []string{"news.world.vlab"}})
	_, err := probeClient(l, "45.60.1.10:443").Get("https://news.world.vlab/")
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) || unknown.Cert.Issuer.CommonName != NationalCAName {
		t.Errorf("listed SNI: got %v, want a certificate from %q", err, NationalCAName)
	}
	// An unlisted name goes through to its real server untouched.
	if body, _ := get(t, probeClient(l, "95.57.1.10:443"), "https://local.kz.vlab/"); !strings.Contains(body, "Welcome to local.kz.vlab") {
		t.Errorf("unlisted SNI: %.80q", body)
	}
	// A benign SNI to the intercepted site's address reaches the real server,
	// whose genuine certificate names the site it hosts: SNI, not address, triggers.
	state, err := handshake(l, "45.60.1.10:443", "example.vlab")
	if err != nil || state.PeerCertificates[0].Issuer.CommonName == NationalCAName {
		t.Errorf("benign SNI to the same address: %v, issuer %v", err, state)
	}
}
