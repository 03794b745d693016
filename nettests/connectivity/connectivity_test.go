package connectivity

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/vantage-probe/vantage/nettests"
	"github.com/vantage-probe/vantage/probe/config"
	"github.com/vantage-probe/vantage/probe/netx"
)

// fakeNet answers probes from tables: an address (or host) not listed fails with a
// timeout, as a black-holed path does.
type fakeNet struct {
	mu       sync.Mutex
	dns      map[string][]string // host → addresses; missing: timeout
	dnsRcode map[string]string   // host → failure of an answered query (e.g. NXDOMAIN)
	tcp      map[string]error    // address → nil (accept) or an error; missing: timeout
	tls      map[string]bool     // address → handshake completes
	quic     map[string]bool
	dials    []string
}

func timeoutErr(op string) error {
	return &netx.Error{Failure: netx.FailureGenericTimeout, Operation: op, Err: context.DeadlineExceeded}
}

func (f *fakeNet) probes() primitives {
	return primitives{
		Lookup: func(ctx context.Context, trace *netx.Trace, host string) ([]string, error) {
			if fail, ok := f.dnsRcode[host]; ok {
				return nil, &netx.Error{Failure: fail, Operation: "resolve", Err: errors.New(fail)}
			}
			if addrs, ok := f.dns[host]; ok {
				return addrs, nil
			}
			return nil, timeoutErr("resolve")
		},
		DialTCP: func(ctx context.Context, trace *netx.Trace, address string) (net.Conn, error) {
			f.mu.Lock()
			f.dials = append(f.dials, address)
			f.mu.Unlock()
			err, ok := f.tcp[address]
			if !ok {
				return nil, timeoutErr("connect")
			}
			if err != nil {
				return nil, err
			}
			a, b := net.Pipe()
			b.Close()
			return a, nil
		},
		HandshakeTLS: func(ctx context.Context, trace *netx.Trace, conn net.Conn, sni string, alpn []string) (net.Conn, *netx.TLSHandshakeEvent, error) {
			addr := f.addrOf(conn)
			conn.Close()
			if f.tls[addr] {
				// A completed handshake whose chain does not verify (an IP literal):
				// still reachability.
				return nil, &netx.TLSHandshakeEvent{}, &netx.Error{Failure: netx.FailureSSLInvalidHostname, Operation: "tls_handshake"}
			}
			err := timeoutErr("tls_handshake")
			return nil, &netx.TLSHandshakeEvent{Failure: netx.FailureOf(err)}, err
		},
		HandshakeQUIC: func(ctx context.Context, trace *netx.Trace, address, sni string, alpn []string) (*quic.Conn, *netx.TLSHandshakeEvent, error) {
			if f.quic[address] {
				return nil, &netx.TLSHandshakeEvent{}, nil
			}
			err := timeoutErr("quic_handshake")
			return nil, &netx.TLSHandshakeEvent{Failure: netx.FailureOf(err)}, err
		},
	}
}

// addrOf recovers the address a fake conn was dialled for: the last dial.
func (f *fakeNet) addrOf(net.Conn) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dials[len(f.dials)-1]
}

// up makes an address answer on every transport.
func (f *fakeNet) up(addrs ...string) {
	for _, a := range addrs {
		f.tcp[a], f.tls[a], f.quic[a] = nil, true, true
	}
}

// down makes addresses black holes on every transport.
func (f *fakeNet) down(addrs ...string) {
	for _, a := range addrs {
		delete(f.tcp, a)
		delete(f.tls, a)
		delete(f.quic, a)
	}
}

// shutdown black-holes every canary; the gateway keeps its behaviour.
func (f *fakeNet) shutdown() {
	f.down(domesticAddrs...)
	f.down(foreignAddrs...)
}

func newFakeNet() *fakeNet {
	return &fakeNet{dns: map[string][]string{}, dnsRcode: map[string]string{}, tcp: map[string]error{}, tls: map[string]bool{}, quic: map[string]bool{}}
}

// Route tables in /proc format: a default route via 192.168.1.1 on eth0 (addresses
// are little-endian hex), and a table with only the LAN.
const (
	routeWithDefault = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n" +
		"eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n" +
		"eth0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n"
	routeNoDefault = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
	arpGateway     = "IP address       HW type     Flags       HW address            Mask     Device\n" +
		"192.168.1.1      0x1         0x2         aa:bb:cc:dd:ee:ff     *        eth0\n"
)

