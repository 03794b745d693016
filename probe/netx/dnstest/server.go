// Package dnstest runs DNS servers on loopback for tests: DNS over UDP and TCP on
// 127.0.0.1, DNS over TLS and DNS over HTTPS with a throwaway CA, each answering
// per name as the test says (Rule): records, NXDOMAIN, SERVFAIL, REFUSED, an empty
// answer, silence, a forged reply racing the real one, a malformed packet.
//
// Typical use:
//
//	srv := dnstest.NewServer(t, map[string]dnstest.Rule{
//		"example.com":  dnstest.Answer("93.184.216.34"),
//		"blocked.test": dnstest.Injected([]string{"10.10.34.35"}, dnstest.Answer("198.51.100.7")),
//	})
//	res, err := cfg.Lookup(ctx, trace, srv.UDPURL(), "example.com")
//
// Names with no rule get NXDOMAIN. Everything stops when the test ends.
package dnstest

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/vantage-probe/vantage/probe/netx/netxtest"
)

// shutdownTimeout bounds how long cleanup waits for the servers to stop.
const shutdownTimeout = 5 * time.Second

// Server is a DNS server listening on 127.0.0.1 over UDP and TCP (same rules on
// both), and on DoT and DoH once started.
type Server struct {
	// UDPAddr and TCPAddr are "127.0.0.1:PORT".
	UDPAddr, TCPAddr string
	// CA signed the DoT and DoH certificates; give CA.Pool() to the client as roots.
	CA *netxtest.CA

	mu      sync.Mutex
	rules   map[string]Rule
	queries map[string]int // "name TYPE" -> count

	done     chan struct{} // closed at cleanup: delayed writes give up
	stopOnce sync.Once
	serving  []*Serving
}

// NewServer starts UDP and TCP servers with rules (name -> rule; names are case
// insensitive, with or without the final dot) and stops them when t ends.
func NewServer(t testing.TB, rules map[string]Rule) *Server {
	t.Helper()
	s := &Server{rules: map[string]Rule{}, queries: map[string]int{}, done: make(chan struct{}), CA: NewCA(t)}
	for name, r := range rules {
		s.rules[normalName(name)] = r
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("dnstest: listen udp: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		pc.Close()
		t.Fatalf("dnstest: listen tcp: %v", err)
	}
	s.UDPAddr, s.TCPAddr = pc.LocalAddr().String(), ln.Addr().String()
	t.Cleanup(s.stop)
	s.serve(t, pc, ln)
	return s
}

// UDPURL is the resolver URL of the UDP server, for netx.Client.Lookup.
func (s *Server) UDPURL() string { return "udp://" + s.UDPAddr }

// TCPURL is the resolver URL of the TCP server.
func (s *Server) TCPURL() string { return "tcp://" + s.TCPAddr }

// Set adds or replaces the rule for name.
func (s *Server) Set(name string, r Rule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules[normalName(name)] = r
}

// Queries returns how many queries of type qtype ("A", "AAAA") for name the server
// received, over every transport.
func (s *Server) Queries(name, qtype string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[normalName(name)+" "+qtype]
}

// serve serves the rules over pc and ln until cleanup, returning once they accept
// queries.
func (s *Server) serve(t testing.TB, pc net.PacketConn, ln net.Listener) {
	srv, err := Serve(s, pc, ln)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.serving = append(s.serving, srv)
	s.mu.Unlock()
}

// stop shuts every server down and waits for their loops; it runs once.
func (s *Server) stop() {
	s.stopOnce.Do(func() {
		close(s.done)
		s.mu.Lock()
		serving := s.serving
		s.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		for _, srv := range serving {
			srv.Stop(ctx)
		}
	})
}

// lookupRule records the query and returns the rule for its name (NXDOMAIN when
// none was set).
func (s *Server) lookupRule(q dns.Question) Rule {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := normalName(q.Name)
	s.queries[name+" "+dns.TypeToString[q.Qtype]]++
	if r, ok := s.rules[name]; ok {
		return r
	}
	return NXDOMAIN()
}

// ServeDNS implements dns.Handler for the UDP, TCP and DoT servers.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	if len(req.Question) != 1 {
		m := new(dns.Msg)
		_ = w.WriteMsg(m.SetRcode(req, dns.RcodeFormatError))
		return
	}
	rule := s.lookupRule(req.Question[0])
	datagram := w.LocalAddr().Network() == "udp"
	for _, p := range s.packets(req, rule, datagram) {
		if p.delay > 0 && !s.sleep(p.delay) {
			return
		}
		_, _ = w.Write(p.data)
	}
}

var _ dns.Handler = (*Server)(nil)

// packet is one write of a reply plan.
type packet struct {
	delay time.Duration // wait before writing
	data  []byte
}

// packets plans what the server writes for req under rule.
func (s *Server) packets(req *dns.Msg, rule Rule, datagram bool) []packet {
	real := packOrServFail(req, rule)
	if !datagram {
		switch {
		case rule.Malformed:
			return []packet{{data: MalformedReply(req)}}
		case rule.BlackHole:
			return nil
		}
		return []packet{{data: real}}
	}
	var plan []packet
	if rule.Forged != nil {
		plan = append(plan, packet{data: packOrServFail(req, *rule.Forged)})
	}
	if rule.Malformed {
		plan = append(plan, packet{data: MalformedReply(req)})
	}
	if rule.WrongID {
		wrong := append([]byte(nil), real...)
		wrong[0] ^= 0x5a // any other id
		plan = append(plan, packet{data: wrong})
	}
	if rule.BlackHole {
		return plan
	}
	delay := time.Duration(0)
	if len(plan) > 0 {
		delay = rule.Delay
		if delay <= 0 {
			delay = DefaultDelay
		}
	}
	return append(plan, packet{delay: delay, data: real})
}

// packOrServFail packs the reply rule gives to req; a rule that cannot be packed
// (an address that does not parse) yields SERVFAIL, which the test will notice.
func packOrServFail(req *dns.Msg, rule Rule) []byte {
	if b, err := Reply(req, rule).Pack(); err == nil {
		return b
	}
	b, _ := new(dns.Msg).SetRcode(req, dns.RcodeServerFailure).Pack()
	return b
}

// sleep waits d, or less if the server stops; it reports whether d elapsed.
func (s *Server) sleep(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-s.done:
		return false
	}
}
