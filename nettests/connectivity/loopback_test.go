package connectivity

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/probe/netx"
	"github.com/vantage-probe/vantage/probe/netx/dnstest"
	"github.com/vantage-probe/vantage/probe/netx/netxtest"
)

// These tests run the real netx primitives against loopback servers. The route
// table names 127.0.0.1 as the gateway, so the first-hop probes stay on loopback.
const routeViaLoopback = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n" +
	"eth0\t00000000\t0100007F\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"

// bigPage serves 300 KiB at once.
func bigPage(w http.ResponseWriter, r *http.Request) {
	w.Write([]byte(strings.Repeat("v", 300<<10)))
}

// pacedPage serves 40 KiB in 4 KiB writes 150 ms apart: about 218 kbit/s, under
// ThrottledKbps. A measured rate can only be lower than the pace, never higher.
func pacedPage(w http.ResponseWriter, r *http.Request) {
	chunk := []byte(strings.Repeat("t", 4<<10))
	for i := 0; i < 10; i++ {
		if i > 0 {
			select {
			case <-time.After(150 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
		w.Write(chunk)
		w.(http.Flusher).Flush()
	}
}

type loopbackLab struct {
	ca       *netxtest.CA
	dns      *dnstest.Server
	fast     *netxtest.Server
	paced    *netxtest.Server
	resolver string
}

func newLoopbackLab(t *testing.T) *loopbackLab {
	ca := netxtest.MustCA(t, "vantage connectivity test")
	cert := netxtest.MustIssue(t, ca, "canary.test", "127.0.0.1")
	lab := &loopbackLab{
		ca:    ca,
		dns:   dnstest.NewServer(t, map[string]dnstest.Rule{"canary.test": dnstest.Answer("127.0.0.1")}),
		fast:  netxtest.NewHTTPS1Server(t, cert, http.HandlerFunc(bigPage)),
		paced: netxtest.NewHTTPS1Server(t, cert, http.HandlerFunc(pacedPage)),
	}
	lab.resolver = lab.dns.UDPURL()
	return lab
}

func (lab *loopbackLab) measure(t *testing.T, domestic, foreign []string, throughput bool) *TestKeys {
	t.Helper()
	cs, err := ParseCanaries(domestic, foreign)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{RoundSpacing: -1, RetryDelay: -1, AttemptTimeout: 300 * time.Millisecond, NoThroughput: !throughput}
	nc := &netx.Client{Resolver: lab.resolver, Roots: lab.ca.Pool(), ClientHello: netx.ClientHelloGo}
	m := newMeasurer(options{
		Config: cfg, Canaries: cs, primitives: netxPrimitives(nc, cfg.AttemptTimeout), Resolver: lab.resolver,
		System: fakeSystem(routeViaLoopback, "", eth0, lo),
	})
	keys, err := m.Run(context.Background(), "", netx.NewTrace(time.Now(), nil))
	if err != nil {
		t.Fatal(err)
	}
	return keys.(*TestKeys)
}

func TestLoopbackOnline(t *testing.T) {
	lab := newLoopbackLab(t)
	port := lab.fast.Port()
	tk := lab.measure(t,
		[]string{"https://canary.test:" + port + "/", lab.fast.Addr},
		[]string{"https://127.0.0.1:" + port + "/", lab.fast.Addr}, true)
	if tk.Verdict != nettests.NetworkOnline {
		t.Fatalf("verdict %s (%s); reach %v; excluded %v", tk.Verdict, tk.Reason, tk.Reach, tk.Excluded)
	}
	// No QUIC listener on the TCP servers' port: QUIC is excluded, not counted.
	if got := tk.Ratios[ClassDomestic][ProtoTLS]; got.OK != 2*DefaultRounds {
		t.Errorf("domestic tls %+v, want %d successes", got, 2*DefaultRounds)
	}
	if got := tk.Ratios[ClassDomestic][ProtoDNS]; got != (Tally{DefaultRounds, DefaultRounds}) {
		t.Errorf("domestic dns %+v", got)
	}
	if len(tk.Queries) == 0 || len(tk.TCPConnect) == 0 || len(tk.TLSHandshakes) == 0 {
		t.Errorf("events missing: %d queries, %d connects, %d handshakes", len(tk.Queries), len(tk.TCPConnect), len(tk.TLSHandshakes))
	}
	if tk.Throughput == nil || tk.Throughput.MedianKbps == nil || *tk.Throughput.MedianKbps < ThrottledKbps {
		t.Fatalf("throughput %+v", tk.Throughput)
	}
	if s := tk.Throughput.Samples[0]; s.Canary != "https://canary.test:"+port+"/" || s.Bytes < ThroughputMinBytes {
		t.Errorf("first sample %+v: want the host canary, with enough bytes", s)
	}
}

func TestLoopbackThrottled(t *testing.T) {
	lab := newLoopbackLab(t)
	port := lab.paced.Port()
	tk := lab.measure(t, []string{"https://canary.test:" + port + "/"}, []string{lab.paced.Addr}, true)
	if tk.Verdict != nettests.NetworkThrottled {
		t.Fatalf("verdict %s (%s); throughput %+v", tk.Verdict, tk.Reason, tk.Throughput)
	}
	if got := *tk.Throughput.MedianKbps; got >= 218.5 {
		t.Errorf("median %.0f kbit/s is above the server's pace", got)
	}
}

func TestLoopbackShutdown(t *testing.T) {
	lab := newLoopbackLab(t)
	closed := []string{netxtest.ClosedPort(t), netxtest.ClosedPort(t)}
	// The resolver still answers (the ISP's cache) while no canary accepts.
	tk := lab.measure(t, []string{"https://canary.test:" + strings.Split(closed[0], ":")[1] + "/", closed[0]}, []string{closed[1]}, true)
	if tk.Verdict != nettests.NetworkFullShutdown {
		t.Fatalf("verdict %s (%s); local %+v; reach %v", tk.Verdict, tk.Reason, tk.Local, tk.Reach)
	}
	if !tk.Local.Resolver.Answered || tk.Throughput != nil {
		t.Errorf("resolver %+v, throughput %+v", tk.Local.Resolver, tk.Throughput)
	}
}

func TestLoopbackQUIC(t *testing.T) {
	ca := netxtest.MustCA(t, "vantage connectivity test")
	h3 := netxtest.NewHTTP3Server(t, netxtest.MustIssue(t, ca, "canary.test"), http.HandlerFunc(bigPage))
	p := netxPrimitives(&netx.Client{Roots: ca.Pool()}, 2*time.Second)
	trace := netx.NewTrace(time.Now(), nil)
	if ok, err := p.attempt(context.Background(), trace, ProtoQUIC, h3.Addr, Canary{SNI: "canary.test"}); !ok {
		t.Fatalf("quic to an HTTP/3 server: %v", err)
	}
	// Without SNI the chain does not verify for the IP, but the handshake completed.
	if ok, err := p.attempt(context.Background(), trace, ProtoQUIC, h3.Addr, Canary{}); !ok {
		t.Fatalf("quic without SNI: %v", err)
	}
	short := netxPrimitives(&netx.Client{}, 300*time.Millisecond)
	if ok, _ := short.attempt(context.Background(), trace, ProtoQUIC, netxtest.NewUDPBlackHole(t), Canary{}); ok {
		t.Fatal("quic to a UDP black hole answered")
	}
}

// TestLoopbackEveryCanaryForm measures one domestic canary of each form DESIGN.md
// allows, on loopback. Ports 80 and 443 of 127.0.0.1 are mapped by the dialer to
// the test's plain-HTTP and HTTPS servers, so the forms without a port are
// measured as written; an http:// canary must answer on TCP and HTTP and never be
// tried on TLS or QUIC, every other form on TCP and TLS.
func TestLoopbackEveryCanaryForm(t *testing.T) {
	lab := newLoopbackLab(t)
	plain := netxtest.NewHTTPServer(t, http.HandlerFunc(bigPage))
	ports := map[string]string{"127.0.0.1:443": lab.fast.Addr, "127.0.0.1:80": plain.Addr}
	var d net.Dialer
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if to, ok := ports[addr]; ok {
			addr = to
		}
		return d.DialContext(ctx, network, addr)
	}
	for _, tc := range []struct {
		entry string
		http  bool
	}{
		{"http://canary.test/", true},
		{"https://canary.test/", false},
		{"canary.test", false},
		{lab.fast.Addr, false}, // IP:port
		{"http://127.0.0.1/", true},
		{"https://127.0.0.1/", false},
		{"http://canary.test:" + plain.Port() + "/", true},
	} {
		t.Run(tc.entry, func(t *testing.T) {
			foreign := lab.fast.Addr
			if tc.entry == foreign { // the same entry in both classes would be measured once
				foreign = "https://127.0.0.1:" + lab.fast.Port() + "/"
			}
			cs, err := ParseCanaries([]string{tc.entry}, []string{foreign})
			if err != nil {
				t.Fatal(err)
			}
			cfg := Config{RoundSpacing: -1, RetryDelay: -1, AttemptTimeout: 300 * time.Millisecond, NoThroughput: true}
			nc := &netx.Client{Resolver: lab.resolver, Roots: lab.ca.Pool(), ClientHello: netx.ClientHelloGo, Dial: dial}
			m := newMeasurer(options{
				Config: cfg, Canaries: cs, primitives: netxPrimitives(nc, cfg.AttemptTimeout), Resolver: lab.resolver,
				System: fakeSystem(routeViaLoopback, "", eth0, lo),
			})
			keys, err := m.Run(context.Background(), "", netx.NewTrace(time.Now(), nil))
			if err != nil {
				t.Fatal(err)
			}
			tk := keys.(*TestKeys)
			if tk.Verdict != nettests.NetworkOnline {
				t.Fatalf("verdict %s (%s); canaries %+v", tk.Verdict, tk.Reason, tk.Canaries)
			}
			got := tk.Ratios[ClassDomestic]
			answered := ProtoTLS
			if tc.http {
				answered = ProtoHTTP
				if got[ProtoTLS].Attempts+got[ProtoQUIC].Attempts != 0 {
					t.Errorf("http canary tried on TLS or QUIC: %+v", got)
				}
			} else if got[ProtoHTTP].Attempts != 0 {
				t.Errorf("https canary fetched over plain HTTP: %+v", got)
			}
			if got[ProtoTCP].OK != DefaultRounds || got[answered].OK != DefaultRounds {
				t.Errorf("domestic tcp %+v, %s %+v; want %d successes each", got[ProtoTCP], answered, got[answered], DefaultRounds)
			}
		})
	}
}