func fakeSystem(route, arp string, ifs ...Interface) System {
	files := map[string]string{"/proc/net/route": route, "/proc/net/ipv6_route": "", "/proc/net/arp": arp, "/etc/resolv.conf": "nameserver 192.168.1.1\n"}
	return System{
		OS:         "linux",
		Interfaces: func() ([]Interface, error) { return ifs, nil },
		ReadFile: func(name string) ([]byte, error) {
			if s, ok := files[name]; ok {
				return []byte(s), nil
			}
			return nil, syscall.ENOENT
		},
	}
}

var (
	eth0 = Interface{Name: "eth0", Up: true, Addrs: []netip.Addr{netip.MustParseAddr("192.168.1.10")}}
	lo   = Interface{Name: "lo", Up: true, Loopback: true, Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}
)

// labCanaries mirrors a lab configuration: IP literals and one host per class.
func labCanaries(t *testing.T) []Canary {
	t.Helper()
	cs, err := ParseCanaries(
		[]string{"https://shop.kz/", "10.1.0.1:443", "10.1.0.2:443"},
		[]string{"https://wiki.example/", "10.2.0.1:443", "10.2.0.2:443", "10.2.0.3:443"})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

var (
	domesticAddrs = []string{"10.1.0.1:443", "10.1.0.2:443", "10.1.0.9:443"}
	foreignAddrs  = []string{"10.2.0.1:443", "10.2.0.2:443", "10.2.0.3:443", "10.2.0.9:443"}
)

// healthyNet answers everything; tests then break parts of it.
func healthyNet() *fakeNet {
	f := newFakeNet()
	f.dns["shop.kz"] = []string{"10.1.0.9"}
	f.dns["wiki.example"] = []string{"2001:db8::1", "10.2.0.9"}
	f.up(domesticAddrs...)
	f.up(foreignAddrs...)
	f.tcp["192.168.1.1:53"] = &netx.Error{Failure: netx.FailureConnectionRefused, Operation: "connect", Err: syscall.ECONNREFUSED}
	return f
}

type sleepRecorder struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleepRecorder) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func runFake(t *testing.T, f *fakeNet, sys System, cs []Canary) (*TestKeys, *sleepRecorder) {
	t.Helper()
	sl := &sleepRecorder{}
	m := newMeasurer(options{Canaries: cs, primitives: f.probes(), System: sys, Sleep: sl.sleep, Resolver: "system",
		Config: Config{NoThroughput: true}})
	keys, err := m.Run(context.Background(), "", netx.NewTrace(time.Now(), nil))
	if err != nil {
		t.Fatal(err)
	}
	return keys.(*TestKeys), sl
}

func TestRunVerdicts(t *testing.T) {
	sys := fakeSystem(routeWithDefault, "", eth0, lo)
	tests := []struct {
		name   string
		breakf func(f *fakeNet)
		sys    System
		want   string
	}{
		{"healthy", func(*fakeNet) {}, sys, nettests.NetworkOnline},
		{"gateway drops every probe but forwards", func(f *fakeNet) { delete(f.tcp, "192.168.1.1:53") }, sys, nettests.NetworkOnline},
		{"full shutdown, gateway refuses on 53", func(f *fakeNet) { f.shutdown() }, sys, nettests.NetworkFullShutdown},
		{"full shutdown, gateway silent, ISP resolver answers", func(f *fakeNet) { f.shutdown(); f.tcp = map[string]error{} }, sys, nettests.NetworkFullShutdown},
		{"nothing answers, not even the gateway or resolver", func(f *fakeNet) { f.shutdown(); f.tcp = map[string]error{}; f.dns = map[string][]string{} }, sys, nettests.NetworkLocalFailure},
		{"gateway only in the ARP table", func(f *fakeNet) { f.shutdown(); f.tcp = map[string]error{}; f.dns = map[string][]string{} }, fakeSystem(routeWithDefault, arpGateway, eth0), nettests.NetworkFullShutdown},
		{"foreign cut", func(f *fakeNet) { f.down(foreignAddrs...) }, sys, nettests.NetworkWhitelist},
		{"one foreign literal dead", func(f *fakeNet) { f.down("10.2.0.3:443") }, sys, nettests.NetworkOnline},
		{"TCP to one foreign literal blocked, QUIC still answers", func(f *fakeNet) { delete(f.tcp, "10.2.0.3:443") }, sys, nettests.NetworkOnline},
		{"no QUIC anywhere", func(f *fakeNet) { f.quic = map[string]bool{} }, sys, nettests.NetworkOnline},
		{"resolver returns NXDOMAIN for everything, literals answer", func(f *fakeNet) {
			f.dns = map[string][]string{}
			f.dnsRcode = map[string]string{"shop.kz": netx.FailureDNSNXDOMAIN, "wiki.example": netx.FailureDNSNXDOMAIN}
		}, sys, nettests.NetworkOnline},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := healthyNet()
			tt.breakf(f)
			tk, _ := runFake(t, f, tt.sys, labCanaries(t))
			if tk.Verdict != tt.want {
				t.Fatalf("verdict %s (%s), want %s; reach %v; local %+v", tk.Verdict, tk.Reason, tt.want, tk.Reach, tk.Local)
			}
		})
	}
}

