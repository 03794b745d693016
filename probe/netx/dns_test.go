package netx_test

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/dnstest"
)

// Test budgets: short enough that a timeout test takes a fraction of a second,
// long enough that a loopback exchange on a loaded CI machine never hits them.
const (
	dnsTestStep        = 3 * time.Second
	dnsTestShortStep   = 250 * time.Millisecond
	dnsTestNoWindow    = -1
	dnsTestInjectWait  = time.Second // the forged and real replies are 20 ms apart
	dnsTestPublicIPv4  = "93.184.216.34"
	dnsTestPublicIPv6  = "2606:2800:220:1:248:1893:25c8:1946"
	dnsTestForgedIPv4  = "10.10.34.35"
	dnsTestGenuineIPv4 = "198.51.100.7"
)

// dnsLookup runs one lookup with a fresh trace.
func dnsLookup(t *testing.T, cfg *netx.Client, url, host string, opts netx.DNSOptions) (*netx.DNSResult, *netx.Trace, error) {
	t.Helper()
	trace := netx.NewTrace(time.Now(), nil)
	res, err := cfg.LookupWithOptions(context.Background(), trace, url, host, opts)
	return res, trace, err
}

func failureText(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// resolverURLs starts every wire transport of srv and names them.
func resolverURLs(t *testing.T, srv *dnstest.Server) map[string]string {
	return map[string]string{
		netx.EngineUDP: srv.UDPURL(),
		netx.EngineTCP: srv.TCPURL(),
		netx.EngineDoT: srv.StartDoT(t),
		netx.EngineDoH: srv.StartDoH(t),
	}
}

func TestLookupSuccessOnEveryWireEngine(t *testing.T) {
	srv := dnstest.NewServer(t, map[string]dnstest.Rule{"example.test": dnstest.Answer(dnsTestPublicIPv4, dnsTestPublicIPv6)})
	cfg := &netx.Client{Roots: srv.CA.Pool(), Timeout: dnsTestStep}
	for engine, url := range resolverURLs(t, srv) {
		t.Run(engine, func(t *testing.T) {
			res, trace, err := dnsLookup(t, cfg, url, "example.test", netx.DNSOptions{DuplicateWindow: dnsTestNoWindow})
			if err != nil {
				t.Fatalf("Lookup: %v", err)
			}
			if want := []string{dnsTestPublicIPv4, dnsTestPublicIPv6}; !slices.Equal(res.Addrs, want) {
				t.Errorf("Addrs = %v, want %v", res.Addrs, want)
			}
			if res.Engine != engine || res.Failure != nil || res.Injected {
				t.Errorf("result = engine %q failure %s injected %v", res.Engine, failureText(res.Failure), res.Injected)
			}
			events := trace.Events().Queries
			if len(events) != 2 {
				t.Fatalf("recorded %d query events, want 2: %+v", len(events), events)
			}
			for i, want := range []struct {
				qtype  string
				answer netx.DNSAnswer
			}{{"A", netx.DNSAnswer{AnswerType: "A", IPv4: dnsTestPublicIPv4}}, {"AAAA", netx.DNSAnswer{AnswerType: "AAAA", IPv6: dnsTestPublicIPv6}}} {
				ev := events[i]
				if ev.QueryType != want.qtype || ev.Engine != engine || ev.Hostname != "example.test" || ev.Failure != nil {
					t.Errorf("event %d = %s %s %s failure %s", i, ev.QueryType, ev.Engine, ev.Hostname, failureText(ev.Failure))
				}
				if ev.TransactionID != int64(i+1) || len(ev.RawResponse) == 0 || ev.XDuplicate {
					t.Errorf("event %d: transaction %d, raw %d bytes, duplicate %v", i, ev.TransactionID, len(ev.RawResponse), ev.XDuplicate)
				}
				if len(ev.Answers) != 1 || ev.Answers[0].AnswerType != want.answer.AnswerType || ev.Answers[0].IPv4 != want.answer.IPv4 ||
					ev.Answers[0].IPv6 != want.answer.IPv6 || ev.Answers[0].TTL == nil || *ev.Answers[0].TTL != dnstest.DefaultTTL {
					t.Errorf("event %d answers = %+v, want %+v with ttl %d", i, ev.Answers, want.answer, dnstest.DefaultTTL)
				}
			}
		})
	}
}

func TestLookupSystemResolvesLocalhost(t *testing.T) {
	res, trace, err := dnsLookup(t, &netx.Client{Timeout: dnsTestStep}, "system", "localhost", netx.DNSOptions{})
	if err != nil {
		t.Fatalf("Lookup(localhost): %v", err)
	}
	if !slices.Contains(res.Addrs, "127.0.0.1") {
		t.Errorf("Addrs = %v, want 127.0.0.1 among them", res.Addrs)
	}
	events := trace.Events().Queries
	if len(events) != 2 || events[0].Engine != netx.EngineSystem || events[0].QueryType != "A" || events[0].Failure != nil {
		t.Fatalf("events = %+v, want a successful system A event first", events)
	}
}

func TestLookupIPLiteralSendsNoQuery(t *testing.T) {
	srv := dnstest.NewServer(t, nil)
	for _, ip := range []string{"192.0.2.9", "2001:db8::9"} {
		res, trace, err := dnsLookup(t, &netx.Client{Timeout: dnsTestStep}, srv.UDPURL(), ip, netx.DNSOptions{})
		if err != nil || !slices.Equal(res.Addrs, []string{ip}) {
			t.Errorf("Lookup(%s) = %v, %v; want itself", ip, res, err)
		}
		if n := len(trace.Events().Queries); n != 0 || srv.Queries(ip, "A") != 0 {
			t.Errorf("Lookup(%s) recorded %d events and sent %d queries, want none", ip, n, srv.Queries(ip, "A"))
		}
	}
}

func TestLookupRcodeAndEmptyFailures(t *testing.T) {
	srv := dnstest.NewServer(t, map[string]dnstest.Rule{
		"nx.test":       dnstest.NXDOMAIN(),
		"servfail.test": dnstest.ServFail(),
		"refused.test":  dnstest.Refused(),
		"empty.test":    dnstest.NoAnswer(),
	})
	cfg := &netx.Client{Roots: srv.CA.Pool(), Timeout: dnsTestStep}
	cases := []struct {
		host, failure string
		rcode         int
	}{
		{"nx.test", netx.FailureDNSNXDOMAIN, dns.RcodeNameError},
		{"servfail.test", netx.FailureDNSServfail, dns.RcodeServerFailure},
		{"refused.test", netx.FailureDNSRefused, dns.RcodeRefused},
		{"empty.test", netx.FailureDNSNoAnswer, dns.RcodeSuccess},
	}
	for engine, url := range resolverURLs(t, srv) {
		for _, c := range cases {
			t.Run(engine+"/"+c.host, func(t *testing.T) {
				res, trace, err := dnsLookup(t, cfg, url, c.host, netx.DNSOptions{DuplicateWindow: dnsTestNoWindow})
				if got := netx.Classify(err); got != c.failure {
					t.Fatalf("failure = %q (%v), want %q", got, err, c.failure)
				}
				if res.Rcode != c.rcode || failureText(res.Failure) != c.failure || len(res.Addrs) != 0 {
					t.Errorf("result rcode %d failure %s addrs %v, want rcode %d", res.Rcode, failureText(res.Failure), res.Addrs, c.rcode)
				}
				for _, ev := range trace.Events().Queries {
					if failureText(ev.Failure) != c.failure || ev.Rcode != c.rcode || len(ev.RawResponse) == 0 {
						t.Errorf("event %s: failure %s rcode %d raw %d bytes", ev.QueryType, failureText(ev.Failure), ev.Rcode, len(ev.RawResponse))
					}
				}
			})
		}
	}
}

func TestLookupBlackHoleTimesOut(t *testing.T) {
	srv := dnstest.NewServer(t, map[string]dnstest.Rule{
		"silent.test":       dnstest.BlackHole(),
		"only-garbage.test": {Malformed: true, BlackHole: true},
	})
	cfg := &netx.Client{Roots: srv.CA.Pool(), Timeout: dnsTestShortStep}
	for engine, url := range resolverURLs(t, srv) {
		t.Run(engine, func(t *testing.T) {
			res, trace, err := dnsLookup(t, cfg, url, "silent.test", netx.DNSOptions{})
			if got := netx.Classify(err); got != netx.FailureGenericTimeout {
				t.Fatalf("failure = %q (%v), want %q", got, err, netx.FailureGenericTimeout)
			}
			events := trace.Events().Queries
			if len(events) != 2 || failureText(events[0].Failure) != netx.FailureGenericTimeout || events[0].Answers != nil || res.Addrs != nil {
				t.Errorf("events = %+v, addrs %v; want two timeouts with no answers", events, res.Addrs)
			}
		})
	}
	t.Run("udp garbage then silence", func(t *testing.T) {
		res, _, err := dnsLookup(t, cfg, srv.UDPURL(), "only-garbage.test", netx.DNSOptions{})
		if got := netx.Classify(err); got != netx.FailureGenericTimeout {
			t.Fatalf("failure = %q (%v), want %q", got, err, netx.FailureGenericTimeout)
		}
		if res.Ignored != 2 {
			t.Errorf("Ignored = %d, want 2 (one malformed datagram per query)", res.Ignored)
		}
	})
}

func TestLookupDuplicateRepliesWithDifferentDataAreInjection(t *testing.T) {
	srv := dnstest.NewServer(t, map[string]dnstest.Rule{
		"censored.test": dnstest.Injected([]string{dnsTestForgedIPv4}, dnstest.Answer(dnsTestGenuineIPv4)),
	})
	res, trace, err := dnsLookup(t, &netx.Client{Timeout: 2 * dnsTestInjectWait}, srv.UDPURL(), "censored.test", netx.DNSOptions{DuplicateWindow: dnsTestInjectWait})
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	if !res.Injected {
		t.Errorf("Injected = false, want true")
	}
	if !slices.Equal(res.Addrs, []string{dnsTestForgedIPv4}) {
		t.Errorf("Addrs = %v, want only the first (forged) reply's %s", res.Addrs, dnsTestForgedIPv4)
	}
	var aEvents []netx.DNSQueryEvent
	for _, ev := range trace.Events().Queries {
		if ev.QueryType == "A" {
			aEvents = append(aEvents, ev)
		}
	}
	if len(aEvents) != 2 {
		t.Fatalf("A events = %+v, want the forged reply and the real one", aEvents)
	}
	first, second := aEvents[0], aEvents[1]
	if first.XDuplicate || !second.XDuplicate || first.TransactionID != second.TransactionID {
		t.Errorf("duplicate flags %v/%v, transactions %d/%d; want the second flagged, same transaction", first.XDuplicate, second.XDuplicate, first.TransactionID, second.TransactionID)
	}
	if len(first.Answers) != 1 || first.Answers[0].IPv4 != dnsTestForgedIPv4 || len(second.Answers) != 1 || second.Answers[0].IPv4 != dnsTestGenuineIPv4 {
		t.Errorf("answers %+v then %+v, want %s then %s", first.Answers, second.Answers, dnsTestForgedIPv4, dnsTestGenuineIPv4)
	}
}

func TestLookupDuplicateRepliesWithSameDataAreNotInjection(t *testing.T) {
	// A resolver may send the same reply twice (a retransmission): not injection.
	same := dnstest.Answer(dnsTestGenuineIPv4)
	srv := dnstest.NewServer(t, map[string]dnstest.Rule{"twice.test": dnstest.Injected([]string{dnsTestGenuineIPv4}, same)})
	res, trace, err := dnsLookup(t, &netx.Client{Timeout: 2 * dnsTestInjectWait}, srv.UDPURL(), "twice.test", netx.DNSOptions{DuplicateWindow: dnsTestInjectWait})
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	duplicates := 0
	for _, ev := range trace.Events().Queries {
		if ev.XDuplicate {
			duplicates++
		}
	}
	if res.Injected || duplicates != 2 {
		t.Errorf("Injected = %v with %d duplicate events, want false with 2 (one per query)", res.Injected, duplicates)
	}
}

func TestLookupSkipsUnusableDatagramsBeforeTheReply(t *testing.T) {
	srv := dnstest.NewServer(t, map[string]dnstest.Rule{
		"garbage-first.test":  {A: []string{dnsTestGenuineIPv4}, Malformed: true},
		"wrong-id-first.test": {A: []string{dnsTestGenuineIPv4}, WrongID: true},
	})
	for _, host := range []string{"garbage-first.test", "wrong-id-first.test"} {
		res, _, err := dnsLookup(t, &netx.Client{Timeout: dnsTestStep}, srv.UDPURL(), host, netx.DNSOptions{DuplicateWindow: dnsTestNoWindow})
		if err != nil || !slices.Equal(res.Addrs, []string{dnsTestGenuineIPv4}) {
			t.Errorf("%s: Lookup = %v, %v; want %s", host, res, err, dnsTestGenuineIPv4)
			continue
		}
		if res.Ignored != 2 || res.Injected {
			t.Errorf("%s: Ignored = %d, Injected = %v; want 2 and false", host, res.Ignored, res.Injected)
		}
	}
}

func TestLookupStopsReadingAtTheReplyCap(t *testing.T) {
	// A "server" that answers every query with a flood of wrong-id copies.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			req := new(dns.Msg)
			if req.Unpack(buf[:n]) != nil {
				continue
			}
			reply := new(dns.Msg).SetReply(req)
			reply.Id++
			b, _ := reply.Pack()
			for range 10 {
				_, _ = pc.WriteTo(b, from)
			}
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	res, _, err := dnsLookup(t, &netx.Client{Timeout: dnsTestStep}, "udp://"+pc.LocalAddr().String(), "flood.test", netx.DNSOptions{MaxUDPReplies: 4})
	if got := netx.Classify(err); got != netx.FailureDNSServerMisbehaving {
		t.Fatalf("failure = %q (%v), want %q", got, err, netx.FailureDNSServerMisbehaving)
	}
	if res.Ignored != 8 {
		t.Errorf("Ignored = %d, want 8 (the cap of 4 per query)", res.Ignored)
	}
}

func TestLookupFollowsCNAMEs(t *testing.T) {
	srv := dnstest.NewServer(t, map[string]dnstest.Rule{"www.example.test": {CNAME: "edge.cdn.test", A: []string{dnsTestPublicIPv4}}})
	res, trace, err := dnsLookup(t, &netx.Client{Timeout: dnsTestStep}, srv.TCPURL(), "www.example.test", netx.DNSOptions{})
	if err != nil || !slices.Equal(res.Addrs, []string{dnsTestPublicIPv4}) {
		t.Fatalf("Lookup = %v, %v; want %s through the CNAME", res, err, dnsTestPublicIPv4)
	}
	a := trace.Events().Queries[0]
	if len(a.Answers) != 2 || a.Answers[0].AnswerType != "CNAME" || a.Answers[0].Hostname != "edge.cdn.test." {
		t.Errorf("A answers = %+v, want the CNAME then the address", a.Answers)
	}
}

func TestLookupSucceedsWhenOnlyAAAAWorks(t *testing.T) {
	srv := dnstest.NewServer(t, map[string]dnstest.Rule{"v6only.test": {AAAA: []string{dnsTestPublicIPv6}}})
	res, trace, err := dnsLookup(t, &netx.Client{Timeout: dnsTestStep}, srv.TCPURL(), "v6only.test", netx.DNSOptions{})
	if err != nil || res.Failure != nil || !slices.Equal(res.Addrs, []string{dnsTestPublicIPv6}) {
		t.Fatalf("Lookup = %+v, %v; want success with the AAAA address", res, err)
	}
	if a := trace.Events().Queries[0]; failureText(a.Failure) != netx.FailureDNSNoAnswer {
		t.Errorf("A event failure = %s, want %s (recorded even though the lookup succeeded)", failureText(a.Failure), netx.FailureDNSNoAnswer)
	}
}

func TestLookupUntrustedCertificate(t *testing.T) {
	srv := dnstest.NewServer(t, map[string]dnstest.Rule{"example.test": dnstest.Answer(dnsTestPublicIPv4)})
	other := dnstest.NewCA(t)
	cfg := &netx.Client{Roots: other.Pool(), Timeout: dnsTestStep}
	for engine, url := range map[string]string{netx.EngineDoT: srv.StartDoT(t), netx.EngineDoH: srv.StartDoH(t)} {
		_, trace, err := dnsLookup(t, cfg, url, "example.test", netx.DNSOptions{})
		if got := netx.Classify(err); got != netx.FailureSSLUnknownAuthority {
			t.Errorf("%s: failure = %q (%v), want %q", engine, got, err, netx.FailureSSLUnknownAuthority)
		}
		if n := srv.Queries("example.test", "A"); n != 0 {
			t.Errorf("%s: the server saw %d queries through an untrusted channel", engine, n)
		}
		if evs := trace.Events().Queries; len(evs) != 2 || failureText(evs[0].Failure) != netx.FailureSSLUnknownAuthority {
			t.Errorf("%s: events = %+v", engine, evs)
		}
	}
}

func TestLookupRejectsBadInput(t *testing.T) {
	cfg := &netx.Client{Timeout: dnsTestShortStep}
	for _, url := range []string{"ftp://127.0.0.1", "udp://dns.example:53", "udp://", "tcp://[::1", "8.8.8.8"} {
		if res, _, err := dnsLookup(t, cfg, url, "example.test", netx.DNSOptions{}); !errors.Is(err, netx.ErrBadResolverURL) || res != nil {
			t.Errorf("resolver %q: %v, %v; want ErrBadResolverURL", url, res, err)
		}
	}
	for _, host := range []string{"", "exa mple.test", "a..b", "http://x", string(make([]byte, 300))} {
		if res, _, err := dnsLookup(t, cfg, "udp://127.0.0.1:1", host, netx.DNSOptions{}); !errors.Is(err, netx.ErrBadHostname) || res != nil {
			t.Errorf("host %q: %v, %v; want ErrBadHostname", host, res, err)
		}
	}
}

// BenchmarkLookupUDP measures one A+AAAA lookup against a loopback server with no
// duplicate window: the cost of the primitive itself (docs/netx-dns.md).
func BenchmarkLookupUDP(b *testing.B) {
	srv := dnstest.NewServer(b, map[string]dnstest.Rule{"example.test": dnstest.Answer(dnsTestPublicIPv4, dnsTestPublicIPv6)})
	cfg := &netx.Client{Timeout: dnsTestStep}
	opts := netx.DNSOptions{DuplicateWindow: dnsTestNoWindow}
	b.ReportAllocs()
	for b.Loop() {
		trace := netx.NewTrace(time.Now(), nil)
		if _, err := cfg.LookupWithOptions(context.Background(), trace, srv.UDPURL(), "example.test", opts); err != nil {
			b.Fatal(err)
		}
	}
}

func TestLookupUnusableStreamReplies(t *testing.T) {
	srv := dnstest.NewServer(t, map[string]dnstest.Rule{"garbage.test": {A: []string{dnsTestPublicIPv4}, Malformed: true}})
	cfg := &netx.Client{Roots: srv.CA.Pool(), Timeout: dnsTestStep}
	for engine, url := range map[string]string{netx.EngineTCP: srv.TCPURL(), netx.EngineDoT: srv.StartDoT(t), netx.EngineDoH: srv.StartDoH(t)} {
		if _, _, err := dnsLookup(t, cfg, url, "garbage.test", netx.DNSOptions{}); netx.Classify(err) != netx.FailureDNSServerMisbehaving {
			t.Errorf("%s: failure = %q (%v), want %q", engine, netx.Classify(err), err, netx.FailureDNSServerMisbehaving)
		}
	}
}

func TestLookupDoHThatIsNotDNS(t *testing.T) {
	hs := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/html" {
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte("<html>blocked</html>"))
			return
		}
		http.Error(w, "no", http.StatusForbidden)
	}))
	t.Cleanup(hs.Close)
	roots := x509.NewCertPool()
	roots.AddCert(hs.Certificate())
	cfg := &netx.Client{Roots: roots, Timeout: dnsTestStep}
	for _, path := range []string{"/html", "/dns-query"} {
		if _, _, err := dnsLookup(t, cfg, hs.URL+path, "example.test", netx.DNSOptions{}); netx.Classify(err) != netx.FailureDNSServerMisbehaving {
			t.Errorf("%s: failure = %q (%v), want %q", path, netx.Classify(err), err, netx.FailureDNSServerMisbehaving)
		}
	}
}

func TestLookupCancelledIsInterrupted(t *testing.T) {
	srv := dnstest.NewServer(t, map[string]dnstest.Rule{"silent.test": dnstest.BlackHole()})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, url := range []string{srv.UDPURL(), srv.TCPURL()} {
		_, err := (&netx.Client{Timeout: dnsTestStep}).Lookup(ctx, nil, url, "silent.test")
		if got := netx.Classify(err); got != netx.FailureInterrupted {
			t.Errorf("%s: failure = %q (%v), want %q", url, got, err, netx.FailureInterrupted)
		}
	}
}