func TestRunEvidence(t *testing.T) {
	f := healthyNet()
	f.down("10.2.0.3:443")
	tk, sl := runFake(t, f, fakeSystem(routeWithDefault, "", eth0, lo), labCanaries(t))
	if tk.Params.Rounds != DefaultRounds || len(tk.RoundStarts) != DefaultRounds || len(tk.Reach) != DefaultRounds {
		t.Fatalf("rounds: params %+v, starts %v, reach %d", tk.Params, tk.RoundStarts, len(tk.Reach))
	}
	// Two spacings between three rounds, plus the retries of the dead canary
	// (tcp, tls: one retry each per round; quic too).
	spacings := 0
	for _, d := range sl.waits {
		if d == DefaultRoundSpacing {
			spacings++
		}
	}
	if spacings != DefaultRounds-1 {
		t.Errorf("%d round spacings, want %d (waits %v)", spacings, DefaultRounds-1, sl.waits)
	}
	// The host canary resolved to IPv6 first; the IPv4 address is the one probed.
	var wiki *CanaryOutcome
	for i := range tk.Canaries {
		if tk.Canaries[i].Host == "wiki.example" {
			wiki = &tk.Canaries[i]
		}
	}
	if wiki == nil || wiki.Rounds[0][ProtoTCP].OK != 1 || wiki.Rounds[0][ProtoDNS].OK != 1 {
		t.Fatalf("wiki.example outcome %+v", wiki)
	}
	// The dead literal: 2 attempts per transport per round, all failed, excluded.
	dead := tk.Canaries[len(tk.Canaries)-1]
	if dead.Name != "10.2.0.3:443" || dead.Rounds[2][ProtoTCP] != (Tally{0, 2}) || dead.Failures[ProtoTCP] != netx.FailureGenericTimeout {
		t.Fatalf("dead canary outcome %+v", dead)
	}
	if len(tk.Excluded) != 1 || tk.Excluded[0].Canary != "10.2.0.3:443" {
		t.Errorf("excluded %+v", tk.Excluded)
	}
	if got := tk.Ratios[ClassForeign][ProtoDNS]; got != (Tally{3, 3}) {
		t.Errorf("foreign dns ratio %+v, want 3/3", got)
	}
	if !tk.Local.FirstHop.TCPAnswered || len(tk.Local.Gateways) != 1 || tk.Local.Gateways[0] != "192.168.1.1" {
		t.Errorf("first hop %+v gateways %v", tk.Local.FirstHop, tk.Local.Gateways)
	}
	if !tk.Local.Resolver.Answered || tk.Local.Resolver.LocalStub {
		t.Errorf("resolver %+v", tk.Local.Resolver)
	}
}

// TestRunIsolated: with only loopback and no route (an isolated namespace), one round
// of one attempt, no spacing, and local_failure.
func TestRunIsolated(t *testing.T) {
	f := newFakeNet()
	tk, sl := runFake(t, f, fakeSystem(routeNoDefault, "", lo), labCanaries(t))
	if tk.Verdict != nettests.NetworkLocalFailure || tk.Reason != ReasonNoInterface {
		t.Fatalf("verdict %s (%s)", tk.Verdict, tk.Reason)
	}
	if tk.Params.Rounds != 1 || tk.Params.Attempts != 1 || tk.Params.RoundSpacing != 0 || len(sl.waits) != 0 {
		t.Fatalf("params %+v, waits %v: the isolated path must be a single quick round", tk.Params, sl.waits)
	}
	if *tk.Local.Interface || *tk.Local.DefaultRoute {
		t.Fatalf("local %+v", tk.Local)
	}
}

func TestRunRejectsInput(t *testing.T) {
	m := newMeasurer(options{primitives: newFakeNet().probes(), System: fakeSystem(routeNoDefault, "", lo)})
	if _, err := m.Run(context.Background(), "https://example.org/", netx.NewTrace(time.Now(), nil)); !errors.Is(err, ErrInput) {
		t.Fatalf("err %v, want ErrInput", err)
	}
}

func TestNewFromEnv(t *testing.T) {
	cfg := Config{Country: "KZ"}
	m, err := New(&nettests.Env{Netx: &netx.Client{}}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var dom, frn int
	for _, c := range m.Canaries() {
		switch c.Class {
		case ClassDomestic:
			dom++
		case ClassForeign:
			frn++
		}
	}
	if dom == 0 || frn == 0 {
		t.Fatalf("KZ defaults: %d domestic, %d foreign", dom, frn)
	}
	cfg.Canaries.Foreign = []string{"192.0.2.1:8443"}
	m, err = New(&nettests.Env{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cs := m.Canaries(); len(cs) != 1 || cs[0].Address != "192.0.2.1:8443" || cs[0].Class != ClassForeign {
		t.Fatalf("config override: %+v", cs)
	}
	cfg.Canaries.Foreign = []string{"ftp://nope"}
	if _, err := New(&nettests.Env{}, cfg); err == nil || !strings.Contains(err.Error(), "canar") {
		t.Fatalf("bad entry accepted: %v", err)
	}
}

// TestRunSkipsGaps: a transport a canary does not serve costs the first round only.
func TestRunSkipsGaps(t *testing.T) {
	f := healthyNet()
	f.quic = map[string]bool{}
	tk, _ := runFake(t, f, fakeSystem(routeWithDefault, "", eth0), labCanaries(t))
	if tk.Verdict != nettests.NetworkOnline {
		t.Fatalf("verdict %s (%s)", tk.Verdict, tk.Reason)
	}
	for _, c := range tk.Canaries {
		if got := c.Rounds[0][ProtoQUIC]; got != (Tally{0, DefaultAttempts}) {
			t.Errorf("%s round 1 quic %+v", c.Name, got)
		}
		for r := 1; r < len(c.Rounds); r++ {
			if _, ok := c.Rounds[r][ProtoQUIC]; ok {
				t.Errorf("%s: quic probed again in round %d", c.Name, r+1)
			}
		}
	}
}

// TestRunSilentGatewayForwards: a gateway that drops probes addressed to itself is
// reported as silent and forwarding, never as dead, when canaries answer.
func TestRunSilentGatewayForwards(t *testing.T) {
	f := healthyNet()
	delete(f.tcp, "192.168.1.1:53")
	tk, _ := runFake(t, f, fakeSystem(routeWithDefault, "", eth0), labCanaries(t))
	if tk.Local.FirstHopAlive() || !tk.Local.FirstHop.Forwards || len(tk.Local.FirstHop.TCP) != len(gatewayPorts) {
		t.Fatalf("first hop %+v", tk.Local.FirstHop)
	}
	if s := tk.Summary(); !strings.Contains(s, "gateway silent but forwards") || !strings.HasPrefix(s, "online:") {
		t.Fatalf("summary %q", s)
	}
}

// TestRunInterrupted: a check cancelled before its first round is an error, not a
// shutdown verdict.
func TestRunInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m := newMeasurer(options{Canaries: labCanaries(t), primitives: healthyNet().probes(), System: fakeSystem(routeWithDefault, "", eth0)})
	if keys, err := m.Run(ctx, "", netx.NewTrace(time.Now(), nil)); err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("keys %v, err %v", keys, err)
	}
}

// TestRunAllowlisted measures the allowlist phase end to end with fakes: ordinary
// domestic and foreign canaries black-holed, the allowlisted ones answering.
func TestRunAllowlisted(t *testing.T) {
	cs, err := ParseCanarySets(
		[]string{"https://shop.kz/", "10.1.0.1:443", "10.1.0.2:443"},
		[]string{"https://bank.kz/", "10.1.1.1:443"},
		[]string{"https://wiki.example/", "10.2.0.1:443", "10.2.0.2:443", "10.2.0.3:443"})
	if err != nil {
		t.Fatal(err)
	}
	allowlistedAddrs := []string{"10.1.1.1:443", "10.1.1.9:443"}
	sys := fakeSystem(routeWithDefault, "", eth0, lo)
	for _, tt := range []struct {
		name       string
		breakf     func(f *fakeNet)
		want, why  string
		summaryHas string
	}{
		{"allowlist", func(f *fakeNet) { f.shutdown() }, nettests.NetworkWhitelist, ReasonAllowlistedOnly, "only allowlisted canaries"},
		{"full shutdown", func(f *fakeNet) { f.shutdown(); f.down(allowlistedAddrs...) }, nettests.NetworkFullShutdown, ReasonAllCanariesSilent, "| allowlisted dns 3/3 tcp 0/"},
		{"online", func(*fakeNet) {}, nettests.NetworkOnline, ReasonAllCanariesAnswer, "| allowlisted dns 3/3 tcp 6/6"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := healthyNet()
			f.dns["bank.kz"] = []string{"10.1.1.9"}
			f.up(allowlistedAddrs...)
			tt.breakf(f)
			tk, _ := runFake(t, f, sys, cs)
			if tk.Verdict != tt.want || tk.Reason != tt.why {
				t.Fatalf("verdict %s (%s), want %s (%s); reach %v", tk.Verdict, tk.Reason, tt.want, tt.why, tk.Reach)
			}
			if s := tk.Summary(); !strings.Contains(s, tt.summaryHas) {
				t.Errorf("summary %q lacks %q", s, tt.summaryHas)
			}
		})
	}
}

// TestNewFromEnvAllowlisted: the embedded KZ set has allowlisted canaries; a
// configured allowlisted list replaces them alone; a configuration listing its own
// domestic or foreign canaries brings no embedded allowlisted ones.
func TestNewFromEnvAllowlisted(t *testing.T) {
	count := func(m *Measurer) map[string]int {
		n := map[string]int{}
		for _, c := range m.Canaries() {
			n[c.Class]++
		}
		return n
	}
	cfg := Config{Country: "KZ"}
	m, err := New(&nettests.Env{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	embedded := count(m)
	if embedded[ClassAllowlisted] == 0 || embedded[ClassDomestic] == 0 || embedded[ClassForeign] == 0 {
		t.Fatalf("KZ defaults by class %v", embedded)
	}
	cfg.Canaries.Allowlisted = []string{"192.0.2.20:443"}
	m, err = New(&nettests.Env{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := count(m)
	if got[ClassAllowlisted] != 1 || got[ClassDomestic] != embedded[ClassDomestic] || got[ClassForeign] != embedded[ClassForeign] {
		t.Fatalf("allowlisted override: by class %v, embedded %v", got, embedded)
	}
	cfg.Canaries.Allowlisted = nil
	cfg.Canaries.Domestic, cfg.Canaries.Foreign = []string{"192.0.2.1:443"}, []string{"198.51.100.1:443"}
	m, err = New(&nettests.Env{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := count(m); got[ClassAllowlisted] != 0 || len(m.notes) != 1 || !strings.Contains(m.notes[0], "no allowlisted canaries") {
		t.Fatalf("configured sets: by class %v, notes %q", got, m.notes)
	}
	cfg.Canaries.Allowlisted = []string{"ftp://bank.kz"}
	if _, err := New(&nettests.Env{}, cfg); err == nil || !strings.Contains(err.Error(), "canar") {
		t.Fatalf("bad allowlisted entry accepted: %v", err)
	}
}

// TestNewFromEnvEveryCanaryForm: a [canaries] configuration written in every form
// DESIGN.md allows, in every class, builds a measurer (a refused valid entry made
// `vantage run` exit 2 before anything was measured).
func TestNewFromEnvEveryCanaryForm(t *testing.T) {
	forms := []string{"http://news.example.kz/", "https://shop.example.kz/", "mail.example.kz", "198.51.100.20:8443", "http://198.51.100.21/", "https://198.51.100.22/"}
	text := "[canaries]\n"
	for _, class := range []string{"domestic", "allowlisted", "foreign"} {
		var quoted []string
		for _, f := range forms {
			quoted = append(quoted, fmt.Sprintf("%q", strings.Replace(f, "example", class, 1)))
		}
		text += class + " = [" + strings.Join(quoted, ", ") + "]\n"
	}
	cfg, err := config.Parse([]byte(text), "forms.toml")
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	lists := CanaryLists{Domestic: cfg.Canaries.Domestic, Allowlisted: cfg.Canaries.Allowlisted, Foreign: cfg.Canaries.Foreign}
	m, err := New(&nettests.Env{Netx: &netx.Client{}}, Config{Canaries: lists})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	cs := m.Canaries()
	// The three host forms are distinct per class; the three IP forms repeat and
	// are measured once, in the first class that lists them.
	if len(cs) != 3*3+3 {
		t.Errorf("%d canaries, want 12", len(cs))
	}
	https := 0
	for _, c := range cs {
		if !c.IsHTTP() {
			https++
		}
	}
	if https == 0 || https == len(cs) {
		t.Errorf("%d of %d canaries are https: want both kinds", https, len(cs))
	}
}
